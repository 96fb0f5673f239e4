/** Gateway keys are kept and compared as SHA-256 hashes; the comparison is constant-time. */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export function sameHash(a: string, b: string): boolean {
  const left = Buffer.from(a, 'hex');
  const right = Buffer.from(b, 'hex');
  return left.length === right.length && timingSafeEqual(left, right);
}

/** A new key: 32 random bytes, URL-safe, with a prefix that makes leaked keys easy to grep for. */
export function newKey(): string {
  return `gwk-${randomBytes(32).toString('base64url')}`;
}
