/**
 * The Responses dialect's translations as plain data: chat chunks rendered as typed events (cut by
 * length, refusals, reasoning text, parallel tool calls, namespaced tools), chat completions as response
 * objects, a stored response replayed as events, and conversation items as chat messages. Every event
 * and object is checked against OpenAI's schemas.
 */
import { describe, expect, it } from 'vitest';
import { fromChatCompletion, responseShell } from '../../src/inbound/responses-object.js';
import type { ResponsesRequest } from '../../src/inbound/responses-request.js';
import { replayFrames, TranslatedResponsesStream } from '../../src/inbound/responses-stream.js';
import { toChatRequest } from '../../src/inbound/responses-to-chat.js';
import { toAnthropicRequest } from '../../src/providers/anthropic-mapping.js';
import { toGeminiRequest } from '../../src/providers/gemini-mapping.js';
import { SseParser } from '../../src/providers/sse.js';
import type { JsonObject } from '../../src/providers/types.js';
import { assertResponse, assertResponseStreamEvent } from '../helpers/openai-schemas.js';

const request: ResponsesRequest = { model: 'route-a', input: 'hi' };
const names = new Map([['crm__lookup', { name: 'lookup', namespace: 'crm' }]]);
const chunk = (delta: JsonObject, finish: string | null = null): JsonObject => ({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: finish }] });

/** Renders chunks and returns the events, each validated and numbered from 0. */
function render(chunks: JsonObject[]): JsonObject[] {
  const telemetry = { streamText: '', reportedUsage: undefined as unknown };
  const renderer = new TranslatedResponsesStream(responseShell(request, 'resp_1', 1, 'in_progress'), names, telemetry);
  let text = '';
  for (const item of chunks) text += renderer.next(item);
  text += renderer.end();
  return parse(text);
}

function parse(text: string): JsonObject[] {
  const parser = new SseParser();
  const events = [...parser.push(text), ...parser.end()].map((sse) => {
    const event = JSON.parse(sse.data) as JsonObject;
    expect(sse.event).toBe(event.type);
    assertResponseStreamEvent(event);
    return event;
  });
  expect(events.map((event) => event.sequence_number)).toEqual(events.map((_, i) => i));
  return events;
}

describe('chat chunks as Responses events', () => {
  it('an answer cut by its length ends with response.incomplete, reason max_output_tokens', () => {
    const events = render([chunk({ role: 'assistant', content: 'Once upon' }), chunk({ content: ' a time' }, 'length')]);
    const last = events.at(-1)!;
    expect(last.type).toBe('response.incomplete');
    const response = last.response as JsonObject;
    expect(response).toMatchObject({ status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } });
    expect((response.output as JsonObject[])[0]).toMatchObject({ type: 'message', status: 'incomplete', content: [{ type: 'output_text', text: 'Once upon a time' }] });
    assertResponse(response);
  });

  it('a refusal is a refusal content part with its own delta and done events', () => {
    const events = render([chunk({ role: 'assistant', refusal: "I can't" }), chunk({ refusal: ' help with that.' }, 'stop')]);
    expect(events.map((event) => event.type)).toEqual([
      'response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added',
      'response.refusal.delta', 'response.refusal.delta', 'response.refusal.done', 'response.content_part.done',
      'response.output_item.done', 'response.completed',
    ]);
    expect(((events.at(-1)!.response as JsonObject).output as JsonObject[])[0]!.content).toEqual([{ type: 'refusal', refusal: "I can't help with that." }]);
  });

  it('reasoning text (vLLM, SGLang reasoning_content) is a reasoning item before the message', () => {
    const events = render([chunk({ role: 'assistant', reasoning_content: 'Think: 2+2.' }), chunk({ content: '4' }, 'stop')]);
    const output = (events.at(-1)!.response as JsonObject).output as JsonObject[];
    expect(output.map((item) => item.type)).toEqual(['reasoning', 'message']);
    expect(output[0]!.content).toEqual([{ type: 'reasoning_text', text: 'Think: 2+2.' }]);
    expect(events.filter((event) => event.type === 'response.reasoning_text.delta')).toHaveLength(1);
  });

  it('parallel tool calls are function_call items in order; a namespaced one is mapped back', () => {
    const events = render([
      chunk({ role: 'assistant', tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '{"city":' } }] }),
      chunk({ tool_calls: [{ index: 1, id: 'call_b', type: 'function', function: { name: 'crm__lookup', arguments: '{}' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '"Oslo"}' } }] }),
      chunk({}, 'tool_calls'),
    ]);
    const output = (events.at(-1)!.response as JsonObject).output as JsonObject[];
    expect(output).toMatchObject([
      { type: 'function_call', call_id: 'call_a', name: 'get_weather', arguments: '{"city":"Oslo"}', status: 'completed' },
      { type: 'function_call', call_id: 'call_b', name: 'lookup', namespace: 'crm', arguments: '{}', status: 'completed' },
    ]);
    expect(events.filter((event) => event.type === 'response.function_call_arguments.done').map((event) => event.arguments)).toEqual(['{"city":"Oslo"}', '{}']);
  });

  it('a broken stream ends with error (stream_interrupted) then response.failed (server_error)', () => {
    const telemetry = { streamText: '', reportedUsage: undefined as unknown };
    const renderer = new TranslatedResponsesStream(responseShell(request, 'resp_1', 1, 'in_progress'), names, telemetry);
    const text = renderer.next(chunk({ role: 'assistant', content: 'Hel' })) + renderer.fail({ error: { message: 'the upstream stream broke', type: 'server_error', param: null, code: 'stream_interrupted' } });
    const events = parse(text);
    expect(events.slice(-2).map((event) => event.type)).toEqual(['error', 'response.failed']);
    expect((events.at(-1)!.response as JsonObject).error).toEqual({ code: 'server_error', message: 'the upstream stream broke' });
    expect(telemetry.streamText).toBe('Hel');
  });
});

describe('chat completions as response objects', () => {
  it('a content-filtered answer is incomplete with reason content_filter; usage in Responses terms', () => {
    const response = fromChatCompletion(
      {
        choices: [{ index: 0, message: { role: 'assistant', content: 'Partial' }, finish_reason: 'content_filter' }],
        usage: { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10, prompt_tokens_details: { cached_tokens: 2 }, completion_tokens_details: { reasoning_tokens: 1 } },
      },
      responseShell(request, 'resp_2', 1, 'in_progress'),
      names,
    );
    assertResponse(response);
    expect(response).toMatchObject({
      status: 'incomplete',
      incomplete_details: { reason: 'content_filter' },
      usage: { input_tokens: 7, input_tokens_details: { cached_tokens: 2 }, output_tokens: 3, output_tokens_details: { reasoning_tokens: 1 }, total_tokens: 10 },
    });
  });

  it('a stored response replays as the events that stream it, ending with the same output', () => {
    const stored = fromChatCompletion(
      { choices: [{ index: 0, message: { role: 'assistant', content: 'Let me check.', tool_calls: [{ id: 'call_z', type: 'function', function: { name: 'crm__lookup', arguments: '{"id":7}' } }] }, finish_reason: 'tool_calls' }] },
      responseShell(request, 'resp_3', 1, 'in_progress'),
      names,
    );
    const { frames, response } = replayFrames(stored, names);
    const events = parse(frames.join(''));
    expect(events.at(-1)!.type).toBe('response.completed');
    expect((response.output as JsonObject[]).map(({ id: _id, ...item }) => item)).toEqual((stored.output as JsonObject[]).map(({ id: _id, ...item }) => item));
  });
});

describe('conversation items as chat messages', () => {
  it('calls join their assistant turn, outputs become tool messages, namespaces flatten, reasoning is left out', () => {
    const { body } = toChatRequest({ model: 'm', instructions: 'Be brief.' }, [
      { type: 'message', role: 'developer', content: [{ type: 'input_text', text: 'No jokes.' }] },
      { type: 'message', role: 'user', content: 'Find customer 7.' },
      { type: 'reasoning', id: 'rs_1', summary: [] },
      { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Looking.', annotations: [] }] },
      { type: 'function_call', call_id: 'call_1', name: 'lookup', namespace: 'crm', arguments: '{"id":7}' },
      { type: 'function_call', call_id: 'call_2', name: 'get_weather', arguments: '{}' },
      { type: 'function_call_output', call_id: 'call_1', output: [{ type: 'input_text', text: 'Ada' }] },
      { type: 'function_call_output', call_id: 'call_2', output: 'sunny' },
    ]);
    expect(body.messages).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'system', content: 'No jokes.' },
      { role: 'user', content: 'Find customer 7.' },
      {
        role: 'assistant',
        content: 'Looking.',
        tool_calls: [
          { id: 'call_1', type: 'function', function: { name: 'crm__lookup', arguments: '{"id":7}' } },
          { id: 'call_2', type: 'function', function: { name: 'get_weather', arguments: '{}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'call_1', content: 'Ada' },
      { role: 'tool', tool_call_id: 'call_2', content: 'sunny' },
    ]);
  });

  it('files and images become chat content parts; hosted tools and custom tools are named as dropped', () => {
    const translation = toChatRequest(
      {
        model: 'm',
        tools: [{ type: 'web_search' }, { type: 'custom', name: 'grammar' }, { type: 'function', name: 'f', parameters: { type: 'object' } }],
      },
      [{ type: 'message', role: 'user', content: [{ type: 'input_file', filename: 'a.pdf', file_data: 'data:application/pdf;base64,JVBER' }, { type: 'input_image', image_url: 'data:image/png;base64,iVBO' }] }],
    );
    expect(translation.droppedTools).toEqual(['web_search', 'custom']);
    expect((translation.body.messages as JsonObject[])[0]!.content).toEqual([
      { type: 'file', file: { file_data: 'data:application/pdf;base64,JVBER', filename: 'a.pdf' } },
      { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBO' } },
    ]);
    // Where the provider can take a file: an Anthropic document block, Gemini inline data.
    expect((toAnthropicRequest(translation.body, 'claude', 100, false).messages as JsonObject[])[0]!.content).toEqual([
      { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBER' } },
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBO' } },
    ]);
    expect(((toGeminiRequest(translation.body).contents as JsonObject[])[0]!.parts as JsonObject[])[0]).toEqual({ inlineData: { mimeType: 'application/pdf', data: 'JVBER' } });
  });
});
