/**
 * The embedded trace sink: a DuckDB file under the data directory. Batches go in as newline-delimited
 * JSON read by DuckDB's own JSON reader; rows whose trace id is already stored are skipped, so a spool
 * replay never double-counts. One connection; statements run one at a time.
 *
 * Why JSON rather than the appender: the Node appender creates a native value (and a native type) for
 * every list cell and keeps native memory per appended row while the database is open — about 1.6 KB a
 * row, so RSS grew without bound with the trace count (400k rows: +700 MB). A batch file read with
 * read_ndjson keeps DuckDB's memory flat and costs less CPU per row (measured in benchmarks/README.md).
 */
import { randomBytes } from 'node:crypto';
import { constants, mkdirSync } from 'node:fs';
import { chmod, open, readdir, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { BIGINT, DOUBLE, DuckDBInstance, VARCHAR, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';
import { DUCKDB_DIALECT } from './sql-dialect.js';
import { storableRow, type CanaryEventRow, type FeedbackRow, type TraceRow } from './trace-row.js';
import { toFeedbackRow, toTraceRow, type ExportCursor, type ExportFilter, type ExportRow, type TraceSink } from './trace-sink.js';

/**
 * The requests table's columns in table order. Columns added after the first release come last, with a
 * default: files written before one existed get it on open (ADD COLUMN appends), and rows spooled by an
 * older version, which lack it, store the default.
 */
const REQUEST_COLUMNS: readonly (readonly [name: keyof TraceRow, type: string, added?: string])[] = [
  ['trace_id', 'VARCHAR'], ['ts_ms', 'BIGINT'], ['key_id', 'VARCHAR'], ['route', 'VARCHAR'], ['operation', 'VARCHAR'],
  ['provider', 'VARCHAR'], ['model', 'VARCHAR'], ['requested_model', 'VARCHAR'], ['variant', 'VARCHAR'],
  ['stream', 'INTEGER'], ['status', 'INTEGER'], ['error_code', 'VARCHAR'], ['latency_ms', 'DOUBLE'],
  ['upstream_ms', 'DOUBLE'], ['ttft_ms', 'DOUBLE'], ['attempts', 'INTEGER'], ['retries', 'INTEGER'],
  ['fallbacks', 'INTEGER'], ['cache', 'VARCHAR'], ['input_tokens', 'BIGINT'], ['output_tokens', 'BIGINT'],
  ['usage_estimated', 'INTEGER'], ['cost_usd', 'DOUBLE'], ['user', 'VARCHAR'], ['metadata_keys', 'VARCHAR[]'],
  ['metadata_values', 'VARCHAR[]'], ['request_body', 'VARCHAR'], ['response_body', 'VARCHAR'],
  ['client_request_id', 'VARCHAR', "''"], ['replica', 'VARCHAR', "''"], ['replica_reason', 'VARCHAR', "''"],
  ['replica_score', 'DOUBLE', '0'], ['prefix_match_chars', 'BIGINT', '0'], ['queue_ms', 'DOUBLE', '0'],
  // The policy columns: the conditional branch taken and the guardrails' verdicts.
  ['branch', 'VARCHAR', "''"], ['guardrail_names', 'VARCHAR[]', '[]::VARCHAR[]'], ['guardrail_stages', 'VARCHAR[]', '[]::VARCHAR[]'],
  ['guardrail_verdicts', 'VARCHAR[]', '[]::VARCHAR[]'], ['guardrail_findings', 'VARCHAR[]', '[]::VARCHAR[]'], ['guardrail_trips', 'INTEGER', '0'],
];

const quoted = (name: string): string => `"${name}"`;
const columnDefinition = ([name, type, added]: (typeof REQUEST_COLUMNS)[number]): string => `${quoted(name)} ${type}${added === undefined ? '' : ` DEFAULT ${added}`}`;
const TABLE_COLUMNS = REQUEST_COLUMNS.map(columnDefinition).join(', ');
const COLUMN_LIST = REQUEST_COLUMNS.map(([name]) => quoted(name)).join(', ');
/** What the JSON reader's rows become: an added column a row lacks is its default. */
const READER_SELECT = REQUEST_COLUMNS.map(([name, , added]) => (added === undefined ? quoted(name) : `COALESCE(${quoted(name)}, ${added})`)).join(', ');
/**
 * The largest row the JSON reader takes, said rather than left to its default (the reader's buffers
 * grow with it, under the 64 MB memory limit). Rows stay far below it — each body is at most
 * telemetry.maxBodyBytes (1 MiB at most) as stored — and a row over it anyway is refused and, on
 * replay, quarantined.
 */
const MAX_ROW_BYTES = 16 * 1024 * 1024;
/** The columns' types as DuckDB's JSON reader takes them (every value was made storable first). */
const READER_COLUMNS = `{${REQUEST_COLUMNS.map(([name, type]) => `'${name}': '${type}'`).join(', ')}}`;

const SCHEMA = [
  // The embedded store shares the machine with the gateway: one thread, bounded memory. (DuckDB's file
  // readers take a 32 MiB buffer, so the limit stays well above that.)
  'SET threads TO 1',
  "SET memory_limit = '64MB'",
  // No primary key: an ART index over every trace id lives in memory and grows without bound. Duplicates
  // (from spool replays) are filtered on insert instead, against rows in the batch's own time range.
  `CREATE TABLE IF NOT EXISTS requests (${TABLE_COLUMNS})`,
  ...REQUEST_COLUMNS.filter(([, , added]) => added !== undefined).map((column) => `ALTER TABLE requests ADD COLUMN IF NOT EXISTS ${columnDefinition(column)}`),
  // Replayed batches land here first, then move over without the trace ids already stored.
  `CREATE TEMP TABLE IF NOT EXISTS requests_staging (${TABLE_COLUMNS})`,
  `CREATE TABLE IF NOT EXISTS feedback (
    feedback_id VARCHAR PRIMARY KEY, trace_id VARCHAR, ts_ms BIGINT, score DOUBLE, label VARCHAR, comment VARCHAR)`,
  'CREATE INDEX IF NOT EXISTS feedback_trace ON feedback (trace_id)',
  `CREATE TABLE IF NOT EXISTS canary_events (
    event_id VARCHAR PRIMARY KEY, ts_ms BIGINT, route VARCHAR, decision VARCHAR, from_weight DOUBLE, to_weight DOUBLE, details VARCHAR)`,
];

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

/** Rows as newline-delimited JSON, the form DuckDB's reader takes. */
function ndjsonRows(rows: readonly TraceRow[]): string {
  let text = '';
  for (const row of rows) text += JSON.stringify(storableRow(row)) + '\n';
  return text;
}

export class DuckDbSink implements TraceSink {
  readonly kind = 'duckdb' as const;
  readonly dialect = DUCKDB_DIALECT;
  private instance: DuckDBInstance | undefined;
  private connection: DuckDBConnection | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  /**
   * Where a batch is written for DuckDB's JSON reader (one at a time: statements are serial). The rows
   * hold request data: the name is not guessable, and the file is created new (never through a link
   * someone planted there) and readable by the owner alone.
   */
  private readonly batchFile: string;
  private readonly batchPrefix: string;

  constructor(private readonly file: string) {
    this.batchPrefix = file === ':memory:' ? join(tmpdir(), 'gateway-traces.batch.') : `${file}.batch.`;
    this.batchFile = `${this.batchPrefix}${process.pid}-${randomBytes(8).toString('hex')}.ndjson`;
  }

  async init(): Promise<void> {
    if (this.file !== ':memory:') {
      mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
      await this.removeStaleBatches();
    }
    this.instance = await DuckDBInstance.create(this.file);
    if (this.file !== ':memory:') await chmod(this.file, 0o600);
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
    const text = ndjsonRows(rows);
    return this.serial(async (connection) => {
      try {
        await this.writeBatch(text);
        // Live batches go straight in; a replay goes through staging so stored trace ids are skipped.
        await connection.run(
          `INSERT INTO ${mayRepeat ? 'requests_staging' : 'requests'} (${COLUMN_LIST})
           SELECT ${READER_SELECT} FROM read_ndjson(${DUCKDB_DIALECT.str(this.batchFile)}, columns = ${READER_COLUMNS}, maximum_object_size = ${MAX_ROW_BYTES})`,
        );
      } finally {
        await unlink(this.batchFile).catch(() => undefined);
      }
      if (!mayRepeat) return;
      try {
        await connection.run(INSERT_NEW_TRACES);
      } finally {
        await connection.run('DELETE FROM requests_staging');
      }
    });
  }

  /** Creates the batch file afresh: never follows a link, never reuses a file that is there. */
  private async writeBatch(text: string): Promise<void> {
    const handle = await open(this.batchFile, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    try {
      await handle.writeFile(text);
    } finally {
      await handle.close();
    }
  }

  /** Batch files a crashed run left behind (links included: unlinking a link leaves its target alone). */
  private async removeStaleBatches(): Promise<void> {
    const prefix = basename(this.batchPrefix);
    const names = await readdir(dirname(this.file)).catch(() => [] as string[]);
    await Promise.all(
      names.filter((name) => name.startsWith(prefix) && name.endsWith('.ndjson')).map((name) => unlink(join(dirname(this.file), name)).catch(() => undefined)),
    );
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
