/**
 * In-process cache store: an LRU bounded by total bytes and by entry size, with a TTL per entry.
 *
 * The store owns its memory. What it counts is what it holds: each value is one buffer of its own (a copy
 * of what it was given, so no view into a larger buffer can pin more than is counted), plus the key and a
 * fixed allowance for the entry's bookkeeping. And an entry that leaves — evicted, replaced, expired,
 * deleted — gives its memory back at once: its buffer is detached, which frees the bytes now instead of
 * at V8's next full collection (V8 lets tens of MB of such garbage gather first, which made a 16 MiB
 * cache cost 3.6–4.3× its bound in RSS). A hit lends the entry's own buffer; while the lease is held (the
 * answer is being written to a socket) an entry that leaves is freed only at the last release.
 */
import { LRUCache } from 'lru-cache';
import type { CacheLease, CacheStore } from './cache-store.js';

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
  /** Buffers with leases out, and how many. */
  private readonly leased = new Map<Buffer, number>();
  /** Buffers that left the cache while leased: freed at their last release. */
  private readonly departed = new Set<Buffer>();

  constructor(options: MemoryStoreOptions) {
    this.lru = new LRUCache<string, Buffer>({
      maxSize: options.maxBytes,
      maxEntrySize: options.maxEntryBytes,
      // Keys are base64url (one byte a character).
      sizeCalculation: (value, key) => value.byteLength + key.length + ENTRY_OVERHEAD_BYTES,
      ttlAutopurge: false,
      dispose: (value) => this.departing(value),
      ...(options.now ? { perf: { now: options.now } } : {}),
    });
  }

  async get(key: string): Promise<CacheLease | undefined> {
    const value = this.lru.get(key);
    if (!value) return undefined;
    this.leased.set(value, (this.leased.get(value) ?? 0) + 1);
    let released = false;
    return {
      bytes: value,
      release: () => {
        if (released) return;
        released = true;
        this.returned(value);
      },
    };
  }

  async set(key: string, value: Buffer, ttlMs: number): Promise<void> {
    const size = value.byteLength + key.length + ENTRY_OVERHEAD_BYTES;
    // Too large to keep: not even copied (and an older answer under the key is stale now).
    if (size > this.lru.maxEntrySize) {
      this.lru.delete(key);
      return;
    }
    const own = Buffer.allocUnsafeSlow(value.byteLength);
    value.copy(own);
    this.lru.set(key, own, { ttl: ttlMs });
  }

  async delete(key: string): Promise<void> {
    this.lru.delete(key);
  }

  /** Bytes held, as counted against maxBytes. */
  get calculatedSize(): number {
    return this.lru.calculatedSize;
  }

  /** Bytes of entries that left the cache but are still lent out. */
  get departedBytes(): number {
    let bytes = 0;
    for (const value of this.departed) bytes += value.byteLength;
    return bytes;
  }

  async close(): Promise<void> {
    this.lru.clear();
  }

  private departing(value: Buffer): void {
    if (this.leased.has(value)) this.departed.add(value);
    else free(value);
  }

  private returned(value: Buffer): void {
    const leases = (this.leased.get(value) ?? 1) - 1;
    if (leases > 0) {
      this.leased.set(value, leases);
      return;
    }
    this.leased.delete(value);
    if (this.departed.delete(value)) free(value);
  }
}

/** Gives a buffer's memory back now: detaching its ArrayBuffer releases the backing store. */
function free(value: Buffer): void {
  (value.buffer as ArrayBuffer).transfer(0);
}
