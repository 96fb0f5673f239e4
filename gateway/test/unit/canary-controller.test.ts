import { describe, expect, it, vi } from 'vitest';
import { canaryPlanSchema } from '../../src/config/routing-schema.js';
import { NO_STATS, type VariantStats } from '../../src/canary/canary-guards.js';
import { CanaryController, type CanaryEvent } from '../../src/canary/canary-controller.js';
import { MemoryCanaryStateStore } from '../../src/canary/canary-state.js';
import type { CanarySplit } from '../../src/routing/route-tree.js';

const plan = canaryPlanSchema.parse({ steps: [1, 5, 25, 50, 100], minStepDurationMs: 60_000, minStepRequests: 100, intervalMs: 10_000, guards: { maxErrorRateIncrease: 0.01, maxP95Ratio: 1.5 } });

/** A variant's numbers: `requests` latencies spread evenly over ±20 % around `typicalMs`. */
function variant(requests: number, errors: number, typicalMs = 400): VariantStats {
  const latencyMs = Array.from({ length: requests }, (_, i) => typicalMs * (0.8 + (0.4 * i) / requests));
  return { ...NO_STATS, requests, errors, p95Ms: typicalMs * 1.18, latencyMs };
}

function setup(canaryStats: (weight: number) => VariantStats, unavailable: () => string[] = () => []) {
  const clock = { now: 1_000_000 };
  const split: CanarySplit = { id: 'assistant', route: 'assistant', weight: 1, plan, targets: { baseline: [], canary: [] } };
  const events: CanaryEvent[] = [];
  const controller = new CanaryController({
    splits: new Map([[split.id, split]]),
    store: new MemoryCanaryStateStore(() => clock.now),
    stats: async () => ({ baseline: variant(5000, 50), canary: canaryStats(split.weight) }),
    onEvent: (event) => events.push(event),
    unavailable,
    now: () => clock.now,
  });
  return { clock, split, events, controller };
}

describe('canary controller', () => {
  it('walks a healthy canary through every step to completed', async () => {
    const { clock, split, events, controller } = setup(() => variant(500, 5));
    await controller.tick();
    expect(split.weight).toBe(1);
    for (let i = 0; i < 5; i++) {
      clock.now += 61_000;
      await controller.tick();
    }
    expect(split.weight).toBe(100);
    expect((await controller.list())[0]?.state.status).toBe('completed');
    expect(events.filter((e) => e.decision === 'promote').map((e) => e.toWeight)).toEqual([5, 25, 50, 100]);
  });

  it('holds while a step is too young or has too few requests', async () => {
    const young = setup(() => variant(500, 5));
    await young.controller.tick();
    young.clock.now += 30_000;
    await young.controller.tick();
    expect(young.split.weight).toBe(1);
    expect(young.events.at(-1)?.decision).toBe('hold');

    const quiet = setup(() => variant(20, 0));
    await quiet.controller.tick();
    quiet.clock.now += 120_000;
    await quiet.controller.tick();
    expect(quiet.split.weight).toBe(1);
  });

  it('rolls back a canary with a higher error rate once the evidence is there, and not before', async () => {
    let requests = 10;
    const { clock, split, events, controller } = setup(() => variant(requests, Math.round(requests * 0.1)));
    await controller.tick();
    clock.now += 61_000;
    await controller.tick();
    expect(split.weight).toBe(1); // 1 error in 10: not significant yet
    requests = 300;
    clock.now += 10_000;
    await controller.tick();
    expect(split.weight).toBe(0);
    expect((await controller.list())[0]?.state.status).toBe('rolled_back');
    const rollback = events.find((e) => e.decision === 'rollback')!;
    expect(rollback.details).toMatchObject({ canary: { requests: 300, errors: 30 } });
  });

  it('a latency regression trips the p95 guard', async () => {
    const { clock, split, controller } = setup(() => variant(500, 5, 1200));
    await controller.tick();
    clock.now += 61_000;
    await controller.tick();
    expect(split.weight).toBe(0);
  });

  it('never promotes while a canary target is skipped for an open breaker, and says so', async () => {
    let open = ['gpu/llama-ft'];
    const { clock, split, events, controller } = setup(() => variant(500, 5), () => open);
    await controller.tick();
    clock.now += 61_000;
    await controller.tick();
    expect(split.weight).toBe(1);
    expect(events.at(-1)).toMatchObject({ decision: 'hold', details: { unavailable: ['gpu/llama-ft'] } });
    expect((await controller.list())[0]?.lastEvaluation?.reason).toContain('canaryReachable');
    open = [];
    clock.now += 10_000;
    await controller.tick();
    expect(split.weight).toBe(5);
  });

  it('operators can pause, promote, roll back and restart', async () => {
    const { clock, split, controller } = setup(() => variant(500, 5));
    await controller.tick();
    expect((await controller.act('assistant', 'pause')).status).toBe('paused');
    clock.now += 120_000;
    await controller.tick();
    expect(split.weight).toBe(1); // paused: no decisions
    expect((await controller.act('assistant', 'promote')).weight).toBe(5);
    expect((await controller.act('assistant', 'rollback')).weight).toBe(0);
    const restarted = await controller.act('assistant', 'restart');
    expect(restarted).toMatchObject({ status: 'running', stepIndex: 0, weight: 1 });
    // Without a trace store the decision log is this replica's own, newest first, holds left out.
    const [view] = await controller.list();
    expect(view?.decisions.map((d) => [d.decision, d.fromWeight, d.toWeight])).toEqual([
      ['restart', 0, 1],
      ['rollback', 5, 0],
      ['promote', 1, 5],
      ['pause', 1, 1],
    ]);
  });

  it('a round whose numbers cannot be read is reported, decides nothing, and the next round carries on', async () => {
    const clock = { now: 1_000_000 };
    const split: CanarySplit = { id: 'assistant', route: 'assistant', weight: 1, plan, targets: { baseline: [], canary: [] } };
    const failures: unknown[] = [];
    let storeDown = true;
    const controller = new CanaryController({
      splits: new Map([[split.id, split]]),
      store: new MemoryCanaryStateStore(() => clock.now),
      stats: async () => {
        if (storeDown) throw new Error('trace store unreachable');
        return { baseline: variant(5000, 50), canary: variant(500, 5) };
      },
      onEvent: () => undefined,
      onRoundError: (error) => failures.push(error),
      now: () => clock.now,
    });
    clock.now += 61_000;
    await controller.tick();
    expect(failures).toHaveLength(1);
    expect((failures[0] as Error).message).toBe('trace store unreachable');
    expect(split.weight).toBe(1);
    storeDown = false;
    clock.now += 61_000;
    await controller.tick();
    expect(failures).toHaveLength(1);
    expect(split.weight).toBe(5);
  });

  /** A controller whose next round waits on a trace query that answers (or fails) only when the test says so. */
  async function stuckRound() {
    const clock = { now: 1_000_000 };
    const split: CanarySplit = { id: 'assistant', route: 'assistant', weight: 1, plan, targets: { baseline: [], canary: [] } };
    const events: CanaryEvent[] = [];
    const failures: unknown[] = [];
    const store = new MemoryCanaryStateStore(() => clock.now);
    let closed = false;
    store.close = async () => void (closed = true);
    const promoting = { baseline: variant(5000, 50), canary: variant(500, 5) };
    let stall = false;
    let query: { answer(): void; fail(error: Error): void } | undefined;
    const controller = new CanaryController({
      splits: new Map([[split.id, split]]),
      store,
      stats: async () => {
        if (!stall) return promoting;
        return new Promise((resolve, reject) => {
          query = { answer: () => resolve(promoting), fail: reject };
        });
      },
      onEvent: (event) => events.push(event),
      onRoundError: (error) => failures.push(error),
      now: () => clock.now,
    });
    await controller.tick();
    expect(split.weight).toBe(1);
    stall = true;
    clock.now += 61_000;
    const round = controller.tick();
    await vi.waitFor(() => expect(query).toBeDefined());
    return { controller, split, store, events, failures, round, query: query!, closed: () => closed };
  }

  it('stopping abandons a round stuck on its numbers: stop() does not wait for it, and the round decides nothing after', async () => {
    const { controller, split, store, events, failures, round, query, closed } = await stuckRound();
    await controller.stop();
    expect(closed()).toBe(true);
    // The numbers arrive after shutdown began, and would promote: nothing is decided or written.
    query.answer();
    await round;
    expect(split.weight).toBe(1);
    expect(events.filter((e) => e.decision !== 'hold')).toEqual([]);
    expect((await store.get('assistant'))?.stepIndex).toBe(0);
    expect(failures).toEqual([]);
  });

  it('a stuck round that fails once shutdown closed its stores is not reported as a failed round', async () => {
    const { controller, failures, round, query } = await stuckRound();
    await controller.stop();
    query.fail(new Error('the trace store was closed'));
    await round;
    expect(failures).toEqual([]);
  });
});
