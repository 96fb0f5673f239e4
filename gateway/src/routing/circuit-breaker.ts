/**
 * A circuit breaker per target. Closed: requests flow, outcomes are counted. It opens after N
 * consecutive failures, or when the failure rate over a sliding window passes a threshold once the
 * window holds enough requests. Open: the target is skipped until the cooldown ends. Half-open: one
 * probe request goes through; its success closes the breaker, its failure opens it again.
 */
import type { BreakerConfig } from '../config/schema.js';

export type BreakerState = 'closed' | 'open' | 'half_open';

/** Outcomes are counted in one-second buckets so the window slides without keeping every request. */
const BUCKET_MS = 1000;

export class CircuitBreaker {
  private state: BreakerState = 'closed';
  private consecutiveFailures = 0;
  private openedAt = 0;
  private probeInFlight = false;
  private readonly buckets: { start: number; total: number; failed: number }[] = [];

  constructor(
    private readonly config: BreakerConfig,
    private readonly now: () => number,
    private readonly onStateChange: (state: BreakerState) => void = () => {},
  ) {}

  /** The state, moving open → half-open once the cooldown is over. */
  current(): BreakerState {
    if (this.state === 'open' && this.now() - this.openedAt >= this.config.cooldownMs) this.transition('half_open');
    return this.state;
  }

  /** Milliseconds until an open breaker lets a probe through (0 when it would now). */
  msUntilRetry(): number {
    if (this.state !== 'open') return 0;
    return Math.max(0, this.openedAt + this.config.cooldownMs - this.now());
  }

  /** Whether a request may go to this target now; in half-open only one probe at a time may. */
  tryAcquire(): boolean {
    const state = this.current();
    if (state === 'closed') return true;
    if (state === 'half_open' && !this.probeInFlight) {
      this.probeInFlight = true;
      return true;
    }
    return false;
  }

  /** Whether `tryAcquire` would let a request through now (without taking the half-open probe). */
  admits(): boolean {
    const state = this.current();
    return state === 'closed' || (state === 'half_open' && !this.probeInFlight);
  }

  /** Lets a request through whatever the state (used when every target is open). */
  forceAcquire(): void {
    if (this.current() !== 'closed') this.probeInFlight = true;
  }

  /** The request ended without telling us anything about the target (e.g. the client left). */
  release(): void {
    this.probeInFlight = false;
  }

  recordSuccess(): void {
    this.probeInFlight = false;
    this.consecutiveFailures = 0;
    this.count(false);
    if (this.state !== 'closed') {
      this.buckets.length = 0;
      this.transition('closed');
    }
  }

  recordFailure(): void {
    this.probeInFlight = false;
    this.consecutiveFailures++;
    this.count(true);
    if (this.state === 'half_open' || (this.state === 'open' && this.current() === 'half_open')) {
      this.open();
      return;
    }
    if (this.state === 'closed' && this.shouldOpen()) this.open();
  }

  private shouldOpen(): boolean {
    if (this.consecutiveFailures >= this.config.consecutiveFailures) return true;
    const since = this.now() - this.config.windowMs;
    let total = 0;
    let failed = 0;
    for (const bucket of this.buckets) {
      if (bucket.start < since) continue;
      total += bucket.total;
      failed += bucket.failed;
    }
    return total >= this.config.minRequests && failed / total >= this.config.failureRate;
  }

  private count(failed: boolean): void {
    const now = this.now();
    const start = now - (now % BUCKET_MS);
    let bucket = this.buckets.at(-1);
    if (!bucket || bucket.start !== start) {
      bucket = { start, total: 0, failed: 0 };
      this.buckets.push(bucket);
      const oldest = now - this.config.windowMs - BUCKET_MS;
      while (this.buckets.length > 0 && (this.buckets[0] as { start: number }).start < oldest) this.buckets.shift();
    }
    bucket.total++;
    if (failed) bucket.failed++;
  }

  private open(): void {
    this.openedAt = this.now();
    this.transition('open');
  }

  private transition(state: BreakerState): void {
    if (this.state === state) return;
    this.state = state;
    this.onStateChange(state);
  }
}

/**
 * How many breakers are kept for targets the configuration does not name. A client allowed
 * `<provider>/*` can name any model; each name would otherwise keep a breaker (about 2 KB) for the life
 * of the process.
 */
export const MAX_UNLISTED_BREAKERS = 1024;

/**
 * One breaker per target key (`provider/model`), made on first use. Breakers of configured targets are
 * kept for good; those of any other target (a direct request for an unlisted model) are kept in a
 * bounded set that forgets the oldest first — a forgotten breaker starts closed again if its target
 * comes back, as a breaker for a new name does.
 */
export class BreakerRegistry {
  private readonly listed = new Map<string, CircuitBreaker>();
  private readonly unlisted = new Map<string, CircuitBreaker>();
  private readonly configured: ReadonlySet<string>;

  constructor(
    private readonly config: BreakerConfig,
    private readonly now: () => number,
    private readonly onStateChange: (key: string, state: BreakerState) => void = () => {},
    configured: Iterable<string> = [],
    private readonly maxUnlisted = MAX_UNLISTED_BREAKERS,
  ) {
    this.configured = new Set(configured);
  }

  get enabled(): boolean {
    return this.config.enabled;
  }

  for(key: string): CircuitBreaker {
    const found = this.listed.get(key) ?? this.unlisted.get(key);
    if (found) return found;
    const breaker = new CircuitBreaker(this.config, this.now, (state) => this.onStateChange(key, state));
    if (this.configured.has(key)) {
      this.listed.set(key, breaker);
    } else {
      if (this.unlisted.size >= this.maxUnlisted) this.unlisted.delete(this.unlisted.keys().next().value as string);
      this.unlisted.set(key, breaker);
    }
    return breaker;
  }

  states(): Map<string, BreakerState> {
    return new Map([...this.listed, ...this.unlisted].map(([key, breaker]) => [key, breaker.current()]));
  }
}
