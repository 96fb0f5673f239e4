/** One contract for every LimitStore: in-memory and real Redis count, reserve and expire alike. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LimitStore } from '../../src/limits/limit-store.js';
import { MemoryLimitStore } from '../../src/limits/memory-limit-store.js';
import { RedisLimitStore } from '../../src/limits/redis-limit-store.js';
import { waitFor } from '../helpers/gateway.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.stop();
});

const stores: [string, () => LimitStore][] = [
  ['memory', () => new MemoryLimitStore()],
  ['redis', () => new RedisLimitStore(redis.url, `contract:${Math.random()}:`)],
];

describe.each(stores)('LimitStore contract: %s', (_name, make) => {
  let store: LimitStore;
  beforeAll(() => {
    store = make();
  });
  afterAll(async () => {
    await store.close();
  });

  it('adds, including negative and fractional amounts', async () => {
    expect(await store.get('n')).toBe(0);
    expect(await store.add('n', 2, 60_000)).toBe(2);
    expect(await store.add('n', 0.5, 60_000)).toBe(2.5);
    expect(await store.add('n', -1, 60_000)).toBe(1.5);
    expect(await store.get('n')).toBe(1.5);
  });

  it('reserves only within the limit, atomically under concurrency', async () => {
    const results = await Promise.all(Array.from({ length: 50 }, () => store.reserve('budget', 3, 20, 60_000)));
    expect(results.filter((r) => r.ok)).toHaveLength(6);
    expect(await store.get('budget')).toBe(18);
  });

  it('expires counters after their TTL', async () => {
    const added = performance.now();
    await store.add('short', 5, 150);
    expect(await store.get('short')).toBe(5);
    await waitFor(async () => (await store.get('short')) === 0);
    expect(performance.now() - added).toBeGreaterThanOrEqual(150);
  });
});
