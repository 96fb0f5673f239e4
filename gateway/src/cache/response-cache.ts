/**
 * The response cache in front of the providers: lookups and writes that can never fail or noticeably
 * slow a request (a store error or timeout means "serve uncached", counted and logged at most once per
 * interval), and single-flight so concurrent identical misses on one replica make one upstream call.
 */
import type { CacheStore } from './cache-store.js';
import type { CachedAnswer } from './cached-answer.js';

/**
 * A hit decoded once: the answer, and its JSON response already serialised. Repeated hits on the same
 * stored text (the memory store returns the same string instance) reuse it, so a hit parses nothing.
 */
export interface DecodedAnswer {
  answer: CachedAnswer;
  /** The JSON response body, ready to send. */
  jsonText: string;
}

const DECODED_MEMO_ENTRIES = 1024;

export type CacheResult = 'HIT' | 'MISS' | 'BYPASS';

export interface CacheEvents {
  /** A store operation failed; `op` says which. */
  error(op: 'get' | 'set', error: unknown): void;
}

export type Lookup = ({ status: 'hit' } & DecodedAnswer) | { status: 'miss' } | { status: 'failed' };

/** Joining an in-flight miss: the leader calls the upstream and settles; followers wait for it. */
export type Flight =
  | { leader: true; settle(answer: CachedAnswer | undefined): void }
  | { leader: false; wait: Promise<CachedAnswer | undefined> };

export class ResponseCache {
  private readonly inFlight = new Map<string, Promise<CachedAnswer | undefined>>();
  private readonly decoded = new Map<string, { raw: string; decoded: DecodedAnswer }>();

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
    const memo = this.decoded.get(key);
    if (memo && memo.raw === raw) return { status: 'hit', ...memo.decoded };
    let answer: CachedAnswer;
    try {
      answer = JSON.parse(raw) as CachedAnswer;
    } catch {
      return { status: 'miss' };
    }
    if (answer?.v !== 1) return { status: 'miss' };
    const decoded = { answer, jsonText: JSON.stringify(answer.json) };
    if (this.decoded.size >= DECODED_MEMO_ENTRIES) this.decoded.delete(this.decoded.keys().next().value as string);
    this.decoded.set(key, { raw, decoded });
    return { status: 'hit', ...decoded };
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
