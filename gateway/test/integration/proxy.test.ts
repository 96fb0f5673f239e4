/**
 * The spine end to end over real sockets: the official OpenAI SDK → gateway → a mock OpenAI upstream.
 */
import OpenAI, { APIError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockUpstream, type MockUpstream } from '../helpers/mock-upstream.js';
import { startGateway, waitFor, type RunningGateway } from '../helpers/gateway.js';

let upstream: MockUpstream;
let gateway: RunningGateway;
let client: OpenAI;

beforeAll(async () => {
  upstream = await startMockUpstream();
  gateway = await startGateway({
    providers: {
      up: { type: 'openai-compatible', baseUrl: upstream.url, apiKey: 'sk-upstream-secret', headers: { 'x-extra': 'yes' }, timeoutMs: 800, idleTimeoutMs: 800, models: ['llama-3'] },
      sim: { type: 'mock', streamChunks: 4 },
    },
    server: { bodyLimitBytes: 64 * 1024 },
    routes: {
      'chat-default': { targets: [{ provider: 'up', model: 'meta-llama/Llama-3.1-8B-Instruct' }] },
      'tools-route': { targets: [{ provider: 'up', model: 'tool-call' }] },
    },
  });
  client = new OpenAI({ baseURL: gateway.baseURL, apiKey: 'client-key', maxRetries: 0 });
});

afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
});

function lastUpstreamRequest() {
  const request = upstream.requests.at(-1);
  if (!request) throw new Error('upstream saw no request');
  return request;
}

describe('chat completions', () => {
  it('proxies JSON, rewriting only the model both ways, and sets gateway headers', async () => {
    const { data, response } = await client.chat.completions
      .create({ model: 'chat-default', messages: [{ role: 'user', content: 'hi' }], seed: 7, logprobs: false })
      .withResponse();
    expect(data.choices[0]?.message.content).toBe('Hello from the mock upstream');
    expect(data.model).toBe('chat-default');
    expect(data.usage).toEqual({ prompt_tokens: 11, completion_tokens: 6, total_tokens: 17 });
    expect((data as unknown as { system_fingerprint: string }).system_fingerprint).toBe('fp_mock');
    expect(response.headers.get('x-gateway-provider')).toBe('up');
    expect(response.headers.get('x-gateway-model')).toBe('meta-llama/Llama-3.1-8B-Instruct');
    expect(response.headers.get('x-gateway-attempts')).toBe('1');
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);

    const seen = lastUpstreamRequest();
    expect(seen.url).toBe('/v1/chat/completions');
    expect(seen.body).toEqual({ model: 'meta-llama/Llama-3.1-8B-Instruct', messages: [{ role: 'user', content: 'hi' }], seed: 7, logprobs: false });
    expect(seen.headers.authorization).toBe('Bearer sk-upstream-secret');
    expect(seen.headers['x-extra']).toBe('yes');
    expect(seen.headers['x-request-id']).toBe(response.headers.get('x-request-id'));
  });

  it('propagates a client x-request-id, beside a trace id of its own', async () => {
    const { response } = await client.chat.completions
      .create({ model: 'chat-default', messages: [{ role: 'user', content: 'hi' }] }, { headers: { 'x-request-id': 'trace-abc-123' } })
      .withResponse();
    expect(response.headers.get('x-request-id')).toBe('trace-abc-123');
    expect(response.headers.get('x-gateway-trace-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(lastUpstreamRequest().headers['x-request-id']).toBe('trace-abc-123');
  });

  it('streams chunks with a usage chunk and ends with [DONE]', async () => {
    const stream = await client.chat.completions.create({
      model: 'chat-default',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: unknown;
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      expect(chunk.model).toBe('chat-default');
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe('Hello from the mock upstream');
    expect(chunks).toBe(9);
    expect(usage).toEqual({ prompt_tokens: 11, completion_tokens: 8, total_tokens: 19 });
  });

  it('delivers stream bytes as they arrive, not buffered to the end', async () => {
    const response = await fetch(`${gateway.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'up/stall-body', messages: [{ role: 'user', content: 'x' }], stream: true }),
    });
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const reader = response.body!.getReader();
    // The upstream sent one chunk and stalled: that chunk must already be here.
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toContain('"content":"Hel"');
    await reader.cancel();
  });

  it('passes tool calls through, JSON and streamed', async () => {
    const tools = [{ type: 'function' as const, function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
    const completion = await client.chat.completions.create({ model: 'tools-route', messages: [{ role: 'user', content: 'weather?' }], tools, tool_choice: 'auto' });
    expect(completion.choices[0]?.finish_reason).toBe('tool_calls');
    expect(completion.choices[0]?.message.tool_calls?.[0]).toMatchObject({ id: 'call_1', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } });
    expect(lastUpstreamRequest().body.tools).toEqual(tools);
    expect(lastUpstreamRequest().body.tool_choice).toBe('auto');

    const stream = await client.chat.completions.create({ model: 'tools-route', messages: [{ role: 'user', content: 'weather?' }], tools, stream: true });
    let args = '';
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      args += chunk.choices[0]?.delta.tool_calls?.[0]?.function?.arguments ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(args).toBe('{"city":"Paris"}');
    expect(finish).toBe('tool_calls');
  });

  it('addresses a provider directly as <provider>/<model>', async () => {
    const { data, response } = await client.chat.completions
      .create({ model: 'up/gpt-x', messages: [{ role: 'user', content: 'hi' }] })
      .withResponse();
    expect(data.model).toBe('up/gpt-x');
    expect(lastUpstreamRequest().body.model).toBe('gpt-x');
    expect(response.headers.get('x-gateway-model')).toBe('gpt-x');
  });

  it('serves the in-process mock provider with exact usage', async () => {
    const completion = await client.chat.completions.create({ model: 'sim/mock-1', messages: [{ role: 'user', content: 'count these four words' }] });
    expect(completion.choices[0]?.message.content).toBe('This is mock-1 answering. You said: count these four words');
    expect(completion.usage).toEqual({ prompt_tokens: 4, completion_tokens: 14, total_tokens: 18 });
  });
});

describe('completions, embeddings, models', () => {
  it('proxies legacy completions', async () => {
    const completion = await client.completions.create({ model: 'up/davinci', prompt: 'say' });
    expect(completion.choices[0]?.text).toBe('completed text');
    expect(completion.model).toBe('up/davinci');
    expect(lastUpstreamRequest().url).toBe('/v1/completions');
  });

  it('streams legacy completions', async () => {
    const stream = await client.completions.create({ model: 'up/davinci', prompt: 'say', stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.text ?? '';
    expect(text).toBe('completed text');
  });

  it('proxies embeddings', async () => {
    const result = await client.embeddings.create({ model: 'up/embed-small', input: ['a', 'b'], encoding_format: 'float' });
    expect(result.data).toHaveLength(2);
    expect(result.data[1]?.embedding).toEqual([0.2, 0.2, 0.3]);
    expect(result.model).toBe('up/embed-small');
    expect(lastUpstreamRequest().url).toBe('/v1/embeddings');
  });

  it('lists route names and provider models', async () => {
    const ids: string[] = [];
    for await (const model of client.models.list()) ids.push(model.id);
    expect(ids).toEqual(['chat-default', 'tools-route', 'up/llama-3', 'sim/mock-1']);
  });
});

describe('errors', () => {
  async function raw(path: string, init: RequestInit) {
    const response = await fetch(`${gateway.origin}${path}`, init);
    return { status: response.status, headers: response.headers, body: (await response.json()) as { error: Record<string, unknown> } };
  }

  it('malformed JSON is 400 invalid_json', async () => {
    const { status, body, headers } = await raw('/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":' });
    expect(status).toBe(400);
    expect(body.error).toMatchObject({ code: 'invalid_json', type: 'invalid_request_error', param: null });
    expect(typeof body.error.message).toBe('string');
    expect(headers.get('x-request-id')).toBeTruthy();
  });

  it('a body without content-type is still read as JSON', async () => {
    const { status, body } = await raw('/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'nope' });
    expect(status).toBe(400);
    expect(body.error.code).toBe('invalid_json');
  });

  it('schema violations name the field in param', async () => {
    const cases: [unknown, string][] = [
      [{ messages: [{ role: 'user', content: 'x' }] }, 'model'],
      [{ model: 'chat-default', messages: 'hello' }, 'messages'],
      [{ model: 'chat-default', messages: [{ content: 'x' }] }, 'messages[0].role'],
      [{ model: 'chat-default', messages: [{ role: 'user', content: 'x' }], stream: 'yes' }, 'stream'],
      [{ model: 'chat-default', messages: [{ role: 'user', content: 'x' }], temperature: 'hot' }, 'temperature'],
    ];
    for (const [payload, param] of cases) {
      const { status, body } = await raw('/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(payload) });
      expect(status).toBe(400);
      expect(body.error).toMatchObject({ code: 'invalid_request', param, type: 'invalid_request_error' });
    }
    const notObject = await raw('/v1/embeddings', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '[1,2]' });
    expect(notObject.body.error.code).toBe('invalid_request');
  });

  it('a model name longer than 256 characters is 400 invalid_request on model, and no header reflects it', async () => {
    const huge = `up/${'m'.repeat(20_000)}`;
    const error = (await client.chat.completions.create({ model: huge, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e)) as APIError;
    expect(error).toBeInstanceOf(APIError);
    expect(error.status).toBe(400);
    expect(error.code).toBe('invalid_request');
    expect(error.param).toBe('model');
    for (const [, value] of error.headers ?? new Headers()) expect(value.length).toBeLessThan(1024);
    const embeddings = await raw('/v1/embeddings', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: huge, input: 'x' }) });
    expect(embeddings.body.error).toMatchObject({ code: 'invalid_request', param: 'model' });

    const longest = `up/${'m'.repeat(253)}`;
    const { response } = await client.chat.completions.create({ model: longest, messages: [{ role: 'user', content: 'x' }] }).withResponse();
    expect(response.headers.get('x-gateway-model')).toBe('m'.repeat(253));
  });

  it('a model name that is not valid Unicode still gets a valid x-gateway-model header', async () => {
    const response = await fetch(`${gateway.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"model":"up/caf\\u00e9-\\ud800","messages":[{"role":"user","content":"x"}]}',
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-gateway-model')).toBe('caf%C3%A9-%EF%BF%BD');
  });

  it('a body over the limit is 413 body_too_large', async () => {
    const big = JSON.stringify({ model: 'chat-default', messages: [{ role: 'user', content: 'x'.repeat(70 * 1024) }] });
    const { status, body } = await raw('/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: big });
    expect(status).toBe(413);
    expect(body.error.code).toBe('body_too_large');
  });

  it('an unknown model is 404 model_not_found, through the SDK too', async () => {
    const error = await client.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(APIError);
    expect((error as APIError).status).toBe(404);
    expect((error as APIError).code).toBe('model_not_found');
    const unknownProvider = await raw('/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'nope/model', messages: [{ role: 'user', content: 'x' }] }) });
    expect(unknownProvider.status).toBe(404);
    expect(unknownProvider.body.error.code).toBe('model_not_found');
  });

  it('while draining, new requests get an OpenAI-shaped 503 and the connection closes', async () => {
    gateway.app.readiness.draining = true;
    try {
      const { status, body, headers } = await raw('/v1/chat/completions', { method: 'POST', body: JSON.stringify({ model: 'chat-default', messages: [{ role: 'user', content: 'x' }] }) });
      expect(status).toBe(503);
      expect(body.error).toMatchObject({ code: 'shutting_down', type: 'server_error' });
      expect(headers.get('connection')).toBe('close');
      expect((await fetch(`${gateway.origin}/readyz`)).status).toBe(503);
    } finally {
      gateway.app.readiness.draining = false;
    }
  });

  it('an unknown endpoint is 404 route_not_found', async () => {
    const { status, body } = await raw('/v1/nothing-here', { method: 'GET' });
    expect(status).toBe(404);
    expect(body.error.code).toBe('route_not_found');
  });

  it('forwards an OpenAI-shaped upstream error with its status and body', async () => {
    const { status, body, headers } = await raw('/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'up/fail-400', messages: [{ role: 'user', content: 'x' }] }) });
    expect(status).toBe(400);
    expect(body.error).toEqual({ message: 'upstream says 400', type: 'upstream_type', param: null, code: 'upstream_code' });
    expect(headers.get('x-gateway-provider')).toBe('up');
    expect(headers.get('x-gateway-attempts')).toBe('1');
  });

  it('normalises a non-JSON upstream error, keeping its status', async () => {
    const { status, body } = await raw('/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'up/plain-503', messages: [{ role: 'user', content: 'x' }] }) });
    expect(status).toBe(503);
    expect(body.error).toMatchObject({ code: 'upstream_error', type: 'server_error', param: null });
    expect(JSON.stringify(body)).not.toContain('<html>');
  });

  it('an upstream that does not answer in time is 504 upstream_timeout', async () => {
    const started = Date.now();
    const error = (await client.chat.completions.create({ model: 'up/stall', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e)) as APIError;
    expect(error.status).toBe(504);
    expect(error.code).toBe('upstream_timeout');
    expect(Date.now() - started).toBeLessThan(3000);
    await waitFor(() => upstream.openRequests() === 0);
  });

  it('an unreachable upstream is 502 upstream_unreachable', async () => {
    const dead = await startGateway({
      providers: { dead: { type: 'openai-compatible', baseUrl: 'http://127.0.0.1:9/v1', connectTimeoutMs: 500 } },
    });
    try {
      const response = await fetch(`${dead.baseURL}/chat/completions`, { method: 'POST', body: JSON.stringify({ model: 'dead/x', messages: [{ role: 'user', content: 'x' }] }) });
      expect(response.status).toBe(502);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('upstream_unreachable');
    } finally {
      await dead.close();
    }
  });

  it('a connection reset before an answer is 502 upstream_unreachable', async () => {
    const error = (await client.chat.completions.create({ model: 'up/reset', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e)) as APIError;
    expect(error.status).toBe(502);
    expect(error.code).toBe('upstream_unreachable');
  });

  it('a stream cut after it started ends with a stream_interrupted event and no [DONE]', async () => {
    const response = await fetch(`${gateway.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'up/cut-after-3', messages: [{ role: 'user', content: 'x' }], stream: true }),
    });
    expect(response.status).toBe(200);
    const text = await response.text();
    const events = text.split('\n\n').filter(Boolean);
    expect(events).toHaveLength(4);
    expect(text).not.toContain('[DONE]');
    const last = JSON.parse(events.at(-1)!.replace(/^data: /, '')) as { error: { code: string; type: string } };
    expect(last.error).toMatchObject({ code: 'stream_interrupted', type: 'server_error' });
  });

  it('a stream cut before its first chunk is an ordinary error response', async () => {
    const response = await fetch(`${gateway.baseURL}/chat/completions`, {
      method: 'POST',
      body: JSON.stringify({ model: 'up/cut-after-0', messages: [{ role: 'user', content: 'x' }], stream: true }),
    });
    expect(response.status).toBe(502);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('upstream_unreachable');
  });

  it('the SDK sees a mid-stream failure as an error, not a complete answer', async () => {
    const stream = await client.chat.completions.create({ model: 'up/cut-after-2', messages: [{ role: 'user', content: 'x' }], stream: true });
    const consume = async () => {
      for await (const _chunk of stream) {
        // keep reading until the error event
      }
    };
    await expect(consume()).rejects.toThrow();
  });
});

describe('client disconnects', () => {
  it('aborting a waiting JSON request aborts the upstream request', async () => {
    const before = upstream.abortedRequests();
    const controller = new AbortController();
    const pending = fetch(`${gateway.baseURL}/chat/completions`, {
      method: 'POST',
      body: JSON.stringify({ model: 'up/slow-5000', messages: [{ role: 'user', content: 'x' }] }),
      signal: controller.signal,
    }).catch(() => undefined);
    await waitFor(() => upstream.openRequests() > 0);
    controller.abort();
    await pending;
    await waitFor(() => upstream.abortedRequests() === before + 1);
    await waitFor(() => upstream.openRequests() === 0);
  });

  it('closing a stream mid-way aborts the upstream stream', async () => {
    const before = upstream.abortedRequests();
    const controller = new AbortController();
    const response = await fetch(`${gateway.baseURL}/chat/completions`, {
      method: 'POST',
      body: JSON.stringify({ model: 'up/stall-body', messages: [{ role: 'user', content: 'x' }], stream: true }),
      signal: controller.signal,
    });
    const reader = response.body!.getReader();
    await reader.read();
    controller.abort();
    await waitFor(() => upstream.abortedRequests() === before + 1);
    await waitFor(() => upstream.openRequests() === 0);
  });
});
