/**
 * A route compiled from config into a tree of runtime nodes (done once, at start), and the planner that
 * turns that tree into the ordered list of targets one request will try.
 */
import type { CachePolicy } from '../cache/cache-config.js';
import type { RoutePolicy } from '../policy/compile-guardrails.js';
import type { RetryConfig, RouteNodeConfig } from '../config/schema.js';
import { branchName, type CanaryPlanConfig } from '../config/routing-schema.js';
import type { Provider } from '../providers/types.js';
import { compileCondition, type Condition } from './conditions.js';
import type { InFlightTracker } from './in-flight.js';
import type { RequestFacts } from './request-facts.js';
import { isCanary, stickyBucket } from './sticky-hash.js';
import { weightedOrder } from './weighted-order.js';

export interface ResolvedTarget {
  readonly provider: Provider;
  readonly model: string;
  /** `provider/model`: the key for breakers, in-flight counts and metrics. */
  readonly key: string;
}

export type Variant = 'baseline' | 'canary';

/** A canary split's weight, kept in one mutable place so it can change at run time. */
export interface CanarySplit {
  readonly id: string;
  /** The route whose traces carry this split (route names may contain dots, so not derived from the id). */
  readonly route: string;
  weight: number;
  /** Progressive delivery plan, when the config gives one. */
  readonly plan?: CanaryPlanConfig | undefined;
  /**
   * Every target each side may answer from. A request assigned to one side and answered by none of
   * that side's targets (an error, a timeout, a target skipped for an open breaker or a failed health
   * check, then the other side answered) was not answered by its variant.
   */
  readonly targets: { readonly baseline: readonly ResolvedTarget[]; readonly canary: readonly ResolvedTarget[] };
}

/** Per route, the target keys (`provider/model`) each variant answers from: what trace rows are checked against. */
export interface VariantTargets {
  route: string;
  baseline: string[];
  canary: string[];
}

/** The splits' targets by route (a route with several splits answers from all of their targets). */
export function variantTargetsOf(splits: Iterable<CanarySplit>): VariantTargets[] {
  const byRoute = new Map<string, { baseline: Set<string>; canary: Set<string> }>();
  for (const split of splits) {
    const entry = byRoute.get(split.route) ?? { baseline: new Set(), canary: new Set() };
    for (const target of split.targets.baseline) entry.baseline.add(target.key);
    for (const target of split.targets.canary) entry.canary.add(target.key);
    byRoute.set(split.route, entry);
  }
  return [...byRoute].map(([route, { baseline, canary }]) => ({ route, baseline: [...baseline], canary: [...canary] }));
}

export type RouteNode =
  | { readonly kind: 'target'; readonly target: ResolvedTarget }
  | { readonly kind: 'fallback'; readonly children: readonly RouteNode[]; readonly onStatus: ReadonlySet<number> }
  | { readonly kind: 'loadbalance'; readonly children: readonly RouteNode[]; readonly weights: readonly number[] }
  | { readonly kind: 'least-busy'; readonly children: readonly RouteNode[]; readonly keys: readonly (readonly string[])[] }
  | { readonly kind: 'canary'; readonly baseline: RouteNode; readonly canary: RouteNode; readonly split: CanarySplit; readonly stickyHeader: string | undefined }
  | { readonly kind: 'conditional'; readonly branches: readonly CompiledBranch[]; readonly otherwise: CompiledBranch };

/** One branch of a conditional node; `label` is its path from the route (`premium/long`), fixed at load. */
export interface CompiledBranch {
  readonly label: string;
  readonly when: Condition;
  readonly node: RouteNode;
}

const OTHERWISE: Condition = () => true;

export interface CompiledRoute {
  readonly name: string;
  readonly root: RouteNode;
  readonly timeoutMs: number | undefined;
  readonly retry: RetryConfig | undefined;
  readonly cache: CachePolicy;
  readonly shadow: CompiledShadow | undefined;
  /** Header names that identify a user for canary stickiness (besides the body's `user`). */
  readonly stickyHeaders: readonly string[];
  /** What happens to hosted tools a translated provider cannot serve (see routing-schema.ts). */
  readonly hostedTools: 'drop' | 'reject';
  /** The tree has conditional nodes: requests need their RequestFacts to be planned. */
  readonly conditional?: boolean | undefined;
  /** The route's guardrails (global ones first); undefined when none apply, so there is no policy step. */
  readonly policy?: RoutePolicy | undefined;
}

export interface CompiledShadow {
  readonly target: ResolvedTarget;
  readonly fraction: number;
  readonly maxConcurrent: number;
  readonly timeoutMs: number;
}

export interface PlannedAttempt {
  readonly target: ResolvedTarget;
  readonly variant: Variant | undefined;
  /** Statuses that move on to the next planned target even though they are not retryable. */
  readonly fallbackOnStatus: ReadonlySet<number>;
  /** The conditional branch this attempt was planned through (its label), if any. */
  readonly branch?: string | undefined;
}

export interface PlanContext {
  random: () => number;
  inFlight: InFlightTracker;
  /** Identifies the user for sticky canary assignment; undefined means "assign at random". */
  stickyKey: (header: string | undefined) => string | undefined;
  /** What conditional nodes test; without it every conditional node takes its default branch. */
  facts?: RequestFacts | undefined;
}

const NO_STATUSES: ReadonlySet<number> = new Set();

export function targetOf(provider: Provider, model: string): ResolvedTarget {
  return { provider, model, key: `${provider.name}/${model}` };
}

/**
 * Compiles a config node; `lookup` resolves provider names, `splits` collects canary splits by id, and
 * `branchPath` is the label of the conditional branch the node sits in ('' outside any).
 */
export function compileNode(
  config: RouteNodeConfig,
  lookup: (name: string) => Provider,
  splits: Map<string, CanarySplit>,
  id: string,
  route: string = id,
  branchPath = '',
): RouteNode {
  if (config.strategy === undefined && 'provider' in config) {
    return { kind: 'target', target: targetOf(lookup(config.provider), config.model) };
  }
  if (config.strategy === 'conditional') {
    const label = (name: string): string => (branchPath ? `${branchPath}/${name}` : name);
    // Canary splits inside a branch are identified by the branch's own name (ids appear in admin URLs).
    const branches = config.branches.map((branch, index): CompiledBranch => {
      const name = branchName(branch, index);
      return { label: label(name), when: compileCondition(branch.when), node: compileNode(branch.target, lookup, splits, `${id}.${name}`, route, label(name)) };
    });
    const otherwise = { label: label('default'), when: OTHERWISE, node: compileNode(config.default, lookup, splits, `${id}.default`, route, label('default')) };
    return { kind: 'conditional', branches, otherwise };
  }
  if (config.strategy === 'canary') {
    const baseline = compileNode(config.baseline, lookup, splits, `${id}.baseline`, route, branchPath);
    const canary = compileNode(config.canary, lookup, splits, `${id}.canary`, route, branchPath);
    const split: CanarySplit = {
      id,
      route,
      weight: config.plan ? (config.plan.steps[0] as number) : config.canaryWeight,
      plan: config.plan,
      targets: { baseline: targetsOfNode(baseline), canary: targetsOfNode(canary) },
    };
    splits.set(id, split);
    return { kind: 'canary', baseline, canary, split, stickyHeader: config.stickyHeader };
  }
  const group = config as Extract<RouteNodeConfig, { targets: unknown }>;
  const children = group.targets.map((child, index) => compileNode(child, lookup, splits, `${id}.${index}`, route, branchPath));
  switch (group.strategy) {
    case 'loadbalance': {
      // Normalised once here; never touched per request.
      const raw = group.targets.map((child) => child.weight ?? 1);
      const total = raw.reduce((sum, w) => sum + w, 0);
      return { kind: 'loadbalance', children, weights: Object.freeze(raw.map((w) => (total > 0 ? w / total : 0))) };
    }
    case 'least-busy':
      return { kind: 'least-busy', children, keys: children.map((child) => targetsOfNode(child).map((target) => target.key)) };
    default:
      return { kind: 'fallback', children, onStatus: new Set(group.onStatus ?? []) };
  }
}

/** Every target a node can send to, in tree order. */
export function targetsOfNode(node: RouteNode): ResolvedTarget[] {
  switch (node.kind) {
    case 'target':
      return [node.target];
    case 'canary':
      return [...targetsOfNode(node.baseline), ...targetsOfNode(node.canary)];
    case 'conditional':
      return [...node.branches, node.otherwise].flatMap((branch) => targetsOfNode(branch.node));
    default:
      return node.children.flatMap(targetsOfNode);
  }
}

export function stickyHeadersOf(node: RouteNode): string[] {
  switch (node.kind) {
    case 'target':
      return [];
    case 'canary':
      return [...(node.stickyHeader ? [node.stickyHeader] : []), ...stickyHeadersOf(node.baseline), ...stickyHeadersOf(node.canary)];
    case 'conditional':
      return [...node.branches, node.otherwise].flatMap((branch) => stickyHeadersOf(branch.node));
    default:
      return node.children.flatMap(stickyHeadersOf);
  }
}

/** Whether the tree has a conditional node anywhere (its requests then need RequestFacts). */
export function hasConditions(node: RouteNode): boolean {
  switch (node.kind) {
    case 'target':
      return false;
    case 'conditional':
      return true;
    case 'canary':
      return hasConditions(node.baseline) || hasConditions(node.canary);
    default:
      return node.children.some(hasConditions);
  }
}

/**
 * The branch every conditional node in the tree takes for these facts, in tree order: what a cached
 * answer must also match when branches depend on something outside the cache key (the request's tags).
 */
export function branchDecisions(node: RouteNode, facts: RequestFacts): string {
  switch (node.kind) {
    case 'target':
      return '';
    case 'conditional': {
      const branch = chooseBranch(node, facts);
      return `${branch.label};${branchDecisions(branch.node, facts)}`;
    }
    case 'canary':
      return branchDecisions(node.baseline, facts) + branchDecisions(node.canary, facts);
    default: {
      let out = '';
      for (const child of node.children) out += branchDecisions(child, facts);
      return out;
    }
  }
}

function chooseBranch(node: Extract<RouteNode, { kind: 'conditional' }>, facts: RequestFacts | undefined): CompiledBranch {
  if (facts) for (const branch of node.branches) if (branch.when(facts)) return branch;
  return node.otherwise;
}

/** The targets one request will try, in order. */
export function planAttempts(node: RouteNode, context: PlanContext): PlannedAttempt[] {
  const out: PlannedAttempt[] = [];
  collect(node, context, undefined, NO_STATUSES, out, undefined);
  return out;
}

function collect(
  node: RouteNode,
  context: PlanContext,
  variant: Variant | undefined,
  fallbackOnStatus: ReadonlySet<number>,
  out: PlannedAttempt[],
  branch: string | undefined,
): void {
  switch (node.kind) {
    case 'target':
      out.push({ target: node.target, variant, fallbackOnStatus, branch });
      return;
    case 'fallback': {
      const statuses = node.onStatus.size === 0 ? fallbackOnStatus : union(fallbackOnStatus, node.onStatus);
      for (const child of node.children) collect(child, context, variant, statuses, out, branch);
      return;
    }
    case 'loadbalance':
      for (const child of weightedOrder(node.children, node.weights, context.random)) collect(child, context, variant, fallbackOnStatus, out, branch);
      return;
    case 'least-busy': {
      const load = node.keys.map((keys) => keys.reduce((sum, key) => sum + context.inFlight.get(key), 0));
      const order = node.children.map((_, i) => i).sort((a, b) => (load[a] as number) - (load[b] as number) || a - b);
      for (const index of order) collect(node.children[index] as RouteNode, context, variant, fallbackOnStatus, out, branch);
      return;
    }
    case 'canary': {
      const key = context.stickyKey(node.stickyHeader);
      const bucket = key === undefined ? Math.floor(context.random() * 10_000) : stickyBucket(node.split.id, key);
      if (isCanary(bucket, node.split.weight)) {
        collect(node.canary, context, 'canary', fallbackOnStatus, out, branch);
        // A failing canary falls back to the baseline, so its users still get an answer.
        collect(node.baseline, context, 'baseline', fallbackOnStatus, out, branch);
      } else {
        collect(node.baseline, context, 'baseline', fallbackOnStatus, out, branch);
      }
      return;
    }
    case 'conditional': {
      // The first branch whose condition holds; the others are never planned (a condition chooses, a
      // fallback inside the branch is what tries more than one target).
      const chosen = chooseBranch(node, context.facts);
      collect(chosen.node, context, variant, fallbackOnStatus, out, chosen.label);
      return;
    }
  }
}

function union(a: ReadonlySet<number>, b: ReadonlySet<number>): ReadonlySet<number> {
  return new Set([...a, ...b]);
}
