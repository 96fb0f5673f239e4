/**
 * Redis cache store, shared by every replica. TTLs are Redis's own (SET … PX). Commands fail fast
 * instead of queueing while Redis is unreachable, and each is bounded by a short timeout, so a dead or
 * slow Redis turns into a cache bypass, never into a slow request.
 */
import type { Redis } from 'ioredis';
import { lazyRedis } from '../redis/lazy-redis.js';
import type { CacheLease, CacheStore } from './cache-store.js';

export interface RedisStoreOptions {
  url: string;
  keyPrefix: string;
  /** Upper bound for one command; past it the request is served without the cache. */
  timeoutMs: number;
}

export class RedisCacheStore implements CacheStore {
  readonly kind = 'redis' as const;
  /** ioredis is imported only by deployments that use Redis. */
  private readonly client: Promise<Redis>;

  constructor(options: RedisStoreOptions) {
    this.client = lazyRedis(options.url, {
      keyPrefix: options.keyPrefix,
      commandTimeout: options.timeoutMs,
      connectTimeout: Math.max(options.timeoutMs, 1000),
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      // Keep trying to reconnect in the background, at most once a second.
      retryStrategy: (times) => Math.min(times * 100, 1000),
      lazyConnect: false,
    });
  }

  /** Each get is a fresh buffer of the caller's: nothing to give back. */
  async get(key: string): Promise<CacheLease | undefined> {
    const bytes = await (await this.client).getBuffer(key);
    return bytes ? { bytes, release: () => {} } : undefined;
  }

  async set(key: string, value: Buffer, ttlMs: number): Promise<void> {
    await (await this.client).set(key, value, 'PX', Math.max(1, Math.round(ttlMs)));
  }

  async delete(key: string): Promise<void> {
    await (await this.client).del(key);
  }

  async close(): Promise<void> {
    (await this.client).disconnect();
  }
}
