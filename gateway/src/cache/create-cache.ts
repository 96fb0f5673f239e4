/** Builds the configured cache once, at start. */
import type { FastifyBaseLogger } from 'fastify';
import type { GatewayConfig } from '../config/schema.js';
import type { GatewayMetrics } from '../telemetry/metrics.js';
import { ThrottledLog } from '../telemetry/throttled-log.js';
import { redisUrlFor } from '../state/state-stores.js';
import type { CacheStore } from './cache-store.js';
import { MemoryCacheStore } from './memory-store.js';
import { RedisCacheStore } from './redis-store.js';
import { ResponseCache } from './response-cache.js';

/** The cache's store, where `state.cache` places it. */
export function createCacheStore(config: GatewayConfig): CacheStore {
  const url = redisUrlFor(config, 'cache');
  const { cache } = config;
  if (url) return new RedisCacheStore({ url, keyPrefix: cache.redis.keyPrefix, timeoutMs: cache.redis.timeoutMs });
  return new MemoryCacheStore({ maxBytes: cache.maxBytes, maxEntryBytes: cache.maxEntryBytes });
}

/** The response cache, or undefined when no route can use it (then requests skip the cache step). */
export function createResponseCache(
  config: GatewayConfig,
  injected: CacheStore | undefined,
  metrics: GatewayMetrics,
  log: FastifyBaseLogger,
): ResponseCache | undefined {
  const anyRouteCaches = config.cache.enabled || Object.values(config.routes).some((route) => route.cache?.enabled === true);
  if (!anyRouteCaches) return undefined;
  const store = injected ?? createCacheStore(config);
  let lastError: unknown;
  const throttled = new ThrottledLog(30_000, (suppressed) => {
    log.warn({ store: store.kind, err: lastError, suppressed }, 'cache store failing; serving uncached');
  });
  return new ResponseCache(store, {
    error(op, error) {
      metrics.countCacheError(store.kind, op);
      lastError = error;
      throttled.hit();
    },
  });
}
