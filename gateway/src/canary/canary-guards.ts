/**
 * The decision a progressive canary makes at one evaluation, as a pure function of the numbers: hold
 * (too little data, or not long enough at this step), roll back (a guard breached with enough evidence),
 * or promote (every guard within its threshold for the step). Groundwork for the canary controller.
 *
 * Evidence: the error-rate guard is breached when a one-sided lower confidence bound (Newcombe's
 * hybrid score interval, see canary-statistics.ts) on "canary error rate minus baseline's" exceeds the
 * allowed increase at the configured confidence — defined even when one side has no errors and the
 * other nothing but errors; ratio guards (p95, TTFT, cost) need a minimum number of samples on both
 * sides before they can breach.
 */
import { normalQuantile, proportionDifferenceLowerBound } from './canary-statistics.js';

export interface VariantStats {
  requests: number;
  errors: number;
  p95Ms: number | null;
  ttftP95Ms: number | null;
  costPerRequest: number;
  feedback: number | null;
  feedbackCount: number;
  /** Mean answer agreement (e.g. ROUGE-L F) of shadowed requests, when measured. */
  agreement?: number | null;
  agreementCount?: number;
}

export interface CanaryGuards {
  /** Allowed absolute error-rate increase (0.01 = one percentage point). */
  maxErrorRateIncrease?: number;
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

function ratioCheck(guard: string, canary: number | null, baseline: number | null, threshold: number, enough: boolean): GuardCheck {
  const value = canary !== null && baseline !== null && baseline > 0 ? canary / baseline : null;
  const passing = value === null || value <= threshold;
  return { guard, value, bound: null, threshold, passing, breached: enough && !passing };
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
  const enough = baseline.requests >= guards.minSamples && canary.requests >= guards.minSamples;

  if (guards.maxErrorRateIncrease !== undefined) {
    const delta = guards.maxErrorRateIncrease;
    const increase = baseline.requests && canary.requests ? canary.errors / canary.requests - baseline.errors / baseline.requests : null;
    const bound = proportionDifferenceLowerBound(canary.errors, canary.requests, baseline.errors, baseline.requests, normalQuantile(guards.confidence));
    checks.push({
      guard: 'errorRateIncrease',
      value: increase,
      bound,
      threshold: delta,
      passing: increase === null || increase <= delta,
      breached: bound !== null && bound > delta,
    });
  }
  if (guards.maxP95Ratio !== undefined) checks.push(ratioCheck('p95Ratio', canary.p95Ms, baseline.p95Ms, guards.maxP95Ratio, enough));
  if (guards.maxTtftRatio !== undefined) checks.push(ratioCheck('ttftRatio', canary.ttftP95Ms, baseline.ttftP95Ms, guards.maxTtftRatio, enough));
  if (guards.maxCostRatio !== undefined) checks.push(ratioCheck('costRatio', canary.costPerRequest, baseline.costPerRequest, guards.maxCostRatio, enough));
  if (guards.maxFeedbackDrop !== undefined) {
    const value = canary.feedback !== null && baseline.feedback !== null ? baseline.feedback - canary.feedback : null;
    const passing = value === null || value <= guards.maxFeedbackDrop;
    const evidence = canary.feedbackCount >= guards.minSamples && baseline.feedbackCount >= guards.minSamples;
    checks.push({ guard: 'feedbackDrop', value, bound: null, threshold: guards.maxFeedbackDrop, passing, breached: evidence && !passing });
  }
  if (guards.minAgreement !== undefined) {
    const value = canary.agreement ?? null;
    const passing = value === null || value >= guards.minAgreement;
    checks.push({ guard: 'agreement', value, bound: null, threshold: guards.minAgreement, passing, breached: (canary.agreementCount ?? 0) >= guards.minSamples && !passing });
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
