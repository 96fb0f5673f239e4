/**
 * Counters for rate limits and budgets, each living for a window. Two implementations: memory (one
 * process) and Redis (atomic Lua scripts, shared by every replica). Both must answer the same contract.
 */
export interface LimitStore {
  readonly kind: 'memory' | 'redis';
  /** Adds `amount` (may be negative) and returns the new total; the counter expires `ttlMs` after it was created. */
  add(name: string, amount: number, ttlMs: number): Promise<number>;
  get(name: string): Promise<number>;
  /** Adds `amount` only if the total stays within `limit`; atomic. */
  reserve(name: string, amount: number, limit: number, ttlMs: number): Promise<{ ok: boolean; total: number }>;
  close(): Promise<void>;
}
