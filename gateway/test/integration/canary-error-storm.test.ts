/**
 * The README's "break it, watch it roll back", through real sockets: a canary that starts healthy and
 * then fails everything is rolled back, with circuit breakers on (its breaker opens and later canary
 * requests skip it) and off (every canary request fails and falls back). Clients never see an error.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { heldCanaryRoute, recorded, send, startCanaryGateway, usersOf } from '../helpers/canary-traffic.js';
import type { RunningGateway } from '../helpers/gateway.js';
import { startMockUpstream, type MockUpstream } from '../helpers/mock-upstream.js';

describe.each([
  ['breakers on', true],
  ['breakers off', false],
])('a canary that starts failing after a healthy start (%s)', (_name, breakers) => {
  let upstream: MockUpstream;
  let gateway: RunningGateway;
  const route = breakers ? 'storm-on' : 'storm-off';
  const candidate = `candidate-${route}`;

  beforeAll(async () => {
    upstream = await startMockUpstream();
    gateway = await startCanaryGateway(upstream, { [route]: heldCanaryRoute(`stable-${route}`, candidate) }, { breaker: { enabled: breakers } });
  });
  afterAll(async () => {
    await gateway?.close();
    await upstream?.close();
  });

  const view = async () => (await gateway.app.canaries.list()).find((v) => v.id === route)!;

  it('60 healthy canary requests, then 500 for everything, then 80 more: rolled back', async () => {
    await gateway.app.canaries.tick();
    const healthy = await send(gateway, route, [...usersOf(route, 'canary', 60), ...usersOf(route, 'baseline', 60)]);
    expect(healthy.filter((r) => r.variant === 'canary' && r.model === candidate)).toHaveLength(60);
    await recorded(gateway, route, 120);
    await gateway.app.canaries.tick();
    expect((await view()).state).toMatchObject({ status: 'running', weight: 50 });

    upstream.fail(candidate, 500);
    const before = upstream.requests.length;
    const storm = await send(gateway, route, [...usersOf(route, 'canary', 80, 60), ...usersOf(route, 'baseline', 80, 60)]);
    // Clients never saw the storm: every canary-assigned request was answered by the baseline.
    expect(storm.every((r) => r.status === 200)).toBe(true);
    const canaryAssigned = storm.filter((r) => r.variant === 'canary');
    expect(canaryAssigned).toHaveLength(80);
    expect(canaryAssigned.every((r) => r.model === `stable-${route}`)).toBe(true);
    const canaryCalls = upstream.requests.slice(before).filter((r) => r.body.model === candidate).length;
    // With breakers on, most of the 80 skipped the open breaker without any attempt on the canary.
    if (breakers) expect(canaryCalls).toBeLessThan(40);
    else expect(canaryCalls).toBeGreaterThanOrEqual(80);

    // The Canary tab counts every canary-assigned request the canary did not answer against it.
    await recorded(gateway, route, 280);
    const api = (await (await fetch(`${gateway.origin}/api/canaries?range=15m`)).json()) as {
      canaries: { route: string; variants: { variant: string; requests: number; errors: number }[] }[];
    };
    const canary = api.canaries.find((c) => c.route === route)!.variants.find((v) => v.variant === 'canary')!;
    expect(canary).toMatchObject({ requests: 140, errors: 80 });

    await gateway.app.canaries.tick();
    const after = await view();
    expect(after.state).toMatchObject({ status: 'rolled_back', weight: 0 });
    expect(after.lastEvaluation?.reason).toContain('errorRateIncrease');
    // An open breaker is reported with the evidence.
    const reachable = after.lastEvaluation?.checks.find((c) => c.guard === 'canaryReachable');
    expect(reachable?.value).toBe(breakers ? 1 : 0);
  });
});

describe('a canary failing every request from its first one, against a baseline failing none (breakers off)', () => {
  let upstream: MockUpstream;
  let gateway: RunningGateway;
  const route = 'doomed';

  beforeAll(async () => {
    upstream = await startMockUpstream();
    gateway = await startCanaryGateway(upstream, { [route]: heldCanaryRoute('stable-doomed', 'fail-500') }, { breaker: { enabled: false } });
  });
  afterAll(async () => {
    await gateway?.close();
    await upstream?.close();
  });

  it('is rolled back: 100 % against 0 % is evidence however small the samples', async () => {
    await gateway.app.canaries.tick();
    const replies = await send(gateway, route, [...usersOf(route, 'canary', 30), ...usersOf(route, 'baseline', 30)]);
    expect(replies.every((r) => r.status === 200)).toBe(true);
    await recorded(gateway, route, 60);
    await gateway.app.canaries.tick();
    const view = (await gateway.app.canaries.list()).find((v) => v.id === route)!;
    expect(view.state).toMatchObject({ status: 'rolled_back', weight: 0 });
    expect(view.lastEvaluation?.checks.find((c) => c.guard === 'errorRateIncrease')).toMatchObject({ value: 1, breached: true });
  });
});
