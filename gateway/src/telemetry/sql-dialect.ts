/**
 * The few places DuckDB and ClickHouse SQL differ, so the dashboard's queries are written once:
 * quantiles, reading each trace once (ClickHouse collapses replays with FINAL), and string literals
 * (ClickHouse 18.16 has no server-side parameters, so values are escaped here — each dialect its way).
 */
export interface SqlDialect {
  /** The requests table, read so that each trace counts once. */
  readonly requests: string;
  readonly feedback: string;
  quantile(expression: string, q: number): string;
  str(value: string): string;
  /** The `user` column, quoted as the engine wants (it is a keyword or function name in both). */
  readonly userColumn: string;
}

export const DUCKDB_DIALECT: SqlDialect = {
  requests: 'requests',
  feedback: 'feedback',
  quantile: (expression, q) => `quantile_cont(${expression}, ${q})`,
  str: (value) => `'${value.replace(/'/g, "''")}'`,
  userColumn: '"user"',
};

export const CLICKHOUSE_DIALECT: SqlDialect = {
  requests: 'requests FINAL',
  feedback: 'feedback FINAL',
  quantile: (expression, q) => `quantile(${q})(${expression})`,
  str: (value) => `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`,
  userColumn: '`user`',
};

/** A number literal, refusing anything that is not a finite number. */
export function num(value: number): string {
  if (!Number.isFinite(value)) throw new Error('not a finite number');
  return String(value);
}
