/**
 * Conditional routing over real sockets, with the official OpenAI SDK as the client: the branch chosen by
 * tags (client header and key tags — the key's win), key, user, parameters and prompt size, reported in
 * `x-gateway-branch` and on the trace row, for JSON and streams; cached answers kept apart by branch; a
 * branch leading to a replica pool that schedules by its replicas' engine load.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeEngine } from '../../../benchmarks/fake-engine.js';
import { startGateway, waitFor, type RunningGateway } from '../helpers/gateway.js';
import { startMockUpstream, type MockUpstream } from '../helpers/mock-upstream.js';
import { storedTrace } from '../helpers/trace-rows.js';

const FREE_KEY = 'sk-gw-free-tenant-0123456789abcdef';
const TEAM_KEY = 'sk-gw-team-tenant-0123456789abcdef';
let upstream: MockUpstream;
let gateway: RunningGateway;

const target = (model: string) => ({ provider: 'up', model });

beforeAll(async () => {
  upstream = await startMockUpstream();
  gateway = await startGateway({
    providers: { up: { type: 'openai-compatible', baseUrl: upstream.url } },
    routing: { retry: { maxAttempts: 1 } },
    auth: {
      keys: [
        { id: 'free', key: FREE_KEY, metadata: { tier: 'free' } },
        { id: 'team', key: TEAM_KEY },
      ],
    },
    telemetry: { sink: 'duckdb', dataDir: mkdtempSync(join(tmpdir(), 'gateway-conditional-')), flushIntervalMs: 50 },
    routes: {
      chat: {
        strategy: 'conditional',
        branches: [
          { name: 'premium', when: { 'metadata.tier': 'premium' }, target: target('premium-model') },
          { name: 'team', when: { key: { in: ['team'] } }, target: target('team-model') },
          { name: 'internal', when: { user: { regex: '^internal-' } }, target: target('internal-model') },
          { name: 'long', when: { prompt_tokens: { gte: 500 } }, target: target('long-model') },
          { name: 'tools', when: { or: [{ tools: true }, { response_format: 'json_object' }] }, target: target('tools-model') },
          { name: 'precise', when: { temperature: { lte: 0.1 }, max_tokens: { gt: 100 } }, target: target('precise-model') },
        ],
        default: { strategy: 'fallback', targets: [target('fail-503'), target('default-model')] },
      },
      fragile: {
        strategy: 'conditional',
        branches: [{ name: 'premium', when: { 'metadata.tier': 'premium' }, target: target('fragile-model') }],
        default: target('default-model'),
      },
      cached: {
        strategy: 'conditional',
        cache: { enabled: true },
        branches: [{ name: 'premium', when: { 'metadata.tier': 'premium' }, target: target('premium-model') }],
        default: target('default-model'),
      },
    },
  });
});

afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
});

function client(key: string, headers: Record<string, string> = {}): OpenAI {
  return new OpenAI({ baseURL: gateway.baseURL, apiKey: key, maxRetries: 0, defaultHeaders: headers });
}

async function ask(openai: OpenAI, body: Partial<OpenAI.ChatCompletionCreateParamsNonStreaming> = {}, model = 'chat') {
  const { data, response } = await openai.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }], ...body }).withResponse();
  return { data, branch: response.headers.get('x-gateway-branch'), target: response.headers.get('x-gateway-model'), traceId: response.headers.get('x-gateway-trace-id')!, cache: response.headers.get('x-gateway-cache') };
}

describe('conditional routing', () => {
  it('routes by the x-gateway-metadata tags, and the reply and the trace name the branch', async () => {
    const premium = await ask(client(TEAM_KEY, { 'x-gateway-metadata': '{"tier":"premium"}' }));
    expect([premium.branch, premium.target]).toEqual(['premium', 'premium-model']);
    expect(premium.data.model).toBe('chat');
    expect((await storedTrace(gateway.app, premium.traceId)).branch).toBe('premium');
  });

  it("never lets a client's tag override its key's: a free key claiming premium stays free", async () => {
    const claimed = await ask(client(FREE_KEY, { 'x-gateway-metadata': '{"tier":"premium"}' }));
    expect(claimed.branch).not.toBe('premium');
    const row = await storedTrace(gateway.app, claimed.traceId);
    expect(row.metadata_values[row.metadata_keys.indexOf('tier')]).toBe('free');
  });

  it('routes by key id, user, prompt size, tools / response_format and sampling parameters', async () => {
    expect((await ask(client(TEAM_KEY))).branch).toBe('team');
    const free = client(FREE_KEY);
    expect((await ask(free, { user: 'internal-7' })).branch).toBe('internal');
    expect((await ask(free, { user: 'customer-7' })).branch).toBe('default');
    expect((await ask(free, { messages: [{ role: 'user', content: 'word '.repeat(500) }] })).branch).toBe('long');
    const tools = [{ type: 'function' as const, function: { name: 'f', parameters: { type: 'object' } } }];
    expect((await ask(free, { tools })).branch).toBe('tools');
    expect((await ask(free, { response_format: { type: 'json_object' } })).branch).toBe('tools');
    expect((await ask(free, { temperature: 0, max_tokens: 500 })).branch).toBe('precise');
    expect((await ask(free, { temperature: 0, max_tokens: 50 })).branch).toBe('default');
  });

  it('a branch leading to a fallback group: the header names the branch, the target is the one that answered', async () => {
    const answered = await ask(client(FREE_KEY));
    expect([answered.branch, answered.target]).toEqual(['default', 'default-model']);
    const row = await storedTrace(gateway.app, answered.traceId);
    expect([row.branch, row.model, row.attempts, row.fallbacks]).toEqual(['default', 'default-model', 2, 1]);
  });

  it('streams carry the branch too', async () => {
    const stream = await client(TEAM_KEY).chat.completions.create({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    expect(stream.response.headers.get('x-gateway-branch')).toBe('team');
    let text = '';
    for await (const chunk of stream.data) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('Hello from the mock upstream');
    expect((await storedTrace(gateway.app, stream.response.headers.get('x-gateway-trace-id')!)).branch).toBe('team');
  });

  it('an error reply still names the branch it came through', async () => {
    upstream.fail('fragile-model', 500);
    const response = await fetch(`${gateway.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEAM_KEY}`, 'content-type': 'application/json', 'x-gateway-metadata': '{"tier":"premium"}' },
      body: JSON.stringify({ model: 'fragile', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(response.status).toBe(500);
    expect(response.headers.get('x-gateway-branch')).toBe('premium');
    expect((await storedTrace(gateway.app, response.headers.get('x-gateway-trace-id')!)).branch).toBe('premium');
  });

  it('keeps cached answers apart by branch: the same body under another tag is not served the other branch’s answer', async () => {
    const body = { messages: [{ role: 'user' as const, content: 'cache me' }] };
    const premium = client(TEAM_KEY, { 'x-gateway-metadata': '{"tier":"premium"}' });
    const basic = client(TEAM_KEY, { 'x-gateway-metadata': '{"tier":"basic"}' });
    expect((await ask(premium, body, 'cached')).cache).toBe('MISS');
    expect((await ask(premium, body, 'cached')).cache).toBe('HIT');
    const other = await ask(basic, body, 'cached');
    expect([other.cache, other.target, other.branch]).toEqual(['MISS', 'default-model', 'default']);
    // A different tag that takes the same branch shares the entry.
    expect((await ask(client(TEAM_KEY, { 'x-gateway-metadata': '{"tier":"gold"}' }), body, 'cached')).cache).toBe('HIT');
  });
});

describe('a conditional branch leading to a replica pool', () => {
  it('the branch picks the pool and the pool picks its least-loaded replica; the trace has both', async () => {
    const [busy, idle] = await Promise.all([0, 1].map(() => new FakeEngine({ engine: 'vllm', outputTokens: 2, decodeMsPerToken: 0 }).listen()));
    busy!.reported = { running: 8, waiting: 30, kvUsage: 0.95 };
    const pooled = await startGateway({
      providers: {
        gpus: { type: 'openai-compatible', replicas: [busy!.url, idle!.url], engine: 'vllm', engineMetrics: { intervalMs: 50 } },
        up: { type: 'openai-compatible', baseUrl: upstream.url },
      },
      routing: { retry: { maxAttempts: 1 } },
      telemetry: { sink: 'duckdb', dataDir: mkdtempSync(join(tmpdir(), 'gateway-conditional-pool-')), flushIntervalMs: 50 },
      routes: {
        tiered: {
          strategy: 'conditional',
          branches: [{ name: 'self-hosted', when: { 'metadata.tier': 'batch' }, target: { provider: 'gpus', model: 'fake-model' } }],
          default: target('hosted-model'),
        },
      },
    });
    try {
      // Both replicas' metrics read, so the pool knows which one is busy.
      await waitFor(async () => {
        const view = (await (await fetch(`${pooled.origin}/api/fleet`)).json()) as { data: { replicas: { metricsFresh: boolean }[] }[] };
        return view.data[0]!.replicas.every((r) => r.metricsFresh);
      }, 5000);
      const openai = new OpenAI({ baseURL: pooled.baseURL, apiKey: 'unused', maxRetries: 0, defaultHeaders: { 'x-gateway-metadata': '{"tier":"batch"}' } });
      const answered = await ask(openai, {}, 'tiered');
      expect([answered.branch, answered.target]).toEqual(['self-hosted', 'fake-model']);
      expect([idle!.received.length, busy!.received.length]).toEqual([1, 0]);
      const row = await storedTrace(pooled.app, answered.traceId);
      expect([row.branch, row.replica, row.replica_reason]).toEqual(['self-hosted', new URL(idle!.url).host, 'least-loaded']);
    } finally {
      await pooled.close();
      await Promise.all([busy!.close(), idle!.close()]);
    }
  });
});
