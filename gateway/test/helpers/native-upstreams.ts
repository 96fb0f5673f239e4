/**
 * Mock servers speaking providers' native protocols, with fixtures written from their public API
 * references: Anthropic Messages (JSON + SSE events), Gemini generateContent / streamGenerateContent
 * (alt=sse), and Azure OpenAI deployment URLs. One server answers all three, by path. The behaviour is
 * chosen by model name: "*-tool" answers with a tool call; "*-error-<status>" answers that error;
 * "*-midstream-error" sends an error event after the first text.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface NativeRequest {
  path: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
}

export interface NativeUpstreams {
  url: string;
  requests: NativeRequest[];
  close(): Promise<void>;
}

export const ANTHROPIC_KEY = 'sk-ant-test-key';
export const GEMINI_KEY = 'gemini-test-key';
export const AZURE_KEY = 'azure-test-key';

export async function startNativeUpstreams(): Promise<NativeUpstreams> {
  const requests: NativeRequest[] = [];
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk: Buffer) => (raw += chunk.toString()));
    req.on('end', () => {
      const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
      const path = req.url ?? '';
      requests.push({ path, headers: req.headers, body });
      if (path.startsWith('/v1/messages')) void anthropic(req, res, body);
      else if (path.startsWith('/v1beta/models/')) void gemini(req, res, body, path);
      else if (path.startsWith('/openai/deployments/')) azure(req, res, body, path);
      else res.writeHead(404).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json' }).end(text);
}

function errorStatus(model: string): number | undefined {
  const match = /-error-(\d{3})$/.exec(model);
  return match ? Number(match[1]) : undefined;
}

const tick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 2));

// ---------------------------------------------------------------- Anthropic

const ANTHROPIC_ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error', 401: 'authentication_error', 403: 'permission_error', 404: 'not_found_error',
  413: 'request_too_large', 429: 'rate_limit_error', 500: 'api_error', 529: 'overloaded_error',
};

async function anthropic(req: IncomingMessage, res: ServerResponse, body: Record<string, unknown>): Promise<void> {
  if (req.headers['x-api-key'] !== ANTHROPIC_KEY || req.headers['anthropic-version'] !== '2023-06-01') {
    return send(res, 401, { type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' } });
  }
  const model = String(body.model);
  const status = errorStatus(model);
  if (status) {
    if (status === 429) res.setHeader('retry-after', '0');
    return send(res, status, { type: 'error', error: { type: ANTHROPIC_ERROR_TYPES[status] ?? 'api_error', message: `anthropic says ${status}` } });
  }
  const tool = model.endsWith('-tool');
  const usage = { input_tokens: 25, output_tokens: 12, cache_creation_input_tokens: 5, cache_read_input_tokens: 100 };
  if (body.stream !== true) {
    return send(res, 200, {
      id: 'msg_01', type: 'message', role: 'assistant', model,
      content: tool
        ? [{ type: 'text', text: 'Let me check.' }, { type: 'tool_use', id: 'toolu_01', name: 'get_weather', input: { city: 'Paris' } }]
        : [{ type: 'text', text: 'Bonjour' }, { type: 'text', text: ' le monde' }],
      stop_reason: tool ? 'tool_use' : 'end_turn',
      stop_sequence: null,
      usage,
    });
  }
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  const event = async (name: string, data: Record<string, unknown>): Promise<void> => {
    res.write(`event: ${name}\ndata: ${JSON.stringify({ type: name, ...data })}\n\n`);
    await tick();
  };
  await event('message_start', { message: { id: 'msg_02', type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 25, output_tokens: 1, cache_creation_input_tokens: 5, cache_read_input_tokens: 100 } } });
  await event('content_block_start', { index: 0, content_block: { type: 'text', text: '' } });
  await event('ping', {});
  await event('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Bon' } });
  if (model.endsWith('-midstream-error')) {
    await event('error', { error: { type: 'overloaded_error', message: 'Overloaded' } });
    res.end();
    return;
  }
  await event('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'jour' } });
  await event('content_block_stop', { index: 0 });
  if (tool) {
    await event('content_block_start', { index: 1, content_block: { type: 'tool_use', id: 'toolu_02', name: 'get_weather', input: {} } });
    await event('content_block_delta', { index: 1, delta: { type: 'input_json_delta', partial_json: '' } });
    await event('content_block_delta', { index: 1, delta: { type: 'input_json_delta', partial_json: '{"city": ' } });
    await event('content_block_delta', { index: 1, delta: { type: 'input_json_delta', partial_json: '"Paris"}' } });
    await event('content_block_stop', { index: 1 });
  }
  await event('message_delta', { delta: { stop_reason: tool ? 'tool_use' : 'end_turn', stop_sequence: null }, usage: { output_tokens: 12 } });
  await event('message_stop', {});
  res.end();
}

// ---------------------------------------------------------------- Gemini

const GOOGLE_STATUS: Record<number, string> = { 400: 'INVALID_ARGUMENT', 403: 'PERMISSION_DENIED', 404: 'NOT_FOUND', 429: 'RESOURCE_EXHAUSTED', 500: 'INTERNAL', 503: 'UNAVAILABLE' };

async function gemini(req: IncomingMessage, res: ServerResponse, body: Record<string, unknown>, path: string): Promise<void> {
  if (req.headers['x-goog-api-key'] !== GEMINI_KEY) {
    return send(res, 403, { error: { code: 403, message: 'API key not valid.', status: 'PERMISSION_DENIED' } });
  }
  const match = /^\/v1beta\/models\/([^:]+):(generateContent|streamGenerateContent)(\?alt=sse)?$/.exec(path);
  if (!match) return send(res, 404, { error: { code: 404, message: 'not found', status: 'NOT_FOUND' } });
  const model = decodeURIComponent(match[1] as string);
  const status = errorStatus(model);
  if (status) return send(res, status, { error: { code: status, message: `gemini says ${status}`, status: GOOGLE_STATUS[status] ?? 'INTERNAL' } });
  const tool = model.endsWith('-tool');
  const usageMetadata = { promptTokenCount: 30, candidatesTokenCount: 9, totalTokenCount: 39, cachedContentTokenCount: 10 };
  if (match[2] === 'generateContent') {
    return send(res, 200, {
      candidates: [{
        content: { role: 'model', parts: tool ? [{ functionCall: { name: 'get_weather', args: { city: 'Paris' } } }] : [{ text: 'Hallo ' }, { text: 'Welt' }] },
        finishReason: 'STOP',
        index: 0,
      }],
      usageMetadata,
      modelVersion: model,
      responseId: 'gem-resp-1',
    });
  }
  if (match[3] !== '?alt=sse') return send(res, 400, { error: { code: 400, message: 'expected alt=sse', status: 'INVALID_ARGUMENT' } });
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  const event = async (data: unknown): Promise<void> => {
    res.write(`data: ${JSON.stringify(data)}\r\n\r\n`);
    await tick();
  };
  await event({ candidates: [{ content: { role: 'model', parts: [{ text: 'Hal' }] }, index: 0 }], usageMetadata: { promptTokenCount: 30, totalTokenCount: 30 }, modelVersion: model, responseId: 'gem-resp-2' });
  if (model.endsWith('-cut')) {
    res.socket?.destroy();
    return;
  }
  await event({ candidates: [{ content: { role: 'model', parts: [{ text: 'lo' }] }, index: 0 }], modelVersion: model, responseId: 'gem-resp-2' });
  if (tool) {
    await event({ candidates: [{ content: { role: 'model', parts: [{ functionCall: { name: 'get_weather', args: { city: 'Paris' } } }] }, index: 0 }], modelVersion: model, responseId: 'gem-resp-2' });
  }
  await event({ candidates: [{ content: { role: 'model', parts: [{ text: '' }] }, finishReason: 'STOP', index: 0 }], usageMetadata, modelVersion: model, responseId: 'gem-resp-2' });
  res.end();
}

// ---------------------------------------------------------------- Azure OpenAI

function azure(req: IncomingMessage, res: ServerResponse, body: Record<string, unknown>, path: string): void {
  if (req.headers['api-key'] !== AZURE_KEY) {
    return send(res, 401, { error: { code: '401', message: 'Access denied due to invalid subscription key or wrong API endpoint.' } });
  }
  const match = /^\/openai\/deployments\/([^/]+)\/(chat\/completions|embeddings)\?api-version=([\w-]+)$/.exec(path);
  if (!match) return send(res, 404, { error: { code: 'DeploymentNotFound', message: 'The API deployment for this resource does not exist.' } });
  const deployment = decodeURIComponent(match[1] as string);
  if (deployment === 'filtered') {
    return send(res, 400, { error: { message: 'The response was filtered', type: null, param: 'prompt', code: 'content_filter', status: 400 } });
  }
  if (match[2] === 'embeddings') {
    return send(res, 200, { object: 'list', data: [{ object: 'embedding', index: 0, embedding: [0.5, 0.5] }], model: 'text-embedding-3-small', usage: { prompt_tokens: 2, total_tokens: 2 } });
  }
  const base = { id: 'chatcmpl-az', created: 1, model: 'gpt-4o-2024-08-06' };
  if (body.stream === true) {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    // Azure sends prompt filter results first, in a chunk with no choices.
    res.write(`data: ${JSON.stringify({ id: '', object: '', created: 0, model: '', choices: [], prompt_filter_results: [{ prompt_index: 0, content_filter_results: {} }] })}\n\n`);
    res.write(`data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta: { role: 'assistant', content: `deployment ${deployment}` }, finish_reason: null }] })}\n\n`);
    res.write(`data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`);
    res.end('data: [DONE]\n\n');
    return;
  }
  send(res, 200, {
    ...base,
    object: 'chat.completion',
    choices: [{ index: 0, message: { role: 'assistant', content: `deployment ${deployment}` }, finish_reason: 'stop', content_filter_results: {} }],
    usage: { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 },
  });
}
