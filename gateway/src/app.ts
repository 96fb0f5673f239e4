/**
 * buildApp wires a Fastify instance from a validated config. It never listens: main.ts does, and tests
 * build their own app and close it.
 */
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { GatewayConfig } from './config/schema.js';
import { GatewayError } from './errors.js';
import { toGatewayError } from './http-errors.js';
import { closeProviders, createProviderRegistry, type ProviderRegistry } from './providers/registry.js';
import { requestIdFrom } from './request-id.js';
import { ModelResolver } from './routing/model-resolver.js';
import { registerHealthRoutes, type Readiness } from './routes/health-routes.js';
import { registerModelsRoute } from './routes/models-route.js';
import { registerProxyRoutes, type ProxyRouteConfig } from './routes/proxy-routes.js';
import { registerMetricsRoute } from './routes/metrics-route.js';
import { GatewayMetrics } from './telemetry/metrics.js';
import type { CacheStore } from './cache/cache-store.js';
import { createCacheStore } from './cache/create-cache.js';
import { ResponseCache } from './cache/response-cache.js';
import { ThrottledLog } from './telemetry/throttled-log.js';
import type { FastifyBaseLogger } from 'fastify';
import { newOutcome, type RequestOutcome } from './telemetry/request-outcome.js';
import { createLoggerOptions } from './logger.js';
import type { RoutingRuntime } from './proxy/dispatch.js';
import { BreakerRegistry } from './routing/circuit-breaker.js';
import { InFlightTracker } from './routing/in-flight.js';
import { ProviderHealth } from './routing/provider-health.js';

export interface AppDeps {
  /** Providers to use instead of building them from config (tests inject fakes here). */
  providers?: ProviderRegistry;
  /** Random source for load balancing, jitter and unsticky canary assignment (tests fix a seed). */
  random?: () => number;
  /** Clock for circuit breakers (tests move time by hand). */
  now?: () => number;
  /** Cache store to use instead of the configured one. */
  cacheStore?: CacheStore;
}

export interface GatewayApp extends FastifyInstance {
  readiness: Readiness;
  /** Runtime routing state: breakers, in-flight counts, canary splits (weights can change at run time). */
  gatewayRouting: RoutingRuntime & { canarySplits: ModelResolver['canarySplits'] };
  metrics: GatewayMetrics;
  cache: ResponseCache | undefined;
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
    logger: createLoggerOptions(config.logging.level),
    // Per-request log lines are written by the gateway itself (one line, redacted), not by Fastify.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.server.bodyLimitBytes,
    genReqId: requestIdFrom,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  });

  const providers = deps.providers ?? createProviderRegistry(config);
  const resolver = new ModelResolver(config, providers);
  const readiness: Readiness = { draining: false };
  const metrics = new GatewayMetrics();
  const recordOutcome = (outcome: RequestOutcome): void => {
    if (outcome.recorded) return;
    outcome.recorded = true;
    metrics.recordRequest(outcome, (performance.now() - outcome.startedAt) / 1000);
  };
  const health = new ProviderHealth(config);
  const runtime: RoutingRuntime = {
    random: deps.random ?? Math.random,
    breakers: new BreakerRegistry(config.routing.breaker, deps.now ?? Date.now, (key, state) => {
      metrics.setCircuitState(key, state);
      app.log.warn({ target: key, state }, 'circuit breaker changed state');
    }),
    inFlight: new InFlightTracker(),
    health,
    retryDefaults: config.routing.retry,
  };

  // Clients (curl without -H, some SDKs) do not always send application/json: every body is JSON here.
  app.removeContentTypeParser(['text/plain']);
  app.addContentTypeParser('*', { parseAs: 'string' }, app.getDefaultJsonParser('error', 'error'));

  app.decorateRequest('outcome', null);
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    const operation = (request.routeOptions.config as Partial<ProxyRouteConfig>).operation;
    if (operation) request.outcome = newOutcome(request.id, operation, performance.now());
    done();
  });
  // Proxy requests answered by Fastify's reply (JSON and every error) are recorded here, once sent.
  app.addHook('onResponse', (request, reply, done) => {
    const outcome = request.outcome;
    if (outcome && !outcome.hijacked) {
      outcome.status = reply.statusCode;
      recordOutcome(outcome);
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

  registerHealthRoutes(app, readiness);
  registerModelsRoute(app, resolver);
  registerMetricsRoute(app, metrics);
  const cache = createResponseCache(config, deps.cacheStore, metrics, app.log);
  registerProxyRoutes(app, { resolver, runtime, cache, defaultTimeoutMs: config.routing.timeoutMs, recordOutcome });

  app.addHook('onReady', async () => {
    health.start();
  });
  app.addHook('onClose', async () => {
    health.stop();
    await Promise.all([closeProviders(providers), cache?.close()]);
  });

  return Object.assign(app, { readiness, metrics, cache, gatewayRouting: { ...runtime, canarySplits: resolver.canarySplits } }) as unknown as GatewayApp;
}

/** The response cache, or undefined when no route can use it (then requests skip the cache step). */
function createResponseCache(
  config: GatewayConfig,
  injected: CacheStore | undefined,
  metrics: GatewayMetrics,
  log: FastifyBaseLogger,
): ResponseCache | undefined {
  const anyRouteCaches = config.cache.enabled || Object.values(config.routes).some((route) => route.cache?.enabled === true);
  if (!anyRouteCaches) return undefined;
  const store = injected ?? createCacheStore(config.cache);
  let lastError: unknown;
  const throttled = new ThrottledLog(30_000, (suppressed) => {
    log.warn({ store: store.kind, err: lastError, suppressed }, 'cache store failing; serving uncached');
  });
  return new ResponseCache(store, {
    error(op, error) {
      metrics.countCacheError(store.kind, op);
      lastError = error;
      throttled.hit();
    },
  });
}
