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
 *
 * A worker that dies (out of memory, a native crash) is replaced after a pause; the rows it held are
 * counted as dropped, calls in flight fail, and the gateway keeps serving. Rows recorded meanwhile wait
 * here for the next worker.
 */
import { readdirSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { CLICKHOUSE_DIALECT, DUCKDB_DIALECT, type SqlDialect } from './sql-dialect.js';
import type { TelemetryConfig } from './telemetry-config.js';
import type { CanaryEventRow, FeedbackRow, TraceRow } from './trace-row.js';
import type { ExportCursor, ExportFilter, ExportRow, TraceSink } from './trace-sink.js';
import { spoolDirectory, type StoreEvents, type TraceStore } from './trace-store.js';
import {
  deserializeError,
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
  /** Request log lines handed back, when the gateway logs to a stream of its own. */
  lines(text: string): void;
  /** Whether the gateway's own log lines should go through the worker now (it writes stdout). */
  routeLogs(through: ((line: string) => void) | undefined): void;
}

export class TraceWorker {
  /** The trace store in the worker, when a sink is configured. */
  readonly store: TraceStore | undefined;
  private worker: Worker | undefined;
  private pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  private nextId = 1;
  private logged: TraceRow[] = [];
  private quiet: TraceRow[] = [];
  private sendTimer: NodeJS.Timeout | undefined;
  /** Until the thread starts, nothing has failed: the store counts as ready and up. */
  private lastStatus: TraceStoreStatus = { ready: true, up: true, queued: 0, spooledBytes: 0 };
  /** The worker's totals as last reported, and rows sent to it since it started. */
  private counts: TraceCounts = { written: 0, spooled: 0, dropped: 0 };
  private sentToWorker = 0;
  private opened: Promise<void> | undefined;
  private closing = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private restartDelayMs = RESTART_DELAY_MS;

  constructor(
    private readonly data: TraceWorkerData,
    private readonly events: TraceWorkerEvents,
    private readonly kind: TraceSink['kind'] | undefined,
  ) {
    this.store = kind && data.store ? new WorkerTraceStore(this, kind) : undefined;
  }

  get thread(): Worker | undefined {
    return this.worker;
  }

  get ready(): boolean {
    return this.lastStatus.ready;
  }

  /** Rows recorded here and not yet handed to the worker. */
  get held(): number {
    return this.logged.length + this.quiet.length;
  }

  status(): TraceStoreStatus {
    return { ...this.lastStatus, queued: this.lastStatus.queued + (this.data.store ? this.held : 0) };
  }

  /** A finished request: its log line (when request lines are on) and its row (when stored). Never waits. */
  record(row: TraceRow, logged = true): void {
    const held = this.logged.length + this.quiet.length;
    // While a failed worker is being replaced rows wait here, as many as the worker's own queue holds.
    if (!this.worker && held >= this.data.config.maxQueue) {
      if (this.data.store) this.events.dropped(1);
      return;
    }
    (logged ? this.logged : this.quiet).push(row);
    if (!this.opened) void this.startNow();
    if (held + 1 >= MAX_ROWS_PER_MESSAGE) this.send();
    else if (!this.sendTimer) {
      this.sendTimer = setTimeout(() => this.send(), SEND_INTERVAL_MS);
      this.sendTimer.unref();
    }
  }

  private send(): void {
    clearTimeout(this.sendTimer);
    this.sendTimer = undefined;
    if (!this.worker || this.logged.length + this.quiet.length === 0) return;
    const message: ToWorker = { t: 'rows', logged: this.logged, quiet: this.quiet };
    if (this.data.store) this.sentToWorker += this.logged.length + this.quiet.length;
    this.logged = [];
    this.quiet = [];
    this.worker.postMessage(message);
  }

  async flush(): Promise<void> {
    if (!this.opened && this.held === 0) return;
    await this.startNow();
    this.send();
    await this.call('flush', []);
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
    this.sentToWorker = 0;
    this.counts = { written: 0, spooled: 0, dropped: 0 };
    return new Promise((resolve, reject) => {
      worker.on('message', (message: FromWorker) => {
        if (message.t !== 'opened') {
          this.receive(message);
          return;
        }
        this.restartDelayMs = RESTART_DELAY_MS;
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
        if (!this.closing) this.failed(worker, new Error(`trace worker exited with code ${code}`));
      });
    });
  }

  private receive(message: Exclude<FromWorker, { t: 'opened' }>): void {
    switch (message.t) {
      case 'status': {
        this.lastStatus = message.status;
        const { written, spooled, dropped } = message.counts;
        if (written > this.counts.written) this.events.written(written - this.counts.written);
        if (spooled > this.counts.spooled) this.events.spooled(spooled - this.counts.spooled);
        if (dropped > this.counts.dropped) this.events.dropped(dropped - this.counts.dropped);
        this.counts = message.counts;
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

  /** The worker died: fail its calls, count the rows it held as dropped, start another. */
  private failed(worker: Worker, error: Error): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    this.events.routeLogs(undefined);
    this.lastStatus = { ...this.lastStatus, ready: false, up: false };
    const lost = this.sentToWorker - (this.counts.written + this.counts.spooled + this.counts.dropped);
    if (lost > 0) this.events.dropped(lost);
    for (const { reject } of this.pending.values()) reject(error);
    this.pending.clear();
    void worker.terminate();
    if (this.closing) return;
    this.events.failed(error);
    this.restartTimer = setTimeout(() => {
      this.opened = undefined;
      void this.startNow();
    }, this.restartDelayMs);
    this.restartDelayMs = Math.min(this.restartDelayMs * 2, MAX_RESTART_DELAY_MS);
    this.restartTimer.unref();
  }

  async call(method: SinkMethod | StoreMethod, args: unknown[]): Promise<unknown> {
    await this.startNow();
    const worker = this.worker;
    if (!worker) return Promise.reject(new Error('the trace worker is not running'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ t: 'call', id, method, args } satisfies ToWorker);
    });
  }

  /** Sends what is recorded, lets the worker store (or spool) it and write its lines, then ends it. */
  async close(): Promise<void> {
    clearTimeout(this.restartTimer);
    const worker = this.worker;
    if (!worker) return;
    this.send();
    try {
      await this.call('close', []);
    } finally {
      this.closing = true;
      this.worker = undefined;
      this.events.routeLogs(undefined);
      await worker.terminate();
    }
  }
}

/** Whether an earlier run left rows in the spool. */
function spoolHoldsRows(config: TelemetryConfig, kind: TraceSink['kind'] | undefined): boolean {
  if (!kind) return false;
  try {
    return readdirSync(spoolDirectory(config, kind)).some((name) => name.endsWith('.jsonl'));
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

  close(): Promise<void> {
    return this.worker.close();
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
