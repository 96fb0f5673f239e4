/**
 * Where a progressive canary's state lives — in memory for one process, or in Redis so every replica
 * serves the same weight — and the lease that lets one replica decide at a time.
 *
 * Checking the lease when a round starts is not enough: a leader can stall (a slow trace query, a
 * blocked event loop) past its lease, another replica takes over and decides, and the stalled one then
 * writes a decision made on numbers that are no longer current — a second promotion, or a weight moved
 * backwards. So every write is conditional, in one atomic step: the state's `version` must still be the
 * one the decision was based on (compare-and-set), and a decision made under a lease must still hold
 * that very lease — its fencing token, which changes each time the lease changes hands.
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
  /** Incremented by every write; 0 before the first. */
  version: number;
}

/** A held decision lease: who holds it, and the fencing token of this tenure. */
export interface Lease {
  holder: string;
  token: number;
}

export interface CanaryStateStore {
  get(id: string): Promise<CanaryState | undefined>;
  /**
   * Stores `next` (whose version must be one more than the stored one) only if the stored state is
   * still at `next.version − 1` (0: none stored yet) and, when `lease` is given, that lease is still
   * held. Returns whether it was written.
   */
  write(next: CanaryState, lease?: Lease): Promise<boolean>;
  /**
   * Takes the decision lease for `holder` if it is free, or renews it if `holder` has it; undefined
   * while another holder has it. Taking it (not renewing it) issues a new, larger fencing token.
   */
  lease(holder: string, ttlMs: number): Promise<Lease | undefined>;
  close(): Promise<void>;
}

/** States written before versions existed read as version 0. */
function parseState(text: string): CanaryState {
  const state = JSON.parse(text) as CanaryState;
  return { ...state, version: state.version ?? 0 };
}

export class MemoryCanaryStateStore implements CanaryStateStore {
  private readonly states = new Map<string, CanaryState>();
  private held: { lease: Lease; until: number } | undefined;
  private tokens = 0;

  constructor(private readonly now: () => number = Date.now) {}

  async get(id: string): Promise<CanaryState | undefined> {
    const state = this.states.get(id);
    return state && { ...state };
  }

  async write(next: CanaryState, lease?: Lease): Promise<boolean> {
    if (lease && !this.holds(lease)) return false;
    if ((this.states.get(next.id)?.version ?? 0) !== next.version - 1) return false;
    this.states.set(next.id, { ...next });
    return true;
  }

  async lease(holder: string, ttlMs: number): Promise<Lease | undefined> {
    const now = this.now();
    const current = this.held && this.held.until > now ? this.held.lease : undefined;
    if (current && current.holder !== holder) return undefined;
    const lease = current ?? { holder, token: ++this.tokens };
    this.held = { lease, until: now + ttlMs };
    return lease;
  }

  private holds(lease: Lease): boolean {
    return this.held !== undefined && this.held.until > this.now() && this.held.lease.holder === lease.holder && this.held.lease.token === lease.token;
  }

  async close(): Promise<void> {}
}

/**
 * Takes the lease if free (with a new token from the fence counter) or renews it if ours. The lease's
 * value is `<token>:<holder>`. Returns the token, or -1 when another holder has the lease.
 */
const LEASE = `
local current = redis.call('GET', KEYS[1])
if current then
  local token, holder = string.match(current, '^(%d+):(.*)$')
  if holder ~= ARGV[1] then return -1 end
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return tonumber(token)
end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], token .. ':' .. ARGV[1], 'PX', ARGV[2])
return token`;

/**
 * Compare-and-set of a state: written only if the stored version is ARGV[2] (0: none stored) and, when
 * ARGV[3] is not empty, the lease's value is still exactly ARGV[3]. Returns 1 when written.
 */
const WRITE = `
if ARGV[3] ~= '' and redis.call('GET', KEYS[2]) ~= ARGV[3] then return 0 end
local current = redis.call('GET', KEYS[1])
local version = 0
if current then version = cjson.decode(current).version or 0 end
if tostring(version) ~= ARGV[2] then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
return 1`;

export class RedisCanaryStateStore implements CanaryStateStore {
  private readonly client: Promise<Redis>;

  constructor(url: string, private readonly prefix = 'gateway:canary:') {
    this.client = lazyRedis(url, { maxRetriesPerRequest: 1, connectTimeout: 2000 });
  }

  async get(id: string): Promise<CanaryState | undefined> {
    const text = await (await this.client).get(`${this.prefix}state:${id}`);
    return text ? parseState(text) : undefined;
  }

  async write(next: CanaryState, lease?: Lease): Promise<boolean> {
    const keys = [`${this.prefix}state:${next.id}`, `${this.prefix}lease`];
    const args = [JSON.stringify(next), String(next.version - 1), lease ? `${lease.token}:${lease.holder}` : ''];
    return (await (await this.client).eval(WRITE, keys.length, ...keys, ...args)) === 1;
  }

  async lease(holder: string, ttlMs: number): Promise<Lease | undefined> {
    const token = Number(await (await this.client).eval(LEASE, 2, `${this.prefix}lease`, `${this.prefix}fence`, holder, String(ttlMs)));
    return token > 0 ? { holder, token } : undefined;
  }

  async close(): Promise<void> {
    (await this.client).disconnect();
  }
}
