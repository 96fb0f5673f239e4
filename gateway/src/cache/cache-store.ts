/**
 * Where cached answers live. Two implementations share one contract test suite: memory (one process)
 * and Redis (shared by every replica). Values are opaque bytes (a stored answer, ready to send); TTLs are
 * per entry.
 */
export interface CacheStore {
  readonly kind: 'memory' | 'redis';
  get(key: string): Promise<Buffer | undefined>;
  set(key: string, value: Buffer, ttlMs: number): Promise<void>;
  delete(key: string): Promise<void>;
  close(): Promise<void>;
}
