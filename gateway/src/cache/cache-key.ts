/**
 * Cache keys: a SHA-256 over the canonical request — object keys sorted at every depth, so field order
 * never matters — covering everything that changes the answer and nothing that does not.
 */
import { createHash } from 'node:crypto';

/** Fields that never change the answer: how it is delivered, and who is tracked as asking. */
const IGNORED_FIELDS = new Set(['stream', 'stream_options', 'user', 'metadata', 'store']);

export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(value).sort();
  let out = '{';
  for (const key of keys) {
    const child = (value as Record<string, unknown>)[key];
    if (child === undefined) continue;
    if (out.length > 1) out += ',';
    out += `${JSON.stringify(key)}:${canonicalJson(child)}`;
  }
  return `${out}}`;
}

export function cacheKey(namespace: string, operation: string, body: Record<string, unknown>): string {
  const relevant: Record<string, unknown> = {};
  for (const key of Object.keys(body)) if (!IGNORED_FIELDS.has(key)) relevant[key] = body[key];
  return createHash('sha256').update(`${namespace}\u0000${operation}\u0000${canonicalJson(relevant)}`).digest('base64url');
}
