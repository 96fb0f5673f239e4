/**
 * The proxy endpoints: one handler for every inbound dialect (gateway/src/inbound/). Each request: the
 * dialect parses the client's body into the canonical request, then the one pipeline runs — resolve the
 * model, key admission, cache, budget, dispatch through the route within its deadline — and the dialect
 * renders the answer back, as JSON or as SSE written as upstream items arrive (caching the complete
 * answer). A client that disconnects aborts the upstream request at once.
 */
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { cacheKey } from '../cache/cache-key.js';
import type { Flight, ResponseCache } from '../cache/response-cache.js';
import { decodeAnswer, encodeJsonAnswer, type StoredAnswer } from '../cache/stored-answer.js';
import { GatewayError } from '../errors.js';
import type { InboundDialect, InboundExchange, StreamAnswer } from '../inbound/types.js';
import { dispatch, DispatchError, type AnswerCheck, type AttemptCounts, type DispatchResult, type RoutingRuntime } from '../proxy/dispatch.js';
import { answerCheck, checkedStream, startPolicy } from '../proxy/request-policy.js';
import { verdictHeader, type PolicyRun } from '../policy/run-guardrails.js';
import { writeSseBody, writeSseStream } from '../proxy/write-sse.js';
import type { JsonObject } from '../providers/types.js';
import type { ModelResolver } from '../routing/model-resolver.js';
import { requestFacts, type RequestFacts } from '../routing/request-facts.js';
import { branchDecisions, type CompiledRoute, type ResolvedTarget, type Variant } from '../routing/route-tree.js';
import type { RequestOutcome } from '../telemetry/request-outcome.js';
import type { RequestRecorder } from '../telemetry/request-recorder.js';
import { admitKey, reserveBudget, type AdmissionDeps } from '../proxy/admission.js';
import type { ShadowTraffic } from '../canary/shadow-traffic.js';
import type { SecretScrubber } from '../auth/secret-scrubber.js';
import { clientError } from '../http/client-error.js';
import { parseMetadata, requestTimeoutMs, stickyKeyOf, withKeyTags } from '../proxy/request-headers.js';
import { createPriorityOf, type PriorityOf } from '../proxy/priority.js';
import type { PriorityConfig } from '../config/pool-schema.js';
import type { ReplicaPlacement } from '../providers/types.js';

export interface ProxyRouteDeps {
  /** The inbound dialects to serve, each at its own path. */
  dialects: readonly InboundDialect[];
  resolver: ModelResolver;
  runtime: RoutingRuntime;
  /** Undefined when no route can cache (the cache step is skipped entirely). */
  cache: ResponseCache | undefined;
  /** Deadline for a request whose route sets none. */
  defaultTimeoutMs: number;
  /** Records requests the gateway finished itself (streams; JSON replies are recorded on response), and spans. */
  recorder: RequestRecorder;
  /** Keep streamed answers so the trace can store them. */
  logBodies: boolean;
  /** Route permissions, rate limits and budgets for keyed requests. */
  admission: AdmissionDeps;
  /** Mirrors a share of successful requests to a route's shadow target. */
  shadow: ShadowTraffic;
  /** Removes the gateway's secrets from error text a client gets mid-stream. */
  scrubber: SecretScrubber;
  /** Priority classes for replica pools' queues. */
  priority: PriorityConfig;
}

/** Route config marking the proxy endpoints, so hooks know which requests produce an outcome and how errors look. */
export interface ProxyRouteConfig {
  operation: string;
  access: 'client';
  dialect: InboundDialect;
}

const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  'x-accel-buffering': 'no',
};

/** `no-store` skips the cache both ways; `refresh` skips the lookup but stores the new answer. */
const CACHE_HEADER = 'x-gateway-cache';
const CACHE_NAMESPACE_HEADER = 'x-gateway-cache-namespace';
/** A JSON object of string tags stored on the trace. */
const METADATA_HEADER = 'x-gateway-metadata';
/** Tool types a translated attempt could not carry and left out. */
const DROPPED_TOOLS_HEADER = 'x-gateway-dropped-tools';
/** The conditional branch the answer came through (`premium/long`). */
const BRANCH_HEADER = 'x-gateway-branch';
/** The guardrails that flagged, redacted or retried on this request, and what they did. */
const GUARDRAILS_HEADER = 'x-gateway-guardrails';

const clientGone = new GatewayError('client_disconnected', 'the client closed the connection before the answer');

export function registerProxyRoutes(app: FastifyInstance, deps: ProxyRouteDeps): void {
  for (const dialect of deps.dialects) {
    const config: ProxyRouteConfig = { operation: dialect.label, access: 'client', dialect };
    app.post(dialect.path, { config }, createProxyHandler(dialect, deps));
  }
}

/** What the cache decided for one request before the upstream was called. */
interface CachePlan {
  key: string;
  ttlMs: number;
  flight: Flight | undefined;
}

function createProxyHandler(dialect: InboundDialect, deps: ProxyRouteDeps) {
  const { resolver, runtime, cache, defaultTimeoutMs, recorder, logBodies, admission, shadow, scrubber } = deps;
  const operation = dialect.operation;
  const priorityOf = createPriorityOf(deps.priority);

  return async function proxyHandler(request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
    const outcome = request.outcome as RequestOutcome;
    outcome.textOf = dialect.answerText;
    const key = request.gatewayKey;
    const parsed = dialect.parse(request.body, { keyId: key?.id ?? '', headers: request.headers });
    const exchange = parsed instanceof Promise ? await parsed : parsed;
    // The canonical request is final from here, whatever the dialect: the place for input policies.
    const body = exchange.canonical;
    outcome.requestedModel = exchange.model;
    outcome.requestBody = exchange.logBody;
    outcome.canonicalBody = body;
    if (exchange.user !== undefined) outcome.user = exchange.user;
    outcome.metadata = parseMetadata(request.headers[METADATA_HEADER]);
    const route = resolver.resolve(exchange.model);
    if (!route) {
      throw new GatewayError('model_not_found', `The model '${exchange.model}' does not exist on this gateway`, { param: 'model' });
    }
    if (key) {
      await admitKey(admission, key, route, reply);
      if (Object.keys(key.metadata).length > 0) outcome.metadata = withKeyTags(key.metadata, outcome.metadata);
    }
    // Conditions and guardrails read what the request is: its facts are built once, only for routes that have them.
    const policy = route.policy;
    const facts = route.conditional || policy ? requestFacts(body, outcome.metadata, key?.id ?? '', outcome.user) : undefined;
    // Input guardrails run on the canonical request before the cache and the upstream: a redaction is what
    // both see, and what the trace keeps of the request.
    const run = policy ? await startPolicy(policy, facts as RequestFacts, route.name, outcome, dialect.label === dialect.operation, () => clientLeft(reply)) : undefined;
    if (run?.verdicts.some((v) => v.verdict === 'redact' && v.stage === 'input')) outcome.requestBody = body;
    const stream = exchange.stream;
    outcome.route = route.name;
    outcome.stream = stream;

    let plan: CachePlan | undefined;
    if (cache && route.cache.enabled) {
      const looked = await consultCache(cache, request, dialect, exchange, route, facts);
      // A hit from the memory store is a view of the store's own bytes, lent until the reply is done.
      if (looked.release) reply.raw.once('close', looked.release);
      if (looked.hit) {
        outcome.cache = 'HIT';
        reply.header(CACHE_HEADER, 'HIT').header('x-gateway-attempts', '0');
        return answerFromCache(reply, outcome, exchange, looked.hit, recorder, logBodies);
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
      const check = policy && run ? answerCheck(policy, run) : undefined;
      const result = await dispatchWithDeadline(request, reply, outcome, dialect, exchange, route, runtime, defaultTimeoutMs, recorder, priorityOf, facts, check);
      if (run) noteVerdicts(reply, run);
      if (!result.native && exchange.droppedTools.length > 0) {
        const dropped = exchange.droppedTools.join(', ');
        reply.header(DROPPED_TOOLS_HEADER, dropped);
        outcome.metadata = { ...outcome.metadata, dropped_tools: dropped };
      }
      if (result.kind === 'json') {
        outcome.upstreamEndedAt = performance.now();
        // The answer as the client will get it (its text: dialect.answerText): the place for output policies.
        const answer = exchange.renderJson(result.body, result.native);
        outcome.responseBody = answer;
        // A JSON answer is cached as the client gets it, serialised once: the stored bytes are also the reply.
        const stored = plan && encodeJsonAnswer(answer);
        if (plan) settle(cache!, plan, stored);
        const kept = exchange.completed?.(answer);
        if (kept) await kept;
        if (route.shadow) shadow.maybeMirror(route, operation, body, primaryAnswer(outcome, dialect.answerText(answer)));
        return stored ? reply.type('application/json; charset=utf-8').send(decodeAnswer(stored)!.body) : answer;
      }
      const collect = plan !== undefined || logBodies || exchange.completed !== undefined;
      const renderer = exchange.streamRenderer(result.native, outcome, collect);
      // Before the stream starts: a deny in the first chunk is still an ordinary error reply.
      const checked = run ? checkedStream(policy, run, result.first, result.rest) : result;
      const res = startStream(reply, outcome);
      let answer: StreamAnswer | undefined;
      outcome.streamResult = await writeSseStream(res, checked.first, checked.rest, renderer, {
        observe: () => {
          outcome.firstChunkAt ??= performance.now();
        },
        errorBody: (error) => {
          // stream_interrupted, or what kept the answer from completing (its conversation not stored).
          outcome.errorCode = error.code;
          return clientError(error, scrubber, request.headers).body;
        },
        // A whole streamed answer before its closing event (the text so far is outcome.streamText).
        beforeEnd: () => {
          answer = renderer.answer();
          return answer && exchange.completed?.(answer.json());
        },
      });
      outcome.upstreamEndedAt = performance.now();
      if (outcome.streamResult === 'interrupted') outcome.errorCode ??= 'stream_interrupted';
      // Only a complete stream is cached or kept; a truncated one never is.
      if (outcome.streamResult !== 'complete') answer = undefined;
      if (plan) settle(cache!, plan, answer?.stored());
      if (answer && logBodies) outcome.responseBody = answer.json();
      if (route.shadow && outcome.streamResult === 'complete') shadow.maybeMirror(route, operation, body, primaryAnswer(outcome, outcome.streamText));
      recorder.finish(outcome);
      return undefined;
    } finally {
      // Followers waiting on this request's answer are released whatever happened to it.
      if (plan?.flight?.leader) plan.flight.settle(undefined);
    }
  };
}

async function answerFromCache(
  reply: FastifyReply,
  outcome: RequestOutcome,
  exchange: InboundExchange,
  hit: StoredAnswer,
  recorder: RequestRecorder,
  logBodies: boolean,
): Promise<unknown> {
  if (!exchange.stream) {
    const json = exchange.replayJson(hit);
    if (typeof json === 'object' && !Buffer.isBuffer(json)) {
      outcome.responseBody = json;
      const kept = exchange.completed?.(json);
      if (kept) await kept;
      return json;
    }
    // Parsed only when bodies are logged: a hit otherwise sends the stored text as it is.
    if (logBodies) outcome.responseBody = JSON.parse(json.toString()) as JsonObject;
    return reply.type('application/json; charset=utf-8').send(json);
  }
  outcome.firstChunkAt = performance.now();
  const replay = exchange.replaySse(hit);
  // Before the stream starts: what must hold once the client has the whole answer (a stored conversation)
  // is done first, so its failure is an error reply rather than a broken replay.
  const kept = replay.answer && exchange.completed?.(replay.answer);
  if (kept) await kept;
  outcome.streamResult = await writeSseBody(startStream(reply, outcome), replay.parts);
  recorder.finish(outcome);
  return undefined;
}

async function consultCache(
  cache: ResponseCache,
  request: FastifyRequest,
  dialect: InboundDialect,
  exchange: InboundExchange,
  route: CompiledRoute,
  facts: RequestFacts | undefined,
): Promise<{ hit?: StoredAnswer; release?: () => void; plan?: CachePlan }> {
  const directive = request.headers[CACHE_HEADER];
  if (directive === 'no-store') return {};
  // Each gateway key has its own cache (one tenant never reads another's answers); the header
  // partitions further within a key, and so do the branches a conditional route takes (they may depend
  // on tags, which the body does not carry), and so do the route's output checks (an answer stored under
  // other checks was not checked by these).
  const header = request.headers[CACHE_NAMESPACE_HEADER];
  const branches = facts && route.conditional ? `\u0000${branchDecisions(route.root, facts)}` : '';
  const checks = route.policy?.outputFingerprint ? `\u0001${route.policy.outputFingerprint}` : '';
  const namespace = `${request.gatewayKey?.id ?? ''}\u0000${typeof header === 'string' ? header : ''}${branches}${checks}`;
  const key = cacheKey(namespace, dialect.label, exchange.cacheBody);
  if (directive === 'refresh') return { plan: { key, ttlMs: route.cache.ttlMs, flight: undefined } };

  const found = await cache.lookup(key);
  if (found.status === 'failed') return {};
  if (found.status === 'hit') return { hit: found.answer, release: found.release };
  const flight = cache.join(key);
  if (!flight.leader) {
    const stored = await flight.wait;
    const answer = stored === undefined ? undefined : decodeAnswer(stored);
    if (answer) return { hit: answer };
    // The leader got no cacheable answer: this request tries for itself, uncached.
    return {};
  }
  return { plan: { key, ttlMs: route.cache.ttlMs, flight } };
}

function settle(cache: ResponseCache, plan: CachePlan, stored: Buffer | undefined): void {
  if (stored !== undefined) cache.save(plan.key, stored, plan.ttlMs);
  if (plan.flight?.leader) plan.flight.settle(stored);
}

async function dispatchWithDeadline(
  request: FastifyRequest,
  reply: FastifyReply,
  outcome: RequestOutcome,
  dialect: InboundDialect,
  exchange: InboundExchange,
  route: CompiledRoute,
  runtime: RoutingRuntime,
  defaultTimeoutMs: number,
  recorder: RequestRecorder,
  priorityOf: PriorityOf,
  facts: RequestFacts | undefined,
  checkAnswer: AnswerCheck | undefined,
): Promise<DispatchResult> {
  const timeoutMs = requestTimeoutMs(request.headers, route.timeoutMs ?? defaultTimeoutMs);
  const controller = new AbortController();
  const res = reply.raw;
  res.once('close', () => {
    if (!res.writableFinished) controller.abort(clientGone);
  });
  const deadline = setTimeout(() => {
    controller.abort(new GatewayError('deadline_exceeded', `no answer within the request deadline of ${timeoutMs} ms`));
  }, timeoutMs);
  const body = exchange.canonical;
  try {
    const result = await dispatch(
      {
        route,
        operation: dialect.operation,
        body,
        stream: exchange.stream,
        // A route whose guardrails rewrite requests or read answers is served translated: every check sees
        // the canonical request and answers, and the dialect renders what they let through.
        native:
          dialect.native && !route.policy?.canonicalOnly
            ? { operation: dialect.native, body: (model) => exchange.nativeBody(model), headers: exchange.nativeHeaders }
            : undefined,
        translationRefused:
          exchange.untranslatable ?? (route.hostedTools === 'reject' && exchange.droppedTools.length > 0 ? refusedTools(exchange.droppedTools) : undefined),
        // Upstreams see the id the client sees in x-request-id: its own when it sent one.
        requestId: request.clientRequestId ?? request.id,
        signal: controller.signal,
        deadlineAt: Date.now() + timeoutMs,
        stickyKey: (header) => stickyKeyOf(request.headers, exchange.user, header),
        facts,
        checkAnswer,
        traceparent: outcome.traceparent,
        observeAttempt: attemptObserver(recorder, outcome, dialect, body, exchange.stream),
        priority: priorityOf(request.gatewayKey?.id, request.headers),
      },
      runtime,
    );
    noteAttempts(reply, outcome, result.counts, result.target, result.variant, result.placement, result.branch);
    return result;
  } catch (error) {
    if (!(error instanceof DispatchError)) throw error;
    noteAttempts(reply, outcome, error.counts, error.target, error.variant, error.placement, error.branch);
    throw error.error;
  } finally {
    // For a stream the deadline covers the wait for its first chunk; the idle timeout guards the rest.
    clearTimeout(deadline);
  }
}

function refusedTools(tools: readonly string[]): GatewayError {
  return new GatewayError(
    'invalid_request',
    `this route does not translate requests with tools of type ${tools.map((t) => `'${t}'`).join(', ')} (hostedTools: reject), and none of its targets serves them natively`,
    { param: 'tools' },
  );
}

/** A signal that aborts (with client_disconnected) when the client closes the connection before its reply. */
function clientLeft(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  const res = reply.raw;
  if (res.destroyed) controller.abort(clientGone);
  else {
    res.once('close', () => {
      if (!res.writableFinished) controller.abort(clientGone);
    });
  }
  return controller.signal;
}

/** Takes the socket over for SSE. A hijacked reply skips Fastify's onResponse hook, so streams record their own outcome. */
function startStream(reply: FastifyReply, outcome: RequestOutcome): ServerResponse {
  outcome.hijacked = true;
  outcome.status = 200;
  reply.hijack();
  reply.raw.writeHead(200, { ...reply.getHeaders(), ...SSE_HEADERS } as OutgoingHttpHeaders);
  return reply.raw;
}

function primaryAnswer(outcome: RequestOutcome, text: string) {
  return { traceId: outcome.traceId, text, variant: outcome.variant, keyId: outcome.keyId, user: outcome.user };
}

/** Per-attempt spans, when tracing is on (otherwise no span work at all). */
function attemptObserver(recorder: RequestRecorder, outcome: RequestOutcome, dialect: InboundDialect, body: JsonObject, stream: boolean) {
  const tracing = recorder.tracing;
  const parent = outcome.span;
  if (!tracing || !parent) return undefined;
  return (target: ResolvedTarget, attempt: number) =>
    tracing.startAttempt(parent, {
      operation: dialect.label,
      providerType: target.provider.type,
      providerName: target.provider.name,
      baseUrl: target.provider.baseUrl,
      model: target.model,
      stream,
      body,
      attempt,
    });
}

function noteAttempts(
  reply: FastifyReply,
  outcome: RequestOutcome,
  counts: AttemptCounts,
  target: ResolvedTarget | undefined,
  variant: Variant | undefined,
  placement: ReplicaPlacement | undefined,
  branch: string | undefined,
): void {
  outcome.placement = placement;
  outcome.attempts = counts.attempts;
  outcome.branch = branch;
  if (branch !== undefined) reply.header(BRANCH_HEADER, branch);
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

/** What the guardrails did (`pii:redact, secrets:flag`), when any did more than pass. */
function noteVerdicts(reply: FastifyReply, run: PolicyRun): void {
  const summary = verdictHeader(run.verdicts);
  if (summary) reply.header(GUARDRAILS_HEADER, summary);
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
