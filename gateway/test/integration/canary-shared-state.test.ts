/** Two replicas sharing Redis: they serve the same weight, and only the lease holder decides. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canaryPlanSchema } from '../../src/config/routing-schema.js';
import { CanaryController, type CanaryEvent } from '../../src/canary/canary-controller.js';
import { RedisCanaryStateStore } from '../../src/canary/canary-state.js';
import type { CanarySplit } from '../../src/routing/route-tree.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.stop();
});

describe('canary state on real Redis', () => {
  it('replicas follow one weight and only one decides', async () => {
    const plan = canaryPlanSchema.parse({ steps: [10, 50, 100], minStepDurationMs: 1, minStepRequests: 1, intervalMs: 1000 });
    const clock = { now: Date.now() };
    const make = (holder: string, events: CanaryEvent[]) => {
      const split: CanarySplit = { id: 'assistant', weight: 10, plan };
      const store = new RedisCanaryStateStore(redis.url, 'test:canary:');
      const controller = new CanaryController({
        splits: new Map([[split.id, split]]),
        store,
        stats: async () => ({
          baseline: { requests: 1000, errors: 10, p95Ms: 100, ttftP95Ms: null, costPerRequest: 0, feedback: null, feedbackCount: 0 },
          canary: { requests: 1000, errors: 10, p95Ms: 100, ttftP95Ms: null, costPerRequest: 0, feedback: null, feedbackCount: 0 },
        }),
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
