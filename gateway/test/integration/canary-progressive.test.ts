/**
 * Progressive canaries through the gateway: real traffic, traces in DuckDB, the controller ticked by
 * hand. A canary whose target fails half the time is rolled back (its failures fell back to the
 * baseline, so clients saw none, but they count against the canary); a healthy one walks to completed.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, waitFor, type RunningGateway } from '../helpers/gateway.js';
import { metricValue } from '../helpers/metrics.js';
import { startMockUpstream, type MockUpstream } from '../helpers/mock-upstream.js';

let upstream: MockUpstream;
let gateway: RunningGateway;

beforeAll(async () => {
  upstream = await startMockUpstream();
  const plan = { steps: [10, 50, 100], minStepDurationMs: 1, minStepRequests: 20, intervalMs: 3_600_000, guards: { maxErrorRateIncrease: 0.05, minSamples: 10 } };
  gateway = await startGateway({
    providers: { up: { type: 'openai-compatible', baseUrl: upstream.url } },
    routing: { retry: { maxAttempts: 1 } },
    routes: {
      bad: { strategy: 'canary', canaryWeight: 10, plan, baseline: { provider: 'up', model: 'stable-a' }, canary: { provider: 'up', model: 'errorpct-50~bad' } },
      good: { strategy: 'canary', canaryWeight: 10, plan, baseline: { provider: 'up', model: 'stable-b' }, canary: { provider: 'up', model: 'candidate-b' } },
    },
    telemetry: { sink: 'duckdb', dataDir: mkdtempSync(join(tmpdir(), 'gateway-canary-')), logRequests: false },
  });
});
afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
});

async function traffic(route: string, users: number, round: number): Promise<number[]> {
  const statuses: number[] = [];
  for (let u = 0; u < users; u += 20) {
    const batch = Array.from({ length: 20 }, (_, i) =>
      fetch(`${gateway.baseURL}/chat/completions`, {
        method: 'POST',
        body: JSON.stringify({ model: route, user: `user-${u + i}`, messages: [{ role: 'user', content: `round ${round}` }] }),
      }).then(async (r) => {
        await r.arrayBuffer();
        return r.status;
      }),
    );
    statuses.push(...(await Promise.all(batch)));
  }
  return statuses;
}

const state = async (id: string) => (await gateway.app.canaries.list()).find((view) => view.id === id)!.state;

describe('progressive canary', () => {
  it('rolls back a failing canary although clients never saw an error', async () => {
    const statuses = await traffic('bad', 400, 1);
    expect(statuses.every((s) => s === 200)).toBe(true);
    await gateway.app.canaries.tick();
    expect(await state('bad')).toMatchObject({ status: 'rolled_back', weight: 0 });
    expect(gateway.app.gatewayRouting.canarySplits.get('bad')!.weight).toBe(0);
    expect(await metricValue(gateway.origin, 'gateway_canary_decisions_total', { route: 'bad', decision: 'rollback' })).toBe(1);
    expect(await metricValue(gateway.origin, 'gateway_canary_weight', { route: 'bad' })).toBe(0);
    // After a rollback nobody is sent to the canary.
    const before = upstream.requests.filter((r) => r.body.model === 'errorpct-50~bad').length;
    await traffic('bad', 100, 2);
    expect(upstream.requests.filter((r) => r.body.model === 'errorpct-50~bad').length).toBe(before);
    const events = await gateway.app.traces!.sink.select("SELECT decision, from_weight, to_weight, details FROM canary_events WHERE route = 'bad' AND decision = 'rollback'");
    expect(events).toHaveLength(1);
    expect(JSON.parse(String(events[0]!.details))).toMatchObject({ reason: expect.stringContaining('errorRateIncrease') });
  });

  it('walks a healthy canary through every step to completed', async () => {
    for (let round = 1; round <= 3; round++) {
      await traffic('good', 200, round);
      await gateway.app.canaries.tick();
    }
    expect(await state('good')).toMatchObject({ status: 'completed', weight: 100 });
    expect(await metricValue(gateway.origin, 'gateway_canary_decisions_total', { route: 'good', decision: 'promote' })).toBe(2);
  });

  it('the admin API lists canaries with their decision log, and applies operator actions', async () => {
    type Listed = { data: { id: string; state: { status: string }; decisions: { decision: string; fromWeight: number; toWeight: number; details: Record<string, unknown> }[] }[] };
    const list = async () => (await (await fetch(`${gateway.origin}/admin/canaries`)).json()) as Listed;
    const decisionsOf = async (id: string) => (await list()).data.find((c) => c.id === id)!.decisions;
    // Decisions are stored in the background: wait for the log, not for a fixed time.
    await waitFor(async () => (await decisionsOf('good')).length === 2);
    const listed = await list();
    expect(listed.data.map((c) => [c.id, c.state.status]).sort()).toEqual([['bad', 'rolled_back'], ['good', 'completed']]);
    // The same decision log as the Canary tab, newest first, with the numbers each decision was based on.
    const good = listed.data.find((c) => c.id === 'good')!;
    expect(good.decisions.map((d) => [d.decision, d.fromWeight, d.toWeight])).toEqual([['promote', 50, 100], ['promote', 10, 50]]);
    const bad = listed.data.find((c) => c.id === 'bad')!;
    expect(bad.decisions.map((d) => d.decision)).toEqual(['rollback']);
    expect(bad.decisions[0]!.details).toMatchObject({ reason: expect.stringContaining('errorRateIncrease') });
    const restarted = await fetch(`${gateway.origin}/admin/canaries/bad/restart`, { method: 'POST' });
    expect(((await restarted.json()) as { weight: number }).weight).toBe(10);
    expect((await fetch(`${gateway.origin}/admin/canaries/bad/pause`, { method: 'POST' })).status).toBe(200);
    expect(await state('bad')).toMatchObject({ status: 'paused', weight: 10 });
    await waitFor(async () => (await decisionsOf('bad')).length === 3);
    expect((await decisionsOf('bad')).map((d) => [d.decision, d.details.by])).toEqual([
      ['pause', 'operator'],
      ['restart', 'operator'],
      ['rollback', undefined],
    ]);
    expect((await fetch(`${gateway.origin}/admin/canaries/nope/pause`, { method: 'POST' })).status).toBe(404);
    expect((await fetch(`${gateway.origin}/admin/canaries/bad/explode`, { method: 'POST' })).status).toBe(404);
  });
});
