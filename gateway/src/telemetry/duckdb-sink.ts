/**
 * The embedded trace sink: a DuckDB file under the data directory. Batches go in through the appender;
 * rows whose trace id is already stored are skipped, so a spool replay never double-counts. One
 * connection; statements run one at a time.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { BIGINT, DOUBLE, DuckDBInstance, LIST, VARCHAR, type DuckDBAppender, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';
import { DUCKDB_DIALECT } from './sql-dialect.js';
import type { CanaryEventRow, FeedbackRow, TraceRow } from './trace-row.js';
import { toFeedbackRow, toTraceRow, type ExportCursor, type ExportFilter, type ExportRow, type TraceSink } from './trace-sink.js';

/** The policy columns (conditional branch, guardrail verdicts), added after the first release. */
const POLICY_COLUMNS = [
  "branch VARCHAR DEFAULT ''",
  'guardrail_names VARCHAR[] DEFAULT []',
  'guardrail_stages VARCHAR[] DEFAULT []',
  'guardrail_verdicts VARCHAR[] DEFAULT []',
  'guardrail_findings VARCHAR[] DEFAULT []',
  'guardrail_trips INTEGER DEFAULT 0',
];

const REQUEST_COLUMNS = `
    trace_id VARCHAR, ts_ms BIGINT, key_id VARCHAR, route VARCHAR, operation VARCHAR, provider VARCHAR,
    model VARCHAR, requested_model VARCHAR, variant VARCHAR, stream INTEGER, status INTEGER, error_code VARCHAR,
    latency_ms DOUBLE, upstream_ms DOUBLE, ttft_ms DOUBLE, attempts INTEGER, retries INTEGER, fallbacks INTEGER,
    cache VARCHAR, input_tokens BIGINT, output_tokens BIGINT, usage_estimated INTEGER, cost_usd DOUBLE, "user" VARCHAR,
    metadata_keys VARCHAR[], metadata_values VARCHAR[], request_body VARCHAR, response_body VARCHAR,
    client_request_id VARCHAR DEFAULT '',
    replica VARCHAR DEFAULT '', replica_reason VARCHAR DEFAULT '', replica_score DOUBLE DEFAULT 0,
    prefix_match_chars BIGINT DEFAULT 0, queue_ms DOUBLE DEFAULT 0, ${POLICY_COLUMNS.join(', ')}`;

/**
 * Columns added after the first release, in REQUEST_COLUMNS' order: files written before one existed get
 * it on open, at the end, where REQUEST_COLUMNS has it too.
 */
const ADDED_COLUMNS = [
  "client_request_id VARCHAR DEFAULT ''",
  "replica VARCHAR DEFAULT ''",
  "replica_reason VARCHAR DEFAULT ''",
  'replica_score DOUBLE DEFAULT 0',
  'prefix_match_chars BIGINT DEFAULT 0',
  'queue_ms DOUBLE DEFAULT 0',
  ...POLICY_COLUMNS,
];

const SCHEMA = [
  // The embedded store shares the machine with the gateway: one worker thread, bounded memory.
  'SET threads TO 1',
  "SET memory_limit = '64MB'",
  // No primary key: an ART index over every trace id lives in memory and grows without bound. Duplicates
  // (from spool replays) are filtered on insert instead, against rows in the batch's own time range.
  `CREATE TABLE IF NOT EXISTS requests (${REQUEST_COLUMNS})`,
  ...ADDED_COLUMNS.map((column) => `ALTER TABLE requests ADD COLUMN IF NOT EXISTS ${column}`),
  // Batches are appended here (fast), then moved over without the trace ids already stored.
  `CREATE TEMP TABLE IF NOT EXISTS requests_staging (${REQUEST_COLUMNS})`,
  `CREATE TABLE IF NOT EXISTS feedback (
    feedback_id VARCHAR PRIMARY KEY, trace_id VARCHAR, ts_ms BIGINT, score DOUBLE, label VARCHAR, comment VARCHAR)`,
  'CREATE INDEX IF NOT EXISTS feedback_trace ON feedback (trace_id)',
  `CREATE TABLE IF NOT EXISTS canary_events (
    event_id VARCHAR PRIMARY KEY, ts_ms BIGINT, route VARCHAR, decision VARCHAR, from_weight DOUBLE, to_weight DOUBLE, details VARCHAR)`,
];

const STRING_LIST = LIST(VARCHAR);

/**
 * Moves staged rows that are not stored yet. A replayed row is identical to the stored one, ts_ms
 * included, so the check only scans the batch's time range (DuckDB's zone maps skip the rest).
 */
const INSERT_NEW_TRACES = `
  INSERT INTO requests
  SELECT s.* FROM (SELECT DISTINCT ON (trace_id) * FROM requests_staging) s
  WHERE NOT EXISTS (
    SELECT 1 FROM requests r
    WHERE r.ts_ms BETWEEN (SELECT min(ts_ms) FROM requests_staging) AND (SELECT max(ts_ms) FROM requests_staging)
      AND r.trace_id = s.trace_id)`;

/** Appends one row in the table's column order (REQUEST_COLUMNS), with each column's DuckDB type. */
function appendRow(appender: DuckDBAppender, row: TraceRow): void {
  appender.appendVarchar(row.trace_id);
  appender.appendBigInt(BigInt(Math.trunc(row.ts_ms)));
  appender.appendVarchar(row.key_id);
  appender.appendVarchar(row.route);
  appender.appendVarchar(row.operation);
  appender.appendVarchar(row.provider);
  appender.appendVarchar(row.model);
  appender.appendVarchar(row.requested_model);
  appender.appendVarchar(row.variant);
  appender.appendInteger(row.stream);
  appender.appendInteger(row.status);
  appender.appendVarchar(row.error_code);
  appender.appendDouble(row.latency_ms);
  appender.appendDouble(row.upstream_ms);
  if (row.ttft_ms === null) appender.appendNull();
  else appender.appendDouble(row.ttft_ms);
  appender.appendInteger(row.attempts);
  appender.appendInteger(row.retries);
  appender.appendInteger(row.fallbacks);
  appender.appendVarchar(row.cache);
  appender.appendBigInt(BigInt(Math.trunc(row.input_tokens)));
  appender.appendBigInt(BigInt(Math.trunc(row.output_tokens)));
  appender.appendInteger(row.usage_estimated);
  if (row.cost_usd === null) appender.appendNull();
  else appender.appendDouble(row.cost_usd);
  appender.appendVarchar(row.user);
  appender.appendList(row.metadata_keys, STRING_LIST);
  appender.appendList(row.metadata_values, STRING_LIST);
  appender.appendVarchar(row.request_body);
  appender.appendVarchar(row.response_body);
  // Rows spooled by an older version have no client id and no replica columns.
  appender.appendVarchar(row.client_request_id ?? '');
  appender.appendVarchar(row.replica ?? '');
  appender.appendVarchar(row.replica_reason ?? '');
  appender.appendDouble(row.replica_score ?? 0);
  appender.appendBigInt(BigInt(Math.trunc(row.prefix_match_chars ?? 0)));
  appender.appendDouble(row.queue_ms ?? 0);
  // Rows spooled by an older version have no policy columns.
  appender.appendVarchar(row.branch ?? '');
  appender.appendList(row.guardrail_names ?? [], STRING_LIST);
  appender.appendList(row.guardrail_stages ?? [], STRING_LIST);
  appender.appendList(row.guardrail_verdicts ?? [], STRING_LIST);
  appender.appendList(row.guardrail_findings ?? [], STRING_LIST);
  appender.appendInteger(row.guardrail_trips ?? 0);
  appender.endRow();
}

export class DuckDbSink implements TraceSink {
  readonly kind = 'duckdb' as const;
  readonly dialect = DUCKDB_DIALECT;
  private instance: DuckDBInstance | undefined;
  private connection: DuckDBConnection | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly file: string) {}

  async init(): Promise<void> {
    if (this.file !== ':memory:') mkdirSync(dirname(this.file), { recursive: true });
    this.instance = await DuckDBInstance.create(this.file);
    this.connection = await this.instance.connect();
    for (const statement of SCHEMA) await this.connection.run(statement);
  }

  /** Statements run one at a time on the single connection. */
  private serial<T>(work: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
    const run = this.queue.then(() => {
      if (!this.connection) throw new Error('DuckDB sink is not open');
      return work(this.connection);
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  insertTraces(rows: readonly TraceRow[], mayRepeat = false): Promise<void> {
    if (rows.length === 0) return Promise.resolve();
    return this.serial(async (connection) => {
      // Live batches go straight in; a replay goes through staging so stored trace ids are skipped.
      const appender = await connection.createAppender(mayRepeat ? 'requests_staging' : 'requests');
      try {
        for (const row of rows) appendRow(appender, row);
        appender.flushSync();
      } finally {
        appender.closeSync();
      }
      if (!mayRepeat) return;
      try {
        await connection.run(INSERT_NEW_TRACES);
      } finally {
        await connection.run('DELETE FROM requests_staging');
      }
    });
  }

  insertFeedback(row: FeedbackRow): Promise<void> {
    return this.serial(async (connection) => {
      await connection.run(
        'INSERT OR IGNORE INTO feedback VALUES ($1, $2, $3, $4, $5, $6)',
        [row.feedback_id, row.trace_id, row.ts_ms, row.score, row.label, row.comment],
        [VARCHAR, VARCHAR, BIGINT, DOUBLE, VARCHAR, VARCHAR],
      );
    });
  }

  insertCanaryEvent(row: CanaryEventRow): Promise<void> {
    return this.serial(async (connection) => {
      await connection.run(
        'INSERT OR IGNORE INTO canary_events VALUES ($1, $2, $3, $4, $5, $6, $7)',
        [row.event_id, row.ts_ms, row.route, row.decision, row.from_weight, row.to_weight, row.details],
        [VARCHAR, BIGINT, VARCHAR, VARCHAR, DOUBLE, DOUBLE, VARCHAR],
      );
    });
  }

  async getTrace(traceId: string): Promise<TraceRow | undefined> {
    const rows = await this.select('SELECT * FROM requests WHERE trace_id = $1', [traceId]);
    return rows[0] ? toTraceRow(rows[0]) : undefined;
  }

  async listFeedback(traceId: string): Promise<FeedbackRow[]> {
    return (await this.select('SELECT * FROM feedback WHERE trace_id = $1 ORDER BY ts_ms', [traceId])).map(toFeedbackRow);
  }

  async exportPage(filter: ExportFilter, after: ExportCursor | undefined, limit: number): Promise<ExportRow[]> {
    const where = ["request_body != ''", "response_body != ''", 'status < 300'];
    const params: DuckDBValue[] = [];
    const param = (value: DuckDBValue): string => {
      params.push(value);
      return `$${params.length}`;
    };
    if (filter.route) where.push(`route = ${param(filter.route)}`);
    if (filter.fromMs !== undefined) where.push(`ts_ms >= ${param(filter.fromMs)}`);
    if (filter.toMs !== undefined) where.push(`ts_ms < ${param(filter.toMs)}`);
    if (after) where.push(`(ts_ms > ${param(after.tsMs)} OR (ts_ms = ${param(after.tsMs)} AND trace_id > ${param(after.traceId)}))`);
    if (filter.minScore !== undefined) {
      where.push(`trace_id IN (SELECT trace_id FROM feedback GROUP BY trace_id HAVING avg(score) >= ${param(filter.minScore)})`);
    }
    const rows = await this.select(
      `SELECT trace_id, ts_ms, route, request_body, response_body FROM requests WHERE ${where.join(' AND ')} ORDER BY ts_ms, trace_id LIMIT ${Math.floor(limit)}`,
      params,
    );
    return rows.map((row) => ({ trace_id: String(row.trace_id), ts_ms: Number(row.ts_ms), route: String(row.route), request_body: String(row.request_body), response_body: String(row.response_body) }));
  }

  async countTraces(): Promise<{ rows: number; distinct: number }> {
    const [row] = await this.select('SELECT count(*) AS n, count(DISTINCT trace_id) AS d FROM requests');
    return { rows: Number(row?.n ?? 0), distinct: Number(row?.d ?? 0) };
  }

  async dropOlderThan(cutoffMs: number): Promise<void> {
    await this.serial(async (connection) => {
      await connection.run('DELETE FROM requests WHERE ts_ms < $1', [cutoffMs], [BIGINT]);
      await connection.run('DELETE FROM feedback WHERE ts_ms < $1', [cutoffMs], [BIGINT]);
      await connection.run('DELETE FROM canary_events WHERE ts_ms < $1', [cutoffMs], [BIGINT]);
    });
  }

  /** Runs a read query with bound parameters; rows come back as plain JSON values. */
  select(sql: string, params: DuckDBValue[] = []): Promise<Record<string, unknown>[]> {
    return this.serial(async (connection) => {
      const reader = await connection.runAndReadAll(sql, params);
      return reader.getRowObjectsJson() as Record<string, unknown>[];
    });
  }

  async close(): Promise<void> {
    await this.queue;
    this.connection?.closeSync();
    this.instance?.closeSync();
    this.connection = undefined;
    this.instance = undefined;
  }
}
