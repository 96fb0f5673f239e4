/**
 * Guardrails on the Responses API (official OpenAI SDK) and the Anthropic Messages API (official
 * Anthropic SDK): the same checks run on the canonical request and answer whatever the client's dialect,
 * and what they refuse reaches the client in the dialect's own error shape — a JSON error, or the
 * stream's failure contract (Responses: an `error` event with the guardrail's code, then
 * `response.failed`; Messages: an `error` event). A route whose guardrails rewrite requests or read
 * answers is served translated even where the provider speaks the dialect natively.
 */
import Anthropic from '@anthropic-ai/sdk';
import { APIError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startMockUpstream, type MockUpstream } from '../helpers/mock-upstream.js';
import { ANTHROPIC_KEY, startNativeUpstreams, type NativeUpstreams } from '../helpers/native-upstreams.js';
import { create, rawEvents, startResponsesGateway, wireEvents, type ResponsesGateway } from '../helpers/responses-client.js';

const EMAIL = 'jane.doe@example.com';
const TOKEN = `ghp_${'Qw7'.repeat(12)}`;
let env: ResponsesGateway;
/** Chat completions only, behind a provider of OpenAI's type (which would pass Responses requests through). */
let chatOnly: MockUpstream;

beforeAll(async () => {
  chatOnly = await startMockUpstream();
  env = await startResponsesGateway({
    guardrails: {
      'no-secrets': { kind: 'secrets', action: 'deny' },
      'mask-pii': { kind: 'pii', detectors: ['email'], action: 'redact' },
      'deny-email': { kind: 'pii', detectors: ['email'], action: 'deny' },
    },
    providers: {
        'oai-chat': { type: 'openai', apiKey: 'sk-test-oai-chat', baseUrl: chatOnly.url },
    },
    routes: {
      guarded: { targets: [{ provider: 'chat', model: 'echo-4~guarded' }], guardrails: { input: ['no-secrets', 'mask-pii'], output: ['mask-pii'] } },
      'deny-out': { targets: [{ provider: 'chat', model: 'echo-3~denyout' }], guardrails: { output: ['deny-email'] } },
      'native-guarded': { targets: [{ provider: 'oai-chat', model: 'echo-4~native' }], guardrails: { input: ['mask-pii'] } },
      'native-deny': { targets: [{ provider: 'oai-chat', model: 'echo-4~nativedeny' }], guardrails: { input: ['no-secrets'] } },
    },
  });
}, 30_000);

afterAll(async () => {
  await env?.close();
  await chatOnly?.close();
});

describe('guardrails on the Responses API', () => {
  it('an input deny is a Responses-shaped 400 with the guardrail-named code; the upstream is never called', async () => {
    const before = env.chat.requests.length;
    const error = await env.client.responses.create({ model: 'guarded', input: `use ${TOKEN}` }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(APIError);
    expect([(error as APIError).status, (error as APIError).code]).toEqual([400, 'guardrail_denied:no-secrets']);
    // The canonical field names would not be the client's: no param.
    expect((error as APIError).param).toBeNull();
    expect(env.chat.requests.length).toBe(before);
  });

  it('redaction applies to the canonical request the upstream gets and to the answer the client gets', async () => {
    const response = await create(env.client, { model: 'guarded', input: `write to ${EMAIL}` });
    expect(response.output_text).toBe('write to [EMAIL]');
    const sent = env.chat.requests.at(-1)!.body.messages as { content: string }[];
    expect(sent.at(-1)!.content).toBe('write to [EMAIL]');
  });

  it('a deny mid-stream ends the Responses stream with the error event carrying the code, then response.failed', async () => {
    const input = `Reply ${'with words '.repeat(12)}then ${EMAIL}`;
    const events = await wireEvents(env.gateway, { model: 'deny-out', input, stream: true });
    expect(events.map((e) => e.type)).not.toContain('response.completed');
    expect(events.slice(-2).map((e) => e.type)).toEqual(['error', 'response.failed']);
    expect(events.at(-2)).toMatchObject({ type: 'error', code: 'guardrail_denied:deny-email' });
    const text = events.filter((e) => e.type === 'response.output_text.delta').map((e) => (e as { delta: string }).delta).join('');
    expect(text.length).toBeGreaterThan(0);
    expect(text).not.toContain('@');
    // The SDK raises the error event with its code.
    const sdk = await rawEvents(env.client, { model: 'deny-out', input });
    expect((sdk.error as APIError).code).toBe('guardrail_denied:deny-email');
  });

  it('a route whose guardrails rewrite the request is served translated, even by a provider that speaks Responses natively', async () => {
    const response = await create(env.client, { model: 'native-guarded', input: `hi ${EMAIL}` });
    expect(response.output_text).toBe('hi [EMAIL]');
    expect(chatOnly.requests.at(-1)!.url).toBe('/v1/chat/completions');
    expect((chatOnly.requests.at(-1)!.body.messages as { content: string }[]).at(-1)!.content).toBe('hi [EMAIL]');
  });

  it('an input deny reads the arguments of the function calls in the conversation', async () => {
    const before = env.chat.requests.length;
    const error = await env.client.responses
      .create({
        model: 'guarded',
        input: [
          { role: 'user', content: 'Deploy.' },
          { type: 'function_call', call_id: 'call_9', name: 'deploy', arguments: JSON.stringify({ token: TOKEN }) },
          { type: 'function_call_output', call_id: 'call_9', output: 'deployed' },
        ],
      })
      .catch((e: unknown) => e);
    expect([(error as APIError).status, (error as APIError).code]).toEqual([400, 'guardrail_denied:no-secrets']);
    expect(env.chat.requests.length).toBe(before);
  });

  it('an input deny cannot be passed by in an item the translation leaves out: the route is served translated', async () => {
    // A custom tool's output has no chat form: checked on the canonical request, it was never seen, and
    // a native pass-through sent it on.
    const response = await create(env.client, {
      model: 'native-deny',
      input: [
        { role: 'user', content: 'Look this up.' },
        { type: 'custom_tool_call', call_id: 'call_7', name: 'lookup', input: 'config' },
        { type: 'custom_tool_call_output', call_id: 'call_7', output: `found ${TOKEN}` },
        { role: 'user', content: 'Summarise.' },
      ] as never,
    });
    expect(response.status).toBe('completed');
    expect(chatOnly.requests.at(-1)!.url).toBe('/v1/chat/completions');
    expect(JSON.stringify(chatOnly.requests.map((request) => request.body))).not.toContain(TOKEN);
  });
});

describe('guardrails on the Anthropic Messages API', () => {
  let upstream: MockUpstream;
  let natives: NativeUpstreams;
  let gateway: RunningGateway;
  let anthropic: Anthropic;

  beforeAll(async () => {
    upstream = await startMockUpstream();
    natives = await startNativeUpstreams();
    gateway = await startGateway({
      providers: {
        local: { type: 'openai-compatible', baseUrl: upstream.url },
        claude: { type: 'anthropic', apiKey: ANTHROPIC_KEY, baseUrl: natives.url },
      },
      routing: { retry: { maxAttempts: 1 } },
      guardrails: {
        'no-secrets': { kind: 'secrets', action: 'deny' },
        'deny-email': { kind: 'pii', detectors: ['email'], action: 'deny' },
        'mask-pii': { kind: 'pii', detectors: ['email'], action: 'redact' },
      },
      routes: {
        guarded: { targets: [{ provider: 'local', model: 'echo-4~messages' }], guardrails: { input: ['no-secrets'], output: ['mask-pii'] } },
        'deny-out': { targets: [{ provider: 'local', model: 'echo-3~messagesdeny' }], guardrails: { output: ['deny-email'] } },
        'think-deny': { targets: [{ provider: 'local', model: 'think-5~messages' }], guardrails: { output: ['deny-email'] } },
        'think-mask': { targets: [{ provider: 'local', model: 'think-5~messagesmask' }], guardrails: { output: ['mask-pii'] } },
        // Anthropic speaks Messages natively; output checks make the route translated, so they see the answer.
        'claude-guarded': { targets: [{ provider: 'claude', model: 'claude-haiku-4-5' }], guardrails: { output: ['mask-pii'] } },
        'claude-open': { targets: [{ provider: 'claude', model: 'claude-haiku-4-5' }] },
        'claude-deny': { targets: [{ provider: 'claude', model: 'claude-haiku-4-5' }], guardrails: { input: ['no-secrets'] } },
      },
    });
    anthropic = new Anthropic({ baseURL: gateway.origin, apiKey: 'unused', maxRetries: 0 });
  });
  afterAll(async () => {
    await gateway?.close();
    await Promise.all([upstream?.close(), natives?.close()]);
  });

  it('an input deny is an Anthropic-shaped 400 (invalid_request_error) whose message names the guardrail', async () => {
    const error = await anthropic.messages.create({ model: 'guarded', max_tokens: 64, messages: [{ role: 'user', content: `key ${TOKEN}` }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.BadRequestError);
    const body = (error as InstanceType<typeof Anthropic.BadRequestError>).error as { type: string; error: { type: string; message: string } };
    expect(body.type).toBe('error');
    expect(body.error.type).toBe('invalid_request_error');
    expect(body.error.message).toContain("guardrail 'no-secrets'");
    expect(body.error.message).not.toContain(TOKEN);
  });

  it('an input deny cannot be passed by in a block the translation cannot carry: refused, never sent to Anthropic', async () => {
    const before = natives.requests.length;
    const searchResult = { type: 'search_result', source: 'https://wiki.internal/deploy', title: 'Deploy', content: [{ type: 'text', text: `token ${TOKEN}` }] };
    const error = await anthropic.messages
      .create({ model: 'claude-deny', max_tokens: 64, messages: [{ role: 'user', content: [searchResult as never, { type: 'text', text: 'Summarise.' }] }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.BadRequestError);
    expect(natives.requests.length).toBe(before);
  });

  it('count_tokens on a guarded route sends nothing to Anthropic: the gateway estimates', async () => {
    const before = natives.requests.length;
    const counted = await anthropic.messages.countTokens({ model: 'claude-deny', messages: [{ role: 'user', content: `key ${TOKEN}` }] }).withResponse();
    expect(counted.data.input_tokens).toBeGreaterThan(0);
    expect(counted.response.headers.get('x-gateway-usage-estimated')).toBe('true');
    expect(natives.requests.length).toBe(before);
    // Unguarded, Anthropic counts.
    await anthropic.messages.countTokens({ model: 'claude-open', messages: [{ role: 'user', content: 'hi' }] });
    expect(natives.requests.at(-1)!.path).toBe('/v1/messages/count_tokens');
  });

  it('redacts the answer a Messages client gets', async () => {
    const message = await anthropic.messages.create({ model: 'guarded', max_tokens: 64, messages: [{ role: 'user', content: `mail ${EMAIL}` }] });
    expect(message.content).toEqual([{ type: 'text', text: 'mail [EMAIL]', citations: null }].map(({ citations: _c, ...block }) => expect.objectContaining(block)));
  });

  it('a deny mid-stream ends the Messages stream with an error event of type invalid_request_error', async () => {
    const response = await fetch(`${gateway.origin}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'deny-out', max_tokens: 256, stream: true, messages: [{ role: 'user', content: `Say ${'many words '.repeat(12)}then ${EMAIL}` }] }),
    });
    const text = await response.text();
    const events = text.split('\n\n').filter(Boolean).map((e) => JSON.parse(e.split('\n').find((l) => l.startsWith('data: '))!.slice(6)) as { type: string; error?: { type: string; message: string } });
    expect(events.at(-1)).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    expect(events.at(-1)!.error!.message).toContain("guardrail 'deny-email'");
    expect(events.map((e) => e.type)).not.toContain('message_stop');
    expect(text).not.toContain(EMAIL);
  });

  it('output checks read the reasoning a model returned, which reaches a Messages client as a thinking block', async () => {
    const ask = { max_tokens: 64, messages: [{ role: 'user' as const, content: `Note ${EMAIL} for later.` }] };
    const denied = await anthropic.messages.create({ model: 'think-deny', ...ask }).catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(Anthropic.BadRequestError);
    const masked = await anthropic.messages.create({ model: 'think-mask', ...ask });
    expect(masked.content[0]).toMatchObject({ type: 'thinking', thinking: 'Note [EMAIL] for later.' });
    const streamed = await anthropic.messages.stream({ model: 'think-mask', ...ask }).finalMessage();
    expect(streamed.content.map((block) => block.type)).toEqual(['thinking', 'text']);
    expect(streamed.content[0]).toMatchObject({ thinking: 'Note [EMAIL] for later.' });
    expect(JSON.stringify(streamed)).not.toContain(EMAIL);
  });

  it('a route with output guardrails is translated even to Anthropic, which speaks Messages natively', async () => {
    // top_k is Anthropic's own: passed through natively, it cannot survive the canonical (OpenAI) form.
    const ask = async (model: string) => {
      const response = await fetch(`${gateway.origin}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
        body: JSON.stringify({ model, max_tokens: 64, top_k: 5, messages: [{ role: 'user', content: 'hi' }] }),
      });
      expect(response.status).toBe(200);
      await response.text();
    };
    await ask('claude-open');
    expect(natives.requests.at(-1)!.body.top_k).toBe(5);
    await ask('claude-guarded');
    expect(natives.requests.at(-1)!.path).toBe('/v1/messages');
    expect(natives.requests.at(-1)!.body.top_k).toBeUndefined();
  });
});
