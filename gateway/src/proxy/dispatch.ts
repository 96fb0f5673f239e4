/**
 * Runs one client request through its route: plan the targets (strategy, canary split), then try them
 * in order — skipping targets whose breaker is open or whose health check fails, retrying transient
 * failures on the same target with backoff, moving on when the failure allows — all within the
 * request's deadline. A stream counts as answered once its first chunk has arrived: before that it can
 * still be retried or fall back; after it, never.
 *
 * Each attempt sends the canonical request, or — when the client's dialect is the target provider's own
 * (`native`) — the client's body passed through with the target's model. That is decided per attempt:
 * a fallback may cross provider types, and the result says which kind of answer came back.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { RetryConfig } from '../config/schema.js';
import { GatewayError, isGatewayError } from '../errors.js';
import { CANCELLED, settleWhenDone } from '../providers/settle-when-done.js';
import type { JsonObject, Operation, ReplicaPlacement } from '../providers/types.js';
import type { BreakerRegistry } from '../routing/circuit-breaker.js';
import type { InFlightTracker } from '../routing/in-flight.js';
import type { ProviderHealth } from '../routing/provider-health.js';
import type { RequestFacts } from '../routing/request-facts.js';
import type { AnswerDecision } from '../policy/run-guardrails.js';
import { planAttempts, type CompiledRoute, type PlannedAttempt, type ResolvedTarget, type Variant } from '../routing/route-tree.js';
import { isTargetFault, retryDelayMs, shouldMoveToNextTarget, shouldRetrySameTarget } from '../upstream/retry-policy.js';
import type { AttemptSpan } from '../telemetry/otel.js';

/** Pass-through for attempts at providers that speak the client's dialect natively. */
export interface NativePassThrough {
  /** The provider operation of the client's dialect (e.g. 'responses'). */
  operation: Operation;
  /** The client's body for this target's model. */
  body(model: string): JsonObject;
  /** Client headers the native provider honours (e.g. anthropic-version, anthropic-beta). */
  headers?: Readonly<Record<string, string>> | undefined;
}

export interface RoutingRuntime {
  random: () => number;
  breakers: BreakerRegistry;
  inFlight: InFlightTracker;
  health: ProviderHealth;
  retryDefaults: RetryConfig;
}

export interface DispatchInput {
  route: CompiledRoute;
  operation: Operation;
  /** The canonical request (what translated attempts send). */
  body: JsonObject;
  stream: boolean;
  /** Set when the client's dialect has a native provider operation. */
  native?: NativePassThrough | undefined;
  /** Set when this request must not be translated (a route refusing to drop what translation cannot carry). */
  translationRefused?: GatewayError | undefined;
  requestId: string;
  /** Aborted by the client leaving or by the deadline (its reason says which). */
  signal: AbortSignal;
  /** Epoch ms after which no new attempt or backoff starts. */
  deadlineAt: number;
  stickyKey: (header: string | undefined) => string | undefined;
  /** What the route's conditional nodes test (set when the route has any). */
  facts?: RequestFacts | undefined;
  /** Output guardrails that judge each answer before it is returned (set when the route has any). */
  checkAnswer?: AnswerCheck | undefined;
  /** The client's traceparent, passed upstream when no attempt span replaces it. */
  traceparent?: string | undefined;
  /** Called per attempt when tracing is on; the returned span is ended when the attempt settles. */
  observeAttempt?: ((target: ResolvedTarget, attempt: number) => AttemptSpan) | undefined;
  /** Priority class index (0 highest) for replica pools' queues. */
  priority?: number | undefined;
}

/**
 * Judges an answer before it counts as the request's: accept it, ask the same target again (retry), move
 * on to the next target (fallback), or refuse the request (deny). With `bufferStreams`, a stream is read
 * whole first, so a refused stream is one the client never saw a byte of.
 */
export interface AnswerCheck {
  readonly bufferStreams: boolean;
  json(body: JsonObject, signal: AbortSignal): Promise<AnswerDecision>;
  stream(chunks: JsonObject[], signal: AbortSignal): Promise<AnswerDecision>;
}

/** How many tries a request took: retries on one target, and moves to the next target. */
export interface AttemptCounts {
  attempts: number;
  retries: number;
  fallbacks: number;
}

interface Answered {
  target: ResolvedTarget;
  /** The variant the request was assigned to (a failing canary may be answered by the baseline). */
  variant: Variant | undefined;
  counts: AttemptCounts;
  /** The answer is in the client's own dialect (passed through), not the canonical one. */
  native: boolean;
  /** The replica that served the last attempt, when its target is a replica pool. */
  placement: ReplicaPlacement | undefined;
  /** The conditional branch the answering target was planned through. */
  branch: string | undefined;
}

export type DispatchResult =
  | (Answered & { kind: 'json'; body: JsonObject })
  | (Answered & { kind: 'stream'; first: JsonObject | undefined; rest: AsyncIterator<JsonObject> });

export class DispatchError extends Error {
  constructor(
    readonly error: GatewayError,
    readonly counts: AttemptCounts,
    readonly target: ResolvedTarget | undefined,
    readonly variant: Variant | undefined,
    readonly placement: ReplicaPlacement | undefined,
    /** The conditional branch of the last target tried. */
    readonly branch: string | undefined = undefined,
  ) {
    super(error.message);
  }
}

/** The replica placement of the current attempt, reset before each one. */
interface PlacementSlot {
  placement: ReplicaPlacement | undefined;
  readonly report: (placement: ReplicaPlacement) => void;
}

function placementSlot(): PlacementSlot {
  const slot: PlacementSlot = {
    placement: undefined,
    report: (placement) => {
      slot.placement = placement;
    },
  };
  return slot;
}

type TargetOutcome =
  | { ok: true; result: DispatchResult }
  /** `refused`: the target answered and the answer check refused the answer (and said what next). */
  | { ok: false; error: GatewayError; refused?: 'fallback' | 'deny' };

export async function dispatch(input: DispatchInput, runtime: RoutingRuntime): Promise<DispatchResult> {
  const plan = planAttempts(input.route.root, { random: runtime.random, inFlight: runtime.inFlight, stickyKey: input.stickyKey, facts: input.facts });
  const assigned = plan[0]?.variant;
  const retry = input.route.retry ?? runtime.retryDefaults;
  const counter: AttemptCounts = { attempts: 0, retries: 0, fallbacks: 0 };
  const slot = placementSlot();
  const skipped: PlannedAttempt[] = [];
  let lastError: GatewayError | undefined;
  let lastPlanned: PlannedAttempt | undefined;

  for (const planned of plan) {
    if (!planned.target.provider.supports(input.operation)) {
      lastError ??= new GatewayError('operation_not_supported', `provider '${planned.target.provider.name}' does not serve this endpoint`);
      continue;
    }
    // A request that must not be translated skips the targets that would translate it.
    if (input.translationRefused && !speaksNatively(planned.target, input)) {
      lastError ??= input.translationRefused;
      continue;
    }
    if (!admit(planned.target, runtime)) {
      skipped.push(planned);
      continue;
    }
    if (counter.attempts > 0) counter.fallbacks++;
    const outcome = await tryTarget(planned, input, runtime, retry, counter, slot);
    if (outcome.ok) return { ...outcome.result, variant: assigned };
    lastError = outcome.error;
    lastPlanned = planned;
    if (input.signal.aborted || outcome.refused === 'deny') break;
    if (outcome.refused !== 'fallback' && !shouldMoveToNextTarget(outcome.error, planned.fallbackOnStatus)) break;
  }

  // Every usable target was open or unhealthy: try the one closest to recovering rather than fail untried.
  if (counter.attempts === 0 && skipped.length > 0 && !input.signal.aborted) {
    const best = closestToRecovery(skipped, runtime);
    runtime.breakers.for(best.target.key).forceAcquire();
    const outcome = await tryTarget(best, input, runtime, retry, counter, slot);
    if (outcome.ok) return { ...outcome.result, variant: assigned };
    lastError = outcome.error;
    lastPlanned = best;
  }

  if (input.signal.aborted && isGatewayError(input.signal.reason)) lastError = input.signal.reason;
  throw new DispatchError(
    lastError ?? new GatewayError('model_not_found', `route '${input.route.name}' has no usable target`),
    counter,
    lastPlanned?.target,
    assigned,
    slot.placement,
    (lastPlanned ?? plan[0])?.branch,
  );
}

function speaksNatively(target: ResolvedTarget, input: DispatchInput): boolean {
  return input.native !== undefined && target.provider.supports(input.native.operation);
}

/** Whether a request planned to this target would skip it now (health check failing, breaker open). */
export function isSkipped(target: ResolvedTarget, runtime: RoutingRuntime): boolean {
  if (!runtime.health.isHealthy(target.provider.name)) return true;
  return runtime.breakers.enabled && runtime.breakers.for(target.key).current() === 'open';
}

function admit(target: ResolvedTarget, runtime: RoutingRuntime): boolean {
  if (!runtime.health.isHealthy(target.provider.name)) return false;
  return !runtime.breakers.enabled || runtime.breakers.for(target.key).tryAcquire();
}

function closestToRecovery(skipped: PlannedAttempt[], runtime: RoutingRuntime): PlannedAttempt {
  let best = skipped[0] as PlannedAttempt;
  let bestWait = Infinity;
  for (const planned of skipped) {
    const wait = runtime.breakers.for(planned.target.key).msUntilRetry();
    if (wait < bestWait) {
      best = planned;
      bestWait = wait;
    }
  }
  return best;
}

/** Tries one target, retrying transient failures on it while the policy, breaker and deadline allow. */
async function tryTarget(
  planned: PlannedAttempt,
  input: DispatchInput,
  runtime: RoutingRuntime,
  retry: RetryConfig,
  counter: AttemptCounts,
  slot: PlacementSlot,
): Promise<TargetOutcome> {
  const { target } = planned;
  const breaker = runtime.breakers.for(target.key);
  for (let tryNumber = 1; ; tryNumber++) {
    counter.attempts++;
    if (tryNumber > 1) counter.retries++;
    runtime.inFlight.increment(target.key);
    const span = input.observeAttempt?.(target, counter.attempts);
    slot.placement = undefined;
    let result: DispatchResult;
    try {
      result = await attempt(planned, input, runtime, counter, span, slot);
    } catch (thrown) {
      runtime.inFlight.decrement(target.key);
      const error = isGatewayError(thrown)
        ? thrown
        : new GatewayError('internal_error', 'provider failed unexpectedly', { cause: thrown });
      span?.end(error.code);
      if (input.signal.aborted) {
        breaker.release();
        return { ok: false, error: isGatewayError(input.signal.reason) ? input.signal.reason : error };
      }
      if (isTargetFault(error)) breaker.recordFailure();
      else breaker.release();

      if (tryNumber >= retry.maxAttempts || !shouldRetrySameTarget(error, retry)) return { ok: false, error };
      const delay = retryDelayMs(error, tryNumber, retry, runtime.random);
      if (Date.now() + delay >= input.deadlineAt) return { ok: false, error };
      try {
        if (delay > 0) await sleep(delay, undefined, { signal: input.signal });
      } catch {
        return { ok: false, error: isGatewayError(input.signal.reason) ? input.signal.reason : error };
      }
      if (runtime.breakers.enabled && !breaker.tryAcquire()) return { ok: false, error };
      continue;
    }
    if (!input.checkAnswer) return { ok: true, result };
    let checked: { result: DispatchResult; decision: AnswerDecision };
    try {
      checked = await judge(result, input.checkAnswer, input.signal);
    } catch (thrown) {
      // A stream that broke while it was read whole: its own end already settled the breaker and the count.
      const error = isGatewayError(thrown) ? thrown : new GatewayError('stream_interrupted', 'the upstream stream broke while it was read', { cause: thrown });
      return { ok: false, error: input.signal.aborted && isGatewayError(input.signal.reason) ? input.signal.reason : error };
    }
    const { decision } = checked;
    if (decision.kind === 'accept') return { ok: true, result: checked.result };
    if (decision.kind !== 'retry' || input.signal.aborted || Date.now() >= input.deadlineAt) {
      return { ok: false, error: decision.error, refused: decision.kind === 'fallback' ? 'fallback' : 'deny' };
    }
    // Asked again at once: the target answered, its answer was refused.
    if (runtime.breakers.enabled && !breaker.tryAcquire()) return { ok: false, error: decision.error, refused: 'deny' };
  }
}

/** Runs the answer check; a stream to be judged whole is read first and replayed from memory. */
async function judge(result: DispatchResult, check: AnswerCheck, signal: AbortSignal): Promise<{ result: DispatchResult; decision: AnswerDecision }> {
  if (result.kind === 'json') return { result, decision: await check.json(result.body, signal) };
  if (!check.bufferStreams) return { result, decision: { kind: 'accept' } };
  const chunks: JsonObject[] = result.first ? [result.first] : [];
  for (let next = await result.rest.next(); !next.done; next = await result.rest.next()) chunks.push(next.value);
  const decision = await check.stream(chunks, signal);
  return { result: { ...result, first: chunks[0], rest: replay(chunks) }, decision };
}

/** The chunks after the first, from memory. */
function replay(chunks: readonly JsonObject[]): AsyncIterator<JsonObject> {
  let index = 1;
  return {
    next: async () => (index < chunks.length ? { done: false, value: chunks[index++] as JsonObject } : { done: true, value: undefined }),
    return: async () => ({ done: true, value: undefined }),
  };
}

async function attempt(
  planned: PlannedAttempt,
  input: DispatchInput,
  runtime: RoutingRuntime,
  counts: AttemptCounts,
  span: AttemptSpan | undefined,
  slot: PlacementSlot,
): Promise<DispatchResult> {
  const { target, variant } = planned;
  const native = speaksNatively(target, input) ? input.native : undefined;
  const reply = await target.provider.send({
    operation: native ? native.operation : input.operation,
    model: target.model,
    body: native ? native.body(target.model) : upstreamBody(input, target.model),
    stream: input.stream,
    requestId: input.requestId,
    signal: input.signal,
    traceHeaders: span?.headers ?? (input.traceparent ? { traceparent: input.traceparent } : undefined),
    clientHeaders: native?.headers,
    deadlineAt: input.deadlineAt,
    priority: input.priority,
    onPlacement: slot.report,
  });
  const breaker = runtime.breakers.for(target.key);
  if (reply.kind === 'json') {
    runtime.inFlight.decrement(target.key);
    breaker.recordSuccess();
    span?.observe(reply.body);
    span?.end();
    return { kind: 'json', target, variant, counts, native: native !== undefined, placement: slot.placement, branch: planned.branch, body: reply.body };
  }
  const first = await reply.chunks.next();
  if (span && !first.done) span.observe(first.value);
  // From here the stream belongs to the client: its end settles the in-flight count and the breaker.
  const rest = settleWhenDone(reply.chunks, (error) => {
    runtime.inFlight.decrement(target.key);
    span?.end(isGatewayError(error) ? error.code : undefined);
    if (error === undefined) breaker.recordSuccess();
    else if (error === CANCELLED) breaker.release();
    else if (input.signal.aborted || !isGatewayError(error) || !isTargetFault(error)) breaker.release();
    else breaker.recordFailure();
  }, span && ((chunk) => span.observe(chunk)));
  if (first.done) await rest.next(); // an empty but complete stream: settle it now
  return { kind: 'stream', target, variant, counts, native: native !== undefined, placement: slot.placement, branch: planned.branch, first: first.done ? undefined : first.value, rest };
}

/**
 * The client's body with the target's model. Streams always ask for usage (the client's own answer
 * drops that chunk unless it asked too), so every stream can be costed and cached whole.
 */
function upstreamBody(input: DispatchInput, model: string): JsonObject {
  if (!input.stream) return { ...input.body, model };
  const options = input.body.stream_options;
  return { ...input.body, model, stream_options: { ...(options && typeof options === 'object' ? options : {}), include_usage: true } };
}
