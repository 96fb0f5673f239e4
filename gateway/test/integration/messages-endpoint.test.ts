/**
 * POST /v1/messages and /v1/messages/count_tokens with the official Anthropic TypeScript SDK as the
 * client, only its base URL and key changed: against the Anthropic mock server (pass-through; it
 * replays Anthropic's recorded answers), a mock OpenAI-compatible upstream and the Gemini mock
 * (translated). Faults as for chat: cut before and after the first event, 429/5xx with fallback, the
 * client going away.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import type { Message, MessageCreateParamsNonStreaming, MessageStreamEvent } from '@anthropic-ai/sdk/resources/messages';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TraceRow } from '../../src/telemetry/trace-row.js';
import { recordedEvents, sdkFinalMessage } from '../helpers/anthropic-events.js';
import { startGateway, waitFor, type RunningGateway } from '../helpers/gateway.js';
import { storedTrace } from '../helpers/trace-rows.js';
import { seededRandom } from '../helpers/seeded-random.js';
import { startMockUpstream, type MockUpstream } from '../helpers/mock-upstream.js';
import { ANTHROPIC_KEY, GEMINI_KEY, mockAnthropicTokenCount, startNativeUpstreams, type NativeUpstreams } from '../helpers/native-upstreams.js';
import { recorded } from '../helpers/recorded-responses.js';

let native: NativeUpstreams;
let openai: MockUpstream;
let gateway: RunningGateway;
let client: Anthropic;

const GATEWAY_KEY = 'gw-messages-key-0123456789';
const ADMIN_KEY = 'gw-messages-admin-key-0123456789';

beforeAll(async () => {
  native = await startNativeUpstreams();
  openai = await startMockUpstream();
  gateway = await startGateway({
    routing: { retry: { maxAttempts: 1, initialBackoffMs: 1, maxBackoffMs: 2 } },
    providers: {
      claude: { type: 'anthropic', apiKey: ANTHROPIC_KEY, baseUrl: native.url, defaultMaxTokens: 777 },
      gem: { type: 'gemini', apiKey: GEMINI_KEY, baseUrl: native.url },
      local: { type: 'openai-compatible', baseUrl: openai.url },
    },
    routes: {
      'claude-then-local': { targets: [{ provider: 'claude', model: 'x-error-529' }, { provider: 'local', model: 'gpt-fallback' }] },
      'local-flaky': { retry: { maxAttempts: 2 }, targets: [{ provider: 'local', model: 'fail-500' }, { provider: 'local', model: 'gpt-fallback' }] },
      'cut-then-local': { targets: [{ provider: 'local', model: 'cut-after-0' }, { provider: 'local', model: 'gpt-fallback' }] },
      'web-search': { targets: [{ provider: 'local', model: 'gpt-x' }] },
      cached: { targets: [{ provider: 'local', model: 'gpt-cached' }], cache: { enabled: true } },
      split: { strategy: 'canary', canaryWeight: 50, baseline: { provider: 'local', model: 'gpt-baseline' }, canary: { provider: 'local', model: 'gpt-canary' } },
      tiered: {
        strategy: 'conditional',
        branches: [
          { name: 'premium', when: { 'metadata.tier': 'premium' }, target: { provider: 'claude', model: 'claude-haiku-4-5' } },
          { name: 'ada', when: { user: 'ada' }, target: { provider: 'claude', model: 'claude-sonnet-4-5' } },
        ],
        default: { provider: 'local', model: 'gpt-x' },
      },
    },
    auth: { adminKey: ADMIN_KEY, keys: [{ id: 'team', key: GATEWAY_KEY }] },
    telemetry: { sink: 'duckdb', dataDir: mkdtempSync(join(tmpdir(), 'gateway-messages-')), flushIntervalMs: 50, logBodies: true },
  });
  client = new Anthropic({ baseURL: gateway.origin, apiKey: GATEWAY_KEY, maxRetries: 0 });
});

afterAll(async () => {
  await gateway?.close();
  await native?.close();
  await openai?.close();
});

const ask = (model: string, extra: Partial<MessageCreateParamsNonStreaming> = {}): MessageCreateParamsNonStreaming => ({
  model,
  max_tokens: 256,
  messages: [{ role: 'user', content: 'What is the weather in SF?' }],
  ...extra,
});

/** Raw events of a stream through the gateway, as the SDK parses them off the wire. */
async function rawEvents(model: string, extra: Record<string, unknown> = {}): Promise<{ events: MessageStreamEvent[]; error: unknown }> {
  const events: MessageStreamEvent[] = [];
  let error: unknown;
  try {
    const stream = await client.messages.create({ ...ask(model), ...extra, stream: true });
    for await (const event of stream) events.push(event);
  } catch (thrown) {
    error = thrown;
  }
  return { events, error };
}

const traceOf = (id: string): Promise<TraceRow> => storedTrace(gateway.app, id);

describe('anthropic targets: native pass-through', () => {
  it('messages.create: the recorded Message, model put back, body and version headers passed on', async () => {
    const body = { ...ask('claude/claude-haiku-4-5'), context_management: { edits: [{ type: 'clear_tool_uses_20250919' }] } };
    const { data: message, response } = await client.messages
      .create(body as MessageCreateParamsNonStreaming, { headers: { 'anthropic-version': '2024-10-22', 'anthropic-beta': 'context-management-2025-06-27' } })
      .withResponse();
    const recordedMessage = (recorded('anthropic', 'text-message') as { body: Message }).body;
    expect(message).toEqual({ ...recordedMessage, model: 'claude/claude-haiku-4-5' });
    expect(response.headers.get('x-gateway-provider')).toBe('claude');
    const upstream = native.requests.at(-1)!;
    expect(upstream.body).toEqual({ ...body, model: 'claude-haiku-4-5' });
    expect(upstream.headers['x-api-key']).toBe(ANTHROPIC_KEY);
    // The client's version, not the adapter's own 2023-06-01.
    expect(upstream.headers['anthropic-version']).toBe('2024-10-22');
    expect(upstream.headers['anthropic-beta']).toBe('context-management-2025-06-27');
  });

  it('messages.stream: every recorded event as sent (model put back), the helpers and finalMessage', async () => {
    const stream = client.messages.stream(ask('claude/rec-thinking-refusal-stream', { thinking: { type: 'enabled', budget_tokens: 1024 } }));
    const events: MessageStreamEvent[] = [];
    let text = '';
    let thinking = '';
    // A copy: the SDK accumulates into the message_start event's own message object.
    stream.on('streamEvent', (event) => events.push(JSON.parse(JSON.stringify(event)) as MessageStreamEvent)).on('text', (delta) => (text += delta)).on('thinking', (delta) => (thinking += delta));
    const message = await stream.finalMessage();
    const expected = recordedEvents('thinking-refusal-stream').filter((event) => event.type !== 'ping');
    (expected[0]!.message as { model: string }).model = 'claude/rec-thinking-refusal-stream';
    expect(events).toEqual(expected);
    expect(message.content.map((block) => block.type)).toEqual(['thinking', 'text']);
    expect(message.content[0]).toMatchObject({ thinking, signature: expect.stringMatching(/^c3ludGhldGlj/) });
    expect(text).toBe('Hi');
    expect(message.stop_reason).toBe('refusal');
    expect(message.model).toBe('claude/rec-thinking-refusal-stream');
  });

  it('a tool round trip: the tool call streams in, its result goes back up unchanged', async () => {
    const tools = [{ name: 'get_weather', description: 'Weather', input_schema: { type: 'object' as const, properties: { location: { type: 'string' } } } }];
    const first = await client.messages.stream(ask('claude/x-tool', { tools })).finalMessage();
    const call = first.content.find((block) => block.type === 'tool_use')!;
    expect(call).toMatchObject({ name: 'get_weather', input: { location: 'San Francisco, CA', units: 'f' } });
    expect(first.stop_reason).toBe('tool_use');
    const followUp = [
      { role: 'user' as const, content: 'What is the weather in SF?' },
      { role: 'assistant' as const, content: first.content },
      { role: 'user' as const, content: [{ type: 'tool_result' as const, tool_use_id: call.id, content: '68°F, sunny', is_error: false }] },
    ];
    const second = await client.messages.create(ask('claude/claude-haiku-4-5', { tools, messages: followUp }));
    expect(second.content[0]).toMatchObject({ type: 'text' });
    expect((native.requests.at(-1)!.body.messages as unknown[])[2]).toEqual(followUp[2]);
  });

  it('an error event mid-stream reaches the client as Anthropic sent its type, and no message_stop follows', async () => {
    const { events, error } = await rawEvents('claude/x-midstream-error');
    expect(events.map((event) => event.type)).not.toContain('message_stop');
    expect(events.some((event) => event.type === 'content_block_delta')).toBe(true);
    expect(error).toBeInstanceOf(Anthropic.APIError);
    expect((error as InstanceType<typeof Anthropic.APIError>).type).toBe('overloaded_error');
  });

  it("Anthropic's own errors keep their class, type and message", async () => {
    const error = await client.messages.create(ask('claude/x-error-429')).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(Anthropic.RateLimitError);
    const body = (recorded('anthropic', 'rate-limit-error') as { body: { error: { message: string } } }).body;
    expect((error as InstanceType<typeof Anthropic.RateLimitError>).apiMessage).toBe(body.error.message);
  });
});

describe('other providers: translated', () => {
  it('messages.create on an OpenAI-compatible upstream: a Message in Anthropic’s shape, with usage', async () => {
    const { data: message, response } = await client.messages.create(ask('local/gpt-x', { system: [{ type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral' } }], metadata: { user_id: 'u-7' } })).withResponse();
    expect(message).toMatchObject({
      type: 'message',
      role: 'assistant',
      model: 'local/gpt-x',
      content: [{ type: 'text', text: 'Hello from the mock upstream' }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: 11, output_tokens: 6, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 },
    });
    expect(message.id).toMatch(/^msg_/);
    expect(response.headers.get('x-gateway-provider')).toBe('local');
    const upstream = openai.requests.at(-1)!;
    expect(upstream.url).toMatch(/\/chat\/completions$/);
    expect(upstream.body).toMatchObject({
      model: 'gpt-x',
      max_tokens: 256,
      user: 'u-7',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'What is the weather in SF?' },
      ],
    });
  });

  it('messages.stream on an OpenAI-compatible upstream: text events, finalMessage with the reported usage', async () => {
    const stream = client.messages.stream(ask('local/gpt-x'));
    let text = '';
    let started: Message | undefined;
    stream.on('streamEvent', (event) => {
      if (event.type === 'message_start') started = structuredClone(event.message);
    });
    stream.on('text', (delta) => (text += delta));
    const message = await stream.finalMessage();
    // As Anthropic does, message_start says how large the prompt is (an estimate until the upstream reports it).
    expect(started!.usage.input_tokens).toBeGreaterThan(0);
    expect(text).toBe((message.content[0] as { text: string }).text);
    expect(text.length).toBeGreaterThan(0);
    expect(message).toMatchObject({ model: 'local/gpt-x', stop_reason: 'end_turn', usage: { input_tokens: 11, output_tokens: 8 } });
  });

  it('structured outputs: output_config.format is the chat response_format on a translated path', async () => {
    const schema = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false };
    await client.messages.create(ask('local/gpt-x', { output_config: { format: { type: 'json_schema', schema } } }));
    expect(openai.requests.at(-1)!.body.response_format).toEqual({ type: 'json_schema', json_schema: { name: 'output', schema } });
  });

  it('a tool round trip with images, JSON and stream', async () => {
    const tools = [{ name: 'get_weather', input_schema: { type: 'object' as const, properties: { city: { type: 'string' } } } }];
    const json = await client.messages.create(ask('local/tool-call', { tools, tool_choice: { type: 'any', disable_parallel_tool_use: true } }));
    expect(json.stop_reason).toBe('tool_use');
    expect(json.content).toEqual([{ type: 'tool_use', id: 'call_1', name: 'get_weather', input: { city: 'Paris' } }]);
    expect(openai.requests.at(-1)!.body).toMatchObject({ tool_choice: 'required', parallel_tool_calls: false, tools: [{ type: 'function', function: { name: 'get_weather' } }] });

    const streamed = await client.messages.stream(ask('local/tool-call', { tools })).finalMessage();
    expect(streamed.content).toEqual([{ type: 'tool_use', id: 'call_1', name: 'get_weather', input: { city: 'Paris' } }]);

    const image = { type: 'image' as const, source: { type: 'base64' as const, media_type: 'image/png' as const, data: 'iVBORw0KGgo=' } };
    await client.messages.create(
      ask('local/gpt-x', {
        tools,
        messages: [
          { role: 'user', content: 'Weather in Paris?' },
          { role: 'assistant', content: json.content },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'call_1', content: [{ type: 'text', text: 'sunny' }, image] }, { type: 'image', source: { type: 'url', url: 'https://example.com/map.png' } }] },
        ],
      }),
    );
    expect(openai.requests.at(-1)!.body.messages).toEqual([
      { role: 'user', content: 'Weather in Paris?' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
      { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
      { role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } }, { type: 'image_url', image_url: { url: 'https://example.com/map.png' } }] },
    ]);
  });

  it('Gemini: the recorded answers, JSON and stream, and a function call as tool_use', async () => {
    const json = await client.messages.create(ask('gem/gemini-2.5-flash'));
    const stream = await client.messages.stream(ask('gem/gemini-2.5-flash')).finalMessage();
    expect(json.content[0]).toMatchObject({ type: 'text', text: expect.stringContaining('Googleplex') });
    expect(stream.content[0]).toMatchObject({ type: 'text', text: expect.stringContaining('Cheyenne') });
    expect(json.usage.input_tokens).toBeGreaterThan(0);
    const tool = await client.messages.stream(ask('gem/x-tool', { tools: [{ name: 'f', input_schema: { type: 'object' } }] })).finalMessage();
    expect(tool.stop_reason).toBe('tool_use');
    expect(tool.content.some((block) => block.type === 'tool_use')).toBe(true);
  });

  it('server tools are refused on a translated path with an Anthropic 400', async () => {
    const error = await client.messages
      .create(ask('web-search', { tools: [{ type: 'web_search_20250305', name: 'web_search' }] }))
      .catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(Anthropic.BadRequestError);
    expect((error as InstanceType<typeof Anthropic.APIError>).type).toBe('invalid_request_error');
    expect(openai.requests.every((request) => request.body.model !== 'gpt-x' || !JSON.stringify(request.body).includes('web_search'))).toBe(true);
  });
});

describe('count_tokens', () => {
  const params = { model: 'claude/claude-haiku-4-5', messages: [{ role: 'user' as const, content: 'Count me, please.' }] };

  it('exact from an Anthropic target (its endpoint, the body passed through)', async () => {
    const { data, response } = await client.messages.countTokens(params).withResponse();
    expect(data).toEqual({ input_tokens: mockAnthropicTokenCount({ ...params, model: 'claude-haiku-4-5' }) });
    expect(response.headers.get('x-gateway-usage-estimated')).toBeNull();
    expect(native.requests.at(-1)!.path).toBe('/v1/messages/count_tokens');
    expect(native.requests.at(-1)!.body).toEqual({ ...params, model: 'claude-haiku-4-5' });
  });

  it('a conditional route counts on the branch /v1/messages would take: by tag, by the end user, else the default', async () => {
    const premium = await client.messages.countTokens({ ...params, model: 'tiered' }, { headers: { 'x-gateway-metadata': '{"tier":"premium"}' } }).withResponse();
    expect(premium.response.headers.get('x-gateway-usage-estimated')).toBeNull();
    expect(native.requests.at(-1)!.body).toMatchObject({ model: 'claude-haiku-4-5' });
    const ada = await fetch(`${gateway.origin}/v1/messages/count_tokens`, {
      method: 'POST',
      headers: { 'x-api-key': GATEWAY_KEY, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
      body: JSON.stringify({ ...params, model: 'tiered', metadata: { user_id: 'ada' } }),
    });
    expect(ada.status).toBe(200);
    expect(native.requests.at(-1)!.body).toMatchObject({ model: 'claude-sonnet-4-5' });
    const basic = await client.messages.countTokens({ ...params, model: 'tiered' }).withResponse();
    expect(basic.response.headers.get('x-gateway-usage-estimated')).toBe('true');
  });

  it('the tokenizer estimate elsewhere, flagged; ?beta=true accepted', async () => {
    const { data, response } = await client.messages.countTokens({ ...params, model: 'local/gpt-x' }).withResponse();
    expect(response.headers.get('x-gateway-usage-estimated')).toBe('true');
    expect(data.input_tokens).toBeGreaterThan(3);
    const raw = await fetch(`${gateway.origin}/v1/messages/count_tokens?beta=true`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': GATEWAY_KEY, 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ ...params, model: 'local/gpt-x' }),
    });
    expect(raw.status).toBe(200);
    expect(await raw.json()).toEqual(data);
  });
});

describe('errors in Anthropic’s shape', () => {
  it('bad input, unknown model, missing key: the SDK’s classes and Anthropic’s body', async () => {
    const raw = await fetch(`${gateway.origin}/v1/messages?beta=true`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${GATEWAY_KEY}` },
      body: JSON.stringify({ model: 'local/gpt-x', messages: [{ role: 'user', content: 'x' }] }),
    });
    expect(raw.status).toBe(400);
    const body = (await raw.json()) as { type: string; error: { type: string; message: string }; request_id: string };
    expect(body).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    expect(body.error.message).toMatch(/^max_tokens: /);
    expect(body.request_id).toBe(raw.headers.get('x-gateway-trace-id'));

    const missing = await client.messages.create(ask('no-such-route')).catch((thrown: unknown) => thrown);
    expect(missing).toBeInstanceOf(Anthropic.NotFoundError);
    expect((missing as InstanceType<typeof Anthropic.APIError>).type).toBe('not_found_error');

    const anonymous = new Anthropic({ baseURL: gateway.origin, apiKey: 'not-a-gateway-key', maxRetries: 0 });
    const denied = await anonymous.messages.create(ask('local/gpt-x')).catch((thrown: unknown) => thrown);
    expect(denied).toBeInstanceOf(Anthropic.AuthenticationError);
    expect((denied as InstanceType<typeof Anthropic.APIError>).type).toBe('authentication_error');

    const bearer = new Anthropic({ baseURL: gateway.origin, apiKey: null, authToken: GATEWAY_KEY, maxRetries: 0 });
    expect((await bearer.messages.create(ask('local/gpt-x'))).type).toBe('message');
  });
});

describe('malformed Messages requests', () => {
  it('blocks of any shape, nested ones included, are answered 2xx or 4xx in Anthropic’s shape, never 5xx', async () => {
    const random = seededRandom(20261130);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
    const anything = (depth: number): unknown => {
      switch (Math.floor(random() * (depth > 2 ? 4 : 6))) {
        case 0:
          return pick(['x', '', 'image', 'text', 'tool_result', 'base64', 'url', 'content']);
        case 1:
          return pick([0, -1, 1.5, null, true]);
        case 2:
          return null;
        case 3:
          return [];
        case 4:
          return Array.from({ length: 1 + Math.floor(random() * 3) }, () => anything(depth + 1));
        default:
          return Object.fromEntries(
            ['type', 'text', 'source', 'content', 'tool_use_id', 'id', 'name', 'input', 'data', 'media_type', 'url', 'is_error'].filter(() => random() < 0.5).map((key) => [key, anything(depth + 1)]),
          );
      }
    };
    // Any fields, with the ones a block type is read by present often enough to reach what is nested in them.
    const block = (): unknown => {
      const type = pick(['text', 'image', 'document', 'tool_use', 'tool_result', 'thinking', 'server_tool_use', 'mystery']);
      const inner = (): unknown => (random() < 0.6 ? [anything(2), anything(2)] : anything(1));
      const nested = type === 'tool_result' ? { tool_use_id: 'toolu_1', content: inner() } : type === 'document' || type === 'image' ? { source: { type: pick(['content', 'base64', 'text', 'url', 'file']), content: inner(), data: anything(2), media_type: anything(2) } } : {};
      return { ...(anything(0) as object), type, ...(random() < 0.7 ? nested : {}) };
    };
    const statuses = new Set<number>();
    for (let i = 0; i < 150; i++) {
      const body = {
        model: pick(['local/gpt-x', 'claude/x-error-400', 'gem/gemini-2.5-flash']),
        max_tokens: 16,
        stream: random() < 0.3,
        messages: [{ role: pick(['user', 'assistant']), content: [block(), block()] }],
        ...(random() < 0.3 ? { system: anything(1) } : {}),
        ...(random() < 0.3 ? { tools: anything(1), tool_choice: anything(1) } : {}),
      };
      const reply = await fetch(`${gateway.origin}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': GATEWAY_KEY }, body: JSON.stringify(body) });
      const text = await reply.text();
      statuses.add(reply.status);
      expect(reply.status, text).toBeLessThan(500);
      if (reply.status >= 400) expect(JSON.parse(text)).toMatchObject({ type: 'error', error: { type: expect.any(String), message: expect.any(String) } });
    }
    expect(statuses).toContain(400);
  });
});

describe('faults, as for chat', () => {
  it('429/529 from Anthropic falls back to the next target before anything was sent', async () => {
    const { data, response } = await client.messages.create(ask('claude-then-local')).withResponse();
    expect(data.content[0]).toMatchObject({ type: 'text', text: 'Hello from the mock upstream' });
    expect(response.headers.get('x-gateway-attempts')).toBe('2');
    expect(response.headers.get('x-gateway-provider')).toBe('local');
    const streamed = await client.messages.stream(ask('claude-then-local')).finalMessage();
    expect(streamed.model).toBe('claude-then-local');
  });

  it('500s are retried and fall back', async () => {
    const { response } = await client.messages.create(ask('local-flaky')).withResponse();
    expect(response.headers.get('x-gateway-attempts')).toBe('3');
  });

  it('a stream cut before its first event falls back; one cut after it ends with an error event, no message_stop', async () => {
    const fine = await client.messages.stream(ask('cut-then-local')).finalMessage();
    expect(fine.content[0]).toMatchObject({ type: 'text' });
    const { events, error } = await rawEvents('local/cut-after-2');
    expect(events[0]!.type).toBe('message_start');
    expect(events.map((event) => event.type)).not.toContain('message_stop');
    expect(error).toBeInstanceOf(Anthropic.APIError);
    expect((error as InstanceType<typeof Anthropic.APIError>).type).toBe('api_error');
  });

  it('the deadline: an upstream that never answers is a 504 timeout_error', async () => {
    const error = await client.messages.create(ask('local/stall'), { headers: { 'x-gateway-timeout-ms': '200' } }).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(Anthropic.InternalServerError);
    expect((error as InstanceType<typeof Anthropic.APIError>).status).toBe(504);
    expect((error as InstanceType<typeof Anthropic.APIError>).type).toBe('timeout_error');
  });

  it('a client that goes away aborts the upstream request', async () => {
    const before = openai.abortedRequests();
    const stream = client.messages.stream(ask('local/stall-body'));
    await new Promise<void>((resolve) => stream.on('streamEvent', () => resolve()));
    stream.abort();
    await expect(stream.done()).rejects.toBeInstanceOf(Anthropic.APIUserAbortError);
    await waitFor(() => openai.abortedRequests() > before, 5000);
  });
});

describe('every gateway feature', () => {
  it('cache: a JSON answer replays to a streaming client as Anthropic events, and back', async () => {
    const body = ask('cached', { messages: [{ role: 'user', content: `cache me ${Date.now()}` }] });
    const first = await client.messages.create(body);
    const { data: hit, response } = await client.messages.create(body).withResponse();
    expect(response.headers.get('x-gateway-cache')).toBe('HIT');
    expect(hit).toEqual(first);
    // The SDK's finalMessage adds its structured-output field.
    const { parsed_output: _parsed, ...replayed } = (await client.messages.stream(body).finalMessage()) as Message & { parsed_output?: unknown };
    expect(replayed).toEqual(first);

    // A streamed answer is stored as the Message it accumulated to, and answers a JSON client.
    const streamedBody = ask('cached', { messages: [{ role: 'user', content: `stream me ${Date.now()}` }] });
    const { parsed_output: _p, ...streamed } = (await client.messages.stream(streamedBody).finalMessage()) as Message & { parsed_output?: unknown };
    const { data: asJson, response: jsonHit } = await client.messages.create(streamedBody).withResponse();
    expect(jsonHit.headers.get('x-gateway-cache')).toBe('HIT');
    expect(asJson).toEqual(streamed);
  });

  it('trace rows with operation messages, the requested model, usage and the user', async () => {
    const { response } = await client.messages.create(ask('local/gpt-x', { metadata: { user_id: 'trace-user' } })).withResponse();
    const row = await traceOf(response.headers.get('x-gateway-trace-id')!);
    expect(row).toMatchObject({ operation: 'messages', requested_model: 'local/gpt-x', provider: 'local', user: 'trace-user', status: 200, input_tokens: 11, output_tokens: 6, usage_estimated: 0, key_id: 'team' });
    const stream = client.messages.stream(ask('claude/claude-haiku-4-5'));
    const message = await stream.finalMessage();
    const streamed = await traceOf((await stream.withResponse()).response.headers.get('x-gateway-trace-id')!);
    const usage = message.usage;
    expect(streamed).toMatchObject({ operation: 'messages', stream: 1, provider: 'claude', usage_estimated: 0 });
    expect(streamed.input_tokens).toBe(usage.input_tokens + (usage.cache_read_input_tokens ?? 0) + (usage.cache_creation_input_tokens ?? 0));
    expect(streamed.output_tokens).toBe(usage.output_tokens);
    expect(await sdkFinalMessage(recordedEvents('text-stream'))).toMatchObject({ usage: { output_tokens: usage.output_tokens } });
  });

  it('canary: metadata.user_id is the sticky user', async () => {
    const variantOf = async (user: string) => (await client.messages.create(ask('split', { metadata: { user_id: user } })).withResponse()).response.headers.get('x-gateway-variant');
    const seen = new Map<string, string | null>();
    for (let i = 0; i < 16; i++) seen.set(`user-${i}`, await variantOf(`user-${i}`));
    expect(new Set(seen.values())).toEqual(new Set(['baseline', 'canary']));
    for (const [user, variant] of [...seen].slice(0, 4)) expect(await variantOf(user)).toBe(variant);
  });

  it('feedback on a messages trace, and its export as a chat fine-tuning example', async () => {
    const question = `Export me ${Date.now()}`;
    const { response } = await client.messages.create(ask('local/gpt-x', { system: 'Be kind.', messages: [{ role: 'user', content: question }] })).withResponse();
    const traceId = response.headers.get('x-gateway-trace-id')!;
    await traceOf(traceId);
    const feedback = await fetch(`${gateway.origin}/v1/feedback`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${GATEWAY_KEY}` },
      body: JSON.stringify({ trace_id: traceId, score: 1 }),
    });
    expect(feedback.status).toBeLessThan(300);
    const exported = await fetch(`${gateway.origin}/api/export?min_score=0.5`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    const lines = (await exported.text()).trim().split('\n').map((line) => JSON.parse(line) as { messages: { role: string; content: unknown }[] });
    const example = lines.find((line) => line.messages.some((message) => message.content === question));
    expect(example?.messages).toEqual([
      { role: 'system', content: 'Be kind.' },
      { role: 'user', content: question },
      { role: 'assistant', content: 'Hello from the mock upstream' },
    ]);
  });
});
