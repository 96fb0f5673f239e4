/**
 * buildApp wires a Fastify instance from a validated config. It never listens: main.ts does, and tests
 * build their own app and close it. Everything decidable at start is decided here (which cache, which
 * trace sink, whether spans exist), so the request path carries no such checks.
 */
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import { asyncStdout } from './logger.js';
import type { CacheStore } from './cache/cache-store.js';
import { createResponseCache } from './cache/create-cache.js';
import type { ResponseCache } from './cache/response-cache.js';
import type { GatewayConfig } from './config/schema.js';
import { GatewayError } from './errors.js';
import { toGatewayError } from './http-errors.js';
import { createLoggerOptions } from './logger.js';
import type { RoutingRuntime } from './proxy/dispatch.js';
import { closeProviders, createProviderRegistry, type ProviderRegistry } from './providers/registry.js';
import { requestIdFrom } from './request-id.js';
import { ModelResolver } from './routing/model-resolver.js';
import { createRoutingRuntime } from './routing/routing-runtime.js';
import { registerExportRoute } from './routes/export-route.js';
import { registerFeedbackRoutes } from './routes/feedback-routes.js';
import { registerHealthRoutes, type Readiness } from './routes/health-routes.js';
import { registerMetricsRoute } from './routes/metrics-route.js';
import { registerModelsRoute } from './routes/models-route.js';
import { registerProxyRoutes, type ProxyRouteConfig } from './routes/proxy-routes.js';
import { GatewayMetrics } from './telemetry/metrics.js';
import { PriceTable } from './telemetry/pricing.js';
import { RequestRecorder } from './telemetry/request-recorder.js';
import { newOutcome, type RequestOutcome } from './telemetry/request-outcome.js';
import { TraceStore, createTraceSink } from './telemetry/trace-store.js';
import { loadTracing } from './telemetry/tracing-loader.js';
import type { TraceSink } from './telemetry/trace-sink.js';

export interface AppDeps {
  /** Providers to use instead of building them from config (tests inject fakes here). */
  providers?: ProviderRegistry;
  /** Random source for load balancing, jitter and unsticky canary assignment (tests fix a seed). */
  random?: () => number;
  /** Clock for circuit breakers (tests move time by hand). */
  now?: () => number;
  /** Cache store to use instead of the configured one. */
  cacheStore?: CacheStore;
  /** Trace sink to use instead of the configured one. */
  traceSink?: TraceSink;
  /** Span exporter (tests use an in-memory one); by default spans exist only when OTEL_EXPORTER_OTLP_ENDPOINT is set. */
  spanExporter?: SpanExporter;
  env?: NodeJS.ProcessEnv;
  /** Where log lines go (tests capture them); stdout by default. */
  logStream?: { write(line: string): void };
}

export interface GatewayApp extends FastifyInstance {
  readiness: Readiness;
  /** Runtime routing state: breakers, in-flight counts, canary splits (weights can change at run time). */
  gatewayRouting: RoutingRuntime & { canarySplits: ModelResolver['canarySplits'] };
  metrics: GatewayMetrics;
  cache: ResponseCache | undefined;
  traces: TraceStore | undefined;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set for proxy endpoints: what happened to the request, recorded once when it ends. */
    outcome: RequestOutcome | null;
  }
}

/**
 * Synchronous on purpose: a Fastify instance is thenable, so returning it from an async function would
 * start it. Anything that needs async setup hooks into `onReady`/`onClose` instead.
 */
export function buildApp(config: GatewayConfig, deps: AppDeps = {}): GatewayApp {
  const app = Fastify({
    logger: { ...createLoggerOptions(config.logging.level), stream: deps.logStream ?? asyncStdout() },
    // Per-request log lines are written by the gateway itself (one line, redacted), not by Fastify.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.server.bodyLimitBytes,
    genReqId: requestIdFrom,
    // No per-request child logger: gateway log lines carry reqId themselves, and a pino child per request
    // is measurable on the hot path.
    childLoggerFactory: (logger) => logger,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  });

  const sink = deps.traceSink ?? createTraceSink(config.telemetry);
  let metrics: GatewayMetrics | undefined;
  const traces = sink ? new TraceStore(sink, config.telemetry, () => metrics as GatewayMetrics, app.log) : undefined;
  metrics = new GatewayMetrics(
    traces && {
      queueDepth: () => traces.pipeline.queueDepth,
      spoolBytes: () => traces.pipeline.spool.sizeBytes,
      sinkUp: () => traces.ready && traces.pipeline.healthy,
    },
  );
  const recorder = new RequestRecorder({
    metrics,
    prices: new PriceTable(config.telemetry.pricing),
    config: config.telemetry,
    log: app.log,
    pipeline: traces?.pipeline,
  });

  const providers = deps.providers ?? createProviderRegistry(config);
  const resolver = new ModelResolver(config, providers);
  const readiness: Readiness = { draining: false };
  const runtime = createRoutingRuntime(config, {
    random: deps.random,
    now: deps.now,
    onBreakerChange: (target, state) => {
      metrics.setCircuitState(target, state);
      app.log.warn({ target, state }, 'circuit breaker changed state');
    },
  });
  const cache = createResponseCache(config, deps.cacheStore, metrics, app.log);

  // Clients (curl without -H, some SDKs) do not always send application/json: every body is JSON here.
  app.removeContentTypeParser(['text/plain']);
  app.addContentTypeParser('*', { parseAs: 'string' }, app.getDefaultJsonParser('error', 'error'));

  app.decorateRequest('outcome', null);
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    const operation = (request.routeOptions.config as Partial<ProxyRouteConfig>).operation;
    if (operation) {
      const outcome = newOutcome(request.id, operation, performance.now(), Date.now());
      const traceparent = request.headers.traceparent;
      if (typeof traceparent === 'string') outcome.traceparent = traceparent;
      request.outcome = outcome;
    }
    done();
  });
  // Proxy requests answered by Fastify's reply (JSON and every error) are recorded here, once sent.
  app.addHook('onResponse', (request, reply, done) => {
    const outcome = request.outcome;
    if (outcome && !outcome.hijacked) {
      outcome.status = reply.statusCode;
      recorder.finish(outcome);
    }
    done();
  });

  app.setErrorHandler((error, request, reply) => {
    const gatewayError = toGatewayError(error);
    if (request.outcome) request.outcome.errorCode = gatewayError.code;
    if (gatewayError.status >= 500) {
      request.log.warn({ code: gatewayError.code, status: gatewayError.status, err: error }, 'request failed');
    }
    if (gatewayError.retryAfterMs !== undefined) {
      reply.header('retry-after', String(Math.ceil(gatewayError.retryAfterMs / 1000)));
    }
    reply.code(gatewayError.status).send(gatewayError.toBody());
  });

  app.setNotFoundHandler((request, reply) => {
    const error = new GatewayError('route_not_found', `no such endpoint: ${request.method} ${request.url.split('?')[0]}`);
    reply.code(error.status).send(error.toBody());
  });

  registerHealthRoutes(app, readiness, traces);
  registerModelsRoute(app, resolver);
  registerMetricsRoute(app, metrics);
  registerFeedbackRoutes(app, traces, recorder);
  registerExportRoute(app, traces);
  registerProxyRoutes(app, { resolver, runtime, cache, recorder, defaultTimeoutMs: config.routing.timeoutMs, logBodies: config.telemetry.logBodies });

  app.addHook('onReady', async () => {
    runtime.health.start();
    recorder.tracing = await loadTracing(deps.env ?? process.env, deps.spanExporter);
    await traces?.open();
  });
  app.addHook('onClose', async () => {
    runtime.health.stop();
    // Providers first (in-flight upstream calls are done by now), then flush or spool what is queued.
    await Promise.all([closeProviders(providers), cache?.close()]);
    await traces?.close();
    await recorder.tracing?.shutdown();
  });

  return Object.assign(app, { readiness, metrics, cache, traces, gatewayRouting: { ...runtime, canarySplits: resolver.canarySplits } }) as unknown as GatewayApp;
}
