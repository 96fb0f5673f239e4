import { describe, expect, it } from 'vitest';
import { evaluateCanary, type CanaryGuards, type VariantStats } from '../../src/canary/canary-guards.js';

const guards: CanaryGuards = { maxErrorRateIncrease: 0.01, maxP95Ratio: 1.5, maxTtftRatio: 1.5, maxCostRatio: 1.2, maxFeedbackDrop: 0.2, confidence: 0.95, minSamples: 50 };
const step = { weight: 5, minDurationMs: 60_000, minRequests: 100 };

function stats(overrides: Partial<VariantStats> = {}): VariantStats {
  return { requests: 1000, errors: 10, p95Ms: 400, ttftP95Ms: 150, costPerRequest: 0.002, feedback: 0.8, feedbackCount: 100, ...overrides };
}

describe('canary guards', () => {
  it('promotes a healthy canary after the step has enough time and requests', () => {
    const result = evaluateCanary(stats(), stats({ requests: 200, errors: 2 }), step, 120_000, guards);
    expect(result.decision).toBe('promote');
    expect(result.checks.every((c) => c.passing && !c.breached)).toBe(true);
  });

  it('holds with too few requests or too little time, even when everything looks fine', () => {
    expect(evaluateCanary(stats(), stats({ requests: 40, errors: 0 }), step, 120_000, guards).decision).toBe('hold');
    expect(evaluateCanary(stats(), stats({ requests: 200, errors: 2 }), step, 30_000, guards).decision).toBe('hold');
  });

  it('rolls back on an error-rate increase only once it is significant', () => {
    // 2/30 vs 1%: a big point estimate but too few samples to be sure → hold, not rollback.
    const small = evaluateCanary(stats(), stats({ requests: 30, errors: 2 }), step, 120_000, guards);
    expect(small.decision).toBe('hold');
    expect(small.checks.find((c) => c.guard === 'errorRateIncrease')).toMatchObject({ passing: false, breached: false });
    // 30/300 vs 1%: the lower bound of the increase is far above one point → rollback.
    const big = evaluateCanary(stats(), stats({ requests: 300, errors: 30 }), step, 120_000, guards);
    expect(big.decision).toBe('rollback');
    expect(big.reason).toContain('errorRateIncrease');
    expect(big.checks.find((c) => c.guard === 'errorRateIncrease')!.bound).toBeGreaterThan(0.01);
  });

  it('a canary failing every request against a baseline failing none is rolled back (the z-test had no standard error here)', () => {
    const result = evaluateCanary(stats({ requests: 450, errors: 0 }), stats({ requests: 450, errors: 450 }), step, 30_000, guards);
    expect(result.decision).toBe('rollback');
    expect(result.checks.find((c) => c.guard === 'errorRateIncrease')).toMatchObject({ value: 1, breached: true });
    // …and with nothing failing anywhere, nothing is breached.
    const clean = evaluateCanary(stats({ requests: 450, errors: 0 }), stats({ requests: 450, errors: 0 }), step, 120_000, guards);
    expect(clean.decision).toBe('promote');
    expect(clean.checks.find((c) => c.guard === 'errorRateIncrease')!.bound).toBeLessThan(0);
  });

  it('no evidence either way without requests on a side', () => {
    const result = evaluateCanary(stats({ requests: 0, errors: 0 }), stats({ requests: 3, errors: 3 }), step, 120_000, guards);
    expect(result.checks.find((c) => c.guard === 'errorRateIncrease')).toMatchObject({ value: null, bound: null, breached: false });
  });

  it('a p95 latency regression trips its guard once both sides have enough samples', () => {
    const slow = evaluateCanary(stats(), stats({ requests: 200, errors: 2, p95Ms: 900 }), step, 120_000, guards);
    expect(slow.decision).toBe('rollback');
    expect(slow.checks.find((c) => c.guard === 'p95Ratio')).toMatchObject({ value: 2.25, breached: true });
    const fewSamples = evaluateCanary(stats(), stats({ requests: 20, errors: 0, p95Ms: 900 }), step, 120_000, guards);
    expect(fewSamples.decision).toBe('hold');
  });

  it('feedback and agreement guards need their own evidence', () => {
    const worse = evaluateCanary(stats(), stats({ requests: 200, errors: 2, feedback: 0.4, feedbackCount: 10 }), step, 120_000, guards);
    expect(worse.decision).toBe('hold');
    const enough = evaluateCanary(stats(), stats({ requests: 200, errors: 2, feedback: 0.4, feedbackCount: 60 }), step, 120_000, guards);
    expect(enough.decision).toBe('rollback');
    const agreement = evaluateCanary(stats(), stats({ requests: 200, errors: 2, agreement: 0.3, agreementCount: 80 }), step, 120_000, { ...guards, minAgreement: 0.5 });
    expect(agreement.decision).toBe('rollback');
  });
});
