import type { ReplicaPlacement } from '../providers/types.js';

/**
 * The trace row: one per client request, as stored in DuckDB or ClickHouse. Times are epoch
 * milliseconds (ClickHouse 18.16 has no DateTime64); metadata tags are parallel arrays (no Map type).
 */
export interface TraceRow {
  /** Made by the gateway, unique per request. */
  trace_id: string;
  /** The client's own x-request-id ('' when it sent none); several traces may share one. */
  client_request_id: string;
  ts_ms: number;
  key_id: string;
  route: string;
  operation: string;
  provider: string;
  model: string;
  requested_model: string;
  variant: string;
  stream: number;
  status: number;
  error_code: string;
  latency_ms: number;
  upstream_ms: number;
  /** Time to first token (first chunk written), streams only. */
  ttft_ms: number | null;
  attempts: number;
  retries: number;
  fallbacks: number;
  cache: string;
  input_tokens: number;
  output_tokens: number;
  usage_estimated: number;
  /** USD; null when the model has no price. */
  cost_usd: number | null;
  user: string;
  metadata_keys: string[];
  metadata_values: string[];
  /** Only when body logging is on: truncated, secrets redacted. */
  request_body: string;
  response_body: string;
  /** Replica pools: the replica (`host:port`) that served the last attempt, why, its score then, the
   * prompt-prefix characters it already held, and the time spent queued for it. */
  replica: string;
  replica_reason: string;
  replica_score: number;
  prefix_match_chars: number;
  queue_ms: number;
  /** The conditional branch the answering target was planned through (`premium/long`), '' when none. */
  branch: string;
  /** Guardrail verdicts, one per check that ran, as parallel arrays (policy/verdict.ts). */
  guardrail_names: string[];
  guardrail_stages: string[];
  guardrail_verdicts: string[];
  guardrail_findings: string[];
  /** Output verdicts other than pass and error: what the answering model tripped. */
  guardrail_trips: number;
}

export interface FeedbackRow {
  feedback_id: string;
  trace_id: string;
  ts_ms: number;
  score: number;
  label: string;
  comment: string;
}

export interface CanaryEventRow {
  event_id: string;
  ts_ms: number;
  route: string;
  decision: string;
  from_weight: number;
  to_weight: number;
  /** JSON: the reason and the numbers the decision was based on. */
  details: string;
}

/** Columns both stores keep as (unsigned) integers. */
const INTEGER_COLUMNS = ['ts_ms', 'stream', 'status', 'attempts', 'retries', 'fallbacks', 'input_tokens', 'output_tokens', 'usage_estimated', 'prefix_match_chars', 'guardrail_trips'] as const;

/**
 * The row as both stores can take it. A batch is inserted whole, and a batch a store refuses goes to
 * the spool and would sit at its head forever, so no value may be refusable:
 * - strings are well-formed UTF-16: JSON can carry a lone surrogate (`"\ud800"` in a client's `user`
 *   or tags), which UTF-8 stores refuse; it is stored as U+FFFD;
 * - integer columns hold non-negative integers.
 * Returns the same row when nothing needs changing (the common case: one scan per string).
 */
export function storableRow(row: TraceRow): TraceRow {
  let copy: Record<string, unknown> | undefined;
  for (const [key, value] of Object.entries(row)) {
    if (typeof value === 'string') {
      if (!value.isWellFormed()) (copy ??= { ...row })[key] = value.toWellFormed();
    } else if (Array.isArray(value) && !value.every((item: string) => item.isWellFormed())) {
      (copy ??= { ...row })[key] = value.map((item: string) => item.toWellFormed());
    }
  }
  for (const key of INTEGER_COLUMNS) {
    const value = row[key];
    if (!Number.isSafeInteger(value) || value < 0) (copy ??= { ...row })[key] = Number.isFinite(value) ? Math.max(0, Math.trunc(value)) : 0;
  }
  return (copy as TraceRow | undefined) ?? row;
}

/** The replica columns of a trace row (all empty when no replica pool served the request). */
export function placementColumns(placement: ReplicaPlacement | undefined): Pick<TraceRow, 'replica' | 'replica_reason' | 'replica_score' | 'prefix_match_chars' | 'queue_ms'> {
  if (!placement) return { replica: '', replica_reason: '', replica_score: 0, prefix_match_chars: 0, queue_ms: 0 };
  return {
    replica: placement.replica,
    replica_reason: placement.reason,
    replica_score: Math.round(placement.score * 1000) / 1000,
    prefix_match_chars: placement.prefixMatchChars,
    queue_ms: Math.round(placement.queuedMs * 1000) / 1000,
  };
}
