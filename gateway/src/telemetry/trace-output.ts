/**
 * Decides at start what the trace worker does, and whether there is one: it stores rows when a sink is
 * configured (DuckDB or ClickHouse) and writes one log line per request when those are on; with neither,
 * no thread starts. A test may inject a sink instead, run in process. Counts become metrics; the store's
 * log lines go through the gateway's logger, which redacts them.
 */
import { hostname } from 'node:os';
import type { FastifyBaseLogger } from 'fastify';
import type { LogOutput } from '../logger.js';
import type { GatewayMetrics } from './metrics.js';
import { logLinePrefix, requestLogLine } from './request-log-line.js';
import type { TelemetryConfig } from './telemetry-config.js';
import type { TraceRow } from './trace-row.js';
import type { TraceSink } from './trace-sink.js';
import { LocalTraceStore, sinkKind, type TraceStore } from './trace-store.js';
import { TraceWorker, type TraceWorkerEvents } from './trace-worker-client.js';

export interface TraceOutput {
  /** Where a finished request goes: its row and its log line. */
  record(row: TraceRow, logged?: boolean): void;
  store: TraceStore | undefined;
  open(): Promise<void>;
  /** `stopBy`: when a graceful stop must be done (epoch ms); without it, the grace period from now. */
  close(stopBy?: number): Promise<void>;
}

export function createTraceOutput(
  config: TelemetryConfig,
  options: { injectedSink: TraceSink | undefined; requestLines: boolean; logOutput: LogOutput; ownLogStream: boolean; closeTimeoutMs: number },
  metrics: () => GatewayMetrics,
  log: FastifyBaseLogger,
): TraceOutput | undefined {
  const events: TraceWorkerEvents = {
    written: (count) => metrics().tracesWrittenInc(count),
    spooled: (count) => metrics().tracesSpooledInc(count),
    dropped: (count) => metrics().tracesDroppedInc(count),
    quarantined: (count) => metrics().tracesQuarantinedInc(count),
    log: (level, fields, msg) => log[level](fields, msg),
    failed: (error) => log.error({ err: error }, 'trace worker failed; starting another'),
    restarted: () => metrics().traceWorkerRestartsInc(),
    workerErrors: (count) => metrics().traceWorkerErrorsInc(count),
    linesDropped: (count) => metrics().logLinesDroppedInc(count),
    // A stream of the gateway's own gets lines one by one, as pino writes them.
    lines: (text) => {
      for (const line of text.split(/(?<=\n)/)) options.logOutput.direct.write(line);
    },
    routeLogs: (through) => options.logOutput.route(through),
  };
  const prefix = logLinePrefix(process.pid, hostname());
  if (options.injectedSink) {
    const store = new LocalTraceStore(options.injectedSink, config, events);
    const record = (row: TraceRow, logged = true): void => {
      if (logged && options.requestLines) options.logOutput.write(requestLogLine(row, prefix));
      store.record(row);
    };
    return { store, record, open: () => store.open(), close: () => store.close() };
  }
  const kind = sinkKind(config);
  if (kind === 'none' && !options.requestLines) return undefined;
  const worker = new TraceWorker(
    {
      config,
      store: kind !== 'none',
      requestLines: options.requestLines ? { to: options.ownLogStream ? 'gateway' : 'stdout', prefix } : undefined,
    },
    events,
    kind === 'none' ? undefined : kind,
    options.closeTimeoutMs,
  );
  return { store: worker.store, record: (row, logged) => worker.record(row, logged), open: () => worker.open(), close: (stopBy) => worker.close(stopBy) };
}
