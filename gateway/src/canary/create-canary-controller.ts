/**
 * Wires the canary controller into an app: its state where `state.canary` places it (memory or Redis),
 * its numbers from the trace store (per variant, since the current step began), and its events to the
 * trace store, /metrics and the log.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { GatewayConfig } from '../config/schema.js';
import type { CanarySplit } from '../routing/route-tree.js';
import { DashboardQueries } from '../telemetry/dashboard-queries.js';
import type { GatewayMetrics } from '../telemetry/metrics.js';
import type { TraceStore } from '../telemetry/trace-store.js';
import type { VariantStats } from './canary-guards.js';
import { CanaryController, type CanaryStatsSource } from './canary-controller.js';
import { createCanaryStateStore } from '../state/state-stores.js';

const NO_DATA: VariantStats = { requests: 0, errors: 0, p95Ms: null, ttftP95Ms: null, costPerRequest: 0, feedback: null, feedbackCount: 0 };

export function createCanaryController(
  config: GatewayConfig,
  splits: ReadonlyMap<string, CanarySplit>,
  traces: TraceStore | undefined,
  metrics: GatewayMetrics,
  log: FastifyBaseLogger,
): CanaryController {
  const stats: CanaryStatsSource = async (id, sinceMs) => {
    if (!traces?.ready) return { baseline: NO_DATA, canary: NO_DATA };
    // Rows still queued in this replica would be missed; flush them first.
    await traces.pipeline.flush();
    const route = id.split('.')[0] as string;
    const comparisons = await new DashboardQueries(traces.sink).canaries({ fromMs: sinceMs, toMs: Date.now() + 1, bucketMs: 1 });
    const comparison = comparisons.find((c) => c.route === route);
    const variants = comparison?.variants ?? [];
    const pick = (name: string): VariantStats => {
      const v = variants.find((candidate) => candidate.variant === name);
      if (!v) return NO_DATA;
      return {
        requests: v.requests,
        errors: Math.round(v.errorRate * v.requests),
        p95Ms: v.p95,
        ttftP95Ms: v.ttftP95,
        costPerRequest: v.costPerRequest,
        feedback: v.feedback,
        feedbackCount: v.feedbackCount,
      };
    };
    // Shadow requests mirror traffic to the candidate: their agreement with the primary answers is the canary's.
    const canary = { ...pick('canary'), agreement: comparison?.agreement?.rougeL ?? null, agreementCount: comparison?.agreement?.count ?? 0 };
    return { baseline: pick('baseline'), canary };
  };
  return new CanaryController({
    splits,
    store: createCanaryStateStore(config),
    stats,
    onEvent: (event) => {
      metrics.countCanaryDecision(event.route, event.decision);
      if (event.decision !== 'hold') log.info({ canary: event.route, decision: event.decision, from: event.fromWeight, to: event.toWeight, details: event.details }, 'canary decision');
      if (traces?.ready) {
        traces.sink
          .insertCanaryEvent({
            event_id: event.eventId,
            ts_ms: event.tsMs,
            route: event.route,
            decision: event.decision,
            from_weight: event.fromWeight,
            to_weight: event.toWeight,
            details: JSON.stringify(event.details),
          })
          .catch((error: unknown) => log.warn({ err: error }, 'could not store a canary event'));
      }
    },
  });
}
