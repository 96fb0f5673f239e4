/**
 * The OpenAI-compatible endpoints. Each request: validate, resolve the model, answer from the cache
 * when it can, otherwise dispatch through the route within its deadline and reply as JSON or stream
 * SSE as chunks arrive (caching the complete answer). A client that disconnects aborts the upstream
 * request at once.
 */
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { cacheKey } from '../cache/cache-key.js';
import { answerFromJson, answerFromStream, replayChunks, type CachedAnswer } from '../cache/cached-answer.js';
import type { DecodedAnswer, Flight, ResponseCache } from '../cache/response-cache.js';
import { GatewayError } from '../errors.js';
import { dispatch, DispatchError, type AttemptCounts, type DispatchResult, type RoutingRuntime } from '../proxy/dispatch.js';
import { validateRequestBody, type ValidatedBody } from '../proxy/request-schemas.js';
import { writeSseChunks, writeSseStream } from '../proxy/write-sse.js';
import type { JsonObject, OpenAIOperation, Operation } from '../providers/types.js';
import type { ModelResolver } from '../routing/model-resolver.js';
import type { CompiledRoute, ResolvedTarget, Variant } from '../routing/route-tree.js';
import type { RequestOutcome } from '../telemetry/request-outcome.js';
import type { RequestRecorder } from '../telemetry/request-recorder.js';
import { admitKey, reserveBudget, type AdmissionDeps } from '../proxy/admission.js';
import type { ShadowTraffic } from '../canary/shadow-traffic.js';
import type { SecretScrubber } from '../auth/secret-scrubber.js';
import { clientError } from '../http/client-error.js';
import { answerText } from '../telemetry/usage.js';
import { chunkText } from '../telemetry/usage.js';

export interface ProxyRouteDeps {
  resolver: ModelResolver;
  runtime: RoutingRuntime;
  /** Undefined when no route can cache (the cache step is skipped entirely). */
  cache: ResponseCache | undefined;
  /** Deadline for a request whose route sets none. */
  defaultTimeoutMs: number;
  /** Records requests the gateway finished itself (streams; JSON replies are recorded on response), and spans. */
  recorder: RequestRecorder;
  /** Keep streamed chunks so the trace can store the assembled answer. */
  logBodies: boolean;
  /** Route permissions, rate limits and budgets for keyed requests. */
  admission: AdmissionDeps;
  /** Mirrors a share of successful requests to a route's shadow target. */
  shadow: ShadowTraffic;
  /** Removes the gateway's secrets from error text a client gets mid-stream. */
  scrubber: SecretScrubber;
}

/** Route config marking the proxy endpoints, so hooks know which requests produce an outcome. */
export interface ProxyRouteConfig {
  operation: Operation;
  access: 'client';
}

const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  'x-accel-buffering': 'no',
};

/** A request header that shortens (never lengthens) the route's deadline. */
const TIMEOUT_HEADER = 'x-gateway-timeout-ms';
/** `no-store` skips the cache both ways; `refresh` skips the lookup but stores the new answer. */
const CACHE_HEADER = 'x-gateway-cache';
const CACHE_NAMESPACE_HEADER = 'x-gateway-cache-namespace';
/** A JSON object of string tags stored on the trace. */
const METADATA_HEADER = 'x-gateway-metadata';

const clientGone = new GatewayError('client_disconnected', 'the client closed the connection before the answer');

export function registerProxyRoutes(app: FastifyInstance, deps: ProxyRouteDeps): void {
  const route = (path: string, operation: OpenAIOperation): void => {
    app.post(path, { config: { operation, access: 'client' } satisfies ProxyRouteConfig }, createProxyHandler(operation, deps));
  };
  route('/v1/chat/completions', 'chat');
  route('/v1/completions', 'completions');
  route('/v1/embeddings', 'embeddings');
}

/** What the cache decided for one request before the upstream was called. */
interface CachePlan {
  key: string;
  ttlMs: number;
  flight: Flight | undefined;
}

function createProxyHandler(operation: OpenAIOperation, deps: ProxyRouteDeps) {
  const { resolver, runtime, cache, defaultTimeoutMs, recorder, logBodies, admission, shadow, scrubber } = deps;
  const recordOutcome = (outcome: RequestOutcome): void => recorder.finish(outcome);

  return async function proxyHandler(request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
    const outcome = request.outcome as RequestOutcome;
    const body = validateRequestBody(operation, request.body);
    outcome.requestedModel = body.model;
    outcome.requestBody = body;
    if (typeof body.user === 'string') outcome.user = body.user;
    outcome.metadata = parseMetadata(request.headers[METADATA_HEADER]);
    const route = resolver.resolve(body.model);
    if (!route) {
      throw new GatewayError('model_not_found', `The model '${body.model}' does not exist on this gateway`, { param: 'model' });
    }
    const key = request.gatewayKey;
    if (key) {
      await admitKey(admission, key, route, reply);
      if (Object.keys(key.metadata).length > 0) outcome.metadata = withKeyTags(key.metadata, outcome.metadata);
    }
    const stream = operation !== 'embeddings' && body.stream === true;
    const includeUsage = (body.stream_options as { include_usage?: unknown } | null | undefined)?.include_usage === true;
    outcome.route = route.name;
    outcome.stream = stream;

    let plan: CachePlan | undefined;
    if (cache && route.cache.enabled) {
      const looked = await consultCache(cache, request, operation, body, route);
      if (looked.hit) {
        outcome.cache = 'HIT';
        reply.header(CACHE_HEADER, 'HIT').header('x-gateway-attempts', '0');
        if (!stream) {
          outcome.responseBody = looked.hit.answer.json;
          // Already serialised: sent as is.
          return reply.type('application/json; charset=utf-8').send(looked.hit.jsonText);
        }
        return replayStream(reply, outcome, replayChunks(operation, looked.hit.answer, includeUsage), recordOutcome);
      }
      plan = looked.plan;
    }
    outcome.cache = plan ? 'MISS' : 'BYPASS';
    reply.header(CACHE_HEADER, outcome.cache);

    if (key) {
      // Reserve the estimated cost now; the real cost replaces it once the request is recorded.
      const reservation = await reserveBudget(admission, key, route, body).catch((error: unknown) => {
        if (plan?.flight?.leader) plan.flight.settle(undefined);
        throw error;
      });
      outcome.onRecorded = (usage, costUsd) => {
        void reservation.settle(costUsd).catch(() => undefined);
        if (usage) void admission.limiter.countTokens(key, usage.inputTokens + usage.outputTokens).catch(() => undefined);
      };
    }

    try {
      outcome.upstreamStartedAt = performance.now();
      const result = await dispatchWithDeadline(request, reply, outcome, operation, body, route, stream, runtime, defaultTimeoutMs, recorder);
      if (result.kind === 'json') {
        outcome.upstreamEndedAt = performance.now();
        if ('model' in result.body) result.body.model = body.model;
        outcome.responseBody = result.body;
        if (plan) settle(cache!, plan, answerFromJson(result.body));
        if (route.shadow) shadow.maybeMirror(route, operation, body, primaryAnswer(outcome, answerText(result.body)));
        return result.body;
      }
      const collected: JsonObject[] | undefined = plan ? [] : undefined;
      if (logBodies) outcome.streamChunks = [];
      const res = startStream(reply, outcome);
      outcome.streamResult = await writeSseStream(res, result.first, result.rest, body.model, {
        includeUsage,
        collect: collected,
        observe: (chunk) => observeChunk(outcome, chunk),
        errorBody: (error) => clientError(error, scrubber, request.headers).body,
      });
      outcome.upstreamEndedAt = performance.now();
      if (outcome.streamResult === 'interrupted') outcome.errorCode = 'stream_interrupted';
      // Only a complete stream is cached; a truncated one never is.
      if (plan) settle(cache!, plan, outcome.streamResult === 'complete' ? answerFromStream(operation, collected!) : undefined);
      if (route.shadow && outcome.streamResult === 'complete') shadow.maybeMirror(route, operation, body, primaryAnswer(outcome, outcome.streamText));
      recordOutcome(outcome);
      return undefined;
    } finally {
      // Followers waiting on this request's answer are released whatever happened to it.
      if (plan?.flight?.leader) plan.flight.settle(undefined);
    }
  };
}

async function consultCache(
  cache: ResponseCache,
  request: FastifyRequest,
  operation: Operation,
  body: ValidatedBody,
  route: CompiledRoute,
): Promise<{ hit?: DecodedAnswer; plan?: CachePlan }> {
  const directive = request.headers[CACHE_HEADER];
  if (directive === 'no-store') return {};
  // Each gateway key has its own cache (one tenant never reads another's answers); the header
  // partitions further within a key.
  const header = request.headers[CACHE_NAMESPACE_HEADER];
  const namespace = `${request.gatewayKey?.id ?? ''}\u0000${typeof header === 'string' ? header : ''}`;
  const key = cacheKey(namespace, operation, body);
  if (directive === 'refresh') return { plan: { key, ttlMs: route.cache.ttlMs, flight: undefined } };

  const found = await cache.lookup(key);
  if (found.status === 'failed') return {};
  if (found.status === 'hit') return { hit: found };
  const flight = cache.join(key);
  if (!flight.leader) {
    const answer = await flight.wait;
    if (answer) return { hit: { answer, jsonText: JSON.stringify(answer.json) } };
    // The leader got no cacheable answer: this request tries for itself, uncached.
    return {};
  }
  return { plan: { key, ttlMs: route.cache.ttlMs, flight } };
}

function settle(cache: ResponseCache, plan: CachePlan, answer: CachedAnswer | undefined): void {
  if (answer) cache.save(plan.key, answer, plan.ttlMs);
  if (plan.flight?.leader) plan.flight.settle(answer);
}

async function dispatchWithDeadline(
  request: FastifyRequest,
  reply: FastifyReply,
  outcome: RequestOutcome,
  operation: Operation,
  body: ValidatedBody,
  route: CompiledRoute,
  stream: boolean,
  runtime: RoutingRuntime,
  defaultTimeoutMs: number,
  recorder: RequestRecorder,
): Promise<DispatchResult> {
  const timeoutMs = requestTimeoutMs(request, route.timeoutMs ?? defaultTimeoutMs);
  const controller = new AbortController();
  const res = reply.raw;
  res.once('close', () => {
    if (!res.writableFinished) controller.abort(clientGone);
  });
  const deadline = setTimeout(() => {
    controller.abort(new GatewayError('deadline_exceeded', `no answer within the request deadline of ${timeoutMs} ms`));
  }, timeoutMs);
  try {
    const result = await dispatch(
      {
        route,
        operation,
        body,
        stream,
        // Upstreams see the id the client sees in x-request-id: its own when it sent one.
        requestId: request.clientRequestId ?? request.id,
        signal: controller.signal,
        deadlineAt: Date.now() + timeoutMs,
        stickyKey: (header) => stickyKeyOf(request, body.user, header),
        traceparent: outcome.traceparent,
        observeAttempt: attemptObserver(recorder, outcome, operation, body, stream),
      },
      runtime,
    );
    noteAttempts(reply, outcome, result.counts, result.target, result.variant);
    return result;
  } catch (error) {
    if (!(error instanceof DispatchError)) throw error;
    noteAttempts(reply, outcome, error.counts, error.target, error.variant);
    throw error.error;
  } finally {
    // For a stream the deadline covers the wait for its first chunk; the idle timeout guards the rest.
    clearTimeout(deadline);
  }
}

/** Takes the socket over for SSE. A hijacked reply skips Fastify's onResponse hook, so streams record their own outcome. */
function startStream(reply: FastifyReply, outcome: RequestOutcome): ServerResponse {
  outcome.hijacked = true;
  outcome.status = 200;
  reply.hijack();
  reply.raw.writeHead(200, { ...reply.getHeaders(), ...SSE_HEADERS } as OutgoingHttpHeaders);
  return reply.raw;
}

async function replayStream(
  reply: FastifyReply,
  outcome: RequestOutcome,
  chunks: JsonObject[],
  recordOutcome: (outcome: RequestOutcome) => void,
): Promise<undefined> {
  outcome.firstChunkAt = performance.now();
  outcome.streamResult = await writeSseChunks(startStream(reply, outcome), chunks);
  recordOutcome(outcome);
  return undefined;
}

function primaryAnswer(outcome: RequestOutcome, text: string) {
  return { traceId: outcome.traceId, text, variant: outcome.variant, keyId: outcome.keyId, user: outcome.user };
}

/** Per-attempt spans, when tracing is on (otherwise no span work at all). */
function attemptObserver(recorder: RequestRecorder, outcome: RequestOutcome, operation: Operation, body: ValidatedBody, stream: boolean) {
  const tracing = recorder.tracing;
  const parent = outcome.span;
  if (!tracing || !parent) return undefined;
  return (target: ResolvedTarget, attempt: number) =>
    tracing.startAttempt(parent, {
      operation,
      providerType: target.provider.type,
      providerName: target.provider.name,
      baseUrl: target.provider.baseUrl,
      model: target.model,
      stream,
      body,
      attempt,
    });
}

/** What telemetry needs from each streamed chunk: usage when it comes, text for estimates, timing. */
function observeChunk(outcome: RequestOutcome, chunk: JsonObject): void {
  outcome.firstChunkAt ??= performance.now();
  if (chunk.usage) outcome.reportedUsage = chunk.usage;
  else outcome.streamText += chunkText(chunk);
  outcome.streamChunks?.push(chunk);
}

function parseMetadata(header: string | string[] | undefined): Record<string, string> | undefined {
  if (header === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(Array.isArray(header) ? (header[0] ?? '') : header);
  } catch {
    value = undefined;
  }
  const valid =
    value !== null &&
    typeof value === 'object' &&
    !Array.isArray(value) &&
    Object.keys(value).length <= 32 &&
    Object.entries(value).every(([k, v]) => k.length <= 64 && typeof v === 'string' && v.length <= 512);
  if (!valid) {
    throw new GatewayError('invalid_request', `${METADATA_HEADER} must be a JSON object of at most 32 string tags`, { param: METADATA_HEADER });
  }
  return value as Record<string, string>;
}

/**
 * The key's tags, then the client's tags under names the key does not set: a client may add tags but
 * never overwrite its key's (a tenant must not move its cost to another team).
 */
function withKeyTags(keyTags: Readonly<Record<string, string>>, clientTags: Record<string, string> | undefined): Record<string, string> {
  const merged: Record<string, string> = { ...keyTags };
  if (clientTags) for (const [name, value] of Object.entries(clientTags)) if (!Object.hasOwn(merged, name)) merged[name] = value;
  return merged;
}

function requestTimeoutMs(request: FastifyRequest, routeTimeoutMs: number): number {
  const header = request.headers[TIMEOUT_HEADER];
  if (typeof header !== 'string') return routeTimeoutMs;
  const asked = Number(header);
  return Number.isInteger(asked) && asked > 0 ? Math.min(asked, routeTimeoutMs) : routeTimeoutMs;
}

function stickyKeyOf(request: FastifyRequest, user: unknown, header: string | undefined): string | undefined {
  if (typeof user === 'string' && user.length > 0) return user;
  if (header) {
    const value = request.headers[header];
    if (typeof value === 'string' && value.length > 0) return value;
  }
  return undefined;
}

function noteAttempts(
  reply: FastifyReply,
  outcome: RequestOutcome,
  counts: AttemptCounts,
  target: ResolvedTarget | undefined,
  variant: Variant | undefined,
): void {
  outcome.attempts = counts.attempts;
  outcome.retries = counts.retries;
  outcome.fallbacks = counts.fallbacks;
  outcome.provider = target?.provider.name;
  outcome.providerType = target?.provider.type;
  outcome.model = target?.model;
  outcome.variant = variant;
  reply.header('x-gateway-attempts', String(counts.attempts));
  if (target) {
    reply.header('x-gateway-provider', target.provider.name);
    reply.header('x-gateway-model', headerText(target.model));
  }
  if (variant) reply.header('x-gateway-variant', variant);
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * Model names are free text from config or the client (bounded by validation): percent-encoded so the
 * header stays valid. encodeURI throws on a lone surrogate, which JSON can carry (`"\ud800"`).
 */
function headerText(value: string): string {
  try {
    return encodeURI(value);
  } catch {
    return encodeURI(value.replace(LONE_SURROGATE, '\uFFFD'));
  }
}
