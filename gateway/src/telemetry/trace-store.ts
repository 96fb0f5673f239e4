/**
 * Builds the trace pipeline from config: the sink (DuckDB file by default, ClickHouse when configured),
 * the disk spool under the data directory, and retention. Opening the sink may fail (ClickHouse down at
 * start): the gateway starts anyway, rows spool, and the pipeline keeps retrying.
 */
import { join, resolve } from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import { DeferredSink } from './deferred-sink.js';
import { DiskSpool } from './disk-spool.js';
import type { GatewayMetrics } from './metrics.js';
import type { TelemetryConfig } from './telemetry-config.js';
import { TracePipeline } from './trace-pipeline.js';
import type { TraceRow } from './trace-row.js';
import type { TraceSink } from './trace-sink.js';

const DAY_MS = 24 * 60 * 60 * 1000;

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

export class TraceStore {
  readonly pipeline: TracePipeline;
  private initialised = false;
  private initTimer: NodeJS.Timeout | undefined;
  private retentionTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly sink: TraceSink,
    private readonly config: TelemetryConfig,
    metrics: () => GatewayMetrics,
    private readonly log: FastifyBaseLogger,
  ) {
    const spool = new DiskSpool<TraceRow>(join(resolve(config.dataDir), 'spool', sink.kind), config.spoolMaxBytes);
    this.pipeline = new TracePipeline(sink, spool, config, {
      written: (count) => metrics().tracesWrittenInc(count),
      spooled: (count) => metrics().tracesSpooledInc(count),
      dropped: (count) => metrics().tracesDroppedInc(count),
      sinkError: (error) => log.warn({ err: error, sink: sink.kind }, 'trace store failing; spooling rows to disk'),
      sinkRecovered: () => log.info({ sink: sink.kind }, 'trace store recovered; spool replayed'),
    });
  }

  /** Opens the spool and the sink; a sink that is down is retried in the background. */
  async open(): Promise<void> {
    await this.pipeline.spool.open();
    await this.tryInit();
    this.pipeline.start();
    this.retentionTimer = setInterval(() => void this.applyRetention(), 6 * 60 * 60 * 1000);
    this.retentionTimer.unref();
  }

  get ready(): boolean {
    return this.initialised;
  }

  private async tryInit(): Promise<void> {
    try {
      await this.sink.init();
      this.initialised = true;
      this.pipeline.resume();
      void this.applyRetention();
    } catch (error) {
      if (this.pipeline.healthy) this.log.warn({ err: error, sink: this.sink.kind }, 'trace store unavailable; rows will spool until it answers');
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
      this.log.warn({ err: error }, 'trace retention failed; will try again');
    }
  }

  async close(): Promise<void> {
    clearTimeout(this.initTimer);
    clearInterval(this.retentionTimer);
    await this.pipeline.close();
    if (this.initialised) await this.sink.close();
  }
}
