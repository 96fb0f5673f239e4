import { describe, expect, it } from 'vitest';
import { ERROR_CATALOGUE, GatewayError, upstreamStatusError } from '../../src/errors.js';
import { toGatewayError } from '../../src/http-errors.js';

describe('error catalogue', () => {
  it('every entry produces an OpenAI-shaped body with its own code', () => {
    for (const code of Object.keys(ERROR_CATALOGUE) as (keyof typeof ERROR_CATALOGUE)[]) {
      const error = new GatewayError(code, 'message');
      expect(error.toBody()).toEqual({ error: { message: 'message', type: ERROR_CATALOGUE[code].type, param: null, code } });
      expect(error.status).toBe(ERROR_CATALOGUE[code].status);
    }
  });

  it('forwards an OpenAI-shaped upstream error, keeping status and filling gaps', () => {
    const error = upstreamStatusError(429, { error: { message: 'slow down', code: 'rate_limit_exceeded' } }, 2000, 'p');
    expect(error.status).toBe(429);
    expect(error.retryable).toBe(true);
    expect(error.retryAfterMs).toBe(2000);
    expect(error.toBody()).toEqual({ error: { message: 'slow down', type: 'rate_limit_error', param: null, code: 'rate_limit_exceeded' } });
  });

  it('normalises a non-OpenAI upstream body and never echoes it', () => {
    const error = upstreamStatusError(401, '<html>secret page</html>', undefined, 'p');
    expect(error.status).toBe(401);
    expect(error.retryable).toBe(false);
    expect(error.toBody().error).toMatchObject({ type: 'authentication_error', code: 'upstream_error' });
    expect(JSON.stringify(error.toBody())).not.toContain('secret page');
  });

  it('maps Fastify errors by code', () => {
    expect(toGatewayError({ code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 }).code).toBe('body_too_large');
    expect(toGatewayError({ code: 'FST_ERR_CTP_EMPTY_JSON_BODY', statusCode: 400 }).code).toBe('invalid_json');
    expect(toGatewayError(Object.assign(new SyntaxError('x'), { statusCode: 400 })).code).toBe('invalid_json');
    expect(toGatewayError(new Error('boom')).code).toBe('internal_error');
    expect(toGatewayError(new Error('boom')).toBody().error.message).not.toContain('boom');
  });
});
