/**
 * Where cached answers live. Two implementations share one contract test suite: memory (one process)
 * and Redis (shared by every replica). Values are opaque strings; TTLs are per entry.
 */
export interface CacheStore {
  readonly kind: 'memory' | 'redis';
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, ttlMs: number): Promise<void>;
  delete(key: string): Promise<void>;
  close(): Promise<void>;
}
