/**
 * The gateway's side of the trace worker (trace-worker.ts). Recording a row is a push onto an array;
 * the rows recorded in one turn of the event loop leave together in one message, so no row object
 * outlives its request for long (which kept the main heap small under load: rows queued here for a
 * whole batch interval were promoted to the old generation). Queries and feedback become calls.
 *
 * A worker that dies (out of memory, a native crash) is replaced after a pause; the rows it held are
 * counted as dropped, calls in flight fail, and the gateway keeps serving.
 */
import { Worker } from 'node:worker_threads';
import { CLICKHOUSE_DIALECT, DUCKDB_DIALECT, type SqlDialect } from './sql-dialect.js';
import type { TelemetryConfig } from './telemetry-config.js';
import type { CanaryEventRow, FeedbackRow, TraceRow } from './trace-row.js';
import type { ExportCursor, ExportFilter, ExportRow, TraceSink } from './trace-sink.js';
import type { StoreEvents, TraceStore } from './trace-store.js';
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

/** Rows are sent at the end of the event loop's turn, or sooner when this many are waiting. */
const MAX_ROWS_PER_MESSAGE = 256;
const RESTART_DELAY_MS = 1000;

/**
 * The worker's entry next to this file: the compiled .js in dist/; from the TypeScript sources (tests),
 * the .ts loaded through tsx.
 */
function workerEntry(): { url: URL; execArgv: string[] | undefined } {
  const fromSources = import.meta.url.endsWith('.ts');
  return { url: new URL(fromSources ? './trace-worker.ts' : './trace-worker.js', import.meta.url), execArgv: fromSources ? ['--import', 'tsx'] : undefined };
}

export interface WorkerTraceStoreEvents extends StoreEvents {
  /** The worker failed: it is restarted, and this says why. */
  failed(error: Error): void;
}

export class WorkerTraceStore implements TraceStore {
  readonly sink: TraceSink;
  private worker: Worker | undefined;
  private pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  private nextId = 1;
  private batch: TraceRow[] = [];
  private sendScheduled = false;
  private lastStatus: TraceStoreStatus = { ready: false, up: false, queued: 0, spooledBytes: 0 };
  /** The worker's totals as last reported, and rows sent to it since it started. */
  private counts: TraceCounts = { written: 0, spooled: 0, dropped: 0 };
  private sentToWorker = 0;
  private opened: Promise<void> | undefined;
  private closing = false;
  private restartTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly kind: TraceSink['kind'],
    private readonly config: TelemetryConfig,
    private readonly events: WorkerTraceStoreEvents,
  ) {
    this.sink = new WorkerSink(kind, (method, args) => this.call(method, args));
  }

  get ready(): boolean {
    return this.lastStatus.ready;
  }

  /** The thread running the store now (tests end it to see the gateway survive its loss). */
  get thread(): Worker | undefined {
    return this.worker;
  }

  status(): TraceStoreStatus {
    return { ...this.lastStatus, queued: this.lastStatus.queued + this.batch.length };
  }

  record(row: TraceRow): void {
    // While a failed worker is being replaced rows wait here, as many as the worker's own queue holds.
    if (!this.worker && this.batch.length >= this.config.maxQueue) {
      this.events.dropped(1);
      return;
    }
    this.batch.push(row);
    if (this.batch.length >= MAX_ROWS_PER_MESSAGE) this.send();
    else if (!this.sendScheduled) {
      this.sendScheduled = true;
      setImmediate(() => this.send());
    }
  }

  private send(): void {
    this.sendScheduled = false;
    if (this.batch.length === 0 || !this.worker) return;
    const rows = this.batch;
    this.batch = [];
    this.sentToWorker += rows.length;
    this.post({ t: 'rows', rows });
  }

  async flush(): Promise<void> {
    this.send();
    await this.call('flush', []);
  }

  open(): Promise<void> {
    this.opened ??= this.start();
    return this.opened;
  }

  private start(): Promise<void> {
    const { url, execArgv } = workerEntry();
    const worker = new Worker(url, { workerData: { config: this.config } satisfies TraceWorkerData, execArgv, stdout: false, stderr: false });
    this.worker = worker;
    this.sentToWorker = 0;
    this.counts = { written: 0, spooled: 0, dropped: 0 };
    return new Promise((resolve, reject) => {
      worker.on('message', (message: FromWorker) => {
        if (message.t === 'opened') resolve();
        else this.receive(message);
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
      }
    }
  }

  /** The worker died: fail its calls, count the rows it held as dropped, start another. */
  private failed(worker: Worker, error: Error): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    this.lastStatus = { ...this.lastStatus, ready: false, up: false };
    const lost = this.sentToWorker - (this.counts.written + this.counts.spooled + this.counts.dropped);
    if (lost > 0) this.events.dropped(lost);
    for (const { reject } of this.pending.values()) reject(error);
    this.pending.clear();
    void worker.terminate();
    if (this.closing) return;
    this.events.failed(error);
    this.restartTimer = setTimeout(() => {
      this.opened = this.start();
      this.opened.catch(() => undefined);
    }, RESTART_DELAY_MS);
    this.restartTimer.unref();
  }

  private post(message: ToWorker): void {
    this.worker?.postMessage(message);
  }

  private call(method: SinkMethod | StoreMethod, args: unknown[]): Promise<unknown> {
    if (!this.worker) return Promise.reject(new Error('the trace store is not available'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.post({ t: 'call', id, method, args });
    });
  }

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
      await worker.terminate();
    }
  }
}

/** The sink's methods as calls to the worker. Opening and closing belong to the store. */
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
