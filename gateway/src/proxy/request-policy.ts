/**
 * The policy step of one request, for routes that have guardrails (others never reach this file): the
 * input checks before the cache and the upstream, the answer check dispatch runs on every answer, and
 * the incremental check wrapped around a stream.
 */
import type { RoutePolicy } from '../policy/compile-guardrails.js';
import type { TextGuardrail } from '../policy/guardrail.js';
import { checkAnswer, checkInput, checkStream, startPolicyRun, type PolicyRun } from '../policy/run-guardrails.js';
import { guardStream } from '../policy/stream-guard.js';
import type { JsonObject } from '../providers/types.js';
import type { RequestFacts } from '../routing/request-facts.js';
import type { RequestOutcome } from '../telemetry/request-outcome.js';
import type { AnswerCheck } from './dispatch.js';

/**
 * Runs the input checks (throwing a deny); the run's verdicts are the outcome's. `clientShaped`: the
 * canonical request is the client's own body, so a deny may name its field. `clientLeft`: see checkInput.
 */
export async function startPolicy(
  policy: RoutePolicy,
  facts: RequestFacts,
  route: string,
  outcome: RequestOutcome,
  clientShaped: boolean,
  clientLeft: () => AbortSignal,
): Promise<PolicyRun> {
  outcome.guardrails = [];
  const run = startPolicyRun(facts, route, outcome.guardrails, clientShaped);
  if (policy.input.length === 0) return run;
  try {
    await checkInput(policy, run, clientLeft);
  } catch (error) {
    // The trace logs the request as denied: with what the deny found replaced (see checkInput).
    if (run.verdicts.at(-1)?.verdict === 'deny') outcome.requestBody = facts.body;
    throw error;
  }
  return run;
}

/** The answer check for dispatch, when the route has output guardrails. */
export function answerCheck(policy: RoutePolicy, run: PolicyRun): AnswerCheck | undefined {
  if (policy.output.length === 0) return undefined;
  return {
    bufferStreams: policy.bufferStreams,
    json: (body, signal) => checkAnswer(policy, body, run, signal),
    stream: (chunks, signal) => checkStream(policy, chunks, run, signal),
  };
}

/** A stream with its output checked as it passes, when the route checks streams incrementally. */
export function checkedStream(
  policy: RoutePolicy | undefined,
  run: PolicyRun | undefined,
  first: JsonObject | undefined,
  rest: AsyncIterator<JsonObject>,
): { first: JsonObject | undefined; rest: AsyncIterator<JsonObject> } {
  if (!policy || !run || policy.bufferStreams || policy.output.length === 0) return { first, rest };
  // Without a buffered check every output guardrail is a text one (the others check answers whole).
  return guardStream(policy.output as TextGuardrail[], run, first, rest);
}
