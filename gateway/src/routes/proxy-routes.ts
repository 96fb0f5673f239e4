/**
 * The OpenAI-compatible endpoints. Each request: validate, resolve the model, dispatch to the route's
 * targets, then reply as JSON or stream SSE as chunks arrive. A client that disconnects aborts the
 * upstream request at once.
 */
import type { OutgoingHttpHeaders } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError } from '../errors.js';
import { dispatch, DispatchError, type DispatchResult } from '../proxy/dispatch.js';
import { validateRequestBody } from '../proxy/request-schemas.js';
import { writeSseStream } from '../proxy/write-sse.js';
import type { Operation } from '../providers/types.js';
import type { ModelResolver } from '../routing/model-resolver.js';

export interface ProxyRouteDeps {
  resolver: ModelResolver;
}

const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  'x-accel-buffering': 'no',
};

const clientGone = new GatewayError('internal_error', 'client disconnected');

export function registerProxyRoutes(app: FastifyInstance, deps: ProxyRouteDeps): void {
  app.post('/v1/chat/completions', createProxyHandler('chat', deps));
  app.post('/v1/completions', createProxyHandler('completions', deps));
  app.post('/v1/embeddings', createProxyHandler('embeddings', deps));
}

function createProxyHandler(operation: Operation, { resolver }: ProxyRouteDeps) {
  return async function proxyHandler(request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
    const body = validateRequestBody(operation, request.body);
    const route = resolver.resolve(body.model);
    if (!route) {
      throw new GatewayError('model_not_found', `The model '${body.model}' does not exist on this gateway`, { param: 'model' });
    }
    const stream = operation !== 'embeddings' && body.stream === true;

    const controller = new AbortController();
    const res = reply.raw;
    res.once('close', () => {
      if (!res.writableFinished) controller.abort(clientGone);
    });

    let result: DispatchResult;
    try {
      result = await dispatch({ route, operation, body, stream, requestId: request.id, signal: controller.signal });
    } catch (error) {
      if (!(error instanceof DispatchError)) throw error;
      reply.header('x-gateway-attempts', String(error.attempts));
      if (error.target) setTargetHeaders(reply, error.target.provider.name, error.target.model);
      throw error.error;
    }
    reply.header('x-gateway-attempts', String(result.attempts));
    setTargetHeaders(reply, result.target.provider.name, result.target.model);

    if (result.kind === 'json') {
      if ('model' in result.body) result.body.model = body.model;
      return result.body;
    }
    reply.hijack();
    res.writeHead(200, { ...reply.getHeaders(), ...SSE_HEADERS } as OutgoingHttpHeaders);
    await writeSseStream(res, result.first, result.rest, body.model);
    return undefined;
  };
}

function setTargetHeaders(reply: FastifyReply, provider: string, model: string): void {
  reply.header('x-gateway-provider', provider);
  // Model names are free text from config or the client; keep the header valid.
  reply.header('x-gateway-model', encodeURI(model));
}
