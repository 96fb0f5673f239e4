/**
 * The latency guard acts on evidence, not on noise, through real sockets: about 50 requests a side,
 * upstream latencies with a slow tail (as a loaded machine gives). A healthy canary whose p95 happens to
 * look 3× worse is held, not rolled back; a canary slower on every request is rolled back although the
 * baseline's own slow tail keeps the p95 ratio under the threshold.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { heldCanaryRoute, recorded, send, startCanaryGateway, usersOf } from '../helpers/canary-traffic.js';
import type { RunningGateway } from '../helpers/gateway.js';
import { startMockUpstream, type MockUpstream } from '../helpers/mock-upstream.js';

let upstream: MockUpstream;
let gateway: RunningGateway;

beforeAll(async () => {
  upstream = await startMockUpstream();
  gateway = await startCanaryGateway(upstream, {
    // Same model, same fast answers; the canary's 50 requests happen to include more stalls (10 % vs 4 %).
    // The stalls are long so that the p95 point estimate stays far over 3 even when a loaded machine
    // slows every fast answer to hundreds of milliseconds.
    noisy: heldCanaryRoute('lag-0-4-2000~noisyb', 'lag-0-10-2000~noisyc', { maxP95Ratio: 3, minSamples: 50 }),
    // The canary adds 300 ms to every answer; both sides stall 10 % of the time.
    slower: heldCanaryRoute('lag-0-10-800~slowb', 'lag-300-10-800~slowc', { maxP95Ratio: 1.5, minSamples: 50 }),
  });
});
afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
});

async function evaluate(name: string) {
  // All at once (each batch would wait for its slowest stall), and interleaved, so that neither variant is
  // systematically served first by a busy event loop — that order alone reads as a latency difference.
  const canary = usersOf(name, 'canary', 50);
  const baseline = usersOf(name, 'baseline', 50);
  await send(gateway, name, canary.flatMap((user, i) => [user, baseline[i] as string]), 100);
  await recorded(gateway, name, 100);
  await gateway.app.canaries.tick();
  const view = (await gateway.app.canaries.list()).find((v) => v.id === name)!;
  return { state: view.state, check: view.lastEvaluation!.checks.find((c) => c.guard === 'p95Ratio')! };
}

describe('latency guard on about 50 samples a side', () => {
  it('holds a healthy canary whose p95 looks far worse by chance (maxP95Ratio 3)', async () => {
    const { state, check } = await evaluate('noisy');
    // The point estimate is way over 3: five stalls in 50 against two.
    expect(check.value!).toBeGreaterThan(3);
    expect(check).toMatchObject({ passing: false, breached: false });
    expect(check.bound ?? 0).toBeLessThan(3);
    expect(state).toMatchObject({ status: 'running', weight: 50 });
  });

  it('rolls back a canary slower on every request, though the p95 ratio is under 1.5', async () => {
    const { state, check } = await evaluate('slower');
    // p95 ≈ 1100 ms against ≈ 800 ms: the baseline's tail hides the regression from the ratio…
    expect(check.value!).toBeLessThan(1.5);
    // …but not from the rank test: typically 300 ms against a few.
    expect(check).toMatchObject({ passing: true, breached: true });
    expect(check.bound!).toBeGreaterThan(1.5);
    expect(state).toMatchObject({ status: 'rolled_back', weight: 0 });
  });
});
