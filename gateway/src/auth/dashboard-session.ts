/**
 * Browser sessions for the dashboard. A browser cannot attach an Authorization header to a page load,
 * so the admin key is exchanged once for a cookie: `<expiry>.<HMAC-SHA256(admin key hash, expiry)>`.
 * It is stateless — any replica configured with the same admin key accepts it — HttpOnly and
 * SameSite=Strict (no cross-site request carries it), and expires after eight hours.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SESSION_COOKIE = 'gw_dashboard';
const LIFETIME_MS = 8 * 60 * 60 * 1000;

function sign(secret: string, expiry: number): string {
  return createHmac('sha256', secret).update(String(expiry)).digest('base64url');
}

export function newSession(secret: string, now: number = Date.now()): { value: string; maxAgeSeconds: number } {
  const expiry = now + LIFETIME_MS;
  return { value: `${expiry}.${sign(secret, expiry)}`, maxAgeSeconds: LIFETIME_MS / 1000 };
}

export function validSession(secret: string, value: string | undefined, now: number = Date.now()): boolean {
  if (!value) return false;
  const [expiryText, signature] = value.split('.');
  const expiry = Number(expiryText);
  if (!Number.isFinite(expiry) || expiry < now || !signature) return false;
  const expected = Buffer.from(sign(secret, expiry));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/** The session cookie from a Cookie header. */
export function sessionCookie(header: string | undefined): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const [name, ...rest] = part.trim().split('=');
    if (name === SESSION_COOKIE) return rest.join('=');
  }
  return undefined;
}
