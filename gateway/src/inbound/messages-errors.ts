/**
 * Errors on the Messages endpoint, in Anthropic's shape and with Anthropic's statuses and types, so an
 * Anthropic SDK raises the error class it would for the real API:
 *
 *   {"type": "error", "error": {"type": "rate_limit_error", "message": "…"}, "request_id": "…"}
 *
 * Every code of the gateway's catalogue maps to one Anthropic type (the table below, documented in the
 * README). An upstream's error keeps the upstream's status where Anthropic uses it; an Anthropic
 * upstream's error keeps its own type and message.
 */
import type { ErrorCode, GatewayError } from '../errors.js';
import { ERROR_TYPE_STATUSES, STATUS_ERROR_TYPES } from '../providers/anthropic-mapping.js';

export type AnthropicErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'request_too_large'
  | 'rate_limit_error'
  | 'api_error'
  | 'timeout_error'
  | 'overloaded_error';

export interface AnthropicErrorBody {
  type: 'error';
  error: { type: string; message: string };
  request_id: string | null;
}

/**
 * Each gateway error code → Anthropic's error type. The status is the one Anthropic answers that type
 * with, except for 4xx codes Anthropic does not list (408, 409, 499), which keep their status with
 * `invalid_request_error` as Anthropic's own documentation does for them.
 */
export const MESSAGES_ERROR_TYPES: Readonly<Record<ErrorCode, AnthropicErrorType>> = {
  invalid_json: 'invalid_request_error',
  invalid_request: 'invalid_request_error',
  operation_not_supported: 'invalid_request_error',
  request_timeout: 'invalid_request_error',
  key_exists: 'invalid_request_error',
  client_disconnected: 'invalid_request_error',
  body_too_large: 'request_too_large',
  model_not_found: 'not_found_error',
  route_not_found: 'not_found_error',
  key_not_found: 'not_found_error',
  trace_not_found: 'not_found_error',
  response_not_found: 'not_found_error',
  previous_response_not_found: 'not_found_error',
  missing_api_key: 'authentication_error',
  invalid_api_key: 'authentication_error',
  admin_key_required: 'authentication_error',
  model_not_allowed: 'permission_error',
  rate_limit_exceeded: 'rate_limit_error',
  budget_exceeded: 'rate_limit_error',
  upstream_timeout: 'timeout_error',
  deadline_exceeded: 'timeout_error',
  upstream_unreachable: 'api_error',
  upstream_invalid_response: 'api_error',
  stream_interrupted: 'api_error',
  trace_store_unavailable: 'api_error',
  state_store_unavailable: 'api_error',
  internal_error: 'api_error',
  shutting_down: 'overloaded_error',
  overloaded: 'overloaded_error',
  // The guardrail's name is in the message: Anthropic's error shape has no code.
  guardrail_denied: 'invalid_request_error',
  guardrail_unavailable: 'api_error',
  // By the upstream's status (below); this entry is the fallback.
  upstream_error: 'api_error',
};

const KNOWN_TYPES = new Set<string>(Object.values(MESSAGES_ERROR_TYPES));

/** Anthropic's status and type for a gateway error. */
export function anthropicErrorOf(error: GatewayError): { status: number; type: string } {
  if (error.code === 'upstream_error') return upstreamErrorOf(error);
  const type = MESSAGES_ERROR_TYPES[error.catalogueCode] ?? 'api_error';
  if (type === 'invalid_request_error') return { status: error.status, type };
  return { status: ERROR_TYPE_STATUSES[type] ?? 500, type };
}

/**
 * An upstream's error. An Anthropic upstream's own type travels as the error's code (see
 * providers/anthropic-mapping.ts) and is kept with its status. Otherwise the status decides: the ones
 * Anthropic documents keep their type, other 4xx are `invalid_request_error`, 502/503 — an upstream or
 * its proxy overloaded — are `overloaded_error`, other 5xx `api_error`.
 */
function upstreamErrorOf(error: GatewayError): { status: number; type: string } {
  const code = error.toBody().error.code;
  if (code && KNOWN_TYPES.has(code)) return { status: error.status, type: code };
  const type = STATUS_ERROR_TYPES[error.status];
  if (type) return { status: error.status, type };
  if (error.status < 500) return { status: error.status, type: 'invalid_request_error' };
  if (error.status === 502 || error.status === 503) return { status: ERROR_TYPE_STATUSES.overloaded_error!, type: 'overloaded_error' };
  return { status: ERROR_TYPE_STATUSES.api_error!, type: 'api_error' };
}

export function anthropicErrorBody(type: string, message: string, requestId: string | null): AnthropicErrorBody {
  return { type: 'error', error: { type, message }, request_id: requestId };
}
