/**
 * Browser sessions for the dashboard. A browser cannot attach an Authorization header to a page load,
 * so the admin key is exchanged once for a cookie: `<expiry>.<HMAC-SHA256(session secret, purpose,
 * admin key hash, expiry)>`. The session secret is not derivable from anything in the config file (the
 * admin key's hash, which the file may hold, only binds a session to the admin key it was issued for, so
 * rotating that key ends every session). It is stateless — any replica with the same session secret
 * accepts it — HttpOnly and SameSite=Strict (no cross-site request carries it), and expires after eight
 * hours.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SESSION_COOKIE = 'gw_dashboard';
const LIFETIME_MS = 8 * 60 * 60 * 1000;
/** Names what the HMAC signs, so the secret's signatures mean nothing anywhere else. */
const PURPOSE = 'gateway-dashboard-session-v1';

export interface SessionKeys {
  /** The signing secret: configured (shared by replicas) or random per process. */
  secret: string;
  adminHash: string;
}

function sign(keys: SessionKeys, expiry: number): string {
  return createHmac('sha256', keys.secret).update(`${PURPOSE}\n${keys.adminHash}\n${expiry}`).digest('base64url');
}

export function newSession(keys: SessionKeys, now: number = Date.now()): { value: string; maxAgeSeconds: number } {
  const expiry = now + LIFETIME_MS;
  return { value: `${expiry}.${sign(keys, expiry)}`, maxAgeSeconds: LIFETIME_MS / 1000 };
}

export function validSession(keys: SessionKeys, value: string | undefined, now: number = Date.now()): boolean {
  if (!value) return false;
  const [expiryText, signature] = value.split('.');
  const expiry = Number(expiryText);
  if (!Number.isFinite(expiry) || expiry < now || !signature) return false;
  const expected = Buffer.from(sign(keys, expiry));
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
