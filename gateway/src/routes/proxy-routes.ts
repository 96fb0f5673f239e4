/**
 * The OpenAI-compatible endpoints. Each request: validate, resolve the model, dispatch through the
 * route within its deadline, then reply as JSON or stream SSE as chunks arrive. A client that
 * disconnects aborts the upstream request at once.
 */
import type { OutgoingHttpHeaders } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError } from '../errors.js';
import { dispatch, DispatchError, type AttemptCounts, type DispatchResult, type RoutingRuntime } from '../proxy/dispatch.js';
import { validateRequestBody } from '../proxy/request-schemas.js';
import { writeSseStream } from '../proxy/write-sse.js';
import type { Operation } from '../providers/types.js';
import type { ModelResolver } from '../routing/model-resolver.js';
import type { ResolvedTarget, Variant } from '../routing/route-tree.js';
import type { RequestOutcome } from '../telemetry/request-outcome.js';

export interface ProxyRouteDeps {
  resolver: ModelResolver;
  runtime: RoutingRuntime;
  /** Deadline for a request whose route sets none. */
  defaultTimeoutMs: number;
  /** Records a request that the gateway finished itself (streams; JSON replies are recorded on response). */
  recordOutcome: (outcome: RequestOutcome) => void;
}

const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  'x-accel-buffering': 'no',
};

/** A request header that shortens (never lengthens) the route's deadline. */
const TIMEOUT_HEADER = 'x-gateway-timeout-ms';

const clientGone = new GatewayError('internal_error', 'client disconnected');

/** Route config marking the proxy endpoints, so hooks know which requests produce an outcome. */
export interface ProxyRouteConfig {
  operation: Operation;
}

export function registerProxyRoutes(app: FastifyInstance, deps: ProxyRouteDeps): void {
  const route = (path: string, operation: Operation): void => {
    app.post(path, { config: { operation } satisfies ProxyRouteConfig }, createProxyHandler(operation, deps));
  };
  route('/v1/chat/completions', 'chat');
  route('/v1/completions', 'completions');
  route('/v1/embeddings', 'embeddings');
}

function createProxyHandler(operation: Operation, { resolver, runtime, defaultTimeoutMs, recordOutcome }: ProxyRouteDeps) {
  return async function proxyHandler(request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
    const outcome = request.outcome as RequestOutcome;
    const body = validateRequestBody(operation, request.body);
    const route = resolver.resolve(body.model);
    if (!route) {
      throw new GatewayError('model_not_found', `The model '${body.model}' does not exist on this gateway`, { param: 'model' });
    }
    const stream = operation !== 'embeddings' && body.stream === true;
    outcome.route = route.name;
    outcome.stream = stream;
    const timeoutMs = requestTimeoutMs(request, route.timeoutMs ?? defaultTimeoutMs);

    const controller = new AbortController();
    const res = reply.raw;
    res.once('close', () => {
      if (!res.writableFinished) controller.abort(clientGone);
    });
    const deadline = setTimeout(() => {
      controller.abort(new GatewayError('deadline_exceeded', `no answer within the request deadline of ${timeoutMs} ms`));
    }, timeoutMs);

    let result: DispatchResult;
    try {
      result = await dispatch(
        {
          route,
          operation,
          body,
          stream,
          requestId: request.id,
          signal: controller.signal,
          deadlineAt: Date.now() + timeoutMs,
          stickyKey: (header) => stickyKeyOf(request, body.user, header),
        },
        runtime,
      );
    } catch (error) {
      if (!(error instanceof DispatchError)) throw error;
      noteAttempts(reply, outcome, error.counts, error.target, error.variant);
      throw error.error;
    } finally {
      // For a stream the deadline covers the wait for its first chunk; the idle timeout guards the rest.
      clearTimeout(deadline);
    }
    noteAttempts(reply, outcome, result.counts, result.target, result.variant);

    if (result.kind === 'json') {
      if ('model' in result.body) result.body.model = body.model;
      return result.body;
    }
    // A hijacked reply skips Fastify's onResponse hook, so the stream records its own outcome.
    outcome.hijacked = true;
    reply.hijack();
    res.writeHead(200, { ...reply.getHeaders(), ...SSE_HEADERS } as OutgoingHttpHeaders);
    outcome.status = 200;
    outcome.streamResult = await writeSseStream(res, result.first, result.rest, body.model);
    if (outcome.streamResult === 'interrupted') outcome.errorCode = 'stream_interrupted';
    recordOutcome(outcome);
    return undefined;
  };
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
  outcome.model = target?.model;
  outcome.variant = variant;
  reply.header('x-gateway-attempts', String(counts.attempts));
  if (target) {
    reply.header('x-gateway-provider', target.provider.name);
    // Model names are free text from config or the client; keep the header valid.
    reply.header('x-gateway-model', encodeURI(target.model));
  }
  if (variant) reply.header('x-gateway-variant', variant);
}
