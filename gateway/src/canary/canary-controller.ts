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
import type { CanaryState, CanaryStateStore, Lease } from './canary-state.js';

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

/** A decision as the decision log shows it. */
export type CanaryDecision = Omit<CanaryEvent, 'eventId'>;

export interface CanaryView {
  id: string;
  state: CanaryState;
  steps: number[];
  lastEvaluation: Evaluation | undefined;
  /** The latest decisions that changed the state (holds left out), newest first. */
  decisions: CanaryDecision[];
}

/** How many decisions a view carries. */
const DECISIONS_SHOWN = 50;

export interface ControllerDeps {
  splits: ReadonlyMap<string, CanarySplit>;
  store: CanaryStateStore;
  stats: CanaryStatsSource;
  onEvent: (event: CanaryEvent) => void;
  /**
   * The stored decision log of a canary (every replica's decisions), newest first; undefined while
   * there is no store to read. Without one, a view shows the decisions this replica made.
   */
  history?: (id: string, limit: number) => Promise<CanaryDecision[] | undefined>;
  /** A decision was not written: the lease was lost or the state changed since it was read. */
  onRefused?: (id: string, decision: string) => void;
  /**
   * A round failed (the trace store or Redis did not answer): nothing was decided this interval. The
   * controller carries on at the next one; the operator should hear of it.
   */
  onRoundError?: (error: unknown) => void;
  /** The canary's targets this replica skips right now (breaker open, health check failing). */
  unavailable?: (split: CanarySplit) => string[];
  now?: () => number;
  holder?: string;
}

/** A decision that changes the state: what it is called, and the fields it sets. */
interface Change {
  decision: string;
  to: Pick<CanaryState, 'status' | 'stepIndex' | 'weight'>;
}

function rollback(state: CanaryState): Change {
  return { decision: 'rollback', to: { status: 'rolled_back', stepIndex: state.stepIndex, weight: 0 } };
}

/** The next step; past the last one (or at 100 %) the canary is completed. */
function advance(state: CanaryState, plan: CanaryPlanConfig, decision: string): Change {
  const next = state.stepIndex + 1;
  if (next >= plan.steps.length) return { decision: decision === 'promote' ? 'complete' : decision, to: { status: 'completed', stepIndex: state.stepIndex, weight: 100 } };
  const weight = plan.steps[next] as number;
  return { decision, to: { status: weight >= 100 ? 'completed' : 'running', stepIndex: next, weight } };
}

function operatorChange(state: CanaryState, plan: CanaryPlanConfig, action: CanaryAction): Change {
  switch (action) {
    case 'pause':
      return { decision: 'pause', to: { status: 'paused', stepIndex: state.stepIndex, weight: state.weight } };
    case 'resume':
      return { decision: 'resume', to: { status: 'running', stepIndex: state.stepIndex, weight: state.weight } };
    case 'promote':
      return advance(state, plan, 'promote');
    case 'rollback':
      return rollback(state);
    case 'restart':
      return { decision: 'restart', to: { status: 'running', stepIndex: 0, weight: plan.steps[0] as number } };
  }
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
  /** Decisions this replica made, newest first (the log when no store keeps one). */
  private readonly decided = new Map<string, CanaryDecision[]>();
  /** The shortest plan interval: how often the controller runs, and (×3) how long its lease lasts. */
  private readonly intervalMs: number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  /** Set by stop(): a round still in progress decides nothing more. */
  private stopped = false;

  constructor(private readonly deps: ControllerDeps) {
    this.now = deps.now ?? Date.now;
    this.holder = deps.holder ?? randomUUID();
    this.plans = new Map(
      [...deps.splits.values()].filter((split) => split.plan).map((split) => [split.id, { split, plan: split.plan as CanaryPlanConfig }]),
    );
    this.intervalMs = Math.min(...[...this.plans.values()].map(({ plan }) => plan.intervalMs));
  }

  /** A plan's state before anything was decided: running at its first step, not yet stored. */
  private initialState(id: string, plan: CanaryPlanConfig): CanaryState {
    return { id, status: 'running', stepIndex: 0, weight: plan.steps[0] as number, stepStartedAt: this.now(), updatedAt: this.now(), version: 0 };
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

  /**
   * Stops the rounds and closes the state store (its Redis connection). A round in progress is abandoned,
   * not awaited: it may be waiting on a slow trace query (ClickHouse's request timeout) or on a Redis that
   * does not answer, and shutdown has a grace period to keep. It decides and writes nothing after this
   * (`stopped` is checked after every wait), and its late failure — the store closed under it — is not reported.
   */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.stopped = true;
    await this.deps.store.close();
  }

  /** One round: follow the shared state; if this replica holds the lease, decide. */
  tick(): Promise<void> {
    this.running = this.running
      .then(() => this.round())
      .catch((error: unknown) => {
        if (!this.stopped) this.deps.onRoundError?.(error);
      });
    return this.running;
  }

  private get leaseMs(): number {
    return this.intervalMs * 3;
  }

  private async round(): Promise<void> {
    if (this.plans.size === 0 || this.stopped) return;
    const lease = await this.deps.store.lease(this.holder, this.leaseMs);
    for (const [id, { split, plan }] of this.plans) {
      let state = await this.deps.store.get(id);
      if (this.stopped) return;
      if (!state && lease) {
        // Created by the leader only; if someone else got there first, theirs is the state.
        const created = { ...this.initialState(id, plan), version: 1 };
        state = (await this.deps.store.write(created, lease)) ? created : await this.deps.store.get(id);
      }
      state ??= this.initialState(id, plan);
      split.weight = state.weight;
      if (lease && state.status === 'running') await this.evaluate(state, plan, split, lease);
    }
  }

  private async evaluate(state: CanaryState, plan: CanaryPlanConfig, split: CanarySplit, lease: Lease): Promise<void> {
    const { baseline, canary } = await this.deps.stats(split, state.stepStartedAt);
    if (this.stopped) return;
    const step = { weight: state.weight, minDurationMs: plan.minStepDurationMs, minRequests: plan.minStepRequests };
    const unavailable = this.deps.unavailable?.(split) ?? [];
    const evaluation = evaluateCanary(baseline, canary, step, this.now() - state.stepStartedAt, plan.guards, unavailable);
    const numbers = {
      reason: evaluation.reason,
      checks: evaluation.checks,
      baseline: withoutSamples(baseline),
      canary: withoutSamples(canary),
      step: state.stepIndex,
      ...(unavailable.length > 0 ? { unavailable } : {}),
    };
    if (evaluation.decision === 'hold') {
      // A hold writes nothing, but it is a decision too: only a replica that still holds its lease makes it.
      if ((await this.deps.store.lease(this.holder, this.leaseMs))?.token !== lease.token) return this.refused(split, 'hold');
      if (this.stopped) return;
      this.evaluations.set(state.id, evaluation);
      this.emit(this.event(state.id, 'hold', state.weight, state.weight, numbers));
      return;
    }
    const change = evaluation.decision === 'rollback' ? rollback(state) : advance(state, plan, 'promote');
    if (await this.commit(state, split, change, numbers, lease)) this.evaluations.set(state.id, evaluation);
  }

  /**
   * Writes a change of `state` if nothing else changed it meanwhile (and, for the leader's decisions,
   * while it still holds `lease`); then serves the new weight and records the decision. A refused
   * decision leaves no trace but a log line: whoever wrote in between decided on fresher numbers.
   */
  private async commit(state: CanaryState, split: CanarySplit, change: Change, details: Record<string, unknown>, lease?: Lease): Promise<CanaryState | undefined> {
    const now = this.now();
    const next: CanaryState = { ...state, ...change.to, stepStartedAt: now, updatedAt: now, version: state.version + 1 };
    if (this.stopped) return undefined;
    if (!(await this.deps.store.write(next, lease))) {
      await this.refused(split, change.decision);
      return undefined;
    }
    split.weight = next.weight;
    this.emit(this.event(state.id, change.decision, state.weight, next.weight, details));
    return next;
  }

  private async refused(split: CanarySplit, decision: string): Promise<void> {
    this.deps.onRefused?.(split.id, decision);
    const current = await this.deps.store.get(split.id);
    if (current) split.weight = current.weight;
  }

  private emit(event: CanaryEvent): void {
    this.deps.onEvent(event);
    if (event.decision === 'hold') return;
    const { eventId: _id, ...decision } = event;
    const log = this.decided.get(event.route) ?? [];
    log.unshift(decision);
    log.length = Math.min(log.length, DECISIONS_SHOWN);
    this.decided.set(event.route, log);
  }

  private event(route: string, decision: string, fromWeight: number, toWeight: number, details: Record<string, unknown>): CanaryEvent {
    return { eventId: randomUUID(), tsMs: this.now(), route, decision, fromWeight, toWeight, details };
  }

  /**
   * An operator's action, applied at once from whatever replica receives it: no lease needed, but the
   * same compare-and-set, retried on the fresh state if the leader wrote in between.
   */
  async act(id: string, action: CanaryAction): Promise<CanaryState> {
    const entry = this.plans.get(id);
    if (!entry) throw new Error(`no progressive canary '${id}'`);
    const { split, plan } = entry;
    for (let attempt = 0; attempt < 10; attempt++) {
      const state = (await this.deps.store.get(id)) ?? this.initialState(id, plan);
      const written = await this.commit(state, split, operatorChange(state, plan, action), { by: 'operator' });
      if (written) return written;
    }
    throw new Error(`canary '${id}' kept changing; '${action}' was not applied`);
  }

  async list(): Promise<CanaryView[]> {
    const views: CanaryView[] = [];
    for (const [id, { plan }] of this.plans) {
      const state = (await this.deps.store.get(id)) ?? this.initialState(id, plan);
      const stored = await this.deps.history?.(id, DECISIONS_SHOWN).catch(() => undefined);
      views.push({ id, state, steps: plan.steps, lastEvaluation: this.evaluations.get(id), decisions: stored ?? this.decided.get(id) ?? [] });
    }
    return views;
  }
}
