/**
 * Prometheus metrics on the gateway's own registry. Names are `gateway_*` in base units; labels are
 * low-cardinality (route, provider, model, status class, variant), guarded against unbounded values.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { BreakerState } from '../routing/circuit-breaker.js';
import { LabelGuard } from './label-guard.js';
import type { RequestOutcome } from './request-outcome.js';

/** LLM calls take from milliseconds (cache, embeddings) to minutes (long generations). */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160];

const BREAKER_STATE_VALUE: Record<BreakerState, number> = { closed: 0, half_open: 1, open: 2 };

export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly routes = new LabelGuard(200);
  private readonly models = new LabelGuard(200);
  private readonly targets = new LabelGuard(400);

  private readonly requests = new Counter({
    name: 'gateway_requests_total',
    help: 'Client requests on the proxy endpoints, by outcome.',
    labelNames: ['route', 'provider', 'model', 'status_class', 'variant', 'stream'] as const,
    registers: [this.registry],
  });
  private readonly duration = new Histogram({
    name: 'gateway_request_duration_seconds',
    help: 'Time from request arrival to the end of the reply (the last byte, for streams).',
    labelNames: ['route', 'status_class', 'stream'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  private readonly retries = new Counter({
    name: 'gateway_retries_total',
    help: 'Extra attempts on the same target after a transient failure.',
    labelNames: ['route'] as const,
    registers: [this.registry],
  });
  private readonly fallbacks = new Counter({
    name: 'gateway_fallbacks_total',
    help: 'Moves from a failed target to the next one in the plan.',
    labelNames: ['route'] as const,
    registers: [this.registry],
  });
  private readonly streamInterruptions = new Counter({
    name: 'gateway_stream_interruptions_total',
    help: 'Streams that broke after their first byte reached the client (ended with a stream_interrupted event).',
    labelNames: ['route', 'provider'] as const,
    registers: [this.registry],
  });
  private readonly cacheResults = new Counter({
    name: 'gateway_cache_results_total',
    help: 'Cache results per proxy request: hit, miss or bypass.',
    labelNames: ['route', 'result'] as const,
    registers: [this.registry],
  });
  private readonly cacheErrors = new Counter({
    name: 'gateway_cache_errors_total',
    help: 'Cache store operations that failed or timed out (the request was served without the cache).',
    labelNames: ['store', 'op'] as const,
    registers: [this.registry],
  });
  private readonly circuitState = new Gauge({
    name: 'gateway_circuit_state',
    help: 'Circuit breaker state per target: 0 closed, 1 half-open, 2 open.',
    labelNames: ['target'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  recordRequest(outcome: RequestOutcome, durationSeconds: number): void {
    const route = this.routes.value(outcome.route);
    const statusClass = `${Math.floor(outcome.status / 100)}xx`;
    const stream = outcome.stream ? 'true' : 'false';
    this.requests.inc({
      route,
      provider: outcome.provider ?? 'none',
      model: this.models.value(outcome.model),
      status_class: statusClass,
      variant: outcome.variant ?? 'none',
      stream,
    });
    this.duration.observe({ route, status_class: statusClass, stream }, durationSeconds);
    this.cacheResults.inc({ route, result: outcome.cache.toLowerCase() });
    if (outcome.retries > 0) this.retries.inc({ route }, outcome.retries);
    if (outcome.fallbacks > 0) this.fallbacks.inc({ route }, outcome.fallbacks);
    if (outcome.streamResult === 'interrupted') this.streamInterruptions.inc({ route, provider: outcome.provider ?? 'none' });
  }

  countCacheError(store: string, op: string): void {
    this.cacheErrors.inc({ store, op });
  }

  setCircuitState(target: string, state: BreakerState): void {
    this.circuitState.set({ target: this.targets.value(target) }, BREAKER_STATE_VALUE[state]);
  }
}
