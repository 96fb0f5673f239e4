/**
 * Gets every trace row into the sink without ever slowing or failing a request. record() only pushes
 * onto a bounded in-memory queue. Batches leave by count or by interval. When the sink fails, or the
 * queue is full, rows go to the disk spool; while the spool holds rows, new batches queue behind them
 * so order is kept, and the spool is replayed oldest first (with backoff) once the sink answers again,
 * including after a restart. Rows are dropped — and counted — only when the spool cannot take them
 * (over its budget, or the disk failing). Nothing here rejects: a failing disk or sink is counted and
 * logged, never thrown at the thread that runs the pipeline.
 *
 * A replayed batch the sink refuses while it answers otherwise (a row it can never take) is split in
 * halves until the refused rows are found; those are quarantined — written to a file of their own and
 * counted — so one bad row cannot hold every later row in the spool for ever.
 *
 * Every recorded row has an ordinal; `settledBefore` is the first ordinal not yet stored, spooled,
 * quarantined or dropped, which lets the trace worker acknowledge rows to the gateway (which keeps
 * unacknowledged rows to hand them to the next worker should this one die).
 */
import { DiskSpool } from './disk-spool.js';
import { PendingOrdinals } from './pending-ordinals.js';
import type { TraceRow } from './trace-row.js';
import type { TraceSink } from './trace-sink.js';

export interface PipelineOptions {
  batchSize: number;
  flushIntervalMs: number;
  maxQueue: number;
}

export interface PipelineEvents {
  written(count: number): void;
  spooled(count: number): void;
  dropped(count: number): void;
  /** Rows the sink refused for good, set aside in the spool's quarantine file. */
  quarantined(count: number): void;
  sinkError(error: unknown): void;
  sinkRecovered(): void;
  /** The spool could not take rows (they were dropped). */
  spoolError(error: unknown): void;
}

const MIN_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 15_000;

export class TracePipeline {
  private queue: TraceRow[] = [];
  /** The ordinal of each queued row (rows that overflow to the spool leave gaps). */
  private ordinals: number[] = [];
  private nextOrdinal = 0;
  /** The first ordinal of each batch taken from the queue (or spilled past it) and not yet settled. */
  private inFlight = new PendingOrdinals();
  private timer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private work: Promise<void> = Promise.resolve();
  /** Spills that do not wait their turn in `work` (overflow, repeated rows); close() waits for them. */
  private sideWork = new Set<Promise<void>>();
  private flushScheduled = false;
  private replaying: Promise<void> | undefined;
  private backoffMs = MIN_BACKOFF_MS;
  private closed = false;
  /** False after a failed write until a write succeeds again. */
  healthy = true;

  constructor(
    readonly sink: TraceSink,
    readonly spool: DiskSpool<TraceRow>,
    private readonly options: PipelineOptions,
    private readonly events: PipelineEvents,
  ) {}

  get queueDepth(): number {
    return this.queue.length;
  }

  /** Rows recorded so far (the next row's ordinal). */
  get recorded(): number {
    return this.nextOrdinal;
  }

  /** Every row with a lower ordinal is stored, spooled, quarantined or counted as dropped. */
  get settledBefore(): number {
    const queued = this.ordinals[0] ?? this.nextOrdinal;
    return Math.min(queued, this.inFlight.least() ?? queued);
  }

  start(): void {
    this.timer = setInterval(() => this.scheduleFlush(), this.options.flushIntervalMs);
    this.timer.unref();
    if (!this.spool.isEmpty) this.kickReplay();
  }

  /** The sink became available (e.g. opened late): replay the spool now rather than after a backoff. */
  resume(): void {
    this.backoffMs = MIN_BACKOFF_MS;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    if (!this.spool.isEmpty) this.kickReplay();
    else this.healthy = true;
  }

  /** Never throws, never waits. */
  record(row: TraceRow): void {
    const ordinal = this.nextOrdinal++;
    if (this.queue.length >= this.options.maxQueue) {
      this.inFlight.add(ordinal);
      this.aside(this.spill([row]).then(() => this.settle(ordinal)));
      return;
    }
    this.queue.push(row);
    this.ordinals.push(ordinal);
    if (this.queue.length >= this.options.batchSize) this.scheduleFlush();
  }

  /**
   * Rows that may be stored already (a worker died before it acknowledged them): through the spool,
   * whose replay skips trace ids already stored. Never throws, never waits.
   */
  recordRepeated(rows: TraceRow[]): void {
    if (rows.length === 0) return;
    const first = this.nextOrdinal;
    this.nextOrdinal += rows.length;
    this.inFlight.add(first);
    this.aside(
      this.spill(rows).then(() => {
        this.settle(first);
        this.kickReplay();
      }),
    );
  }

  private aside(work: Promise<void>): void {
    this.sideWork.add(work);
    void work.then(() => this.sideWork.delete(work));
  }

  /** Sends everything queued now (tests and shutdown use it). Never rejects. */
  flush(): Promise<void> {
    this.work = this.work.then(() => this.flushQueue());
    return this.work;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.queue.length === 0) return;
    this.flushScheduled = true;
    this.work = this.work.then(async () => {
      this.flushScheduled = false;
      await this.flushQueue();
    });
  }

  /** Takes the oldest queued rows; they count as in flight until settle(). */
  private take(count: number): { rows: TraceRow[]; first: number } {
    const rows = this.queue.splice(0, count);
    const first = this.ordinals.splice(0, count)[0]!;
    this.inFlight.add(first);
    return { rows, first };
  }

  private settle(first: number): void {
    this.inFlight.settle(first);
  }

  /** Never rejects: every failure ends in the spool or in the dropped count. */
  private async flushQueue(): Promise<void> {
    while (this.queue.length > 0) {
      const { rows, first } = this.take(this.options.batchSize);
      try {
        // Behind a non-empty spool, new rows wait their turn on disk so replay keeps them in order.
        if (!this.healthy || !this.spool.isEmpty || this.replaying) {
          await this.spill(rows);
          this.kickReplay();
          continue;
        }
        try {
          await this.sink.insertTraces(rows);
          this.events.written(rows.length);
        } catch (error) {
          this.markUnhealthy(error);
          await this.spill(rows);
          this.kickReplay();
        }
      } finally {
        this.settle(first);
      }
    }
  }

  /** To the spool, or counted as dropped when the spool cannot take them. Never rejects. */
  private async spill(rows: TraceRow[]): Promise<void> {
    try {
      if (await this.spool.append(rows)) {
        this.events.spooled(rows.length);
        return;
      }
    } catch (error) {
      this.events.spoolError(error);
    }
    this.events.dropped(rows.length);
  }

  private markUnhealthy(error: unknown): void {
    if (this.healthy) this.events.sinkError(error);
    this.healthy = false;
  }

  private kickReplay(delayMs = 0): void {
    if (this.replaying || this.retryTimer || this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.replaying ??= this.replay().then((retryInMs) => {
        this.replaying = undefined;
        if (retryInMs !== undefined) this.kickReplay(retryInMs);
        // Rows may have queued behind the spool meanwhile.
        else if (this.queue.length > 0) this.scheduleFlush();
      });
    }, delayMs);
    this.retryTimer.unref();
  }

  /** Drains the spool oldest first. Never rejects: on failure, says when to try again (a growing pause). */
  private async replay(): Promise<number | undefined> {
    try {
      for (;;) {
        if (this.closed) return undefined;
        const segment = await this.spool.oldest();
        if (!segment) break;
        let stored = 0;
        for (let start = 0; start < segment.rows.length; start += this.options.batchSize) {
          stored += await this.replayBatch(segment.rows.slice(start, start + this.options.batchSize));
        }
        await this.spool.remove(segment.name);
        this.events.written(stored);
      }
      if (!this.healthy) this.events.sinkRecovered();
      this.healthy = true;
      this.backoffMs = MIN_BACKOFF_MS;
      return undefined;
    } catch (error) {
      this.markUnhealthy(error);
      const delay = this.backoffMs;
      this.backoffMs = Math.min(this.backoffMs * 2, MAX_BACKOFF_MS);
      return delay;
    }
  }

  /**
   * Stores a replayed batch, returning how many rows went in. When the sink refuses it but answers a
   * probe, the refusal is about the rows: halve until the refused rows are alone, and quarantine them.
   * When the probe fails too, the sink is down: throw, and the whole segment is tried again later.
   */
  private async replayBatch(rows: TraceRow[]): Promise<number> {
    try {
      await this.sink.insertTraces(rows, true);
      return rows.length;
    } catch (error) {
      if (!(await this.sinkAnswers())) throw error;
      if (rows.length === 1) {
        await this.spool.quarantine(rows, error);
        this.events.quarantined(1);
        return 0;
      }
      const half = rows.length >> 1;
      return (await this.replayBatch(rows.slice(0, half))) + (await this.replayBatch(rows.slice(half)));
    }
  }

  private async sinkAnswers(): Promise<boolean> {
    try {
      await this.sink.select('SELECT 1 AS one');
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Graceful shutdown: stop the timers, send what is queued (or spool it if the sink fails). Rows
   * already on disk stay there for the next start. Never rejects.
   */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    clearTimeout(this.retryTimer);
    // A replay that ends may schedule a flush of what queued behind it; then nothing starts any more.
    await this.replaying;
    await this.work;
    await Promise.all(this.sideWork);
    if (this.queue.length > 0) {
      const { rows, first } = this.take(this.queue.length);
      try {
        if (this.healthy && this.spool.isEmpty) {
          try {
            await this.sink.insertTraces(rows);
            this.events.written(rows.length);
          } catch {
            await this.spill(rows);
          }
        } else {
          await this.spill(rows);
        }
      } finally {
        this.settle(first);
      }
    }
    await this.spool.settle();
  }
}
