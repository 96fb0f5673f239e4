/**
 * Where cached answers live. Two implementations share one contract test suite: memory (one process)
 * and Redis (shared by every replica). Values are opaque bytes (a stored answer, ready to send); TTLs are
 * per entry.
 */
export interface CacheStore {
  readonly kind: 'memory' | 'redis';
  get(key: string): Promise<CacheLease | undefined>;
  /** Stores a copy: the caller keeps its buffer. */
  set(key: string, value: Buffer, ttlMs: number): Promise<void>;
  delete(key: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * Bytes a lookup found, valid until released. The memory store lends its own buffer (no copy) and frees
 * an entry's memory the moment it is evicted — unless a lease still holds it, e.g. while a hit is being
 * written to a socket, in which case it is freed at the last release.
 */
export interface CacheLease {
  readonly bytes: Buffer;
  release(): void;
}
