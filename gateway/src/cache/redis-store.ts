/**
 * Redis cache store, shared by every replica. TTLs are Redis's own (SET … PX). Commands fail fast
 * instead of queueing while Redis is unreachable, and each is bounded by a short timeout, so a dead or
 * slow Redis turns into a cache bypass, never into a slow request.
 */
import { Redis } from 'ioredis';
import type { CacheStore } from './cache-store.js';

export interface RedisStoreOptions {
  url: string;
  keyPrefix: string;
  /** Upper bound for one command; past it the request is served without the cache. */
  timeoutMs: number;
}

export class RedisCacheStore implements CacheStore {
  readonly kind = 'redis' as const;
  private readonly redis: Redis;

  constructor(options: RedisStoreOptions) {
    this.redis = new Redis(options.url, {
      keyPrefix: options.keyPrefix,
      commandTimeout: options.timeoutMs,
      connectTimeout: Math.max(options.timeoutMs, 1000),
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      // Keep trying to reconnect in the background, at most once a second.
      retryStrategy: (times) => Math.min(times * 100, 1000),
      lazyConnect: false,
    });
    // Errors surface on the commands; an unhandled 'error' event would crash the process.
    this.redis.on('error', () => {});
  }

  async get(key: string): Promise<string | undefined> {
    return (await this.redis.get(key)) ?? undefined;
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    await this.redis.set(key, value, 'PX', Math.max(1, Math.round(ttlMs)));
  }

  async delete(key: string): Promise<void> {
    await this.redis.del(key);
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}
