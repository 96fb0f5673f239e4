/**
 * The Responses API through every provider type, with the official OpenAI SDK as the client: JSON and
 * streams (every answer and event validated against OpenAI's schemas), multi-turn conversations through
 * previous_response_id (across providers too), tool calls and their outputs, structured output,
 * retrieve / delete / input items, and what each upstream was actually sent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertOpenAISchema, assertResponse, assertResponseItemList, assertResponseStreamEvent } from '../helpers/openai-schemas.js';
import { create, startResponsesGateway, stream, type ResponsesGateway } from '../helpers/responses-client.js';

let env: ResponsesGateway;

beforeAll(async () => {
  env = await startResponsesGateway();
});
afterAll(async () => {
  await env?.close();
});

const weatherTool = {
  type: 'function' as const,
  name: 'get_weather',
  description: 'Current weather in a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false },
  strict: true,
};

interface ProviderCase {
  name: string;
  /** A model that answers with text, and one that answers a tool-offering request with a tool call. */
  model: string;
  toolModel: string;
  /** The last request the upstream received, as chat-like messages' texts in order (roles included). */
  lastTurns(): { role: string; text: string }[];
  lastBody(): Record<string, unknown>;
}

const anthropicText = (content: unknown): string =>
  typeof content === 'string' ? content : (content as { type: string; text?: string; content?: unknown }[]).map((b) => b.text ?? (typeof b.content === 'string' ? b.content : '')).join('');

const CASES: ProviderCase[] = [
  {
    name: 'a chat-only OpenAI-compatible server (translated)',
    model: 'chat/small-model',
    toolModel: 'chat/agent-model',
    lastBody: () => env.chat.requests.at(-1)!.body,
    lastTurns: () =>
      (env.chat.requests.at(-1)!.body.messages as { role: string; content: unknown; tool_calls?: { function: { arguments: string } }[] }[]).map((m) => ({
        role: m.role,
        text: typeof m.content === 'string' ? m.content : m.content === null ? (m.tool_calls ?? []).map((c) => c.function.arguments).join('') : JSON.stringify(m.content),
      })),
  },
  {
    name: 'OpenAI (native Responses API)',
    model: 'oai/gpt-4o-mini',
    toolModel: 'oai/gpt-4o-mini',
    lastBody: () => env.native.requests.at(-1)!.body,
    lastTurns: () => {
      const input = env.native.requests.at(-1)!.body.input;
      if (typeof input === 'string') return [{ role: 'user', text: input }];
      return (input as { type?: string; role?: string; content?: unknown; arguments?: string; output?: string }[]).map((item) => ({
        role: item.role ?? item.type ?? '',
        text: item.content !== undefined ? anthropicText(item.content) : (item.arguments ?? item.output ?? ''),
      }));
    },
  },
  {
    name: 'Anthropic (translated)',
    model: 'claude/claude-haiku-4-5',
    toolModel: 'claude/claude-haiku-4-5-tool',
    lastBody: () => env.native.requests.at(-1)!.body,
    lastTurns: () => (env.native.requests.at(-1)!.body.messages as { role: string; content: unknown }[]).map((m) => ({ role: m.role, text: anthropicText(m.content) })),
  },
  {
    name: 'Gemini (translated)',
    model: 'gem/gemini-2.0-flash',
    toolModel: 'gem/gemini-2.0-flash-tool',
    lastBody: () => env.native.requests.at(-1)!.body,
    lastTurns: () =>
      (env.native.requests.at(-1)!.body.contents as { role: string; parts: { text?: string; functionResponse?: unknown; functionCall?: unknown }[] }[]).map((c) => ({
        role: c.role,
        text: c.parts.map((p) => p.text ?? JSON.stringify(p.functionResponse ?? p.functionCall ?? '')).join(''),
      })),
  },
];

describe.each(CASES)('Responses API through $name', (provider) => {
  it('responses.create answers a valid response: the model asked for, output text, usage', async () => {
    const response = await create(env.client, { model: provider.model, input: 'Say hello.', instructions: 'Answer briefly.' });
    expect(response).toMatchObject({ object: 'response', status: 'completed', model: provider.model, instructions: 'Answer briefly.' });
    expect(response.id).toMatch(/^resp_/);
    expect(response.output_text.length).toBeGreaterThan(0);
    expect(response.usage!.input_tokens).toBeGreaterThan(0);
    expect(response.usage!.total_tokens).toBe(response.usage!.input_tokens + response.usage!.output_tokens);
  });

  it('responses.stream sends the typed events in order, and its final response is the stored one', async () => {
    const { events, text, final } = await stream(env.client, { model: provider.model, input: 'Stream a greeting.' });
    const types = events.map((event) => event.type);
    expect(types.slice(0, 4)).toEqual(['response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added']);
    expect(types).toContain('response.output_text.delta');
    const tail = types.slice(types.lastIndexOf('response.output_text.done'));
    expect(tail).toEqual(['response.output_text.done', 'response.content_part.done', 'response.output_item.done', 'response.completed']);
    expect(final.status).toBe('completed');
    expect(final.model).toBe(provider.model);
    expect(final.output_text).toBe(text);
    const completed = events.at(-1);
    if (completed?.type !== 'response.completed') throw new Error('no response.completed');
    const stored = await env.client.responses.retrieve(final.id);
    assertResponse(JSON.parse(JSON.stringify({ ...stored, output_text: undefined })));
    expect(stored.output).toEqual(completed.response.output);
  });

  it('continues a conversation with previous_response_id: earlier turns go upstream, instructions do not', async () => {
    const first = await create(env.client, { model: provider.model, input: 'My name is Ada.', instructions: 'You are terse.' });
    const second = await create(env.client, { model: provider.model, input: 'What is my name?', previous_response_id: first.id });
    expect(second.previous_response_id).toBe(first.id);
    expect(second.instructions).toBeNull();
    const turns = provider.lastTurns();
    const texts = turns.map((turn) => turn.text);
    expect(texts[0]).toContain('My name is Ada.');
    expect(texts.some((text) => text.includes(first.output_text.slice(0, 40)))).toBe(true);
    expect(texts.at(-1)).toContain('What is my name?');
    expect(JSON.stringify(provider.lastBody())).not.toContain('You are terse.');

    const items = await env.client.responses.inputItems.list(second.id);
    assertResponseItemList(JSON.parse(JSON.stringify({ object: 'list', data: items.data, first_id: items.data[0]?.id, last_id: items.data.at(-1)?.id, has_more: false })));
    // Newest first: this turn's question, the first answer, the first question.
    expect(items.data.map((item) => item.type === 'message' && item.role)).toEqual(['user', 'assistant', 'user']);
    const page = await env.client.responses.inputItems.list(second.id, { limit: 1, order: 'asc' });
    expect(page.data).toHaveLength(1);
    expect(page.has_more).toBe(true);
    expect(JSON.stringify(page.data[0])).toContain('My name is Ada.');
  });

  it('a tool call and its output: function_call item, then the output sent back continues the turn', async () => {
    const call = await create(env.client, { model: provider.toolModel, input: 'What is the weather in Paris?', tools: [weatherTool] });
    const item = call.output.find((output) => output.type === 'function_call');
    expect(item).toMatchObject({ type: 'function_call', status: 'completed' });
    if (item?.type !== 'function_call') throw new Error('no function call');
    expect(item.call_id.length).toBeGreaterThan(0);
    expect(() => JSON.parse(item.arguments) as unknown).not.toThrow();

    const answer = await create(env.client, {
      model: provider.model,
      previous_response_id: call.id,
      input: [{ type: 'function_call_output', call_id: item.call_id, output: '{"temperature_c":21}' }],
      tools: [weatherTool],
    });
    expect(answer.status).toBe('completed');
    expect(JSON.stringify(provider.lastBody())).toContain('temperature_c');
  });

  it('a stream of a tool call carries function_call_arguments deltas that add up to the final arguments', async () => {
    const { events, final } = await stream(env.client, { model: provider.toolModel, input: 'Weather in Paris?', tools: [weatherTool] });
    const call = final.output.find((output) => output.type === 'function_call');
    if (call?.type !== 'function_call') throw new Error('no function call');
    const deltas = events.filter((event) => event.type === 'response.function_call_arguments.delta').map((event) => event.delta).join('');
    expect(deltas).toBe(call.arguments);
    expect(events.find((event) => event.type === 'response.function_call_arguments.done')).toMatchObject({ arguments: call.arguments, name: call.name });
  });

  it('retrieve with stream=true streams the stored response as events (the SDK resumes from starting_after); its items keep their ids', async () => {
    for (const created of [
      await create(env.client, { model: provider.model, input: 'Tell me something.' }),
      await create(env.client, { model: provider.toolModel, input: 'Weather in Paris?', tools: [weatherTool] }),
    ]) {
      // The SDK adds output_text to a retrieved response: the wire form is what is compared.
      const { output_text: _text, ...stored } = await env.client.responses.retrieve(created.id);
      const events = [];
      for await (const event of await env.client.responses.retrieve(created.id, { stream: true })) {
        assertResponseStreamEvent(event);
        events.push(event);
      }
      expect(events.map((event) => event.sequence_number)).toEqual(events.map((_, i) => i));
      expect(events[0]?.type).toBe('response.created');
      const completed = events.at(-1);
      if (completed?.type !== 'response.completed') throw new Error('no response.completed');
      expect(JSON.parse(JSON.stringify(completed.response))).toEqual(JSON.parse(JSON.stringify(stored)));
      const added = events.filter((event) => event.type === 'response.output_item.added').map((event) => event.item.id);
      expect(added).toEqual(stored.output.map((item) => item.id));
      // The SDK's way to resume a stream: from the start, keeping what follows starting_after.
      const resumed = env.client.responses.stream({ response_id: created.id, starting_after: 2 });
      const seen: number[] = [];
      for await (const event of resumed) seen.push(event.sequence_number);
      expect(seen).toEqual(events.slice(3).map((event) => event.sequence_number));
      expect((await resumed.finalResponse()).id).toBe(created.id);
    }
  });

  it('delete answers {id, object, deleted} and the response is gone, for retrieval and for continuing', async () => {
    const response = await create(env.client, { model: provider.model, input: 'Forget me.' });
    const deleted = await env.client.responses.delete(response.id);
    expect(deleted).toEqual({ id: response.id, object: 'response', deleted: true });
    await expect(env.client.responses.retrieve(response.id)).rejects.toMatchObject({ status: 404, code: 'response_not_found' });
    await expect(create(env.client, { model: provider.model, input: 'Hi', previous_response_id: response.id })).rejects.toMatchObject({
      status: 400,
      code: 'previous_response_not_found',
      param: 'previous_response_id',
    });
  });
});

describe('Responses API state and request handling', () => {
  it('a conversation moves between providers: Anthropic, then Gemini, then the chat-only server', async () => {
    const first = await create(env.client, { model: 'claude/claude-haiku-4-5', input: 'Remember the word zephyr.' });
    const second = await create(env.client, { model: 'gem/gemini-2.0-flash', input: 'And the word quartz.', previous_response_id: first.id });
    await create(env.client, { model: 'chat/small-model', input: 'Which words?', previous_response_id: second.id });
    const messages = env.chat.requests.at(-1)!.body.messages as { role: string; content: string }[];
    expect(messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant', 'user']);
    expect(messages[0]!.content).toBe('Remember the word zephyr.');
    expect(messages[2]!.content).toBe('And the word quartz.');
    expect(messages[1]!.content).toBe(first.output_text);
  });

  it('store: false keeps nothing', async () => {
    const response = await create(env.client, { model: 'chat/small-model', input: 'Ephemeral.', store: false });
    expect((response as { store?: unknown }).store).toBe(false);
    await expect(env.client.responses.retrieve(response.id)).rejects.toMatchObject({ status: 404 });
    await expect(create(env.client, { model: 'chat/small-model', input: 'x', previous_response_id: response.id })).rejects.toMatchObject({ code: 'previous_response_not_found' });
  });

  it('native providers get the whole conversation with store: false and never previous_response_id; unknown fields pass through', async () => {
    const first = await create(env.client, { model: 'oai/gpt-4o-mini', input: 'One.' });
    await create(env.client, {
      model: 'oai/gpt-4o-mini',
      input: 'Two.',
      previous_response_id: first.id,
      reasoning: { effort: 'low' },
      metadata: { ticket: '42' },
      // A field this gateway has never heard of: a native provider gets it as sent.
      ...({ some_future_field: { enabled: true } } as object),
    });
    const body = env.native.requests.at(-1)!.body;
    expect(body).toMatchObject({ model: 'gpt-4o-mini', store: false, some_future_field: { enabled: true }, include: ['reasoning.encrypted_content'] });
    expect(body).not.toHaveProperty('previous_response_id');
    expect((body.input as { role?: string }[]).map((item) => item.role)).toEqual(['user', 'assistant', 'user']);
    expect(JSON.stringify(body.input)).not.toContain('"id"');
  });

  it('Azure is reached on its v1 Responses endpoint with the deployment as the model', async () => {
    const response = await create(env.client, { model: 'az/gpt-4o-mini', input: 'Hello Azure.' });
    expect(response.model).toBe('az/gpt-4o-mini');
    const request = env.native.requests.at(-1)!;
    expect(request.path).toBe('/openai/v1/responses');
    expect(request.body).toMatchObject({ model: 'prod-mini', store: false });
  });

  it('structured output: text.format json_schema is the chat response_format for translated providers and passes through natively', async () => {
    const format = { type: 'json_schema' as const, name: 'city', schema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'], additionalProperties: false }, strict: true };
    const translated = await create(env.client, { model: 'chat/small-model', input: 'A city.', text: { format } });
    expect(translated.text?.format).toMatchObject({ type: 'json_schema', name: 'city' });
    expect(env.chat.requests.at(-1)!.body.response_format).toEqual({ type: 'json_schema', json_schema: { name: 'city', schema: format.schema, strict: true } });
    // Anthropic's structured outputs (its SDK's `output_config.format`).
    await create(env.client, { model: 'claude/claude-haiku-4-5', input: 'A city.', text: { format } });
    expect(env.native.requests.at(-1)!.body.output_config).toEqual({ format: { type: 'json_schema', schema: format.schema } });
    await create(env.client, { model: 'gem/gemini-2.0-flash', input: 'A city.', text: { format } });
    expect((env.native.requests.at(-1)!.body.generationConfig as Record<string, unknown>).responseJsonSchema).toEqual(format.schema);
    await create(env.client, { model: 'oai/gpt-4o-mini', input: 'A city.', text: { format } });
    expect(env.native.requests.at(-1)!.body.text).toEqual({ format });
  });

  it('translates sampling, limits, tool choice, parallel calls and the end user for chat providers', async () => {
    await create(env.client, {
      model: 'chat/small-model',
      input: [{ role: 'developer', content: 'Be exact.' }, { role: 'user', content: [{ type: 'input_text', text: 'Look:' }, { type: 'input_image', image_url: 'https://example.com/cat.png', detail: 'low' }] }],
      max_output_tokens: 64,
      temperature: 0.3,
      top_p: 0.9,
      tools: [weatherTool],
      tool_choice: { type: 'function', name: 'get_weather' },
      parallel_tool_calls: false,
      safety_identifier: 'user-7',
      reasoning: { effort: 'high' },
    });
    expect(env.chat.requests.at(-1)!.body).toMatchObject({
      messages: [
        { role: 'system', content: 'Be exact.' },
        { role: 'user', content: [{ type: 'text', text: 'Look:' }, { type: 'image_url', image_url: { url: 'https://example.com/cat.png', detail: 'low' } }] },
      ],
      max_tokens: 64,
      temperature: 0.3,
      top_p: 0.9,
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: weatherTool.parameters, strict: true } }],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
      parallel_tool_calls: false,
      user: 'user-7',
      reasoning_effort: 'high',
    });
  });

  it('tools grouped under a namespace are flattened for chat providers and mapped back on the answer', async () => {
    const response = await create(env.client, {
      model: 'chat/agent-model',
      input: 'Look up the customer.',
      tools: [{ type: 'namespace', name: 'crm', description: 'CRM tools', tools: [{ type: 'function', name: 'lookup', parameters: { type: 'object', properties: {} }, strict: false }] }] as never,
    });
    expect((env.chat.requests.at(-1)!.body.tools as { function: { name: string } }[])[0]!.function.name).toBe('crm__lookup');
    expect(response.output[0]).toMatchObject({ type: 'function_call', name: 'lookup', namespace: 'crm' });
  });

  it('a namespaced call streamed back from the store names its tool as declared; starting_after is applied by the gateway; a bad stream flag is a 400 naming it', async () => {
    const response = await create(env.client, {
      model: 'chat/agent-model',
      input: 'Look up the customer.',
      tools: [{ type: 'namespace', name: 'crm', description: 'CRM tools', tools: [{ type: 'function', name: 'lookup', parameters: { type: 'object', properties: {} }, strict: false }] }] as never,
    });
    const raw = async (query: string) => fetch(`${env.gateway.baseURL}/responses/${response.id}?${query}`);
    const all = await (await raw('stream=true')).text();
    const sequence = (text: string) => [...text.matchAll(/"sequence_number":(\d+)\}/g)].map((m) => Number(m[1]));
    expect(all).toContain('"namespace":"crm","name":"lookup"');
    const later = await raw('stream=true&starting_after=3');
    expect(later.headers.get('content-type')).toContain('text/event-stream');
    expect(sequence(await later.text())).toEqual(sequence(all).filter((n) => n > 3));
    const bad = await raw('stream=maybe');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { param: string } }).error.param).toBe('stream');
  });

  it('hosted tools: dropped for translated providers (named in x-gateway-dropped-tools), passed to native ones', async () => {
    const tools = [weatherTool, { type: 'web_search' as const }];
    const { response: translated } = await env.client.responses.create({ model: 'chat/small-model', input: 'News?', tools }).withResponse();
    expect(translated.headers.get('x-gateway-dropped-tools')).toBe('web_search');
    expect((env.chat.requests.at(-1)!.body.tools as unknown[]).length).toBe(1);
    const { response: native } = await env.client.responses.create({ model: 'oai/gpt-4o-mini', input: 'News?', tools }).withResponse();
    expect(native.headers.get('x-gateway-dropped-tools')).toBeNull();
    expect(env.native.requests.at(-1)!.body.tools).toEqual(tools);
  });

  it('bad input gets an OpenAI-shaped error naming the field', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ model: 'chat/x', input: [{ type: 'function_call_output', output: 'x' }] }, 'input[0]'],
      [{ model: 'chat/x', input: 'x', temperature: 3 }, 'temperature'],
      [{ model: 'chat/x', input: 'x', background: true }, 'background'],
      [{ input: 'x' }, 'model'],
    ];
    for (const [body, param] of cases) {
      const response = await fetch(`${env.gateway.baseURL}/responses`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      expect(response.status).toBe(400);
      const error = (await response.json()) as { error: { code: string; param: string } };
      assertOpenAISchema('ErrorResponse', error);
      expect(error.error.code).toBe('invalid_request');
      expect(error.error.param.startsWith(param)).toBe(true);
    }
  });
});
