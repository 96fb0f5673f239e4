/**
 * OpenTelemetry spans: one per client request and one per upstream attempt, with GenAI
 * semantic-convention attributes (gen_ai.system, gen_ai.request.model, gen_ai.usage.*). The W3C
 * traceparent a client sent is the parent; each attempt's context goes upstream as traceparent. Built
 * only when OTEL_EXPORTER_OTLP_ENDPOINT is set (OTLP/HTTP) or a test injects an exporter; otherwise no
 * span work happens at all.
 */
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, defaultTextMapGetter, defaultTextMapSetter, trace, type Attributes, type Span, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, SimpleSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';

/** Provider type → gen_ai.system value. */
const GEN_AI_SYSTEM: Record<string, string> = {
  openai: 'openai',
  'openai-compatible': 'openai',
  azure: 'az.ai.openai',
  anthropic: 'anthropic',
  gemini: 'gcp.gemini',
  mock: 'mock',
};

const OPERATION_NAME: Record<string, string> = { chat: 'chat', completions: 'text_completion', embeddings: 'embeddings' };

export function genAiSystem(providerType: string): string {
  return GEN_AI_SYSTEM[providerType] ?? providerType;
}

export interface AttemptSpan {
  /** The traceparent to send upstream for this attempt. */
  traceparent: string | undefined;
  end(error?: { code: string; status: number }): void;
}

export class Tracing {
  private readonly propagator = new W3CTraceContextPropagator();
  private readonly tracer: Tracer;

  constructor(private readonly provider: BasicTracerProvider) {
    this.tracer = provider.getTracer('llm-gateway');
  }

  /** With OTLP/HTTP export configured by the standard OTEL_* variables, or an injected exporter. */
  static create(env: NodeJS.ProcessEnv, exporter?: SpanExporter): Tracing {
    const processor = exporter ? new SimpleSpanProcessor(exporter) : new BatchSpanProcessor(new OTLPTraceExporter());
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': env.OTEL_SERVICE_NAME ?? 'llm-gateway' }),
      spanProcessors: [processor],
    });
    return new Tracing(provider);
  }

  startRequest(operation: string, requestedModel: string, traceparent: string | undefined, startTime: number): Span {
    const parent = traceparent ? this.propagator.extract(ROOT_CONTEXT, { traceparent }, defaultTextMapGetter) : ROOT_CONTEXT;
    return this.tracer.startSpan(
      `${OPERATION_NAME[operation] ?? operation} ${requestedModel}`,
      {
        kind: SpanKind.SERVER,
        startTime,
        attributes: { 'gen_ai.operation.name': OPERATION_NAME[operation] ?? operation, 'gen_ai.request.model': requestedModel },
      },
      parent,
    );
  }

  startAttempt(parent: Span, operation: string, providerType: string, providerName: string, model: string, attempt: number): AttemptSpan {
    const span = this.tracer.startSpan(
      `${OPERATION_NAME[operation] ?? operation} ${model}`,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          'gen_ai.operation.name': OPERATION_NAME[operation] ?? operation,
          'gen_ai.system': genAiSystem(providerType),
          'gen_ai.request.model': model,
          'gateway.provider': providerName,
          'gateway.attempt': attempt,
        },
      },
      trace.setSpan(ROOT_CONTEXT, parent),
    );
    const carrier: Record<string, string> = {};
    this.propagator.inject(trace.setSpan(ROOT_CONTEXT, span), carrier, defaultTextMapSetter);
    return {
      traceparent: carrier.traceparent,
      end(error) {
        if (error) {
          span.setAttributes({ 'error.type': error.code, 'http.response.status_code': error.status });
          span.setStatus({ code: SpanStatusCode.ERROR });
        }
        span.end();
      },
    };
  }

  endRequest(span: Span, attributes: Attributes, failed: boolean, endTimeMs: number): void {
    span.setAttributes(attributes);
    if (failed) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end(endTimeMs);
  }

  shutdown(): Promise<void> {
    return this.provider.shutdown();
  }
}
