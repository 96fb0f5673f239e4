/**
 * The embedded trace sink: a DuckDB file under the data directory. trace_id is the primary key and
 * inserts are INSERT OR IGNORE, so a spool replay never double-counts. One connection; DuckDB
 * serialises writes itself.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { BIGINT, DOUBLE, DuckDBInstance, LIST, VARCHAR, listValue, type DuckDBConnection, type DuckDBType, type DuckDBValue } from '@duckdb/node-api';
import type { FeedbackRow, TraceRow } from './trace-row.js';
import { TRACE_COLUMNS } from './trace-row.js';
import { toFeedbackRow, toTraceRow, type ExportCursor, type ExportFilter, type ExportRow, type TraceSink } from './trace-sink.js';

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS requests (
    trace_id VARCHAR PRIMARY KEY, ts_ms BIGINT, key_id VARCHAR, route VARCHAR, operation VARCHAR, provider VARCHAR,
    model VARCHAR, requested_model VARCHAR, variant VARCHAR, stream INTEGER, status INTEGER, error_code VARCHAR,
    latency_ms DOUBLE, upstream_ms DOUBLE, ttft_ms DOUBLE, attempts INTEGER, retries INTEGER, fallbacks INTEGER,
    cache VARCHAR, input_tokens BIGINT, output_tokens BIGINT, usage_estimated INTEGER, cost_usd DOUBLE, "user" VARCHAR,
    metadata_keys VARCHAR[], metadata_values VARCHAR[], request_body VARCHAR, response_body VARCHAR)`,
  'CREATE INDEX IF NOT EXISTS requests_ts ON requests (ts_ms)',
  `CREATE TABLE IF NOT EXISTS feedback (
    feedback_id VARCHAR PRIMARY KEY, trace_id VARCHAR, ts_ms BIGINT, score DOUBLE, label VARCHAR, comment VARCHAR)`,
  'CREATE INDEX IF NOT EXISTS feedback_trace ON feedback (trace_id)',
  `CREATE TABLE IF NOT EXISTS canary_events (
    event_id VARCHAR PRIMARY KEY, ts_ms BIGINT, route VARCHAR, decision VARCHAR, from_weight DOUBLE, to_weight DOUBLE, details VARCHAR)`,
];

const STRING_LIST = LIST(VARCHAR);
const COLUMN_TYPES: Record<string, DuckDBType> = {
  ts_ms: BIGINT,
  latency_ms: DOUBLE,
  upstream_ms: DOUBLE,
  ttft_ms: DOUBLE,
  cost_usd: DOUBLE,
  input_tokens: BIGINT,
  output_tokens: BIGINT,
  stream: BIGINT,
  status: BIGINT,
  attempts: BIGINT,
  retries: BIGINT,
  fallbacks: BIGINT,
  usage_estimated: BIGINT,
  metadata_keys: STRING_LIST,
  metadata_values: STRING_LIST,
};
const COLUMN_LIST = TRACE_COLUMNS.map((column) => `"${column}"`).join(', ');

/** Rows per INSERT statement (each row binds one parameter per column). */
const ROWS_PER_STATEMENT = 200;

export class DuckDbSink implements TraceSink {
  readonly kind = 'duckdb' as const;
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

  insertTraces(rows: readonly TraceRow[]): Promise<void> {
    if (rows.length === 0) return Promise.resolve();
    return this.serial(async (connection) => {
      for (let start = 0; start < rows.length; start += ROWS_PER_STATEMENT) {
        const slice = rows.slice(start, start + ROWS_PER_STATEMENT);
        const values: DuckDBValue[] = [];
        const types: DuckDBType[] = [];
        const tuples: string[] = [];
        for (const row of slice) {
          const placeholders: string[] = [];
          for (const column of TRACE_COLUMNS) {
            const value = row[column];
            const type = COLUMN_TYPES[column] ?? VARCHAR;
            values.push(Array.isArray(value) ? listValue(value) : (value as DuckDBValue));
            types.push(type);
            placeholders.push(`$${values.length}`);
          }
          tuples.push(`(${placeholders.join(', ')})`);
        }
        await connection.run(`INSERT OR IGNORE INTO requests (${COLUMN_LIST}) VALUES ${tuples.join(', ')}`, values, types);
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
