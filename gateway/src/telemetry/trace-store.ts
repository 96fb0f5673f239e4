/**
 * The trace store: where trace rows go (the pipeline, the disk spool under the data directory, the sink
 * — DuckDB file by default, ClickHouse when configured — and retention), and where the dashboard, the
 * canary controller and feedback read them. Opening the sink may fail (ClickHouse down at start): the
 * gateway starts anyway, rows spool, and the pipeline keeps retrying.
 *
 * In a running gateway the store lives on its own thread (trace-worker.ts), so batch inserts, spool
 * writes, DuckDB's work and retention never run on the event loop that serves requests; the gateway
 * holds a WorkerTraceStore. LocalTraceStore is the store itself, run by that thread (or in process when
 * a test injects a sink).
 */
import { chmod, mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { DeferredSink } from './deferred-sink.js';
import { DiskSpool } from './disk-spool.js';
import type { TelemetryConfig } from './telemetry-config.js';
import { ThrottledLog } from './throttled-log.js';
import { TracePipeline } from './trace-pipeline.js';
import type { TraceRow } from './trace-row.js';
import type { TraceSink } from './trace-sink.js';
import type { TraceStoreStatus } from './trace-worker-protocol.js';

export type { TraceStoreStatus } from './trace-worker-protocol.js';

const DAY_MS = 24 * 60 * 60 * 1000;

export interface TraceStore {
  readonly kind: TraceSink['kind'];
  /** Queries, feedback and canary events. */
  readonly sink: TraceSink;
  /** The sink opened: queries and feedback can be served. */
  readonly ready: boolean;
  status(): TraceStoreStatus;
  /** Never throws, never waits. */
  record(row: TraceRow): void;
  /** Resolves once every row recorded before the call is stored (or spooled, if the sink is failing). */
  flush(): Promise<void>;
  open(): Promise<void>;
  close(): Promise<void>;
}

/** What the store tells about itself: counts for the metrics, and problems for the log. */
export interface StoreEvents {
  written(count: number): void;
  spooled(count: number): void;
  dropped(count: number): void;
  quarantined(count: number): void;
  log(level: 'info' | 'warn' | 'error', fields: Record<string, unknown>, msg: string): void;
}

/** Where a sink's spool keeps its segment files. */
export function spoolDirectory(config: TelemetryConfig, kind: TraceSink['kind']): string {
  return join(resolve(config.dataDir), 'spool', kind);
}

export function sinkKind(config: TelemetryConfig): 'duckdb' | 'clickhouse' | 'none' {
  return config.sink ?? (config.clickhouse.url ? 'clickhouse' : 'duckdb');
}

export function createTraceSink(config: TelemetryConfig): TraceSink | undefined {
  const kind = sinkKind(config);
  if (kind === 'none') return undefined;
  if (kind === 'clickhouse') {
    const { url, database, username, password, timeoutMs } = config.clickhouse;
    if (!url) throw new Error('telemetry.sink is clickhouse but no telemetry.clickhouse.url or CLICKHOUSE_URL is set');
    return new DeferredSink('clickhouse', async () => {
      const { ClickHouseSink } = await import('./clickhouse-sink.js');
      return new ClickHouseSink({ url, database, username, password, requestTimeoutMs: timeoutMs });
    });
  }
  const file = join(resolve(config.dataDir), 'traces.duckdb');
  return new DeferredSink('duckdb', async () => {
    const { DuckDbSink } = await import('./duckdb-sink.js');
    return new DuckDbSink(file);
  });
}

export class LocalTraceStore implements TraceStore {
  readonly pipeline: TracePipeline;
  private initialised = false;
  /** The sink was tried at least once (until then its state is unknown, not down). */
  private tried = false;
  private initTimer: NodeJS.Timeout | undefined;
  private retentionTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly sink: TraceSink,
    private readonly config: TelemetryConfig,
    private readonly events: StoreEvents,
  ) {
    const spool = new DiskSpool<TraceRow>(spoolDirectory(config, sink.kind), config.spoolMaxBytes);
    let spoolError: unknown;
    const spoolFailing = new ThrottledLog(10_000, (suppressed) =>
      events.log('error', { err: spoolError, suppressed }, 'trace spool cannot write; dropping trace rows'),
    );
    this.pipeline = new TracePipeline(sink, spool, config, {
      written: (count) => events.written(count),
      spooled: (count) => events.spooled(count),
      dropped: (count) => events.dropped(count),
      quarantined: (count) => {
        events.quarantined(count);
        events.log('error', { sink: sink.kind, count }, 'the trace store refused rows for good; quarantined them in the spool directory');
      },
      sinkError: (error) => events.log('warn', { err: error, sink: sink.kind }, 'trace store failing; spooling rows to disk'),
      sinkRecovered: () => events.log('info', { sink: sink.kind }, 'trace store recovered; spool replayed'),
      spoolError: (error) => {
        spoolError = error;
        spoolFailing.hit();
      },
    });
  }

  get kind(): TraceSink['kind'] {
    return this.sink.kind;
  }

  get ready(): boolean {
    return this.initialised;
  }

  status(): TraceStoreStatus {
    const up = this.initialised && this.pipeline.healthy;
    return { ready: this.initialised, up, state: up ? 'up' : this.tried ? 'down' : 'starting', queued: this.pipeline.queueDepth, spooledBytes: this.pipeline.spool.sizeBytes };
  }

  record(row: TraceRow): void {
    this.pipeline.record(row);
  }

  flush(): Promise<void> {
    return this.pipeline.flush();
  }

  /** Opens the spool and the sink; a sink that is down is retried in the background. */
  async open(): Promise<void> {
    // Trace rows (and, with logBodies, request bodies) live here: the owner's alone.
    const dataDir = resolve(this.config.dataDir);
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    await chmod(dataDir, 0o700);
    await this.pipeline.spool.open();
    await this.tryInit();
    this.pipeline.start();
    this.retentionTimer = setInterval(() => void this.applyRetention(), 6 * 60 * 60 * 1000);
    this.retentionTimer.unref();
  }

  private async tryInit(): Promise<void> {
    try {
      await this.sink.init();
      this.tried = true;
      this.initialised = true;
      this.pipeline.resume();
      void this.applyRetention();
    } catch (error) {
      this.tried = true;
      if (this.pipeline.healthy) this.events.log('warn', { err: error, sink: this.sink.kind }, 'trace store unavailable; rows will spool until it answers');
      this.pipeline.healthy = false;
      this.initTimer = setTimeout(() => void this.tryInit(), 2000);
      this.initTimer.unref();
    }
  }

  async applyRetention(): Promise<void> {
    if (!this.initialised) return;
    try {
      await this.sink.dropOlderThan(Date.now() - this.config.retentionDays * DAY_MS);
    } catch (error) {
      this.events.log('warn', { err: error }, 'trace retention failed; will try again');
    }
  }

  /** Stores (or spools) what is queued and closes the sink. Never rejects: shutdown must go on. */
  async close(): Promise<void> {
    clearTimeout(this.initTimer);
    clearInterval(this.retentionTimer);
    await this.pipeline.close();
    if (!this.initialised) return;
    this.initialised = false;
    await this.sink.close().catch((error: unknown) => this.events.log('warn', { err: error, sink: this.sink.kind }, 'trace store did not close cleanly'));
  }
}
