/**
 * Guardrail verdicts as a canary guard, through real sockets: a candidate whose answers trip an output
 * guardrail (it leaks e-mail addresses the baseline never writes) is rolled back by
 * `maxGuardrailRateIncrease`, although every one of its requests succeeded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { heldCanaryRoute, recorded, send, startCanaryGateway, usersOf } from '../helpers/canary-traffic.js';
import type { RunningGateway } from '../helpers/gateway.js';
import { startMockUpstream, type MockUpstream } from '../helpers/mock-upstream.js';

const route = 'leaky';
let upstream: MockUpstream;
let gateway: RunningGateway;

beforeAll(async () => {
  upstream = await startMockUpstream();
  gateway = await startCanaryGateway(
    upstream,
    // The baseline answers its usual greeting; the candidate echoes the prompt, e-mail address included.
    { [route]: { ...heldCanaryRoute('stable-leaky', 'echo-8~candidate', { maxGuardrailRateIncrease: 0.05 }), guardrails: { output: ['emails'] } } },
    {},
    { guardrails: { emails: { kind: 'pii', detectors: ['email'], action: 'flag' } } },
  );
});
afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
});

describe('a canary that trips more guardrails', () => {
  it('is rolled back on the guardrail-trip rate, with no error anywhere', async () => {
    const replies = await send(gateway, route, [...usersOf(route, 'canary', 60), ...usersOf(route, 'baseline', 60)], 20, 'Forward this to ops@example.com please');
    expect(replies.every((r) => r.status === 200)).toBe(true);
    await recorded(gateway, route, 120);

    const api = (await (await fetch(`${gateway.origin}/api/canaries?range=15m`)).json()) as {
      canaries: { route: string; variants: { variant: string; requests: number; errors: number; guardrailTrips: number }[] }[];
    };
    const variants = api.canaries.find((c) => c.route === route)!.variants;
    expect(variants.map((v) => [v.variant, v.requests, v.errors, v.guardrailTrips])).toEqual([
      ['baseline', 60, 0, 0],
      ['canary', 60, 0, 60],
    ]);

    await gateway.app.canaries.tick();
    const view = (await gateway.app.canaries.list()).find((v) => v.id === route)!;
    expect(view.state).toMatchObject({ status: 'rolled_back', weight: 0 });
    expect(view.lastEvaluation?.reason).toContain('guardrailRateIncrease');
    expect(view.lastEvaluation?.checks.find((c) => c.guard === 'guardrailRateIncrease')).toMatchObject({ value: 1, breached: true });
  });
});
