/**
 * The response cache in front of the providers: lookups and writes that can never fail or noticeably
 * slow a request (a store error or timeout means "serve uncached", counted and logged at most once per
 * interval), and single-flight so concurrent identical misses on one replica make one upstream call.
 *
 * Answers pass through in their stored form (stored-answer.ts) and nothing here keeps a decoded
 * copy: the store's own bound is then the cache's whole cost.
 */
import type { CacheLease, CacheStore } from './cache-store.js';
import { decodeAnswer, type StoredAnswer } from './stored-answer.js';

export type CacheResult = 'HIT' | 'MISS' | 'BYPASS';

export interface CacheEvents {
  /** A store operation failed; `op` says which. */
  error(op: 'get' | 'set', error: unknown): void;
}

/** A hit's answer is a view of the store's bytes: `release` once it has been sent (or dropped). */
export type Lookup = { status: 'hit'; answer: StoredAnswer; release(): void } | { status: 'miss' } | { status: 'failed' };

/** Joining an in-flight miss: the leader calls the upstream and settles with the stored bytes; followers wait for it. */
export type Flight =
  | { leader: true; settle(stored: Buffer | undefined): void }
  | { leader: false; wait: Promise<Buffer | undefined> };

export class ResponseCache {
  private readonly inFlight = new Map<string, Promise<Buffer | undefined>>();

  constructor(readonly store: CacheStore, private readonly events: CacheEvents) {}

  async lookup(key: string): Promise<Lookup> {
    let lease: CacheLease | undefined;
    try {
      lease = await this.store.get(key);
    } catch (error) {
      this.events.error('get', error);
      return { status: 'failed' };
    }
    if (!lease) return { status: 'miss' };
    const answer = decodeAnswer(lease.bytes);
    if (answer) return { status: 'hit', answer, release: () => lease.release() };
    lease.release();
    return { status: 'miss' };
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
