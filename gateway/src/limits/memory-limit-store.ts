/** In-process counters for limits and budgets, expired lazily and swept once a minute. */
import type { LimitStore } from './limit-store.js';

export class MemoryLimitStore implements LimitStore {
  readonly kind = 'memory' as const;
  private readonly counters = new Map<string, { value: number; expiresAt: number }>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly now: () => number = Date.now) {
    this.sweeper = setInterval(() => this.sweep(), 60_000);
    this.sweeper.unref();
  }

  private current(name: string): { value: number; expiresAt: number } | undefined {
    const counter = this.counters.get(name);
    if (counter && counter.expiresAt <= this.now()) {
      this.counters.delete(name);
      return undefined;
    }
    return counter;
  }

  async add(name: string, amount: number, ttlMs: number): Promise<number> {
    const counter = this.current(name);
    if (counter) {
      counter.value += amount;
      return counter.value;
    }
    this.counters.set(name, { value: amount, expiresAt: this.now() + ttlMs });
    return amount;
  }

  async get(name: string): Promise<number> {
    return this.current(name)?.value ?? 0;
  }

  async reserve(name: string, amount: number, limit: number, ttlMs: number): Promise<{ ok: boolean; total: number }> {
    const total = this.current(name)?.value ?? 0;
    if (total + amount > limit) return { ok: false, total };
    return { ok: true, total: await this.add(name, amount, ttlMs) };
  }

  private sweep(): void {
    const now = this.now();
    for (const [name, counter] of this.counters) if (counter.expiresAt <= now) this.counters.delete(name);
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
  }
}
