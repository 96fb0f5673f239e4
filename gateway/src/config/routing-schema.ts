/**
 * Routing configuration: how a route spreads requests over targets (nestable groups), how it retries,
 * its deadline, and the circuit breaker every target shares.
 */
import { z } from 'zod';
import { routeCacheSchema } from '../cache/cache-config.js';
import { conditionProblems } from '../routing/conditions.js';
import { guardrailAttachmentSchema } from './guardrail-schema.js';
import { prioritySchema } from './pool-schema.js';

const httpStatus = z.number().int().min(100).max(599);

export const retrySchema = z.strictObject({
  /** Tries per target, the first included (1 = no retry). */
  maxAttempts: z.number().int().min(1).max(10).default(2),
  /** Upstream statuses that are retried on the same target (network errors and timeouts always are). */
  onStatus: z.array(httpStatus).default([429, 500, 502, 503, 504]),
  /** Full-jitter exponential backoff: a random wait in [0, min(max, initial × 2^(try−1))]. */
  initialBackoffMs: z.number().int().nonnegative().default(250),
  maxBackoffMs: z.number().int().nonnegative().default(4000),
  /** An upstream's Retry-After / retry-after-ms is honoured up to this long. */
  maxRetryAfterMs: z.number().int().nonnegative().default(10_000),
});

export const breakerSchema = z.strictObject({
  enabled: z.boolean().default(true),
  /** Opens after this many failures in a row… */
  consecutiveFailures: z.number().int().positive().default(5),
  /** …or when this share of the window's requests failed, once the window holds minRequests. */
  failureRate: z.number().gt(0).max(1).default(0.5),
  minRequests: z.number().int().positive().default(20),
  windowMs: z.number().int().positive().default(30_000),
  /** How long an open breaker skips its target before one probe request is let through. */
  cooldownMs: z.number().int().positive().default(30_000),
});

export const healthCheckSchema = z.strictObject({
  /** Path on the provider's origin, e.g. /health (vLLM, TGI) or /v1/models. */
  path: z.string().startsWith('/'),
  intervalMs: z.number().int().positive().default(10_000),
  timeoutMs: z.number().int().positive().default(2_000),
  /** Consecutive failed checks before the provider's targets are skipped. */
  unhealthyAfter: z.number().int().positive().default(2),
});

/** A progressive canary: the steps it walks and the guards that decide each step. */
export const canaryPlanSchema = z.strictObject({
  /** Canary weights (percent) to walk through, ascending; reaching the last one (100) completes it. */
  steps: z
    .array(z.number().gt(0).max(100))
    .min(1)
    .refine((steps) => steps.every((s, i) => i === 0 || s > (steps[i - 1] as number)), { message: 'steps must be ascending' }),
  minStepDurationMs: z.number().int().positive().default(300_000),
  minStepRequests: z.number().int().positive().default(200),
  /** How often the controller evaluates. */
  intervalMs: z.number().int().positive().default(30_000),
  guards: z
    .strictObject({
      maxErrorRateIncrease: z.number().min(0).max(1).default(0.01),
      /** Allowed increase of the share of answers that trip an output guardrail (flag, redact, deny, retry, fallback). */
      maxGuardrailRateIncrease: z.number().min(0).max(1).optional(),
      maxP95Ratio: z.number().gt(0).optional(),
      maxTtftRatio: z.number().gt(0).optional(),
      maxCostRatio: z.number().gt(0).optional(),
      maxFeedbackDrop: z.number().min(0).optional(),
      minAgreement: z.number().min(0).max(1).optional(),
      confidence: z.union([z.literal(0.9), z.literal(0.95), z.literal(0.975), z.literal(0.99), z.literal(0.995), z.literal(0.999)]).default(0.95),
      /** Samples each side needs before a latency, cost or feedback guard can roll back. */
      minSamples: z.number().int().positive().default(50),
    })
    .prefault({}),
});

export type CanaryPlanConfig = z.infer<typeof canaryPlanSchema>;

export interface TargetNodeConfig {
  strategy?: undefined;
  provider: string;
  model: string;
  weight?: number | undefined;
}
export interface GroupNodeConfig {
  strategy: 'single' | 'fallback' | 'loadbalance' | 'least-busy' | undefined;
  targets: RouteNodeConfig[];
  weight?: number | undefined;
  onStatus?: number[] | undefined;
}
export interface CanaryNodeConfig {
  strategy: 'canary';
  baseline: RouteNodeConfig;
  canary: RouteNodeConfig;
  canaryWeight: number;
  stickyHeader?: string | undefined;
  weight?: number | undefined;
  plan?: CanaryPlanConfig | undefined;
}
export interface ConditionalBranchConfig {
  name?: string | undefined;
  when: Record<string, unknown>;
  target: RouteNodeConfig;
}
export interface ConditionalNodeConfig {
  strategy: 'conditional';
  branches: ConditionalBranchConfig[];
  default: RouteNodeConfig;
  weight?: number | undefined;
}
export type RouteNodeConfig = TargetNodeConfig | GroupNodeConfig | CanaryNodeConfig | ConditionalNodeConfig;

/** Weight of a node inside a `loadbalance` parent; 0 drains it. */
const weight = z.number().nonnegative().optional();

const targetNode = z.strictObject({
  strategy: z.undefined().optional(),
  provider: z.string().min(1),
  model: z.string().min(1),
  weight,
});

/** A routing condition (routing/conditions.ts), checked whole so every problem in it is reported. */
const conditionSchema = z.unknown().superRefine((value, ctx) => {
  for (const problem of conditionProblems(value)) ctx.addIssue({ code: 'custom', message: problem.message, path: problem.path });
}) as unknown as z.ZodType<Record<string, unknown>>;

/** Branch names appear in a reply header and on the trace: short and header-safe. */
const BRANCH_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** The label a branch gets when it has no name: its position. */
export function branchName(branch: { name?: string | undefined }, index: number): string {
  return branch.name ?? String(index);
}

function conditionalVariant<Extra extends z.core.$ZodLooseShape>(node: z.ZodType<RouteNodeConfig>, extra: Extra) {
  const branch = z.strictObject({
    name: z.string().regex(BRANCH_NAME, 'branch names use letters, digits, _ . - (at most 64)').optional(),
    when: conditionSchema,
    target: node,
  });
  return z
    .strictObject({ strategy: z.literal('conditional'), branches: z.array(branch).min(1), default: node, weight, ...extra })
    .superRefine((value, ctx) => {
      const seen = new Set<string>(['default']);
      (value as { branches: ConditionalBranchConfig[] }).branches.forEach((b, index) => {
        const name = branchName(b, index);
        if (seen.has(name)) ctx.addIssue({ code: 'custom', message: `branch name '${name}' is used twice (or is 'default')`, path: ['branches', index, 'name'] });
        seen.add(name);
      });
    });
}

/** Fields a group has; `extra` adds the route-level settings when the group is a route's root. */
function groupVariants<Extra extends z.core.$ZodLooseShape>(node: z.ZodType<RouteNodeConfig>, extra: Extra, strategyOptional: boolean) {
  const list = z.array(node).min(1);
  const fallbackStrategy = strategyOptional ? z.literal('fallback').optional() : z.literal('fallback');
  return [
    z.strictObject({ strategy: z.literal('single'), targets: z.array(node).length(1), weight, ...extra }),
    z.strictObject({ strategy: fallbackStrategy, targets: list, weight, onStatus: z.array(httpStatus).optional(), ...extra }),
    z.strictObject({ strategy: z.literal('loadbalance'), targets: list, weight, ...extra }),
    z.strictObject({ strategy: z.literal('least-busy'), targets: list, weight, ...extra }),
    z.strictObject({
      strategy: z.literal('canary'),
      baseline: node,
      canary: node,
      /** Percent of users (0–100) sent to the canary; can change at run time. */
      canaryWeight: z.number().min(0).max(100),
      /** Header that identifies a user when the body has no `user` field. */
      stickyHeader: z.string().min(1).toLowerCase().optional(),
      /** Progressive delivery: the controller walks the steps and rolls back on a breached guard. */
      plan: canaryPlanSchema.optional(),
      weight,
      ...extra,
    }),
    conditionalVariant(node, extra),
  ] as const;
}

export const routeNodeSchema: z.ZodType<RouteNodeConfig> = z.lazy(() =>
  z.discriminatedUnion('strategy', [targetNode, ...groupVariants(routeNodeSchema, {}, false)]),
) as unknown as z.ZodType<RouteNodeConfig>;

/** Mirror a share of a route's traffic to another target; the shadow's answer is never returned. */
export const shadowSchema = z.strictObject({
  target: z.strictObject({ provider: z.string().min(1), model: z.string().min(1) }),
  /** Share of successful requests mirrored (0–1). */
  fraction: z.number().min(0).max(1),
  /** Shadow calls in flight at most; past it a mirror is dropped (and counted), never queued. */
  maxConcurrent: z.number().int().positive().default(4),
  /**
   * A shadow call's own deadline (not the route's): a hanging shadow target must not hold a concurrency
   * slot, a connection or shutdown for long. Shadow calls still running at shutdown are abandoned.
   */
  timeoutMs: z.number().int().positive().default(30_000),
});

export type ShadowConfig = z.infer<typeof shadowSchema>;

const routeSettings = {
  /** Deadline for the whole request across every attempt and fallback (for streams: until the first chunk). */
  timeoutMs: z.number().int().positive().optional(),
  retry: retrySchema.optional(),
  /** Response caching for this route (off unless this or the global `cache.enabled` turns it on). */
  cache: routeCacheSchema.optional(),
  shadow: shadowSchema.optional(),
  /**
   * Hosted tools (web search, file search, code interpreter…) in a request a translated provider must
   * serve: `drop` leaves them out (named in x-gateway-dropped-tools and on the trace), `reject` refuses
   * translated targets (400 naming the tool types when no target serves them natively).
   */
  hostedTools: z.enum(['drop', 'reject']).default('drop'),
  /** Guardrails for this route, run after the global ones (`routing.guardrails`). */
  guardrails: guardrailAttachmentSchema.optional(),
};

export const routeSchema = z.discriminatedUnion('strategy', [...groupVariants(routeNodeSchema, routeSettings, true)]);

export const routingDefaultsSchema = z.strictObject({
  timeoutMs: z.number().int().positive().default(300_000),
  retry: retrySchema.prefault({}),
  breaker: breakerSchema.prefault({}),
  /** Guardrails for every request, `<provider>/<model>` ones included. */
  guardrails: guardrailAttachmentSchema.optional(),
  /** Priority classes for requests waiting in a replica pool's queue (interactive before batch). */
  priority: prioritySchema.prefault({}),
});

export type RetryConfig = z.infer<typeof retrySchema>;
export type BreakerConfig = z.infer<typeof breakerSchema>;
export type HealthCheckConfig = z.infer<typeof healthCheckSchema>;
export type RouteConfig = z.infer<typeof routeSchema>;
