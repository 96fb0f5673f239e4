/** The telemetry section of the config file. */
import { z } from 'zod';

const MiB = 1024 * 1024;
/** The largest maxBodyBytes: two bodies and the rest of a row stay far below the stores' row limits. */
export const MAX_BODY_BYTES = MiB;
/** What a row holds in memory besides its bodies, near enough (trace-worker-client.ts counts rows so). */
export const ROW_OVERHEAD_BYTES = 1024;

export const telemetrySchema = z.strictObject({
  /** Where traces go: an embedded DuckDB file (default), ClickHouse (default when a ClickHouse URL is set), or nowhere. */
  sink: z.enum(['duckdb', 'clickhouse', 'none']).optional(),
  /** Holds the DuckDB file and the disk spool. */
  dataDir: z.string().min(1).default('./data'),
  clickhouse: z
    .strictObject({
      /** Also taken from CLICKHOUSE_URL. */
      url: z.string().min(1).optional(),
      database: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/).default('gateway'),
      username: z.string().optional(),
      password: z.string().optional(),
      timeoutMs: z.number().int().positive().default(10_000),
    })
    .prefault({}),
  /** Rows per insert: ClickHouse wants few large inserts (each makes a part to merge), DuckDB too. */
  batchSize: z.number().int().positive().default(2000),
  flushIntervalMs: z.number().int().positive().default(1000),
  /** Rows held in memory before they go straight to the spool. */
  maxQueue: z.number().int().positive().default(20_000),
  /**
   * Bytes of rows (bodies, mostly) the gateway holds for the trace thread while none runs (it starts,
   * or replaces one that died); past it rows are dropped (and counted). Rows sent to the thread and not
   * yet acknowledged may take four times this besides. At least one row: 2 × maxBodyBytes + 1024.
   */
  maxQueueBytes: z.number().int().positive().default(64 * MiB),
  /** Disk budget of the spool; past it rows are dropped (and counted). */
  spoolMaxBytes: z.number().int().positive().default(512 * MiB),
  /**
   * How long a dashboard query, a feedback write or an export page waits on the trace store (it may be
   * busy replaying a spool) before failing.
   */
  queryTimeoutMs: z.number().int().positive().default(30_000),
  /** Traces older than this are removed (ClickHouse: whole day partitions). */
  retentionDays: z.number().int().positive().default(30),
  /** Request and response bodies on traces (truncated, secrets redacted); off by default. */
  logBodies: z.boolean().default(false),
  /**
   * Per body, as stored (UTF-8, JSON-escaped). Bounded so a row always fits what the stores read in one
   * object (DuckDB's JSON reader: maximum_object_size in duckdb-sink.ts).
   */
  maxBodyBytes: z.number().int().positive().max(MAX_BODY_BYTES).default(16 * 1024),
  /** One JSON log line per request. */
  logRequests: z.boolean().default(true),
  /** USD per million tokens, by model; merged over the shipped defaults. */
  pricing: z.record(z.string().min(1), z.strictObject({ input: z.number().nonnegative(), output: z.number().nonnegative() })).default({}),
}).superRefine((telemetry, ctx) => {
  // A row is counted as its two bodies and a kilobyte besides: a smaller budget would drop every row.
  const least = 2 * telemetry.maxBodyBytes + ROW_OVERHEAD_BYTES;
  if (telemetry.maxQueueBytes < least) {
    ctx.addIssue({ code: 'custom', path: ['maxQueueBytes'], message: `must be at least 2 × maxBodyBytes + ${ROW_OVERHEAD_BYTES} (${least}), or no row fits` });
  }
});

export type TelemetryConfig = z.infer<typeof telemetrySchema>;
