import { describe, expect, it } from 'vitest';
import { errorRateZ, evaluateCanary, zFor, type CanaryGuards, type VariantStats } from '../../src/canary/canary-guards.js';

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
    // 3/30 vs 1%: a big point estimate but too few samples to be sure → hold, not rollback.
    const small = evaluateCanary(stats(), stats({ requests: 30, errors: 3 }), step, 120_000, guards);
    expect(small.decision).toBe('hold');
    // 30/300 vs 1%: z is far above 1.645 → rollback.
    const big = evaluateCanary(stats(), stats({ requests: 300, errors: 30 }), step, 120_000, guards);
    expect(big.decision).toBe('rollback');
    expect(big.reason).toContain('errorRateIncrease');
  });

  it('computes the one-sided two-proportion z statistic', () => {
    const z = errorRateZ(stats({ requests: 1000, errors: 10 }), stats({ requests: 300, errors: 30 }), 0.01)!;
    const se = Math.sqrt((0.01 * 0.99) / 1000 + (0.1 * 0.9) / 300);
    expect(z).toBeCloseTo((0.1 - 0.01 - 0.01) / se, 12);
    expect(errorRateZ(stats({ errors: 0 }), stats({ errors: 0 }), 0.01)).toBeNull();
    expect(zFor(0.95)).toBeCloseTo(1.6449, 4);
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
