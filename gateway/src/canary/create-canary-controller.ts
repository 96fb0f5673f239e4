/**
 * Wires the canary controller into an app: its state where `state.canary` places it (memory or Redis),
 * its numbers from the trace store (per variant, since the current step began), and its events to the
 * trace store, /metrics and the log.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { GatewayConfig } from '../config/schema.js';
import { variantTargetsOf, type CanarySplit } from '../routing/route-tree.js';
import { DashboardQueries, recentCanaryEvents, type LatencySamples } from '../telemetry/dashboard-queries.js';
import type { GatewayMetrics } from '../telemetry/metrics.js';
import { ThrottledLog } from '../telemetry/throttled-log.js';
import type { TraceStore } from '../telemetry/trace-store.js';
import { NO_STATS, type VariantStats } from './canary-guards.js';
import { CanaryController, type CanaryStatsSource } from './canary-controller.js';
import { createCanaryStateStore } from '../state/state-stores.js';

/**
 * Latencies read per variant for the ratio tests: the latest this many requests of the step. Enough for
 * the tests to resolve small differences; bounded so an evaluation stays cheap at any traffic.
 */
const LATENCY_SAMPLES = 5000;

export function createCanaryController(
  config: GatewayConfig,
  splits: ReadonlyMap<string, CanarySplit>,
  traces: TraceStore | undefined,
  metrics: GatewayMetrics,
  log: FastifyBaseLogger,
  unavailable: (split: CanarySplit) => string[],
): CanaryController {
  const stats: CanaryStatsSource = async (split, sinceMs) => {
    if (!traces?.ready) return { baseline: NO_STATS, canary: NO_STATS };
    // Rows still queued in this replica would be missed; flush them first.
    await traces.flush();
    const queries = new DashboardQueries(traces.sink);
    const window = { fromMs: sinceMs, toMs: Date.now() + 1, bucketMs: 1 };
    const [comparisons, baselineSamples, canarySamples] = await Promise.all([
      queries.canaries(window, variantTargetsOf([split])),
      queries.latencySamples(window, split.route, 'baseline', LATENCY_SAMPLES),
      queries.latencySamples(window, split.route, 'canary', LATENCY_SAMPLES),
    ]);
    const comparison = comparisons.find((c) => c.route === split.route);
    const pick = (name: string, samples: LatencySamples): VariantStats => {
      const v = comparison?.variants.find((candidate) => candidate.variant === name);
      if (!v) return NO_STATS;
      return {
        requests: v.requests,
        errors: v.errors,
        p95Ms: v.p95,
        ttftP95Ms: v.ttftP95,
        costPerRequest: v.costPerRequest,
        costStdDev: v.costStdDev,
        feedback: v.feedback,
        feedbackStdDev: v.feedbackStdDev,
        feedbackCount: v.feedbackCount,
        guardrailTrips: v.guardrailTrips,
        ...samples,
      };
    };
    // Shadow requests mirror traffic to the candidate: their agreement with the primary answers is the canary's.
    const agreement = comparison?.agreement;
    const canary = { ...pick('canary', canarySamples), agreement: agreement?.rougeL ?? null, agreementStdDev: agreement?.rougeLStdDev ?? 0, agreementCount: agreement?.count ?? 0 };
    return { baseline: pick('baseline', baselineSamples), canary };
  };
  let roundError: unknown;
  const roundFailed = new ThrottledLog(60_000, (suppressed) =>
    log.warn({ err: roundError, suppressed }, 'a canary round failed: nothing was decided (is the trace store or Redis down?)'),
  );
  const controller = new CanaryController({
    splits,
    onRoundError: (error) => {
      roundError = error;
      roundFailed.hit();
    },
    store: createCanaryStateStore(config),
    stats,
    unavailable,
    history: async (id, limit) => {
      if (!traces?.ready) return undefined;
      const rows = await recentCanaryEvents(traces.sink, id, limit);
      return rows.map((row) => ({
        tsMs: row.ts_ms,
        route: row.route,
        decision: row.decision,
        fromWeight: row.from_weight,
        toWeight: row.to_weight,
        details: JSON.parse(row.details) as Record<string, unknown>,
      }));
    },
    onRefused: (id, decision) => log.warn({ canary: id, decision }, 'canary decision refused: the lease was lost or the state changed meanwhile'),
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
  if (controller.size > 0) warnOfBlindSpots(config, traces, [...splits.values()].filter((split) => split.plan).map((split) => split.id), log);
  return controller;
}

/**
 * Setups in which a canary plan runs but cannot see what it judges. Each is valid — one replica with
 * DuckDB is the default — so it is said at start, not refused.
 */
function warnOfBlindSpots(config: GatewayConfig, traces: TraceStore | undefined, canaries: string[], log: FastifyBaseLogger): void {
  if (!traces) {
    log.warn({ canaries, traceStore: 'none' }, 'canary plans run with no trace store (telemetry.sink: none): they have no numbers to judge, so they never promote or roll back by themselves');
  } else if (config.state.canary === 'redis' && traces.sink.kind === 'duckdb') {
    // Every replica follows the shared weight, but the lease holder reads only its own DuckDB file.
    log.warn(
      { canaries, canaryState: 'redis', traceStore: 'duckdb' },
      "canary state is shared through Redis but traces go to this process's own DuckDB file: the replica that decides judges only its own share of the traffic. A canary across replicas needs a shared trace store (telemetry.sink: clickhouse)",
    );
  }
}
