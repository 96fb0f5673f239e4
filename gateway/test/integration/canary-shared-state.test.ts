/**
 * Two replicas sharing Redis: they serve the same weight, and only the lease holder decides — even when
 * the leader stalls past its lease in the middle of a decision.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canaryPlanSchema } from '../../src/config/routing-schema.js';
import { CanaryController, type CanaryEvent } from '../../src/canary/canary-controller.js';
import { NO_STATS, type VariantStats } from '../../src/canary/canary-guards.js';
import { MemoryCanaryStateStore, RedisCanaryStateStore, type CanaryState, type CanaryStateStore } from '../../src/canary/canary-state.js';
import type { CanarySplit } from '../../src/routing/route-tree.js';
import { startGateway, waitFor } from '../helpers/gateway.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.stop();
});

const healthy: VariantStats = { ...NO_STATS, requests: 1000, errors: 10, p95Ms: 100 };

describe('canary state on real Redis', () => {
  it('replicas follow one weight and only one decides', async () => {
    const plan = canaryPlanSchema.parse({ steps: [10, 50, 100], minStepDurationMs: 1, minStepRequests: 1, intervalMs: 1000 });
    const clock = { now: Date.now() };
    const make = (holder: string, events: CanaryEvent[]) => {
      const split: CanarySplit = { id: 'assistant', route: 'assistant', weight: 10, plan, targets: { baseline: [], canary: [] } };
      const store = new RedisCanaryStateStore(redis.url, 'test:canary:');
      const controller = new CanaryController({
        splits: new Map([[split.id, split]]),
        store,
        stats: async () => ({ baseline: healthy, canary: healthy }),
        onEvent: (event) => events.push(event),
        now: () => clock.now,
        holder,
      });
      return { split, store, controller };
    };
    const eventsA: CanaryEvent[] = [];
    const eventsB: CanaryEvent[] = [];
    const a = make('replica-a', eventsA);
    const b = make('replica-b', eventsB);
    await a.controller.tick(); // a takes the lease, creates the state
    clock.now += 10;
    await b.controller.tick(); // b follows
    await a.controller.tick(); // a decides: promote to 50
    clock.now += 10;
    await b.controller.tick();
    expect(a.split.weight).toBe(50);
    expect(b.split.weight).toBe(50);
    expect(eventsA.some((e) => e.decision === 'promote')).toBe(true);
    expect(eventsB).toEqual([]);
    // An operator acting through b changes what a serves too.
    await b.controller.act('assistant', 'rollback');
    await a.controller.tick();
    expect(a.split.weight).toBe(0);
    await a.store.close();
    await b.store.close();
  });
});

describe('a canary plan whose deciding replica cannot see every replica’s traffic', () => {
  /** The warnings about canaries a gateway logs at start, built with this state and trace store. */
  async function canaryWarnings(state: 'memory' | 'redis', telemetry: Record<string, unknown>, plan = true): Promise<Record<string, unknown>[]> {
    const lines: string[] = [];
    const gateway = await startGateway(
      {
        providers: { up: { type: 'mock' } },
        routes: {
          assistant: { strategy: 'canary', canaryWeight: 10, baseline: { provider: 'up', model: 'a' }, canary: { provider: 'up', model: 'b' }, ...(plan ? { plan: { steps: [10, 100], intervalMs: 3_600_000 } } : {}) },
        },
        // A database of its own: the gateway's round takes the decision lease, which other tests here need.
        redis: { url: `${redis.url}/7` },
        state: { canary: state },
        telemetry: { dataDir: mkdtempSync(join(tmpdir(), 'gateway-canary-warning-')), ...telemetry },
        logging: { level: 'warn' },
      },
      { logStream: { write: (line) => void lines.push(line) } },
    );
    await gateway.close();
    return lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line.canaries !== undefined);
  }

  it('shared (Redis) canary state with a per-process DuckDB trace store: a warning at start naming the canary', async () => {
    const warnings = await canaryWarnings('redis', { sink: 'duckdb' });
    expect(warnings).toMatchObject([{ level: 40, canaries: ['assistant'], canaryState: 'redis', traceStore: 'duckdb' }]);
  });

  it('no trace store at all: a warning that the plan can never decide', async () => {
    expect(await canaryWarnings('memory', { sink: 'none' })).toMatchObject([{ level: 40, canaries: ['assistant'], traceStore: 'none' }]);
  });

  it('no warning for one process with DuckDB, for ClickHouse, or for a canary without a plan', async () => {
    expect(await canaryWarnings('memory', { sink: 'duckdb' })).toEqual([]);
    expect(await canaryWarnings('redis', { sink: 'clickhouse', clickhouse: { url: 'http://127.0.0.1:1' } })).toEqual([]);
    expect(await canaryWarnings('redis', { sink: 'duckdb' }, false)).toEqual([]);
  });
});

describe.each([
  ['memory', () => new MemoryCanaryStateStore()],
  ['redis', () => new RedisCanaryStateStore(redis.url, `test:store:${Math.random()}:`)],
] as [string, () => CanaryStateStore][])('canary state store contract: %s', (_name, make) => {
  const state = (version: number, weight: number): CanaryState => ({ id: 'c', status: 'running', stepIndex: 0, weight, stepStartedAt: 1, updatedAt: 1, version });

  it('writes only on top of the version the change was based on', async () => {
    const store = make();
    expect(await store.write(state(2, 10))).toBe(false); // nothing stored yet: only version 1 fits
    expect(await store.write(state(1, 10))).toBe(true);
    expect(await store.write(state(1, 20))).toBe(false); // a second creator loses
    expect(await store.write(state(2, 30))).toBe(true);
    expect(await store.write(state(2, 40))).toBe(false); // based on a state that is gone
    expect(await store.get('c')).toMatchObject({ version: 2, weight: 30 });
    await store.close();
  });

  it('fences: a lease taken over gets a new token, and writes under an old one are refused', async () => {
    const store = make();
    /** Waits (on the store, not a fixed sleep) until `holder` gets the lease. */
    const takeOver = async (holder: string, ttlMs: number) => {
      for (const deadline = Date.now() + 5000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 20))) {
        const lease = await store.lease(holder, ttlMs);
        if (lease) return lease;
      }
      throw new Error(`${holder} never got the lease`);
    };
    const a = (await store.lease('a', 150))!;
    expect(await store.lease('b', 150)).toBeUndefined();
    expect((await store.lease('a', 150))!.token).toBe(a.token); // renewed: same tenure, same token
    expect(await store.write(state(1, 10), a)).toBe(true);
    const b = await takeOver('b', 150);
    expect(b.token).toBeGreaterThan(a.token);
    expect(await store.write(state(2, 30), a)).toBe(false); // a lost the lease
    expect(await store.write(state(2, 30), b)).toBe(true);
    // Taking the lease back later is a new tenure: decisions made under the old one stay refused.
    const again = await takeOver('a', 150);
    expect(again.token).toBeGreaterThan(b.token);
    expect(await store.write(state(3, 50), a)).toBe(false);
    expect(await store.write(state(3, 50), again)).toBe(true);
    await store.close();
  });
});

describe('a leader that stalls past its lease (slow trace query)', () => {
  it('cannot write its stale decision once another replica took over: one promotion each step, never backwards', async () => {
    const plan = canaryPlanSchema.parse({ steps: [10, 30, 50, 100], minStepDurationMs: 1, minStepRequests: 1, intervalMs: 100 });
    const make = (holder: string, events: CanaryEvent[], stats: () => Promise<VariantStats>) => {
      const split: CanarySplit = { id: 'assistant', route: 'assistant', weight: 10, plan, targets: { baseline: [], canary: [] } };
      const store = new RedisCanaryStateStore(redis.url, 'test:slow-leader:');
      const controller = new CanaryController({
        splits: new Map([[split.id, split]]),
        store,
        stats: async () => ({ baseline: healthy, canary: await stats() }),
        onEvent: (event) => events.push(event),
        holder,
      });
      return { split, store, controller };
    };
    // The leader's trace query hangs until the test lets it go (as an 8 s query would, inside its timeout).
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let querying = false;
    const eventsA: CanaryEvent[] = [];
    const eventsB: CanaryEvent[] = [];
    const a = make('replica-a', eventsA, async () => {
      querying = true;
      await released;
      return healthy;
    });
    const b = make('replica-b', eventsB, async () => healthy);

    const stalledRound = a.controller.tick(); // a takes the lease, creates the state at 10 %, evaluates… and stalls
    await waitFor(() => querying, 5000);
    // a's lease (3 × 100 ms) runs out; b takes over and walks the canary on: 10 → 30 → 50.
    const deadline = Date.now() + 10_000;
    while ((await b.store.get('assistant'))?.weight !== 50) {
      if (Date.now() > deadline) throw new Error('b never took over');
      await b.controller.tick();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    release();
    await stalledRound; // a now decides "promote 10 → 30" from numbers read long ago

    expect(eventsA).toEqual([]);
    expect(eventsB.filter((e) => e.decision === 'promote').map((e) => [e.fromWeight, e.toWeight])).toEqual([[10, 30], [30, 50]]);
    expect(await b.store.get('assistant')).toMatchObject({ stepIndex: 2, weight: 50 });
    // The refused replica serves the stored weight, not its own stale one.
    expect(a.split.weight).toBe(50);
    await a.store.close();
    await b.store.close();
  });
});

describe('two gateway instances on one Redis', () => {
  it('serve the same weight, and only one of them decides', async () => {
    const { startGateway } = await import('../helpers/gateway.js');
    const { metricValue } = await import('../helpers/metrics.js');
    const doc = {
      providers: { sim: { type: 'mock' } },
      redis: { url: redis.url },
      routes: {
        shared: {
          strategy: 'canary',
          canaryWeight: 5,
          plan: { steps: [5, 20, 100], minStepDurationMs: 1, minStepRequests: 1, intervalMs: 3_600_000, guards: { minSamples: 1 } },
          baseline: { provider: 'sim', model: 'mock-1' },
          canary: { provider: 'sim', model: 'mock-2' },
        },
      },
    };
    const a = await startGateway(doc);
    const b = await startGateway(doc);
    try {
      await a.app.canaries.tick();
      await b.app.canaries.tick();
      // The state is shared from the first tick: both serve step one.
      expect([a.app.gatewayRouting.canarySplits.get('shared')!.weight, b.app.gatewayRouting.canarySplits.get('shared')!.weight]).toEqual([5, 5]);
      // b never holds the lease while a keeps renewing it, so b never decides.
      for (let i = 0; i < 3; i++) {
        await a.app.canaries.tick();
        await b.app.canaries.tick();
      }
      const decisionsA = await metricValue(a.origin, 'gateway_canary_decisions_total', { route: 'shared' }).catch(() => 0);
      const decisionsB = await metricValue(b.origin, 'gateway_canary_decisions_total', { route: 'shared' }).catch(() => 0);
      expect(decisionsA).toBeGreaterThan(0);
      expect(decisionsB).toBe(0);
      expect(a.app.gatewayRouting.canarySplits.get('shared')!.weight).toBe(b.app.gatewayRouting.canarySplits.get('shared')!.weight);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
