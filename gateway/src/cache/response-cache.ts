/**
 * The response cache in front of the providers: lookups and writes that can never fail or noticeably
 * slow a request (a store error or timeout means "serve uncached", counted and logged at most once per
 * interval), and single-flight so concurrent identical misses on one replica make one upstream call.
 *
 * Answers pass through in their stored form (stored-answer.ts) and nothing here keeps a decoded
 * copy: the store's own bound is then the cache's whole cost.
 */
import type { CacheStore } from './cache-store.js';
import { decodeAnswer, type StoredAnswer } from './stored-answer.js';

export type CacheResult = 'HIT' | 'MISS' | 'BYPASS';

export interface CacheEvents {
  /** A store operation failed; `op` says which. */
  error(op: 'get' | 'set', error: unknown): void;
}

export type Lookup = { status: 'hit'; answer: StoredAnswer } | { status: 'miss' } | { status: 'failed' };

/** Joining an in-flight miss: the leader calls the upstream and settles with the stored bytes; followers wait for it. */
export type Flight =
  | { leader: true; settle(stored: Buffer | undefined): void }
  | { leader: false; wait: Promise<Buffer | undefined> };

export class ResponseCache {
  private readonly inFlight = new Map<string, Promise<Buffer | undefined>>();

  constructor(readonly store: CacheStore, private readonly events: CacheEvents) {}

  async lookup(key: string): Promise<Lookup> {
    let stored: Buffer | undefined;
    try {
      stored = await this.store.get(key);
    } catch (error) {
      this.events.error('get', error);
      return { status: 'failed' };
    }
    const answer = stored === undefined ? undefined : decodeAnswer(stored);
    return answer ? { status: 'hit', answer } : { status: 'miss' };
  }

  /** Stores in the background: the reply never waits for the cache. */
  save(key: string, stored: Buffer, ttlMs: number): void {
    this.store.set(key, stored, ttlMs).catch((error: unknown) => this.events.error('set', error));
  }

  join(key: string): Flight {
    const running = this.inFlight.get(key);
    if (running) return { leader: false, wait: running };
    let settle!: (stored: Buffer | undefined) => void;
    const promise = new Promise<Buffer | undefined>((resolve) => (settle = resolve));
    this.inFlight.set(key, promise);
    let settled = false;
    return {
      leader: true,
      settle: (stored) => {
        if (settled) return;
        settled = true;
        this.inFlight.delete(key);
        settle(stored);
      },
    };
  }

  close(): Promise<void> {
    return this.store.close();
  }
}
