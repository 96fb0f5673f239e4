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
  /** A metadata tag's value as a number (0 when absent or not numeric). */
  tagNumber(key: string): string;
  /** A metadata tag's value ('' when absent). */
  tagString(key: string): string;
}

const DUCKDB_STR = (value: string): string => `'${value.replace(/'/g, "''")}'`;
const CLICKHOUSE_STR = (value: string): string => `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

export const DUCKDB_DIALECT: SqlDialect = {
  requests: 'requests',
  feedback: 'feedback',
  quantile: (expression, q) => `quantile_cont(${expression}, ${q})`,
  str: DUCKDB_STR,
  userColumn: '"user"',
  tagNumber: (key) => `coalesce(TRY_CAST(metadata_values[list_position(metadata_keys, ${DUCKDB_STR(key)})] AS DOUBLE), 0)`,
  tagString: (key) => `coalesce(metadata_values[list_position(metadata_keys, ${DUCKDB_STR(key)})], '')`,
};

export const CLICKHOUSE_DIALECT: SqlDialect = {
  requests: 'requests FINAL',
  feedback: 'feedback FINAL',
  quantile: (expression, q) => `quantile(${q})(${expression})`,
  str: CLICKHOUSE_STR,
  userColumn: '`user`',
  tagNumber: (key) => `toFloat64OrZero(metadata_values[indexOf(metadata_keys, ${CLICKHOUSE_STR(key)})])`,
  tagString: (key) => `metadata_values[indexOf(metadata_keys, ${CLICKHOUSE_STR(key)})]`,
};

/** A number literal, refusing anything that is not a finite number. */
export function num(value: number): string {
  if (!Number.isFinite(value)) throw new Error('not a finite number');
  return String(value);
}
