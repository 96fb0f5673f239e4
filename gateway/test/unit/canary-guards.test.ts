import { describe, expect, it } from 'vitest';
import { evaluateCanary, type CanaryGuards, type VariantStats } from '../../src/canary/canary-guards.js';
import { seededRandom } from '../helpers/seeded-random.js';

const guards: CanaryGuards = { maxErrorRateIncrease: 0.01, maxP95Ratio: 1.5, maxTtftRatio: 1.5, maxCostRatio: 1.2, maxFeedbackDrop: 0.2, confidence: 0.95, minSamples: 50 };
const step = { weight: 5, minDurationMs: 60_000, minRequests: 100 };

/** `n` latencies around `median` ms, log-normally spread (σ = 0.4), reproducibly. */
function latencies(n: number, median: number, seed: number): number[] {
  const random = seededRandom(seed);
  return Array.from({ length: n }, () => median * Math.exp(0.4 * Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random())));
}

function p95(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.ceil(0.95 * sorted.length) - 1] as number;
}

function stats(overrides: Partial<VariantStats> = {}, seed = 1): VariantStats {
  const latencyMs = overrides.latencyMs ?? latencies(overrides.requests ?? 1000, 250, seed);
  const ttftMs = overrides.ttftMs ?? latencies(overrides.requests ?? 1000, 90, seed + 100);
  return {
    requests: 1000,
    errors: 10,
    p95Ms: p95(latencyMs),
    ttftP95Ms: p95(ttftMs),
    costPerRequest: 0.002,
    costStdDev: 0.0005,
    feedback: 0.8,
    feedbackStdDev: 0.3,
    feedbackCount: 100,
    ...overrides,
    latencyMs,
    ttftMs,
  };
}

const check = (result: ReturnType<typeof evaluateCanary>, guard: string) => result.checks.find((c) => c.guard === guard)!;

describe('canary guards', () => {
  it('promotes a healthy canary after the step has enough time and requests', () => {
    const result = evaluateCanary(stats(), stats({ requests: 200, errors: 2 }, 2), step, 120_000, guards);
    expect(result.decision).toBe('promote');
    expect(result.checks.every((c) => c.passing && !c.breached)).toBe(true);
  });

  it('holds with too few requests or too little time, even when everything looks fine', () => {
    expect(evaluateCanary(stats(), stats({ requests: 40, errors: 0 }, 2), step, 120_000, guards).decision).toBe('hold');
    expect(evaluateCanary(stats(), stats({ requests: 200, errors: 2 }, 2), step, 30_000, guards).decision).toBe('hold');
  });

  it('rolls back on an error-rate increase only once it is significant', () => {
    // 2/30 vs 1%: a big point estimate but too few samples to be sure → hold, not rollback.
    const small = evaluateCanary(stats(), stats({ requests: 30, errors: 2 }, 2), step, 120_000, guards);
    expect(small.decision).toBe('hold');
    expect(check(small, 'errorRateIncrease')).toMatchObject({ passing: false, breached: false });
    // 30/300 vs 1%: the lower bound of the increase is far above one point → rollback.
    const big = evaluateCanary(stats(), stats({ requests: 300, errors: 30 }, 2), step, 120_000, guards);
    expect(big.decision).toBe('rollback');
    expect(big.reason).toContain('errorRateIncrease');
    expect(check(big, 'errorRateIncrease').bound).toBeGreaterThan(0.01);
  });

  it('rolls back on a guardrail-trip rate increase only once it is significant; no guard without the setting', () => {
    const withGuard = { ...guards, maxGuardrailRateIncrease: 0.02 };
    const few = evaluateCanary(stats({ guardrailTrips: 5 }), stats({ requests: 40, guardrailTrips: 3 }, 2), step, 120_000, withGuard);
    expect(check(few, 'guardrailRateIncrease')).toMatchObject({ passing: false, breached: false });
    const many = evaluateCanary(stats({ guardrailTrips: 5 }), stats({ requests: 400, guardrailTrips: 60 }, 2), step, 120_000, withGuard);
    expect(many.decision).toBe('rollback');
    expect(many.reason).toContain('guardrailRateIncrease');
    const same = evaluateCanary(stats({ guardrailTrips: 50 }), stats({ guardrailTrips: 52 }, 2), step, 120_000, withGuard);
    expect(check(same, 'guardrailRateIncrease').breached).toBe(false);
    expect(check(evaluateCanary(stats(), stats({ guardrailTrips: 900 }, 2), step, 120_000, guards), 'guardrailRateIncrease')).toBeUndefined();
  });

  it('a canary failing every request against a baseline failing none is rolled back (the z-test had no standard error here)', () => {
    const result = evaluateCanary(stats({ requests: 450, errors: 0 }), stats({ requests: 450, errors: 450 }, 2), step, 30_000, guards);
    expect(result.decision).toBe('rollback');
    expect(check(result, 'errorRateIncrease')).toMatchObject({ value: 1, breached: true });
    // …and with nothing failing anywhere, nothing is breached.
    const clean = evaluateCanary(stats({ requests: 450, errors: 0 }), stats({ requests: 450, errors: 0 }, 2), step, 120_000, guards);
    expect(clean.decision).toBe('promote');
    expect(check(clean, 'errorRateIncrease').bound).toBeLessThan(0);
  });

  it('no evidence either way without requests on a side', () => {
    const result = evaluateCanary(stats({ requests: 0, errors: 0 }), stats({ requests: 3, errors: 3 }, 2), step, 120_000, guards);
    expect(check(result, 'errorRateIncrease')).toMatchObject({ value: null, bound: null, breached: false });
  });

  it('a latency regression trips the p95 guard once both sides have enough samples, and not before', () => {
    const slow = evaluateCanary(stats(), stats({ requests: 200, errors: 2, latencyMs: latencies(200, 250 * 2.25, 3) }), step, 120_000, guards);
    expect(slow.decision).toBe('rollback');
    expect(check(slow, 'p95Ratio').value!).toBeGreaterThan(2);
    expect(check(slow, 'p95Ratio').bound!).toBeGreaterThan(1.5);
    const fewSamples = evaluateCanary(stats(), stats({ requests: 20, errors: 0, latencyMs: latencies(20, 250 * 2.25, 3) }), step, 120_000, guards);
    expect(fewSamples.decision).toBe('hold');
    expect(check(fewSamples, 'p95Ratio')).toMatchObject({ bound: null, breached: false });
  });

  it('a healthy canary whose p95 looks 4× worse on 50 samples is held, not rolled back (maxP95Ratio 3)', () => {
    // The reported case: baseline p95 457 ms against canary 2031 ms, about 50 samples a side, same model.
    const bulk = latencies(47, 250, 4).map((v) => Math.min(v, 440));
    const baseline = [...bulk, 450, 457, 470];
    const canary = [...latencies(47, 250, 5).map((v) => Math.min(v, 440)), 1900, 2031, 2400];
    const result = evaluateCanary(
      stats({ requests: 50, errors: 0, latencyMs: baseline }),
      stats({ requests: 50, errors: 0, latencyMs: canary }),
      step,
      120_000,
      { ...guards, maxP95Ratio: 3 },
    );
    expect(check(result, 'p95Ratio').value!).toBeGreaterThan(4);
    expect(check(result, 'p95Ratio')).toMatchObject({ passing: false, breached: false });
    expect(result.decision).toBe('hold');
  });

  it('a canary 3 s slower on every request is rolled back even when the baseline p95 rose to 7.8 s', () => {
    // The reported case: a loaded machine stalls some baseline requests to ~8 s, so the p95 ratio of a
    // canary 3 s slower across the board is only about 1.4.
    const baseline = [...latencies(47, 500, 6), 7600, 7800, 8100];
    const canary = baseline.map((v) => v + 3000);
    const result = evaluateCanary(stats({ requests: 50, errors: 0, latencyMs: baseline }), stats({ requests: 50, errors: 0, latencyMs: canary }), step, 120_000, guards);
    expect(check(result, 'p95Ratio').value!).toBeLessThan(1.5);
    expect(check(result, 'p95Ratio')).toMatchObject({ passing: true, breached: true });
    expect(result.decision).toBe('rollback');
  });

  it('a tail-only regression (1 request in 10 five times slower) is caught by the p95 bound with enough samples', () => {
    const baseline = latencies(2000, 250, 7);
    const canary = latencies(2000, 250, 8).map((v, i) => (i % 10 === 0 ? v * 5 : v));
    const result = evaluateCanary(stats({ requests: 2000, errors: 20, latencyMs: baseline }), stats({ requests: 2000, errors: 20, latencyMs: canary }), step, 120_000, guards);
    expect(check(result, 'p95Ratio')).toMatchObject({ breached: true });
  });

  it('the TTFT guard works like the latency guard, on streamed requests', () => {
    const slow = evaluateCanary(stats(), stats({ requests: 300, errors: 3, ttftMs: latencies(300, 90 * 2, 9) }), step, 120_000, guards);
    expect(check(slow, 'ttftRatio')).toMatchObject({ passing: false, breached: true });
    expect(check(slow, 'p95Ratio')).toMatchObject({ breached: false });
    const noStreams = evaluateCanary(stats(), stats({ requests: 300, errors: 3, ttftMs: [] }), step, 120_000, guards);
    expect(check(noStreams, 'ttftRatio')).toMatchObject({ bound: null, breached: false });
  });

  it('the cost guard needs evidence beyond the spread of per-request costs', () => {
    const dearer = evaluateCanary(stats(), stats({ requests: 300, errors: 3, costPerRequest: 0.003, costStdDev: 0.0006 }, 2), step, 120_000, guards);
    expect(check(dearer, 'costRatio')).toMatchObject({ value: expect.closeTo(1.5, 12), breached: true });
    // Same mean, but costs so spread (a few huge answers) that 1.5× is not yet distinguishable from 1.2×.
    const noisy = evaluateCanary(stats(), stats({ requests: 60, errors: 0, costPerRequest: 0.003, costStdDev: 0.01 }, 2), step, 120_000, guards);
    expect(check(noisy, 'costRatio')).toMatchObject({ value: expect.closeTo(1.5, 12), passing: false, breached: false });
    // Constant costs on both sides: the ratio is exact.
    const constant = evaluateCanary(
      stats({ costPerRequest: 0.002, costStdDev: 0 }),
      stats({ requests: 60, errors: 0, costPerRequest: 0.0025, costStdDev: 0 }, 2),
      step,
      120_000,
      guards,
    );
    expect(check(constant, 'costRatio')).toMatchObject({ value: expect.closeTo(1.25, 12), bound: expect.closeTo(1.25, 12), breached: true });
    // An unpriced baseline bounds nothing.
    const free = evaluateCanary(stats({ costPerRequest: 0, costStdDev: 0 }), stats({ requests: 300, errors: 3 }, 2), step, 120_000, guards);
    expect(check(free, 'costRatio')).toMatchObject({ value: null, bound: null, breached: false });
  });

  it('feedback and agreement guards need their own evidence', () => {
    const worse = evaluateCanary(stats(), stats({ requests: 200, errors: 2, feedback: 0.4, feedbackCount: 10 }, 2), step, 120_000, guards);
    expect(worse.decision).toBe('hold');
    const enough = evaluateCanary(stats(), stats({ requests: 200, errors: 2, feedback: 0.4, feedbackCount: 60 }, 2), step, 120_000, guards);
    expect(enough.decision).toBe('rollback');
    expect(check(enough, 'feedbackDrop').bound!).toBeGreaterThan(0.2);
    // A drop just over the threshold with widely spread scores: over, but not yet evidence.
    const spread = evaluateCanary(stats(), stats({ requests: 200, errors: 2, feedback: 0.55, feedbackStdDev: 0.45, feedbackCount: 60 }, 2), step, 120_000, guards);
    expect(check(spread, 'feedbackDrop')).toMatchObject({ passing: false, breached: false });
    const agreement = evaluateCanary(stats(), stats({ requests: 200, errors: 2, agreement: 0.3, agreementStdDev: 0.2, agreementCount: 80 }, 2), step, 120_000, { ...guards, minAgreement: 0.5 });
    expect(agreement.decision).toBe('rollback');
    expect(check(agreement, 'agreement').bound!).toBeLessThan(0.5);
  });
});
