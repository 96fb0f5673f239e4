/**
 * Turns anything thrown while serving a request into a catalogue error, so every non-2xx body has
 * OpenAI's shape. Fastify's own errors (bad JSON, body too large, …) are mapped by their codes.
 */
import { GatewayError, isGatewayError } from './errors.js';

interface FastifyLikeError {
  code?: string;
  statusCode?: number;
  message?: string;
}

export function toGatewayError(error: unknown): GatewayError {
  if (isGatewayError(error)) return error;
  const e = (error ?? {}) as FastifyLikeError;
  switch (e.code) {
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new GatewayError('invalid_json', 'request body is empty; expected a JSON object');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new GatewayError('invalid_json', 'request body is not valid JSON');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new GatewayError('body_too_large', 'request body is larger than this gateway accepts');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new GatewayError('invalid_request', e.message ?? 'invalid request');
  }
  if (error instanceof SyntaxError && e.statusCode === 400) {
    return new GatewayError('invalid_json', `request body is not valid JSON: ${error.message}`);
  }
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new GatewayError('invalid_request', e.message ?? 'invalid request', { status: e.statusCode });
  }
  return new GatewayError('internal_error', 'the gateway failed to handle this request', { cause: error });
}
