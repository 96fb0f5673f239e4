/**
 * Request ids: a client's `x-request-id` is kept when it is a sane token (so ids can be followed
 * across systems), otherwise a fresh UUID is made. The id is also the trace id.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

const SAFE_ID = /^[A-Za-z0-9._:@-]{1,128}$/;

export function requestIdFrom(request: IncomingMessage): string {
  const header = request.headers['x-request-id'];
  if (typeof header === 'string' && SAFE_ID.test(header)) return header;
  return randomUUID();
}
