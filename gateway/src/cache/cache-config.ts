/** The cache section of the config file, and the per-route policy derived from it at start. */
import { z } from 'zod';

const MiB = 1024 * 1024;

export const cacheSchema = z.strictObject({
  /** Default for every route; a route's own `cache.enabled` wins. */
  enabled: z.boolean().default(false),
  ttlSeconds: z.number().positive().default(3600),
  /** memory (one process) or redis (shared by replicas); redis is the default when a Redis URL is set. */
  store: z.enum(['memory', 'redis']).optional(),
  maxBytes: z.number().int().positive().default(64 * MiB),
  maxEntryBytes: z.number().int().positive().default(1 * MiB),
  redis: z
    .strictObject({
      /** Also taken from REDIS_URL. */
      url: z.string().min(1).optional(),
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
