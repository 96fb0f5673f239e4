/**
 * Prometheus metrics on the gateway's own registry. Names are `gateway_*` in base units; labels are
 * low-cardinality (route, provider, model, status class, outcome, variant, cache result), their values
 * limited to what the configuration names (metric-labels.ts).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { PoolObserver, PoolSnapshot } from '../providers/replica-pool-provider.js';
import type { BreakerState } from '../routing/circuit-breaker.js';
import type { MetricLabels } from './metric-labels.js';
import { isFailedRequest } from './request-failure.js';
import type { RequestOutcome } from './request-outcome.js';
import type { Usage } from './usage.js';

/** LLM calls take from milliseconds (cache, embeddings) to minutes (long generations). */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160];
/** Gateway overhead is measured in microseconds to milliseconds. */
const OVERHEAD_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1];

const BREAKER_STATE_VALUE: Record<BreakerState, number> = { closed: 0, half_open: 1, open: 2 };

/**
 * prom-client's totals of active handles, requests and resources are gauges named like counters, which
 * Prometheus tooling flags; the same numbers by type stay (nodejs_active_handles{type}, …).
 */
const MISNAMED_DEFAULT_GAUGES = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

export interface RequestMeasurements {
  upstreamSeconds: number | undefined;
  ttftSeconds: number | undefined;
  usage: Usage | undefined;
  /** USD; null when the model has no price. */
  costUsd: number | null;
}

/** Canary splits, read on every scrape. */
export interface CanaryGauges {
  weights(): Iterable<{ route: string; weight: number }>;
}

/** Replica pools, read on every scrape; priority class names label the shed counter. */
export interface FleetGauges {
  pools(): Iterable<PoolSnapshot>;
  priorityClasses: readonly string[];
}

/** Read on every scrape (so the hot path never updates them). */
export interface PipelineGauges {
  queueDepth(): number;
  spoolBytes(): number;
  sinkUp(): boolean;
}

export class GatewayMetrics implements PoolObserver {
  readonly registry = new Registry();

  private counter<L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  private histogram<L extends string>(name: string, help: string, labelNames: readonly L[], buckets: number[]): Histogram<L> {
    return new Histogram({ name, help, labelNames, buckets, registers: [this.registry] });
  }

  private readonly requests = this.counter('gateway_requests_total', 'Client requests on the proxy endpoints. outcome="failure": a 5xx, or a stream interrupted after it started (under a 2xx).', ['route', 'provider', 'model', 'status_class', 'outcome', 'variant', 'stream', 'cache'] as const);
  private readonly duration = this.histogram('gateway_request_duration_seconds', 'Time from request arrival to the end of the reply (the last byte, for streams).', ['route', 'status_class', 'stream'] as const, LATENCY_BUCKETS);
  private readonly upstreamDuration = this.histogram('gateway_upstream_duration_seconds', 'Time spent waiting on upstreams: from the first attempt to the end of the answer, retries and backoff included.', ['route', 'provider'] as const, LATENCY_BUCKETS);
  private readonly overhead = this.histogram('gateway_overhead_seconds', 'Time spent in the gateway itself: request duration minus upstream time.', ['route'] as const, OVERHEAD_BUCKETS);
  private readonly ttft = this.histogram('gateway_time_to_first_token_seconds', 'Streams: time from request arrival to the first chunk sent to the client.', ['route', 'provider', 'variant'] as const, LATENCY_BUCKETS);
  private readonly tokens = this.counter('gateway_tokens_total', 'Tokens consumed upstream (cache hits consume none), by direction.', ['route', 'model', 'type'] as const);
  private readonly estimatedUsage = this.counter('gateway_usage_estimated_total', 'Requests whose usage was counted with a tokenizer because the upstream reported none.', ['route', 'model'] as const);
  private readonly cost = this.counter('gateway_cost_usd_total', 'Spend in US dollars, from the pricing table.', ['route', 'model'] as const);
  private readonly unpriced = this.counter('gateway_unpriced_requests_total', 'Requests to a model with no price in the pricing table (their cost is unknown, not zero).', ['model'] as const);
  private readonly retries = this.counter('gateway_retries_total', 'Extra attempts on the same target after a transient failure.', ['route'] as const);
  private readonly fallbacks = this.counter('gateway_fallbacks_total', 'Moves from a failed target to the next one in the plan.', ['route'] as const);
  private readonly streamInterruptions = this.counter('gateway_stream_interruptions_total', 'Streams that broke after their first byte reached the client (ended with a stream_interrupted event).', ['route', 'provider'] as const);
  private readonly cacheResults = this.counter('gateway_cache_results_total', 'Cache results per proxy request: hit, miss or bypass.', ['route', 'result'] as const);
  private readonly cacheErrors = this.counter('gateway_cache_errors_total', 'Cache store operations that failed or timed out (the request was served without the cache).', ['store', 'op'] as const);
  private readonly circuitState = new Gauge({ name: 'gateway_circuit_state', help: 'Circuit breaker state per target: 0 closed, 1 half-open, 2 open.', labelNames: ['target'] as const, registers: [this.registry] });
  private readonly tracesWritten = this.counter('gateway_traces_written_total', 'Trace rows written to the trace store.', [] as const);
  private readonly tracesSpooled = this.counter('gateway_traces_spooled_total', 'Trace rows written to the disk spool because the store was failing or the queue full.', [] as const);
  private readonly tracesDropped = this.counter('gateway_traces_dropped_total', 'Trace rows lost: the spool over its disk budget or failing to write, or rows held for a trace worker past the queue bound or at shutdown.', [] as const);
  private readonly tracesQuarantined = this.counter('gateway_traces_quarantined_total', 'Trace rows the store refused for good, set aside in the spool directory\'s quarantine file.', [] as const);
  private readonly traceWorkerRestarts = this.counter('gateway_trace_worker_restarts_total', 'Trace worker threads started to replace one that died.', [] as const);
  private readonly traceWorkerErrors = this.counter('gateway_trace_worker_errors_total', 'Unhandled errors the trace worker caught and survived.', [] as const);
  private readonly logLinesDropped = this.counter('gateway_log_lines_dropped_total', 'Request log lines dropped because stdout was not taking them.', [] as const);

  private readonly shadowRequests = this.counter('gateway_shadow_requests_total', 'Shadow (mirrored) requests by result: completed, failed, dropped because the concurrency bound was reached, or abandoned at shutdown.', ['route', 'result'] as const);
  private readonly agreement = this.histogram('gateway_shadow_agreement_rouge_l', 'ROUGE-L F between shadow and primary answers.', ['route'] as const, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1]);
  private readonly guardrailVerdicts = this.counter('gateway_guardrail_verdicts_total', 'Guardrail verdicts: pass, flag, redact, deny, retry, fallback, or error (the check itself failed and its fail mode applied).', ['guardrail', 'verdict'] as const);
  private readonly canaryDecisions = this.counter('gateway_canary_decisions_total', 'Canary controller and operator decisions, by kind (promote, rollback, hold, pause, resume).', ['route', 'decision'] as const);

  private readonly replicaPicks = this.counter('gateway_replica_picks_total', 'Attempts sent to each replica of a pool, by the scheduler\'s reason (round-robin, least-busy, least-loaded, prefix, prefix-overloaded, forced).', ['provider', 'replica', 'reason'] as const);
  private readonly poolShed = this.counter('gateway_pool_shed_total', 'Requests a replica pool answered 429 overloaded (queue full, or no replica freed up in time), by priority class.', ['provider', 'priority'] as const);
  private readonly poolQueueWait = this.histogram('gateway_pool_queue_wait_seconds', 'Time requests waited in a replica pool\'s queue before a replica took them.', ['provider'] as const, LATENCY_BUCKETS);
  private priorityNames: readonly string[] = [];

  constructor(private readonly labels: MetricLabels, pipeline?: PipelineGauges, canaries?: CanaryGauges, fleet?: FleetGauges) {
    collectDefaultMetrics({ register: this.registry });
    for (const name of MISNAMED_DEFAULT_GAUGES) this.registry.removeSingleMetric(name);
    if (fleet) this.registerFleet(fleet);
    if (canaries) {
      new Gauge({
        name: 'gateway_canary_weight',
        help: 'Share of users (percent) a canary split sends to the canary.',
        labelNames: ['route'] as const,
        registers: [this.registry],
        collect() {
          for (const { route, weight } of canaries.weights()) this.set({ route }, weight);
        },
      });
    }
    if (pipeline) {
      new Gauge({ name: 'gateway_trace_queue_depth', help: 'Trace rows waiting in memory for the next batch.', registers: [this.registry], collect() { this.set(pipeline.queueDepth()); } });
      new Gauge({ name: 'gateway_trace_spool_bytes', help: 'Bytes of trace rows waiting on disk for the store to come back.', registers: [this.registry], collect() { this.set(pipeline.spoolBytes()); } });
      new Gauge({ name: 'gateway_trace_sink_up', help: '0 while the trace store is down (its last write or open failed; rows are being spooled), else 1 — also while it is not started yet (an idle gateway) or starting. /readyz has the state.', registers: [this.registry], collect() { this.set(pipeline.sinkUp() ? 1 : 0); } });
    }
  }

  /**
   * Per-replica gauges, rebuilt from the pools on each scrape so departed replicas disappear. Label
   * values come from configuration: provider names, replica addresses as listed, or `#slot` for
   * discovered replicas (bounded by the discovery's maxReplicas); anything else would be `other`.
   */
  private registerFleet(fleet: FleetGauges): void {
    this.priorityNames = fleet.priorityClasses;
    const { providers, replicas } = this.labels;
    const labels = ['provider', 'replica'] as const;
    const replicaGauge = (name: string, help: string, read: (replica: PoolSnapshot['replicas'][number]) => number | undefined): void => {
      new Gauge({
        name,
        help,
        labelNames: labels,
        registers: [this.registry],
        collect() {
          this.reset();
          for (const pool of fleet.pools()) {
            for (const replica of pool.replicas) {
              const value = read(replica);
              if (value !== undefined) this.set({ provider: providers.value(pool.provider), replica: replicas.value(replica.label) }, value);
            }
          }
        },
      });
    };
    replicaGauge('gateway_replica_in_flight', 'Requests this gateway has in flight on each replica.', (r) => r.inFlight);
    replicaGauge('gateway_replica_queue_depth', 'Requests waiting in each replica\'s engine queue (last fresh scrape, plus what was sent since).', (r) => r.waiting);
    replicaGauge('gateway_replica_running', 'Requests each replica\'s engine reports running (last fresh scrape).', (r) => r.running);
    replicaGauge('gateway_replica_kv_cache_usage_ratio', 'KV-cache utilisation each replica\'s engine reports, 0–1 (last fresh scrape).', (r) => r.kvUsage);
    replicaGauge('gateway_replica_load_score', 'The scheduler\'s least-loaded score of each replica (lower is preferred).', (r) => r.score);
    replicaGauge('gateway_replica_up', '1 while a replica takes requests (healthy, breaker not open), 0 otherwise.', (r) => (r.healthy && r.breaker !== 'open' ? 1 : 0));
    replicaGauge('gateway_replica_saturated', '1 while a replica is at its in-flight or engine-queue limit.', (r) => (r.saturated ? 1 : 0));
    replicaGauge('gateway_replica_metrics_fresh', '1 while the replica\'s engine metrics are fresh enough to schedule on, 0 when scheduling falls back to in-flight counts.', (r) => (r.metricsFresh ? 1 : 0));
    const poolGauge = (name: string, help: string, read: (pool: PoolSnapshot) => number): void => {
      new Gauge({
        name,
        help,
        labelNames: ['provider'] as const,
        registers: [this.registry],
        collect() {
          this.reset();
          for (const pool of fleet.pools()) this.set({ provider: providers.value(pool.provider) }, read(pool));
        },
      });
    };
    poolGauge('gateway_pool_replicas', 'Replicas in each pool (listed or discovered).', (pool) => pool.replicas.length);
    poolGauge('gateway_pool_available_replicas', 'Replicas of each pool taking new requests: healthy, breaker not open, not saturated.', (pool) => pool.replicas.filter((r) => r.healthy && r.breaker !== 'open' && !r.saturated).length);
    poolGauge('gateway_pool_replicas_dropped', 'Addresses in each discovered pool\'s latest DNS answer beyond discovery.maxReplicas: they get no traffic.', (pool) => pool.discovery?.dropped ?? 0);
    poolGauge('gateway_pool_queue_depth', 'Requests waiting in each pool\'s gateway queue for a replica.', (pool) => pool.queued);
  }

  replicaPicked(provider: string, replica: string, reason: string): void {
    this.replicaPicks.inc({ provider: this.labels.providers.value(provider), replica: this.labels.replicas.value(replica), reason });
  }

  requestShed(provider: string, priority: number): void {
    this.poolShed.inc({ provider: this.labels.providers.value(provider), priority: this.priorityNames[priority] ?? 'other' });
  }

  queueWaited(provider: string, seconds: number): void {
    this.poolQueueWait.observe({ provider: this.labels.providers.value(provider) }, seconds);
  }

  recordRequest(outcome: RequestOutcome, durationSeconds: number, measured: RequestMeasurements): void {
    const route = this.labels.routes.value(outcome.route);
    const model = this.labels.models.value(outcome.model);
    const provider = this.labels.providers.value(outcome.provider);
    const statusClass = `${Math.floor(outcome.status / 100)}xx`;
    const stream = outcome.stream ? 'true' : 'false';
    const cache = outcome.cache.toLowerCase();
    const result = isFailedRequest(outcome.status, outcome.errorCode) ? 'failure' : 'success';
    this.requests.inc({ route, provider, model, status_class: statusClass, outcome: result, variant: outcome.variant ?? 'none', stream, cache });
    this.duration.observe({ route, status_class: statusClass, stream }, durationSeconds);
    this.cacheResults.inc({ route, result: cache });
    if (measured.upstreamSeconds !== undefined) {
      this.upstreamDuration.observe({ route, provider }, measured.upstreamSeconds);
      this.overhead.observe({ route }, Math.max(0, durationSeconds - measured.upstreamSeconds));
    } else {
      this.overhead.observe({ route }, durationSeconds);
    }
    if (measured.ttftSeconds !== undefined) this.ttft.observe({ route, provider, variant: outcome.variant ?? 'none' }, measured.ttftSeconds);
    if (measured.usage) {
      this.tokens.inc({ route, model, type: 'input' }, measured.usage.inputTokens);
      this.tokens.inc({ route, model, type: 'output' }, measured.usage.outputTokens);
      if (measured.usage.estimated) this.estimatedUsage.inc({ route, model });
      if (measured.costUsd === null) this.unpriced.inc({ model });
      else if (measured.costUsd > 0) this.cost.inc({ route, model }, measured.costUsd);
    }
    if (outcome.retries > 0) this.retries.inc({ route }, outcome.retries);
    if (outcome.fallbacks > 0) this.fallbacks.inc({ route }, outcome.fallbacks);
    if (outcome.streamResult === 'interrupted') this.streamInterruptions.inc({ route, provider });
    if (outcome.guardrails) for (const v of outcome.guardrails) this.guardrailVerdicts.inc({ guardrail: v.guardrail, verdict: v.verdict });
  }

  countShadow(route: string, result: 'completed' | 'failed' | 'dropped' | 'abandoned'): void {
    this.shadowRequests.inc({ route: this.labels.routes.value(route), result });
  }

  observeAgreement(route: string, rougeL: number): void {
    this.agreement.observe({ route: this.labels.routes.value(route) }, rougeL);
  }

  countCanaryDecision(route: string, decision: string): void {
    this.canaryDecisions.inc({ route: this.labels.routes.value(route), decision });
  }

  countCacheError(store: string, op: string): void {
    this.cacheErrors.inc({ store, op });
  }

  setCircuitState(target: string, state: BreakerState): void {
    this.circuitState.set({ target: this.labels.targets.value(target) }, BREAKER_STATE_VALUE[state]);
  }

  tracesWrittenInc(count: number): void {
    this.tracesWritten.inc(count);
  }

  tracesSpooledInc(count: number): void {
    this.tracesSpooled.inc(count);
  }

  tracesDroppedInc(count: number): void {
    this.tracesDropped.inc(count);
  }

  tracesQuarantinedInc(count: number): void {
    this.tracesQuarantined.inc(count);
  }

  traceWorkerRestartsInc(): void {
    this.traceWorkerRestarts.inc();
  }

  traceWorkerErrorsInc(count: number): void {
    this.traceWorkerErrors.inc(count);
  }

  logLinesDroppedInc(count: number): void {
    this.logLinesDropped.inc(count);
  }
}
