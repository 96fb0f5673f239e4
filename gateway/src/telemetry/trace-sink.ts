/**
 * Where trace rows, feedback and canary events are stored. Two implementations share one contract test
 * suite: DuckDB (an embedded file, the default) and ClickHouse. Both collapse duplicate trace ids (a
 * spool replay may send a row twice) and every query counts each trace once.
 */
import type { SqlDialect } from './sql-dialect.js';
import type { CanaryEventRow, FeedbackRow, TraceRow } from './trace-row.js';

export interface ExportFilter {
  route?: string | undefined;
  fromMs?: number | undefined;
  toMs?: number | undefined;
  /** Only traces whose average feedback score is at least this. */
  minScore?: number | undefined;
}

/** A page cursor for exports: rows strictly after (ts_ms, trace_id). */
export interface ExportCursor {
  tsMs: number;
  traceId: string;
}

export type ExportRow = Pick<TraceRow, 'trace_id' | 'ts_ms' | 'route' | 'request_body' | 'response_body'>;

export interface TraceSink {
  readonly kind: 'duckdb' | 'clickhouse';
  /** Creates or migrates the schema. */
  init(): Promise<void>;
  /**
   * Stores rows. `mayRepeat` marks a spool replay, whose rows may already be stored (a batch can fail
   * after the store took it); live batches are new by construction.
   */
  insertTraces(rows: readonly TraceRow[], mayRepeat?: boolean): Promise<void>;
  insertFeedback(row: FeedbackRow): Promise<void>;
  insertCanaryEvent(row: CanaryEventRow): Promise<void>;
  getTrace(traceId: string): Promise<TraceRow | undefined>;
  listFeedback(traceId: string): Promise<FeedbackRow[]>;
  /** One page of traces with logged bodies, oldest first. */
  exportPage(filter: ExportFilter, after: ExportCursor | undefined, limit: number): Promise<ExportRow[]>;
  /** Stored rows, and distinct trace ids among them. */
  countTraces(): Promise<{ rows: number; distinct: number }>;
  /** Retention: removes traces older than the cutoff. */
  dropOlderThan(cutoffMs: number): Promise<void>;
  /** Read-only SQL for the dashboard's queries; every literal in it was built with `dialect`. */
  readonly dialect: SqlDialect;
  select(sql: string): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

/** Maps a stored row (numbers may arrive as strings, e.g. UInt64 in JSON) back to a TraceRow. */
export function toTraceRow(raw: Record<string, unknown>): TraceRow {
  const num = (value: unknown): number => (value === null || value === undefined ? 0 : Number(value));
  const str = (value: unknown): string => (value === null || value === undefined ? '' : String(value));
  const list = (value: unknown): string[] => (Array.isArray(value) ? value.map(String) : []);
  return {
    trace_id: str(raw.trace_id),
    client_request_id: str(raw.client_request_id),
    ts_ms: num(raw.ts_ms),
    key_id: str(raw.key_id),
    route: str(raw.route),
    operation: str(raw.operation),
    provider: str(raw.provider),
    model: str(raw.model),
    requested_model: str(raw.requested_model),
    variant: str(raw.variant),
    stream: num(raw.stream),
    status: num(raw.status),
    error_code: str(raw.error_code),
    latency_ms: num(raw.latency_ms),
    upstream_ms: num(raw.upstream_ms),
    ttft_ms: raw.ttft_ms === null || raw.ttft_ms === undefined ? null : Number(raw.ttft_ms),
    attempts: num(raw.attempts),
    retries: num(raw.retries),
    fallbacks: num(raw.fallbacks),
    cache: str(raw.cache),
    input_tokens: num(raw.input_tokens),
    output_tokens: num(raw.output_tokens),
    usage_estimated: num(raw.usage_estimated),
    cost_usd: raw.cost_usd === null || raw.cost_usd === undefined ? null : Number(raw.cost_usd),
    user: str(raw.user),
    metadata_keys: list(raw.metadata_keys),
    metadata_values: list(raw.metadata_values),
    request_body: str(raw.request_body),
    response_body: str(raw.response_body),
    replica: str(raw.replica),
    replica_reason: str(raw.replica_reason),
    replica_score: num(raw.replica_score),
    prefix_match_chars: num(raw.prefix_match_chars),
    queue_ms: num(raw.queue_ms),
    branch: str(raw.branch),
    guardrail_names: list(raw.guardrail_names),
    guardrail_stages: list(raw.guardrail_stages),
    guardrail_verdicts: list(raw.guardrail_verdicts),
    guardrail_findings: list(raw.guardrail_findings),
    guardrail_trips: num(raw.guardrail_trips),
  };
}

export function toFeedbackRow(raw: Record<string, unknown>): FeedbackRow {
  return {
    feedback_id: String(raw.feedback_id),
    trace_id: String(raw.trace_id),
    ts_ms: Number(raw.ts_ms),
    score: Number(raw.score),
    label: String(raw.label ?? ''),
    comment: String(raw.comment ?? ''),
  };
}
