/**
 * Every gateway feature applies to the Responses API as it does to chat: trace rows (operation
 * `responses`, usage reported or estimated, cost, dropped tools), metrics, spans with
 * gen_ai.operation.name, the cache (a Responses answer replayed as JSON or as a stream, under a new
 * response id that can be continued), keys and route permissions (another key's responses do not exist),
 * feedback and the fine-tuning export of Responses conversations, and a route that refuses to drop
 * hosted tools.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import OpenAI from 'openai';
import type { ResponseStreamEvent } from 'openai/resources/responses/responses';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TraceRow } from '../../src/telemetry/trace-row.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { metricValue } from '../helpers/metrics.js';
import { startMockUpstream, type MockUpstream } from '../helpers/mock-upstream.js';
import { OPENAI_KEY, startNativeUpstreams, type NativeUpstreams } from '../helpers/native-upstreams.js';
import { assertResponseStreamEvent } from '../helpers/openai-schemas.js';
import { create, responsesProviders, stream } from '../helpers/responses-client.js';
import { storedTrace } from '../helpers/trace-rows.js';

const KEY_A = 'sk-gw-team-a-0123456789abcdef0123';
const KEY_B = 'sk-gw-team-b-0123456789abcdef0123';
const ADMIN_KEY = 'sk-gw-admin-0123456789abcdef0123';
const hash = (key: string): string => createHash('sha256').update(key).digest('hex');

let chat: MockUpstream;
let native: NativeUpstreams;
let gateway: RunningGateway;
let a: OpenAI;
let b: OpenAI;
const spans = new InMemorySpanExporter();

beforeAll(async () => {
  chat = await startMockUpstream();
  native = await startNativeUpstreams();
  gateway = await startGateway(
    {
      providers: responsesProviders(chat, native),
      routing: { retry: { maxAttempts: 1 } },
      auth: {
        adminKeyHash: hash(ADMIN_KEY),
        keys: [
          { id: 'team-a', hash: hash(KEY_A), routes: ['*'] },
          { id: 'team-b', hash: hash(KEY_B), routes: ['priced', 'cached', 'chat/*', 'native-shared'] },
        ],
      },
      telemetry: {
        sink: 'duckdb',
        dataDir: mkdtempSync(join(tmpdir(), 'gateway-responses-')),
        logBodies: true,
        flushIntervalMs: 50,
        pricing: { 'priced-model': { input: 2, output: 10 } },
      },
      routes: {
        priced: { targets: [{ provider: 'chat', model: 'priced-model' }] },
        cached: { targets: [{ provider: 'chat', model: 'priced-model' }], cache: { enabled: true } },
        'native-shared': { targets: [{ provider: 'oai', model: 'gpt-4o-mini' }] },
        strict: { hostedTools: 'reject', targets: [{ provider: 'chat', model: 'small-model' }] },
        'strict-native-second': { hostedTools: 'reject', targets: [{ provider: 'chat', model: 'small-model' }, { provider: 'oai', model: 'gpt-4o-mini' }] },
      },
    },
    { spanExporter: spans },
  );
  a = new OpenAI({ baseURL: gateway.baseURL, apiKey: KEY_A, maxRetries: 0 });
  b = new OpenAI({ baseURL: gateway.baseURL, apiKey: KEY_B, maxRetries: 0 });
});

afterAll(async () => {
  await gateway?.close();
  await Promise.all([chat?.close(), native?.close()]);
});

const traceOf = (id: string): Promise<TraceRow> => storedTrace(gateway.app, id);

describe('telemetry', () => {
  it('trace rows say operation responses, with reported usage and cost, JSON and streamed', async () => {
    const { data, response } = await a.responses.create({ model: 'priced', input: 'hi', user: 'ada' }).withResponse();
    const row = await traceOf(response.headers.get('x-gateway-trace-id')!);
    expect(row).toMatchObject({ operation: 'responses', route: 'priced', provider: 'chat', model: 'priced-model', status: 200, stream: 0, input_tokens: 11, output_tokens: 6, usage_estimated: 0, user: 'ada', key_id: 'team-a' });
    expect(row.cost_usd).toBeCloseTo((11 * 2 + 6 * 10) / 1e6, 12);
    expect(JSON.parse(row.response_body)).toMatchObject({ id: data.id, object: 'response' });

    const streamed = await fetch(`${gateway.baseURL}/responses`, { method: 'POST', headers: { authorization: `Bearer ${KEY_A}` }, body: JSON.stringify({ model: 'priced', input: 'hi', stream: true }) });
    await streamed.text();
    const streamRow = await traceOf(streamed.headers.get('x-gateway-trace-id')!);
    expect(streamRow).toMatchObject({ operation: 'responses', stream: 1, status: 200, input_tokens: 11, output_tokens: 8, usage_estimated: 0 });
    expect(streamRow.ttft_ms).toBeGreaterThan(0);
    expect(JSON.parse(streamRow.response_body)).toMatchObject({ object: 'response', status: 'completed' });
  });

  it('usage is estimated when the upstream reports none, JSON and streamed', async () => {
    for (const streaming of [false, true]) {
      const response = await fetch(`${gateway.baseURL}/responses`, { method: 'POST', headers: { authorization: `Bearer ${KEY_A}` }, body: JSON.stringify({ model: 'chat/no-usage-model', input: 'Say hello to the world', stream: streaming }) });
      const body = await response.text();
      if (!streaming) expect(JSON.parse(body)).not.toHaveProperty('usage');
      const row = await traceOf(response.headers.get('x-gateway-trace-id')!);
      expect(row).toMatchObject({ usage_estimated: 1, operation: 'responses' });
      expect(row.input_tokens).toBeGreaterThan(0);
      expect(row.output_tokens).toBeGreaterThan(0);
    }
  });

  it('dropped hosted tools are named on the trace', async () => {
    const { response } = await a.responses.create({ model: 'priced', input: 'news?', tools: [{ type: 'web_search' }] }).withResponse();
    const row = await traceOf(response.headers.get('x-gateway-trace-id')!);
    expect(row.metadata_keys).toContain('dropped_tools');
    expect(row.metadata_values[row.metadata_keys.indexOf('dropped_tools')]).toBe('web_search');
  });

  it('metrics count Responses requests; spans carry gen_ai.operation.name chat and the route', async () => {
    const before = await metricValue(gateway.origin, 'gateway_requests_total', { route: 'priced', status_class: '2xx' });
    await a.responses.create({ model: 'priced', input: 'count me' });
    const after = await metricValue(gateway.origin, 'gateway_requests_total', { route: 'priced', status_class: '2xx' });
    expect(after).toBe(before + 1);
    const request = spans.getFinishedSpans().find((span) => span.name === 'POST /v1/responses');
    expect(request?.attributes).toMatchObject({ 'gen_ai.operation.name': 'chat', 'http.route': '/v1/responses', 'gateway.route': 'priced' });
    const attempt = spans.getFinishedSpans().find((span) => span.name === 'chat priced-model');
    expect(attempt?.attributes['gen_ai.usage.input_tokens']).toBe(11);
  });
});

describe('cache', () => {
  it('a JSON answer is replayed as JSON and as a stream, each under a new response id that can be continued', async () => {
    const first = await create(a, { model: 'cached', input: 'cache me' });
    const { data: again, response } = await a.responses.create({ model: 'cached', input: 'cache me' }).withResponse();
    expect(response.headers.get('x-gateway-cache')).toBe('HIT');
    expect(again.id).not.toBe(first.id);
    expect(again.output_text).toBe(first.output_text);
    const replayed = await stream(a, { model: 'cached', input: 'cache me' });
    expect(replayed.text).toBe(first.output_text);
    expect(replayed.final.id).not.toBe(first.id);
    const next = await create(a, { model: 'cached', input: 'and then?', previous_response_id: replayed.final.id });
    expect(next.status).toBe('completed');
    const messages = chat.requests.at(-1)!.body.messages as { role: string }[];
    expect(messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
  });

  it('a streamed answer is replayed as JSON', async () => {
    const streamed = await stream(a, { model: 'cached', input: 'stream then json' });
    const { data, response } = await a.responses.create({ model: 'cached', input: 'stream then json' }).withResponse();
    expect(response.headers.get('x-gateway-cache')).toBe('HIT');
    expect(data.output_text).toBe(streamed.text);
    const events: ResponseStreamEvent[] = [];
    for await (const event of await a.responses.create({ model: 'cached', input: 'stream then json', stream: true })) {
      assertResponseStreamEvent(JSON.parse(JSON.stringify(event)));
      events.push(event);
    }
    expect(events.at(-1)?.type).toBe('response.completed');
  });
});

describe('keys', () => {
  it("another key's responses do not exist: retrieve, input items, delete and previous_response_id", async () => {
    const mine = await create(b, { model: 'chat/small-model', input: 'mine' });
    await expect(a.responses.retrieve(mine.id)).rejects.toMatchObject({ status: 404, code: 'response_not_found' });
    await expect(a.responses.inputItems.list(mine.id)).rejects.toMatchObject({ status: 404 });
    await expect(a.responses.delete(mine.id)).rejects.toMatchObject({ status: 404 });
    await expect(a.responses.create({ model: 'chat/small-model', input: 'x', previous_response_id: mine.id })).rejects.toMatchObject({ status: 400, code: 'previous_response_not_found' });
    expect((await b.responses.retrieve(mine.id)).id).toBe(mine.id);
  });

  it("native answers carry the gateway's own response ids: an upstream that repeats its ids never clobbers another key's conversation", async () => {
    // The native upstream replays one recorded response: the same upstream id every time.
    const recorded = await fetch(`${native.url}/v1/responses`, { method: 'POST', headers: { authorization: `Bearer ${OPENAI_KEY}` }, body: JSON.stringify({ model: 'x', input: 'x' }) });
    const upstreamId = ((await recorded.json()) as { id: string }).id;
    const mine = await create(a, { model: 'native-shared', input: 'first, from team a' });
    const theirs = await create(b, { model: 'native-shared', input: 'first, from team b' });
    const streamed = (await stream(a, { model: 'native-shared', input: 'streamed, from team a' })).final;
    expect(new Set([upstreamId, mine.id, theirs.id, streamed.id]).size).toBe(4);
    const firstText = async (client: OpenAI, id: string) => {
      const [item] = (await client.responses.inputItems.list(id, { order: 'asc' })).data as { content?: { text?: string }[] }[];
      return item?.content?.[0]?.text;
    };
    expect(await firstText(a, mine.id)).toBe('first, from team a');
    expect(await firstText(b, theirs.id)).toBe('first, from team b');
    expect(await firstText(a, streamed.id)).toBe('streamed, from team a');
    expect((await a.responses.retrieve(streamed.id)).id).toBe(streamed.id);
    // Continuing team a's response sends team a's conversation upstream, and nothing of team b's.
    await create(a, { model: 'native-shared', input: 'second', previous_response_id: mine.id });
    const sent = JSON.stringify(native.requests.at(-1)!.body.input);
    expect(sent).toContain('first, from team a');
    expect(sent).not.toContain('team b');
  });

  it('route permissions apply; a request without a key is refused', async () => {
    await expect(b.responses.create({ model: 'oai/gpt-4o-mini', input: 'x' })).rejects.toMatchObject({ status: 403, code: 'model_not_allowed' });
    const anonymous = await fetch(`${gateway.baseURL}/responses`, { method: 'POST', body: JSON.stringify({ model: 'priced', input: 'x' }) });
    expect(anonymous.status).toBe(401);
    const lookup = await fetch(`${gateway.baseURL}/responses/resp_x`);
    expect(lookup.status).toBe(401);
  });
});

describe('feedback and export', () => {
  it('a scored Responses conversation exports as chat fine-tuning messages, earlier turns included', async () => {
    const first = await create(a, { model: 'priced', input: 'My name is Ada.', instructions: 'Be kind.' });
    const { data: second, response } = await a.responses.create({ model: 'priced', input: 'What is my name?', previous_response_id: first.id }).withResponse();
    const traceId = response.headers.get('x-gateway-trace-id')!;
    await traceOf(traceId);
    const feedback = await fetch(`${gateway.baseURL}/feedback`, { method: 'POST', headers: { authorization: `Bearer ${KEY_A}` }, body: JSON.stringify({ trace_id: traceId, score: 1 }) });
    expect(feedback.status).toBe(201);
    const exported = await fetch(`${gateway.origin}/api/export?route=priced&min_score=0.5`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    const lines = (await exported.text()).trim().split('\n').map((line) => JSON.parse(line) as { messages: unknown[] });
    expect(lines).toContainEqual({
      messages: [
        { role: 'user', content: 'My name is Ada.' },
        { role: 'assistant', content: first.output_text },
        { role: 'user', content: 'What is my name?' },
        { role: 'assistant', content: second.output_text },
      ],
    });
  });
});

describe('hostedTools: reject', () => {
  it('refuses translated targets for a request with hosted tools, naming the tools; a native target serves it', async () => {
    await expect(a.responses.create({ model: 'strict', input: 'news?', tools: [{ type: 'web_search' }] })).rejects.toMatchObject({ status: 400, code: 'invalid_request', param: 'tools' });
    expect((await a.responses.create({ model: 'strict', input: 'no tools' })).status).toBe('completed');
    const { response } = await a.responses.create({ model: 'strict-native-second', input: 'news?', tools: [{ type: 'web_search' }] }).withResponse();
    expect(response.headers.get('x-gateway-provider')).toBe('oai');
  });
});
