/**
 * Telemetry end to end on the embedded DuckDB sink: trace rows for JSON, stream, cached and failed
 * requests; usage injected, stripped and estimated; cost; /metrics values; spans; redaction in logs and
 * traces; feedback and dataset export round-trips.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TraceRow } from '../../src/telemetry/trace-row.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { metricValue } from '../helpers/metrics.js';
import { startMockUpstream, type MockUpstream } from '../helpers/mock-upstream.js';
import { storedTrace } from '../helpers/trace-rows.js';

const UPSTREAM_SECRET = 'sk-upstream-supersecret-1234567890';
let upstream: MockUpstream;
let gateway: RunningGateway;
let client: OpenAI;
const logLines: string[] = [];
const spans = new InMemorySpanExporter();

beforeAll(async () => {
  upstream = await startMockUpstream();
  gateway = await startGateway(
    {
      providers: {
        // Listed, so metrics name them (a direct request for an unlisted model is counted as `other`).
        up: { type: 'openai-compatible', baseUrl: upstream.url, apiKey: UPSTREAM_SECRET, models: ['no-usage-model', 'no-price-model'] },
        sim: { type: 'mock' },
      },
      routing: { retry: { maxAttempts: 1 } },
      telemetry: {
        sink: 'duckdb',
        dataDir: mkdtempSync(join(tmpdir(), 'gateway-telemetry-')),
        logBodies: true,
        logRequests: true,
        flushIntervalMs: 50,
        pricing: { 'priced-model': { input: 2, output: 10 } },
      },
      logging: { level: 'info' },
      routes: {
        priced: { targets: [{ provider: 'up', model: 'priced-model' }] },
        cached: { targets: [{ provider: 'up', model: 'priced-model' }], cache: { enabled: true } },
      },
    },
    { spanExporter: spans, logStream: { write: (line: string) => void logLines.push(line) } },
  );
  client = new OpenAI({ baseURL: gateway.baseURL, apiKey: 'client-key-should-not-leak-1234567890', maxRetries: 0 });
});

afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
});

const traceOf = (id: string): Promise<TraceRow> => storedTrace(gateway.app, id);

describe('trace rows', () => {
  it('a JSON request: route, target, status, usage, cost, metadata, bodies', async () => {
    const { response } = await client.chat.completions
      .create({ model: 'priced', messages: [{ role: 'user', content: 'hi' }], user: 'alice' }, { headers: { 'x-gateway-metadata': '{"team":"search","env":"prod"}' } })
      .withResponse();
    const row = await traceOf(response.headers.get('x-gateway-trace-id')!);
    expect(row).toMatchObject({
      route: 'priced', operation: 'chat', provider: 'up', model: 'priced-model', requested_model: 'priced', status: 200, error_code: '',
      stream: 0, attempts: 1, cache: 'BYPASS', input_tokens: 11, output_tokens: 6, usage_estimated: 0, user: 'alice',
      metadata_keys: ['team', 'env'], metadata_values: ['search', 'prod'], ttft_ms: null,
    });
    expect(row.cost_usd).toBeCloseTo((11 * 2 + 6 * 10) / 1e6, 12);
    expect(row.latency_ms).toBeGreaterThan(0);
    expect(row.upstream_ms).toBeGreaterThan(0);
    expect(row.upstream_ms).toBeLessThanOrEqual(row.latency_ms);
    expect(Math.abs(row.ts_ms - Date.now())).toBeLessThan(10_000);
    expect(JSON.parse(row.request_body)).toMatchObject({ model: 'priced', messages: [{ role: 'user', content: 'hi' }] });
    expect(JSON.parse(row.response_body).choices[0].message.content).toBe('Hello from the mock upstream');
  });

  it('a stream: usage injected upstream, stripped for the client, recorded with TTFT', async () => {
    const response = await fetch(`${gateway.baseURL}/chat/completions`, {
      method: 'POST',
      body: JSON.stringify({ model: 'priced', messages: [{ role: 'user', content: 'hi' }], stream: true }),
    });
    const text = await response.text();
    expect(text).not.toContain('"usage"');
    expect(upstream.requests.at(-1)!.body.stream_options).toEqual({ include_usage: true });
    const row = await traceOf(response.headers.get('x-gateway-trace-id')!);
    expect(row).toMatchObject({ stream: 1, status: 200, input_tokens: 11, output_tokens: 8, usage_estimated: 0 });
    expect(row.ttft_ms).toBeGreaterThan(0);
    expect(row.ttft_ms!).toBeLessThanOrEqual(row.latency_ms);
    expect(JSON.parse(row.response_body).choices[0].message.content).toBe('Hello from the mock upstream');
  });

  it('estimates usage with a tokenizer when the upstream reports none', async () => {
    const response = await fetch(`${gateway.baseURL}/completions`, {
      method: 'POST',
      body: JSON.stringify({ model: 'up/no-usage-model', prompt: 'Say hello to the world', stream: true }),
    });
    await response.text();
    const row = await traceOf(response.headers.get('x-gateway-trace-id')!);
    expect(row.usage_estimated).toBe(1);
    expect(row.input_tokens).toBe(5); // "Say hello to the world" in o200k
    expect(row.output_tokens).toBe(2); // "completed text"
    const json = await client.chat.completions.create({ model: 'up/no-usage-json', messages: [{ role: 'user', content: 'Say hello' }] }).withResponse();
    const jsonRow = await traceOf(json.response.headers.get('x-gateway-trace-id')!);
    expect(jsonRow).toMatchObject({ usage_estimated: 1, input_tokens: 3 + 4 + 2, output_tokens: 5 }); // framing + "Say hello"; "Hello from the mock upstream"
    expect(await metricValue(gateway.origin, 'gateway_usage_estimated_total', { model: 'no-usage-model' })).toBe(1);
  });

  it('usage that is not counts (negative, fractional) is estimated instead, and the request is still recorded', async () => {
    const { response } = await client.chat.completions.create({ model: 'up/bad-usage', messages: [{ role: 'user', content: 'Say hello' }] }).withResponse();
    const row = await traceOf(response.headers.get('x-gateway-trace-id')!);
    expect(row).toMatchObject({ usage_estimated: 1, input_tokens: 3 + 4 + 2, output_tokens: 5, status: 200 });
  });

  it('a cached answer is a HIT row with no tokens and no cost', async () => {
    const body = { model: 'cached', messages: [{ role: 'user' as const, content: 'cache me' }] };
    await client.chat.completions.create(body);
    const { response } = await client.chat.completions.create(body).withResponse();
    const row = await traceOf(response.headers.get('x-gateway-trace-id')!);
    expect(row).toMatchObject({ cache: 'HIT', attempts: 0, input_tokens: 0, output_tokens: 0, cost_usd: 0, status: 200 });
  });

  it('a failed request keeps its status and error code', async () => {
    const response = await fetch(`${gateway.baseURL}/chat/completions`, { method: 'POST', body: JSON.stringify({ model: 'up/fail-503', messages: [{ role: 'user', content: 'x' }] }) });
    const row = await traceOf(response.headers.get('x-gateway-trace-id')!);
    expect(row).toMatchObject({ status: 503, error_code: 'upstream_error', provider: 'up', model: 'fail-503', response_body: '' });
    const invalid = await fetch(`${gateway.baseURL}/chat/completions`, { method: 'POST', body: '{oops' });
    expect((await traceOf(invalid.headers.get('x-gateway-trace-id')!)).error_code).toBe('invalid_json');
  });

  it('a model with no price has a null cost and is counted', async () => {
    const { response } = await client.chat.completions.create({ model: 'up/no-price-model', messages: [{ role: 'user', content: 'x' }] }).withResponse();
    expect((await traceOf(response.headers.get('x-gateway-trace-id')!)).cost_usd).toBeNull();
    expect(await metricValue(gateway.origin, 'gateway_unpriced_requests_total', { model: 'no-price-model' })).toBe(1);
  });
});

describe('trace ids', () => {
  it('are made by the gateway: two requests reusing one x-request-id get two traces, each keeping the client id', async () => {
    const ask = () => client.chat.completions.create({ model: 'priced', messages: [{ role: 'user', content: 'hi' }] }, { headers: { 'x-request-id': 'reused-id-1' } }).withResponse();
    const first = await ask();
    const second = await ask();
    for (const { response } of [first, second]) {
      expect(response.headers.get('x-request-id')).toBe('reused-id-1');
      expect(response.headers.get('x-gateway-trace-id')).toMatch(/^[0-9a-f-]{36}$/);
    }
    expect(upstream.requests.at(-1)!.headers['x-request-id']).toBe('reused-id-1');
    const ids = [first, second].map(({ response }) => response.headers.get('x-gateway-trace-id')!);
    expect(ids[0]).not.toBe(ids[1]);
    const rows = await Promise.all(ids.map(traceOf));
    expect(rows.map((row) => [row.trace_id, row.client_request_id])).toEqual([[ids[0], 'reused-id-1'], [ids[1], 'reused-id-1']]);

    // Feedback names exactly one of them; the dashboard finds both by the client's id.
    const created = await fetch(`${gateway.baseURL}/feedback`, { method: 'POST', body: JSON.stringify({ trace_id: ids[1], score: 1 }) });
    expect(created.status).toBe(201);
    const feedbackOf = async (id: string) => ((await (await fetch(`${gateway.origin}/api/traces/${id}`)).json()) as { feedback: unknown[] }).feedback;
    expect(await feedbackOf(ids[0]!)).toHaveLength(0);
    expect(await feedbackOf(ids[1]!)).toHaveLength(1);
    const found = (await (await fetch(`${gateway.origin}/api/traces?range=1h&q=reused-id-1`)).json()) as { total: number; rows: TraceRow[] };
    expect(found.rows.map((row) => row.trace_id).sort()).toEqual([...ids].sort());

    // Without a client id, x-request-id is the trace id, and a stream carries the trace id too.
    const stream = await fetch(`${gateway.baseURL}/chat/completions`, { method: 'POST', body: JSON.stringify({ model: 'priced', messages: [{ role: 'user', content: 'hi' }], stream: true }) });
    await stream.text();
    expect(stream.headers.get('x-request-id')).toBe(stream.headers.get('x-gateway-trace-id'));
    expect((await traceOf(stream.headers.get('x-gateway-trace-id')!)).client_request_id).toBe('');
  });
});

describe('metrics after known traffic', () => {
  it('counts requests, tokens, cost and pipeline health by name and value', async () => {
    const before = await metricValue(gateway.origin, 'gateway_requests_total', { route: 'sim/mock-1' }).catch(() => 0);
    for (let i = 0; i < 3; i++) await client.chat.completions.create({ model: 'sim/mock-1', messages: [{ role: 'user', content: 'one two' }] });
    expect(await metricValue(gateway.origin, 'gateway_requests_total', { route: 'sim/mock-1', status_class: '2xx' })).toBe(before + 3);
    expect(await metricValue(gateway.origin, 'gateway_tokens_total', { route: 'sim/mock-1', type: 'input' })).toBe(6);
    expect(await metricValue(gateway.origin, 'gateway_request_duration_seconds_count', { route: 'sim/mock-1' })).toBe(3);
    expect(await metricValue(gateway.origin, 'gateway_overhead_seconds_count', { route: 'sim/mock-1' })).toBe(3);
    expect(await metricValue(gateway.origin, 'gateway_upstream_duration_seconds_count', { route: 'sim/mock-1', provider: 'sim' })).toBe(3);
    expect(await metricValue(gateway.origin, 'gateway_cost_usd_total', { route: 'priced' })).toBeGreaterThan(0);
    await gateway.app.traces!.flush();
    expect(await metricValue(gateway.origin, 'gateway_traces_written_total')).toBeGreaterThanOrEqual(10);
    expect(await metricValue(gateway.origin, 'gateway_trace_queue_depth')).toBe(0);
    expect(await metricValue(gateway.origin, 'gateway_trace_sink_up')).toBe(1);
    expect(await metricValue(gateway.origin, 'gateway_traces_dropped_total')).toBe(0);
  });
});

describe('spans', () => {
  const named = (name: string): ReadableSpan[] => spans.getFinishedSpans().filter((s) => s.name === name);
  const upstreamPort = (): number => Number(new URL(upstream.url).port);

  it('a server span per request and an inference span per attempt, by the HTTP and GenAI conventions; traceparent propagated', async () => {
    spans.reset();
    const parent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const { response } = await client.chat.completions
      .create({ model: 'priced', messages: [{ role: 'user', content: 'trace me' }], temperature: 0.5, max_tokens: 50 }, { headers: { traceparent: parent } })
      .withResponse();
    expect(response.status).toBe(200);
    const [request] = named('POST /v1/chat/completions');
    const [attempt] = named('chat priced-model');
    expect(request!.kind).toBe(1); // SERVER
    expect(request!.spanContext().traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(request!.attributes).toMatchObject({
      'http.request.method': 'POST', 'http.route': '/v1/chat/completions', 'http.response.status_code': 200,
      'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'priced', 'gen_ai.provider.name': 'openai', 'gen_ai.response.model': 'priced-model',
      'gen_ai.usage.input_tokens': 11, 'gen_ai.usage.output_tokens': 6, 'gateway.route': 'priced', 'gateway.provider': 'up', 'gateway.attempts': 1,
    });
    expect(request!.status.code).toBe(SpanStatusCode.UNSET);
    expect(attempt!.kind).toBe(2); // CLIENT
    expect(attempt!.attributes).toEqual({
      'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'priced-model',
      'gen_ai.request.temperature': 0.5, 'gen_ai.request.max_tokens': 50,
      'gen_ai.response.model': 'priced-model', 'gen_ai.response.id': 'chatcmpl-1', 'gen_ai.response.finish_reasons': ['stop'],
      'gen_ai.usage.input_tokens': 11, 'gen_ai.usage.output_tokens': 6,
      'server.address': '127.0.0.1', 'server.port': upstreamPort(), 'gateway.provider': 'up', 'gateway.attempt': 1,
    });
    expect(attempt!.parentSpanContext?.spanId).toBe(request!.spanContext().spanId);
    const sent = upstream.requests.at(-1)!.headers.traceparent as string;
    expect(sent).toBe(`00-4bf92f3577b34da6a3ce929d0e0e4736-${attempt!.spanContext().spanId}-01`);
  });

  it('a streamed answer: gen_ai.request.stream, finish reasons and usage from the chunks, time to first chunk', async () => {
    spans.reset();
    const stream = await client.chat.completions.create({ model: 'priced', messages: [{ role: 'user', content: 'stream me' }], stream: true });
    for await (const chunk of stream) void chunk;
    const [request] = named('POST /v1/chat/completions');
    const [attempt] = named('chat priced-model');
    expect(attempt!.attributes).toMatchObject({
      'gen_ai.request.stream': true, 'gen_ai.response.model': 'priced-model', 'gen_ai.response.finish_reasons': ['stop'],
      'gen_ai.usage.input_tokens': expect.any(Number), 'gen_ai.usage.output_tokens': expect.any(Number),
    });
    expect(request!.attributes).toMatchObject({ 'gen_ai.request.stream': true, 'http.response.status_code': 200 });
    expect(request!.attributes['gen_ai.response.time_to_first_chunk']).toBeGreaterThan(0);
  });

  it('a rejected request still gets its server span; a 4xx is not a server error, a 5xx is', async () => {
    spans.reset();
    const invalid = await fetch(`${gateway.baseURL}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'priced' }) });
    expect(invalid.status).toBe(400);
    const failing = await fetch(`${gateway.baseURL}/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'up/fail-500', messages: [{ role: 'user', content: 'x' }] }),
    });
    expect(failing.status).toBeGreaterThanOrEqual(500);
    const [rejected, failed] = named('POST /v1/chat/completions');
    expect(rejected!.attributes).toMatchObject({ 'http.response.status_code': 400, 'gateway.error.code': 'invalid_request' });
    expect(rejected!.attributes['error.type']).toBeUndefined();
    expect(rejected!.status.code).toBe(SpanStatusCode.UNSET);
    expect(failed!.status.code).toBe(SpanStatusCode.ERROR);
    expect(failed!.attributes['error.type']).toBe(failed!.attributes['gateway.error.code']);
    const [attempt] = named('chat fail-500');
    expect(attempt!.status.code).toBe(SpanStatusCode.ERROR);
    expect(attempt!.attributes['error.type']).toEqual(expect.any(String));
    expect(attempt!.parentSpanContext?.spanId).toBe(failed!.spanContext().spanId);
  });
});

describe('redaction', () => {
  it('no secret reaches log lines or stored bodies', async () => {
    const { response } = await client.chat.completions
      .create({ model: 'priced', messages: [{ role: 'user', content: 'my key is sk-live-abcdefghijklmnopqrstuvwx please keep it' }] })
      .withResponse();
    const row = await traceOf(response.headers.get('x-gateway-trace-id')!);
    expect(row.request_body).toContain('[redacted]');
    expect(row.request_body).not.toContain('sk-live-abcdefghijklmnopqrstuvwx');
    const logs = logLines.join('');
    expect(logs).toContain('"msg":"request"');
    expect(logs).not.toContain(UPSTREAM_SECRET);
    expect(logs).not.toContain('client-key-should-not-leak');
    expect(logs).not.toContain('sk-live-abcdefghijklmnopqrstuvwx');
  });
  it("a client's request id, model name and user are stored and logged without credentials, and user at most 256 characters", async () => {
    const clientKey = 'sk-proj-Abc123def456ghi789jkl';
    const asked = await fetch(`${gateway.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': clientKey },
      body: JSON.stringify({ model: 'priced', user: 'u'.repeat(100_000), messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(asked.status).toBe(200);
    const row = await traceOf(asked.headers.get('x-gateway-trace-id')!);
    expect(row.client_request_id).toBe('[redacted]');
    expect(row.user).toBe('u'.repeat(256));
    // provider/model addressing passes the client's model name to the provider: the mock takes any.
    const direct = await fetch(`${gateway.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: `sim/${clientKey}`, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(direct.status).toBe(200);
    const directRow = await traceOf(direct.headers.get('x-gateway-trace-id')!);
    expect(directRow).toMatchObject({ requested_model: 'sim/[redacted]', route: 'sim/[redacted]', model: '[redacted]', provider: 'sim' });
    await expect.poll(() => logLines.join('')).toContain(direct.headers.get('x-gateway-trace-id')!);
    expect(logLines.join('')).not.toContain(clientKey);
  });
});

describe('feedback and export', () => {
  it('feedback on a trace is stored and returned with it; an unknown id is 404', async () => {
    const { response } = await client.chat.completions.create({ model: 'priced', messages: [{ role: 'user', content: 'rate me' }] }).withResponse();
    const traceId = response.headers.get('x-gateway-trace-id')!;
    const created = await fetch(`${gateway.baseURL}/feedback`, { method: 'POST', body: JSON.stringify({ trace_id: traceId, score: 1, label: 'great', comment: 'spot on' }) });
    expect(created.status).toBe(201);
    await gateway.app.traces!.flush();
    const detail = (await (await fetch(`${gateway.origin}/api/traces/${traceId}`)).json()) as { trace: TraceRow; feedback: { score: number; label: string }[] };
    expect(detail.trace.trace_id).toBe(traceId);
    expect(detail.feedback).toMatchObject([{ score: 1, label: 'great' }]);
    const unknown = await fetch(`${gateway.baseURL}/feedback`, { method: 'POST', body: JSON.stringify({ trace_id: 'no-such-trace', score: 1 }) });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe('trace_not_found');
    const invalid = await fetch(`${gateway.baseURL}/feedback`, { method: 'POST', body: JSON.stringify({ trace_id: traceId, score: 'high' }) });
    expect(((await invalid.json()) as { error: { param: string } }).error.param).toBe('score');
  });

  it('exports fine-tuning JSONL filtered by route and minimum score', async () => {
    const good = await client.chat.completions.create({ model: 'sim/mock-1', messages: [{ role: 'system', content: 'be nice' }, { role: 'user', content: 'good answer' }] }).withResponse();
    const bad = await client.chat.completions.create({ model: 'sim/mock-1', messages: [{ role: 'user', content: 'bad answer' }] }).withResponse();
    await gateway.app.traces!.flush();
    for (const [r, score] of [[good, 0.9], [bad, 0.1]] as const) {
      await fetch(`${gateway.baseURL}/feedback`, { method: 'POST', body: JSON.stringify({ trace_id: r.response.headers.get('x-gateway-trace-id'), score }) });
    }
    const response = await fetch(`${gateway.origin}/api/export?route=sim/mock-1&min_score=0.5&from=${Date.now() - 60_000}`);
    expect(response.headers.get('content-type')).toContain('application/jsonl');
    const lines = (await response.text()).trim().split('\n').map((line) => JSON.parse(line) as { messages: { role: string; content: string }[] });
    expect(lines).toEqual([
      { messages: [{ role: 'system', content: 'be nice' }, { role: 'user', content: 'good answer' }, { role: 'assistant', content: 'This is mock-1 answering. You said: good answer' }] },
    ]);
    const badQuery = await fetch(`${gateway.origin}/api/export?from=yesterday`);
    expect(badQuery.status).toBe(400);
  });
});
