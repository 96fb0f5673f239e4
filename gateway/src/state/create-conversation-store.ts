/** Builds the Responses API's conversation store where `state.responses` places it, once, at start. */
import { MemoryCacheStore } from '../cache/memory-store.js';
import { RedisCacheStore } from '../cache/redis-store.js';
import type { GatewayConfig } from '../config/schema.js';
import { ConversationStore } from './conversation-store.js';
import { redisUrlFor } from './state-stores.js';

export function createConversationStore(config: GatewayConfig): ConversationStore {
  const { responses } = config;
  const ttlMs = responses.ttlSeconds * 1000;
  const url = redisUrlFor(config, 'responses');
  const store = url
    ? new RedisCacheStore({ url, keyPrefix: responses.redis.keyPrefix, timeoutMs: responses.redis.timeoutMs })
    : new MemoryCacheStore({ maxBytes: responses.maxBytes, maxEntryBytes: responses.maxEntryBytes });
  return new ConversationStore(store, ttlMs, responses.maxEntryBytes);
}
