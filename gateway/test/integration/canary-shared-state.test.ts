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
