/** Builds the configured cache store once, at start. */
import type { CacheConfig } from './cache-config.js';
import type { CacheStore } from './cache-store.js';
import { MemoryCacheStore } from './memory-store.js';
import { RedisCacheStore } from './redis-store.js';

export function createCacheStore(config: CacheConfig): CacheStore {
  const kind = config.store ?? (config.redis.url ? 'redis' : 'memory');
  if (kind === 'redis') {
    if (!config.redis.url) throw new Error('cache.store is redis but no cache.redis.url or REDIS_URL is set');
    return new RedisCacheStore({ url: config.redis.url, keyPrefix: config.redis.keyPrefix, timeoutMs: config.redis.timeoutMs });
  }
  return new MemoryCacheStore({ maxBytes: config.maxBytes, maxEntryBytes: config.maxEntryBytes });
}
