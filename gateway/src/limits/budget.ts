/**
 * Spend budgets per key (USD per day and/or per month, UTC). Before the upstream call an estimate is
 * reserved atomically, so concurrent requests cannot overspend together; when the request ends
 * (completed, failed or cancelled) the reservation is replaced by the real cost. Over budget: 429
 * `budget_exceeded`.
 */
import type { GatewayKey } from '../auth/key-registry.js';
import { GatewayError } from '../errors.js';
import type { LimitStore } from './limit-store.js';

const DAY = 24 * 60 * 60 * 1000;

interface Period {
  name: string;
  limit: number;
  ttlMs: number;
}

export interface Reservation {
  /** Replaces the reserved estimate with the real cost (null when unknown: the estimate stands). */
  settle(actualUsd: number | null): Promise<void>;
}

const NOTHING_RESERVED: Reservation = { settle: async () => {} };

export class BudgetGuard {
  constructor(private readonly store: LimitStore, private readonly now: () => number = Date.now) {}

  private periods(key: GatewayKey): Period[] {
    const date = new Date(this.now()).toISOString();
    const periods: Period[] = [];
    if (key.budget.dailyUsd !== undefined) periods.push({ name: `${key.id}:usd:d:${date.slice(0, 10)}`, limit: key.budget.dailyUsd, ttlMs: 2 * DAY });
    if (key.budget.monthlyUsd !== undefined) periods.push({ name: `${key.id}:usd:m:${date.slice(0, 7)}`, limit: key.budget.monthlyUsd, ttlMs: 32 * DAY });
    return periods;
  }

  async reserve(key: GatewayKey, estimateUsd: number): Promise<Reservation> {
    const periods = this.periods(key);
    if (periods.length === 0) return NOTHING_RESERVED;
    const taken: Period[] = [];
    for (const period of periods) {
      const result = await this.store.reserve(period.name, estimateUsd, period.limit, period.ttlMs);
      if (!result.ok) {
        await Promise.all(taken.map((p) => this.store.add(p.name, -estimateUsd, p.ttlMs)));
        throw new GatewayError('budget_exceeded', `key '${key.id}' has spent its budget (${period.limit} USD)`);
      }
      taken.push(period);
    }
    let settled = false;
    return {
      settle: async (actualUsd) => {
        if (settled || actualUsd === null) return;
        settled = true;
        const delta = actualUsd - estimateUsd;
        if (delta !== 0) await Promise.all(taken.map((p) => this.store.add(p.name, delta, p.ttlMs)));
      },
    };
  }

  /** Spend (plus open reservations) in the current day and month. */
  async spent(key: GatewayKey): Promise<{ dayUsd: number; monthUsd: number }> {
    const date = new Date(this.now()).toISOString();
    const [dayUsd, monthUsd] = await Promise.all([
      this.store.get(`${key.id}:usd:d:${date.slice(0, 10)}`),
      this.store.get(`${key.id}:usd:m:${date.slice(0, 7)}`),
    ]);
    return { dayUsd, monthUsd };
  }
}
