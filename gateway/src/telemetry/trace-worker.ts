/**
 * The trace worker: a thread that owns the trace store (pipeline, spool, sink, retention) so none of its
 * work — batch inserts, DuckDB, JSON for ClickHouse, spool files, timers — runs on the event loop that
 * serves requests. It takes rows and calls from the gateway (trace-worker-protocol.ts), answers calls,
 * and reports status and counts; its log lines go to the gateway's logger, which redacts them.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { LocalTraceStore, createTraceSink } from './trace-store.js';
import { SINK_METHODS, serializeError, type FromWorker, type SinkMethod, type ToWorker, type TraceCounts, type TraceWorkerData } from './trace-worker-protocol.js';

/** Status is sent at most this often (and with every flush), only when something changed. */
const STATUS_INTERVAL_MS = 250;

const port = parentPort;
if (!port) throw new Error('trace-worker.ts runs as a worker thread');
const { config } = workerData as TraceWorkerData;
const post = (message: FromWorker): void => port.postMessage(message);

const counts: TraceCounts = { written: 0, spooled: 0, dropped: 0 };
const sink = createTraceSink(config);
if (!sink) throw new Error('the trace worker needs a sink');
const store = new LocalTraceStore(sink, config, {
  written: (count) => void (counts.written += count),
  spooled: (count) => void (counts.spooled += count),
  dropped: (count) => void (counts.dropped += count),
  log: (level, fields, msg) => {
    const { err, ...rest } = fields;
    post({ t: 'log', event: { level, fields: rest, msg, ...(err === undefined ? {} : { err: serializeError(err) }) } });
  },
});

let lastReport = '';
function reportStatus(force = false): void {
  const message: FromWorker = { t: 'status', status: store.status(), counts: { ...counts } };
  const text = JSON.stringify(message);
  if (!force && text === lastReport) return;
  lastReport = text;
  post(message);
}
const statusTimer = setInterval(() => reportStatus(), STATUS_INTERVAL_MS);

async function answer(id: number, method: string, args: unknown[]): Promise<void> {
  try {
    let value: unknown;
    if (method === 'flush') {
      await store.flush();
      reportStatus(true);
    } else if (method === 'close') {
      clearInterval(statusTimer);
      await store.close();
      reportStatus(true);
    } else if ((SINK_METHODS as readonly string[]).includes(method)) {
      if (!store.ready) throw new Error('the trace store is not open');
      value = await (sink![method as SinkMethod] as (...a: unknown[]) => Promise<unknown>).apply(sink, args);
    } else {
      throw new Error(`unknown trace store call: ${method}`);
    }
    post({ t: 'result', id, value });
  } catch (error) {
    post({ t: 'error', id, error: serializeError(error) });
  }
}

port.on('message', (message: ToWorker) => {
  if (message.t === 'rows') {
    for (const row of message.rows) store.record(row);
  } else {
    void answer(message.id, message.method, message.args);
  }
});

await store.open();
reportStatus(true);
post({ t: 'opened' });
