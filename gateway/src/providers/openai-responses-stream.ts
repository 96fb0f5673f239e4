/**
 * Reads an OpenAI Responses API stream (`POST /responses` with `stream: true`) for native pass-through:
 * typed events (`response.created` … `response.completed`), each one passed on as it is. The stream is
 * whole once `response.completed` or `response.incomplete` arrived (OpenAI sends no `[DONE]`; servers
 * that do are understood too). An `error` event or `response.failed` is a failure of the attempt: before
 * the first event reaches the client it is retried or falls back like any upstream error; after it, the
 * client's stream ends with the gateway's failure events.
 */
import { upstreamError } from '../errors.js';
import { parseEventJson } from './sse.js';
import type { JsonObject, StreamDecoder } from './types.js';

/** Error codes of a Responses stream that say another attempt may succeed. */
const RETRYABLE_CODES = new Set(['server_error', 'rate_limit_exceeded', 'vector_store_timeout']);

export function createResponsesStreamDecoder(providerName: string): StreamDecoder {
  let complete = false;
  return {
    decode(event) {
      if (event.data.trim() === '[DONE]') return { chunks: [], done: true };
      const data = parseEventJson(event, providerName);
      if (!data || typeof data !== 'object') return { chunks: [], done: false };
      const item = data as JsonObject;
      switch (item.type) {
        case 'error':
          throw streamError(item.code, item.message, providerName);
        case 'response.failed': {
          const error = ((item.response as JsonObject | undefined)?.error ?? {}) as JsonObject;
          throw streamError(error.code, error.message, providerName);
        }
        case 'response.completed':
        case 'response.incomplete':
          complete = true;
          return { chunks: [item], done: true };
        default:
          return { chunks: [item], done: false };
      }
    },
    finishWithoutMarker: () => ({ complete, chunks: [] }),
  };
}

function streamError(code: unknown, message: unknown, providerName: string) {
  const text = typeof message === 'string' && message ? message : `provider '${providerName}' failed the response`;
  const codeText = typeof code === 'string' ? code : 'server_error';
  const status = codeText === 'rate_limit_exceeded' ? 429 : RETRYABLE_CODES.has(codeText) ? 500 : 400;
  const type = status === 429 ? 'rate_limit_error' : status >= 500 ? 'server_error' : 'invalid_request_error';
  return upstreamError(status, { error: { message: text, type, param: null, code: codeText } }, status >= 429, undefined);
}
