/**
 * The gateway's own request headers on proxy endpoints: trace tags, a shorter deadline, and the header
 * that identifies a user for canary stickiness. Plain functions of the headers, checked here once.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { GatewayError } from '../errors.js';

/** A request header that shortens (never lengthens) the route's deadline. */
const TIMEOUT_HEADER = 'x-gateway-timeout-ms';
const METADATA_HEADER = 'x-gateway-metadata';

export function parseMetadata(header: string | string[] | undefined): Record<string, string> | undefined {
  if (header === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(Array.isArray(header) ? (header[0] ?? '') : header);
  } catch {
    value = undefined;
  }
  const valid =
    value !== null &&
    typeof value === 'object' &&
    !Array.isArray(value) &&
    Object.keys(value).length <= 32 &&
    Object.entries(value).every(([k, v]) => k.length <= 64 && typeof v === 'string' && v.length <= 512);
  if (!valid) {
    throw new GatewayError('invalid_request', `${METADATA_HEADER} must be a JSON object of at most 32 string tags`, { param: METADATA_HEADER });
  }
  return value as Record<string, string>;
}

/**
 * The key's tags, then the client's tags under names the key does not set: a client may add tags but
 * never overwrite its key's (a tenant must not move its cost to another team).
 */
export function withKeyTags(keyTags: Readonly<Record<string, string>>, clientTags: Record<string, string> | undefined): Record<string, string> {
  const merged: Record<string, string> = { ...keyTags };
  if (clientTags) for (const [name, value] of Object.entries(clientTags)) if (!Object.hasOwn(merged, name)) merged[name] = value;
  return merged;
}

export function requestTimeoutMs(headers: IncomingHttpHeaders, routeTimeoutMs: number): number {
  const header = headers[TIMEOUT_HEADER];
  if (typeof header !== 'string') return routeTimeoutMs;
  const asked = Number(header);
  return Number.isInteger(asked) && asked > 0 ? Math.min(asked, routeTimeoutMs) : routeTimeoutMs;
}

export function stickyKeyOf(headers: IncomingHttpHeaders, user: string | undefined, header: string | undefined): string | undefined {
  if (user !== undefined && user.length > 0) return user;
  if (header) {
    const value = headers[header];
    if (typeof value === 'string' && value.length > 0) return value;
  }
  return undefined;
}
