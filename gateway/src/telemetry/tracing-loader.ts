/**
 * Loads OpenTelemetry only when it is configured (OTEL_EXPORTER_OTLP_ENDPOINT or
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or an exporter a test injects). Otherwise the SDK is never
 * imported and no span work happens.
 */
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { Tracing } from './otel.js';

export function tracingConfigured(env: NodeJS.ProcessEnv, exporter: SpanExporter | undefined): boolean {
  return exporter !== undefined || Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

export async function loadTracing(env: NodeJS.ProcessEnv, exporter: SpanExporter | undefined): Promise<Tracing | undefined> {
  if (!tracingConfigured(env, exporter)) return undefined;
  const { Tracing } = await import('./otel.js');
  return Tracing.create(env, exporter);
}
