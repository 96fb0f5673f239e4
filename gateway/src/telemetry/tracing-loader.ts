/**
 * Decides at start whether spans exist, and loads the OpenTelemetry SDK only if they do: with tracing
 * off nothing of it is imported and the request path does no span work.
 *
 * Tracing is on when a trace exporter is configured — OTEL_EXPORTER_OTLP_ENDPOINT,
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or OTEL_TRACES_EXPORTER naming one (`otlp`, `console`) — or a test
 * injects an exporter. OTEL_SDK_DISABLED=true and OTEL_TRACES_EXPORTER=none turn it off whatever else is
 * set. (The SDK alone would export to localhost:4318 by default; a gateway without a collector should
 * not spend work on spans nobody receives.)
 */
import type { SpanExporter } from '@opentelemetry/sdk-trace';
import type { Tracing } from './otel.js';

export function tracingConfigured(env: NodeJS.ProcessEnv, exporter: SpanExporter | undefined): boolean {
  if (exporter !== undefined) return true;
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return false;
  const exporters = (env.OTEL_TRACES_EXPORTER ?? '').split(',').map((name) => name.trim().toLowerCase()).filter(Boolean);
  if (exporters.includes('none')) return false;
  return exporters.length > 0 || Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim());
}

export async function loadTracing(env: NodeJS.ProcessEnv, exporter: SpanExporter | undefined): Promise<Tracing | undefined> {
  if (!tracingConfigured(env, exporter)) return undefined;
  const { Tracing } = await import('./otel.js');
  return Tracing.start(exporter);
}
