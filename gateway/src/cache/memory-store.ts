/**
 * In-process cache store: an LRU bounded by total bytes and by entry size, with a TTL per entry.
 */
import { LRUCache } from 'lru-cache';
import type { CacheStore } from './cache-store.js';

export interface MemoryStoreOptions {
  maxBytes: number;
  maxEntryBytes: number;
  /** Clock for TTLs (tests move time by hand). */
  now?: () => number;
}

export class MemoryCacheStore implements CacheStore {
  readonly kind = 'memory' as const;
  private readonly lru: LRUCache<string, string>;

  constructor(options: MemoryStoreOptions) {
    this.lru = new LRUCache<string, string>({
      maxSize: options.maxBytes,
      maxEntrySize: options.maxEntryBytes,
      // UTF-16 strings take two bytes a code unit in V8's worst case; count that, so the bound holds.
      sizeCalculation: (value, key) => (value.length + key.length) * 2,
      ttlAutopurge: false,
      ...(options.now ? { perf: { now: options.now } } : {}),
    });
  }

  async get(key: string): Promise<string | undefined> {
    return this.lru.get(key);
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    this.lru.set(key, value, { ttl: ttlMs });
  }

  async delete(key: string): Promise<void> {
    this.lru.delete(key);
  }

  /** Bytes held, as counted against maxBytes. */
  get calculatedSize(): number {
    return this.lru.calculatedSize;
  }

  async close(): Promise<void> {
    this.lru.clear();
  }
}
