/**
 * The response cache in front of the providers: lookups and writes that can never fail or noticeably
 * slow a request (a store error or timeout means "serve uncached", counted and logged at most once per
 * interval), and single-flight so concurrent identical misses on one replica make one upstream call.
 */
import type { CacheStore } from './cache-store.js';
import type { CachedAnswer } from './cached-answer.js';

export type CacheResult = 'HIT' | 'MISS' | 'BYPASS';

export interface CacheEvents {
  /** A store operation failed; `op` says which. */
  error(op: 'get' | 'set', error: unknown): void;
}

export type Lookup = { status: 'hit'; answer: CachedAnswer } | { status: 'miss' } | { status: 'failed' };

/** Joining an in-flight miss: the leader calls the upstream and settles; followers wait for it. */
export type Flight =
  | { leader: true; settle(answer: CachedAnswer | undefined): void }
  | { leader: false; wait: Promise<CachedAnswer | undefined> };

export class ResponseCache {
  private readonly inFlight = new Map<string, Promise<CachedAnswer | undefined>>();

  constructor(readonly store: CacheStore, private readonly events: CacheEvents) {}

  async lookup(key: string): Promise<Lookup> {
    let raw: string | undefined;
    try {
      raw = await this.store.get(key);
    } catch (error) {
      this.events.error('get', error);
      return { status: 'failed' };
    }
    if (raw === undefined) return { status: 'miss' };
    try {
      const answer = JSON.parse(raw) as CachedAnswer;
      return answer?.v === 1 ? { status: 'hit', answer } : { status: 'miss' };
    } catch {
      return { status: 'miss' };
    }
  }

  /** Stores in the background: the reply never waits for the cache. */
  save(key: string, answer: CachedAnswer, ttlMs: number): void {
    this.store.set(key, JSON.stringify(answer), ttlMs).catch((error: unknown) => this.events.error('set', error));
  }

  join(key: string): Flight {
    const running = this.inFlight.get(key);
    if (running) return { leader: false, wait: running };
    let settle!: (answer: CachedAnswer | undefined) => void;
    const promise = new Promise<CachedAnswer | undefined>((resolve) => (settle = resolve));
    this.inFlight.set(key, promise);
    let settled = false;
    return {
      leader: true,
      settle: (answer) => {
        if (settled) return;
        settled = true;
        this.inFlight.delete(key);
        settle(answer);
      },
    };
  }

  close(): Promise<void> {
    return this.store.close();
  }
}
