/**
 * The gateway keys a request may present: from config (hashed at load) and created through the admin
 * API (kept in memory, or in Redis so every replica knows them). Lookup is by the presented key's hash,
 * confirmed with a constant-time comparison.
 */
import type { KeyBudget, KeyConfig, KeyLimits } from './auth-config.js';
import { hashKey, sameHash } from './key-hash.js';

export interface GatewayKey {
  id: string;
  hash: string;
  routes: readonly string[];
  limits: KeyLimits;
  budget: KeyBudget;
  metadata: Readonly<Record<string, string>>;
  /** Where it came from: config keys cannot be deleted through the API. */
  source: 'config' | 'api';
}

/** Where API-created keys are kept. */
export interface KeyStore {
  list(): Promise<GatewayKey[]>;
  put(key: GatewayKey): Promise<void>;
  remove(id: string): Promise<boolean>;
}

export class MemoryKeyStore implements KeyStore {
  private readonly keys = new Map<string, GatewayKey>();
  async list(): Promise<GatewayKey[]> {
    return [...this.keys.values()];
  }
  async put(key: GatewayKey): Promise<void> {
    this.keys.set(key.id, key);
  }
  async remove(id: string): Promise<boolean> {
    return this.keys.delete(id);
  }
}

export function keyFromConfig(config: KeyConfig): GatewayKey {
  return {
    id: config.id,
    hash: config.hash,
    routes: config.routes,
    limits: config.limits,
    budget: config.budget,
    metadata: config.metadata,
    source: 'config',
  };
}

export class KeyRegistry {
  private byHash = new Map<string, GatewayKey>();
  private readonly configKeys: GatewayKey[];

  constructor(configKeys: readonly KeyConfig[], readonly store: KeyStore) {
    this.configKeys = configKeys.map(keyFromConfig);
    this.rebuild([]);
  }

  get size(): number {
    return this.byHash.size;
  }

  /** Reloads API-created keys (at start, after a change, and on an interval for other replicas' changes). */
  async refresh(): Promise<void> {
    this.rebuild(await this.store.list());
  }

  private rebuild(apiKeys: GatewayKey[]): void {
    const next = new Map<string, GatewayKey>();
    for (const key of [...apiKeys, ...this.configKeys]) next.set(key.hash, key);
    this.byHash = next;
  }

  find(presented: string): GatewayKey | undefined {
    const hash = hashKey(presented);
    const key = this.byHash.get(hash);
    return key && sameHash(key.hash, hash) ? key : undefined;
  }

  all(): GatewayKey[] {
    return [...this.byHash.values()];
  }

  isConfigKey(id: string): boolean {
    return this.configKeys.some((key) => key.id === id);
  }
}

/** Whether a key may call `route` (a route name or `<provider>/<model>`). */
export function keyAllows(key: GatewayKey, route: string): boolean {
  for (const pattern of key.routes) {
    if (pattern === '*' || pattern === route) return true;
    if (pattern.endsWith('*') && route.startsWith(pattern.slice(0, -1))) return true;
  }
  return false;
}
