/**
 * The edge cases of each provider's wire format, replayed from the vendors' recorded responses
 * (gateway/test/fixtures/recorded) through the gateway to the official OpenAI SDK. A model named
 * `rec-<recording>` makes the native mock server replay that recording; every completion and chunk the
 * SDK receives is validated against OpenAI's schemas.
 */
import { APIError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNativeGateway, type NativeGateway } from '../helpers/native-gateway.js';
import { recorded, recordedGeminiRequest } from '../helpers/recorded-responses.js';

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

/** The thought signature a recorded Gemini response carries on its function call. */
function signatureIn(name: string): string {
  const response = recorded('gemini', name);
  const text = response.kind === 'json' ? JSON.stringify(response.body) : response.events.join('');
  return /"thoughtSignature": ?"([^"]+)"/.exec(text)![1]!;
}

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

  it('a function call without arguments, after thought summaries, streams as "{}" with its thought signature', async () => {
    const name = 'googleai-streaming-success-thinking-function-call-thought-summary-signature';
    const signature = signatureIn(name);
    const result = await setup.stream({ model: `gem/rec-${name}`, messages: ask, stream_options: { include_usage: true } });
    expect(result.text).toBe(''); // thought summaries are not the answer
    expect(result.toolCalls).toHaveLength(1);
    expect(result.toolCalls[0]).toMatchObject({ name: 'now', arguments: '{}' });
    // Google's own OpenAI-compatible API carries the signature the same way.
    expect(result.toolCalls[0]!.extra).toEqual({ extra_content: { google: { thought_signature: signature } } });
    expect(result.finish).toBe('tool_calls');
    expect(new Set(result.chunks.map((chunk) => chunk.id))).toEqual(new Set(['48SHaPHpHKbG-8YPtZCawAk']));
    expect(result.usage).toMatchObject({ prompt_tokens: 38, completion_tokens: 174, total_tokens: 212, completion_tokens_details: { reasoning_tokens: 168 } });
  });

  it('sends a tool call\'s thought signature back with it, as Gemini 3 requires for function calling', async () => {
    const name = 'googleai-unary-success-thinking-function-call-thought-summary-signature';
    const completion = await setup.complete({ model: `gem/rec-${name}`, messages: ask });
    const message = completion.choices[0]!.message;
    expect(message.content).toBeNull();
    expect(message.tool_calls).toMatchObject([{ type: 'function', function: { name: 'now', arguments: '{}' }, extra_content: { google: { thought_signature: signatureIn(name) } } }]);
    // The client sends the assistant message back as it got it, with the tool's result.
    const call = message.tool_calls![0]!;
    await setup.complete({ model: 'gem/gemini-2.5-flash', messages: [...ask, message, { role: 'tool', tool_call_id: call.id, content: '2026-11-30T08:00:00Z' }] });
    const contents = setup.lastRequest().body.contents as { role: string; parts: Record<string, unknown>[] }[];
    expect(contents[1]).toEqual({ role: 'model', parts: [{ functionCall: { name: 'now', args: {} }, thoughtSignature: signatureIn(name) }] });
    expect(contents[2]).toEqual({ role: 'user', parts: [{ functionResponse: { name: 'now', response: { content: '2026-11-30T08:00:00Z' } } }] });
  });

  it('parallel function calls get distinct ids and indexes; a call with no args field gets "{}"', async () => {
    const parallel = await setup.complete({ model: 'gem/rec-vertexai-unary-success-function-call-parallel-calls', messages: ask });
    const calls = parallel.choices[0]!.message.tool_calls!;
    expect(calls.map((call) => (call as { function: { arguments: string } }).function.arguments)).toEqual(['{"y":1,"x":2}', '{"y":3,"x":4}', '{"y":5,"x":6}']);
    expect(new Set(calls.map((call) => call.id)).size).toBe(3);
    expect(parallel.choices[0]!.finish_reason).toBe('tool_calls');
    const empty = await setup.complete({ model: 'gem/rec-vertexai-unary-success-function-call-empty-arguments', messages: ask });
    expect(empty.choices[0]!.message.tool_calls).toMatchObject([{ function: { name: 'current_time', arguments: '{}' } }]);
  });

  it('stream finish reasons: MAX_TOKENS is length, RECITATION without content is content_filter, a last event without parts is stop', async () => {
    const long = await setup.stream({ model: 'gem/rec-js-genai-stream-max-tokens', messages: ask, stream_options: { include_usage: true } });
    expect(long.finish).toBe('length');
    expect(long.text.startsWith('The sky is blue primarily due to a phenomenon called **Rayleigh Scattering**.')).toBe(true);
    expect(long.usage).toMatchObject({ prompt_tokens: 7, completion_tokens: 198, total_tokens: 205 });
    const recitation = await setup.stream({ model: 'gem/rec-googleai-streaming-failure-recitation-no-content', messages: ask });
    expect(recitation.finish).toBe('content_filter');
    expect(recitation.text).toBe('text1text2text3text4text5text6text7text8');
    const partless = await setup.stream({ model: 'gem/rec-googleai-streaming-success-no-content-parts', messages: ask });
    expect(partless.finish).toBe('stop');
    expect(partless.text.startsWith('I will generate a 3D rendering')).toBe(true);
  });

  it("counts the tokens of a built-in tool's results (code execution) as prompt tokens, so the parts add up to the total", async () => {
    const result = await setup.stream({ model: 'gem/rec-googleai-streaming-success-code-execution', messages: ask, stream_options: { include_usage: true } });
    expect(result.text.endsWith('The sum of the first 5 prime numbers is 28.')).toBe(true);
    // 21 prompt + 243 tool-use prompt tokens in, 126 candidates + 95 thinking tokens out: 485 in all.
    expect(result.usage).toMatchObject({ prompt_tokens: 264, completion_tokens: 221, total_tokens: 485 });
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
