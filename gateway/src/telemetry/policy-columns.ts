/** The trace row's policy columns: the conditional branch taken and every guardrail verdict. */
import { isTrip, type GuardrailVerdict } from '../policy/verdict.js';
import type { TraceRow } from './trace-row.js';

export type PolicyColumns = Pick<TraceRow, 'branch' | 'guardrail_names' | 'guardrail_stages' | 'guardrail_verdicts' | 'guardrail_findings' | 'guardrail_trips'>;

/** A request without policy: shared, never written to (rows are only read and serialised). */
const NO_POLICY: PolicyColumns = Object.freeze({
  branch: '',
  guardrail_names: Object.freeze([]) as unknown as string[],
  guardrail_stages: Object.freeze([]) as unknown as string[],
  guardrail_verdicts: Object.freeze([]) as unknown as string[],
  guardrail_findings: Object.freeze([]) as unknown as string[],
  guardrail_trips: 0,
});

export function policyColumns(branch: string | undefined, verdicts: readonly GuardrailVerdict[] | undefined): PolicyColumns {
  if (branch === undefined && verdicts === undefined) return NO_POLICY;
  const columns: PolicyColumns = {
    branch: branch ?? '',
    guardrail_names: [],
    guardrail_stages: [],
    guardrail_verdicts: [],
    guardrail_findings: [],
    guardrail_trips: 0,
  };
  if (verdicts) {
    for (const verdict of verdicts) {
      columns.guardrail_names.push(verdict.guardrail);
      columns.guardrail_stages.push(verdict.stage);
      columns.guardrail_verdicts.push(verdict.verdict);
      columns.guardrail_findings.push(verdict.findings);
      if (isTrip(verdict)) columns.guardrail_trips++;
    }
  }
  return columns;
}
