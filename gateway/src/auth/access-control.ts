/**
 * Who may do what: client requests present a gateway key (`Authorization: Bearer <key>` — the OpenAI
 * SDK's apiKey — or `x-api-key`); /admin and /api need the admin key. A dashboard session cookie stands
 * in for the admin key on what the dashboard itself uses (`admin`: /api, canary actions), never on key
 * management (`admin-key`: /admin/keys). With no keys configured the gateway is open (config
 * validation allows that only on loopback or with `auth.mode: none`).
 */
import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { GatewayError } from '../errors.js';
import type { AuthConfig } from './auth-config.js';
import { hashKey, sameHash } from './key-hash.js';
import type { GatewayKey, KeyRegistry } from './key-registry.js';
import { newSession, sessionCookie, validSession, type SessionKeys } from './dashboard-session.js';

/** `admin`: the admin key or a dashboard session. `admin-key`: the admin key itself. */
export type Access = 'client' | 'admin' | 'admin-key' | 'open';

export function presentedKey(headers: IncomingHttpHeaders): string | undefined {
  const authorization = headers.authorization;
  if (typeof authorization === 'string' && authorization.startsWith('Bearer ')) {
    const key = authorization.slice(7).trim();
    if (key) return key;
  }
  const apiKey = headers['x-api-key'];
  return typeof apiKey === 'string' && apiKey ? apiKey : undefined;
}

export class AccessControl {
  /** Client requests need a key. */
  readonly keysRequired: boolean;
  /** /admin and /api need the admin key. */
  readonly adminRequired: boolean;
  /** True when sessions are signed with a random per-process secret (none configured). */
  readonly sessionsPerProcess: boolean;
  private readonly adminHash: string | undefined;
  private readonly sessionKeys: SessionKeys | undefined;

  constructor(config: AuthConfig, readonly registry: KeyRegistry) {
    this.adminHash = config.adminKeyHash;
    this.keysRequired = config.mode === 'keys' || (config.mode === undefined && config.keys.length > 0);
    this.adminRequired = this.adminHash !== undefined || this.keysRequired;
    this.sessionsPerProcess = this.adminHash !== undefined && config.sessionSecret === undefined;
    this.sessionKeys = this.adminHash === undefined ? undefined : {
      secret: config.sessionSecret?.reveal() ?? randomBytes(32).toString('base64url'),
      adminHash: this.adminHash,
    };
  }

  /** The caller's key; throws 401 when one is required and missing or wrong. Undefined when the gateway is open. */
  client(headers: IncomingHttpHeaders): GatewayKey | undefined {
    if (!this.keysRequired) return undefined;
    const presented = presentedKey(headers);
    if (!presented) throw new GatewayError('missing_api_key', 'this gateway needs a key: send Authorization: Bearer <key>');
    const key = this.registry.find(presented);
    if (!key) throw new GatewayError('invalid_api_key', 'the key sent is not a valid gateway key');
    return key;
  }

  /**
   * Passes with the admin key (Bearer or x-api-key) or, when `sessionAllowed`, a dashboard session
   * cookie; throws 401 otherwise.
   */
  admin(headers: IncomingHttpHeaders, sessionAllowed = true): void {
    if (!this.adminRequired) return;
    if (this.isAdminKey(presentedKey(headers))) return;
    if (sessionAllowed && this.sessionKeys && validSession(this.sessionKeys, sessionCookie(headers.cookie))) return;
    throw new GatewayError('admin_key_required', 'this endpoint needs the admin key');
  }

  isAdminKey(presented: string | undefined): boolean {
    return Boolean(presented && this.adminHash && sameHash(hashKey(presented), this.adminHash));
  }

  /** A dashboard session for a browser that proved it has the admin key. */
  startSession(): { value: string; maxAgeSeconds: number } | undefined {
    return this.sessionKeys ? newSession(this.sessionKeys) : undefined;
  }
}
