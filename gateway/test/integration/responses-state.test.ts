/**
 * Where Responses API state lives and how it is bounded: with Redis (state.responses: redis) a
 * conversation started on one replica is retrieved and continued on another; stored responses expire
 * after responses.ttlSeconds; a conversation over responses.maxEntryBytes is not stored (and says so in
 * the log) rather than silently dropped by the store; the memory store keeps within responses.maxBytes.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, waitFor, type RunningGateway } from '../helpers/gateway.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';

let redis: RedisServer;

beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.stop();
});

const providers = { sim: { type: 'mock' } };

function client(gateway: RunningGateway): OpenAI {
  return new OpenAI({ baseURL: gateway.baseURL, apiKey: 'x', maxRetries: 0 });
}

describe('Responses API state', () => {
  it('in Redis: a conversation started on one replica is read and continued on another', async () => {
    const document = { providers, redis: { url: redis.url }, state: { responses: 'redis' } };
    const one = await startGateway(document);
    const two = await startGateway(document);
    try {
      const first = await client(one).responses.create({ model: 'sim/mock-1', input: 'Remember: amber.' });
      expect((await client(two).responses.retrieve(first.id)).output_text).toBe(first.output_text);
      const second = await client(two).responses.create({ model: 'sim/mock-1', input: 'Which colour?', previous_response_id: first.id });
      const items = await client(one).responses.inputItems.list(second.id, { order: 'asc' });
      expect(items.data.map((item) => item.type === 'message' && item.role)).toEqual(['user', 'assistant', 'user']);
      await client(one).responses.delete(first.id);
      await expect(client(two).responses.retrieve(first.id)).rejects.toMatchObject({ status: 404 });
    } finally {
      await Promise.all([one.close(), two.close()]);
    }
  });

  it.each(['memory', 'redis'])('stored responses expire after responses.ttlSeconds (%s)', async (store) => {
    const gateway = await startGateway({ providers, redis: { url: redis.url }, state: { responses: store }, responses: { ttlSeconds: 1 } });
    try {
      const response = await client(gateway).responses.create({ model: 'sim/mock-1', input: 'short-lived' });
      expect((await client(gateway).responses.retrieve(response.id)).id).toBe(response.id);
      await waitFor(async () => (await fetch(`${gateway.baseURL}/responses/${response.id}`)).status === 404, 10_000);
    } finally {
      await gateway.close();
    }
  });

  it('a conversation over responses.maxEntryBytes is not stored, and the log says so', async () => {
    const lines: string[] = [];
    const gateway = await startGateway(
      { providers, logging: { level: 'warn' }, responses: { maxEntryBytes: 4096 } },
      { logStream: { write: (line) => void lines.push(line) } },
    );
    try {
      const small = await client(gateway).responses.create({ model: 'sim/mock-1', input: 'small' });
      expect((await client(gateway).responses.retrieve(small.id)).id).toBe(small.id);
      const large = await client(gateway).responses.create({ model: 'sim/mock-1', input: 'word '.repeat(2000) });
      expect(large.status).toBe('completed');
      await expect(client(gateway).responses.retrieve(large.id)).rejects.toMatchObject({ status: 404 });
      expect(lines.some((line) => line.includes(large.id) && line.includes('could not be stored'))).toBe(true);
    } finally {
      await gateway.close();
    }
  });

  it('the memory store stays within responses.maxBytes: the least recently used responses go first', async () => {
    const gateway = await startGateway({ providers, responses: { maxBytes: 64 * 1024, maxEntryBytes: 16 * 1024 } });
    try {
      const ids: string[] = [];
      for (let i = 0; i < 60; i++) ids.push((await client(gateway).responses.create({ model: 'sim/mock-1', input: `turn ${i} ${'x'.repeat(1500)}` })).id);
      const kept = await Promise.all(ids.map(async (id) => (await fetch(`${gateway.baseURL}/responses/${id}`)).status === 200));
      expect(kept.at(-1)).toBe(true);
      expect(kept[0]).toBe(false);
      expect(kept.filter(Boolean).length).toBeLessThan(ids.length);
    } finally {
      await gateway.close();
    }
  });
});
