/**
 * A TraceSink whose implementation is loaded when the store opens. The DuckDB native binding and the
 * ClickHouse client are imported only by the deployment that uses them, so the others do not pay
 * their memory.
 */
import { CLICKHOUSE_DIALECT, DUCKDB_DIALECT, type SqlDialect } from './sql-dialect.js';
import type { CanaryEventRow, FeedbackRow, TraceRow } from './trace-row.js';
import type { ExportCursor, ExportFilter, ExportRow, TraceSink } from './trace-sink.js';

export class DeferredSink implements TraceSink {
  private sink: TraceSink | undefined;
  private loading: Promise<TraceSink> | undefined;

  constructor(
    readonly kind: TraceSink['kind'],
    private readonly load: () => Promise<TraceSink>,
  ) {}

  private get loaded(): TraceSink {
    if (!this.sink) throw new Error(`the ${this.kind} trace sink is not open yet`);
    return this.sink;
  }

  async init(): Promise<void> {
    this.loading ??= this.load();
    this.sink = await this.loading;
    await this.sink.init();
  }

  insertTraces(rows: readonly TraceRow[], mayRepeat?: boolean): Promise<void> {
    return this.loaded.insertTraces(rows, mayRepeat);
  }

  insertFeedback(row: FeedbackRow): Promise<void> {
    return this.loaded.insertFeedback(row);
  }

  insertCanaryEvent(row: CanaryEventRow): Promise<void> {
    return this.loaded.insertCanaryEvent(row);
  }

  getTrace(traceId: string): Promise<TraceRow | undefined> {
    return this.loaded.getTrace(traceId);
  }

  listFeedback(traceId: string): Promise<FeedbackRow[]> {
    return this.loaded.listFeedback(traceId);
  }

  exportPage(filter: ExportFilter, after: ExportCursor | undefined, limit: number): Promise<ExportRow[]> {
    return this.loaded.exportPage(filter, after, limit);
  }

  countTraces(): Promise<{ rows: number; distinct: number }> {
    return this.loaded.countTraces();
  }

  dropOlderThan(cutoffMs: number): Promise<void> {
    return this.loaded.dropOlderThan(cutoffMs);
  }

  get dialect(): SqlDialect {
    return this.kind === 'clickhouse' ? CLICKHOUSE_DIALECT : DUCKDB_DIALECT;
  }

  select(sql: string): Promise<Record<string, unknown>[]> {
    return this.loaded.select(sql);
  }

  async close(): Promise<void> {
    await this.sink?.close();
  }
}
