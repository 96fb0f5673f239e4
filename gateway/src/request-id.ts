/**
 * Ids of a request. The trace id is always made here, unique per request: a client cannot choose it, so
 * two requests never share a trace and feedback lands on the trace it names. A client's own
 * `x-request-id` is kept beside it when it is a sane token — echoed back, sent upstream and stored in
 * its own column — so ids can still be followed across systems.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

const SAFE_ID = /^[A-Za-z0-9._:@-]{1,128}$/;

/** Fastify's genReqId: the request's trace id. */
export function newTraceId(): string {
  return randomUUID();
}

/** The client's `x-request-id` when it is a sane token (at most 128 characters), otherwise undefined. */
export function clientRequestIdOf(headers: IncomingHttpHeaders): string | undefined {
  const header = headers['x-request-id'];
  return typeof header === 'string' && SAFE_ID.test(header) ? header : undefined;
}
