/**
 * Gets every trace row into the sink without ever slowing or failing a request. record() only pushes
 * onto a bounded in-memory queue. Batches leave by count or by interval. When the sink fails, or the
 * queue is full, rows go to the disk spool; while the spool holds rows, new batches queue behind them
 * so order is kept, and the spool is replayed oldest first (with backoff) once the sink answers again,
 * including after a restart. Rows are dropped — and counted — only when the spool is over its budget.
 */
import { DiskSpool } from './disk-spool.js';
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
  sinkError(error: unknown): void;
  sinkRecovered(): void;
}

const MIN_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 15_000;

export class TracePipeline {
  private queue: TraceRow[] = [];
  private timer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private work: Promise<void> = Promise.resolve();
  private flushScheduled = false;
  private replaying = false;
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
    if (this.queue.length >= this.options.maxQueue) {
      void this.spill([row]);
      return;
    }
    this.queue.push(row);
    if (this.queue.length >= this.options.batchSize) this.scheduleFlush();
  }

  /** Sends everything queued now (tests and shutdown use it). */
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

  private async flushQueue(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.options.batchSize);
      // Behind a non-empty spool, new rows wait their turn on disk so replay keeps them in order.
      if (!this.healthy || !this.spool.isEmpty || this.replaying) {
        await this.spill(batch);
        this.kickReplay();
        continue;
      }
      try {
        await this.sink.insertTraces(batch);
        this.events.written(batch.length);
      } catch (error) {
        this.markUnhealthy(error);
        await this.spill(batch);
        this.kickReplay();
      }
    }
  }

  private async spill(rows: TraceRow[]): Promise<void> {
    if (await this.spool.append(rows)) this.events.spooled(rows.length);
    else this.events.dropped(rows.length);
  }

  private markUnhealthy(error: unknown): void {
    if (this.healthy) this.events.sinkError(error);
    this.healthy = false;
  }

  private kickReplay(delayMs = 0): void {
    if (this.replaying || this.retryTimer || this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.replay();
    }, delayMs);
    this.retryTimer.unref();
  }

  /** Drains the spool oldest first; on failure, tries again after a growing pause. */
  private async replay(): Promise<void> {
    if (this.replaying || this.closed) return;
    this.replaying = true;
    try {
      for (;;) {
        const segment = await this.spool.oldest();
        if (!segment) break;
        for (let start = 0; start < segment.rows.length; start += this.options.batchSize) {
          await this.sink.insertTraces(segment.rows.slice(start, start + this.options.batchSize), true);
        }
        await this.spool.remove(segment.name);
        this.events.written(segment.rows.length);
      }
      if (!this.healthy) this.events.sinkRecovered();
      this.healthy = true;
      this.backoffMs = MIN_BACKOFF_MS;
    } catch (error) {
      this.markUnhealthy(error);
      this.replaying = false;
      const delay = this.backoffMs;
      this.backoffMs = Math.min(this.backoffMs * 2, MAX_BACKOFF_MS);
      this.kickReplay(delay);
      return;
    }
    this.replaying = false;
    // Rows may have queued behind the spool meanwhile.
    if (this.queue.length > 0) this.scheduleFlush();
  }

  /**
   * Graceful shutdown: stop the timers, send what is queued (or spool it if the sink fails). Rows
   * already on disk stay there for the next start.
   */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    clearTimeout(this.retryTimer);
    await this.work;
    const rest = this.queue.splice(0);
    if (rest.length > 0) {
      if (this.healthy && this.spool.isEmpty) {
        try {
          await this.sink.insertTraces(rest);
          this.events.written(rest.length);
        } catch {
          await this.spill(rest);
        }
      } else {
        await this.spill(rest);
      }
    }
    await this.spool.settle();
  }
}
