/**
 * The canary's statistics against published reference values, and at the extremes where a z-test has
 * no standard error: no requests, one request, nothing but failures against no failures.
 */
import { describe, expect, it } from 'vitest';
import {
  latencyRatioLowerBound,
  meanDropLowerBound,
  meanRatioLowerBound,
  meanUpperBound,
  normalQuantile,
  proportionDifferenceLowerBound,
  quantileBounds,
  scaleRatioLowerBound,
  wilsonInterval,
} from '../../src/canary/canary-statistics.js';
import { seededRandom } from '../helpers/seeded-random.js';

describe('normal quantile (AS 241)', () => {
  it('matches reference values across the range', () => {
    // Python's statistics.NormalDist().inv_cdf, itself AS 241.
    const reference: [number, number][] = [
      [0.5, 0],
      [0.9, 1.2815515655446008],
      [0.95, 1.6448536269514715],
      [0.975, 1.9599639845400536],
      [0.99, 2.3263478740408408],
      [0.999, 3.090232306167813],
      [1e-10, -6.361340902404056],
      [1e-20, -9.262340089798405],
    ];
    for (const [p, z] of reference) expect(normalQuantile(p)).toBeCloseTo(z, 12);
    expect(() => normalQuantile(1)).toThrow(RangeError);
  });
});

describe('Wilson interval with continuity correction', () => {
  it('leaves room for failures at 0/n and for successes at n/n', () => {
    const z = normalQuantile(0.975);
    // Newcombe (1998), single proportion, method 4: 0/10 → [0, 0.3445].
    expect(wilsonInterval(0, 10, z)).toEqual({ lower: 0, upper: expect.closeTo(0.3445, 4) });
    expect(wilsonInterval(10, 10, z)).toEqual({ lower: expect.closeTo(0.6555, 4), upper: 1 });
    expect(wilsonInterval(0, 0, z)).toEqual({ lower: 0, upper: 1 });
  });

  it('is close to the exact (Clopper–Pearson) bound at small counts', () => {
    // One-sided 95 % lower bound of 2/30: exact 0.0120 (scipy.stats.beta.ppf(0.05, 2, 29)).
    expect(wilsonInterval(2, 30, normalQuantile(0.95)).lower).toBeCloseTo(0.0143, 4);
  });
});

describe('error-rate increase bound (Newcombe hybrid score)', () => {
  const z95two = normalQuantile(0.975);

  it("matches Newcombe's published intervals (Statistics in Medicine 1998, Table II, method 11)", () => {
    // Lower limits of the 95 % two-sided interval = the 97.5 % one-sided bound.
    expect(proportionDifferenceLowerBound(56, 70, 48, 80, z95two)).toBeCloseTo(0.0428, 4);
    expect(proportionDifferenceLowerBound(9, 10, 3, 10, z95two)).toBeCloseTo(0.1013, 4);
    expect(proportionDifferenceLowerBound(0, 10, 0, 20, z95two)).toBeCloseTo(-0.2005, 4);
    expect(proportionDifferenceLowerBound(0, 10, 0, 10, z95two)).toBeCloseTo(-0.3445, 4);
    expect(proportionDifferenceLowerBound(10, 10, 0, 20, z95two)).toBeCloseTo(0.6014, 4);
    expect(proportionDifferenceLowerBound(10, 10, 0, 10, z95two)).toBeCloseTo(0.5128, 4);
  });

  it('is defined at the extremes: 0/0, 0/1, 1/1', () => {
    const z = normalQuantile(0.95);
    // No requests on a side: no evidence at all.
    expect(proportionDifferenceLowerBound(0, 0, 0, 10, z)).toBeNull();
    expect(proportionDifferenceLowerBound(3, 3, 0, 0, z)).toBeNull();
    // One request a side proves nothing, whatever happened to it.
    for (const [canary, baseline] of [[0, 0], [1, 0], [1, 1], [0, 1]] as const) {
      const bound = proportionDifferenceLowerBound(canary, 1, baseline, 1, z)!;
      expect(Number.isFinite(bound)).toBe(true);
      expect(bound).toBeLessThan(0.01);
    }
  });

  it('a canary failing everything against a baseline failing nothing breaches quickly — where the z-test never could', () => {
    const z = normalQuantile(0.95);
    // Five failures of five against five successes: already beyond a 1-point allowance.
    expect(proportionDifferenceLowerBound(5, 5, 0, 5, z)).toBeGreaterThan(0.3);
    expect(proportionDifferenceLowerBound(450, 450, 0, 450, z)).toBeGreaterThan(0.98);
    // Nothing failing anywhere: the bound stays below zero.
    expect(proportionDifferenceLowerBound(0, 450, 0, 450, z)).toBeLessThan(0);
  });

  it('small samples: a big point estimate is not yet evidence', () => {
    const z = normalQuantile(0.95);
    // 2/30 against 10/1000: +5.7 points, but 30 requests cannot rule out +1 (P(≥2 of 30 | 2 %) ≈ 12 %)…
    expect(proportionDifferenceLowerBound(2, 30, 10, 1000, z)).toBeLessThan(0.01);
    // …while 3/30 can (P(≥3 of 30 | 2 %) ≈ 2 %), and 30/300 certainly.
    expect(proportionDifferenceLowerBound(3, 30, 10, 1000, z)).toBeGreaterThan(0.01);
    expect(proportionDifferenceLowerBound(30, 300, 10, 1000, z)).toBeGreaterThan(0.01);
  });

  it('holds its confidence: at exactly the allowed increase it breaches less than α of the time', () => {
    const random = seededRandom(7);
    const z = normalQuantile(0.95);
    const draw = (n: number, p: number): number => {
      let failures = 0;
      for (let i = 0; i < n; i++) if (random() < p) failures++;
      return failures;
    };
    let breaches = 0;
    const runs = 4000;
    for (let run = 0; run < runs; run++) {
      if (proportionDifferenceLowerBound(draw(300, 0.03), 300, draw(1000, 0.02), 1000, z)! > 0.01) breaches++;
    }
    expect(breaches / runs).toBeLessThan(0.05);
    // Conservative, not blind: a clearly larger increase is caught nearly every time.
    let caught = 0;
    for (let run = 0; run < 500; run++) {
      if (proportionDifferenceLowerBound(draw(300, 0.1), 300, draw(1000, 0.02), 1000, z)! > 0.01) caught++;
    }
    expect(caught / 500).toBeGreaterThan(0.95);
  });
});

const oneTo = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);

describe('order-statistic bounds for a quantile', () => {
  it('pick the order statistics the binomial distribution says (checked with scipy.stats.binom)', () => {
    // Sample 1..n, so X₍ₖ₎ = k.
    expect(quantileBounds(oneTo(100), 0.95, 0.975)).toEqual({ lower: 90, upper: 100 });
    expect(quantileBounds(oneTo(100), 0.95, 0.95)).toEqual({ lower: 91, upper: 99 });
    expect(quantileBounds(oneTo(1000), 0.95, 0.975)).toEqual({ lower: 936, upper: 964 });
    expect(quantileBounds(oneTo(59), 0.95, 0.95)).toEqual({ lower: 53, upper: 59 });
  });

  it('cannot bound a p95 from above with fewer samples than it takes', () => {
    // 1 − 0.95⁵⁸ < 0.95: the true p95 may lie beyond the largest of 58 samples.
    expect(quantileBounds(oneTo(58), 0.95, 0.95)).toEqual({ lower: 52, upper: null });
    expect(quantileBounds(oneTo(50), 0.95, 0.975)).toEqual({ lower: 44, upper: null });
    expect(quantileBounds([], 0.95, 0.95)).toEqual({ lower: null, upper: null });
    expect(quantileBounds([7], 0.95, 0.95)).toEqual({ lower: 7, upper: null });
  });
});

describe('Mann–Whitney scale bound', () => {
  // baseline 101..160, canary 152..270 (even): scipy.stats.mannwhitneyu(canary, r·baseline, 'greater',
  // use_continuity=True, method='asymptotic') gives p = 0.0082 at r = 1.5 and p = 0.37 at r = 1.6.
  const baseline = Array.from({ length: 60 }, (_, i) => 101 + i);
  const canary = Array.from({ length: 60 }, (_, j) => 152 + 2 * j);

  it('is the largest ratio the rank test still rejects', () => {
    const at975 = scaleRatioLowerBound(canary, baseline, normalQuantile(0.975))!;
    expect(at975).toBeGreaterThan(1.5);
    expect(at975).toBeLessThan(1.6);
    // Same data, brute force over all 3600 pairs: the rejection region ends at 1.5217.
    expect(at975).toBeCloseTo(1.5217, 3);
    expect(scaleRatioLowerBound(canary, baseline, normalQuantile(0.99))!).toBeCloseTo(1.5038, 3);
  });

  it('finds no slowdown between identical samples, and no evidence in tiny ones', () => {
    expect(scaleRatioLowerBound(baseline, baseline, normalQuantile(0.95))!).toBeLessThan(1);
    expect(scaleRatioLowerBound([500, 600], [100, 120], normalQuantile(0.95))).toBeNull();
    expect(scaleRatioLowerBound([], baseline, normalQuantile(0.95))).toBeNull();
  });
});

describe('latency ratio bound (tail and ranks, Bonferroni)', () => {
  it('holds its confidence: identical latency distributions breach a ratio of 1 less than α of the time', () => {
    const random = seededRandom(11);
    // Log-normal latencies with a slow tail, as a loaded machine gives.
    const draw = (n: number): number[] =>
      Array.from({ length: n }, () => 300 * Math.exp(0.6 * Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random()))).sort((a, b) => a - b);
    let breaches = 0;
    const runs = 400;
    for (let run = 0; run < runs; run++) if ((latencyRatioLowerBound(draw(120), draw(120), 0.95) ?? 0) > 1) breaches++;
    expect(breaches / runs).toBeLessThan(0.05);
  });
});

describe('bounds on means', () => {
  const z = normalQuantile(0.95);

  it("Fieller's bound solves (x̄c − θ·x̄b)² = z²·(vc + θ²·vb) at its lower root", () => {
    const canary = { count: 200, mean: 0.003, stdDev: 0.001 };
    const baseline = { count: 800, mean: 0.002, stdDev: 0.0008 };
    const theta = meanRatioLowerBound(canary, baseline, z)!;
    const vc = canary.stdDev ** 2 / canary.count;
    const vb = baseline.stdDev ** 2 / baseline.count;
    expect((canary.mean - theta * baseline.mean) / Math.sqrt(vc + theta * theta * vb)).toBeCloseTo(z, 9);
    expect(theta).toBeLessThan(1.5);
    expect(theta).toBeGreaterThan(1.3);
  });

  it('is exact without spread and refuses a baseline that may be zero', () => {
    expect(meanRatioLowerBound({ count: 5, mean: 3, stdDev: 0 }, { count: 5, mean: 2, stdDev: 0 }, z)).toBe(1.5);
    expect(meanRatioLowerBound({ count: 50, mean: 3, stdDev: 1 }, { count: 50, mean: 0, stdDev: 0 }, z)).toBeNull();
    expect(meanRatioLowerBound({ count: 50, mean: 3, stdDev: 1 }, { count: 3, mean: 0.1, stdDev: 1 }, z)).toBeNull();
  });

  it('mean drop and mean upper bounds', () => {
    expect(meanDropLowerBound({ count: 100, mean: 0.5, stdDev: 0.3 }, { count: 100, mean: 0.8, stdDev: 0.3 }, z)).toBeCloseTo(0.3 - z * Math.sqrt(0.0018), 12);
    expect(meanUpperBound({ count: 100, mean: 0.4, stdDev: 0.2 }, z)).toBeCloseTo(0.4 + z * 0.02, 12);
    expect(meanUpperBound({ count: 0, mean: 0, stdDev: 0 }, z)).toBeNull();
  });
});
