/**
 * The Messages dialect's streams: canonical chunks → Anthropic events, and Messages ⇄ events (cache
 * replay). The official SDK's MessageStream accumulates every sequence produced here; the recorded
 * Anthropic streams (fixtures/recorded/anthropic) are the reference for what it must accumulate to.
 */
import { describe, expect, it } from 'vitest';
import { eventsToMessage, messageToEvents, sseEvent, type MessagesEvent } from '../../src/inbound/messages-events.js';
import { MessagesStreamEncoder } from '../../src/inbound/messages-stream.js';
import type { AnthropicMessage } from '../../src/inbound/messages-response.js';
import { GatewayError } from '../../src/errors.js';
import { createAnthropicAdapter, createAnthropicStreamDecoder, createMessagesEventDecoder } from '../../src/providers/anthropic-adapter.js';
import { SseParser } from '../../src/providers/sse.js';
import type { JsonObject } from '../../src/providers/types.js';
import { assertEventGrammar, recordedEvents, sdkFinalMessage, type Event } from '../helpers/anthropic-events.js';
import { recorded } from '../helpers/recorded-responses.js';

/** A recorded Anthropic stream through the outbound adapter: the canonical chunks an OpenAI client would get. */
function canonicalChunks(name: string): JsonObject[] {
  const decoder = createAnthropicStreamDecoder('gpt-x', true, 'claude');
  const parser = new SseParser();
  const chunks: JsonObject[] = [];
  for (const raw of (recorded('anthropic', name) as { events: string[] }).events) {
    for (const event of parser.push(raw)) chunks.push(...decoder.decode(event).chunks);
  }
  for (const event of parser.end()) chunks.push(...decoder.decode(event).chunks);
  return chunks;
}

function encode(chunks: readonly JsonObject[], options: { model?: string; inputTokens?: number; stopSequences?: string[] } = {}): Event[] {
  const encoder = new MessagesStreamEncoder({ model: options.model ?? 'client-model', ...options });
  return [...chunks.flatMap((chunk) => encoder.push(chunk)), ...encoder.finish()] as Event[];
}

/**
 * What a client compares: blocks without the SDK's null placeholders (an empty text block carries
 * nothing: OpenAI streams have none), stop reason, usage counters.
 */
function essence(message: { content: unknown[]; stop_reason: unknown; stop_sequence: unknown; usage: unknown }) {
  const usage = message.usage as Record<string, number | null>;
  return {
    content: (message.content as Record<string, unknown>[]).filter((block) => !(block.type === 'text' && block.text === '')).map((block) =>
      Object.fromEntries(Object.entries(block).filter(([key, value]) => value !== null && key !== 'caller')),
    ),
    stop_reason: message.stop_reason,
    stop_sequence: message.stop_sequence,
    usage: {
      input_tokens: usage.input_tokens,
      output_tokens: usage.output_tokens,
      cache_creation_input_tokens: usage.cache_creation_input_tokens ?? 0,
      cache_read_input_tokens: usage.cache_read_input_tokens ?? 0,
    },
  };
}

const TRANSLATABLE = ['text-stream', 'tool-use-stream', 'text-then-tool-use-stream', 'refusal-stream', 'two-tool-calls-stream', 'tool-use-no-arguments-stream'];
const ALL = [...TRANSLATABLE, 'thinking-refusal-stream', 'server-tool-use-refusal-stream'];

describe('canonical chunks → Anthropic events', () => {
  it.each(TRANSLATABLE)('%s: through the outbound adapter and back, the SDK accumulates the recorded Message', async (name) => {
    const original = await sdkFinalMessage(recordedEvents(name));
    const events = encode(canonicalChunks(name));
    assertEventGrammar(events);
    const translated = await sdkFinalMessage(events);
    expect(translated.model).toBe('client-model');
    expect(translated.id).toBe(original.id);
    expect(essence(translated)).toEqual(essence(original));
  });

  it('is incremental: each chunk yields its events at once, the first block followed by a ping', () => {
    const encoder = new MessagesStreamEncoder({ model: 'm', inputTokens: 9 });
    const chunk = (delta: JsonObject, finish: string | null = null): JsonObject => ({ id: 'chatcmpl-7', choices: [{ index: 0, delta, finish_reason: finish }] });
    expect(encoder.push(chunk({ role: 'assistant', content: '' })).map((e) => e.type)).toEqual(['message_start']);
    expect(encoder.push(chunk({ content: 'Hel' }))).toEqual([
      { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
      { type: 'ping' },
      { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hel' } },
    ]);
    expect(encoder.push(chunk({ content: 'lo' }))).toEqual([{ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'lo' } }]);
    expect(encoder.push(chunk({}, 'stop'))).toEqual([{ type: 'content_block_stop', index: 0 }]);
    expect(encoder.push({ id: 'chatcmpl-7', choices: [], usage: { prompt_tokens: 9, completion_tokens: 2 } })).toEqual([]);
    expect(encoder.finish()).toEqual([
      { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { input_tokens: 9, output_tokens: 2, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 } },
      { type: 'message_stop' },
    ]);
  });

  it('message_start carries the estimate; message_delta the reported usage, which the SDK keeps', async () => {
    const events = encode(
      [
        { id: 'c', choices: [{ index: 0, delta: { content: 'x' }, finish_reason: 'stop' }] },
        { id: 'c', choices: [], usage: { prompt_tokens: 120, completion_tokens: 3, prompt_tokens_details: { cached_tokens: 100 } } },
      ],
      { inputTokens: 50 },
    );
    expect((events[0]!.message as { usage: { input_tokens: number } }).usage.input_tokens).toBe(50);
    expect((await sdkFinalMessage(events)).usage).toMatchObject({ input_tokens: 20, output_tokens: 3, cache_read_input_tokens: 100 });
  });

  it('reasoning streams as a thinking block before the text', async () => {
    const events = encode([
      { id: 'c', choices: [{ index: 0, delta: { role: 'assistant', reasoning_content: 'Think' } }] },
      { id: 'c', choices: [{ index: 0, delta: { reasoning: 'ing.' } }] },
      { id: 'c', choices: [{ index: 0, delta: { content: 'Done.' }, finish_reason: 'stop' }] },
    ]);
    assertEventGrammar(events);
    expect((await sdkFinalMessage(events)).content).toEqual([
      { type: 'thinking', thinking: 'Thinking.', signature: '' },
      { type: 'text', text: 'Done.' },
    ]);
  });

  it('parallel tool calls whose arguments interleave reach their own blocks', async () => {
    const call = (index: number, fn: JsonObject, id?: string): JsonObject => ({ id: 'c', choices: [{ index: 0, delta: { tool_calls: [{ index, ...(id ? { id, type: 'function' } : {}), function: fn }] } }] });
    const events = encode([
      call(0, { name: 'a', arguments: '' }, 'call_a'),
      call(1, { name: 'b', arguments: '{"y":' }, 'call_b'),
      call(0, { arguments: '{"x":1}' }),
      call(1, { arguments: '2}' }),
      { id: 'c', choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] },
    ]);
    assertEventGrammar(events);
    const message = await sdkFinalMessage(events);
    expect(message.stop_reason).toBe('tool_use');
    expect(message.content).toEqual([
      { type: 'tool_use', id: 'call_a', name: 'a', input: { x: 1 } },
      { type: 'tool_use', id: 'call_b', name: 'b', input: { y: 2 } },
    ]);
  });

  it('a stop sequence the server names, and an answer with no content at all', async () => {
    const stopped = encode([{ id: 'c', choices: [{ index: 0, delta: { content: 'a' }, finish_reason: 'stop', stop_reason: 'END' }] }], { stopSequences: ['END'] });
    expect(await sdkFinalMessage(stopped)).toMatchObject({ stop_reason: 'stop_sequence', stop_sequence: 'END' });
    const empty = encode([]);
    assertEventGrammar(empty);
    expect(await sdkFinalMessage(empty)).toMatchObject({ content: [], stop_reason: 'end_turn' });
  });

  it('frames events the way Anthropic does: a named event whose data repeats the type', () => {
    const text = sseEvent({ type: 'content_block_stop', index: 0 });
    expect(text).toBe('event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n');
    const parsed = new SseParser().push(text);
    expect(parsed).toEqual([{ event: 'content_block_stop', data: '{"type":"content_block_stop","index":0}' }]);
  });
});

describe('Messages ⇄ events (cache replay)', () => {
  it.each(ALL)('%s: the accumulated Message is what the official SDK accumulates', async (name) => {
    const events = recordedEvents(name);
    const ours = eventsToMessage(events as MessagesEvent[])!;
    const sdk = await sdkFinalMessage(events);
    expect(JSON.parse(JSON.stringify(ours))).toEqual(JSON.parse(JSON.stringify(sdk)));
  });

  it.each(ALL)('%s: the Message replayed as events accumulates to itself', async (name) => {
    const message = eventsToMessage(recordedEvents(name) as MessagesEvent[])!;
    const replayed = messageToEvents(message) as Event[];
    assertEventGrammar(replayed);
    expect(JSON.parse(JSON.stringify(await sdkFinalMessage(replayed)))).toEqual(JSON.parse(JSON.stringify(message)));
  });

  it('a tool input cut off by max_tokens is kept as sent (`_raw`), where the SDK parses it partially', async () => {
    const events = recordedEvents('max-tokens-in-tool-input-stream');
    const ours = eventsToMessage(events as MessagesEvent[])!;
    const sdk = await sdkFinalMessage(events);
    expect(ours.stop_reason).toBe('max_tokens');
    expect(ours.content[0]).toEqual(sdk.content[0]);
    const partial = (ours.content[1]!.input as { _raw: string })._raw;
    expect(partial.startsWith('{"filename": "taxes.txt"')).toBe(true);
    expect((sdk.content[1] as { input: { filename: string } }).input.filename).toBe('taxes.txt');
  });

  it.each(['text-message', 'text-and-tool-use-message'])('%s: a recorded JSON Message replays as events that accumulate to it', async (name) => {
    const message = (recorded('anthropic', name) as { body: AnthropicMessage }).body;
    const replayed = messageToEvents(message) as Event[];
    assertEventGrammar(replayed);
    expect(replayed.map((e) => e.type).slice(0, 3)).toEqual(['message_start', 'content_block_start', 'ping']);
    expect(JSON.parse(JSON.stringify(await sdkFinalMessage(replayed)))).toEqual(message);
  });
});

describe('the pass-through of an anthropic provider', () => {
  it.each(ALL)('%s: every recorded event comes through as sent, complete at message_stop', (name) => {
    const decoder = createMessagesEventDecoder('claude');
    const parser = new SseParser();
    const raw = (recorded('anthropic', name) as { events: string[] }).events;
    const items: JsonObject[] = [];
    let done = false;
    for (const event of [...raw.flatMap((text) => parser.push(text)), ...parser.end()]) {
      const decoded = decoder.decode(event);
      items.push(...decoded.chunks);
      done ||= decoded.done;
    }
    expect(items).toEqual(recordedEvents(name));
    expect(done).toBe(true);
    expect(decoder.finishWithoutMarker().complete).toBe(false);
  });

  it('an error event fails the stream with Anthropic’s type and the status it goes with', () => {
    const decoder = createMessagesEventDecoder('claude');
    const error = (() => {
      try {
        decoder.decode({ event: 'error', data: '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}' });
      } catch (thrown) {
        return thrown as GatewayError;
      }
      throw new Error('expected the error event to throw');
    })();
    expect(error.status).toBe(529);
    expect(error.retryable).toBe(true);
    expect(error.toBody().error.code).toBe('overloaded_error');
  });

  it('sends the client body as it is, with only the client’s version and beta headers added', () => {
    const adapter = createAnthropicAdapter({ providerName: 'claude', apiKey: 'sk-ant', defaultMaxTokens: 10 });
    const body = { model: 'claude-x', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }], context_management: { edits: [] } };
    const spec = adapter.buildRequest({
      operation: 'messages',
      model: 'claude-x',
      body,
      stream: true,
      clientHeaders: { 'anthropic-version': '2023-06-01', 'anthropic-beta': 'context-management-2025-06-27', authorization: 'Bearer gw-key' },
    });
    expect(spec.path).toBe('/v1/messages');
    expect(JSON.parse(spec.body)).toEqual(body);
    expect(spec.headers).toMatchObject({ 'x-api-key': 'sk-ant', 'anthropic-version': '2023-06-01', 'anthropic-beta': 'context-management-2025-06-27', accept: 'text/event-stream' });
    expect(spec.headers).not.toHaveProperty('authorization');
    const count = adapter.buildRequest({ operation: 'count_tokens', model: 'claude-x', body, stream: false });
    expect(count.path).toBe('/v1/messages/count_tokens');
    expect(count.headers['anthropic-version']).toBe('2023-06-01');
    expect(adapter.parseResponse('count_tokens', { input_tokens: 12 }, 'claude-x')).toEqual({ input_tokens: 12 });
    const message = (recorded('anthropic', 'text-message') as { body: JsonObject }).body;
    expect(adapter.parseResponse('messages', message, 'claude-x')).toBe(message);
  });
});
