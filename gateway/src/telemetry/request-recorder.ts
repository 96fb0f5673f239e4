/**
 * Turns a finished request's outcome into everything that observes it: Prometheus metrics, the trace
 * row — handed to the trace worker, which stores it and writes the request's log line — and the
 * request span. Runs after the reply and never throws into the request path.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { SecretScrubber } from '../auth/secret-scrubber.js';
import type { GatewayMetrics } from './metrics.js';
import type { Attributes } from '@opentelemetry/api';
import { genAiOperationName, genAiProviderName } from './gen-ai-names.js';
import type { Tracing } from './otel.js';
import type { PriceTable } from './pricing.js';
import { redactedJson, redactText } from './redact.js';
import { isFailedRequest } from './request-failure.js';
import type { RequestOutcome } from './request-outcome.js';
import type { TelemetryConfig } from './telemetry-config.js';
import { policyColumns } from './policy-columns.js';
import { placementColumns, type TraceRow } from './trace-row.js';
import { answerText, estimateInputTokens, estimateOutputTokens, loadTokenizer, reportedUsage, tokenizerLoaded, type Usage } from './usage.js';

export interface RecorderDeps {
  metrics: GatewayMetrics;
  /** Logged bodies are scrubbed of the gateway's secrets as well as of secret-looking strings. */
  scrubber: SecretScrubber;
  prices: PriceTable;
  config: TelemetryConfig;
  log: FastifyBaseLogger;
  /** Where the row (and with it the request's log line) goes; undefined when neither is kept. */
  output: { record(row: TraceRow): void } | undefined;
  /** Rows reach a trace store (feedback can then name them). */
  stores: boolean;
}

/**
 * The longest `user` a trace row keeps. OpenAI's API puts no bound on it, so requests are not refused for
 * it; but one request's megabytes of `user` would otherwise be stored in its row even with bodies off.
 */
const MAX_STORED_USER_CHARS = 256;

export class RequestRecorder {
  /** Recently finished trace ids, so feedback can find a trace before it reaches the store. */
  readonly recentTraceIds = new Set<string>();

  /** Set once at start when tracing is on (the OpenTelemetry SDK is loaded only then). */
  tracing: Tracing | undefined;

  constructor(private readonly deps: RecorderDeps) {}

  /** Opens the request's span as the request arrives, so a request rejected before routing has one too. */
  begin(outcome: RequestOutcome, method: string, route: string, headers: Record<string, unknown>): void {
    if (this.tracing) outcome.span = this.tracing.startRequest(method, route, headers, outcome.startedAtMs);
  }

  finish(outcome: RequestOutcome): void {
    if (outcome.recorded) return;
    outcome.recorded = true;
    outcome.finishedAt = performance.now();
    if (this.needsEstimate(outcome) && !tokenizerLoaded()) {
      // The first estimate loads the tokenizer; recording waits for it, the reply never does.
      loadTokenizer().then(
        () => this.safeRecord(outcome),
        (error: unknown) => this.deps.log.error({ err: error }, 'tokenizer failed to load'),
      );
      return;
    }
    this.safeRecord(outcome);
  }

  private safeRecord(outcome: RequestOutcome): void {
    try {
      this.record(outcome);
    } catch (error) {
      this.deps.log.error({ err: error, reqId: outcome.traceId }, 'failed to record a request');
    }
  }

  /** A cache hit consumed no tokens (its row and metrics count none), so it is never estimated. */
  private needsEstimate(outcome: RequestOutcome): boolean {
    return (
      outcome.cache !== 'HIT' &&
      reportedUsage(outcome.reportedUsage ?? outcome.responseBody?.usage) === undefined &&
      outcome.canonicalBody !== undefined &&
      outcome.status > 0 &&
      outcome.status < 400
    );
  }

  private record(outcome: RequestOutcome): void {
    const { metrics, prices, config, output } = this.deps;
    const tracing = this.tracing;
    const now = outcome.finishedAt ?? performance.now();
    const latencyMs = now - outcome.startedAt;
    const upstreamMs =
      outcome.upstreamStartedAt !== undefined ? (outcome.upstreamEndedAt ?? now) - outcome.upstreamStartedAt : 0;
    const ttftMs = outcome.stream && outcome.firstChunkAt !== undefined ? outcome.firstChunkAt - outcome.startedAt : null;
    const usage = this.usageOf(outcome);
    const costModel = outcome.model ?? outcome.requestedModel ?? '';
    const cost = outcome.cache === 'HIT' ? 0 : usage ? prices.cost(costModel, usage.inputTokens, usage.outputTokens) : 0;

    outcome.onRecorded?.(usage, cost);
    metrics.recordRequest(outcome, latencyMs / 1000, {
      upstreamSeconds: outcome.upstreamStartedAt !== undefined ? upstreamMs / 1000 : undefined,
      ttftSeconds: ttftMs === null ? undefined : ttftMs / 1000,
      usage: outcome.cache === 'HIT' ? undefined : usage,
      costUsd: cost,
    });

    if (output) {
      output.record(this.traceRow(outcome, latencyMs, upstreamMs, ttftMs, usage, cost, config));
      if (this.deps.stores) this.remember(outcome.traceId);
    }
    if (tracing && outcome.span) {
      tracing.endRequest(outcome.span, spanAttributes(outcome, usage, ttftMs), isFailedRequest(outcome.status, outcome.errorCode), outcome.startedAtMs + latencyMs);
    }
  }

  /** Usage as reported; otherwise estimated from the request and the answer's text. */
  private usageOf(outcome: RequestOutcome): Usage | undefined {
    const reported = reportedUsage(outcome.reportedUsage ?? outcome.responseBody?.usage);
    if (reported) return reported;
    if (!this.needsEstimate(outcome) || !outcome.canonicalBody) return undefined;
    const text = outcome.stream ? outcome.streamText : outcome.responseBody ? (outcome.textOf ?? answerText)(outcome.responseBody) : '';
    return { inputTokens: estimateInputTokens(outcome.canonicalBody), outputTokens: estimateOutputTokens(text), estimated: true };
  }

  private traceRow(
    outcome: RequestOutcome,
    latencyMs: number,
    upstreamMs: number,
    ttftMs: number | null,
    usage: Usage | undefined,
    cost: number | null,
    config: TelemetryConfig,
  ): TraceRow {
    const metadata = outcome.metadata ?? {};
    let requestBody = '';
    let responseBody = '';
    if (config.logBodies) {
      if (outcome.requestBody) requestBody = redactedJson(this.deps.scrubber.value(outcome.requestBody), config.maxBodyBytes);
      const answer = outcome.responseBody;
      if (answer && outcome.status < 400 && outcome.streamResult !== 'interrupted') responseBody = redactedJson(this.deps.scrubber.value(answer), config.maxBodyBytes);
    }
    return {
      trace_id: outcome.traceId,
      client_request_id: this.clientText(outcome.clientRequestId),
      ts_ms: outcome.startedAtMs,
      key_id: outcome.keyId,
      route: this.clientText(outcome.route ?? ''),
      operation: outcome.operation,
      provider: outcome.provider ?? '',
      model: this.clientText(outcome.model ?? ''),
      requested_model: this.clientText(outcome.requestedModel ?? ''),
      variant: outcome.variant ?? '',
      stream: outcome.stream ? 1 : 0,
      status: outcome.status,
      error_code: outcome.errorCode ?? '',
      latency_ms: round(latencyMs),
      upstream_ms: round(upstreamMs),
      ttft_ms: ttftMs === null ? null : round(ttftMs),
      attempts: outcome.attempts,
      retries: outcome.retries,
      fallbacks: outcome.fallbacks,
      cache: outcome.cache,
      input_tokens: outcome.cache === 'HIT' ? 0 : (usage?.inputTokens ?? 0),
      output_tokens: outcome.cache === 'HIT' ? 0 : (usage?.outputTokens ?? 0),
      usage_estimated: usage?.estimated ? 1 : 0,
      cost_usd: cost,
      user: this.clientText(outcome.user.length > MAX_STORED_USER_CHARS ? outcome.user.slice(0, MAX_STORED_USER_CHARS) : outcome.user),
      metadata_keys: Object.keys(metadata),
      metadata_values: Object.values(metadata),
      request_body: requestBody,
      response_body: responseBody,
      ...placementColumns(outcome.placement),
      ...policyColumns(outcome.branch, outcome.guardrails),
    };
  }

  /**
   * A string the client chose that is stored and logged whatever `logBodies` says — its request id, the
   * model it named (and, under `provider/model` addressing, the route and target model, which are that
   * name), its user — with anything that looks like a credential, or is a secret the gateway
   * holds, replaced, as in logged bodies: a client that puts a key where an id goes must not have it
   * kept in every trace and log line.
   */
  private clientText(text: string): string {
    return text === '' ? text : this.deps.scrubber.text(redactText(text));
  }

  private remember(traceId: string): void {
    this.recentTraceIds.add(traceId);
    if (this.recentTraceIds.size > 50_000) {
      // Sets iterate in insertion order: drop the oldest half.
      let drop = 25_000;
      for (const id of this.recentTraceIds) {
        this.recentTraceIds.delete(id);
        if (--drop === 0) break;
      }
    }
  }
}

/**
 * The request span's closing attributes: the HTTP outcome, what was asked and what answered (GenAI
 * conventions), and the gateway's own facts. Per the HTTP conventions a 4xx is the client's error, not
 * the server's: only a 5xx or a stream cut short marks the span failed and sets error.type.
 */
function spanAttributes(outcome: RequestOutcome, usage: Usage | undefined, ttftMs: number | null): Attributes {
  const attributes: Attributes = {
    'http.response.status_code': outcome.status,
    'gen_ai.operation.name': genAiOperationName(outcome.operation),
    'gateway.cache': outcome.cache,
    'gateway.attempts': outcome.attempts,
  };
  if (outcome.requestedModel !== undefined) attributes['gen_ai.request.model'] = redactText(outcome.requestedModel);
  if (outcome.stream) attributes['gen_ai.request.stream'] = true;
  if (outcome.route) attributes['gateway.route'] = outcome.route;
  if (outcome.provider) attributes['gateway.provider'] = outcome.provider;
  if (outcome.providerType) attributes['gen_ai.provider.name'] = genAiProviderName(outcome.providerType);
  if (outcome.model) attributes['gen_ai.response.model'] = outcome.model;
  if (outcome.variant) attributes['gateway.variant'] = outcome.variant;
  if (ttftMs !== null) attributes['gen_ai.response.time_to_first_chunk'] = ttftMs / 1000;
  if (usage && outcome.cache !== 'HIT') {
    attributes['gen_ai.usage.input_tokens'] = usage.inputTokens;
    attributes['gen_ai.usage.output_tokens'] = usage.outputTokens;
    if (usage.estimated) attributes['gateway.usage.estimated'] = true;
  }
  if (outcome.errorCode) {
    attributes['gateway.error.code'] = outcome.errorCode;
    if (outcome.status >= 500 || outcome.streamResult === 'interrupted') attributes['error.type'] = outcome.errorCode;
  }
  return attributes;
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
