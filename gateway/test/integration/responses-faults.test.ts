/**
 * Faults on the Responses API: a stream cut before its first event is retried elsewhere; one cut after
 * it ends with the failure contract (an `error` event with code stream_interrupted, then
 * `response.failed` whose error code is server_error, never `response.completed`); upstream 429/500
 * fall back, across provider types, with the conversation intact; a client that leaves aborts the
 * upstream request.
 */
import type { ResponseStreamEvent } from 'openai/resources/responses/responses';
import { APIError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/gateway.js';
import { create, rawEvents, startResponsesGateway, stream, wireEvents, type ResponsesGateway } from '../helpers/responses-client.js';

let env: ResponsesGateway;

beforeAll(async () => {
  env = await startResponsesGateway({
    routes: {
      'reset-then-ok': { targets: [{ provider: 'chat', model: 'reset' }, { provider: 'chat', model: 'small-model' }] },
      'limited-then-anthropic': { targets: [{ provider: 'chat', model: 'fail-429' }, { provider: 'claude', model: 'claude-haiku-4-5' }] },
      'native-500-then-chat': { targets: [{ provider: 'oai', model: 'gpt-error-500' }, { provider: 'chat', model: 'small-model' }] },
      'cut-translated': { targets: [{ provider: 'chat', model: 'cut-after-3' }, { provider: 'chat', model: 'small-model' }] },
      'cut-native': { targets: [{ provider: 'oai', model: 'gpt-cut' }, { provider: 'chat', model: 'small-model' }] },
      'error-event-native': { targets: [{ provider: 'oai', model: 'gpt-midstream-error' }, { provider: 'chat', model: 'small-model' }] },
    },
  });
});
afterAll(async () => {
  await env?.close();
});

/** The failure contract's last two events, after everything that was streamed. */
function expectFailureContract(events: ResponseStreamEvent[]): void {
  const types = events.map((event) => event.type);
  expect(types[0]).toBe('response.created');
  expect(types).not.toContain('response.completed');
  expect(types.slice(-2)).toEqual(['error', 'response.failed']);
  const [error, failed] = events.slice(-2);
  expect(error).toMatchObject({ type: 'error', code: 'stream_interrupted' });
  if (failed?.type !== 'response.failed') throw new Error('no response.failed');
  expect(failed.response.status).toBe('failed');
  expect(failed.response.error?.code).toBe('server_error');
  expect(events.map((event) => event.sequence_number)).toEqual(events.map((_, i) => events[0]!.sequence_number + i));
}

describe('Responses API faults', () => {
  it('a stream cut before its first event falls back to the next target', async () => {
    const { data, response } = await env.client.responses.create({ model: 'reset-then-ok', input: 'hi', stream: true }).withResponse();
    const events: ResponseStreamEvent[] = [];
    for await (const event of data) events.push(event);
    expect(events.at(-1)?.type).toBe('response.completed');
    expect(response.headers.get('x-gateway-attempts')).toBe('2');
  });

  it.each(['cut-translated', 'cut-native', 'error-event-native'])('a stream broken after its first event (%s) ends with error, then response.failed', async (model) => {
    const events = await wireEvents(env.gateway, { model, input: 'Tell me a long story.', stream: true });
    expectFailureContract(events);
    // The SDK surfaces the error event as an APIError carrying its code: the client knows the answer is cut.
    const sdk = await rawEvents(env.client, { model, input: 'Tell me a long story.' });
    expect(sdk.error).toBeInstanceOf(APIError);
    expect((sdk.error as APIError).code).toBe('stream_interrupted');
    expect(sdk.events.map((event) => event.type)).not.toContain('response.completed');
    // The answer was not whole: nothing was stored under its id.
    const created = events[0];
    if (created?.type !== 'response.created') throw new Error('no response.created');
    await expect(env.client.responses.retrieve(created.response.id)).rejects.toMatchObject({ status: 404 });
  });

  it('an upstream 429 falls back to another provider type, JSON and streamed', async () => {
    const { data, response } = await env.client.responses.create({ model: 'limited-then-anthropic', input: 'hi' }).withResponse();
    expect(data.status).toBe('completed');
    expect(data.model).toBe('limited-then-anthropic');
    expect(response.headers.get('x-gateway-provider')).toBe('claude');
    const streamed = await stream(env.client, { model: 'limited-then-anthropic', input: 'hi' });
    expect(streamed.final.status).toBe('completed');
  });

  it('a native 500 falls back to a translated target, and the conversation continues across it', async () => {
    const first = await create(env.client, { model: 'oai/gpt-4o-mini', input: 'Remember: teal.' });
    const second = await create(env.client, { model: 'native-500-then-chat', input: 'Which colour?', previous_response_id: first.id });
    expect(second.status).toBe('completed');
    const messages = env.chat.requests.at(-1)!.body.messages as { role: string; content: string }[];
    expect(messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(messages[1]!.content).toBe(first.output_text);
    const third = await create(env.client, { model: 'oai/gpt-4o-mini', input: 'And now?', previous_response_id: second.id });
    expect(third.status).toBe('completed');
    const input = env.native.requests.at(-1)!.body.input as { role?: string }[];
    expect(input.map((item) => item.role)).toEqual(['user', 'assistant', 'user', 'assistant', 'user']);
  });

  it('a client that leaves mid-stream aborts the upstream request', async () => {
    const before = env.chat.abortedRequests();
    const controller = new AbortController();
    const running = await env.client.responses.create({ model: 'chat/stall-body', input: 'hi', stream: true }, { signal: controller.signal });
    const seen: string[] = [];
    for await (const event of running) {
      seen.push(event.type);
      if (event.type === 'response.output_text.delta') {
        controller.abort();
        break;
      }
    }
    expect(seen[0]).toBe('response.created');
    await waitFor(() => env.chat.abortedRequests() > before, 5000);
  });
});

