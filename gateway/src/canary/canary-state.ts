/**
 * Where a progressive canary's state lives — in memory for one process, or in Redis so every replica
 * serves the same weight — and the lease that lets one replica decide at a time.
 */
import type { Redis } from 'ioredis';
import { lazyRedis } from '../redis/lazy-redis.js';

export type CanaryStatus = 'running' | 'paused' | 'rolled_back' | 'completed';

export interface CanaryState {
  id: string;
  status: CanaryStatus;
  stepIndex: number;
  weight: number;
  stepStartedAt: number;
  updatedAt: number;
}

export interface CanaryStateStore {
  get(id: string): Promise<CanaryState | undefined>;
  put(state: CanaryState): Promise<void>;
  /** Takes or renews the decision lease for `holder`; false while another holder has it. */
  lease(holder: string, ttlMs: number): Promise<boolean>;
  close(): Promise<void>;
}

export class MemoryCanaryStateStore implements CanaryStateStore {
  private readonly states = new Map<string, CanaryState>();
  private holder: { id: string; until: number } | undefined;

  constructor(private readonly now: () => number = Date.now) {}

  async get(id: string): Promise<CanaryState | undefined> {
    const state = this.states.get(id);
    return state && { ...state };
  }

  async put(state: CanaryState): Promise<void> {
    this.states.set(state.id, { ...state });
  }

  async lease(holder: string, ttlMs: number): Promise<boolean> {
    const now = this.now();
    if (this.holder && this.holder.id !== holder && this.holder.until > now) return false;
    this.holder = { id: holder, until: now + ttlMs };
    return true;
  }

  async close(): Promise<void> {}
}

/** Take the lease if free, or renew it if ours: one atomic script. */
const LEASE = `
local current = redis.call('GET', KEYS[1])
if current == false or current == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0`;

export class RedisCanaryStateStore implements CanaryStateStore {
  private readonly client: Promise<Redis>;

  constructor(url: string, private readonly prefix = 'gateway:canary:') {
    this.client = lazyRedis(url, { maxRetriesPerRequest: 1, connectTimeout: 2000 });
  }

  async get(id: string): Promise<CanaryState | undefined> {
    const text = await (await this.client).get(`${this.prefix}state:${id}`);
    return text ? (JSON.parse(text) as CanaryState) : undefined;
  }

  async put(state: CanaryState): Promise<void> {
    await (await this.client).set(`${this.prefix}state:${state.id}`, JSON.stringify(state));
  }

  async lease(holder: string, ttlMs: number): Promise<boolean> {
    return (await (await this.client).eval(LEASE, 1, `${this.prefix}lease`, holder, String(ttlMs))) === 1;
  }

  async close(): Promise<void> {
    (await this.client).disconnect();
  }
}
