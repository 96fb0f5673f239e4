/**
 * OpenTelemetry spans, set up by @opentelemetry/sdk-node from the standard OTEL_* variables (exporter,
 * endpoints, headers, protocol, sampler, resource, propagators, batch and limit settings). Two kinds:
 *
 * - a SERVER span per request to a proxy endpoint, named and attributed by the HTTP server conventions
 *   (`POST /v1/chat/completions`, http.*), with what the client asked for and what answered (gen_ai.*)
 *   and the gateway's own facts (gateway.*). Every such request has one, a rejected one included.
 * - a CLIENT span per upstream attempt: the GenAI inference span (`chat gpt-4o-mini`) with
 *   gen_ai.provider.name, the request's parameters, the response's model, id, finish reasons and
 *   usage, and server.address/server.port of the upstream.
 *
 * The client's trace context (any propagator in OTEL_PROPAGATORS, W3C traceparent by default) is the
 * parent; each attempt's context goes upstream in the same headers. This module is imported only when
 * tracing is on (tracing-loader.ts), so with tracing off none of the SDK is loaded.
 */
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, propagation, trace, type Attributes, type Context, type Span, type Tracer } from '@opentelemetry/api';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { startNodeSdk } from '@opentelemetry/sdk-node';
import { SimpleSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace';
import type { JsonObject } from '../providers/types.js';
import { genAiOperationName, genAiProviderName } from './gen-ai-names.js';
import { reportedUsage } from './usage.js';

/** Request parameters recorded on inference spans (gen_ai.request.*), by their OpenAI body field. */
const REQUEST_PARAMETERS: [field: string, attribute: string][] = [
  ['max_completion_tokens', 'gen_ai.request.max_tokens'],
  ['max_tokens', 'gen_ai.request.max_tokens'],
  ['temperature', 'gen_ai.request.temperature'],
  ['top_p', 'gen_ai.request.top_p'],
  ['frequency_penalty', 'gen_ai.request.frequency_penalty'],
  ['presence_penalty', 'gen_ai.request.presence_penalty'],
  ['seed', 'gen_ai.request.seed'],
  ['reasoning_effort', 'gen_ai.request.reasoning.level'],
];

/** The span of one client request and the context its attempts are children of (baggage included). */
export interface RequestSpan {
  span: Span;
  context: Context;
}

export interface AttemptSpan {
  /** Trace-context headers for this attempt's upstream request. */
  readonly headers: Record<string, string>;
  /** A JSON answer, or each chunk of a streamed one. */
  observe(answer: JsonObject): void;
  /** With the gateway's error code when the attempt failed. */
  end(errorCode?: string): void;
}

export interface AttemptDescription {
  operation: string;
  providerType: string;
  providerName: string;
  /** Where the provider sends requests (HTTP providers). */
  baseUrl: string | undefined;
  model: string;
  stream: boolean;
  body: JsonObject;
  attempt: number;
}

export class Tracing {
  /** server.address/server.port per base URL, parsed once. */
  private readonly servers = new Map<string, Attributes>();

  private constructor(
    private readonly tracer: Tracer,
    private readonly sdk: { shutdown(): Promise<void> },
  ) {}

  /**
   * Starts the SDK from the environment. Only spans are produced: metrics are Prometheus's and logs
   * are pino's, so no OTLP metric or log pipeline is set up. `service.name` defaults to llm-gateway;
   * OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override it. A test may inject an exporter.
   */
  static start(exporter?: SpanExporter): Tracing {
    const sdk = startNodeSdk({
      baseResource: defaultResource().merge(resourceFromAttributes({ 'service.name': 'llm-gateway' })),
      metricReaders: [],
      logRecordProcessors: [],
      ...(exporter ? { spanProcessors: [new SimpleSpanProcessor({ exporter })] } : {}),
    });
    return new Tracing(trace.getTracer('llm-gateway'), sdk);
  }

  startRequest(method: string, route: string, headers: Record<string, unknown>, startTime: number): RequestSpan {
    const parent = propagation.extract(ROOT_CONTEXT, headers);
    const span = this.tracer.startSpan(
      `${method} ${route}`,
      {
        kind: SpanKind.SERVER,
        startTime,
        attributes: { 'http.request.method': method, 'http.route': route, 'url.path': route, 'url.scheme': 'http' },
      },
      parent,
    );
    return { span, context: trace.setSpan(parent, span) };
  }

  startAttempt(parent: RequestSpan, call: AttemptDescription): AttemptSpan {
    const operation = genAiOperationName(call.operation);
    const attributes: Attributes = {
      'gen_ai.operation.name': operation,
      'gen_ai.provider.name': genAiProviderName(call.providerType),
      'gen_ai.request.model': call.model,
      'gateway.provider': call.providerName,
      'gateway.attempt': call.attempt,
      ...(call.baseUrl ? this.server(call.baseUrl) : {}),
    };
    if (call.stream) attributes['gen_ai.request.stream'] = true;
    for (const [field, attribute] of REQUEST_PARAMETERS) {
      const value = call.body[field];
      if (typeof value === 'number' || typeof value === 'string') attributes[attribute] = value;
    }
    const stop = call.body.stop;
    if (typeof stop === 'string') attributes['gen_ai.request.stop_sequences'] = [stop];
    else if (Array.isArray(stop) && stop.every((s) => typeof s === 'string')) attributes['gen_ai.request.stop_sequences'] = stop as string[];
    if (typeof call.body.n === 'number' && call.body.n !== 1) attributes['gen_ai.request.choice.count'] = call.body.n;

    const span = this.tracer.startSpan(`${operation} ${call.model}`, { kind: SpanKind.CLIENT, attributes }, parent.context);
    const headers: Record<string, string> = {};
    propagation.inject(trace.setSpan(parent.context, span), headers);
    return new InferenceSpan(span, headers);
  }

  endRequest(request: RequestSpan, attributes: Attributes, failed: boolean, endTimeMs: number): void {
    request.span.setAttributes(attributes);
    if (failed) request.span.setStatus({ code: SpanStatusCode.ERROR });
    request.span.end(endTimeMs);
  }

  /** Flushes what is queued, then unregisters the SDK's globals so a later start can register again. */
  async shutdown(): Promise<void> {
    await this.sdk.shutdown();
    trace.disable();
    propagation.disable();
    context.disable();
  }

  private server(baseUrl: string): Attributes {
    let attributes = this.servers.get(baseUrl);
    if (!attributes) {
      const url = new URL(baseUrl);
      const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
      attributes = { 'server.address': url.hostname.replace(/^\[|\]$/g, ''), 'server.port': port };
      this.servers.set(baseUrl, attributes);
    }
    return attributes;
  }
}

/** One upstream attempt: collects what the answer says about itself until the attempt ends. */
class InferenceSpan implements AttemptSpan {
  private responseModel: string | undefined;
  private responseId: string | undefined;
  private usage: unknown;
  /** Finish reason per choice index; null until the choice has finished. */
  private readonly finishReasons: (string | null)[] = [];

  constructor(
    private readonly span: Span,
    readonly headers: Record<string, string>,
  ) {}

  observe(answer: JsonObject): void {
    if (typeof answer.model === 'string' && answer.model) this.responseModel = answer.model;
    if (typeof answer.id === 'string' && answer.id) this.responseId ??= answer.id;
    if (answer.usage) this.usage = answer.usage;
    if (!Array.isArray(answer.choices)) return;
    for (const choice of answer.choices as JsonObject[]) {
      const index = typeof choice?.index === 'number' ? choice.index : 0;
      while (this.finishReasons.length <= index) this.finishReasons.push(null);
      if (typeof choice.finish_reason === 'string') this.finishReasons[index] = choice.finish_reason;
    }
  }

  end(errorCode?: string): void {
    const attributes: Attributes = {};
    if (this.responseModel) attributes['gen_ai.response.model'] = this.responseModel;
    if (this.responseId) attributes['gen_ai.response.id'] = this.responseId;
    // A choice that never finished (failed, cancelled, cut off) is reported as `error`, as the conventions ask.
    if (this.finishReasons.length > 0) attributes['gen_ai.response.finish_reasons'] = this.finishReasons.map((reason) => reason ?? 'error');
    const usage = reportedUsage(this.usage);
    if (usage) {
      attributes['gen_ai.usage.input_tokens'] = usage.inputTokens;
      attributes['gen_ai.usage.output_tokens'] = usage.outputTokens;
      const details = this.usage as { prompt_tokens_details?: { cached_tokens?: unknown }; completion_tokens_details?: { reasoning_tokens?: unknown } };
      const cached = details.prompt_tokens_details?.cached_tokens;
      const reasoning = details.completion_tokens_details?.reasoning_tokens;
      if (typeof cached === 'number') attributes['gen_ai.usage.cache_read.input_tokens'] = cached;
      if (typeof reasoning === 'number') attributes['gen_ai.usage.reasoning.output_tokens'] = reasoning;
    }
    if (errorCode) {
      attributes['error.type'] = errorCode;
      this.span.setStatus({ code: SpanStatusCode.ERROR });
    }
    this.span.setAttributes(attributes);
    this.span.end();
  }
}
