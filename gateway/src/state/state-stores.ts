/**
 * Builds the store of each piece of state where the configuration places it (see state-config.ts). The
 * response cache's store is built by cache/create-cache.ts from the same placement.
 */
import { MemoryKeyStore, type KeyStore } from '../auth/key-registry.js';
import { RedisKeyStore } from '../auth/redis-key-store.js';
import { MemoryCanaryStateStore, RedisCanaryStateStore, type CanaryStateStore } from '../canary/canary-state.js';
import type { GatewayConfig } from '../config/schema.js';
import type { LimitStore } from '../limits/limit-store.js';
import { MemoryLimitStore } from '../limits/memory-limit-store.js';
import { RedisLimitStore } from '../limits/redis-limit-store.js';
import type { StatePiece } from './state-config.js';

/** The Redis URL when `piece` lives in Redis; undefined when it lives in memory. */
export function redisUrlFor(config: GatewayConfig, piece: StatePiece): string | undefined {
  if (config.state[piece] === 'memory') return undefined;
  // Validation refuses a piece placed in Redis without a URL; this guards against a config built by hand.
  if (!config.redis.url) throw new Error(`state.${piece} is redis but no redis.url or REDIS_URL is set`);
  return config.redis.url;
}

export function createLimitStore(config: GatewayConfig): LimitStore {
  const url = redisUrlFor(config, 'limits');
  return url ? new RedisLimitStore(url) : new MemoryLimitStore();
}

export function createKeyStore(config: GatewayConfig): KeyStore & { close?: () => Promise<void> } {
  const url = redisUrlFor(config, 'keys');
  return url ? new RedisKeyStore(url) : new MemoryKeyStore();
}

export function createCanaryStateStore(config: GatewayConfig): CanaryStateStore {
  const url = redisUrlFor(config, 'canary');
  return url ? new RedisCanaryStateStore(url) : new MemoryCanaryStateStore();
}
