/**
 * The progressive canary controller. On every tick each replica reads the shared state and serves its
 * weight; the replica holding the lease also evaluates each running canary against its guards over the
 * current step's window, and promotes (next step, `completed` at 100%), rolls back (weight 0,
 * `rolled_back`) or holds. Operators can pause, resume, promote, roll back and restart. Every change is
 * an event: stored with the numbers it was based on, counted, and logged.
 */
import { randomUUID } from 'node:crypto';
import type { CanaryPlanConfig } from '../config/routing-schema.js';
import type { CanarySplit } from '../routing/route-tree.js';
import { evaluateCanary, type Evaluation, type VariantStats } from './canary-guards.js';
import type { CanaryState, CanaryStateStore, CanaryStatus } from './canary-state.js';

export interface CanaryEvent {
  eventId: string;
  tsMs: number;
  route: string;
  decision: string;
  fromWeight: number;
  toWeight: number;
  details: Record<string, unknown>;
}

export type CanaryStatsSource = (split: CanarySplit, sinceMs: number) => Promise<{ baseline: VariantStats; canary: VariantStats }>;

export type CanaryAction = 'pause' | 'resume' | 'promote' | 'rollback' | 'restart';

export interface CanaryView {
  id: string;
  state: CanaryState;
  steps: number[];
  lastEvaluation: Evaluation | undefined;
}

export interface ControllerDeps {
  splits: ReadonlyMap<string, CanarySplit>;
  store: CanaryStateStore;
  stats: CanaryStatsSource;
  onEvent: (event: CanaryEvent) => void;
  /** The canary's targets this replica skips right now (breaker open, health check failing). */
  unavailable?: (split: CanarySplit) => string[];
  now?: () => number;
  holder?: string;
}

/** A variant's numbers as stored with a decision: the latency samples as counts, not thousands of values. */
function withoutSamples({ latencyMs, ttftMs, ...numbers }: VariantStats): Record<string, unknown> {
  return { ...numbers, latencySamples: latencyMs.length, ttftSamples: ttftMs.length };
}

export class CanaryController {
  private readonly plans: Map<string, { split: CanarySplit; plan: CanaryPlanConfig }>;
  private readonly now: () => number;
  private readonly holder: string;
  private readonly evaluations = new Map<string, Evaluation>();
  /** The shortest plan interval: how often the controller runs, and (×3) how long its lease lasts. */
  private readonly intervalMs: number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();

  constructor(private readonly deps: ControllerDeps) {
    this.now = deps.now ?? Date.now;
    this.holder = deps.holder ?? randomUUID();
    this.plans = new Map(
      [...deps.splits.values()].filter((split) => split.plan).map((split) => [split.id, { split, plan: split.plan as CanaryPlanConfig }]),
    );
    this.intervalMs = Math.min(...[...this.plans.values()].map(({ plan }) => plan.intervalMs));
  }

  /** A plan's state before anything was decided: running at its first step. */
  private initialState(id: string, plan: CanaryPlanConfig): CanaryState {
    return { id, status: 'running', stepIndex: 0, weight: plan.steps[0] as number, stepStartedAt: this.now(), updatedAt: this.now() };
  }

  get size(): number {
    return this.plans.size;
  }

  start(): void {
    if (this.plans.size === 0) return;
    void this.tick();
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    this.timer.unref();
  }

  stop(): Promise<void> {
    clearInterval(this.timer);
    return this.running;
  }

  /** One round: follow the shared state; if this replica holds the lease, decide. */
  tick(): Promise<void> {
    this.running = this.running.then(() => this.round()).catch(() => undefined);
    return this.running;
  }

  private async round(): Promise<void> {
    if (this.plans.size === 0) return;
    const leader = await this.deps.store.lease(this.holder, this.intervalMs * 3);
    for (const [id, { split, plan }] of this.plans) {
      let state = await this.deps.store.get(id);
      if (!state) {
        state = this.initialState(id, plan);
        if (leader) await this.deps.store.put(state);
      }
      split.weight = state.weight;
      if (leader && state.status === 'running') await this.evaluate(state, plan, split);
    }
  }

  private async evaluate(state: CanaryState, plan: CanaryPlanConfig, split: CanarySplit): Promise<void> {
    const { baseline, canary } = await this.deps.stats(split, state.stepStartedAt);
    const step = { weight: state.weight, minDurationMs: plan.minStepDurationMs, minRequests: plan.minStepRequests };
    const unavailable = this.deps.unavailable?.(split) ?? [];
    const evaluation = evaluateCanary(baseline, canary, step, this.now() - state.stepStartedAt, plan.guards, unavailable);
    this.evaluations.set(state.id, evaluation);
    const numbers = {
      reason: evaluation.reason,
      checks: evaluation.checks,
      baseline: withoutSamples(baseline),
      canary: withoutSamples(canary),
      step: state.stepIndex,
      ...(unavailable.length > 0 ? { unavailable } : {}),
    };
    if (evaluation.decision === 'rollback') await this.change(state, split, 'rolled_back', state.stepIndex, 0, 'rollback', numbers);
    else if (evaluation.decision === 'promote') await this.advance(state, plan, split, 'promote', numbers);
    else this.deps.onEvent(this.event(state.id, 'hold', state.weight, state.weight, numbers));
  }

  private async advance(state: CanaryState, plan: CanaryPlanConfig, split: CanarySplit, decision: string, details: Record<string, unknown>): Promise<void> {
    const next = state.stepIndex + 1;
    if (next >= plan.steps.length) {
      await this.change(state, split, 'completed', state.stepIndex, 100, decision === 'promote' ? 'complete' : decision, details);
      return;
    }
    const weight = plan.steps[next] as number;
    await this.change(state, split, weight >= 100 ? 'completed' : 'running', next, weight, decision, details);
  }

  private async change(
    state: CanaryState,
    split: CanarySplit,
    status: CanaryStatus,
    stepIndex: number,
    weight: number,
    decision: string,
    details: Record<string, unknown>,
  ): Promise<void> {
    const next: CanaryState = { ...state, status, stepIndex, weight, stepStartedAt: this.now(), updatedAt: this.now() };
    await this.deps.store.put(next);
    split.weight = weight;
    this.deps.onEvent(this.event(state.id, decision, state.weight, weight, details));
  }

  private event(route: string, decision: string, fromWeight: number, toWeight: number, details: Record<string, unknown>): CanaryEvent {
    return { eventId: randomUUID(), tsMs: this.now(), route, decision, fromWeight, toWeight, details };
  }

  /** An operator's action, applied at once (whatever replica receives it). */
  async act(id: string, action: CanaryAction): Promise<CanaryState> {
    const entry = this.plans.get(id);
    if (!entry) throw new Error(`no progressive canary '${id}'`);
    const { split, plan } = entry;
    const state = (await this.deps.store.get(id)) ?? this.initialState(id, plan);
    const details = { by: 'operator' };
    switch (action) {
      case 'pause':
        await this.change(state, split, 'paused', state.stepIndex, state.weight, 'pause', details);
        break;
      case 'resume':
        await this.change(state, split, 'running', state.stepIndex, state.weight, 'resume', details);
        break;
      case 'promote':
        await this.advance(state, plan, split, 'promote', details);
        break;
      case 'rollback':
        await this.change(state, split, 'rolled_back', state.stepIndex, 0, 'rollback', details);
        break;
      case 'restart':
        await this.change(state, split, 'running', 0, plan.steps[0] as number, 'restart', details);
        break;
    }
    return (await this.deps.store.get(id)) as CanaryState;
  }

  async list(): Promise<CanaryView[]> {
    const views: CanaryView[] = [];
    for (const [id, { plan }] of this.plans) {
      const state = (await this.deps.store.get(id)) ?? this.initialState(id, plan);
      views.push({ id, state, steps: plan.steps, lastEvaluation: this.evaluations.get(id) });
    }
    return views;
  }
}
