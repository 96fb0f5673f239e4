/**
 * One contract for every CacheStore: the memory store and the Redis store (a real redis-server) must
 * behave the same.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CacheStore } from '../../src/cache/cache-store.js';
import { MemoryCacheStore } from '../../src/cache/memory-store.js';
import { RedisCacheStore } from '../../src/cache/redis-store.js';
import { waitFor } from '../helpers/gateway.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.stop();
});

const bytes = (text: string): Buffer => Buffer.from(text);

const stores: [string, () => CacheStore][] = [
  ['memory', () => new MemoryCacheStore({ maxBytes: 10 * 1024 * 1024, maxEntryBytes: 2 * 1024 * 1024 })],
  ['redis', () => new RedisCacheStore({ url: redis.url, keyPrefix: `contract:${Math.random()}:`, timeoutMs: 500 })],
];

/** What the store holds under `key`, as a buffer of the test's own (the lease given back). */
async function read(store: CacheStore, key: string): Promise<Buffer | undefined> {
  const lease = await store.get(key);
  if (!lease) return undefined;
  const copy = Buffer.from(lease.bytes);
  lease.release();
  return copy;
}

describe.each(stores)('CacheStore contract: %s', (_name, make) => {
  let store: CacheStore;
  beforeAll(async () => {
    store = make();
    // Redis connects in the background; wait until it answers.
    for (let i = 0; i < 50; i++) {
      try {
        await read(store, 'probe');
        break;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  });
  afterAll(async () => {
    await store.close();
  });

  it('misses an unknown key', async () => {
    expect(await read(store, 'nope')).toBeUndefined();
  });

  it('stores, overwrites and deletes', async () => {
    await store.set('k', bytes('v1'), 60_000);
    expect(await read(store, 'k')).toEqual(bytes('v1'));
    await store.set('k', bytes('v2'), 60_000);
    expect(await read(store, 'k')).toEqual(bytes('v2'));
    await store.delete('k');
    expect(await read(store, 'k')).toBeUndefined();
  });

  it("lends bytes that stay intact while held, whatever happens to the entry meanwhile", async () => {
    await store.set('lent', bytes('first answer'), 60_000);
    const lease = (await store.get('lent'))!;
    await store.set('lent', bytes('second answer'), 60_000);
    await store.delete('lent');
    expect(lease.bytes).toEqual(bytes('first answer'));
    lease.release();
    lease.release(); // a second release changes nothing
    expect(await read(store, 'lent')).toBeUndefined();
  });

  it('keeps unicode and large values intact', async () => {
    const value = bytes(JSON.stringify({ text: 'héllo 🌍 '.repeat(20_000) }));
    await store.set('big', value, 60_000);
    expect(await read(store, 'big')).toEqual(value);
  });

  it('expires entries after their own TTL', async () => {
    const stored = performance.now();
    await store.set('short', bytes('x'), 150);
    await store.set('long', bytes('y'), 60_000);
    expect(await read(store, 'short')).toEqual(bytes('x'));
    await waitFor(async () => (await read(store, 'short')) === undefined);
    expect(performance.now() - stored).toBeGreaterThanOrEqual(150);
    expect(await read(store, 'long')).toEqual(bytes('y'));
  });
});

describe('memory store bounds', () => {
  it('stays within its byte budget under many large entries, evicting least recently used', async () => {
    const store = new MemoryCacheStore({ maxBytes: 1024 * 1024, maxEntryBytes: 200 * 1024 });
    const value = bytes('x'.repeat(100 * 1024));
    for (let i = 0; i < 200; i++) {
      await store.set(`k${i}`, value, 60_000);
      expect(store.calculatedSize).toBeLessThanOrEqual(1024 * 1024);
    }
    expect(await read(store, 'k0')).toBeUndefined();
    expect(await read(store, 'k199')).toEqual(value);
  });

  it('refuses an entry larger than maxEntryBytes', async () => {
    const store = new MemoryCacheStore({ maxBytes: 1024 * 1024, maxEntryBytes: 10 * 1024 });
    await store.set('huge', bytes('y'.repeat(20 * 1024)), 60_000);
    expect(await read(store, 'huge')).toBeUndefined();
  });

  it('counts a small value as its own bytes, never the shared pool slab it may have been cut from', async () => {
    const store = new MemoryCacheStore({ maxBytes: 1024 * 1024, maxEntryBytes: 10 * 1024 });
    const pooled = Buffer.from('small answer');
    expect(pooled.buffer.byteLength).toBeGreaterThan(pooled.byteLength);
    await store.set('small', pooled, 60_000);
    const held = (await store.get('small'))!;
    expect(held.bytes).toEqual(pooled);
    expect(held.bytes.buffer.byteLength).toBe(held.bytes.byteLength);
    held.release();
  });

  it("gives an entry's memory back the moment it leaves, or at the last release of a lease on it", async () => {
    const store = new MemoryCacheStore({ maxBytes: 1024 * 1024, maxEntryBytes: 400 * 1024 });
    const value = bytes('x'.repeat(300 * 1024));
    await store.set('a', value, 60_000);
    await store.set('b', value, 60_000);
    // The store's own buffers, watched through leases already given back, and one lease still held.
    const watchA = (await store.get('a'))!;
    watchA.release();
    const held = (await store.get('b'))!;
    for (let i = 0; i < 4; i++) await store.set(`c${i}`, value, 60_000); // evicts a and b
    expect(await read(store, 'a')).toBeUndefined();
    expect(await read(store, 'b')).toBeUndefined();
    // Not lent out: freed at eviction (detached), not whenever V8 next collects.
    expect(watchA.bytes.byteLength).toBe(0);
    // Lent out: intact while held, then freed at its release.
    expect(held.bytes).toEqual(value);
    expect(store.departedBytes).toBe(value.byteLength);
    held.release();
    expect(held.bytes.byteLength).toBe(0);
    expect(store.departedBytes).toBe(0);
    // The caller's buffer stays its own: the store kept a copy.
    expect(value).toEqual(bytes('x'.repeat(300 * 1024)));
  });
});
