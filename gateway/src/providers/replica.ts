/**
 * One replica of a pool: its own connection pool, circuit breaker, health, load readings and prefix
 * memory, plus the loops that keep the readings fresh (engine /metrics scrapes and health checks,
 * each on its own jittered timer so replicas are not polled in lock-step).
 */
import { request, type Dispatcher } from 'undici';
import type { EngineMetricsConfig } from '../config/pool-schema.js';
import type { BreakerConfig, HealthCheckConfig } from '../config/schema.js';
import { CircuitBreaker } from '../routing/circuit-breaker.js';
import { PrefixIndex } from '../routing/prefix-hash.js';
import { noteCheck, probeHealth } from '../routing/provider-health.js';
import type { SchedulableReplica } from '../routing/replica-scheduler.js';
import { createUpstreamPool, type AgentOptions } from '../upstream/agent.js';
import { readEngineLoad, type EngineKind } from '../upstream/engine-metrics.js';
import { httpTarget, type HttpTarget } from './http-provider.js';

/** /metrics pages bigger than this are not read (a sane engine's page is tens of kilobytes). */
const MAX_METRICS_BYTES = 4 * 1024 * 1024;
/** Time constant of the time-to-first-byte average: samples older than a few of these hardly count. */
const TTFB_DECAY_MS = 10_000;

export interface ReplicaOptions {
  url: string;
  /** The metric label: bounded (from config, or a slot number for discovered replicas). */
  label: string;
  slot: number;
  transport: AgentOptions;
  breaker: BreakerConfig;
  prefixCacheBlocks: number;
  now: () => number;
}

export class Replica implements SchedulableReplica {
  readonly url: string;
  /** `host:port`, for traces and the fleet view. */
  readonly address: string;
  readonly label: string;
  readonly slot: number;
  readonly target: HttpTarget;
  readonly breaker: CircuitBreaker;
  readonly prefixes: PrefixIndex;

  inFlight = 0;
  sent = 0;
  done = 0;
  engine: SchedulableReplica['engine'] = undefined;
  engineAt = 0;
  ttfbMs = 0;
  private ttfbAt = 0;
  /** The engine a scrape found (with `engine: auto`, the one detected). */
  detected: EngineKind | undefined;
  scrapeError: string | undefined;
  readonly health = { failures: 0, healthy: true };
  /** Left the pool: takes no new requests; its connections close once its last request settles. */
  removed = false;
  picks = 0;

  private scrapeTimer: NodeJS.Timeout | undefined;
  private healthTimer: NodeJS.Timeout | undefined;

  constructor(options: ReplicaOptions) {
    const url = new URL(options.url);
    this.url = options.url;
    this.address = url.host;
    this.label = options.label;
    this.slot = options.slot;
    this.target = httpTarget(options.url, createUpstreamPool(url.origin, options.transport));
    this.breaker = new CircuitBreaker(options.breaker, options.now);
    this.prefixes = new PrefixIndex(options.prefixCacheBlocks);
  }

  /** Open to new requests: in the pool, passing health checks, breaker not open. */
  get available(): boolean {
    return !this.removed && this.health.healthy && this.breaker.admits();
  }

  /**
   * Scrapes the engine's metrics every ~interval (±20%), forever; `onReading` runs after each scrape.
   * `engine` undefined means auto-detect.
   */
  startScraping(config: EngineMetricsConfig, engine: EngineKind | undefined, scraper: Dispatcher, random: () => number, now: () => number, onReading: () => void): void {
    const url = new URL(config.path, this.url);
    if (config.port !== undefined) url.port = String(config.port);
    const metricsUrl = url.toString();
    const loop = async (): Promise<void> => {
      await this.scrape(metricsUrl, config.timeoutMs, engine, scraper, now);
      onReading();
      if (this.removed) return;
      this.scrapeTimer = setTimeout(loop, config.intervalMs * (0.8 + 0.4 * random()));
      this.scrapeTimer.unref();
    };
    // The first scrape is jittered too, so a pool of many replicas does not start in lock-step.
    this.scrapeTimer = setTimeout(loop, config.intervalMs * 0.2 * random());
    this.scrapeTimer.unref();
  }

  startHealthChecks(config: HealthCheckConfig, scraper: Dispatcher, random: () => number, onChange: () => void): void {
    const url = new URL(config.path, this.url).toString();
    const loop = async (): Promise<void> => {
      const was = this.health.healthy;
      noteCheck(this.health, await probeHealth(url, config.timeoutMs, scraper), config.unhealthyAfter);
      if (was !== this.health.healthy) onChange();
      if (this.removed) return;
      this.healthTimer = setTimeout(loop, config.intervalMs * (0.8 + 0.4 * random()));
      this.healthTimer.unref();
    };
    void loop();
  }

  async scrape(metricsUrl: string, timeoutMs: number, engine: EngineKind | undefined, scraper: Dispatcher, now: () => number): Promise<void> {
    try {
      const response = await request(metricsUrl, { method: 'GET', dispatcher: scraper, signal: AbortSignal.timeout(timeoutMs) });
      if (response.statusCode !== 200) {
        await response.body.dump();
        this.scrapeError = `HTTP ${response.statusCode}`;
        return;
      }
      const page = await readBounded(response.body, MAX_METRICS_BYTES);
      if (page === undefined) {
        this.scrapeError = 'metrics page too large';
        return;
      }
      const reading = readEngineLoad(page, engine ?? this.detected);
      if (!reading) {
        this.scrapeError = engine ? `no ${engine} load metrics on the page` : 'no known engine metrics on the page';
        return;
      }
      this.detected = reading.engine;
      this.engine = reading.load;
      this.engineAt = now();
      // What was sent and finished before this reading is in it now.
      this.sent = 0;
      this.done = 0;
      this.scrapeError = undefined;
    } catch (error) {
      this.scrapeError = (error as { code?: string }).code ?? (error as Error).name;
    }
  }

  /** Folds one time-to-first-byte sample into the time-decayed average. */
  observeTtfb(ms: number, now: number): void {
    if (this.ttfbMs === 0) {
      this.ttfbMs = ms;
    } else {
      const keep = Math.exp(-(now - this.ttfbAt) / TTFB_DECAY_MS);
      this.ttfbMs = this.ttfbMs * keep + ms * (1 - keep);
    }
    this.ttfbAt = now;
  }

  /** Stops the loops; the connections close once no request is in flight. */
  retire(): Promise<void> {
    this.removed = true;
    clearTimeout(this.scrapeTimer);
    clearTimeout(this.healthTimer);
    return this.inFlight === 0 ? this.target.dispatcher.close() : Promise.resolve();
  }
}

/**
 * The body as text, or undefined (and the body destroyed) once it passes `maxBytes` — however it is
 * framed: a chunked page has no Content-Length to refuse it by.
 */
async function readBounded(body: Dispatcher.ResponseData['body'], maxBytes: number): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) {
      body.destroy();
      return undefined;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size).toString('utf8');
}
