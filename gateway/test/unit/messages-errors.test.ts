/**
 * Errors on the Messages endpoint: every gateway error code in Anthropic's statuses and types, upstream
 * errors (Anthropic's recorded ones, and other providers') kept or mapped, and the official SDK raising
 * the class it raises for the real API.
 */
import Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { ERROR_CATALOGUE, GatewayError, upstreamStatusError, type ErrorCode } from '../../src/errors.js';
import { anthropicErrorBody, anthropicErrorOf } from '../../src/inbound/messages-errors.js';
import { toGatewayError } from '../../src/providers/anthropic-mapping.js';
import { recorded } from '../helpers/recorded-responses.js';

/** Anthropic's documented statuses for its error types (platform.claude.com/docs/en/api/errors). */
const DOCUMENTED: Record<string, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  timeout_error: 504,
  overloaded_error: 529,
};

/** The SDK's error class for a reply with this status and body. */
function sdkErrorClass(status: number, body: unknown): string {
  return Anthropic.APIError.generate(status, body as object, undefined, new Headers()).constructor.name;
}

describe('gateway error codes on the Messages endpoint', () => {
  it.each(Object.keys(ERROR_CATALOGUE) as ErrorCode[])('%s maps to a documented Anthropic type and its status', (code) => {
    const error = new GatewayError(code, 'x');
    const { status, type } = anthropicErrorOf(error);
    expect(DOCUMENTED).toHaveProperty(type);
    // Other 4xx keep their status as invalid_request_error, as Anthropic documents for them.
    if (type === 'invalid_request_error') expect(status).toBe(error.status);
    else expect(status).toBe(DOCUMENTED[type]);
  });

  it('the table the README documents', () => {
    const of = (code: ErrorCode) => anthropicErrorOf(new GatewayError(code, 'x'));
    expect(of('invalid_request')).toEqual({ status: 400, type: 'invalid_request_error' });
    expect(of('missing_api_key')).toEqual({ status: 401, type: 'authentication_error' });
    expect(of('model_not_allowed')).toEqual({ status: 403, type: 'permission_error' });
    expect(of('model_not_found')).toEqual({ status: 404, type: 'not_found_error' });
    expect(of('body_too_large')).toEqual({ status: 413, type: 'request_too_large' });
    expect(of('rate_limit_exceeded')).toEqual({ status: 429, type: 'rate_limit_error' });
    expect(of('budget_exceeded')).toEqual({ status: 429, type: 'rate_limit_error' });
    expect(of('upstream_unreachable')).toEqual({ status: 500, type: 'api_error' });
    expect(of('deadline_exceeded')).toEqual({ status: 504, type: 'timeout_error' });
    expect(of('shutting_down')).toEqual({ status: 529, type: 'overloaded_error' });
    // A saturated replica pool is the gateway overloaded: Anthropic's own word for it (the SDK retries 529).
    expect(of('overloaded')).toEqual({ status: 529, type: 'overloaded_error' });
    expect(of('request_timeout')).toEqual({ status: 408, type: 'invalid_request_error' });
  });
});

describe('upstream errors on the Messages endpoint', () => {
  it('an Anthropic upstream keeps its type, status and message (recorded 429 and 400)', () => {
    for (const [name, status, type] of [
      ['rate-limit-error', 429, 'rate_limit_error'],
      ['invalid-request-error', 400, 'invalid_request_error'],
    ] as const) {
      const body = (recorded('anthropic', name) as { body: { error: { message: string } } }).body;
      const error = toGatewayError(status, body, undefined, 'claude');
      expect(anthropicErrorOf(error)).toEqual({ status, type });
      expect(error.toBody().error.message).toBe(body.error.message);
    }
    const overloaded = toGatewayError(529, { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }, undefined, 'claude');
    expect(anthropicErrorOf(overloaded)).toEqual({ status: 529, type: 'overloaded_error' });
  });

  it('other providers: documented statuses keep their type, 502/503 are overloaded, other 4xx invalid requests', () => {
    const of = (status: number) => anthropicErrorOf(upstreamStatusError(status, { error: { message: 'm', type: 'x', code: null } }, undefined, 'openai'));
    expect(of(400)).toEqual({ status: 400, type: 'invalid_request_error' });
    expect(of(401)).toEqual({ status: 401, type: 'authentication_error' });
    expect(of(404)).toEqual({ status: 404, type: 'not_found_error' });
    expect(of(429)).toEqual({ status: 429, type: 'rate_limit_error' });
    expect(of(402)).toEqual({ status: 402, type: 'invalid_request_error' });
    expect(of(500)).toEqual({ status: 500, type: 'api_error' });
    expect(of(503)).toEqual({ status: 529, type: 'overloaded_error' });
    expect(of(502)).toEqual({ status: 529, type: 'overloaded_error' });
    expect(of(504)).toEqual({ status: 504, type: 'timeout_error' });
    expect(of(501)).toEqual({ status: 500, type: 'api_error' });
  });

  it('the official SDK raises its class for each status, and reads type and message from the body', () => {
    const cases: [ErrorCode, string][] = [
      ['invalid_request', 'BadRequestError'],
      ['invalid_api_key', 'AuthenticationError'],
      ['model_not_allowed', 'PermissionDeniedError'],
      ['model_not_found', 'NotFoundError'],
      ['body_too_large', 'ContentTooLargeError'],
      ['rate_limit_exceeded', 'RateLimitError'],
      ['internal_error', 'InternalServerError'],
      ['upstream_timeout', 'GatewayTimeoutError'],
      ['shutting_down', 'OverloadedError'],
    ];
    for (const [code, className] of cases) {
      const { status, type } = anthropicErrorOf(new GatewayError(code, 'why'));
      const body = anthropicErrorBody(type, 'why', 'req_1');
      expect(sdkErrorClass(status, body)).toBe(className);
      const error = Anthropic.APIError.generate(status, body, undefined, new Headers()) as InstanceType<typeof Anthropic.APIError>;
      expect(error.type).toBe(type);
      expect(error.apiMessage).toBe('why');
    }
  });
});
