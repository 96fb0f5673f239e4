/**
 * What one guardrail decided about one request: the record that becomes a metric sample, trace columns
 * and a dashboard line. `findings` says what kind of thing was found and how often (`email×2`,
 * `schema: /answer must be number`, `webhook: timeout`) — never the text that was found.
 */
export type GuardrailStage = 'input' | 'output';

/**
 * - pass: nothing found;
 * - flag / redact / deny: the guardrail's action fired;
 * - retry / fallback: the answer was refused and asked for again (same target / the next one);
 * - error: the check itself failed (a webhook timed out, was down or answered garbage) and its declared
 *   fail mode applied.
 */
export type Verdict = 'pass' | 'flag' | 'redact' | 'deny' | 'retry' | 'fallback' | 'error';

export const VERDICTS: readonly Verdict[] = ['pass', 'flag', 'redact', 'deny', 'retry', 'fallback', 'error'];

export interface GuardrailVerdict {
  readonly guardrail: string;
  readonly stage: GuardrailStage;
  readonly verdict: Verdict;
  readonly findings: string;
}

/** Output verdicts that count against the model that answered (a canary guard compares their rate). */
export function isTrip(verdict: GuardrailVerdict): boolean {
  return verdict.stage === 'output' && verdict.verdict !== 'pass' && verdict.verdict !== 'error';
}
