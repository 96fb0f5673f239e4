/**
 * The messages between the gateway's event loop and the trace worker (trace-worker.ts), which owns the
 * trace store (the pipeline, the disk spool, the sink — DuckDB or ClickHouse — and retention) and writes
 * the log line of each request. Rows travel one way in small batches; queries and single-row writes are
 * calls with an id and a reply.
 */
import type { TelemetryConfig } from './telemetry-config.js';
import type { TraceRow } from './trace-row.js';
import type { TraceSink } from './trace-sink.js';

export interface TraceWorkerData {
  config: TelemetryConfig;
  /** Rows are stored in the configured sink. */
  store: boolean;
  /**
   * One log line per request (recorded as such): written to stdout, where the gateway's own lines then
   * go through the worker too (one writer, so lines never interleave), or handed back to the gateway
   * when it logs to a stream of its own (tests). `prefix` is pino's base fields (pid, hostname).
   */
  requestLines: { to: 'stdout' | 'gateway'; prefix: string } | undefined;
}

/** What the store reports about itself; read by /readyz and the pipeline gauges. */
export interface TraceStoreStatus {
  /** The sink opened (queries and feedback can be served). */
  ready: boolean;
  /** The last write succeeded (false while rows spool to disk, and while nothing is known yet). */
  up: boolean;
  /**
   * not-started: no thread runs the store yet (it starts with the first request); starting: the store
   * is opening, or a thread that failed is being replaced; up / down: the last write worked / failed.
   */
  state: 'not-started' | 'starting' | 'up' | 'down';
  /** Rows waiting in memory for the next batch. */
  queued: number;
  /** Bytes of rows waiting on disk. */
  spooledBytes: number;
}

/** Totals since the worker started; the gateway turns them into counter increments. */
export interface TraceCounts {
  written: number;
  spooled: number;
  dropped: number;
  quarantined: number;
  /** Errors the worker caught that nothing else handled (it logs them and goes on). */
  errors: number;
  /** Request log lines dropped because stdout was not taking them. */
  linesDropped: number;
}

/** The sink methods a call may name. */
export type SinkMethod = 'insertFeedback' | 'insertCanaryEvent' | 'getTrace' | 'listFeedback' | 'exportPage' | 'countTraces' | 'select';
export type StoreMethod = 'flush' | 'close';

export type ToWorker =
  /**
   * `logged` rows also get a request log line; `quiet` ones (shadow requests) are only stored; `repeat`
   * ones (handed again after a worker died) may be stored already, so they go through the spool, whose
   * replay skips stored rows. `seq` numbers the messages; the worker acknowledges them in order.
   */
  | { t: 'rows'; seq: number; logged: TraceRow[]; quiet: TraceRow[]; repeat: TraceRow[] }
  /** A log line of the gateway's own, for stdout. */
  | { t: 'line'; line: string }
  | { t: 'call'; id: number; method: SinkMethod | StoreMethod; args: unknown[] };

export interface LogEvent {
  level: 'info' | 'warn' | 'error';
  fields: Record<string, unknown>;
  /** An error that went with the event, as plain data. */
  err?: SerializedError;
  msg: string;
}

export type FromWorker =
  /** `acked`: every rows message up to this seq is stored, spooled, quarantined or counted as dropped. */
  | { t: 'status'; status: TraceStoreStatus; counts: TraceCounts; acked: number }
  | { t: 'opened' }
  | { t: 'result'; id: number; value: unknown }
  | { t: 'error'; id: number; error: SerializedError }
  | { t: 'log'; event: LogEvent }
  | { t: 'lines'; text: string };

export interface SerializedError {
  name: string;
  message: string;
  stack?: string | undefined;
  code?: unknown;
}

export function serializeError(error: unknown): SerializedError {
  if (error instanceof Error) return { name: error.name, message: error.message, stack: error.stack, code: (error as { code?: unknown }).code };
  return { name: 'Error', message: String(error) };
}

export function deserializeError(data: SerializedError): Error {
  const error = new Error(data.message);
  error.name = data.name;
  if (data.stack) error.stack = data.stack;
  if (data.code !== undefined) (error as { code?: unknown }).code = data.code;
  return error;
}

/** Methods a call may name, checked at both ends. */
export const SINK_METHODS: readonly SinkMethod[] = ['insertFeedback', 'insertCanaryEvent', 'getTrace', 'listFeedback', 'exportPage', 'countTraces', 'select'];

export type SinkCall = { [M in SinkMethod]: TraceSink[M] };
