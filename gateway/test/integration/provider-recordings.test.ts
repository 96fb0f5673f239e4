/**
 * The edge cases of each provider's wire format, replayed from the vendors' recorded responses
 * (gateway/test/fixtures/recorded) through the gateway to the official OpenAI SDK. A model named
 * `rec-<recording>` makes the native mock server replay that recording; every completion and chunk the
 * SDK receives is validated against OpenAI's schemas.
 */
import { APIError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNativeGateway, type NativeGateway } from '../helpers/native-gateway.js';
import { recordedGeminiRequest } from '../helpers/recorded-responses.js';

let setup: NativeGateway;

/** Routes that would retry a failure three times and fall back, to show a blocked prompt is not retried. */
const retrying = { retry: { maxAttempts: 3, initialBackoffMs: 1, maxBackoffMs: 2 } };
const blockedRoute = (model: string) => ({ ...retrying, targets: [{ provider: 'gem', model }] });

beforeAll(async () => {
  setup = await startNativeGateway({
    routes: {
      'blocked-json': blockedRoute('rec-vertexai-unary-failure-prompt-blocked-safety-with-message'),
      'blocked-json-feedback-only': blockedRoute('rec-googleai-unary-failure-only-prompt-feedback'),
      'blocked-stream': blockedRoute('rec-googleai-streaming-failure-prompt-blocked-safety'),
    },
  });
});

function upstreamCalls(model: string): number {
  return setup.native.requests.filter((request) => request.path.includes(`/models/${model}:`)).length;
}

afterAll(async () => {
  await setup?.close();
});

const ask = [{ role: 'user' as const, content: 'What is the weather in SF?' }];

describe('Anthropic', () => {
  it('a streamed tool call without arguments reaches the client as "{}", like OpenAI sends it', async () => {
    const result = await setup.stream({ model: 'claude/rec-tool-use-no-arguments-stream', messages: ask });
    expect(result.toolCalls).toHaveLength(1);
    expect(result.toolCalls[0]).toMatchObject({ id: 'toolu_018acGYLtfR52q9yDbWaEdQZ', name: 'get_weather', arguments: '{}' });
    expect(result.finish).toBe('tool_calls');
  });

  it('the empty first input_json_delta of a call with arguments adds nothing', async () => {
    const result = await setup.stream({ model: 'claude/rec-tool-use-stream', messages: ask });
    const argumentDeltas = result.chunks.flatMap((chunk) => chunk.choices[0]?.delta.tool_calls ?? []).map((call) => call.function?.arguments);
    // The opening delta names the call with arguments "" (as OpenAI's does); no other delta is empty.
    expect(argumentDeltas.slice(1).every((args) => typeof args === 'string' && args.length > 0)).toBe(true);
    expect(JSON.parse(result.toolCalls[0]!.arguments)).toEqual({ location: 'San Francisco, CA', units: 'f' });
  });

  it('two tool calls in one stream get OpenAI indexes 0 and 1 and keep their ids', async () => {
    const result = await setup.stream({ model: 'claude/rec-two-tool-calls-stream', messages: ask });
    expect(result.toolCalls.map((call) => call.id)).toEqual(['toolu_018acGYLtfR52q9yDbWaEdQZ', 'toolu_018acGYLtfR52q9yDbWaEdQY']);
    for (const call of result.toolCalls) expect(JSON.parse(call.arguments)).toEqual({ location: 'San Francisco, CA', units: 'f' });
    expect(result.finish).toBe('tool_calls');
  });

  it('a tool call after text is tool call 0 although it is content block 1', async () => {
    const result = await setup.stream({ model: 'claude/rec-text-then-tool-use-stream', messages: ask, stream_options: { include_usage: true } });
    expect(result.text).toBe("I'll check the current weather in Paris for you.");
    expect(result.toolCalls).toHaveLength(1);
    expect(result.toolCalls[0]).toMatchObject({ id: 'toolu_01NRLabsLyVHZPKxbKvkfSMn', name: 'get_weather' });
    expect(JSON.parse(result.toolCalls[0]!.arguments)).toEqual({ location: 'Paris' });
    expect(result.usage).toMatchObject({ prompt_tokens: 377, completion_tokens: 65, total_tokens: 442 });
  });

  it('max_tokens inside a tool call ends with finish_reason length and the arguments as far as they got', async () => {
    const result = await setup.stream({ model: 'claude/rec-max-tokens-in-tool-input-stream', messages: ask });
    expect(result.finish).toBe('length');
    expect(result.toolCalls[0]?.name).toBe('make_file');
    expect(result.toolCalls[0]?.arguments.startsWith('{"filename": "taxes.txt", "lines_of_text": [')).toBe(true);
  });

  it('a refusal is finish_reason content_filter', async () => {
    const result = await setup.stream({ model: 'claude/rec-refusal-stream', messages: ask });
    expect(result.finish).toBe('content_filter');
    expect(result.text).toBe('');
  });

  it("a server tool's input (web search) is not passed off as a client tool call", async () => {
    const result = await setup.stream({ model: 'claude/rec-server-tool-use-refusal-stream', messages: ask });
    expect(result.chunks.some((chunk) => chunk.choices[0]?.delta.tool_calls)).toBe(false);
    expect(result.text).toBe("Here's a summary of this year's solar eclipses and how");
    expect(result.finish).toBe('content_filter');
  });

  it('a recorded 429 keeps its status, type and message', async () => {
    const error = (await setup.client.chat.completions.create({ model: 'claude/claude-error-429', messages: ask }).catch((e: unknown) => e)) as APIError;
    expect(error.status).toBe(429);
    expect(error.type).toBe('rate_limit_error');
    expect(error.code).toBe('rate_limit_error');
    expect(error.message).toContain("would exceed your organization's rate limit");
  });
});


describe('Gemini', () => {
  it('sends an OpenAI strict-mode tool schema as parametersJsonSchema, exactly as the official SDK sent it', async () => {
    // The official SDK's recorded request, which the Gemini API answered with a function call: its JSON
    // schema (additionalProperties: false, $schema, as zod helpers produce for strict mode) becomes an
    // OpenAI strict tool here, and the gateway must send what the SDK sent.
    const recordedRequest = recordedGeminiRequest('js-genai-parameters-json-schema.json') as {
      contents: unknown;
      toolConfig: unknown;
      tools: { functionDeclarations: { name: string; description: string; parametersJsonSchema: Record<string, unknown> }[] }[];
    };
    const declaration = recordedRequest.tools[0]!.functionDeclarations[0]!;
    const completion = await setup.complete({
      model: 'gem/rec-js-genai-parameters-json-schema',
      messages: [{ role: 'user', content: 'put word: hello and word: world into a string' }],
      tools: [{ type: 'function', function: { name: declaration.name, description: declaration.description, strict: true, parameters: declaration.parametersJsonSchema } }],
      tool_choice: { type: 'function', function: { name: declaration.name } },
    });
    const sent = setup.lastRequest().body;
    expect(sent.tools).toEqual(recordedRequest.tools);
    expect(sent.toolConfig).toEqual(recordedRequest.toolConfig);
    expect(sent.contents).toEqual(recordedRequest.contents);
    expect(completion.choices[0]!.message.tool_calls).toMatchObject([{ type: 'function', function: { name: 'concatStringFunction', arguments: '{"firstString":"hello","secondString":"world"}' } }]);
  });

  it.each([
    ['blocked-json', 'rec-vertexai-unary-failure-prompt-blocked-safety-with-message', /SAFETY.*Reasons/],
    ['blocked-json-feedback-only', 'rec-googleai-unary-failure-only-prompt-feedback', /Message/],
  ])('a blocked prompt (%s) is a 400 content_filter, never retried', async (route, model, message) => {
    const before = upstreamCalls(model);
    const error = (await setup.client.chat.completions.create({ model: route, messages: ask }).catch((e: unknown) => e)) as APIError;
    expect(error).toBeInstanceOf(APIError);
    expect(error.status).toBe(400);
    expect(error.code).toBe('content_filter');
    expect(error.type).toBe('invalid_request_error');
    expect(error.param).toBe('prompt');
    expect(error.message).toMatch(message);
    expect(error.headers?.get('x-gateway-attempts')).toBe('1');
    expect(upstreamCalls(model) - before).toBe(1);
  });

  it('a blocked prompt on a stream is the same 400 before any byte, never retried', async () => {
    const model = 'rec-googleai-streaming-failure-prompt-blocked-safety';
    const before = upstreamCalls(model);
    const error = (await setup.client.chat.completions.create({ model: 'blocked-stream', messages: ask, stream: true }).catch((e: unknown) => e)) as APIError;
    expect(error).toBeInstanceOf(APIError);
    expect(error.status).toBe(400);
    expect(error.code).toBe('content_filter');
    expect(error.param).toBe('prompt');
    expect(error.message).toMatch(/SAFETY/);
    expect(upstreamCalls(model) - before).toBe(1);
  });
});

describe('Azure OpenAI', () => {
  it("folds Azure's prompt_filter_results frame into the first chunk, so every chunk is a chat.completion.chunk", async () => {
    // setup.stream validates every chunk against OpenAI's schema: the recorded first frame has
    // object "", id "", created 0 and no choices, and the recorded chunks say system_fingerprint: null.
    const result = await setup.stream({ model: 'az/rec-tool-calls-stream', messages: ask });
    const first = result.chunks[0] as unknown as Record<string, unknown>;
    expect(first.id).toBe('chatcmpl-989nTRoVZHzp07arTF2OB0dZHqDMh');
    expect(first.prompt_filter_results).toEqual([
      {
        prompt_index: 0,
        content_filter_results: {
          hate: { filtered: false, severity: 'safe' },
          self_harm: { filtered: false, severity: 'safe' },
          sexual: { filtered: false, severity: 'safe' },
          violence: { filtered: false, severity: 'safe' },
        },
      },
    ]);
    expect(result.chunks.filter((chunk) => 'prompt_filter_results' in chunk)).toHaveLength(1);
    expect(result.toolCalls).toHaveLength(1);
    expect(result.toolCalls[0]).toMatchObject({ id: 'call_Gu3GsU9N61UgX9K98UtyRACL', name: 'get_current_weather' });
    expect(JSON.parse(result.toolCalls[0]!.arguments)).toEqual({ location: 'Boston, MA' });
    expect(result.finish).toBe('tool_calls');
  });

  it("completes the asynchronous filter's annotation frames and keeps its content_filter finish reason", async () => {
    const result = await setup.stream({ model: 'az/rec-content-filter-async-blocked-stream', messages: ask });
    expect(result.text).toBe('Hey Jude,');
    expect(result.finish).toBe('content_filter');
    expect(new Set(result.chunks.map((chunk) => chunk.id))).toEqual(new Set(['chatcmpl-8JCbt5d4luUIhYCI7YH4dQK7hnHx2']));
    const last = result.chunks.at(-1)!.choices[0] as unknown as Record<string, unknown>;
    expect(last.content_filter_results).toEqual({ protected_material_text: { detected: true, filtered: true } });
  });

  it("fills the fields OpenAI's schema requires into a recorded Azure chat.completion and keeps Azure's filter results", async () => {
    const completion = await setup.complete({ model: 'az/rec-chat-completion', messages: ask });
    expect(completion.choices[0]).toMatchObject({ finish_reason: 'stop', logprobs: null, message: { role: 'assistant', refusal: null } });
    expect((completion as unknown as Record<string, unknown>).prompt_filter_results).toHaveLength(1);
    expect((completion.choices[0] as unknown as Record<string, unknown>).content_filter_results).toMatchObject({ hate: { filtered: false } });
  });
});
