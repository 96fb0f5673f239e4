/**
 * Cache keys: a SHA-256 over the canonical request — object keys sorted at every depth, so field order
 * never matters — covering everything that changes the answer and nothing that does not. Serialising is
 * on the hot path of every cached route, so it appends to one string and skips work where it can.
 */
import { createHash } from 'node:crypto';

/** Fields that never change the answer: how it is delivered, and who is tracked as asking. */
const IGNORED_FIELDS = new Set(['stream', 'stream_options', 'user', 'metadata', 'store']);

/** Keys that need no escaping can be quoted by hand. */
const PLAIN_KEY = /^[A-Za-z0-9_.$-]*$/;

function quoteKey(key: string): string {
  return PLAIN_KEY.test(key) ? `"${key}"` : JSON.stringify(key);
}

function sortedKeys(object: Record<string, unknown>): string[] {
  const keys = Object.keys(object);
  for (let i = 1; i < keys.length; i++) {
    if ((keys[i - 1] as string) > (keys[i] as string)) return keys.sort();
  }
  return keys;
}

function append(value: unknown, skip: ReadonlySet<string> | undefined): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i ? ',' : '') + append(value[i], undefined);
    return `${out}]`;
  }
  let out = '{';
  let first = true;
  for (const key of sortedKeys(value as Record<string, unknown>)) {
    const child = (value as Record<string, unknown>)[key];
    if (child === undefined || skip?.has(key)) continue;
    out += `${first ? '' : ','}${quoteKey(key)}:${append(child, undefined)}`;
    first = false;
  }
  return `${out}}`;
}

export function canonicalJson(value: unknown): string {
  return append(value, undefined);
}

export function cacheKey(namespace: string, operation: string, body: Record<string, unknown>): string {
  return createHash('sha256').update(`${namespace}\u0000${operation}\u0000${append(body, IGNORED_FIELDS)}`).digest('base64url');
}
