/**
 * Decides at start where trace rows go: nowhere (`sink: none`), a trace worker owning the configured
 * sink (the normal case), or an injected sink run in process (tests). Counts become metrics; the
 * store's log lines go through the gateway's logger, which redacts them.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { GatewayMetrics } from './metrics.js';
import type { TelemetryConfig } from './telemetry-config.js';
import type { TraceSink } from './trace-sink.js';
import { LocalTraceStore, sinkKind, type TraceStore } from './trace-store.js';
import { WorkerTraceStore, type WorkerTraceStoreEvents } from './trace-worker-client.js';

export function createTraceStore(
  config: TelemetryConfig,
  injected: TraceSink | undefined,
  metrics: () => GatewayMetrics,
  log: FastifyBaseLogger,
): TraceStore | undefined {
  const events: WorkerTraceStoreEvents = {
    written: (count) => metrics().tracesWrittenInc(count),
    spooled: (count) => metrics().tracesSpooledInc(count),
    dropped: (count) => metrics().tracesDroppedInc(count),
    log: (level, fields, msg) => log[level](fields, msg),
    failed: (error) => log.error({ err: error }, 'trace worker failed; starting another'),
  };
  if (injected) return new LocalTraceStore(injected, config, events);
  const kind = sinkKind(config);
  return kind === 'none' ? undefined : new WorkerTraceStore(kind, config, events);
}
