/**
 * An HTTP provider: an adapter (pure translation) plus the transport (undici). It owns one undici
 * Agent, so each provider has its own pools, limits and timeouts. `exchange` is the transport half on
 * its own, which replica pools reuse with one undici Pool per replica.
 */
import type { Dispatcher } from 'undici';
import type { HttpProviderConfig } from '../config/schema.js';
import { GatewayError, isGatewayError } from '../errors.js';
import { createUpstreamAgent } from '../upstream/agent.js';
import { parseRetryAfterMs } from '../upstream/retry-after.js';
import { mapTransportError } from '../upstream/transport-errors.js';
import { SseParser } from './sse.js';
import type { JsonObject, Provider, ProviderAdapter, ProviderCall, ProviderReply, StreamDecoder } from './types.js';

/** Error bodies are read for their message only; a huge one is cut here. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;

export function createHttpProvider(name: string, config: HttpProviderConfig, adapter: ProviderAdapter): Provider {
  const target = httpTarget(config.baseUrl as string, createUpstreamAgent(config));
  return {
    name,
    type: config.type,
    models: config.models,
    baseUrl: config.baseUrl,
    supports: (operation) => adapter.supports(operation),
    send: (call) => exchange(target, call, adapter, config, name),
    close: () => target.dispatcher.close(),
  };
}

/** Where an HTTP exchange goes: a dispatcher (an Agent, or one replica's Pool) and a base URL. */
export interface HttpTarget {
  readonly dispatcher: Dispatcher;
  readonly origin: string;
  /** The base URL's path without a trailing slash ('' or '/v1'). */
  readonly basePath: string;
}

export function httpTarget(baseUrl: string, dispatcher: Dispatcher): HttpTarget {
  const base = new URL(baseUrl);
  return { dispatcher, origin: base.origin, basePath: base.pathname.replace(/\/+$/, '') };
}

/** One upstream call: the adapter's request over the target, its answer (or error) read back through the adapter. */
export async function exchange(
  target: HttpTarget,
  call: ProviderCall,
  adapter: ProviderAdapter,
  timeouts: { timeoutMs: number; idleTimeoutMs: number },
  name: string,
): Promise<ProviderReply> {
  const spec = adapter.buildRequest(call);
  let response: Dispatcher.ResponseData;
  try {
    response = await target.dispatcher.request({
      origin: target.origin,
      path: spec.query ? `${target.basePath}${spec.path}?${spec.query}` : target.basePath + spec.path,
      method: 'POST',
      headers: call.traceHeaders
        ? { ...spec.headers, 'x-request-id': call.requestId, ...call.traceHeaders }
        : { ...spec.headers, 'x-request-id': call.requestId },
      body: spec.body,
      signal: call.signal,
      headersTimeout: timeouts.timeoutMs,
      bodyTimeout: timeouts.idleTimeoutMs,
    });
  } catch (error) {
    throw failure(error, call.signal, name);
  }

  if (response.statusCode >= 400) {
    const body = await readErrorBody(response.body);
    throw adapter.parseError(response.statusCode, body, parseRetryAfterMs(response.headers));
  }
  if (!call.stream) {
    let parsed: unknown;
    try {
      parsed = await response.body.json();
    } catch (error) {
      if (error instanceof SyntaxError) {
        throw new GatewayError('upstream_invalid_response', `provider '${name}' returned a body that is not JSON`);
      }
      throw failure(error, call.signal, name);
    }
    return { kind: 'json', body: adapter.parseResponse(call.operation, parsed, call.model) };
  }
  const decoder = adapter.createStreamDecoder(call);
  return { kind: 'stream', chunks: decodeStream(response.body, decoder, call.signal, name) };
}

async function* decodeStream(
  body: Dispatcher.ResponseData['body'],
  decoder: StreamDecoder,
  signal: AbortSignal,
  providerName: string,
): AsyncGenerator<JsonObject> {
  const parser = new SseParser();
  let done = false;
  try {
    // After the end marker the body is still read to its end, so the connection goes back to the pool.
    for await (const bytes of body as AsyncIterable<Uint8Array>) {
      if (done) continue;
      for (const event of parser.push(bytes)) {
        const decoded = decoder.decode(event);
        for (const chunk of decoded.chunks) yield chunk;
        if (decoded.done) {
          done = true;
          break;
        }
      }
    }
    if (!done) {
      for (const event of parser.end()) {
        const decoded = decoder.decode(event);
        for (const chunk of decoded.chunks) yield chunk;
        if (decoded.done) done = true;
      }
    }
  } catch (error) {
    throw failure(error, signal, providerName);
  }
  if (done) return;
  const last = decoder.finishWithoutMarker();
  if (!last.complete) {
    throw new GatewayError('stream_interrupted', `provider '${providerName}' ended the stream before it was complete`);
  }
  for (const chunk of last.chunks) yield chunk;
}

/** Maps a thrown error; an abort carrying a GatewayError reason (e.g. a deadline) keeps that reason. */
function failure(error: unknown, signal: AbortSignal, providerName: string): GatewayError {
  if (isGatewayError(error)) return error;
  if (signal.aborted && isGatewayError(signal.reason)) return signal.reason;
  return mapTransportError(error, providerName);
}

async function readErrorBody(body: Dispatcher.ResponseData['body']): Promise<unknown> {
  let text = '';
  try {
    for await (const bytes of body as AsyncIterable<Buffer>) {
      text += bytes.toString('utf8');
      if (text.length >= MAX_ERROR_BODY_BYTES) {
        body.destroy();
        break;
      }
    }
  } catch {
    // A broken error body still tells us the status; the text we have is enough.
  }
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
