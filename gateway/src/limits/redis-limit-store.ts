/**
 * Redis counters for limits and budgets, shared by every replica. Each operation is one Lua script, so
 * check-and-add is atomic across replicas. ioredis is imported only when this store is used.
 */
import type { Redis } from 'ioredis';
import { lazyRedis } from '../redis/lazy-redis.js';
import { orStateUnavailable } from '../redis/state-unavailable.js';
import type { LimitStore } from './limit-store.js';

const ADD = `
local v = redis.call('INCRBYFLOAT', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return v`;

const RESERVE = `
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current + tonumber(ARGV[1]) > tonumber(ARGV[2]) then return {0, tostring(current)} end
local v = redis.call('INCRBYFLOAT', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return {1, v}`;

const WHAT = 'this key\'s rate-limit and budget usage';

export class RedisLimitStore implements LimitStore {
  readonly kind = 'redis' as const;
  private readonly client: Promise<Redis>;

  constructor(url: string, private readonly prefix = 'gateway:limits:') {
    this.client = lazyRedis(url, { maxRetriesPerRequest: 1, enableOfflineQueue: true, connectTimeout: 2000 });
  }

  async add(name: string, amount: number, ttlMs: number): Promise<number> {
    const redis = await this.client;
    return Number(await orStateUnavailable(WHAT, redis.eval(ADD, 1, this.prefix + name, String(amount), String(Math.ceil(ttlMs)))));
  }

  async get(name: string): Promise<number> {
    return Number((await orStateUnavailable(WHAT, (await this.client).get(this.prefix + name))) ?? 0);
  }

  async reserve(name: string, amount: number, limit: number, ttlMs: number): Promise<{ ok: boolean; total: number }> {
    const redis = await this.client;
    const [ok, total] = (await orStateUnavailable(WHAT, redis.eval(RESERVE, 1, this.prefix + name, String(amount), String(limit), String(Math.ceil(ttlMs))))) as [number, string];
    return { ok: ok === 1, total: Number(total) };
  }

  async close(): Promise<void> {
    (await this.client).disconnect();
  }
}
