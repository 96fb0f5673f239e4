/**
 * The Responses API's conversation state, owned by the gateway: each stored response with the input it
 * was given (the whole conversation up to it: earlier turns' items, then its own input items). A request
 * naming `previous_response_id` continues from that record's input plus its output, whatever provider
 * answered it, so state works across providers and across fallbacks.
 *
 * Records live in a CacheStore — in process memory (LRU bounded by total bytes) or Redis (shared by
 * replicas) — with a TTL, and each is bounded in size: a conversation that outgrows it is not stored
 * (the reply says `store`: true as asked, but a later request naming it gets previous_response_not_found;
 * counted and logged). A record belongs to the gateway key that created it: another key reading,
 * continuing or deleting it is told it does not exist.
 *
 * A store that does not answer (Redis down or too slow) fails whatever needed it with 503
 * `state_store_unavailable`, as limits and keys do: continuing, reading or deleting a response, and
 * storing one — a response its client could not continue would otherwise surface only at the next turn,
 * as a non-retryable not-found.
 */
import type { CacheStore } from '../cache/cache-store.js';
import { ENTRY_OVERHEAD_BYTES } from '../cache/memory-store.js';
import type { JsonObject } from '../providers/types.js';
import { orStateUnavailable } from '../redis/state-unavailable.js';

const WHAT = 'the Responses API\'s stored conversation';

export interface StoredResponse {
  /** The gateway key's id that created it ('' without keys). */
  keyId: string;
  /** The response object as the client received it. */
  response: JsonObject;
  /** Every item the response was generated from, oldest first: earlier turns, then this request's input. */
  input: JsonObject[];
}

export class ConversationStore {
  constructor(
    private readonly store: CacheStore,
    private readonly ttlMs: number,
    private readonly maxEntryBytes: number,
  ) {}

  get kind(): string {
    return this.store.kind;
  }

  /** The record, when it exists and belongs to `keyId`. */
  async get(id: string, keyId: string): Promise<StoredResponse | undefined> {
    const lease = await orStateUnavailable(WHAT, this.store.get(id));
    if (lease === undefined) return undefined;
    let record: StoredResponse;
    try {
      record = JSON.parse(lease.bytes.toString()) as StoredResponse;
    } catch {
      return undefined;
    } finally {
      lease.release();
    }
    return record.keyId === keyId ? record : undefined;
  }

  /** Stores the record; false when it is over the size bound (then nothing is stored). */
  async save(id: string, record: StoredResponse): Promise<boolean> {
    const bytes = Buffer.from(JSON.stringify(record));
    // The memory store would silently drop an entry over its bound; this says so instead.
    if (bytes.byteLength + id.length + ENTRY_OVERHEAD_BYTES > this.maxEntryBytes) return false;
    await orStateUnavailable(WHAT, this.store.set(id, bytes, this.ttlMs));
    return true;
  }

  /** Deletes the record when it belongs to `keyId`; false when there was none. */
  async delete(id: string, keyId: string): Promise<boolean> {
    if (!(await this.get(id, keyId))) return false;
    await orStateUnavailable(WHAT, this.store.delete(id));
    return true;
  }

  close(): Promise<void> {
    return this.store.close();
  }
}
