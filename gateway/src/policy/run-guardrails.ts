/**
 * Running a route's guardrails on one request: the input checks before anything is sent upstream, and
 * the output checks on a whole answer (JSON, or a stream read whole). Checks run in the order they are
 * attached (global ones first), each on the text as the previous ones left it — a redaction is what the
 * next check, the upstream, the cache and the trace see. Every check records one verdict.
 */
import { GatewayError, isGatewayError } from '../errors.js';
import type { JsonObject } from '../providers/types.js';
import type { RequestFacts } from '../routing/request-facts.js';
import type { RoutePolicy } from './compile-guardrails.js';
import type { Guardrail, SchemaGuardrail, TextGuardrail, WebhookGuardrail } from './guardrail.js';
import { mergeOverlaps, summarise, type Span } from './redaction.js';
import { answerSegments, requestSegments, streamSegments, type TextSegment } from './text-segments.js';
import type { GuardrailStage, GuardrailVerdict, Verdict } from './verdict.js';

/** One request's run of its policy. */
export interface PolicyRun {
  readonly facts: RequestFacts;
  readonly route: string;
  /** Every verdict, in order (the request's outcome holds the same array). */
  readonly verdicts: GuardrailVerdict[];
  /** Answers refused by a schema guardrail so far (its retries and fallbacks are bounded by maxRetries). */
  refusals: number;
  /**
   * The canonical request is the client's own body (chat, completions, embeddings), so a deny's `param`
   * can name the field; for other dialects (Responses, Messages) the canonical field names would mislead.
   */
  readonly clientShaped: boolean;
}

export function startPolicyRun(facts: RequestFacts, route: string, verdicts: GuardrailVerdict[], clientShaped = true): PolicyRun {
  return { facts, route, verdicts, refusals: 0, clientShaped };
}

/** What becomes of an answer the output checks looked at. */
export type AnswerDecision =
  | { readonly kind: 'accept' }
  | { readonly kind: 'retry' | 'fallback' | 'deny'; readonly error: GatewayError };

const ACCEPT: AnswerDecision = { kind: 'accept' };

export function record(run: PolicyRun, guardrail: Guardrail, stage: GuardrailStage, verdict: Verdict, findings = ''): void {
  run.verdicts.push({ guardrail: guardrail.name, stage, verdict, findings });
}

export function deniedError(name: string, stage: GuardrailStage, findings: string, param: string | null, endsStream = false): GatewayError {
  const what = stage === 'input' ? 'the request' : 'the answer';
  return new GatewayError('guardrail_denied', `guardrail '${name}' refused ${what}${findings ? ` (${findings})` : ''}`, {
    detail: name,
    param,
    endsStream,
  });
}

/**
 * Input checks. Throws the deny (or a fail-closed guardrail's unavailability) as a GatewayError.
 * `clientLeft` gives a signal that aborts when the client goes away (asked for only when a check calls
 * out: a webhook's call is then cancelled, and the request ends there).
 */
export async function checkInput(policy: RoutePolicy, run: PolicyRun, clientLeft?: () => AbortSignal): Promise<void> {
  let segments: TextSegment[] | undefined;
  let signal: AbortSignal | undefined;
  for (const guardrail of policy.input) {
    let error: GatewayError | undefined;
    switch (guardrail.kind) {
      case 'text':
        error = applyText(guardrail, 'input', (segments ??= requestSegments(run.facts.body)), run);
        break;
      case 'size': {
        const over = guardrail.check(run.facts);
        record(run, guardrail, 'input', over === undefined ? 'pass' : guardrail.action, over);
        if (over !== undefined && guardrail.action === 'deny') error = deniedError(guardrail.name, 'input', over, null);
        break;
      }
      case 'webhook':
        error = await applyWebhook(guardrail, 'input', (segments ??= requestSegments(run.facts.body)), run, (signal ??= clientLeft?.()));
        break;
      case 'schema':
        break; // refused at load: a schema checks answers
    }
    if (error) throw error;
  }
}

/** Output checks on a JSON answer (redactions are made in it). */
export function checkAnswer(policy: RoutePolicy, answer: JsonObject, run: PolicyRun, signal: AbortSignal | undefined): Promise<AnswerDecision> {
  return checkOutput(policy, answerSegments(answer), run, signal);
}

/** Output checks on a whole stream, before any of it is sent (redactions are made in the chunks). */
export function checkStream(policy: RoutePolicy, chunks: readonly JsonObject[], run: PolicyRun, signal: AbortSignal | undefined): Promise<AnswerDecision> {
  return checkOutput(policy, streamSegments(chunks), run, signal);
}

async function checkOutput(policy: RoutePolicy, segments: TextSegment[], run: PolicyRun, signal: AbortSignal | undefined): Promise<AnswerDecision> {
  for (const guardrail of policy.output) {
    let error: GatewayError | undefined;
    switch (guardrail.kind) {
      case 'text':
        error = applyText(guardrail, 'output', segments, run);
        break;
      case 'webhook':
        error = await applyWebhook(guardrail, 'output', segments, run, signal);
        break;
      case 'schema': {
        const decision = applySchema(guardrail, segments, run);
        if (decision.kind !== 'accept') return decision;
        break;
      }
      case 'size':
        break; // refused at load: a size limit checks prompts
    }
    if (error) return { kind: 'deny', error };
  }
  return ACCEPT;
}

/** Finds spans in every segment; redacts them, or returns the deny. */
function applyText(guardrail: TextGuardrail, stage: GuardrailStage, segments: readonly TextSegment[], run: PolicyRun): GatewayError | undefined {
  const counts = new Map<string, number>();
  let firstPath: string | null = null;
  for (const segment of segments) {
    const spans: Span[] = [];
    guardrail.scan(segment.folded(), (start, end, label) => spans.push({ start, end, label }));
    if (spans.length === 0) continue;
    firstPath ??= segment.path;
    for (const span of spans) counts.set(span.label, (counts.get(span.label) ?? 0) + 1);
    // A denied request is never sent: its matches are replaced too, so a trace that logs bodies keeps
    // what was refused without the text it was refused for.
    if (guardrail.action === 'redact' || (guardrail.action === 'deny' && stage === 'input')) segment.redact(mergeOverlaps(spans), guardrail.replacement);
  }
  if (counts.size === 0) {
    record(run, guardrail, stage, 'pass');
    return undefined;
  }
  const findings = summarise(counts);
  record(run, guardrail, stage, guardrail.action, findings);
  return guardrail.action === 'deny' ? deniedError(guardrail.name, stage, findings, stage === 'input' && run.clientShaped ? firstPath : null) : undefined;
}

function applySchema(guardrail: SchemaGuardrail, segments: readonly TextSegment[], run: PolicyRun): AnswerDecision {
  // The first choice's text is the answer an application parses (not its reasoning or a tool call's arguments).
  const problem = guardrail.check(segments.find((segment) => segment.kind === 'text')?.text() ?? '', run.facts.body);
  if (problem === undefined) {
    record(run, guardrail, 'output', 'pass');
    return ACCEPT;
  }
  const findings = `schema: ${problem}`;
  const error = deniedError(guardrail.name, 'output', findings, null);
  if (guardrail.action === 'flag') {
    record(run, guardrail, 'output', 'flag', findings);
    return ACCEPT;
  }
  if (guardrail.action !== 'deny' && run.refusals < guardrail.maxRetries) {
    run.refusals++;
    record(run, guardrail, 'output', guardrail.action, findings);
    return { kind: guardrail.action, error };
  }
  record(run, guardrail, 'output', 'deny', findings);
  return { kind: 'deny', error };
}

async function applyWebhook(
  guardrail: WebhookGuardrail,
  stage: GuardrailStage,
  segments: readonly TextSegment[],
  run: PolicyRun,
  signal: AbortSignal | undefined,
): Promise<GatewayError | undefined> {
  if (segments.length === 0) {
    record(run, guardrail, stage, 'pass', 'no text');
    return undefined;
  }
  const { facts } = run;
  const result = await guardrail.call(
    { guardrail: guardrail.name, stage, route: run.route, key_id: facts.keyId, user: facts.user, metadata: facts.metadata ?? {}, texts: segments.map((s) => s.text()) },
    signal,
  );
  if (!result.ok) {
    record(run, guardrail, stage, 'error', `webhook: ${result.failure} (fail ${guardrail.failMode})`);
    // Nobody is waiting for the answer: neither fail mode applies, the request ends here.
    if (signal?.aborted) return isGatewayError(signal.reason) ? signal.reason : new GatewayError('client_disconnected', 'the client closed the connection during a guardrail check');
    if (guardrail.failMode === 'open') return undefined;
    return new GatewayError('guardrail_unavailable', `guardrail '${guardrail.name}' could not check ${stage === 'input' ? 'the request' : 'the answer'}: ${result.failure}`, {
      detail: guardrail.name,
    });
  }
  const findings = result.reason ? `webhook: ${result.reason}` : '';
  record(run, guardrail, stage, result.verdict, findings);
  if (result.verdict === 'redact') segments.forEach((segment, index) => segment.replace(result.texts?.[index] ?? segment.text()));
  return result.verdict === 'deny' ? deniedError(guardrail.name, stage, findings, null) : undefined;
}

/** `pii:redact, secrets:flag` — the checks that did something, for the x-gateway-guardrails header. */
export function verdictHeader(verdicts: readonly GuardrailVerdict[]): string | undefined {
  let out = '';
  for (const v of verdicts) if (v.verdict !== 'pass') out += `${out ? ', ' : ''}${v.guardrail}:${v.verdict}`;
  return out || undefined;
}
