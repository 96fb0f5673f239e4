/**
 * The trace worker: a thread that owns the trace store (pipeline, spool, sink, retention) and writes each
 * request's log line, so none of that work — batch inserts, DuckDB, JSON for ClickHouse, spool files,
 * log formatting and writes, timers — runs on the event loop that serves requests. It takes rows, lines
 * and calls from the gateway (trace-worker-protocol.ts), answers the calls, and reports status, counts
 * and which rows messages are safe (stored, spooled or counted); its own log lines go to the gateway's
 * logger, which redacts them.
 *
 * The thread must not die of a JavaScript error: a thread that ends while DuckDB runs a statement takes
 * the whole process down (the native binding aborts). An error nothing else caught is logged and counted
 * and the thread goes on; only a burst of them makes it retire, and then it first closes the store —
 * which waits for DuckDB's statement to finish — and exits on its own.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { requestLogLine } from './request-log-line.js';
import { StdoutLines } from './stdout-lines.js';
import { LocalTraceStore, createTraceSink } from './trace-store.js';
import { SINK_METHODS, serializeError, type FromWorker, type LogEvent, type SinkMethod, type ToWorker, type TraceCounts, type TraceWorkerData } from './trace-worker-protocol.js';

/** Status is sent at most this often (and with every flush), only when something changed. */
const STATUS_INTERVAL_MS = 250;
/** This many uncaught errors within the window and the thread retires (the gateway starts another). */
const ERROR_BURST = 20;
const ERROR_WINDOW_MS = 60_000;

if (!parentPort) throw new Error('trace-worker.ts runs as a worker thread');
const port = parentPort;
const { config, store: storing, requestLines } = workerData as TraceWorkerData;
const post = (message: FromWorker): void => port.postMessage(message);
const log = (level: LogEvent['level'], fields: Record<string, unknown>, msg: string): void => {
  const { err, ...rest } = fields;
  post({ t: 'log', event: { level, fields: rest, msg, ...(err === undefined ? {} : { err: serializeError(err) }) } });
};

type RowsMessage = Extract<ToWorker, { t: 'rows' }>;

const counts: TraceCounts = { written: 0, spooled: 0, dropped: 0, quarantined: 0, errors: 0, linesDropped: 0 };
/**
 * Rows settled (stored, spooled, dropped, quarantined): report soon, not only on the timer — the gateway
 * holds every row until it is acknowledged. After the pipeline has marked them settled, at most every
 * EARLY_REPORT_MS, and only when the acknowledgement moves: at saturation, or when an overflowing queue
 * spills row by row, a report per settlement cost the gateway's thread a message per few rows.
 */
const EARLY_REPORT_MS = 20;
let reportQueued = false;
let lastEarlyReport = 0;
function settledRows(key: 'written' | 'spooled' | 'dropped' | 'quarantined', count: number): void {
  counts[key] += count;
  if (reportQueued) return;
  reportQueued = true;
  const report = (): void => {
    reportQueued = false;
    lastEarlyReport = performance.now();
    if (!retiring) reportStatus(false, true);
  };
  const wait = lastEarlyReport + EARLY_REPORT_MS - performance.now();
  if (wait > 0) setTimeout(report, wait);
  else setImmediate(report);
}
const sink = storing ? createTraceSink(config) : undefined;
const store =
  sink &&
  new LocalTraceStore(sink, config, {
    written: (count) => settledRows('written', count),
    spooled: (count) => settledRows('spooled', count),
    dropped: (count) => settledRows('dropped', count),
    quarantined: (count) => settledRows('quarantined', count),
    log,
  });

const stdout = requestLines?.to === 'stdout' ? new StdoutLines() : undefined;
/** Request lines of this turn, handed back to the gateway in one message (when it keeps the log stream). */
let forGateway = '';

/** Rows messages received, each with the pipeline's row count once its rows were recorded. */
const marks: { seq: number; end: number }[] = [];
let acked = 0;

let recentErrors: number[] = [];
let retiring = false;

process.on('uncaughtException', (error) => caught(error));
process.on('unhandledRejection', (reason) => caught(reason));

function caught(error: unknown): void {
  counts.errors++;
  log('error', { err: error }, 'trace worker caught an unhandled error; carrying on');
  const now = Date.now();
  recentErrors = recentErrors.filter((at) => now - at < ERROR_WINDOW_MS);
  recentErrors.push(now);
  if (recentErrors.length >= ERROR_BURST) void retire();
  else reportStatus();
}

/** Leaves after a burst of errors: close the store (DuckDB goes idle first), then end the thread. */
async function retire(): Promise<void> {
  if (retiring) return;
  retiring = true;
  log('error', { errors: recentErrors.length, windowMs: ERROR_WINDOW_MS }, 'trace worker failing repeatedly; closing the store and retiring');
  clearInterval(statusTimer);
  port.close();
  try {
    await store?.close();
  } finally {
    process.exit(1);
  }
}

function logRequests(rows: readonly Parameters<typeof requestLogLine>[0][]): void {
  if (!requestLines || rows.length === 0) return;
  let text = '';
  for (const row of rows) text += requestLogLine(row, requestLines.prefix);
  if (stdout) stdout.write(text);
  else {
    if (forGateway === '') setImmediate(sendLines);
    forGateway += text;
  }
}

function sendLines(): void {
  if (forGateway === '') return;
  post({ t: 'lines', text: forGateway });
  forGateway = '';
}

let lastReport = '';
/** `early`: a report for rows just settled, sent only if it acknowledges more (the timer sends the rest). */
function reportStatus(force = false, early = false): void {
  const before = acked;
  if (store) {
    const settled = store.pipeline.settledBefore;
    while (marks.length > 0 && marks[0]!.end <= settled) acked = Math.max(acked, marks.shift()!.seq);
  }
  if (early && acked === before) return;
  if (stdout) counts.linesDropped = stdout.dropped;
  const message: FromWorker = {
    t: 'status',
    status: store ? store.status() : { ready: false, up: false, state: 'not-started', queued: 0, spooledBytes: 0 },
    counts: { ...counts },
    acked,
  };
  const text = JSON.stringify(message);
  if (!force && text === lastReport) return;
  lastReport = text;
  post(message);
}
const statusTimer = setInterval(() => reportStatus(), STATUS_INTERVAL_MS);

/** Waits for `work`, or `ms` at most (stdout may be a pipe nobody reads). */
async function atMost(work: Promise<void> | undefined, ms: number): Promise<void> {
  if (!Number.isFinite(ms)) return work;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

async function answer(id: number, method: string, args: unknown[]): Promise<void> {
  try {
    let value: unknown;
    if (method === 'flush' || method === 'close') {
      const deadline = Date.now() + (typeof args[0] === 'number' ? args[0] : Number.POSITIVE_INFINITY);
      if (method === 'close') clearInterval(statusTimer);
      await (method === 'close' ? store?.close() : store?.flush());
      sendLines();
      await atMost(stdout?.flush(), Math.max(0, deadline - Date.now()));
      reportStatus(true);
    } else if ((SINK_METHODS as readonly string[]).includes(method)) {
      if (!store?.ready) throw new Error('the trace store is not open');
      value = await (sink![method as SinkMethod] as (...a: unknown[]) => Promise<unknown>).apply(sink, args);
    } else {
      throw new Error(`unknown trace worker call: ${method}`);
    }
    post({ t: 'result', id, value });
  } catch (error) {
    post({ t: 'error', id, error: serializeError(error) });
  }
}

/**
 * Rows that arrive while the store opens wait for it: the pipeline's spool must know what an earlier run
 * left before anything is written to it. Their log lines wait too, so lines keep their order.
 */
let early: RowsMessage[] | undefined = [];

function takeRows(message: RowsMessage): void {
  // The rows are recorded before their log lines are formatted, and the mark is pushed whatever happens:
  // a later acknowledgement covers this seq, so its rows must be in the pipeline by then.
  try {
    if (store) {
      for (const row of message.logged) store.record(row);
      for (const row of message.quiet) store.record(row);
      store.pipeline.recordRepeated(message.repeat);
    }
  } finally {
    if (store) marks.push({ seq: message.seq, end: store.pipeline.recorded });
  }
  logRequests(message.logged);
}

port.on('message', (message: ToWorker) => {
  switch (message.t) {
    case 'rows':
      if (early) early.push(message);
      else takeRows(message);
      return;
    case 'line':
      stdout?.write(message.line);
      return;
    case 'call':
      void answer(message.id, message.method, message.args);
  }
});

try {
  await store?.open();
} catch (error) {
  // The spool's directory cannot be made (say): nothing to do here; the gateway starts another later.
  log('error', { err: error }, 'trace store cannot open');
  await store?.close();
  process.exit(1);
}
const waiting = early;
early = undefined;
for (const message of waiting) {
  try {
    takeRows(message);
  } catch (error) {
    caught(error);
  }
}
reportStatus(true);
post({ t: 'opened' });
