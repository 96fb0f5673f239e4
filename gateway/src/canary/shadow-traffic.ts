/**
 * Shadow traffic: a share of a route's successful requests is sent again, in the background, to a
 * shadow target. Its answer is never returned and never slows the primary: it starts after the primary
 * reply, concurrency is bounded, and a mirror that would exceed the bound is dropped (and counted). The
 * shadow answer is scored against the primary with ROUGE-L and BLEU and traced as its own row
 * (variant `shadow`), linked to the primary by `shadow_of` and carrying the scores as tags.
 *
 * A shadow call has its own deadline (the route's `shadow.timeoutMs`), and `close()` abandons the ones
 * still running: a shadow target that never answers must not hold shutdown (and with it the final
 * trace flush) until the orchestrator kills the process.
 */
import { randomUUID } from 'node:crypto';
import { isGatewayError } from '../errors.js';
import type { JsonObject, Operation } from '../providers/types.js';
import type { CompiledRoute } from '../routing/route-tree.js';
import type { GatewayMetrics } from '../telemetry/metrics.js';
import type { PriceTable } from '../telemetry/pricing.js';
import { policyColumns } from '../telemetry/policy-columns.js';
import { placementColumns, type TraceRow } from '../telemetry/trace-row.js';
import { answerText, reportedUsage } from '../telemetry/usage.js';
import { bleu, rougeL } from './text-agreement.js';

export interface PrimaryAnswer {
  traceId: string;
  text: string;
  variant: string | undefined;
  keyId: string;
  user: string;
}

export interface ShadowDeps {
  random: () => number;
  metrics: GatewayMetrics;
  prices: PriceTable;
  record: ((row: TraceRow) => void) | undefined;
}

export class ShadowTraffic {
  private readonly inFlight = new Map<string, number>();
  private readonly running = new Set<Promise<void>>();
  /** Aborted at shutdown: every shadow call still running is abandoned. */
  private readonly shutdown = new AbortController();

  constructor(private readonly deps: ShadowDeps) {}

  /** Called once a primary answer is complete; returns at once. */
  maybeMirror(route: CompiledRoute, operation: Operation, body: JsonObject, primary: PrimaryAnswer): void {
    const shadow = route.shadow;
    if (!shadow || operation === 'embeddings' || this.shutdown.signal.aborted || this.deps.random() >= shadow.fraction) return;
    const running = this.inFlight.get(route.name) ?? 0;
    if (running >= shadow.maxConcurrent) {
      this.deps.metrics.countShadow(route.name, 'dropped');
      return;
    }
    this.inFlight.set(route.name, running + 1);
    // After the current turn: the primary reply is on its way before any shadow work starts.
    const task: Promise<void> = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => (this.shutdown.signal.aborted ? undefined : this.run(route, operation, body, primary)))
      .catch(() => undefined)
      .finally(() => {
        this.inFlight.set(route.name, (this.inFlight.get(route.name) ?? 1) - 1);
        this.running.delete(task);
      });
    this.running.add(task);
  }

  /** Stops mirroring and abandons the shadow calls still running (they are counted, not traced). */
  async close(): Promise<void> {
    this.shutdown.abort();
    await Promise.allSettled([...this.running]);
  }

  private async run(route: CompiledRoute, operation: Operation, body: JsonObject, primary: PrimaryAnswer): Promise<void> {
    const { target } = route.shadow!;
    const traceId = randomUUID();
    const startedAtMs = Date.now();
    const started = performance.now();
    const { stream: _stream, stream_options: _options, ...rest } = body;
    let status = 200;
    let errorCode = '';
    let text = '';
    let usage: ReturnType<typeof reportedUsage>;
    try {
      const reply = await target.provider.send({
        operation,
        model: target.model,
        body: { ...rest, model: target.model },
        stream: false,
        requestId: traceId,
        signal: AbortSignal.any([AbortSignal.timeout(route.shadow!.timeoutMs), this.shutdown.signal]),
        deadlineAt: Date.now() + route.shadow!.timeoutMs,
        // Mirrors never matter to a user: in a replica pool's queue they come last and are shed first.
        priority: Number.MAX_SAFE_INTEGER,
      });
      if (reply.kind === 'json') {
        text = answerText(reply.body);
        usage = reportedUsage(reply.body.usage);
      }
      this.deps.metrics.countShadow(route.name, 'completed');
    } catch (error) {
      if (this.shutdown.signal.aborted) {
        this.deps.metrics.countShadow(route.name, 'abandoned');
        return;
      }
      status = isGatewayError(error) ? error.status : 500;
      errorCode = isGatewayError(error) ? error.code : 'internal_error';
      this.deps.metrics.countShadow(route.name, 'failed');
    }
    const latencyMs = performance.now() - started;
    const tags: Record<string, string> = { shadow_of: primary.traceId, primary_variant: primary.variant ?? '' };
    if (status === 200) {
      const rouge = rougeL(primary.text, text).f;
      tags.agreement_rouge_l = rouge.toFixed(6);
      tags.agreement_bleu = bleu(primary.text, text).toFixed(6);
      this.deps.metrics.observeAgreement(route.name, rouge);
    }
    this.deps.record?.({
      trace_id: traceId,
      client_request_id: '',
      ts_ms: startedAtMs,
      key_id: primary.keyId,
      route: route.name,
      operation,
      provider: target.provider.name,
      model: target.model,
      requested_model: route.name,
      variant: 'shadow',
      stream: 0,
      status,
      error_code: errorCode,
      latency_ms: Math.round(latencyMs * 1000) / 1000,
      upstream_ms: Math.round(latencyMs * 1000) / 1000,
      ttft_ms: null,
      attempts: 1,
      retries: 0,
      fallbacks: 0,
      cache: 'BYPASS',
      input_tokens: usage?.inputTokens ?? 0,
      output_tokens: usage?.outputTokens ?? 0,
      usage_estimated: 0,
      cost_usd: usage ? this.deps.prices.cost(target.model, usage.inputTokens, usage.outputTokens) : 0,
      user: primary.user,
      metadata_keys: Object.keys(tags),
      metadata_values: Object.values(tags),
      request_body: '',
      response_body: '',
      ...policyColumns(undefined, undefined),
      ...placementColumns(undefined),
    });
  }
}
