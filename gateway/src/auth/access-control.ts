/**
 * Who may do what: client requests present a gateway key (`Authorization: Bearer <key>` — the OpenAI
 * SDK's apiKey — or `x-api-key`); /admin and /api need the admin key. With no keys configured the
 * gateway is open (config validation allows that only on loopback or with `auth.mode: none`).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { GatewayError } from '../errors.js';
import type { AuthConfig } from './auth-config.js';
import { hashKey, sameHash } from './key-hash.js';
import type { GatewayKey, KeyRegistry } from './key-registry.js';
import { newSession, sessionCookie, validSession } from './dashboard-session.js';

export type Access = 'client' | 'admin' | 'open';

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
  private readonly adminHash: string | undefined;

  constructor(config: AuthConfig, readonly registry: KeyRegistry) {
    this.adminHash = config.adminKeyHash;
    this.keysRequired = config.mode === 'keys' || (config.mode === undefined && config.keys.length > 0);
    this.adminRequired = this.adminHash !== undefined || this.keysRequired;
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

  /** Passes with the admin key (Bearer or x-api-key) or a dashboard session cookie; throws 401 otherwise. */
  admin(headers: IncomingHttpHeaders): void {
    if (!this.adminRequired) return;
    if (this.isAdminKey(presentedKey(headers))) return;
    if (this.adminHash && validSession(this.adminHash, sessionCookie(headers.cookie))) return;
    throw new GatewayError('admin_key_required', 'this endpoint needs the admin key');
  }

  isAdminKey(presented: string | undefined): boolean {
    return Boolean(presented && this.adminHash && sameHash(hashKey(presented), this.adminHash));
  }

  /** A dashboard session for a browser that proved it has the admin key. */
  startSession(): { value: string; maxAgeSeconds: number } | undefined {
    return this.adminHash ? newSession(this.adminHash) : undefined;
  }
}
