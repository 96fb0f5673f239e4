/**
 * In-process cache store: an LRU bounded by total bytes and by entry size, with a TTL per entry.
 *
 * What it counts is what it holds: each value is one buffer that owns exactly its bytes (a view into a
 * larger buffer — Node's 8 KiB pool, a socket read — is copied out, so it cannot pin more than it counts),
 * plus the key and a fixed allowance for the entry's bookkeeping.
 */
import { LRUCache } from 'lru-cache';
import type { CacheStore } from './cache-store.js';

/**
 * Per entry, besides the value's bytes and the key: the LRU's slots, the Buffer and ArrayBuffer objects,
 * the native backing-store record and the allocator's header (about 330 bytes measured on Node 20).
 */
export const ENTRY_OVERHEAD_BYTES = 512;

export interface MemoryStoreOptions {
  maxBytes: number;
  maxEntryBytes: number;
  /** Clock for TTLs (tests move time by hand). */
  now?: () => number;
}

export class MemoryCacheStore implements CacheStore {
  readonly kind = 'memory' as const;
  private readonly lru: LRUCache<string, Buffer>;

  constructor(options: MemoryStoreOptions) {
    this.lru = new LRUCache<string, Buffer>({
      maxSize: options.maxBytes,
      maxEntrySize: options.maxEntryBytes,
      // Keys are base64url (one byte a character).
      sizeCalculation: (value, key) => value.byteLength + key.length + ENTRY_OVERHEAD_BYTES,
      ttlAutopurge: false,
      ...(options.now ? { perf: { now: options.now } } : {}),
    });
  }

  async get(key: string): Promise<Buffer | undefined> {
    return this.lru.get(key);
  }

  async set(key: string, value: Buffer, ttlMs: number): Promise<void> {
    this.lru.set(key, ownBytes(value), { ttl: ttlMs });
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

function ownBytes(value: Buffer): Buffer {
  if (value.byteOffset === 0 && value.buffer.byteLength === value.byteLength) return value;
  const copy = Buffer.allocUnsafeSlow(value.byteLength);
  value.copy(copy);
  return copy;
}
