/**
 * Anthropic, Gemini and Azure behind the OpenAI API: the official OpenAI SDK talks to the gateway, which
 * talks to mock servers speaking each provider's native protocol and replaying the vendors' recorded
 * responses (gateway/test/fixtures/recorded). Every answer is validated against OpenAI's schemas.
 */
import { APIError } from 'openai';
import type { ChatCompletionMessageParam, ChatCompletionTool } from 'openai/resources/chat/completions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, startNativeGateway, type NativeGateway } from '../helpers/native-gateway.js';
import { AZURE_KEY, GEMINI_KEY } from '../helpers/native-upstreams.js';

let setup: NativeGateway;

beforeAll(async () => {
  setup = await startNativeGateway({
    routes: {
      // A 529 from Anthropic is retryable: the fallback answers.
      'claude-or-gemini': { targets: [{ provider: 'claude', model: 'claude-error-529' }, { provider: 'gem', model: 'gemini-2.5-flash' }] },
    },
  });
});

afterAll(async () => {
  await setup?.close();
});

const lastRequest = () => setup.lastRequest();

const weatherParameters = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] };
const tools: ChatCompletionTool[] = [
  { type: 'function', function: { name: 'get_weather', description: 'Weather by city', parameters: weatherParameters } },
];

const conversation: ChatCompletionMessageParam[] = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'Hi' },
  { role: 'assistant', content: 'Hello.' },
  {
    role: 'user',
    content: [
      { type: 'text', text: 'What is in this image?' },
      { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
      { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } },
    ],
  },
];

const toolRoundTrip: ChatCompletionMessageParam[] = [
  { role: 'user', content: 'Weather in Paris?' },
  { role: 'assistant', content: null, tool_calls: [{ id: 'call_9', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
  { role: 'tool', tool_call_id: 'call_9', content: '{"temp":21}' },
];

describe('Anthropic', () => {
  it('translates a multi-turn chat with system and images, and the answer with usage', async () => {
    const completion = await setup.complete({ model: 'claude/claude-sonnet-4-5', messages: conversation, temperature: 0.2, stop: ['END'], user: 'u-1' });
    expect(completion.choices[0]?.message.content).toBe('The weather in SF is currently **20°C** (68°F) and **Sunny**!');
    expect(completion.choices[0]?.finish_reason).toBe('stop');
    expect(completion.id).toBe('msg_01LzoWDaDa7jiMvVbBiguxJy');
    expect(completion.model).toBe('claude/claude-sonnet-4-5');
    expect(completion.usage).toMatchObject({ prompt_tokens: 705, completion_tokens: 25, total_tokens: 730, prompt_tokens_details: { cached_tokens: 0 } });
    const sent = lastRequest();
    expect(sent.path).toBe('/v1/messages');
    expect(sent.body).toEqual({
      model: 'claude-sonnet-4-5',
      max_tokens: 777,
      system: 'You are terse.',
      temperature: 0.2,
      stop_sequences: ['END'],
      metadata: { user_id: 'u-1' },
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'Hi' }] },
        { role: 'assistant', content: [{ type: 'text', text: 'Hello.' }] },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is in this image?' },
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
            { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
          ],
        },
      ],
    });
  });

  it('round-trips tools: definitions, tool_choice, tool calls and tool results', async () => {
    const completion = await setup.complete({ model: 'claude/claude-tool', messages: toolRoundTrip, tools, tool_choice: { type: 'function', function: { name: 'get_weather' } }, max_tokens: 50 });
    const message = completion.choices[0]!.message;
    expect(completion.choices[0]?.finish_reason).toBe('tool_calls');
    expect(message.content).toBe("I'll get the weather for each of those cities. Let me start by checking San Francisco.");
    expect(message.tool_calls).toEqual([
      { id: 'toolu_01LRanfq6DmHn1yDTB4d1SAh', type: 'function', function: { name: 'get_weather', arguments: '{"location":"San Francisco, CA","units":"f"}' } },
    ]);
    const sent = lastRequest().body;
    expect(sent.max_tokens).toBe(50);
    expect(sent.tools).toEqual([{ name: 'get_weather', description: 'Weather by city', input_schema: weatherParameters }]);
    expect(sent.tool_choice).toEqual({ type: 'tool', name: 'get_weather' });
    expect(sent.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'Weather in Paris?' }] },
      { role: 'assistant', content: [{ type: 'tool_use', id: 'call_9', name: 'get_weather', input: { city: 'Paris' } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'call_9', content: '{"temp":21}' }] },
    ]);
  });

  it('streams text with usage', async () => {
    const result = await setup.stream({ model: 'claude/claude-sonnet-4-5', messages: [{ role: 'user', content: 'Hi' }], stream_options: { include_usage: true } });
    expect(result.text).toBe("The weather in San Francisco, CA is currently:\n- **Temperature:** 68°F\n- **Condition:** Sunny\n\nIt's a nice sunny day!");
    expect(result.finish).toBe('stop');
    expect(new Set(result.chunks.map((chunk) => chunk.id))).toEqual(new Set(['msg_016HxyUMAncysqX7dn1kWNRx']));
    // message_delta repeats input_tokens and carries the final output_tokens.
    expect(result.usage).toMatchObject({ prompt_tokens: 770, completion_tokens: 38, total_tokens: 808 });
    expect(lastRequest().body.stream).toBe(true);
  });

  it('streams tool calls as OpenAI tool_call deltas', async () => {
    const result = await setup.stream({ model: 'claude/claude-tool', messages: toolRoundTrip, tools });
    expect(result.toolCalls).toHaveLength(1);
    expect(result.toolCalls[0]).toMatchObject({ id: 'toolu_018acGYLtfR52q9yDbWaEdQZ', name: 'get_weather' });
    expect(JSON.parse(result.toolCalls[0]!.arguments)).toEqual({ location: 'San Francisco, CA', units: 'f' });
    expect(result.finish).toBe('tool_calls');
    expect(result.usage).toBeUndefined();
  });

  it('maps errors with their status, OpenAI type and retryability', async () => {
    const cases: [string, number, string][] = [
      ['claude-error-400', 400, 'invalid_request_error'],
      ['claude-error-401', 401, 'authentication_error'],
      ['claude-error-429', 429, 'rate_limit_error'],
      ['claude-error-529', 529, 'server_error'],
    ];
    for (const [model, status, type] of cases) {
      const error = (await setup.client.chat.completions.create({ model: `claude/${model}`, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e)) as APIError;
      expect(error.status).toBe(status);
      expect(error.type).toBe(type);
    }
    // overloaded (529) is retryable, so the route falls back to Gemini.
    const fallback = await setup.client.chat.completions.create({ model: 'claude-or-gemini', messages: [{ role: 'user', content: 'x' }] }).withResponse();
    expect(fallback.response.headers.get('x-gateway-provider')).toBe('gem');
  });

  it('an error event mid-stream ends the stream with stream_interrupted', async () => {
    const stream = await setup.client.chat.completions.create({ model: 'claude/claude-midstream-error', messages: [{ role: 'user', content: 'x' }], stream: true });
    const error = (await collect(stream).catch((e: unknown) => e)) as APIError;
    expect(error).toBeInstanceOf(APIError);
    expect(error.code).toBe('stream_interrupted');
  });

  it('does not serve embeddings', async () => {
    const error = (await setup.client.embeddings.create({ model: 'claude/claude-sonnet-4-5', input: 'x' }).catch((e: unknown) => e)) as APIError;
    expect(error.status).toBe(400);
    expect(error.code).toBe('operation_not_supported');
  });
});

describe('Gemini', () => {
  it('translates a multi-turn chat with system instruction, images and generation config', async () => {
    const completion = await setup.complete({ model: 'gem/gemini-2.5-flash', messages: conversation, temperature: 0.1, max_tokens: 64, response_format: { type: 'json_object' } });
    expect(completion.choices[0]?.message.content).toBe("Google's headquarters, also known as the Googleplex, is located in **Mountain View, California**.\n");
    expect(completion.choices[0]?.finish_reason).toBe('stop');
    expect(completion.usage).toMatchObject({ prompt_tokens: 7, completion_tokens: 22, total_tokens: 29, prompt_tokens_details: { cached_tokens: 0 } });
    const sent = lastRequest();
    expect(sent.path).toBe('/v1beta/models/gemini-2.5-flash:generateContent');
    expect(sent.headers['x-goog-api-key']).toBe(GEMINI_KEY);
    expect(sent.body).toEqual({
      systemInstruction: { parts: [{ text: 'You are terse.' }] },
      contents: [
        { role: 'user', parts: [{ text: 'Hi' }] },
        { role: 'model', parts: [{ text: 'Hello.' }] },
        {
          role: 'user',
          parts: [
            { text: 'What is in this image?' },
            { inlineData: { mimeType: 'image/png', data: 'iVBORw0KGgo=' } },
            { fileData: { mimeType: 'image/jpeg', fileUri: 'https://example.com/cat.jpg' } },
          ],
        },
      ],
      generationConfig: { temperature: 0.1, maxOutputTokens: 64, responseMimeType: 'application/json' },
    });
  });

  it('round-trips tools: declarations, tool config, function calls and responses', async () => {
    const completion = await setup.complete({ model: 'gem/gemini-tool', messages: toolRoundTrip, tools, tool_choice: 'required' });
    expect(completion.choices[0]?.finish_reason).toBe('tool_calls');
    expect(completion.choices[0]?.message.tool_calls?.[0]).toMatchObject({
      type: 'function',
      function: { name: 'concatStringFunction', arguments: '{"firstString":"hello","secondString":"world"}' },
    });
    // Thinking tokens are billed as output.
    expect(completion.usage).toMatchObject({ prompt_tokens: 65, completion_tokens: 81, total_tokens: 146, completion_tokens_details: { reasoning_tokens: 59 } });
    const sent = lastRequest().body;
    expect(sent.tools).toEqual([{ functionDeclarations: [{ name: 'get_weather', description: 'Weather by city', parametersJsonSchema: weatherParameters }] }]);
    expect(sent.toolConfig).toEqual({ functionCallingConfig: { mode: 'ANY' } });
    expect(sent.contents).toEqual([
      { role: 'user', parts: [{ text: 'Weather in Paris?' }] },
      { role: 'model', parts: [{ functionCall: { name: 'get_weather', args: { city: 'Paris' } } }] },
      { role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { temp: 21 } } }] },
    ]);
  });

  it('streams text (CRLF events, no end marker) with usage', async () => {
    const result = await setup.stream({ model: 'gem/gemini-2.5-flash', messages: [{ role: 'user', content: 'Hi' }], stream_options: { include_usage: true } });
    expect(result.text).toBe('The capital of Wyoming is **Cheyenne**.\n');
    expect(result.finish).toBe('stop');
    expect(result.usage).toMatchObject({ prompt_tokens: 7, completion_tokens: 10, total_tokens: 17 });
    expect(lastRequest().path).toBe('/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse');
  });

  it('streams function calls', async () => {
    const result = await setup.stream({ model: 'gem/gemini-tool', messages: toolRoundTrip, tools });
    expect(result.toolCalls).toHaveLength(1);
    expect(result.toolCalls[0]?.name).toBe('customDivide');
    expect(JSON.parse(result.toolCalls[0]!.arguments)).toEqual({ denominator: 2, numerator: 100 });
    expect(result.finish).toBe('tool_calls');
  });

  it('a stream that ends before a finish reason is interrupted', async () => {
    const stream = await setup.client.chat.completions.create({ model: 'gem/gemini-cut', messages: [{ role: 'user', content: 'x' }], stream: true });
    const error = (await collect(stream).catch((e: unknown) => e)) as APIError;
    expect(error).toBeInstanceOf(APIError);
    expect(error.code).toBe('stream_interrupted');
  });

  it('maps Google error statuses', async () => {
    const cases: [string, number, string, string][] = [
      ['gemini-error-400', 400, 'invalid_request_error', 'invalid_argument'],
      ['gemini-error-429', 429, 'rate_limit_error', 'resource_exhausted'],
      ['gemini-error-503', 503, 'server_error', 'unavailable'],
    ];
    for (const [model, status, type, code] of cases) {
      const error = (await setup.client.chat.completions.create({ model: `gem/${model}`, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e)) as APIError;
      expect(error.status).toBe(status);
      expect(error.type).toBe(type);
      expect(error.code).toBe(code);
    }
  });
});

describe('Azure OpenAI', () => {
  it('calls the mapped deployment with api-version and api-key', async () => {
    const completion = await setup.complete({ model: 'az/gpt-4o', messages: [{ role: 'user', content: 'Hi' }] });
    expect(completion.choices[0]?.message.content).toBe('Please wait a moment while I fetch the current weather in Boston.');
    expect(completion.model).toBe('az/gpt-4o');
    const sent = lastRequest();
    expect(sent.path).toBe('/openai/deployments/prod-gpt4o/chat/completions?api-version=2024-10-21');
    expect(sent.headers['api-key']).toBe(AZURE_KEY);
    expect(sent.headers.authorization).toBeUndefined();
  });

  it('uses the model name as the deployment when unmapped, and streams', async () => {
    const result = await setup.stream({ model: 'az/my-deployment', messages: [{ role: 'user', content: 'Hi' }] });
    expect(result.finish).toBe('tool_calls');
    expect(lastRequest().path).toBe('/openai/deployments/my-deployment/chat/completions?api-version=2024-10-21');
  });

  it('serves embeddings', async () => {
    const result = await setup.client.embeddings.create({ model: 'az/embed', input: 'x', encoding_format: 'float' });
    expect(result.data[0]?.embedding).toEqual([0.5, 0.5]);
    expect(lastRequest().path).toBe('/openai/deployments/embed/embeddings?api-version=2024-10-21');
  });

  it('forwards Azure error bodies with their status', async () => {
    const error = (await setup.client.chat.completions.create({ model: 'az/filtered', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e)) as APIError;
    expect(error.status).toBe(400);
    expect(error.code).toBe('content_filter');
    expect(error.param).toBe('prompt');
  });
});
