/**
 * The gateway's side of the trace worker (trace-worker.ts). Recording a request is a push onto an array;
 * the rows leave together every SEND_INTERVAL_MS (or sooner, when MAX_ROWS_PER_MESSAGE wait), so the
 * request path neither formats log lines nor touches the store. The interval is a balance: waking the
 * worker thread costs more than the message (a message per request at 500/s cost ~0.1 ms of CPU per
 * request on this VM), while rows held here for a whole batch interval were promoted to the old
 * generation and grew the heap.
 * Queries and feedback become calls. While the worker writes request lines to stdout, the gateway's own
 * log lines go through it too, so one thread writes stdout and lines never interleave.
 *
 * The thread starts with the first request (or query), not with the gateway: a gateway that has served
 * nothing has nothing to store or log, and the thread with its sink (DuckDB's library and instance) is
 * about 50 MB of RSS. It starts at once when the spool holds rows from an earlier run, to replay them.
 * Until it has tried the store, the store's state is reported as unknown (`not-started`), not up.
 *
 * Rows sent to the worker stay here until it acknowledges them (stored, spooled, or counted as dropped
 * there). A worker that dies (out of memory, a native crash) is replaced after a pause that doubles
 * while replacements keep failing; the rows it had not acknowledged go to the next one, through its
 * spool, whose replay skips rows already stored. Calls in flight fail, and the gateway keeps serving.
 * The thread is never terminated while it may be running a DuckDB statement (that aborts the process):
 * it is closed politely, and one that does not answer within the shutdown grace period is left behind.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { isSegmentName } from './disk-spool.js';
import { CLICKHOUSE_DIALECT, DUCKDB_DIALECT, type SqlDialect } from './sql-dialect.js';
import { ROW_OVERHEAD_BYTES, type TelemetryConfig } from './telemetry-config.js';
import type { CanaryEventRow, FeedbackRow, TraceRow } from './trace-row.js';
import type { ExportCursor, ExportFilter, ExportRow, TraceSink } from './trace-sink.js';
import { spoolDirectory, type StoreEvents, type TraceStore } from './trace-store.js';
import {
  deserializeError,
  SINK_METHODS,
  type FromWorker,
  type SinkMethod,
  type StoreMethod,
  type ToWorker,
  type TraceCounts,
  type TraceStoreStatus,
  type TraceWorkerData,
} from './trace-worker-protocol.js';

const SEND_INTERVAL_MS = 100;
const MAX_ROWS_PER_MESSAGE = 256;
/** A failed thread is replaced after this long, doubling while replacements fail too. */
const RESTART_DELAY_MS = 1000;
const MAX_RESTART_DELAY_MS = 60_000;
/** A replacement that has run this long is healthy: the next failure waits the shortest delay again. */
const HEALTHY_AFTER_MS = 30_000;

/** The least time a closing worker gets to store (or spool) its queue, after the HTTP drain took the grace. */
const CLOSE_ALLOWANCE_MS = 1000;
/** Rows sent and not yet acknowledged (with those held) may take this many times maxQueueBytes. */
const UNACKED_BUDGET = 4;

const NO_COUNTS: TraceCounts = { written: 0, spooled: 0, dropped: 0, quarantined: 0, errors: 0, linesDropped: 0 };

/**
 * The worker's entry next to this file: the compiled .js in dist/ (inheriting the process's Node
 * options); from the TypeScript sources (tests), the .ts loaded through tsx.
 */
function workerEntry(): { url: URL; execArgv: string[] | undefined } {
  const fromSources = import.meta.url.endsWith('.ts');
  return { url: new URL(fromSources ? './trace-worker.ts' : './trace-worker.js', import.meta.url), execArgv: fromSources ? ['--import', 'tsx'] : undefined };
}

export interface TraceWorkerEvents extends StoreEvents {
  /** The worker failed: it is restarted, and this says why. */
  failed(error: Error): void;
  /** A replacement worker started. */
  restarted(): void;
  /** Errors the worker caught and survived. */
  workerErrors(count: number): void;
  /** Request log lines the worker dropped because stdout was not taking them. */
  linesDropped(count: number): void;
  /** Request log lines handed back, when the gateway logs to a stream of its own. */
  lines(text: string): void;
  /** Whether the gateway's own log lines should go through the worker now (it writes stdout). */
  routeLogs(through: ((line: string) => void) | undefined): void;
}

/** Rows sent to the worker and not yet acknowledged by it. */
interface SentRows {
  seq: number;
  rows: TraceRow[];
  bytes: number;
}

/** What a row holds in memory, near enough: its bodies (with logBodies) and about a kilobyte besides. */
function rowBytes(row: TraceRow): number {
  return ROW_OVERHEAD_BYTES + row.request_body.length + row.response_body.length;
}

export class TraceWorker {
  /** The trace store in the worker, when a sink is configured. */
  readonly store: TraceStore | undefined;
  private worker: Worker | undefined;
  private pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  private nextId = 1;
  private logged: TraceRow[] = [];
  private quiet: TraceRow[] = [];
  /** Rows a worker took and died with: the next one stores them through its spool (they may be stored). */
  private repeat: TraceRow[] = [];
  /** rowBytes of the rows in logged, quiet and repeat. */
  private heldBytes = 0;
  private unacked: SentRows[] = [];
  private unackedRows = 0;
  /** rowBytes of the rows in unacked. */
  private unackedBytes = 0;
  private nextSeq = 1;
  private sendTimer: NodeJS.Timeout | undefined;
  /** `ready` lets the first query start the thread; nothing is known about the store until it has. */
  private lastStatus: TraceStoreStatus = { ready: true, up: false, state: 'not-started', queued: 0, spooledBytes: 0 };
  /** The running worker's totals as last reported. */
  private counts: TraceCounts = NO_COUNTS;
  private opened: Promise<void> | undefined;
  private closing = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private healthyTimer: NodeJS.Timeout | undefined;
  private restartDelayMs = RESTART_DELAY_MS;

  constructor(
    private readonly data: TraceWorkerData,
    private readonly events: TraceWorkerEvents,
    private readonly kind: TraceSink['kind'] | undefined,
    /** How long close() waits for the worker (the shutdown grace period). */
    private readonly closeTimeoutMs: number,
  ) {
    this.store = kind && data.store ? new WorkerTraceStore(this, kind) : undefined;
  }

  get thread(): Worker | undefined {
    return this.worker;
  }

  get ready(): boolean {
    return this.lastStatus.ready;
  }

  /** Rows recorded here and not yet handed to a worker. */
  get held(): number {
    return this.logged.length + this.quiet.length + this.repeat.length;
  }

  /** Rows handed to the worker that it has not acknowledged yet. */
  get unacknowledged(): number {
    return this.unackedRows;
  }

  status(): TraceStoreStatus {
    return { ...this.lastStatus, queued: this.lastStatus.queued + (this.data.store ? this.held : 0) };
  }

  /** A finished request: its log line (when request lines are on) and its row (when stored). Never waits. */
  record(row: TraceRow, logged = true): void {
    const held = this.held;
    // Rows wait here for a worker as many as the worker's own queue holds, and maxQueueBytes of them
    // (bodies make rows large). Rows a running worker has not acknowledged yet are not held against
    // that: the worker bounds its own queue and spools what overflows it, and its acknowledgements lag
    // by a batch interval — counting them dropped rows while the store was healthy. They have a byte
    // budget of their own, generous, so a worker that stops acknowledging cannot grow this heap for ever.
    const { maxQueue, maxQueueBytes } = this.data.config;
    const bytes = rowBytes(row);
    if (held >= maxQueue || this.heldBytes + bytes > maxQueueBytes || this.unackedBytes + this.heldBytes + bytes > UNACKED_BUDGET * maxQueueBytes) {
      if (this.data.store) this.events.dropped(1);
      return;
    }
    (logged ? this.logged : this.quiet).push(row);
    this.heldBytes += bytes;
    if (!this.opened) void this.startNow();
    // A small maxQueue sends sooner, so a running worker never leaves rows here to be dropped.
    if (held + 1 >= Math.min(MAX_ROWS_PER_MESSAGE, maxQueue)) this.send();
    else if (!this.sendTimer) {
      this.sendTimer = setTimeout(() => this.send(), SEND_INTERVAL_MS);
      this.sendTimer.unref();
    }
  }

  private send(): void {
    clearTimeout(this.sendTimer);
    this.sendTimer = undefined;
    if (!this.worker || this.held === 0) return;
    const message: ToWorker = { t: 'rows', seq: this.nextSeq++, logged: this.logged, quiet: this.quiet, repeat: this.repeat };
    if (this.data.store) {
      const rows = this.repeat.concat(this.logged, this.quiet);
      this.unacked.push({ seq: message.seq, rows, bytes: this.heldBytes });
      this.unackedRows += rows.length;
      this.unackedBytes += this.heldBytes;
    }
    this.logged = [];
    this.quiet = [];
    this.repeat = [];
    this.heldBytes = 0;
    this.worker.postMessage(message);
  }

  async flush(): Promise<void> {
    if (!this.opened && this.held === 0) return;
    await this.startNow();
    this.send();
    // Waits for the rows to be stored or spooled, and for their log lines at most queryTimeoutMs (stdout
    // may be a pipe nobody reads).
    await this.call('flush', [this.data.config.queryTimeoutMs]);
  }

  /** At the gateway's start: the thread starts now only if the spool holds rows to replay. */
  async open(): Promise<void> {
    if (this.data.store && spoolHoldsRows(this.data.config, this.kind)) await this.startNow();
  }

  private startNow(): Promise<void> {
    if (!this.opened) {
      this.opened = this.start();
      // A thread that fails to start is reported through `failed` (and replaced); a recording request
      // does not wait for it, so its rejection must not go unhandled.
      this.opened.catch(() => undefined);
    }
    return this.opened;
  }

  private start(): Promise<void> {
    const { url, execArgv } = workerEntry();
    const worker = new Worker(url, { workerData: this.data, execArgv, stdout: false, stderr: false });
    this.worker = worker;
    this.counts = NO_COUNTS;
    // A replacement for a thread that failed is still `down` until it reports itself up: a thread that
    // fails over and over (a data directory it cannot use) must not read as healthy between attempts.
    this.lastStatus = { ...this.lastStatus, up: false, state: this.lastStatus.state === 'down' ? 'down' : 'starting' };
    return new Promise((resolve, reject) => {
      worker.on('message', (message: FromWorker) => {
        // A worker given up on (failed, or closed) has nothing more to say.
        if (this.worker !== worker) return;
        if (message.t !== 'opened') {
          this.receive(message);
          return;
        }
        clearTimeout(this.healthyTimer);
        this.healthyTimer = setTimeout(() => (this.restartDelayMs = RESTART_DELAY_MS), HEALTHY_AFTER_MS);
        this.healthyTimer.unref();
        if (this.data.requestLines?.to === 'stdout') this.events.routeLogs((line) => worker.postMessage({ t: 'line', line } satisfies ToWorker));
        // Rows recorded while this worker started (or while none ran) go now.
        this.send();
        resolve();
      });
      worker.on('error', (error) => {
        reject(error);
        this.failed(worker, error);
      });
      worker.on('exit', (code) => {
        const error = new Error(`trace worker exited with code ${code}`);
        reject(error);
        this.failed(worker, error);
      });
    });
  }

  private receive(message: Exclude<FromWorker, { t: 'opened' }>): void {
    switch (message.t) {
      case 'status': {
        // A replacement that has not tried its store yet says `starting`; after a failure that is still down.
        const stillDown = this.lastStatus.state === 'down' && message.status.state === 'starting';
        this.lastStatus = stillDown ? { ...message.status, state: 'down' } : message.status;
        this.countDeltas(message.counts);
        while (this.unacked.length > 0 && this.unacked[0]!.seq <= message.acked) {
          const sent = this.unacked.shift()!;
          this.unackedRows -= sent.rows.length;
          this.unackedBytes -= sent.bytes;
        }
        return;
      }
      case 'result':
        this.pending.get(message.id)?.resolve(message.value);
        this.pending.delete(message.id);
        return;
      case 'error':
        this.pending.get(message.id)?.reject(deserializeError(message.error));
        this.pending.delete(message.id);
        return;
      case 'log': {
        const { level, fields, msg, err } = message.event;
        this.events.log(level, err ? { ...fields, err: deserializeError(err) } : fields, msg);
        return;
      }
      case 'lines':
        this.events.lines(message.text);
    }
  }

  /** The worker reports totals since it started; the metrics take the increments. */
  private countDeltas(counts: TraceCounts): void {
    const before = this.counts;
    const delta = (key: keyof TraceCounts): number => Math.max(0, counts[key] - before[key]);
    if (delta('written')) this.events.written(delta('written'));
    if (delta('spooled')) this.events.spooled(delta('spooled'));
    if (delta('dropped')) this.events.dropped(delta('dropped'));
    if (delta('quarantined')) this.events.quarantined(delta('quarantined'));
    if (delta('errors')) this.events.workerErrors(delta('errors'));
    if (delta('linesDropped')) this.events.linesDropped(delta('linesDropped'));
    this.counts = counts;
  }

  /** The worker died: fail its calls, keep the rows it had not acknowledged for the next one, start it. */
  private failed(worker: Worker, error: Error): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    clearTimeout(this.healthyTimer);
    this.events.routeLogs(undefined);
    this.lastStatus = { ...this.lastStatus, ready: false, up: false, state: 'down' };
    this.takeBackUnacknowledged();
    for (const { reject } of this.pending.values()) reject(error);
    this.pending.clear();
    if (this.closing) return;
    this.events.failed(error);
    this.restartTimer = setTimeout(() => {
      this.opened = undefined;
      this.events.restarted();
      void this.startNow();
    }, this.restartDelayMs);
    this.restartDelayMs = Math.min(this.restartDelayMs * 2, MAX_RESTART_DELAY_MS);
    this.restartTimer.unref();
  }

  /** Rows a lost worker held go to the next one; their log lines were written already. */
  private takeBackUnacknowledged(): void {
    if (this.unacked.length === 0) return;
    this.repeat = this.unacked.flatMap((sent) => sent.rows).concat(this.repeat);
    for (const sent of this.unacked) this.heldBytes += sent.bytes;
    this.unacked = [];
    this.unackedRows = 0;
    this.unackedBytes = 0;
  }

  /**
   * A call to the worker. Queries, feedback and canary events wait at most telemetry.queryTimeoutMs (they
   * queue behind whatever the store is doing — a long spool replay, say); flush and close have deadlines
   * of their own. A call given up on may still run in the worker; its answer is ignored.
   */
  async call(method: SinkMethod | StoreMethod, args: unknown[]): Promise<unknown> {
    await this.startNow();
    const worker = this.worker;
    if (!worker) return Promise.reject(new Error('the trace worker is not running'));
    const id = this.nextId++;
    const timeoutMs = (SINK_METHODS as readonly string[]).includes(method) ? this.data.config.queryTimeoutMs : undefined;
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          this.pending.delete(id);
          reject(Object.assign(new Error(`the trace store did not answer ${method} within ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
        }, timeoutMs);
        timer.unref();
      }
      const settled = (): void => clearTimeout(timer);
      this.pending.set(id, {
        resolve: (value) => (settled(), resolve(value)),
        reject: (error) => (settled(), reject(error)),
      });
      worker.postMessage({ t: 'call', id, method, args } satisfies ToWorker);
    });
  }

  /**
   * Sends what is recorded, lets the worker store (or spool) it and write its lines, then ends it. When
   * no worker runs (a replacement is pending) one is started to take the rows. Rows no worker took are
   * counted as dropped. Never rejects. Waits until `stopBy` (the deadline of the whole stop, taken at the
   * signal; the grace period from now without one), but gives the worker at least CLOSE_ALLOWANCE_MS:
   * a drain that used all the grace must not cost the rows queued in the worker.
   */
  async close(stopBy = Date.now() + this.closeTimeoutMs): Promise<void> {
    if (this.closing) return;
    // From here a worker that fails is not replaced.
    this.closing = true;
    clearTimeout(this.restartTimer);
    clearTimeout(this.healthyTimer);
    // Whatever the grace (0 included): with less, a thread still inside DuckDB at exit aborts the process.
    const deadline = Math.max(stopBy, Date.now() + CLOSE_ALLOWANCE_MS);
    let worker: Worker | undefined;
    let closed = false;
    // A worker that ends while it closes (one retiring after a burst of errors) hands its unacknowledged
    // rows back (failed()); another takes them, as long as the deadline allows.
    for (let attempt = 0; attempt < 3 && !closed; attempt++) {
      if (!this.worker && this.data.store && this.held > 0 && Date.now() < deadline) {
        this.opened = undefined;
        await within(this.startNow(), deadline).catch(() => undefined);
      }
      worker = this.worker;
      if (!worker) break;
      this.send();
      try {
        await within(this.call('close', [Math.max(0, deadline - Date.now())]), deadline);
        closed = true;
        // Lines the gateway logged about the close itself went to the worker after it flushed stdout:
        // one more round trip lets them out too.
        if (this.data.requestLines?.to === 'stdout') await within(this.call('flush', [Math.max(0, deadline - Date.now())]), deadline);
      } catch (error) {
        if (this.worker === worker) {
          this.events.log('warn', { err: error }, 'trace worker did not close in time; leaving it');
          break;
        }
        this.events.log('warn', { err: error }, 'trace worker ended while closing; its rows go to another');
        worker = undefined;
      }
    }
    this.takeBackUnacknowledged();
    if (this.data.store && this.held > 0) this.events.dropped(this.held);
    this.logged = [];
    this.quiet = [];
    this.repeat = [];
    this.heldBytes = 0;
    this.worker = undefined;
    this.events.routeLogs(undefined);
    if (!worker) return;
    // A closed worker runs no statement and can go. One that did not answer may be inside DuckDB, where
    // terminating it would abort the process: it is left to end with the process.
    if (closed) await worker.terminate();
    else worker.unref();
  }
}

/** Resolves or rejects as `work` does, or rejects once `deadline` (epoch ms) passes. */
function within<T>(work: Promise<T>, deadline: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('the trace worker did not answer in time')), Math.max(0, deadline - Date.now()));
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

/** Whether an earlier run left rows in the spool (an empty segment, from a failed write, holds none). */
function spoolHoldsRows(config: TelemetryConfig, kind: TraceSink['kind'] | undefined): boolean {
  if (!kind) return false;
  const dir = spoolDirectory(config, kind);
  try {
    return readdirSync(dir).some((name) => isSegmentName(name) && statSync(join(dir, name)).size > 0);
  } catch {
    return false;
  }
}

/** The store facet of the worker: what the dashboard, feedback and the canary controller use. */
export class WorkerTraceStore implements TraceStore {
  readonly sink: TraceSink;

  constructor(
    private readonly worker: TraceWorker,
    readonly kind: TraceSink['kind'],
  ) {
    this.sink = new WorkerSink(kind, (method, args) => worker.call(method, args));
  }

  get ready(): boolean {
    return this.worker.ready;
  }

  /** The thread running the store now (tests end it to see the gateway survive its loss). */
  get thread(): Worker | undefined {
    return this.worker.thread;
  }

  /** Rows not yet handed to that thread. */
  get held(): number {
    return this.worker.held;
  }

  /** Rows handed to that thread that it has not acknowledged yet. */
  get unacknowledged(): number {
    return this.worker.unacknowledged;
  }

  status(): TraceStoreStatus {
    return this.worker.status();
  }

  record(row: TraceRow): void {
    this.worker.record(row, false);
  }

  flush(): Promise<void> {
    return this.worker.flush();
  }

  open(): Promise<void> {
    return this.worker.open();
  }

  close(stopBy?: number): Promise<void> {
    return this.worker.close(stopBy);
  }
}

/** The sink's methods as calls to the worker. Opening, closing and row inserts belong to the store. */
class WorkerSink implements TraceSink {
  readonly dialect: SqlDialect;

  constructor(
    readonly kind: TraceSink['kind'],
    private readonly call: (method: SinkMethod, args: unknown[]) => Promise<unknown>,
  ) {
    this.dialect = kind === 'clickhouse' ? CLICKHOUSE_DIALECT : DUCKDB_DIALECT;
  }

  async init(): Promise<void> {}

  insertTraces(): Promise<void> {
    return Promise.reject(new Error('trace rows are recorded through the store, not inserted directly'));
  }

  dropOlderThan(): Promise<void> {
    return Promise.reject(new Error('retention runs in the trace worker'));
  }

  insertFeedback(row: FeedbackRow): Promise<void> {
    return this.call('insertFeedback', [row]) as Promise<void>;
  }

  insertCanaryEvent(row: CanaryEventRow): Promise<void> {
    return this.call('insertCanaryEvent', [row]) as Promise<void>;
  }

  getTrace(traceId: string): Promise<TraceRow | undefined> {
    return this.call('getTrace', [traceId]) as Promise<TraceRow | undefined>;
  }

  listFeedback(traceId: string): Promise<FeedbackRow[]> {
    return this.call('listFeedback', [traceId]) as Promise<FeedbackRow[]>;
  }

  exportPage(filter: ExportFilter, after: ExportCursor | undefined, limit: number): Promise<ExportRow[]> {
    return this.call('exportPage', [filter, after, limit]) as Promise<ExportRow[]>;
  }

  countTraces(): Promise<{ rows: number; distinct: number }> {
    return this.call('countTraces', []) as Promise<{ rows: number; distinct: number }>;
  }

  select(sql: string): Promise<Record<string, unknown>[]> {
    return this.call('select', [sql]) as Promise<Record<string, unknown>[]>;
  }

  async close(): Promise<void> {}
}
