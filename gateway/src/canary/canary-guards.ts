/**
 * The decision a progressive canary makes at one evaluation, as a pure function of the numbers: hold
 * (too little data, or not long enough at this step), roll back (a guard breached with enough evidence),
 * or promote (every guard within its threshold for the step).
 *
 * Evidence: every guard is judged on a one-sided confidence bound at the configured `confidence` (see
 * canary-statistics.ts) — rolled back only when even the end of the interval most favourable to the
 * canary is beyond the threshold; a point value beyond it without that evidence holds the step.
 *
 * - error rate: Newcombe's hybrid score bound on "canary error rate minus baseline's" — defined even
 *   when one side has no errors and the other nothing but errors; the same for the share of answers
 *   that trip an output guardrail (a candidate that leaks more personal data or breaks the schema);
 * - latency and TTFT: a lower bound on how many times slower the canary is, from order statistics at
 *   the p95 and from a Mann–Whitney rank test across the whole distribution (Bonferroni-combined);
 * - cost: Fieller's bound on the ratio of mean costs per request;
 * - feedback and agreement: normal bounds on the mean drop / the mean.
 *
 * Latency, cost, feedback and agreement guards also need `minSamples` on each side first.
 */
import {
  latencyRatioLowerBound,
  meanDropLowerBound,
  meanRatioLowerBound,
  meanUpperBound,
  normalQuantile,
  proportionDifferenceLowerBound,
  type Moments,
} from './canary-statistics.js';

export interface VariantStats {
  requests: number;
  /** Failed, or not answered by the variant itself. */
  errors: number;
  p95Ms: number | null;
  ttftP95Ms: number | null;
  costPerRequest: number;
  costStdDev: number;
  feedback: number | null;
  feedbackStdDev: number;
  feedbackCount: number;
  /** Mean answer agreement (e.g. ROUGE-L F) of shadowed requests, when measured. */
  agreement?: number | null;
  agreementStdDev?: number;
  agreementCount?: number;
  /** Requests whose answer (from the variant itself) tripped an output guardrail. */
  guardrailTrips?: number;
  /** Latencies and TTFTs (ms) of the variant's latest requests, for the ratio tests. */
  latencyMs: readonly number[];
  ttftMs: readonly number[];
}

/** A variant with no requests yet. */
export const NO_STATS: VariantStats = Object.freeze({
  requests: 0,
  errors: 0,
  p95Ms: null,
  ttftP95Ms: null,
  costPerRequest: 0,
  costStdDev: 0,
  feedback: null,
  feedbackStdDev: 0,
  feedbackCount: 0,
  latencyMs: [],
  ttftMs: [],
});

export interface CanaryGuards {
  /** Allowed absolute error-rate increase (0.01 = one percentage point). */
  maxErrorRateIncrease?: number;
  /** Allowed absolute increase of the share of answers that trip an output guardrail. */
  maxGuardrailRateIncrease?: number;
  maxP95Ratio?: number;
  maxTtftRatio?: number;
  maxCostRatio?: number;
  /** Allowed drop of the mean feedback score. */
  maxFeedbackDrop?: number;
  minAgreement?: number;
  /** One-sided confidence of every guard's evidence. */
  confidence: number;
  /** Samples each side needs before a quantile, cost or feedback guard can breach. */
  minSamples: number;
}

export interface CanaryStep {
  weight: number;
  minDurationMs: number;
  minRequests: number;
}

export interface GuardCheck {
  guard: string;
  value: number | null;
  /**
   * The one-sided confidence bound the breach is judged on — the end of the confidence interval most
   * favourable to the canary — or null while there is no evidence either way.
   */
  bound: number | null;
  threshold: number;
  /** Within the threshold (point estimate). */
  passing: boolean;
  /** Breached with enough evidence to act on. */
  breached: boolean;
}

export type Decision = 'hold' | 'promote' | 'rollback';

export interface Evaluation {
  decision: Decision;
  reason: string;
  checks: GuardCheck[];
}

const ratio = (canary: number | null, baseline: number | null): number | null =>
  canary !== null && baseline !== null && baseline > 0 ? canary / baseline : null;

const ascending = (values: readonly number[]): number[] => [...values].sort((a, b) => a - b);

/** A guard whose bound is a lower bound on a "canary / baseline" ratio, breached above `threshold`. */
function ratioCheck(guard: string, value: number | null, bound: number | null, threshold: number): GuardCheck {
  return { guard, value, bound, threshold, passing: value === null || value <= threshold, breached: bound !== null && bound > threshold };
}

function latencyCheck(guard: string, p95: [number | null, number | null], samples: [readonly number[], readonly number[]], threshold: number, guards: CanaryGuards): GuardCheck {
  const [canary, baseline] = samples;
  const enough = canary.length >= guards.minSamples && baseline.length >= guards.minSamples;
  const bound = enough ? latencyRatioLowerBound(ascending(canary), ascending(baseline), guards.confidence) : null;
  return ratioCheck(guard, ratio(p95[0], p95[1]), bound, threshold);
}

/**
 * A guard on "the canary's share of X minus the baseline's" (errors, guardrail trips), breached when
 * Newcombe's lower bound on that difference is above `threshold`. Sides are [count, requests].
 */
function proportionCheck(guard: string, canary: [number, number], baseline: [number, number], threshold: number, z: number): GuardCheck {
  const increase = baseline[1] && canary[1] ? canary[0] / canary[1] - baseline[0] / baseline[1] : null;
  const bound = proportionDifferenceLowerBound(canary[0], canary[1], baseline[0], baseline[1], z);
  return { guard, value: increase, bound, threshold, passing: increase === null || increase <= threshold, breached: bound !== null && bound > threshold };
}

export function evaluateCanary(
  baseline: VariantStats,
  canary: VariantStats,
  step: CanaryStep,
  elapsedMs: number,
  guards: CanaryGuards,
  unavailable: readonly string[] = [],
): Evaluation {
  const checks: GuardCheck[] = [];
  // A canary target whose breaker is open (or whose health check fails) is evidence against it: the
  // requests it skips already count as its failures, and it is never promoted while it is skipped.
  checks.push({ guard: 'canaryReachable', value: unavailable.length, bound: null, threshold: 0, passing: unavailable.length === 0, breached: false });
  const z = normalQuantile(guards.confidence);

  if (guards.maxErrorRateIncrease !== undefined) {
    checks.push(proportionCheck('errorRateIncrease', [canary.errors, canary.requests], [baseline.errors, baseline.requests], guards.maxErrorRateIncrease, z));
  }
  if (guards.maxGuardrailRateIncrease !== undefined) {
    checks.push(proportionCheck('guardrailRateIncrease', [canary.guardrailTrips ?? 0, canary.requests], [baseline.guardrailTrips ?? 0, baseline.requests], guards.maxGuardrailRateIncrease, z));
  }
  if (guards.maxP95Ratio !== undefined) {
    checks.push(latencyCheck('p95Ratio', [canary.p95Ms, baseline.p95Ms], [canary.latencyMs, baseline.latencyMs], guards.maxP95Ratio, guards));
  }
  if (guards.maxTtftRatio !== undefined) {
    checks.push(latencyCheck('ttftRatio', [canary.ttftP95Ms, baseline.ttftP95Ms], [canary.ttftMs, baseline.ttftMs], guards.maxTtftRatio, guards));
  }
  if (guards.maxCostRatio !== undefined) {
    const enough = canary.requests >= guards.minSamples && baseline.requests >= guards.minSamples;
    const cost = (v: VariantStats): Moments => ({ count: v.requests, mean: v.costPerRequest, stdDev: v.costStdDev });
    const bound = enough ? meanRatioLowerBound(cost(canary), cost(baseline), z) : null;
    checks.push(ratioCheck('costRatio', ratio(canary.costPerRequest, baseline.costPerRequest), bound, guards.maxCostRatio));
  }
  if (guards.maxFeedbackDrop !== undefined) {
    const value = canary.feedback !== null && baseline.feedback !== null ? baseline.feedback - canary.feedback : null;
    const enough = canary.feedbackCount >= guards.minSamples && baseline.feedbackCount >= guards.minSamples;
    const scores = (v: VariantStats): Moments => ({ count: v.feedbackCount, mean: v.feedback ?? 0, stdDev: v.feedbackStdDev });
    const bound = enough ? meanDropLowerBound(scores(canary), scores(baseline), z) : null;
    const threshold = guards.maxFeedbackDrop;
    checks.push({ guard: 'feedbackDrop', value, bound, threshold, passing: value === null || value <= threshold, breached: bound !== null && bound > threshold });
  }
  if (guards.minAgreement !== undefined) {
    const value = canary.agreement ?? null;
    const count = canary.agreementCount ?? 0;
    const bound = value !== null && count >= guards.minSamples ? meanUpperBound({ count, mean: value, stdDev: canary.agreementStdDev ?? 0 }, z) : null;
    const threshold = guards.minAgreement;
    checks.push({ guard: 'agreement', value, bound, threshold, passing: value === null || value >= threshold, breached: bound !== null && bound < threshold });
  }

  const breached = checks.filter((check) => check.breached);
  if (breached.length > 0) {
    return { decision: 'rollback', reason: `guard breached: ${breached.map((c) => c.guard).join(', ')}`, checks };
  }
  if (canary.requests < step.minRequests || elapsedMs < step.minDurationMs) {
    return { decision: 'hold', reason: `not enough data for this step (${canary.requests}/${step.minRequests} requests, ${Math.floor(elapsedMs / 1000)}/${Math.floor(step.minDurationMs / 1000)} s)`, checks };
  }
  const failing = checks.filter((check) => !check.passing);
  if (failing.length > 0) {
    return { decision: 'hold', reason: `over threshold without enough evidence yet: ${failing.map((c) => c.guard).join(', ')}`, checks };
  }
  return { decision: 'promote', reason: 'every guard within its threshold for this step', checks };
}
