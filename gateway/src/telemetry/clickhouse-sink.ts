/**
 * The ClickHouse trace sink (official @clickhouse/client over HTTP). Everything stays inside what
 * ClickHouse 18.16 and modern versions share: JSONEachRow inserts batched by the app, no server-side
 * query parameters (literals are escaped here from validated values), FINAL to count each trace once,
 * max_execution_time on reads because aborting a query does not stop it server-side.
 */
import { createClient, ClickHouseLogLevel, type ClickHouseClient } from '@clickhouse/client';
import { migrate } from './clickhouse-migrations.js';
import { CLICKHOUSE_DIALECT } from './sql-dialect.js';
import { storableRow, type CanaryEventRow, type FeedbackRow, type TraceRow } from './trace-row.js';
import { toFeedbackRow, toTraceRow, type ExportCursor, type ExportFilter, type ExportRow, type TraceSink } from './trace-sink.js';

export interface ClickHouseSinkOptions {
  url: string;
  database: string;
  username?: string | undefined;
  password?: string | undefined;
  requestTimeoutMs: number;
}

/** A ClickHouse string literal. */
export function chString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function chNumber(value: number): string {
  if (!Number.isFinite(value)) throw new Error('not a finite number');
  return String(value);
}

const READ_SETTINGS = { max_execution_time: 30 };

export class ClickHouseSink implements TraceSink {
  readonly kind = 'clickhouse' as const;
  readonly dialect = CLICKHOUSE_DIALECT;
  private readonly client: ClickHouseClient;

  constructor(private readonly options: ClickHouseSinkOptions) {
    this.client = this.connect(options.database);
  }

  private connect(database: string | undefined): ClickHouseClient {
    return createClient({
      url: this.options.url,
      ...(database ? { database } : {}),
      ...(this.options.username ? { username: this.options.username } : {}),
      ...(this.options.password ? { password: this.options.password } : {}),
      request_timeout: this.options.requestTimeoutMs,
      log: { level: ClickHouseLogLevel.OFF },
    });
  }

  async init(): Promise<void> {
    const admin = this.connect(undefined);
    try {
      await admin.command({ query: `CREATE DATABASE IF NOT EXISTS ${this.options.database}` });
    } finally {
      await admin.close();
    }
    await migrate(this.client);
  }

  async insertTraces(rows: readonly TraceRow[]): Promise<void> {
    if (rows.length === 0) return;
    await this.client.insert({ table: 'requests', values: rows.map(storableRow), format: 'JSONEachRow' });
  }

  async insertFeedback(row: FeedbackRow): Promise<void> {
    await this.client.insert({ table: 'feedback', values: [row], format: 'JSONEachRow' });
  }

  async insertCanaryEvent(row: CanaryEventRow): Promise<void> {
    await this.client.insert({ table: 'canary_events', values: [row], format: 'JSONEachRow' });
  }

  async getTrace(traceId: string): Promise<TraceRow | undefined> {
    const rows = await this.select(`SELECT * FROM requests FINAL WHERE trace_id = ${chString(traceId)} LIMIT 1`);
    return rows[0] ? toTraceRow(rows[0]) : undefined;
  }

  async listFeedback(traceId: string): Promise<FeedbackRow[]> {
    const rows = await this.select(`SELECT * FROM feedback FINAL WHERE trace_id = ${chString(traceId)} ORDER BY ts_ms`);
    return rows.map(toFeedbackRow);
  }

  async exportPage(filter: ExportFilter, after: ExportCursor | undefined, limit: number): Promise<ExportRow[]> {
    const where = ["request_body != ''", "response_body != ''", 'status < 300'];
    if (filter.route) where.push(`route = ${chString(filter.route)}`);
    if (filter.fromMs !== undefined) where.push(`ts_ms >= ${chNumber(filter.fromMs)}`);
    if (filter.toMs !== undefined) where.push(`ts_ms < ${chNumber(filter.toMs)}`);
    if (after) where.push(`(ts_ms > ${chNumber(after.tsMs)} OR (ts_ms = ${chNumber(after.tsMs)} AND trace_id > ${chString(after.traceId)}))`);
    if (filter.minScore !== undefined) {
      where.push(`trace_id IN (SELECT trace_id FROM feedback FINAL GROUP BY trace_id HAVING avg(score) >= ${chNumber(filter.minScore)})`);
    }
    const rows = await this.select(
      `SELECT trace_id, ts_ms, route, request_body, response_body FROM requests FINAL WHERE ${where.join(' AND ')} ORDER BY ts_ms, trace_id LIMIT ${chNumber(limit)}`,
    );
    return rows.map((row) => ({ trace_id: String(row.trace_id), ts_ms: Number(row.ts_ms), route: String(row.route), request_body: String(row.request_body), response_body: String(row.response_body) }));
  }

  async countTraces(): Promise<{ rows: number; distinct: number }> {
    const [row] = await this.select('SELECT count() AS rows, uniqExact(trace_id) AS distinct_ids FROM requests');
    return { rows: Number(row?.rows ?? 0), distinct: Number(row?.distinct_ids ?? 0) };
  }

  async dropOlderThan(cutoffMs: number): Promise<void> {
    const cutoffDay = new Date(cutoffMs).toISOString().slice(0, 10).replace(/-/g, '');
    for (const table of ['requests', 'feedback', 'canary_events']) {
      const parts = await this.select(
        `SELECT DISTINCT partition FROM system.parts WHERE database = ${chString(this.options.database)} AND table = ${chString(table)} AND active`,
      );
      for (const { partition } of parts) {
        const id = String(partition);
        if (/^\d{8}$/.test(id) && id < cutoffDay) await this.client.command({ query: `ALTER TABLE ${table} DROP PARTITION ${id}` });
      }
    }
  }

  /** Runs a read query; every value in `sql` was escaped by chString/chNumber. */
  async select(sql: string): Promise<Record<string, unknown>[]> {
    const result = await this.client.query({ query: sql, format: 'JSONEachRow', clickhouse_settings: READ_SETTINGS });
    return result.json<Record<string, unknown>>();
  }

  async ping(): Promise<boolean> {
    return (await this.client.ping()).success;
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
