/**
 * Guardrails on the Responses API, through the official OpenAI SDK: the same checks run on the
 * canonical request and answer whatever the client's dialect, and what they refuse reaches the client in
 * the dialect's own error shape — a JSON error, or the stream's failure contract (`error` event with the
 * guardrail's code, then `response.failed`). A route whose guardrails rewrite requests or read answers is
 * served translated even where the provider speaks the dialect natively.
 */
import { APIError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockUpstream, type MockUpstream } from '../helpers/mock-upstream.js';
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
});
