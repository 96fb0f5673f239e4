/**
 * The statistics behind the canary guards. Every guard asks the same question — is the canary worse
 * than its threshold allows, with the configured confidence? — and answers it with a one-sided
 * confidence bound on the canary's side of the comparison: a guard is breached only when even that
 * bound is beyond the threshold. Every bound here is defined for every input, including the extremes
 * where a textbook z statistic divides by zero (no errors at all, every request failing, one sample,
 * constant costs); where the data cannot bound a quantity the answer is `null` — no evidence — never a
 * guess.
 */

/**
 * Φ⁻¹(p), the standard normal quantile: Wichura's algorithm AS 241 (PPND16, Applied Statistics 37(3),
 * 1988), accurate to about 1e-16 — so any confidence, and the Bonferroni splits below, get exact z.
 */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`normalQuantile needs 0 < p < 1, got ${p}`);
  const q = p - 0.5;
  if (Math.abs(q) <= 0.425) {
    const r = 0.180625 - q * q;
    return (
      (q *
        (((((((2509.0809287301226727 * r + 33430.575583588128105) * r + 67265.770927008700853) * r + 45921.953931549871457) * r +
          13731.693765509461125) * r + 1971.5909503065514427) * r + 133.14166789178437745) * r + 3.387132872796366608)) /
      (((((((5226.495278852854561 * r + 28729.085735721942674) * r + 39307.89580009271061) * r + 21213.794301586595867) * r +
        5394.1960214247511077) * r + 687.1870074920579083) * r + 42.313330701600911252) * r + 1)
    );
  }
  let r = Math.sqrt(-Math.log(q < 0 ? p : 1 - p));
  let value: number;
  if (r <= 5) {
    r -= 1.6;
    value =
      (((((((7.7454501427834140764e-4 * r + 0.0227238449892691845833) * r + 0.24178072517745061177) * r + 1.27045825245236838258) * r +
        3.64784832476320460504) * r + 5.7694972214606914055) * r + 4.6303378461565452959) * r + 1.42343711074968357734) /
      (((((((1.05075007164441684324e-9 * r + 5.475938084995344946e-4) * r + 0.0151986665636164571966) * r + 0.14810397642748007459) * r +
        0.68976733498510000455) * r + 1.6763848301838038494) * r + 2.05319162663775882187) * r + 1);
  } else {
    r -= 5;
    value =
      (((((((2.01033439929228813265e-7 * r + 2.71155556874348757815e-5) * r + 0.0012426609473880784386) * r + 0.026532189526576123093) * r +
        0.29656057182850489123) * r + 1.7848265399172913358) * r + 5.4637849111641143699) * r + 6.6579046435011037772) /
      (((((((2.04426310338993978564e-15 * r + 1.4215117583164458887e-7) * r + 1.8463183175100546818e-5) * r + 7.868691311456132591e-4) * r +
        0.0148753612908506148525) * r + 0.13692988092273580531) * r + 0.59983220655588793769) * r + 1);
  }
  return q < 0 ? -value : value;
}

export interface Interval {
  lower: number;
  upper: number;
}

/**
 * Wilson's score interval for a binomial proportion, with a continuity correction (Newcombe 1998,
 * single-proportion method 4), z per one-sided bound. Unlike the Wald interval p ± z·√(p(1−p)/n) it
 * does not collapse to a point at 0/n or n/n: 0 failures in 20 still leaves room for a failure rate of
 * up to 18 % at 95 %. The continuity correction keeps it honest at the small counts a canary is first
 * judged on (plain Wilson puts the lower bound of 2/30 at 2.2 %, the exact one is 1.2 %). With no
 * trials it is the whole of [0, 1].
 */
export function wilsonInterval(successes: number, trials: number, z: number): Interval {
  if (trials === 0) return { lower: 0, upper: 1 };
  const n = trials;
  const p = successes / n;
  const z2 = z * z;
  const denominator = 2 * (n + z2);
  const lower = successes === 0 ? 0 : (2 * n * p + z2 - 1 - z * Math.sqrt(Math.max(0, z2 - 2 - 1 / n + 4 * p * (n * (1 - p) + 1)))) / denominator;
  const upper = successes === n ? 1 : (2 * n * p + z2 + 1 + z * Math.sqrt(Math.max(0, z2 + 2 - 1 / n + 4 * p * (n * (1 - p) - 1)))) / denominator;
  return { lower: Math.max(0, lower), upper: Math.min(1, upper) };
}

/**
 * One-sided lower confidence bound for p₁ − p₂ (canary error rate minus baseline's): Newcombe's hybrid
 * score method with continuity correction (Statistics in Medicine 17, 1998, method 11), which combines
 * the two sides' Wilson intervals: L = p₁ − p₂ − √((p₁ − l₁)² + (u₂ − p₂)²). Chosen over the
 * two-proportion z-test because it is defined, with at least its nominal coverage, at every count —
 * 0/0, 0/n against n/n, one request a side — where the z-test's standard error is 0; and over a
 * Bayesian posterior because it is closed-form, needs no prior, and reads like every other guard (a
 * bound compared with the threshold). It errs on the conservative side, which suits a test repeated at
 * every evaluation of a step. Null without requests on either side.
 */
export function proportionDifferenceLowerBound(failures1: number, trials1: number, failures2: number, trials2: number, z: number): number | null {
  if (trials1 === 0 || trials2 === 0) return null;
  const p1 = failures1 / trials1;
  const p2 = failures2 / trials2;
  const lower1 = wilsonInterval(failures1, trials1, z).lower;
  const upper2 = wilsonInterval(failures2, trials2, z).upper;
  return p1 - p2 - Math.sqrt((p1 - lower1) ** 2 + (upper2 - p2) ** 2);
}

/** P(X ≥ k) for each k = 0..n, X ~ Binomial(n, p), computed in log space (n may be thousands). */
function binomialUpperTails(n: number, p: number): Float64Array {
  const logPmf = new Float64Array(n + 1);
  const logP = Math.log(p);
  const logQ = Math.log1p(-p);
  let logChoose = 0;
  for (let k = 0; k <= n; k++) {
    if (k > 0) logChoose += Math.log(n - k + 1) - Math.log(k);
    logPmf[k] = logChoose + k * logP + (n - k) * logQ;
  }
  const tails = new Float64Array(n + 2);
  for (let k = n; k >= 0; k--) tails[k] = (tails[k + 1] as number) + Math.exp(logPmf[k] as number);
  return tails;
}

/**
 * Distribution-free one-sided confidence bounds for the q-quantile of a population from its sorted
 * sample, by order statistics: P(X₍ₖ₎ ≤ ξ_q) = P(Binomial(n, q) ≥ k). The lower bound is the largest
 * X₍ₖ₎ with that probability ≥ confidence, the upper bound the smallest X₍ₘ₎ with P(Binomial(n, q) < m)
 * ≥ confidence. Null when the sample is too small to bound the quantile at all (e.g. a p95's upper
 * bound at 95 % needs at least 59 samples: below that the true p95 may lie beyond the largest one).
 */
export function quantileBounds(sorted: readonly number[], q: number, confidence: number): { lower: number | null; upper: number | null } {
  const n = sorted.length;
  if (n === 0) return { lower: null, upper: null };
  const atLeast = binomialUpperTails(n, q);
  let lower: number | null = null;
  for (let k = n; k >= 1; k--) {
    if ((atLeast[k] as number) >= confidence) {
      lower = sorted[k - 1] as number;
      break;
    }
  }
  let upper: number | null = null;
  for (let m = 1; m <= n; m++) {
    // P(X < m) = 1 − P(X ≥ m)
    if (1 - (atLeast[m] as number) >= confidence) {
      upper = sorted[m - 1] as number;
      break;
    }
  }
  return { lower, upper };
}

/** U(θ) = #{(c, b): c > θ·b} + ½·#{c = θ·b} over two ascending samples, in one merge pass. */
function mannWhitneyU(canary: readonly number[], baseline: readonly number[], theta: number): number {
  let below = 0;
  let notAbove = 0;
  let u = 0;
  for (const c of canary) {
    while (below < baseline.length && theta * (baseline[below] as number) < c) below++;
    if (notAbove < below) notAbove = below;
    while (notAbove < baseline.length && theta * (baseline[notAbove] as number) <= c) notAbove++;
    u += below + (notAbove - below) / 2;
  }
  return u;
}

/**
 * One-sided lower confidence bound for θ in "canary ≈ θ × baseline" (a scale shift), from the
 * Mann–Whitney rank test: the largest θ at which the test still finds the canary slower than θ times
 * the baseline. Ranks make it robust to the tail noise a loaded machine puts on both sides: a few
 * stalled baseline requests cannot hide a canary that is slower across the board, and a few stalled
 * canary requests cannot convict a healthy one. Normal approximation with a continuity correction and
 * no tie correction (ties only lower the variance, so ignoring them is conservative). Both samples
 * sorted ascending; null when even θ → 0 is not significant (samples too small).
 */
export function scaleRatioLowerBound(canary: readonly number[], baseline: readonly number[], z: number): number | null {
  const m = canary.length;
  const n = baseline.length;
  if (m === 0 || n === 0) return null;
  const critical = (m * n) / 2 + 0.5 + z * Math.sqrt((m * n * (m + n + 1)) / 12);
  const significant = (theta: number): boolean => mannWhitneyU(canary, baseline, theta) >= critical;
  const smallest = Math.max(Math.min(canary[0] as number, baseline[0] as number), 1e-9);
  const largest = Math.max(canary[m - 1] as number, baseline[n - 1] as number, smallest);
  // Below lo every canary value exceeds θ·b (U = m·n); above hi none does (U = 0).
  let lo = (smallest / largest) / 2;
  let hi = (largest / smallest) * 2;
  if (!significant(lo)) return null;
  if (significant(hi)) return hi;
  // Bisection in log space: U(θ) is non-increasing in θ.
  for (let i = 0; i < 60 && hi / lo > 1 + 1e-9; i++) {
    const mid = Math.sqrt(lo * hi);
    if (significant(mid)) lo = mid;
    else hi = mid;
  }
  return lo;
}

/**
 * A lower confidence bound for "how many times slower is the canary", at a quantile (default p95) and
 * across the board, with overall confidence `confidence`: the larger of (a) the order-statistic bound
 * canary-p95-lower / baseline-p95-upper and (b) the Mann–Whitney scale bound, each at 1 − α/2
 * (Bonferroni), and (a)'s two one-sided bounds each at 1 − α/4, so the chance of a false breach stays
 * within α. (a) catches a canary whose tail alone got worse; (b) a canary slower everywhere whose p95
 * ratio the baseline's own tail noise hides. Samples sorted ascending.
 */
export function latencyRatioLowerBound(canary: readonly number[], baseline: readonly number[], confidence: number, quantile = 0.95): number | null {
  const alpha = 1 - confidence;
  const canaryTail = quantileBounds(canary, quantile, 1 - alpha / 4).lower;
  const baselineTail = quantileBounds(baseline, quantile, 1 - alpha / 4).upper;
  const tail = canaryTail !== null && baselineTail !== null && baselineTail > 0 ? canaryTail / baselineTail : null;
  const scale = scaleRatioLowerBound(canary, baseline, normalQuantile(1 - alpha / 2));
  if (tail === null) return scale;
  if (scale === null) return tail;
  return Math.max(tail, scale);
}

/** A sample's size, mean and standard deviation. */
export interface Moments {
  count: number;
  mean: number;
  stdDev: number;
}

const varianceOfMean = (m: Moments): number => (m.stdDev * m.stdDev) / m.count;

/**
 * One-sided lower confidence bound for μ_canary / μ_baseline by Fieller's theorem (large-sample
 * normal means): the smaller root θ of (x̄_c − θ·x̄_b)² = z²·(v_c + θ²·v_b). Exact when both samples
 * are constant (θ = x̄_c / x̄_b). Null when the baseline's mean is not itself bounded away from zero —
 * a ratio to something that may be 0 bounds nothing.
 */
export function meanRatioLowerBound(canary: Moments, baseline: Moments, z: number): number | null {
  if (canary.count === 0 || baseline.count === 0) return null;
  const vc = varianceOfMean(canary);
  const vb = varianceOfMean(baseline);
  const a = baseline.mean * baseline.mean - z * z * vb;
  if (a <= 0) return null;
  const b = canary.mean * baseline.mean;
  // b² − a·c simplifies to z²·(v_c·a + v_b·x̄_c²), never negative once a > 0.
  const discriminant = z * z * (vc * a + vb * canary.mean * canary.mean);
  return (b - Math.sqrt(discriminant)) / a;
}

/** One-sided lower confidence bound for μ_baseline − μ_canary (normal approximation, unequal variances). */
export function meanDropLowerBound(canary: Moments, baseline: Moments, z: number): number | null {
  if (canary.count === 0 || baseline.count === 0) return null;
  return baseline.mean - canary.mean - z * Math.sqrt(varianceOfMean(canary) + varianceOfMean(baseline));
}

/** One-sided upper confidence bound for a mean (normal approximation). */
export function meanUpperBound(sample: Moments, z: number): number | null {
  if (sample.count === 0) return null;
  return sample.mean + z * Math.sqrt(varianceOfMean(sample));
}
