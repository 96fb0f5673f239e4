/**
 * One Redis connection per store, imported and opened only when a deployment uses Redis. Errors surface
 * on commands; an unhandled 'error' event would crash the process, so it is swallowed here.
 */
import type { Redis, RedisOptions } from 'ioredis';

export function lazyRedis(url: string, options: RedisOptions = { maxRetriesPerRequest: 1, connectTimeout: 2000 }): Promise<Redis> {
  return import('ioredis').then(({ Redis: RedisClient }) => {
    const redis = new RedisClient(url, options);
    redis.on('error', () => {});
    return redis;
  });
}
