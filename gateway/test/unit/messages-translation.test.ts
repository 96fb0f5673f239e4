/**
 * The Messages dialect's request and response transforms, against what the official Anthropic SDK
 * sent and what the API answered (gateway/test/fixtures/recorded/anthropic, sources in its README).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.js';
import { toChatRequest, validateMessagesRequest } from '../../src/inbound/messages-request.js';
import { toAnthropicMessage as toMessage } from '../../src/inbound/messages-response.js';
import { MessagesExchange } from '../../src/inbound/messages-dialect.js';
import * as anthropic from '../../src/providers/anthropic-mapping.js';
import { recorded } from '../helpers/recorded-responses.js';

const recordedRequest = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(new URL(`../fixtures/recorded/anthropic/requests/${name}.json`, import.meta.url), 'utf8')) as Record<string, unknown>;

const translate = (body: Record<string, unknown>) => toChatRequest(validateMessagesRequest(body));

/** The GatewayError `run` throws. */
function thrown(run: () => unknown): GatewayError {
  try {
    run();
  } catch (error) {
    if (error instanceof GatewayError) return error;
    throw error;
  }
  throw new Error('expected a GatewayError');
}

const refusal = (body: Record<string, unknown>): GatewayError => thrown(() => translate(body));

const user = (content: unknown) => ({ model: 'm', max_tokens: 10, messages: [{ role: 'user', content }] });

describe('Messages request → canonical chat request', () => {
  it('translates the tool round trip the official SDK sent (tool_use, tool_result, tools, stream)', () => {
    const body = recordedRequest('tool-round-trip-request');
    const chat = translate(body);
    expect(chat).toEqual({
      model: 'claude-haiku-4-5',
      max_tokens: 1024,
      stream: true,
      messages: [
        { role: 'user', content: 'What is the weather in SF?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'toolu_018acGYLtfR52q9yDbWaEdQZ', type: 'function', function: { name: 'get_weather', arguments: '{"location":"San Francisco, CA","units":"f"}' } }],
        },
        { role: 'tool', tool_call_id: 'toolu_018acGYLtfR52q9yDbWaEdQZ', content: '{"location": "San Francisco, CA", "temperature": "68\\u00b0F", "condition": "Sunny"}' },
      ],
      tools: [
        {
          type: 'function',
          function: {
            name: 'get_weather',
            description: 'Lookup the weather for a given city in either celsius or fahrenheit',
            parameters: (body.tools as { input_schema: unknown }[])[0]!.input_schema,
          },
        },
      ],
    });
    // The outbound Anthropic adapter reads the canonical request back into the same conversation.
    const back = anthropic.toAnthropicRequest(chat, 'claude-haiku-4-5', 1, true);
    const original = body.messages as { content: unknown }[];
    expect(back.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: original[0]!.content }] },
      { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_018acGYLtfR52q9yDbWaEdQZ', name: 'get_weather', input: { location: 'San Francisco, CA', units: 'f' } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_018acGYLtfR52q9yDbWaEdQZ', content: (original[2]!.content as { content: string }[])[0]!.content }] },
    ]);
  });

  it('refuses a conversation with a server tool call (recorded code execution) on a translated path', () => {
    const error = refusal(recordedRequest('server-tool-request'));
    expect(error.code).toBe('invalid_request');
    expect(error.status).toBe(400);
    expect(error.param).toBe('messages[1].content[1].type');
  });

  it('with a callback, what cannot be translated is reported and left out (the canonical form of a native request)', () => {
    const refused: GatewayError[] = [];
    const chat = toChatRequest(validateMessagesRequest(recordedRequest('server-tool-request')), (error) => refused.push(error));
    expect(refused.map((error) => error.param)).toEqual(['messages[1].content[1].type']);
    const assistant = (chat.messages as { role: string; tool_calls?: { id: string }[] }[])[1]!;
    expect(assistant.tool_calls?.map((call) => call.id)).toEqual(['toolu_011MDRpaZRMRRjtFkJizD6nS']);
    expect(chat).not.toHaveProperty('container');
  });

  it('refuses server tools and other Anthropic-defined tools, and keeps custom ones', () => {
    const tools = [
      { name: 'f', input_schema: { type: 'object' } },
      { type: 'web_search_20250305', name: 'web_search', max_uses: 2 },
    ];
    expect(refusal({ ...user('hi'), tools }).param).toBe('tools[1].type');
    expect(refusal({ ...user('hi'), tools: [{ type: 'bash_20250124', name: 'bash' }] }).param).toBe('tools[0].type');
    const chat = translate({ ...user('hi'), tools: [{ type: 'custom', name: 'g', description: 'G', input_schema: { type: 'object' }, strict: true, cache_control: { type: 'ephemeral' } }] });
    expect(chat.tools).toEqual([{ type: 'function', function: { name: 'g', description: 'G', parameters: { type: 'object' }, strict: true } }]);
  });

  it('system as a string or as text blocks (cache_control dropped)', () => {
    expect(translate({ ...user('hi'), system: 'Be brief.' }).messages).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'hi' },
    ]);
    const blocks = [
      { type: 'text', text: 'Long context', cache_control: { type: 'ephemeral', ttl: '1h' } },
      { type: 'text', text: 'Be brief.' },
    ];
    expect((translate({ ...user('hi'), system: blocks }).messages as unknown[])[0]).toEqual({
      role: 'system',
      content: [{ type: 'text', text: 'Long context' }, { type: 'text', text: 'Be brief.' }],
    });
    expect(refusal({ ...user('hi'), system: [{ type: 'image', source: {} }] }).param).toBe('system[0].type');
  });

  it('images: base64 and URL sources; a Files API source is refused', () => {
    const chat = translate(
      user([
        { type: 'text', text: 'What is this?' },
        { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0K' }, cache_control: { type: 'ephemeral' } },
        { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
      ]),
    );
    expect(chat.messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What is this?' },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0K' } },
          { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } },
        ],
      },
    ]);
    expect(refusal(user([{ type: 'image', source: { type: 'file', file_id: 'file_1' } }])).param).toBe('messages[0].content[0].source');
  });

  it('documents: PDF as a file part, plain text and content sources as text; URL sources are refused', () => {
    const chat = translate(
      user([
        { type: 'document', title: 'report.pdf', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0' }, citations: { enabled: true } },
        { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'plain words' } },
        { type: 'document', source: { type: 'content', content: [{ type: 'text', text: 'chunk' }] } },
      ]),
    );
    expect(chat.messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'file', file: { filename: 'report.pdf', file_data: 'data:application/pdf;base64,JVBERi0' } },
          { type: 'text', text: 'plain words' },
          { type: 'text', text: 'chunk' },
        ],
      },
    ]);
    expect(refusal(user([{ type: 'document', source: { type: 'url', url: 'https://x/y.pdf' } }])).param).toBe('messages[0].content[0].source');
  });

  it('tool results: is_error, nested text and images (which follow the tool messages as a user message)', () => {
    const chat = translate({
      model: 'm',
      max_tokens: 10,
      messages: [
        { role: 'user', content: 'Look' },
        { role: 'assistant', content: [{ type: 'text', text: 'Checking.' }, { type: 'tool_use', id: 't1', name: 'shot', input: {} }, { type: 'tool_use', id: 't2', name: 'run', input: { x: 1 } }] },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 't1', content: [{ type: 'text', text: 'taken' }, { type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: 'AAA' } }] },
            { type: 'tool_result', tool_use_id: 't2', is_error: true, content: 'exit 1' },
            { type: 'text', text: 'Now?' },
          ],
        },
      ],
    });
    expect(chat.messages).toEqual([
      { role: 'user', content: 'Look' },
      {
        role: 'assistant',
        content: 'Checking.',
        tool_calls: [
          { id: 't1', type: 'function', function: { name: 'shot', arguments: '{}' } },
          { id: 't2', type: 'function', function: { name: 'run', arguments: '{"x":1}' } },
        ],
      },
      { role: 'tool', tool_call_id: 't1', content: 'taken' },
      { role: 'tool', tool_call_id: 't2', content: 'Error: exit 1' },
      { role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/jpeg;base64,AAA' } }, { type: 'text', text: 'Now?' }] },
    ]);
  });

  it('thinking and redacted_thinking blocks are dropped; a turn of thinking alone disappears', () => {
    const chat = translate({
      model: 'm',
      max_tokens: 10,
      messages: [
        { role: 'user', content: 'q' },
        { role: 'assistant', content: [{ type: 'redacted_thinking', data: 'xx' }] },
        { role: 'assistant', content: [{ type: 'thinking', thinking: 'hmm', signature: 'sig' }, { type: 'text', text: 'a' }] },
        { role: 'user', content: 'q2' },
      ],
    });
    expect(chat.messages).toEqual([
      { role: 'user', content: 'q' },
      { role: 'assistant', content: 'a' },
      { role: 'user', content: 'q2' },
    ]);
  });

  it('tool_choice auto/any/tool/none with disable_parallel_tool_use; without tools it is not sent', () => {
    const tools = [{ name: 'f', input_schema: { type: 'object' } }];
    const choice = (tool_choice: unknown) => {
      const chat = translate({ ...user('hi'), tools, tool_choice });
      return { tool_choice: chat.tool_choice, parallel_tool_calls: chat.parallel_tool_calls };
    };
    expect(choice({ type: 'auto' })).toEqual({ tool_choice: 'auto', parallel_tool_calls: undefined });
    expect(choice({ type: 'any', disable_parallel_tool_use: true })).toEqual({ tool_choice: 'required', parallel_tool_calls: false });
    expect(choice({ type: 'tool', name: 'f' })).toEqual({ tool_choice: { type: 'function', function: { name: 'f' } }, parallel_tool_calls: undefined });
    expect(choice({ type: 'none' })).toEqual({ tool_choice: 'none', parallel_tool_calls: undefined });
    expect(translate({ ...user('hi'), tool_choice: { type: 'auto' } })).not.toHaveProperty('tool_choice');
    // The table is the outbound adapter's, read the other way.
    for (const openai of ['auto', 'required', 'none']) {
      expect(anthropic.fromAnthropicToolChoice(anthropic.toAnthropicToolChoice(openai, undefined)!).tool_choice).toBe(openai);
    }
  });

  it('sampling, stop sequences and metadata.user_id; top_k, thinking and unknown fields are dropped', () => {
    const chat = translate({
      ...user('hi'),
      temperature: 0.2,
      top_p: 0.9,
      top_k: 40,
      stop_sequences: ['END', '###'],
      metadata: { user_id: 'user-42' },
      thinking: { type: 'enabled', budget_tokens: 2048 },
      context_management: { edits: [] },
      output_config: { effort: 'high' },
      service_tier: 'auto',
    });
    expect(chat).toEqual({ model: 'm', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }], temperature: 0.2, top_p: 0.9, stop: ['END', '###'], user: 'user-42' });
  });

  it('nested blocks that are not blocks are a 400 naming them, not a crash', () => {
    expect(refusal(user([{ type: 'tool_result', tool_use_id: 't', content: [null] }])).param).toBe('messages[0].content[0].content[0]');
    expect(refusal(user([{ type: 'document', source: { type: 'content', content: [5] } }])).param).toBe('messages[0].content[0].source.content[0]');
  });

  it('refuses block types it does not know, naming the block', () => {
    expect(refusal(user([{ type: 'container_upload', file_id: 'f' }])).param).toBe('messages[0].content[0].type');
    expect(refusal({ model: 'm', max_tokens: 1, messages: [{ role: 'assistant', content: [{ type: 'web_search_tool_result', tool_use_id: 'x', content: [] }] }] }).param).toBe(
      'messages[0].content[0].type',
    );
  });
});

describe('the pass-through body', () => {
  it('is the client body with the target model; thinking the gateway made (no signature) is left out', () => {
    const signed = { type: 'thinking', thinking: 'mine', signature: 'EqoB' };
    const body = {
      model: 'route',
      max_tokens: 10,
      messages: [
        { role: 'user', content: 'q' },
        { role: 'assistant', content: [{ type: 'thinking', thinking: 'from vLLM', signature: '' }, { type: 'text', text: 'a' }] },
        { role: 'assistant', content: [signed, { type: 'text', text: 'b' }] },
        { role: 'user', content: 'q2' },
      ],
      container: 'c1',
    };
    const native = new MessagesExchange(validateMessagesRequest(body), {}).nativeBody('claude-x');
    expect(native).toEqual({ ...body, model: 'claude-x', messages: [body.messages[0], { role: 'assistant', content: [{ type: 'text', text: 'a' }] }, body.messages[2], body.messages[3]] });
    const plain = { model: 'route', max_tokens: 10, messages: [{ role: 'user', content: 'q' }] };
    expect(new MessagesExchange(validateMessagesRequest(plain), {}).nativeBody('claude-x').messages).toBe(plain.messages);
  });
});

describe('Messages request validation', () => {
  const invalid = (body: unknown): GatewayError => thrown(() => validateMessagesRequest(body));

  it('names the field the way Anthropic does in the message, and OpenAI-style in param', () => {
    const missing = invalid({ model: 'm', messages: [{ role: 'user', content: 'x' }] });
    expect(missing.code).toBe('invalid_request');
    expect(missing.param).toBe('max_tokens');
    expect(missing.message).toMatch(/^max_tokens: /);
    const role = invalid({ model: 'm', max_tokens: 5, messages: [{ role: 'tool', content: 'x' }] });
    expect(role.param).toBe('messages[0].role');
    expect(role.message).toMatch(/^messages\.0\.role: /);
    expect(invalid({ model: 'm', max_tokens: 5, messages: [] }).param).toBe('messages');
    expect(invalid([1]).code).toBe('invalid_request');
    expect(invalid({ model: 'x'.repeat(257), max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }).param).toBe('model');
  });

  it('keeps the original object (unknown fields and key order) for a pass-through', () => {
    const body = { thinking: { type: 'adaptive' }, model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'x' }], context_management: { edits: [] } };
    expect(validateMessagesRequest(body)).toBe(body);
  });
});

describe('canonical chat answer → Messages response', () => {
  it('reproduces the recorded Message through the outbound adapter and back (text, tool_use, usage)', () => {
    for (const name of ['text-and-tool-use-message', 'text-message']) {
      const message = (recorded('anthropic', name) as { body: Record<string, unknown> }).body;
      const chat = anthropic.toOpenAIResponse(message, 'gpt-x');
      const back = toMessage(chat, 'claude-haiku-4-5');
      expect(back.id).toBe(message.id);
      expect(back.model).toBe('claude-haiku-4-5');
      expect({ type: back.type, role: back.role, stop_reason: back.stop_reason, stop_sequence: back.stop_sequence }).toEqual({
        type: 'message',
        role: 'assistant',
        stop_reason: message.stop_reason,
        stop_sequence: message.stop_sequence,
      });
      expect(back.content).toEqual(
        (message.content as Record<string, unknown>[]).map(({ type, text, id, name: toolName, input }) => (type === 'text' ? { type, text } : { type, id, name: toolName, input })),
      );
      const usage = message.usage as Record<string, number>;
      expect(back.usage).toEqual({
        input_tokens: usage.input_tokens,
        output_tokens: usage.output_tokens,
        cache_creation_input_tokens: usage.cache_creation_input_tokens ?? 0,
        cache_read_input_tokens: usage.cache_read_input_tokens ?? 0,
      });
    }
  });

  const completion = (message: Record<string, unknown>, finish: string, extra: Record<string, unknown> = {}) => ({
    id: 'chatcmpl-1',
    object: 'chat.completion',
    choices: [{ index: 0, message: { role: 'assistant', ...message }, finish_reason: finish, ...extra }],
    usage: { prompt_tokens: 100, completion_tokens: 7, total_tokens: 107, prompt_tokens_details: { cached_tokens: 60 } },
  });

  it('reasoning becomes a thinking block; OpenAI cached tokens become cache reads', () => {
    const message = toMessage(completion({ content: 'Paris.', reasoning_content: 'The capital…' }, 'stop'), 'client-model');
    expect(message).toMatchObject({
      id: 'msg_chatcmpl-1',
      model: 'client-model',
      content: [
        { type: 'thinking', thinking: 'The capital…', signature: '' },
        { type: 'text', text: 'Paris.' },
      ],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: 40, output_tokens: 7, cache_read_input_tokens: 60, cache_creation_input_tokens: 0 },
    });
  });

  it('stop reasons: length, tool calls (also under "stop"), content filter and refusal, a matched stop sequence', () => {
    const call = { id: 'c1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } };
    expect(toMessage(completion({ content: 'x' }, 'length'), 'm').stop_reason).toBe('max_tokens');
    expect(toMessage(completion({ content: null, tool_calls: [call] }, 'tool_calls'), 'm')).toMatchObject({
      stop_reason: 'tool_use',
      content: [{ type: 'tool_use', id: 'c1', name: 'f', input: { a: 1 } }],
    });
    expect(toMessage(completion({ content: null, tool_calls: [call] }, 'stop'), 'm').stop_reason).toBe('tool_use');
    expect(toMessage(completion({ content: '' }, 'content_filter'), 'm')).toMatchObject({ stop_reason: 'refusal', content: [] });
    expect(toMessage(completion({ content: null, refusal: 'I cannot help.' }, 'stop'), 'm')).toMatchObject({ stop_reason: 'refusal', content: [{ type: 'text', text: 'I cannot help.' }] });
    const stopped = completion({ content: 'a' }, 'stop', { stop_reason: '###' });
    expect(toMessage(stopped, 'm', { stopSequences: ['###'] })).toMatchObject({ stop_reason: 'stop_sequence', stop_sequence: '###' });
    expect(toMessage(stopped, 'm', {})).toMatchObject({ stop_reason: 'end_turn', stop_sequence: null });
    // Every stop reason maps back to the finish reason it came from.
    for (const [finish, stop] of Object.entries(anthropic.STOP_REASONS)) {
      expect(anthropic.finishReason(stop)).toBe(finish === 'function_call' ? 'tool_calls' : finish);
    }
  });

  it('usage round-trips with the outbound adapter, cache writes included', () => {
    const usage = { input_tokens: 12, output_tokens: 5, cache_creation_input_tokens: 300, cache_read_input_tokens: 40 };
    expect(anthropic.toAnthropicUsage(anthropic.toOpenAIUsage(usage))).toEqual(usage);
    expect(anthropic.toAnthropicUsage(undefined)).toEqual({ input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 });
  });
});
