/**
 * The one error catalogue. Every non-2xx body the gateway produces is built from an entry here, so a
 * client always sees OpenAI's shape: {"error": {"message", "type", "param", "code"}}.
 *
 * `code` is the stable, machine-readable part (tests and clients branch on it); `message` is for humans.
 */

export type OpenAIErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'rate_limit_error'
  | 'server_error';

interface CatalogueEntry {
  readonly status: number;
  readonly type: OpenAIErrorType;
  /** Whether another attempt (same or another target) may succeed. */
  readonly retryable: boolean;
}

export const ERROR_CATALOGUE = {
  invalid_json: { status: 400, type: 'invalid_request_error', retryable: false },
  invalid_request: { status: 400, type: 'invalid_request_error', retryable: false },
  body_too_large: { status: 413, type: 'invalid_request_error', retryable: false },
  /** The request's head or body did not arrive within server.requestReceiveTimeoutMs. */
  request_timeout: { status: 408, type: 'invalid_request_error', retryable: false },
  model_not_found: { status: 404, type: 'invalid_request_error', retryable: false },
  missing_api_key: { status: 401, type: 'authentication_error', retryable: false },
  invalid_api_key: { status: 401, type: 'authentication_error', retryable: false },
  admin_key_required: { status: 401, type: 'authentication_error', retryable: false },
  model_not_allowed: { status: 403, type: 'permission_error', retryable: false },
  rate_limit_exceeded: { status: 429, type: 'rate_limit_error', retryable: false },
  budget_exceeded: { status: 429, type: 'rate_limit_error', retryable: false },
  key_not_found: { status: 404, type: 'invalid_request_error', retryable: false },
  key_exists: { status: 409, type: 'invalid_request_error', retryable: false },
  route_not_found: { status: 404, type: 'invalid_request_error', retryable: false },
  operation_not_supported: { status: 400, type: 'invalid_request_error', retryable: false },
  upstream_timeout: { status: 504, type: 'server_error', retryable: true },
  upstream_unreachable: { status: 502, type: 'server_error', retryable: true },
  /** An upstream answered with an error whose body was not OpenAI-shaped; the status is the upstream's. */
  upstream_error: { status: 502, type: 'server_error', retryable: true },
  /** The upstream answered 2xx with something we could not read. */
  upstream_invalid_response: { status: 502, type: 'server_error', retryable: true },
  /** Retryable only matters before the first byte: after it, the gateway never retries. */
  stream_interrupted: { status: 502, type: 'server_error', retryable: true },
  /** The request's total deadline passed across its attempts and fallbacks. */
  deadline_exceeded: { status: 504, type: 'server_error', retryable: false },
  shutting_down: { status: 503, type: 'server_error', retryable: true },
  /**
   * Every replica of a pool stayed saturated for as long as the request could wait in the gateway's
   * queue (or the queue was full). Retryable: a route moves on to its next target; the client gets
   * Retry-After.
   */
  overloaded: { status: 429, type: 'rate_limit_error', retryable: true },
  trace_not_found: { status: 404, type: 'invalid_request_error', retryable: false },
  /** `previous_response_id` names no stored response of this key (never stored, deleted, expired, another key's). */
  previous_response_not_found: { status: 400, type: 'invalid_request_error', retryable: false },
  /** GET/DELETE /v1/responses/{id}: no stored response of this key by that id. */
  response_not_found: { status: 404, type: 'invalid_request_error', retryable: false },
  trace_store_unavailable: { status: 503, type: 'server_error', retryable: true },
  /** Redis, where state.limits / state.keys / state.canary / state.responses put that state, did not answer. */
  state_store_unavailable: { status: 503, type: 'server_error', retryable: true },
  internal_error: { status: 500, type: 'server_error', retryable: false },
  /** The client went away before the answer (nginx's 499); nobody receives this body, it names the trace row. */
  client_disconnected: { status: 499, type: 'invalid_request_error', retryable: false },
  /** A guardrail with action deny refused the request or its answer; the code names it (`guardrail_denied:<name>`). */
  guardrail_denied: { status: 400, type: 'invalid_request_error', retryable: false },
  /** A fail-closed guardrail's service did not answer usably (`guardrail_unavailable:<name>`). */
  guardrail_unavailable: { status: 503, type: 'server_error', retryable: true },
} as const satisfies Record<string, CatalogueEntry>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** Upstream statuses that are worth another attempt by default. */
const RETRYABLE_UPSTREAM_STATUSES = new Set([408, 409, 429, 500, 502, 503, 504, 529]);

export class GatewayError extends Error {
  readonly status: number;
  /** The catalogue code, with its detail after a colon when it has one (`guardrail_denied:pii`). */
  readonly code: string;
  /** The catalogue entry the error comes from (`code` without its detail). */
  readonly catalogueCode: ErrorCode;
  readonly type: string;
  readonly param: string | null;
  readonly retryable: boolean;
  /** A ready-made body to forward as-is (an upstream's own OpenAI-shaped error). */
  readonly forwardedBody: OpenAIErrorBody | undefined;
  /** Upstream `Retry-After` hint in milliseconds, when the upstream sent one. */
  readonly retryAfterMs: number | undefined;
  /** Extra reply headers (e.g. x-ratelimit-*). */
  readonly headers: Readonly<Record<string, string>> | undefined;
  /**
   * Raised to end a stream that already started (a guardrail's deny): the client gets this error as the
   * stream's last event, as it is, instead of `stream_interrupted`.
   */
  readonly endsStream: boolean;

  constructor(
    code: ErrorCode,
    message: string,
    options: {
      param?: string | null;
      status?: number;
      retryable?: boolean;
      forwardedBody?: OpenAIErrorBody;
      retryAfterMs?: number;
      headers?: Record<string, string>;
      cause?: unknown;
      /** Appended to the code after a colon, for codes that name what raised them (`guardrail_denied:pii`). */
      detail?: string;
      endsStream?: boolean;
    } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    const entry: CatalogueEntry = ERROR_CATALOGUE[code];
    this.name = 'GatewayError';
    this.code = options.detail === undefined ? code : `${code}:${options.detail}`;
    this.catalogueCode = code;
    this.endsStream = options.endsStream ?? false;
    this.status = options.status ?? entry.status;
    this.type = entry.type;
    this.param = options.param ?? null;
    this.retryable = options.retryable ?? entry.retryable;
    this.forwardedBody = options.forwardedBody;
    this.retryAfterMs = options.retryAfterMs;
    this.headers = options.headers;
  }

  toBody(): OpenAIErrorBody {
    if (this.forwardedBody) return this.forwardedBody;
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export function isGatewayError(value: unknown): value is GatewayError {
  return value instanceof GatewayError;
}

function typeForStatus(status: number): OpenAIErrorType {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

/** True when `value` already is an OpenAI error body, so it can be forwarded unchanged. */
export function isOpenAIErrorBody(value: unknown): value is OpenAIErrorBody {
  if (typeof value !== 'object' || value === null) return false;
  const error = (value as { error?: unknown }).error;
  return (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as { message?: unknown }).message === 'string'
  );
}

/** An upstream's error answer: the client gets `body` with the upstream's status. */
export function upstreamError(status: number, body: OpenAIErrorBody, retryable: boolean, retryAfterMs: number | undefined): GatewayError {
  return new GatewayError('upstream_error', body.error.message, {
    status,
    retryable,
    forwardedBody: body,
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  });
}

/**
 * An upstream answered with a non-2xx status. Forward its body when it is OpenAI-shaped (filling in
 * any missing fields), otherwise normalise it; the status is kept either way.
 */
export function upstreamStatusError(
  status: number,
  body: unknown,
  retryAfterMs: number | undefined,
  providerName: string,
): GatewayError {
  const retryable = RETRYABLE_UPSTREAM_STATUSES.has(status);
  if (isOpenAIErrorBody(body)) {
    const e = body.error as Partial<OpenAIErrorBody['error']> & { message: string };
    const forwardedBody: OpenAIErrorBody = {
      error: {
        ...e,
        message: e.message,
        type: typeof e.type === 'string' ? e.type : typeForStatus(status),
        param: typeof e.param === 'string' ? e.param : null,
        code: typeof e.code === 'string' ? e.code : e.code == null ? null : String(e.code),
      },
    };
    return upstreamError(status, forwardedBody, retryable, retryAfterMs);
  }
  const message = `provider '${providerName}' answered HTTP ${status}`;
  return upstreamError(status, { error: { message, type: typeForStatus(status), param: null, code: 'upstream_error' } }, retryable, retryAfterMs);
}
