/**
 * Sends one client request to the route's targets in order until one answers. A stream counts as
 * answered only once its first chunk has arrived, so a stream that fails before its first byte can
 * still move on to the next target.
 */
import { GatewayError, isGatewayError } from '../errors.js';
import type { JsonObject, Operation } from '../providers/types.js';
import type { ResolvedRoute, ResolvedTarget } from '../routing/model-resolver.js';
import type { ValidatedBody } from './request-schemas.js';

export type DispatchResult =
  | { kind: 'json'; target: ResolvedTarget; attempts: number; body: JsonObject }
  | { kind: 'stream'; target: ResolvedTarget; attempts: number; first: JsonObject | undefined; rest: AsyncIterator<JsonObject> };

export interface DispatchInput {
  route: ResolvedRoute;
  operation: Operation;
  body: ValidatedBody;
  stream: boolean;
  requestId: string;
  signal: AbortSignal;
}

export class DispatchError extends Error {
  constructor(readonly error: GatewayError, readonly attempts: number, readonly target: ResolvedTarget | undefined) {
    super(error.message);
  }
}

export async function dispatch(input: DispatchInput): Promise<DispatchResult> {
  let attempts = 0;
  let lastError: GatewayError | undefined;
  let lastTarget: ResolvedTarget | undefined;
  for (const target of input.route.targets) {
    if (!target.provider.supports(input.operation)) {
      lastError ??= new GatewayError('operation_not_supported', `provider '${target.provider.name}' does not serve this endpoint`);
      continue;
    }
    attempts++;
    lastTarget = target;
    try {
      return await attempt(target, input, attempts);
    } catch (error) {
      lastError = isGatewayError(error)
        ? error
        : new GatewayError('internal_error', 'provider failed unexpectedly', { cause: error });
      if (!lastError.retryable || input.signal.aborted) break;
    }
  }
  throw new DispatchError(
    lastError ?? new GatewayError('model_not_found', `route '${input.route.name}' has no targets`),
    attempts,
    lastTarget,
  );
}

async function attempt(target: ResolvedTarget, input: DispatchInput, attempts: number): Promise<DispatchResult> {
  const body = { ...input.body, model: target.model };
  const reply = await target.provider.send({
    operation: input.operation,
    model: target.model,
    body,
    stream: input.stream,
    requestId: input.requestId,
    signal: input.signal,
  });
  if (reply.kind === 'json') return { kind: 'json', target, attempts, body: reply.body };
  const first = await reply.chunks.next();
  return { kind: 'stream', target, attempts, first: first.done ? undefined : first.value, rest: reply.chunks };
}
