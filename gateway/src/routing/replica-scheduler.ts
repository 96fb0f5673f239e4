/**
 * Picks the replica of a pool that serves one attempt. Pure decisions over the replicas' load state;
 * the pool owns the state and the I/O.
 *
 * Load model. A fresh engine reading says R requests running and W waiting. Since that scrape this
 * gateway sent `sent` more and saw `done` finish, so the replica now holds about
 * R + W + sent − done requests — never fewer than this gateway's own in flight (other clients and other
 * gateway replicas are in R and W; our own burst since the scrape is in `sent`). With no fresh reading
 * (no engine, scrape failing or stale) the load is this gateway's own in-flight count: a degraded
 * signal, never a blind one. The least-loaded score adds the engine's queue again (a queued request
 * predicts time to first token more than a running one) and the KV-cache use:
 *
 *   score = (load + queueWeight × waiting + kvWeight × kvUsage) × speed
 *
 * where `speed` is the replica's recent time to first byte over the pool's mean (clamped to ¼–4; 1
 * until it has been measured): at equal queues, a replica half as fast as the others scores higher,
 * in the spirit of Finagle's peak-EWMA balancer. Load still dominates, so a slow replica is used as soon
 * as the fast ones are busier, and keeps being measured.
 *
 * Prefix affinity follows the longest matching prompt prefix only while the replica stays within the
 * bound of consistent hashing with bounded loads (Mirrokni, Thorup, Zadimoghaddam 2018): its load after
 * taking the request may not pass ⌈loadFactor × (total load + 1) / replicas⌉. Past it, least-loaded.
 */
import type { SchedulingConfig } from '../config/pool-schema.js';
import type { EngineLoad } from '../upstream/engine-metrics.js';
import type { PrefixIndex } from './prefix-hash.js';

export interface SchedulableReplica {
  /** This gateway's requests in flight on the replica. */
  inFlight: number;
  /** Requests sent / finished since the last engine reading. */
  sent: number;
  done: number;
  /** The last engine reading and when it was taken (epoch ms); undefined before the first. */
  engine: EngineLoad | undefined;
  engineAt: number;
  /** Recent time to first byte this gateway saw from the replica (ms, time-decayed average); 0 = not yet. */
  ttfbMs: number;
  readonly prefixes: PrefixIndex;
}

export type PickReason = 'round-robin' | 'least-busy' | 'least-loaded' | 'prefix' | 'prefix-overloaded' | 'forced';

export interface Pick<R> {
  replica: R;
  reason: PickReason;
  score: number;
  /** Leading prefix blocks the replica already held (prefix-affinity only). */
  prefixBlocks: number;
}

export interface LimitConfig {
  maxInFlight: number;
  maxWaiting: number;
}

export class ReplicaScheduler {
  private turn = 0;
  private scratch: number[] = [];
  /** Mean time to first byte over the replicas of the last pick that have one (0 = none measured). */
  private meanTtfbMs = 0;

  constructor(
    private readonly config: SchedulingConfig,
    private readonly limits: LimitConfig,
    private readonly staleAfterMs: number,
    private readonly random: () => number,
    private readonly now: () => number,
  ) {}

  /** Whether the engine reading is recent enough to use. */
  fresh(replica: SchedulableReplica, now = this.now()): boolean {
    return replica.engine !== undefined && now - replica.engineAt <= this.staleAfterMs;
  }

  /** Estimated requests on the replica (see the load model above). */
  load(replica: SchedulableReplica, now = this.now()): number {
    const engine = replica.engine;
    if (engine === undefined || now - replica.engineAt > this.staleAfterMs) return replica.inFlight;
    return Math.max(replica.inFlight, engine.running + engine.waiting + replica.sent - replica.done);
  }

  /** Estimated requests waiting in the engine's queue; 0 without a fresh reading. */
  waiting(replica: SchedulableReplica, now = this.now()): number {
    const engine = replica.engine;
    if (engine === undefined || now - replica.engineAt > this.staleAfterMs) return 0;
    return Math.max(0, engine.waiting + replica.sent - replica.done);
  }

  score(replica: SchedulableReplica, now = this.now()): number {
    const load = this.load(replica, now);
    const speed = replica.ttfbMs > 0 && this.meanTtfbMs > 0 ? Math.min(4, Math.max(0.25, replica.ttfbMs / this.meanTtfbMs)) : 1;
    if (!this.fresh(replica, now)) return load * speed;
    const kv = replica.engine?.kvUsage ?? 0;
    return (load + this.config.queueWeight * this.waiting(replica, now) + this.config.kvWeight * kv) * speed;
  }

  /** Saturated: at this gateway's in-flight limit, or the engine's queue at its limit. */
  saturated(replica: SchedulableReplica, now = this.now()): boolean {
    if (this.limits.maxInFlight > 0 && replica.inFlight >= this.limits.maxInFlight) return true;
    return this.limits.maxWaiting > 0 && this.waiting(replica, now) >= this.limits.maxWaiting;
  }

  /**
   * The replica for one attempt among `candidates` (healthy, breaker admitting), skipping saturated
   * ones; undefined when every candidate is saturated (the caller queues the request).
   */
  pick<R extends SchedulableReplica>(candidates: readonly R[], prefixKeys: readonly number[]): Pick<R> | undefined {
    const now = this.now();
    const open = this.scratch;
    open.length = 0;
    let ttfbSum = 0;
    let ttfbCount = 0;
    for (let i = 0; i < candidates.length; i++) {
      const candidate = candidates[i] as R;
      if (candidate.ttfbMs > 0) {
        ttfbSum += candidate.ttfbMs;
        ttfbCount++;
      }
      if (!this.saturated(candidate, now)) open.push(i);
    }
    this.meanTtfbMs = ttfbCount > 0 ? ttfbSum / ttfbCount : 0;
    if (open.length === 0) return undefined;

    switch (this.config.strategy) {
      case 'round-robin': {
        const index = open[this.turn++ % open.length] as number;
        const replica = candidates[index] as R;
        return { replica, reason: 'round-robin', score: replica.inFlight, prefixBlocks: 0 };
      }
      case 'least-busy': {
        const index = this.lowest(candidates, open, (r) => r.inFlight);
        const replica = candidates[index] as R;
        return { replica, reason: 'least-busy', score: replica.inFlight, prefixBlocks: 0 };
      }
      case 'prefix-affinity': {
        const affine = prefixKeys.length > 0 ? this.affine(candidates, open, prefixKeys, now) : undefined;
        if (affine && affine.reason === 'prefix') return affine;
        const pick = this.leastLoaded(candidates, open, now);
        if (affine) pick.reason = 'prefix-overloaded';
        if (prefixKeys.length > 0) pick.prefixBlocks = pick.replica.prefixes.matchLength(prefixKeys);
        return pick;
      }
      default:
        return this.leastLoaded(candidates, open, now);
    }
  }

  private leastLoaded<R extends SchedulableReplica>(candidates: readonly R[], open: number[], now: number): Pick<R> {
    const pool = this.config.choices > 0 && this.config.choices < open.length ? this.sample(open, this.config.choices) : open;
    const index = this.lowest(candidates, pool, (r) => this.score(r, now));
    const replica = candidates[index] as R;
    return { replica, reason: 'least-loaded', score: this.score(replica, now), prefixBlocks: 0 };
  }

  /**
   * The open replica with the longest prefix match that stays within the load bound (reason 'prefix'),
   * or, when every matching replica would pass the bound, a marker with reason 'prefix-overloaded'.
   * Undefined when no replica holds even the first block.
   */
  private affine<R extends SchedulableReplica>(candidates: readonly R[], open: number[], keys: readonly number[], now: number): Pick<R> | undefined {
    let total = 0;
    for (const index of open) total += this.load(candidates[index] as R, now);
    const bound = Math.ceil((this.config.loadFactor * (total + 1)) / open.length);
    let best: R | undefined;
    let bestMatch = 0;
    let bestScore = Infinity;
    let matchedAny = false;
    for (const index of open) {
      const replica = candidates[index] as R;
      const match = replica.prefixes.matchLength(keys);
      if (match === 0) continue;
      matchedAny = true;
      if (this.load(replica, now) + 1 > bound) continue;
      const score = this.score(replica, now);
      if (match > bestMatch || (match === bestMatch && score < bestScore)) {
        best = replica;
        bestMatch = match;
        bestScore = score;
      }
    }
    if (best) return { replica: best, reason: 'prefix', score: bestScore, prefixBlocks: bestMatch };
    if (!matchedAny) return undefined;
    return { replica: candidates[open[0] as number] as R, reason: 'prefix-overloaded', score: 0, prefixBlocks: 0 };
  }

  /** Index (into candidates) of the lowest value among `indexes`; ties broken at random. */
  private lowest<R>(candidates: readonly R[], indexes: readonly number[], value: (replica: R) => number): number {
    let best = indexes[0] as number;
    let bestValue = Infinity;
    let ties = 0;
    for (const index of indexes) {
      const v = value(candidates[index] as R);
      if (v < bestValue) {
        best = index;
        bestValue = v;
        ties = 1;
      } else if (v === bestValue && this.random() * ++ties < 1) {
        best = index;
      }
    }
    return best;
  }

  /** `count` distinct indexes drawn at random from `from` (a partial Fisher–Yates shuffle in place). */
  private sample(from: number[], count: number): number[] {
    for (let i = 0; i < count; i++) {
      const j = i + Math.floor(this.random() * (from.length - i));
      const swap = from[i] as number;
      from[i] = from[j] as number;
      from[j] = swap;
    }
    from.length = count;
    return from;
  }
}
