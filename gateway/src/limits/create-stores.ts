/** Where limits, budgets and API-created keys live: Redis when a Redis URL is set (shared), else memory. */
import { MemoryKeyStore, type KeyStore } from '../auth/key-registry.js';
import { RedisKeyStore } from '../auth/redis-key-store.js';
import type { GatewayConfig } from '../config/schema.js';
import type { LimitStore } from './limit-store.js';
import { MemoryLimitStore } from './memory-limit-store.js';
import { RedisLimitStore } from './redis-limit-store.js';

function redisUrl(config: GatewayConfig): string | undefined {
  const kind = config.auth.limitStore ?? (config.cache.redis.url ? 'redis' : 'memory');
  if (kind === 'memory') return undefined;
  if (!config.cache.redis.url) throw new Error('auth.limitStore is redis but no Redis URL is set (REDIS_URL or cache.redis.url)');
  return config.cache.redis.url;
}

export function createLimitStore(config: GatewayConfig): LimitStore {
  const url = redisUrl(config);
  return url ? new RedisLimitStore(url) : new MemoryLimitStore();
}

export function createKeyStore(config: GatewayConfig): KeyStore & { close?: () => Promise<void> } {
  const url = redisUrl(config);
  return url ? new RedisKeyStore(url) : new MemoryKeyStore();
}
