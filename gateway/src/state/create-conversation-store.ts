/** Builds the Responses API's conversation store where the config places it, once, at start. */
import { MemoryCacheStore } from '../cache/memory-store.js';
import { RedisCacheStore } from '../cache/redis-store.js';
import type { GatewayConfig } from '../config/schema.js';
import { ConversationStore } from './conversation-store.js';

export function createConversationStore(config: GatewayConfig): ConversationStore {
  const { responses } = config;
  const url = config.cache.redis.url;
  const kind = responses.store ?? (url ? 'redis' : 'memory');
  const ttlMs = responses.ttlSeconds * 1000;
  if (kind === 'redis') {
    if (!url) throw new Error('responses.store is redis but no Redis URL is set (REDIS_URL or cache.redis.url)');
    return new ConversationStore(new RedisCacheStore({ url, keyPrefix: responses.redis.keyPrefix, timeoutMs: responses.redis.timeoutMs }), ttlMs, responses.maxEntryBytes);
  }
  return new ConversationStore(new MemoryCacheStore({ maxBytes: responses.maxBytes, maxEntryBytes: responses.maxEntryBytes }), ttlMs, responses.maxEntryBytes);
}
