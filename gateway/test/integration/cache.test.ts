/**
 * The response cache through the gateway: hit/miss/bypass/refresh, stream ⇄ JSON from one entry, what
 * is never cached, TTL, single-flight, and a Redis that dies mid-test.
 */
import { Redis } from 'ioredis';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisCacheStore } from '../../src/cache/redis-store.js';
import { startGateway, waitFor, type RunningGateway } from '../helpers/gateway.js';
import { metricValue } from '../helpers/metrics.js';
import { startMockUpstream, type MockUpstream } from '../helpers/mock-upstream.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';

let upstream: MockUpstream;
let gateway: RunningGateway;
let client: OpenAI;

beforeAll(async () => {
  upstream = await startMockUpstream();
  gateway = await startGateway({
    providers: { up: { type: 'openai-compatible', baseUrl: upstream.url } },
    routing: { retry: { maxAttempts: 1 } },
    cache: { enabled: false, ttlSeconds: 60 },
    routes: {
      cached: { targets: [{ provider: 'up', model: 'answer' }], cache: { enabled: true } },
      'cached-short': { targets: [{ provider: 'up', model: 'short-lived' }], cache: { enabled: true, ttlSeconds: 0.3 } },
      'cached-slow': { targets: [{ provider: 'up', model: 'slow-300' }], cache: { enabled: true } },
      'cached-broken': { targets: [{ provider: 'up', model: 'fail-500' }], cache: { enabled: true } },
      'cached-cut': { targets: [{ provider: 'up', model: 'cut-after-3' }], cache: { enabled: true } },
      uncached: { targets: [{ provider: 'up', model: 'answer' }] },
    },
  });
  client = new OpenAI({ baseURL: gateway.baseURL, apiKey: 'x', maxRetries: 0 });
});
afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
});

function upstreamCalls(model: string): number {
  return upstream.requests.filter((r) => r.body.model === model).length;
}

async function post(body: Record<string, unknown>, headers: Record<string, string> = {}, to: RunningGateway = gateway) {
  const response = await fetch(`${to.baseURL}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: response.status, cache: response.headers.get('x-gateway-cache'), text: await response.text() };
}

describe('response cache', () => {
  it('MISS then HIT, field order ignored; the hit makes no upstream call', async () => {
    const before = upstreamCalls('answer');
    const first = await post({ model: 'cached', messages: [{ role: 'user', content: 'order test' }], temperature: 0 });
    const second = await post({ temperature: 0, messages: [{ content: 'order test', role: 'user' }], model: 'cached' });
    expect(first.cache).toBe('MISS');
    expect(second.cache).toBe('HIT');
    expect(JSON.parse(second.text)).toEqual(JSON.parse(first.text));
    expect(upstreamCalls('answer') - before).toBe(1);
  });

  it('BYPASS when the route does not cache, or the client says no-store', async () => {
    expect((await post({ model: 'uncached', messages: [{ role: 'user', content: 'a' }] })).cache).toBe('BYPASS');
    await post({ model: 'cached', messages: [{ role: 'user', content: 'nostore' }] }, { 'x-gateway-cache': 'no-store' });
    expect((await post({ model: 'cached', messages: [{ role: 'user', content: 'nostore' }] })).cache).toBe('MISS');
  });

  it('refresh skips the lookup and stores the new answer', async () => {
    const body = { model: 'cached', messages: [{ role: 'user', content: 'refresh me' }] };
    await post(body);
    const before = upstreamCalls('answer');
    expect((await post(body, { 'x-gateway-cache': 'refresh' })).cache).toBe('MISS');
    expect(upstreamCalls('answer') - before).toBe(1);
    expect((await post(body)).cache).toBe('HIT');
  });

  it('namespaces keep tenants apart', async () => {
    const body = { model: 'cached', messages: [{ role: 'user', content: 'tenant' }] };
    await post(body, { 'x-gateway-cache-namespace': 'a' });
    expect((await post(body, { 'x-gateway-cache-namespace': 'b' })).cache).toBe('MISS');
    expect((await post(body, { 'x-gateway-cache-namespace': 'a' })).cache).toBe('HIT');
  });

  it('a streamed answer serves a JSON client, with usage, from the same entry', async () => {
    const messages = [{ role: 'user' as const, content: 'stream first' }];
    const stream = await client.chat.completions.create({ model: 'cached', messages, stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    const { data, response } = await client.chat.completions.create({ model: 'cached', messages }).withResponse();
    expect(response.headers.get('x-gateway-cache')).toBe('HIT');
    expect(data.choices[0]?.message.content).toBe(text);
    expect(data.usage).toEqual({ prompt_tokens: 11, completion_tokens: 8, total_tokens: 19 });
  });

  it('a JSON answer is replayed to a streaming client, usage chunk when asked', async () => {
    const messages = [{ role: 'user' as const, content: 'json first' }];
    const json = await client.chat.completions.create({ model: 'cached', messages });
    const { data: stream, response } = await client.chat.completions.create({ model: 'cached', messages, stream: true, stream_options: { include_usage: true } }).withResponse();
    expect(response.headers.get('x-gateway-cache')).toBe('HIT');
    let text = '';
    let usage: unknown;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe(json.choices[0]?.message.content);
    expect(usage).toEqual(json.usage);
  });

  it('a cached stream replays without the usage chunk unless asked, although the gateway asked upstream for it', async () => {
    const body = { model: 'cached', messages: [{ role: 'user', content: 'usage strip' }], stream: true };
    const miss = await post(body);
    expect(miss.text).not.toContain('"usage"');
    expect(upstream.requests.at(-1)!.body.stream_options).toEqual({ include_usage: true });
    const hit = await post(body);
    expect(hit.cache).toBe('HIT');
    expect(hit.text).not.toContain('"usage"');
    expect(hit.text.trim().endsWith('data: [DONE]')).toBe(true);
  });

  it('never caches errors or truncated streams', async () => {
    const broken = { model: 'cached-broken', messages: [{ role: 'user', content: 'x' }] };
    expect((await post(broken)).status).toBe(500);
    expect((await post(broken)).cache).toBe('MISS');
    const cut = { model: 'cached-cut', messages: [{ role: 'user', content: 'x' }], stream: true };
    expect((await post(cut)).text).toContain('stream_interrupted');
    const again = await post(cut);
    expect(again.cache).toBe('MISS');
    expect(upstreamCalls('cut-after-3')).toBe(2);
  });

  it('entries expire after the route TTL', async () => {
    const body = { model: 'cached-short', messages: [{ role: 'user', content: 'ttl' }] };
    const stored = performance.now();
    expect((await post(body)).cache).toBe('MISS');
    expect((await post(body)).cache).toBe('HIT');
    // A hit does not extend the entry: it misses again once its 300 ms are over, and not before.
    await waitFor(async () => (await post(body)).cache === 'MISS');
    expect(performance.now() - stored).toBeGreaterThanOrEqual(300);
  });

  it('single-flight: 100 concurrent identical misses make one upstream call', async () => {
    const before = upstreamCalls('slow-300');
    const body = { model: 'cached-slow', messages: [{ role: 'user', content: 'herd' }] };
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => post(i % 2 ? body : { ...body, stream: true })));
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(upstreamCalls('slow-300') - before).toBe(1);
    expect(results.filter((r) => r.cache === 'MISS')).toHaveLength(1);
    expect(results.filter((r) => r.text.includes('[DONE]'))).toHaveLength(50);
  });

  it('counts cache results in /metrics', async () => {
    expect(await metricValue(gateway.origin, 'gateway_cache_results_total', { route: 'cached', result: 'hit' })).toBeGreaterThan(3);
    expect(await metricValue(gateway.origin, 'gateway_cache_results_total', { route: 'uncached', result: 'bypass' })).toBe(1);
  });
});

describe('response cache on Redis', () => {
  let redis: RedisServer;
  let shared: RunningGateway[];

  beforeAll(async () => {
    redis = await startRedisServer();
    const doc = {
      providers: { up: { type: 'openai-compatible', baseUrl: upstream.url } },
      redis: { url: redis.url },
      cache: { enabled: true, redis: { timeoutMs: 100 } },
      routes: { r: { targets: [{ provider: 'up', model: 'redis-answer' }] } },
    };
    shared = [await startGateway(doc), await startGateway(doc)];
  });
  afterAll(async () => {
    await Promise.all(shared.map((g) => g.close()));
    await redis?.stop();
  });

  async function ask(g: RunningGateway, content: string) {
    const response = await fetch(`${g.baseURL}/chat/completions`, { method: 'POST', body: JSON.stringify({ model: 'r', messages: [{ role: 'user', content }] }) });
    return { status: response.status, cache: response.headers.get('x-gateway-cache') };
  }

  it('is shared by replicas', async () => {
    for (let i = 0; i < 50 && (await ask(shared[0]!, 'warmup')).cache === 'BYPASS'; i++) await new Promise((r) => setTimeout(r, 50));
    const inspector = new Redis(redis.url);
    try {
      const before = await inspector.dbsize();
      expect((await ask(shared[0]!, 'shared')).cache).toBe('MISS');
      await waitFor(async () => (await inspector.dbsize()) > before); // the write is in the background
    } finally {
      inspector.disconnect();
    }
    expect((await ask(shared[1]!, 'shared')).cache).toBe('HIT');
  });

  it('Redis stopped mid-test: requests still succeed, as BYPASS, and errors are counted', async () => {
    await redis.stop();
    const started = Date.now();
    for (let i = 0; i < 5; i++) {
      const result = await ask(shared[0]!, `down ${i}`);
      expect(result.status).toBe(200);
      expect(result.cache).toBe('BYPASS');
    }
    expect(Date.now() - started).toBeLessThan(2000);
    expect(await metricValue(shared[0]!.origin, 'gateway_cache_errors_total', { store: 'redis', op: 'get' })).toBeGreaterThanOrEqual(5);
    // And it recovers once Redis is back.
    await redis.restart();
    let recovered = false;
    for (let i = 0; i < 60 && !recovered; i++) {
      recovered = (await ask(shared[0]!, 'back')).cache !== 'BYPASS';
      if (!recovered) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(recovered).toBe(true);
  });

  it('a Redis store that is slower than its timeout gives up quickly', async () => {
    const store = new RedisCacheStore({ url: 'redis://127.0.0.1:9', keyPrefix: 'x:', timeoutMs: 50 });
    const started = Date.now();
    await expect(store.get('k')).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(500);
    await store.close();
  });
});

describe('response cache across a deploy that changes output checks', () => {
  let redis: RedisServer;

  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  /** One deploy: the same route, its output check looking for `detectors`. */
  const deploy = (detectors: string[]) =>
    startGateway({
      providers: { up: { type: 'openai-compatible', baseUrl: upstream.url } },
      redis: { url: redis.url },
      state: { cache: 'redis' },
      // What is tested is which entry a deploy reads, not Redis's latency: a loaded machine must not turn a
      // new gateway's first command (its connection still opening) into a BYPASS.
      cache: { redis: { timeoutMs: 5000 } },
      guardrails: { mask: { kind: 'pii', detectors, action: 'redact' } },
      routes: { r: { targets: [{ provider: 'up', model: 'echo-4' }], cache: { enabled: true }, guardrails: { output: ['mask'] } } },
    });

  async function ask(g: RunningGateway) {
    const result = await post({ model: 'r', messages: [{ role: 'user', content: 'reach me at jane.doe@example.com' }] }, {}, g);
    return { cache: result.cache, text: (JSON.parse(result.text) as { choices: { message: { content: string } }[] }).choices[0]!.message.content };
  }

  it('an answer cached under other output checks is not served: the new checks see a fresh answer', async () => {
    const inspector = new Redis(redis.url);
    try {
      const before = await deploy(['phone']);
      try {
        expect(await ask(before)).toEqual({ cache: 'MISS', text: 'reach me at jane.doe@example.com' });
        await waitFor(async () => (await ask(before)).cache === 'HIT', 10_000);
      } finally {
        await before.close();
      }
      const after = await deploy(['email']);
      try {
        expect(await ask(after)).toEqual({ cache: 'MISS', text: 'reach me at [EMAIL]' });
        await waitFor(async () => (await ask(after)).cache === 'HIT', 10_000);
        expect((await ask(after)).text).toBe('reach me at [EMAIL]');
      } finally {
        await after.close();
      }
      // The same checks after another restart share the entries: the fingerprint is the config's, not the process's.
      const again = await deploy(['email']);
      try {
        expect(await ask(again)).toEqual({ cache: 'HIT', text: 'reach me at [EMAIL]' });
      } finally {
        await again.close();
      }
      expect(await inspector.dbsize()).toBe(2);
    } finally {
      inspector.disconnect();
    }
  });
});
