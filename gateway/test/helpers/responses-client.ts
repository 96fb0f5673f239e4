/**
 * A gateway in front of every kind of upstream the Responses API meets — a chat-only OpenAI-compatible
 * server (translated), OpenAI's own Responses API and Azure's (native pass-through, replaying OpenAI's
 * recorded response), Anthropic and Gemini (translated, replaying their recordings) — and the official
 * OpenAI SDK pointed at it. Every response object, item list and stream event a test receives is
 * validated against OpenAI's schemas first, and stream events must be numbered 0, 1, 2… without a gap.
 */
import OpenAI from 'openai';
import type { Response, ResponseCreateParamsNonStreaming, ResponseCreateParamsStreaming, ResponseStreamEvent } from 'openai/resources/responses/responses';
import { expect } from 'vitest';
import { SseParser } from '../../src/providers/sse.js';
import { startGateway, type RunningGateway } from './gateway.js';
import { startMockUpstream, type MockUpstream } from './mock-upstream.js';
import { ANTHROPIC_KEY, AZURE_KEY, GEMINI_KEY, OPENAI_KEY, startNativeUpstreams, type NativeUpstreams } from './native-upstreams.js';
import { assertResponse, assertResponseStreamEvent } from './openai-schemas.js';

export interface ResponsesGateway {
  chat: MockUpstream;
  native: NativeUpstreams;
  gateway: RunningGateway;
  client: OpenAI;
  close(): Promise<void>;
}

/** Provider configs for every upstream kind, by the names the tests use. */
export function responsesProviders(chat: MockUpstream, native: NativeUpstreams): Record<string, unknown> {
  return {
    chat: { type: 'openai-compatible', baseUrl: chat.url },
    oai: { type: 'openai', apiKey: OPENAI_KEY, baseUrl: `${native.url}/v1` },
    az: { type: 'azure', apiKey: AZURE_KEY, baseUrl: native.url, deployments: { 'gpt-4o-mini': 'prod-mini' } },
    claude: { type: 'anthropic', apiKey: ANTHROPIC_KEY, baseUrl: native.url },
    gem: { type: 'gemini', apiKey: GEMINI_KEY, baseUrl: native.url },
  };
}

export async function startResponsesGateway(document: Record<string, unknown> = {}): Promise<ResponsesGateway> {
  const chat = await startMockUpstream();
  const native = await startNativeUpstreams();
  const gateway = await startGateway({
    routing: { retry: { maxAttempts: 1 } },
    ...document,
    providers: { ...responsesProviders(chat, native), ...(document.providers as object | undefined) },
  });
  const client = new OpenAI({ baseURL: gateway.baseURL, apiKey: 'client', maxRetries: 0 });
  return {
    chat,
    native,
    gateway,
    client,
    close: async () => {
      await gateway.close();
      await Promise.all([chat.close(), native.close()]);
    },
  };
}

/** responses.create, the answer validated as a `response`. */
export async function create(client: OpenAI, params: ResponseCreateParamsNonStreaming): Promise<Response> {
  const response = await client.responses.create(params);
  assertResponse(strip(response));
  return response;
}

export interface StreamedResponse {
  events: ResponseStreamEvent[];
  /** The text the output_text deltas carried. */
  text: string;
  final: Response;
}

/** responses.stream read to its end: every event validated and numbered in order. */
export async function stream(client: OpenAI, params: Omit<ResponseCreateParamsStreaming, 'stream'>): Promise<StreamedResponse> {
  const events: ResponseStreamEvent[] = [];
  let text = '';
  const running = client.responses.stream(params);
  for await (const event of running) {
    assertResponseStreamEvent(strip(event));
    events.push(event);
    if (event.type === 'response.output_text.delta') text += event.delta;
  }
  expect(events.map((event) => event.sequence_number)).toEqual(events.map((_, i) => i));
  const final = await running.finalResponse();
  return { events, text, final };
}

/** Raw events of a stream (responses.create with stream: true), validated, read until it ends or breaks. */
export async function rawEvents(client: OpenAI, params: Omit<ResponseCreateParamsStreaming, 'stream'>): Promise<{ events: ResponseStreamEvent[]; error?: unknown }> {
  const events: ResponseStreamEvent[] = [];
  try {
    for await (const event of await client.responses.create({ ...params, stream: true })) {
      assertResponseStreamEvent(strip(event));
      events.push(event);
    }
  } catch (error) {
    return { events, error };
  }
  return { events };
}

/** The SDK adds `output_text` (and `parsed`) to what it returns: the wire form is what is validated. */
function strip<T>(value: T): T {
  const copy = JSON.parse(JSON.stringify(value)) as Record<string, unknown>;
  delete copy.output_text;
  if (copy.response && typeof copy.response === 'object') delete (copy.response as Record<string, unknown>).output_text;
  return copy as T;
}

/** The events of a streamed request as they are on the wire (the SDK stops reading at an error event), each validated. */
export async function wireEvents(gateway: RunningGateway, body: Record<string, unknown>): Promise<ResponseStreamEvent[]> {
  const response = await fetch(`${gateway.baseURL}/responses`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(response.headers.get('content-type')).toContain('text/event-stream');
  const parser = new SseParser();
  const events: ResponseStreamEvent[] = [];
  const text = await response.text();
  for (const sse of [...parser.push(text), ...parser.end()]) {
    const event = JSON.parse(sse.data) as ResponseStreamEvent;
    expect(sse.event).toBe(event.type);
    assertResponseStreamEvent(event);
    events.push(event);
  }
  return events;
}
