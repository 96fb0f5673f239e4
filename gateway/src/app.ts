/**
 * buildApp wires a Fastify instance from a validated config. It never listens: main.ts does, and tests
 * build their own app and close it. Everything decidable at start is decided here (which cache, which
 * trace sink, whether spans exist), so the request path carries no such checks.
 */
import type { SpanExporter } from '@opentelemetry/sdk-trace';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { CacheStore } from './cache/cache-store.js';
import { createResponseCache } from './cache/create-cache.js';
import type { ResponseCache } from './cache/response-cache.js';
import type { GatewayConfig } from './config/schema.js';
import { GatewayError } from './errors.js';
import { toGatewayError } from './http-errors.js';
import { createLoggerOptions, LogOutput, loggableError, logsAt } from './logger.js';
import { isSkipped, type RoutingRuntime } from './proxy/dispatch.js';
import { closeProviders, createProviderRegistry, replicaPools, startProviders, type ProviderRegistry } from './providers/registry.js';
import type { AddressResolver } from './upstream/replica-discovery.js';
import { registerFleetRoute } from './routes/fleet-route.js';
import { clientRequestIdOf, newTraceId } from './request-id.js';
import { GuardrailSet } from './policy/compile-guardrails.js';
import { ModelResolver } from './routing/model-resolver.js';
import { createRoutingRuntime } from './routing/routing-runtime.js';
import { registerExportRoute } from './routes/export-route.js';
import { registerDashboardApi } from './routes/dashboard-api.js';
import { registerDashboardRoute } from './routes/dashboard-route.js';
import { createCanaryController } from './canary/create-canary-controller.js';
import type { CanaryController } from './canary/canary-controller.js';
import { registerCanaryAdminRoutes } from './routes/canary-admin-routes.js';
import { ShadowTraffic } from './canary/shadow-traffic.js';
import { registerFeedbackRoutes } from './routes/feedback-routes.js';
import { registerHealthRoutes, type Readiness } from './routes/health-routes.js';
import { registerMetricsRoute } from './routes/metrics-route.js';
import { registerModelsRoute } from './routes/models-route.js';
import { registerProxyRoutes, type ProxyRouteConfig } from './routes/proxy-routes.js';
import { registerCountTokensRoute } from './routes/count-tokens-route.js';
import { chatDialect } from './inbound/chat-dialect.js';
import { completionsDialect } from './inbound/completions-dialect.js';
import { embeddingsDialect } from './inbound/embeddings-dialect.js';
import { messagesDialect } from './inbound/messages-dialect.js';
import { createResponsesDialect } from './inbound/responses-dialect.js';
import { registerResponsesRoutes } from './routes/responses-routes.js';
import { createConversationStore } from './state/create-conversation-store.js';
import { GatewayMetrics } from './telemetry/metrics.js';
import { AccessControl, presentedKey, type Access } from './auth/access-control.js';
import { SecretScrubber } from './auth/secret-scrubber.js';
import { clientError } from './http/client-error.js';
import { metricLabels } from './telemetry/metric-labels.js';
import { KeyRegistry, type GatewayKey } from './auth/key-registry.js';
import { createKeyStore, createLimitStore } from './state/state-stores.js';
import { BudgetGuard } from './limits/budget.js';
import { RateLimiter } from './limits/rate-limiter.js';
import { registerAdminRoutes } from './routes/admin-routes.js';
import { installCors } from './http/cors.js';
import { clientErrorHandler, frameworkErrorHandler } from './http/framework-errors.js';
import { installJsonBodyParser } from './http/json-body.js';
import { receiveTimeoutOptions } from './http/receive-timeouts.js';
import { drainUnreadBody } from './http/unread-body.js';
import { PriceTable } from './telemetry/pricing.js';
import { RequestRecorder } from './telemetry/request-recorder.js';
import { newOutcome, type RequestOutcome } from './telemetry/request-outcome.js';
import type { TraceStore } from './telemetry/trace-store.js';
import { createTraceOutput } from './telemetry/trace-output.js';
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
  /** Span exporter (tests use an in-memory one); otherwise spans exist only when the OTEL_* variables configure an exporter. */
  spanExporter?: SpanExporter;
  env?: NodeJS.ProcessEnv;
  /** Where log lines go (tests capture them); stdout by default. */
  logStream?: { write(line: string): void };
  /** Resolves replica pools' DNS names instead of the system or configured DNS servers. */
  resolver?: AddressResolver;
}

export interface GatewayApp extends FastifyInstance {
  readiness: Readiness;
  /** Runtime routing state: breakers, in-flight counts, canary splits (weights can change at run time). */
  gatewayRouting: RoutingRuntime & { canarySplits: ModelResolver['canarySplits'] };
  metrics: GatewayMetrics;
  cache: ResponseCache | undefined;
  traces: TraceStore | undefined;
  canaries: CanaryController;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set for proxy endpoints: what happened to the request, recorded once when it ends. */
    outcome: RequestOutcome | null;
    /** The gateway key the request authenticated with, when keys are required. */
    gatewayKey: GatewayKey | null;
    /** The client's own x-request-id, when it sent a sane one (request.id is the gateway's trace id). */
    clientRequestId: string | undefined;
  }
}

/** On proxied replies: the trace this request is recorded as (what POST /v1/feedback takes). */
const TRACE_ID_HEADER = 'x-gateway-trace-id';

const ADMIN_HEADERS = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

function noRouteSchemas(): never {
  throw new Error('routes are validated with zod; Fastify route schemas are not used');
}

/**
 * Synchronous on purpose: a Fastify instance is thenable, so returning it from an async function would
 * start it. Anything that needs async setup hooks into `onReady`/`onClose` instead.
 */
export function buildApp(config: GatewayConfig, deps: AppDeps = {}): GatewayApp {
  const scrubber = SecretScrubber.fromConfig(config);
  /** How much of a refused body is read and discarded so its client gets the reply (see http/unread-body.ts). */
  const maxDiscardBytes = 4 * config.server.bodyLimitBytes;
  const logOutput = new LogOutput(deps.logStream);
  const app = Fastify({
    logger: { ...createLoggerOptions(config.logging.level, scrubber), stream: logOutput },
    // Per-request log lines are written by the gateway itself (one line, redacted), not by Fastify.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.server.bodyLimitBytes,
    // Decides request.protocol: https when the socket is TLS, or a trusted proxy says so.
    trustProxy: config.server.trustProxy,
    requestTimeout: config.server.requestReceiveTimeoutMs,
    http: { maxHeaderSize: config.server.maxHeaderBytes, ...receiveTimeoutOptions(config.server.requestReceiveTimeoutMs) },
    frameworkErrors: frameworkErrorHandler,
    clientErrorHandler,
    genReqId: newTraceId,
    // No per-request child logger: gateway log lines carry reqId themselves, and a pino child per request
    // is measurable on the hot path.
    childLoggerFactory: (logger) => logger,
    // The onRequest hook answers requests that arrive while draining, in the catalogue's shape.
    return503OnClosing: false,
    // Bodies are validated with zod, and no route has a JSON schema: Fastify's default compilers (ajv and
    // fast-json-stringify, ~3.5 MB of RSS at start) are never loaded.
    schemaController: { compilersFactory: { buildValidator: noRouteSchemas, buildSerializer: noRouteSchemas } },
    forceCloseConnections: 'idle',
  });

  for (const { path, scrubbed } of scrubber.shortSecrets) {
    app.log.warn(
      { path },
      scrubbed === 'never'
        ? 'a secret shorter than 6 characters cannot be removed from upstream text: an upstream that echoes it hands it to clients and logs (use a longer one, or leave it unset if the server needs none)'
        : 'a secret shorter than 8 characters is removed from upstream text only where it stands alone: an upstream that echoes it inside a longer word hands it to clients and logs (use a longer one)',
    );
  }

  let metrics: GatewayMetrics | undefined;
  const providers =
    deps.providers ??
    createProviderRegistry(config, {
      resolver: deps.resolver,
      // The metrics are built after the providers (their labels come from the routes); pools report to them once they exist.
      observer: {
        replicaPicked: (provider, replica, reason) => metrics?.replicaPicked(provider, replica, reason),
        requestShed: (provider, priority) => metrics?.requestShed(provider, priority),
        queueWaited: (provider, seconds) => metrics?.queueWaited(provider, seconds),
      },
      random: deps.random,
      now: deps.now,
      onError: (message, error) => app.log.warn({ err: error }, message),
    });
  const pools = replicaPools(providers);
  // Compiled once; a gateway without guardrails has none, and its routes no policy step.
  const guardrails = Object.keys(config.guardrails).length > 0 ? new GuardrailSet(config.guardrails, (text) => scrubber.text(text)) : undefined;
  const resolver = new ModelResolver(config, providers, guardrails);
  // One log line per request, written by the trace worker; only when the level lets info lines out.
  const requestLines = config.telemetry.logRequests && logsAt(config.logging.level, 'info');
  const traceOutput = createTraceOutput(
    config.telemetry,
    { injectedSink: deps.traceSink, requestLines, logOutput, ownLogStream: deps.logStream !== undefined, closeTimeoutMs: config.server.shutdownGraceMs },
    () => metrics as GatewayMetrics,
    app.log,
  );
  const traces = traceOutput?.store;
  metrics = new GatewayMetrics(
    metricLabels(config, resolver.canarySplits.keys()),
    traces && {
      queueDepth: () => traces.status().queued,
      spoolBytes: () => traces.status().spooledBytes,
      // Only a store known to fail is down: an idle gateway whose store never started is not a fault.
      sinkUp: () => traces.status().state !== 'down',
    },
    { weights: () => [...resolver.canarySplits.values()].map((split) => ({ route: split.id, weight: split.weight })) },
    { pools: () => pools.map((pool) => pool.snapshot()), priorityClasses: config.routing.priority.classes },
  );
  const prices = new PriceTable(config.telemetry.pricing);
  const recorder = new RequestRecorder({
    metrics,
    prices,
    scrubber,
    config: config.telemetry,
    log: app.log,
    output: traceOutput,
    stores: traces !== undefined,
  });

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

  installJsonBodyParser(app, config.server.maxJsonDepth);
  installCors(app, config.auth.corsOrigins);

  app.decorateRequest('outcome', null);
  app.decorateRequest('gatewayKey', null);
  app.decorateRequest('clientRequestId', undefined);
  app.addHook('onRequest', (request, reply, done) => {
    const clientRequestId = clientRequestIdOf(request.headers);
    request.clientRequestId = clientRequestId;
    reply.header('x-request-id', clientRequestId ?? request.id);
    const routeConfig = request.routeOptions.config as Partial<ProxyRouteConfig> & { access?: Access };
    // While draining, refuse new work with an OpenAI-shaped 503 (Fastify's own closing reply is not),
    // and close the connection so the client's next request goes to another replica.
    if (readiness.draining && routeConfig.access !== undefined) {
      reply.header('connection', 'close');
      done(new GatewayError('shutting_down', 'this gateway is shutting down; retry on another instance'));
      return;
    }
    if (routeConfig.operation) {
      reply.header(TRACE_ID_HEADER, request.id);
      const outcome = newOutcome(request.id, routeConfig.operation, performance.now(), Date.now());
      if (clientRequestId !== undefined) outcome.clientRequestId = clientRequestId;
      const traceparent = request.headers.traceparent;
      if (typeof traceparent === 'string') outcome.traceparent = traceparent;
      request.outcome = outcome;
      recorder.begin(outcome, request.method, request.routeOptions.url ?? request.url, request.headers);
    }
    try {
      if (routeConfig.access === 'client') {
        const key = access.client(request.headers);
        if (key) {
          request.gatewayKey = key;
          if (request.outcome) request.outcome.keyId = key.id;
        }
      } else if (routeConfig.access === 'admin' || routeConfig.access === 'admin-key') {
        // Operator-facing endpoints (admin API, dashboard data) carry the usual browser security headers.
        reply.headers(ADMIN_HEADERS);
        access.admin(request.headers, routeConfig.access === 'admin');
      }
    } catch (error) {
      done(error as Error);
      return;
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
      const err = loggableError(error, scrubber, presentedKey(request.headers));
      request.log.warn({ code: gatewayError.code, status: gatewayError.status, err }, 'request failed');
    }
    if (gatewayError.retryAfterMs !== undefined) {
      reply.header('retry-after', String(Math.ceil(gatewayError.retryAfterMs / 1000)));
    }
    if (!request.raw.complete) {
      // Refused before its body was read: keep the connection while the rest arrives (bounded), so the
      // client reads this reply instead of a reset. Fastify marks such replies `connection: close`.
      if (gatewayError.code === 'body_too_large') reply.removeHeader('connection');
      drainUnreadBody(request.raw, maxDiscardBytes);
    }
    const { body, headers } = clientError(gatewayError, scrubber, request.headers);
    if (headers) for (const [name, value] of Object.entries(headers)) reply.header(name, value);
    // Each proxy endpoint answers errors in its client's dialect.
    const dialect = (request.routeOptions.config as Partial<ProxyRouteConfig>).dialect;
    if (!dialect) return reply.code(gatewayError.status).send(body);
    reply.code(dialect.errorStatus?.(gatewayError) ?? gatewayError.status).send(dialect.errorBody(body, gatewayError, request.id));
  });

  app.setNotFoundHandler((request, reply) => {
    const error = new GatewayError('route_not_found', `no such endpoint: ${request.method} ${request.url.split('?')[0]}`);
    reply.code(error.status).send(error.toBody());
  });

  const keyStore = createKeyStore(config);
  const registry = new KeyRegistry(config.auth.keys, keyStore);
  const access = new AccessControl(config.auth, registry);
  if (access.sessionsPerProcess) {
    app.log.info('auth.sessionSecret is not set: dashboard sessions are signed with a random per-process secret, so they end when this process restarts and other replicas do not accept them');
  }
  const limitStore = createLimitStore(config);
  const budgets = new BudgetGuard(limitStore);
  const admission = {
    limiter: new RateLimiter(limitStore),
    budgets,
    prices,
    reserveOutputTokens: config.auth.reserveOutputTokens,
  };

  registerHealthRoutes(app, readiness, traces);
  registerAdminRoutes(app, registry, budgets, scrubber);
  registerModelsRoute(app, resolver);
  registerMetricsRoute(app, metrics);
  registerFeedbackRoutes(app, traces, recorder);
  registerExportRoute(app, traces);
  const canaries = createCanaryController(config, resolver.canarySplits, traces, metrics, app.log, (split) =>
    split.targets.canary.filter((target) => isSkipped(target, runtime)).map((target) => target.key),
  );
  registerDashboardApi(app, traces, canaries, resolver.canarySplits);
  registerFleetRoute(app, pools);
  registerCanaryAdminRoutes(app, canaries);
  registerDashboardRoute(app, access);
  const shadow = new ShadowTraffic({
    random: runtime.random,
    metrics,
    prices,
    record: traces ? (row) => traces.record(row) : undefined,
  });
  const conversations = createConversationStore(config);
  const responsesDialect = createResponsesDialect({
    store: conversations,
    onStoreFailure: (responseId, error) => app.log.warn({ responseId, store: conversations.kind, err: error }, 'a response could not be stored (larger than responses.maxEntryBytes); continuing it will fail'),
  });
  registerResponsesRoutes(app, conversations);
  registerCountTokensRoute(app, { resolver, runtime, admission, defaultTimeoutMs: config.routing.timeoutMs });
  registerProxyRoutes(app, {
    dialects: [chatDialect, completionsDialect, embeddingsDialect, responsesDialect, messagesDialect],
    resolver,
    runtime,
    cache,
    recorder,
    admission,
    shadow,
    defaultTimeoutMs: config.routing.timeoutMs,
    logBodies: config.telemetry.logBodies,
    scrubber,
    priority: config.routing.priority,
  });

  let keyRefresh: NodeJS.Timeout | undefined;
  app.addHook('onReady', async () => {
    runtime.health.start();
    // Not awaited: a pool's first DNS answer may take a while, and requests wait for it themselves.
    void startProviders(providers).catch((error: unknown) => app.log.warn({ err: error }, 'a provider failed to start'));
    // Keys created through another replica's admin API arrive within one refresh.
    await registry.refresh().catch((error: unknown) => app.log.warn({ err: error }, 'could not load API-created keys'));
    keyRefresh = setInterval(() => void registry.refresh().catch(() => undefined), 5000);
    keyRefresh.unref();
    recorder.tracing = await loadTracing(deps.env ?? process.env, deps.spanExporter);
    await traceOutput?.open();
    canaries.start();
  });
  app.addHook('onClose', async () => {
    runtime.health.stop();
    await canaries.stop();
    clearInterval(keyRefresh);
    await Promise.all([limitStore.close(), keyStore.close?.()]);
    // Shadow calls are abandoned, not awaited; then providers (in-flight upstream calls are done by
    // now), then flush or spool what is queued.
    await shadow.close();
    await Promise.all([closeProviders(providers), cache?.close(), conversations.close(), guardrails?.close()]);
    await traceOutput?.close(readiness.stopBy);
    await recorder.tracing?.shutdown();
  });

  return Object.assign(app, { readiness, metrics, cache, traces, canaries, gatewayRouting: { ...runtime, canarySplits: resolver.canarySplits } }) as unknown as GatewayApp;
}
