/**
 * A replica pool: one `openai-compatible` provider standing for several replicas of a model server.
 * Replicas come from a list or from DNS and may come and go at run time (a removed replica takes no
 * new request; the ones it is serving finish on its own connections). For each attempt the pool picks
 * a replica (routing/replica-scheduler.ts) among those that are healthy, whose breaker admits and that
 * are not saturated; when every replica is saturated the attempt waits in the pool's bounded queue
 * (routing/admission-queue.ts), in priority order, within its deadline — then 429 `overloaded`.
 *
 * To the route tree the pool is one target, so fallbacks, target breakers and canaries above it work
 * as for any provider; replica breakers, health and load live here.
 */
import { isIP } from 'node:net';
import { Agent } from 'undici';
import type { OpenAICompatibleProviderConfig, BreakerConfig } from '../config/schema.js';
import { GatewayError, isGatewayError } from '../errors.js';
import { AdmissionQueue } from '../routing/admission-queue.js';
import { prefixBlockKeys } from '../routing/prefix-hash.js';
import { ReplicaScheduler, type Pick } from '../routing/replica-scheduler.js';
import type { BreakerState } from '../routing/circuit-breaker.js';
import type { EngineKind } from '../upstream/engine-metrics.js';
import { DnsDiscovery, serverResolver, systemResolver, type AddressResolver } from '../upstream/replica-discovery.js';
import { isTargetFault } from '../upstream/retry-policy.js';
import { ThrottledLog } from '../telemetry/throttled-log.js';
import { exchange } from './http-provider.js';
import { Replica } from './replica.js';
import { CANCELLED, settleWhenDone } from './settle-when-done.js';
import type { Provider, ProviderAdapter, ProviderCall, ProviderReply } from './types.js';

const NO_KEYS: readonly number[] = Object.freeze([]);

/** What the pool reports about itself, for /metrics and the dashboard's fleet view. */
export interface PoolSnapshot {
  provider: string;
  engine: string;
  strategy: string;
  /** Requests waiting in the pool's queue for a replica. */
  queued: number;
  replicas: ReplicaSnapshot[];
  /**
   * With DNS discovery: the name, how many addresses its latest answer held, and how many of them
   * `maxReplicas` left out (they get no traffic). Absent for a listed pool.
   */
  discovery?: { name: string; found: number; dropped: number };
}

export interface ReplicaSnapshot {
  label: string;
  address: string;
  engine: EngineKind | undefined;
  healthy: boolean;
  breaker: BreakerState;
  inFlight: number;
  /** From the last engine reading while it is fresh; undefined otherwise. */
  running: number | undefined;
  waiting: number | undefined;
  kvUsage: number | undefined;
  metricsFresh: boolean;
  scrapeError: string | undefined;
  load: number;
  score: number;
  saturated: boolean;
  picks: number;
  prefixBlocks: number;
}

/** Counters the pool feeds (GatewayMetrics implements this). */
export interface PoolObserver {
  replicaPicked(provider: string, replica: string, reason: string): void;
  requestShed(provider: string, priority: number): void;
  queueWaited(provider: string, seconds: number): void;
}

export interface PoolDeps {
  breaker: BreakerConfig;
  /** Number of priority classes (the queue keeps one line per class). */
  priorityClasses: number;
  resolver?: AddressResolver | undefined;
  observer?: PoolObserver | undefined;
  random?: (() => number) | undefined;
  now?: (() => number) | undefined;
  onError?: ((message: string, error: unknown) => void) | undefined;
}

export interface ReplicaPoolProvider extends Provider {
  snapshot(): PoolSnapshot;
  /** Replaces the replica set (discovery calls this; tests may too). */
  setReplicas(urls: readonly string[]): void;
}

interface QueuedAttempt {
  keys: readonly number[];
  pick: Pick<Replica> | undefined;
}

export function createReplicaPool(name: string, config: OpenAICompatibleProviderConfig, adapter: ProviderAdapter, deps: PoolDeps): ReplicaPoolProvider {
  const random = deps.random ?? Math.random;
  const now = deps.now ?? Date.now;
  const scheduling = config.scheduling;
  const engine: EngineKind | undefined = config.engine === 'none' || config.engine === 'auto' ? undefined : config.engine;
  const scheduler = new ReplicaScheduler(scheduling, config.admission, config.engineMetrics.staleAfterMs, random, now);
  const tlsServername = discoveredTlsName(config);
  const transport = { connectTimeoutMs: config.connectTimeoutMs, maxConnections: config.maxConnections, tlsServername };
  // Scrapes and health checks have their own small connection pools, so a replica's request traffic
  // never delays the reading of its load (nor the other way round).
  const probes = new Agent({ connections: 2, connect: { timeout: config.engineMetrics.timeoutMs, ...(tlsServername ? { servername: tlsServername } : {}) }, pipelining: 1 });
  const queue = new AdmissionQueue<QueuedAttempt>({
    maxSize: config.admission.queueSize,
    maxWaitMs: config.admission.maxQueueWaitMs,
    classes: deps.priorityClasses,
    name,
    onShed: (priority) => deps.observer?.requestShed(name, priority),
  });
  const prefixKeysOf = scheduling.strategy === 'prefix-affinity'
    ? (call: ProviderCall) => prefixBlockKeys(call.body, scheduling.prefixBlockChars, scheduling.prefixMaxBlocks)
    : () => NO_KEYS;

  let replicas: Replica[] = [];
  /** Reused by every pick (picks are synchronous), so choosing a replica allocates no array. */
  const open: Replica[] = [];
  const byUrl = new Map<string, Replica>();
  let started = false;
  let closed = false;
  let firstDiscovery: Promise<void> | undefined;
  let overMax = { found: 0, kept: 0 };
  const droppedLog = new ThrottledLog(60_000, (suppressed) =>
    deps.onError?.(
      `replica discovery for '${name}' found ${overMax.found} addresses; discovery.maxReplicas keeps the first ${overMax.kept} (sorted) and the rest get no traffic` +
        (suppressed > 0 ? ` (${suppressed} more such answers since the last warning)` : ''),
      undefined,
    ),
  );
  const discovery = config.discovery
    ? new DnsDiscovery({
        config: config.discovery,
        template: new URL(config.baseUrl as string),
        resolver: deps.resolver ?? (config.discovery.servers ? serverResolver(config.discovery.servers) : systemResolver),
        onChange: (urls) => setReplicas(urls),
        onError: (error) => deps.onError?.(`replica discovery for '${name}' failed; keeping the last known replicas`, error),
        onDropped: (found, kept) => {
          overMax = { found, kept };
          droppedLog.hit();
        },
      })
    : undefined;

  function setReplicas(urls: readonly string[]): void {
    if (closed) return;
    const wanted = new Set(urls);
    for (const replica of replicas) {
      if (!wanted.has(replica.url)) {
        byUrl.delete(replica.url);
        void replica.retire();
      }
    }
    const kept = replicas.filter((replica) => !replica.removed);
    const slots = new Set(kept.map((replica) => replica.slot));
    for (const url of urls) {
      if (byUrl.has(url)) continue;
      let slot = 0;
      while (slots.has(slot)) slot++;
      slots.add(slot);
      const replica = new Replica({
        url,
        // Listed replicas are labelled by their configured address; discovered ones by slot, which the
        // discovery's maxReplicas bounds (addresses of pods that come and go would not be).
        label: config.discovery ? `#${slot}` : new URL(url).host,
        slot,
        transport,
        breaker: deps.breaker,
        prefixCacheBlocks: scheduling.prefixCacheBlocks,
        now,
      });
      byUrl.set(url, replica);
      kept.push(replica);
      if (started) watch(replica);
    }
    replicas = kept.sort((a, b) => a.slot - b.slot);
    queue.drain(serveQueued);
  }

  function watch(replica: Replica): void {
    if (config.engine !== 'none') {
      replica.startScraping(config.engineMetrics, engine, probes, random, now, () => queue.drain(serveQueued));
    }
    if (config.healthCheck) replica.startHealthChecks(config.healthCheck, probes, random, () => queue.drain(serveQueued));
  }

  /** A replica for this attempt, reserved; 'saturated' when all open ones are; 'none' when none is open. */
  function tryPick(keys: readonly number[]): Pick<Replica> | 'saturated' | 'none' {
    open.length = 0;
    for (const replica of replicas) if (replica.available) open.push(replica);
    if (open.length === 0) return 'none';
    const pick = scheduler.pick(open, keys);
    if (!pick) return 'saturated';
    reserve(pick.replica, false);
    return pick;
  }

  /** Counts the attempt on the replica at once, so the next pick (even in the same drain) sees it. */
  function reserve(replica: Replica, forced: boolean): void {
    if (forced) replica.breaker.forceAcquire();
    else replica.breaker.tryAcquire();
    replica.inFlight++;
    replica.sent++;
    replica.picks++;
  }

  /** A replica for this attempt, reserved: an open one if any, else one forced open (see forcedPick). */
  function pickNow(keys: readonly number[]): Pick<Replica> | 'saturated' | 'none' {
    const pick = tryPick(keys);
    return pick === 'none' ? forcedPick() : pick;
  }

  function serveQueued(attempt: QueuedAttempt): boolean {
    const pick = pickNow(attempt.keys);
    if (typeof pick === 'string') return false;
    attempt.pick = pick;
    return true;
  }

  /**
   * Every replica is open-breakered or unhealthy: the one closest to recovering, rather than fail
   * untried — among those below their admission limits, so a burst is spread over the next closest
   * ones (or queued) instead of piling onto one; 'none' when the pool has no replica at all.
   */
  function forcedPick(): Pick<Replica> | 'saturated' | 'none' {
    let best: Replica | undefined;
    let bestWait = Infinity;
    let any = false;
    const at = now();
    for (const replica of replicas) {
      if (replica.removed) continue;
      any = true;
      if (scheduler.saturated(replica, at)) continue;
      const wait = replica.breaker.msUntilRetry() + (replica.health.healthy ? 0 : 1e9);
      if (wait < bestWait) {
        best = replica;
        bestWait = wait;
      }
    }
    if (!best) return any ? 'saturated' : 'none';
    reserve(best, true);
    return { replica: best, reason: 'forced', score: scheduler.score(best), prefixBlocks: 0 };
  }

  async function acquire(call: ProviderCall, keys: readonly number[]): Promise<{ pick: Pick<Replica>; queuedMs: number }> {
    if (replicas.length === 0 && firstDiscovery) await abortable(firstDiscovery, call.signal);
    if (queue.size === 0) {
      const pick = pickNow(keys);
      if (typeof pick !== 'string') return { pick, queuedMs: 0 };
      if (pick === 'none') throw new GatewayError('upstream_unreachable', `provider '${name}' has no replicas`);
    }
    const attempt: QueuedAttempt = { keys, pick: undefined };
    const since = performance.now();
    const waiting = queue.wait(call.priority ?? 0, attempt, call.deadlineAt ?? Date.now() + config.admission.maxQueueWaitMs, call.signal);
    queue.drain(serveQueued);
    await waiting;
    const queuedMs = performance.now() - since;
    deps.observer?.queueWaited(name, queuedMs / 1000);
    return { pick: attempt.pick as Pick<Replica>, queuedMs };
  }

  function settle(replica: Replica, error: unknown, aborted: boolean): void {
    replica.inFlight--;
    replica.done++;
    if (error === undefined) replica.breaker.recordSuccess();
    else if (error === CANCELLED || aborted || !isGatewayError(error) || !isTargetFault(error)) replica.breaker.release();
    else replica.breaker.recordFailure();
    if (replica.removed && replica.inFlight === 0) void replica.target.dispatcher.close();
    queue.drain(serveQueued);
  }

  async function send(call: ProviderCall): Promise<ProviderReply> {
    const keys = prefixKeysOf(call);
    const { pick, queuedMs } = await acquire(call, keys);
    const replica = pick.replica;
    if (keys.length > 0) replica.prefixes.record(keys);
    deps.observer?.replicaPicked(name, replica.label, pick.reason);
    call.onPlacement?.({
      replica: replica.address,
      reason: pick.reason,
      score: pick.score,
      prefixMatchChars: pick.prefixBlocks * scheduling.prefixBlockChars,
      queuedMs,
    });
    const sentAt = performance.now();
    let reply: ProviderReply;
    try {
      reply = await exchange(replica.target, call, adapter, config, name);
    } catch (error) {
      settle(replica, error, call.signal.aborted);
      throw error;
    }
    if (reply.kind === 'json') {
      replica.observeTtfb(performance.now() - sentAt, now());
      settle(replica, undefined, false);
      return reply;
    }
    let first = true;
    const onChunk = (): void => {
      if (!first) return;
      first = false;
      replica.observeTtfb(performance.now() - sentAt, now());
    };
    return { kind: 'stream', chunks: settleWhenDone(reply.chunks, (error) => settle(replica, error, call.signal.aborted), onChunk) };
  }

  function snapshot(): PoolSnapshot {
    const at = now();
    return {
      provider: name,
      engine: config.engine,
      strategy: scheduling.strategy,
      queued: queue.size,
      replicas: replicas.map((replica) => {
        const fresh = scheduler.fresh(replica, at);
        return {
          label: replica.label,
          address: replica.address,
          engine: replica.detected,
          healthy: replica.health.healthy,
          breaker: replica.breaker.current(),
          inFlight: replica.inFlight,
          running: fresh ? replica.engine?.running : undefined,
          waiting: fresh ? scheduler.waiting(replica, at) : undefined,
          kvUsage: fresh ? replica.engine?.kvUsage : undefined,
          metricsFresh: fresh,
          scrapeError: replica.scrapeError,
          load: scheduler.load(replica, at),
          score: scheduler.score(replica, at),
          saturated: scheduler.saturated(replica, at),
          picks: replica.picks,
          prefixBlocks: replica.prefixes.size,
        };
      }),
      ...(discovery ? { discovery: { name: discovery.name, found: discovery.found, dropped: discovery.dropped } } : {}),
    };
  }

  if (config.replicas) setReplicas(config.replicas);

  return {
    name,
    type: config.type,
    models: config.models,
    // With discovery, the Service name every replica answers for (spans report it); a list has none.
    baseUrl: config.baseUrl,
    supports: (operation) => adapter.supports(operation),
    send,
    snapshot,
    setReplicas,
    async start() {
      if (started) return;
      started = true;
      for (const replica of replicas) watch(replica);
      if (discovery) {
        firstDiscovery = discovery.start().catch((error: unknown) => deps.onError?.(`replica discovery for '${name}' failed`, error));
        await firstDiscovery;
      }
    },
    async close() {
      closed = true;
      discovery?.stop();
      queue.clear(new GatewayError('shutting_down', `provider '${name}' is closing`));
      await Promise.allSettled([...replicas.map((replica) => replica.retire()), probes.close()]);
    },
  };
}

/**
 * Discovered replicas are dialled by address (`https://10.0.0.5:8443/v1`), but over TLS their
 * certificates name the service: check them (and send SNI) against the host `baseUrl` names — the name
 * resolved, unless `discovery.name` resolves another — as `curl --resolve` would.
 */
function discoveredTlsName(config: OpenAICompatibleProviderConfig): string | undefined {
  if (!config.discovery || !config.baseUrl) return undefined;
  const template = new URL(config.baseUrl);
  if (template.protocol !== 'https:') return undefined;
  const unbracketed = (host: string): string => host.replace(/^\[|\]$/g, '');
  return [template.hostname, config.discovery.name ?? ''].map(unbracketed).find((host) => host !== '' && isIP(host) === 0);
}

/** Waits for `promise` unless the request is aborted first. */
function abortable(promise: Promise<void>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, resolve).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
