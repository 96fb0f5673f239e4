/**
 * Anthropic, Gemini and Azure behind the OpenAI API: the official OpenAI SDK talks to the gateway, which
 * talks to mock servers speaking each provider's native protocol.
 */
import OpenAI, { APIError } from 'openai';
import type { ChatCompletionMessageParam, ChatCompletionTool } from 'openai/resources/chat/completions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { ANTHROPIC_KEY, AZURE_KEY, GEMINI_KEY, startNativeUpstreams, type NativeUpstreams } from '../helpers/native-upstreams.js';

let native: NativeUpstreams;
let gateway: RunningGateway;
let client: OpenAI;

beforeAll(async () => {
  native = await startNativeUpstreams();
  gateway = await startGateway({
    providers: {
      claude: { type: 'anthropic', apiKey: ANTHROPIC_KEY, baseUrl: native.url, defaultMaxTokens: 777 },
      gem: { type: 'gemini', apiKey: GEMINI_KEY, baseUrl: native.url },
      az: { type: 'azure', apiKey: AZURE_KEY, baseUrl: native.url, apiVersion: '2024-10-21', deployments: { 'gpt-4o': 'prod-gpt4o' } },
    },
    routing: { retry: { maxAttempts: 1 } },
    routes: {
      // A 529 from Anthropic is retryable: the fallback answers.
      'claude-or-gemini': { targets: [{ provider: 'claude', model: 'claude-error-529' }, { provider: 'gem', model: 'gemini-2.5-flash' }] },
    },
  });
  client = new OpenAI({ baseURL: gateway.baseURL, apiKey: 'client', maxRetries: 0 });
});

afterAll(async () => {
  await gateway?.close();
  await native?.close();
});

function lastRequest() {
  return native.requests.at(-1)!;
}

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

async function collect(stream: AsyncIterable<OpenAI.Chat.Completions.ChatCompletionChunk>) {
  let text = '';
  let args = '';
  let toolName: string | undefined;
  let finish: string | null | undefined;
  let usage: OpenAI.Completions.CompletionUsage | undefined;
  for await (const chunk of stream) {
    const choice = chunk.choices[0];
    text += choice?.delta.content ?? '';
    const call = choice?.delta.tool_calls?.[0];
    if (call?.function?.name) toolName = call.function.name;
    args += call?.function?.arguments ?? '';
    if (choice?.finish_reason) finish = choice.finish_reason;
    if (chunk.usage) usage = chunk.usage;
  }
  return { text, args, toolName, finish, usage };
}

describe('Anthropic', () => {
  it('translates a multi-turn chat with system and images, and the answer with usage', async () => {
    const completion = await client.chat.completions.create({ model: 'claude/claude-sonnet-4-5', messages: conversation, temperature: 0.2, stop: ['END'], user: 'u-1' });
    expect(completion.choices[0]?.message.content).toBe('Bonjour le monde');
    expect(completion.choices[0]?.finish_reason).toBe('stop');
    expect(completion.model).toBe('claude/claude-sonnet-4-5');
    expect(completion.usage).toMatchObject({ prompt_tokens: 130, completion_tokens: 12, total_tokens: 142, prompt_tokens_details: { cached_tokens: 100 } });
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
    const completion = await client.chat.completions.create({ model: 'claude/claude-tool', messages: toolRoundTrip, tools, tool_choice: { type: 'function', function: { name: 'get_weather' } }, max_tokens: 50 });
    const message = completion.choices[0]!.message;
    expect(completion.choices[0]?.finish_reason).toBe('tool_calls');
    expect(message.content).toBe('Let me check.');
    expect(message.tool_calls).toEqual([{ id: 'toolu_01', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }]);
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
    const stream = await client.chat.completions.create({ model: 'claude/claude-sonnet-4-5', messages: [{ role: 'user', content: 'Hi' }], stream: true, stream_options: { include_usage: true } });
    const result = await collect(stream);
    expect(result.text).toBe('Bonjour');
    expect(result.finish).toBe('stop');
    expect(result.usage).toMatchObject({ prompt_tokens: 130, completion_tokens: 12, total_tokens: 142 });
    expect(lastRequest().body.stream).toBe(true);
  });

  it('streams tool calls as OpenAI tool_call deltas', async () => {
    const stream = await client.chat.completions.create({ model: 'claude/claude-tool', messages: toolRoundTrip, tools, stream: true });
    const result = await collect(stream);
    expect(result.toolName).toBe('get_weather');
    expect(JSON.parse(result.args)).toEqual({ city: 'Paris' });
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
      const error = (await client.chat.completions.create({ model: `claude/${model}`, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e)) as APIError;
      expect(error.status).toBe(status);
      expect(error.type).toBe(type);
    }
    // overloaded (529) is retryable, so the route falls back to Gemini.
    const fallback = await client.chat.completions.create({ model: 'claude-or-gemini', messages: [{ role: 'user', content: 'x' }] }).withResponse();
    expect(fallback.response.headers.get('x-gateway-provider')).toBe('gem');
  });

  it('an error event mid-stream ends the stream with stream_interrupted', async () => {
    const stream = await client.chat.completions.create({ model: 'claude/claude-midstream-error', messages: [{ role: 'user', content: 'x' }], stream: true });
    await expect(collect(stream)).rejects.toThrow();
  });

  it('does not serve embeddings', async () => {
    const error = (await client.embeddings.create({ model: 'claude/claude-sonnet-4-5', input: 'x' }).catch((e: unknown) => e)) as APIError;
    expect(error.status).toBe(400);
    expect(error.code).toBe('operation_not_supported');
  });
});

describe('Gemini', () => {
  it('translates a multi-turn chat with system instruction, images and generation config', async () => {
    const completion = await client.chat.completions.create({ model: 'gem/gemini-2.5-flash', messages: conversation, temperature: 0.1, max_tokens: 64, response_format: { type: 'json_object' } });
    expect(completion.choices[0]?.message.content).toBe('Hallo Welt');
    expect(completion.choices[0]?.finish_reason).toBe('stop');
    expect(completion.usage).toMatchObject({ prompt_tokens: 30, completion_tokens: 9, total_tokens: 39, prompt_tokens_details: { cached_tokens: 10 } });
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
    const completion = await client.chat.completions.create({ model: 'gem/gemini-tool', messages: toolRoundTrip, tools, tool_choice: 'required' });
    expect(completion.choices[0]?.finish_reason).toBe('tool_calls');
    expect(completion.choices[0]?.message.tool_calls?.[0]).toMatchObject({ type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } });
    const sent = lastRequest().body;
    expect(sent.tools).toEqual([{ functionDeclarations: [{ name: 'get_weather', description: 'Weather by city', parameters: weatherParameters }] }]);
    expect(sent.toolConfig).toEqual({ functionCallingConfig: { mode: 'ANY' } });
    expect(sent.contents).toEqual([
      { role: 'user', parts: [{ text: 'Weather in Paris?' }] },
      { role: 'model', parts: [{ functionCall: { name: 'get_weather', args: { city: 'Paris' } } }] },
      { role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { temp: 21 } } }] },
    ]);
  });

  it('streams text (CRLF events, no end marker) with usage', async () => {
    const stream = await client.chat.completions.create({ model: 'gem/gemini-2.5-flash', messages: [{ role: 'user', content: 'Hi' }], stream: true, stream_options: { include_usage: true } });
    const result = await collect(stream);
    expect(result.text).toBe('Hallo');
    expect(result.finish).toBe('stop');
    expect(result.usage).toMatchObject({ prompt_tokens: 30, completion_tokens: 9, total_tokens: 39 });
    expect(lastRequest().path).toBe('/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse');
  });

  it('streams function calls', async () => {
    const stream = await client.chat.completions.create({ model: 'gem/gemini-tool', messages: toolRoundTrip, tools, stream: true });
    const result = await collect(stream);
    expect(result.toolName).toBe('get_weather');
    expect(JSON.parse(result.args)).toEqual({ city: 'Paris' });
    expect(result.finish).toBe('tool_calls');
  });

  it('a stream that ends before a finish reason is interrupted', async () => {
    const stream = await client.chat.completions.create({ model: 'gem/gemini-cut', messages: [{ role: 'user', content: 'x' }], stream: true });
    await expect(collect(stream)).rejects.toThrow();
  });

  it('maps Google error statuses', async () => {
    const cases: [string, number, string, string][] = [
      ['gemini-error-400', 400, 'invalid_request_error', 'invalid_argument'],
      ['gemini-error-429', 429, 'rate_limit_error', 'resource_exhausted'],
      ['gemini-error-503', 503, 'server_error', 'unavailable'],
    ];
    for (const [model, status, type, code] of cases) {
      const error = (await client.chat.completions.create({ model: `gem/${model}`, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e)) as APIError;
      expect(error.status).toBe(status);
      expect(error.type).toBe(type);
      expect(error.code).toBe(code);
    }
  });
});

describe('Azure OpenAI', () => {
  it('calls the mapped deployment with api-version and api-key', async () => {
    const completion = await client.chat.completions.create({ model: 'az/gpt-4o', messages: [{ role: 'user', content: 'Hi' }] });
    expect(completion.choices[0]?.message.content).toBe('deployment prod-gpt4o');
    expect(completion.model).toBe('az/gpt-4o');
    const sent = lastRequest();
    expect(sent.path).toBe('/openai/deployments/prod-gpt4o/chat/completions?api-version=2024-10-21');
    expect(sent.headers['api-key']).toBe(AZURE_KEY);
    expect(sent.headers.authorization).toBeUndefined();
  });

  it('uses the model name as the deployment when unmapped, and streams', async () => {
    const stream = await client.chat.completions.create({ model: 'az/my-deployment', messages: [{ role: 'user', content: 'Hi' }], stream: true });
    const result = await collect(stream);
    expect(result.text).toBe('deployment my-deployment');
    expect(result.finish).toBe('stop');
  });

  it('serves embeddings', async () => {
    const result = await client.embeddings.create({ model: 'az/embed', input: 'x', encoding_format: 'float' });
    expect(result.data[0]?.embedding).toEqual([0.5, 0.5]);
    expect(lastRequest().path).toBe('/openai/deployments/embed/embeddings?api-version=2024-10-21');
  });

  it('forwards Azure error bodies with their status', async () => {
    const error = (await client.chat.completions.create({ model: 'az/filtered', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e)) as APIError;
    expect(error.status).toBe(400);
    expect(error.code).toBe('content_filter');
    expect(error.param).toBe('prompt');
  });
});
