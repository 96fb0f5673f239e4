/**
 * The trace worker: a thread that owns the trace store (pipeline, spool, sink, retention) and writes each
 * request's log line, so none of that work — batch inserts, DuckDB, JSON for ClickHouse, spool files,
 * log formatting and writes, timers — runs on the event loop that serves requests. It takes rows, lines
 * and calls from the gateway (trace-worker-protocol.ts), answers the calls, and reports status and
 * counts; its own log lines go to the gateway's logger, which redacts them.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { requestLogLine } from './request-log-line.js';
import { StdoutLines } from './stdout-lines.js';
import { LocalTraceStore, createTraceSink } from './trace-store.js';
import { SINK_METHODS, serializeError, type FromWorker, type SinkMethod, type ToWorker, type TraceCounts, type TraceWorkerData } from './trace-worker-protocol.js';

/** Status is sent at most this often (and with every flush), only when something changed. */
const STATUS_INTERVAL_MS = 250;

const port = parentPort;
if (!port) throw new Error('trace-worker.ts runs as a worker thread');
const { config, store: storing, requestLines } = workerData as TraceWorkerData;
const post = (message: FromWorker): void => port.postMessage(message);

const counts: TraceCounts = { written: 0, spooled: 0, dropped: 0 };
const sink = storing ? createTraceSink(config) : undefined;
const store =
  sink &&
  new LocalTraceStore(sink, config, {
    written: (count) => void (counts.written += count),
    spooled: (count) => void (counts.spooled += count),
    dropped: (count) => void (counts.dropped += count),
    log: (level, fields, msg) => {
      const { err, ...rest } = fields;
      post({ t: 'log', event: { level, fields: rest, msg, ...(err === undefined ? {} : { err: serializeError(err) }) } });
    },
  });

const stdout = requestLines?.to === 'stdout' ? new StdoutLines() : undefined;
/** Request lines of this turn, handed back to the gateway in one message (when it keeps the log stream). */
let forGateway = '';

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
function reportStatus(force = false): void {
  if (!store) return;
  const message: FromWorker = { t: 'status', status: store.status(), counts: { ...counts } };
  const text = JSON.stringify(message);
  if (!force && text === lastReport) return;
  lastReport = text;
  post(message);
}
const statusTimer = store ? setInterval(() => reportStatus(), STATUS_INTERVAL_MS) : undefined;

async function answer(id: number, method: string, args: unknown[]): Promise<void> {
  try {
    let value: unknown;
    if (method === 'flush' || method === 'close') {
      if (method === 'close') clearInterval(statusTimer);
      await (method === 'close' ? store?.close() : store?.flush());
      sendLines();
      await stdout?.flush();
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

port.on('message', (message: ToWorker) => {
  switch (message.t) {
    case 'rows':
      logRequests(message.logged);
      if (store) {
        for (const row of message.logged) store.record(row);
        for (const row of message.quiet) store.record(row);
      }
      return;
    case 'line':
      stdout?.write(message.line);
      return;
    case 'call':
      void answer(message.id, message.method, message.args);
  }
});

await store?.open();
reportStatus(true);
post({ t: 'opened' });
