/** The cache section of the config file, and the per-route policy derived from it at start. */
import { z } from 'zod';

const MiB = 1024 * 1024;

export const cacheSchema = z.strictObject({
  /** Default for every route; a route's own `cache.enabled` wins. */
  enabled: z.boolean().default(false),
  ttlSeconds: z.number().positive().default(3600),
  /** Memory store (where `state.cache` is memory): an LRU bounded by these. */
  maxBytes: z.number().int().positive().default(64 * MiB),
  maxEntryBytes: z.number().int().positive().default(1 * MiB),
  /** Redis store (where `state.cache` is redis, on `redis.url`): how the cache uses it. */
  redis: z
    .strictObject({
      keyPrefix: z.string().default('gateway:cache:'),
      /** A slower command is abandoned and the request served uncached. */
      timeoutMs: z.number().int().positive().default(50),
    })
    .prefault({}),
});

export const routeCacheSchema = z.strictObject({
  enabled: z.boolean().optional(),
  ttlSeconds: z.number().positive().optional(),
});

export type CacheConfig = z.infer<typeof cacheSchema>;
export type RouteCacheConfig = z.infer<typeof routeCacheSchema>;

export interface CachePolicy {
  readonly enabled: boolean;
  readonly ttlMs: number;
}

export function cachePolicy(global: CacheConfig, route: RouteCacheConfig | undefined): CachePolicy {
  return Object.freeze({
    enabled: route?.enabled ?? global.enabled,
    ttlMs: (route?.ttlSeconds ?? global.ttlSeconds) * 1000,
  });
}
