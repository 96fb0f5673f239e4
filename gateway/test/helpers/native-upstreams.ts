/**
 * Mock servers speaking providers' native protocols: Anthropic Messages, Gemini generateContent /
 * streamGenerateContent (alt=sse), Azure OpenAI deployment URLs, and OpenAI's Responses API
 * (`/v1/responses`, and Azure's `/openai/v1/responses`), one server answering all of them by path. A
 * Responses request gets the recorded text response, or — when it offers function tools and its input
 * does not end with a function call's output — the derived function-call response. Successful answers replay the vendors' recorded responses (recorded-responses.ts): a model named
 * `rec-<recording>` replays that recording, other models a default one ("*-tool" a tool call). Errors
 * follow each API's documented error body: "*-error-<status>" answers that status, "*-midstream-error"
 * sends an error event after the first text, Gemini's "*-cut" drops the connection mid-stream. An
 * Anthropic or Gemini "*-agent" model is a tool-using one: it answers with the recorded tool call unless
 * the conversation ends with a tool's result, then with the recorded text.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { recorded, recordingName, type RecordedResponse, type Vendor } from './recorded-responses.js';

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
export const OPENAI_KEY = 'sk-openai-test-key';

export async function startNativeUpstreams(): Promise<NativeUpstreams> {
  const requests: NativeRequest[] = [];
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk: Buffer) => (raw += chunk.toString()));
    req.on('end', () => {
      const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
      const path = req.url ?? '';
      requests.push({ path, headers: req.headers, body });
      if (path === '/v1/responses') void openaiResponses(req, res, body, req.headers.authorization === `Bearer ${OPENAI_KEY}`);
      else if (path === '/openai/v1/responses') void openaiResponses(req, res, body, req.headers['api-key'] === AZURE_KEY);
      else if (path.startsWith('/v1/messages')) void anthropic(req, res, body);
      else if (path.startsWith('/v1beta/models/')) void gemini(req, res, path, body);
      else if (path.startsWith('/openai/deployments/')) void azure(req, res, body, path);
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

// ---------------------------------------------------------------- replay

/**
 * Sends a recording: a JSON body, or a stream written event by event as the vendor sent them. `events`
 * replays only the first few and leaves the stream open, for a test that breaks it.
 */
async function replay(res: ServerResponse, vendor: Vendor, name: string, stream: boolean, events?: number): Promise<void> {
  const response: RecordedResponse = recorded(vendor, name);
  if ((response.kind === 'sse') !== stream) {
    return send(res, 500, { error: { message: `test error: recording '${name}' is ${response.kind}, the request ${stream ? 'streams' : 'does not'}` } });
  }
  if (response.kind === 'json') return send(res, 200, response.body);
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  for (const event of response.events.slice(0, events)) {
    res.write(event);
    await tick();
  }
  if (events === undefined) res.end();
}

// ---------------------------------------------------------------- Anthropic

const ANTHROPIC_ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error', 401: 'authentication_error', 403: 'permission_error', 404: 'not_found_error',
  413: 'request_too_large', 429: 'rate_limit_error', 500: 'api_error', 529: 'overloaded_error',
};

/**
 * What the mock's /v1/messages/count_tokens answers: a deterministic count (one per four characters of
 * the JSON of what is counted), so a test can tell it from the gateway's own estimate.
 */
export function mockAnthropicTokenCount(body: Record<string, unknown>): number {
  return 3 + Math.ceil(JSON.stringify([body.system ?? null, body.messages, body.tools ?? null]).length / 4);
}

/** An API version as Anthropic names them (a date); the official SDK sends its own, newer than the adapter's. */
const API_VERSION = /^\d{4}-\d{2}-\d{2}$/;

async function anthropic(req: IncomingMessage, res: ServerResponse, body: Record<string, unknown>): Promise<void> {
  if (req.headers['x-api-key'] !== ANTHROPIC_KEY || !API_VERSION.test(String(req.headers['anthropic-version']))) {
    return send(res, 401, { type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' } });
  }
  const model = String(body.model);
  if (req.url?.startsWith('/v1/messages/count_tokens')) {
    const status = errorStatus(model);
    if (status) return send(res, status, { type: 'error', error: { type: ANTHROPIC_ERROR_TYPES[status] ?? 'api_error', message: `anthropic says ${status}` } });
    return send(res, 200, { input_tokens: mockAnthropicTokenCount(body) });
  }
  const stream = body.stream === true;
  const status = errorStatus(model);
  if (status === 429) {
    res.setHeader('retry-after', '0');
    return send(res, 429, (recorded('anthropic', 'rate-limit-error') as { body: unknown }).body);
  }
  if (status) {
    return send(res, status, { type: 'error', error: { type: ANTHROPIC_ERROR_TYPES[status] ?? 'api_error', message: `anthropic says ${status}` } });
  }
  if (model.endsWith('-midstream-error')) {
    // The recorded text stream up to its first text, then an `error` event as the streaming docs show one.
    await replay(res, 'anthropic', 'text-stream', true, 4);
    res.end(`event: error\ndata: ${JSON.stringify({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } })}\n\n`);
    return;
  }
  const tool = model.endsWith('-tool') || (model.endsWith('-agent') && !endsWithToolResult(body));
  const name = recordingName(model) ?? (tool ? (stream ? 'tool-use-stream' : 'text-and-tool-use-message') : stream ? 'text-stream' : 'text-message');
  await replay(res, 'anthropic', name, stream);
}

/** The conversation's last turn carries a tool's result (Anthropic's tool_result, Gemini's functionResponse). */
function endsWithToolResult(body: Record<string, unknown>): boolean {
  const turns = (body.messages ?? body.contents) as { content?: unknown; parts?: unknown }[] | undefined;
  const last = turns?.at(-1);
  const blocks = (Array.isArray(last?.content) ? last.content : Array.isArray(last?.parts) ? last.parts : []) as Record<string, unknown>[];
  return blocks.some((block) => block.type === 'tool_result' || block.functionResponse !== undefined);
}

// ---------------------------------------------------------------- Gemini

const GOOGLE_STATUS: Record<number, string> = { 400: 'INVALID_ARGUMENT', 403: 'PERMISSION_DENIED', 404: 'NOT_FOUND', 429: 'RESOURCE_EXHAUSTED', 500: 'INTERNAL', 503: 'UNAVAILABLE' };

async function gemini(req: IncomingMessage, res: ServerResponse, path: string, body: Record<string, unknown>): Promise<void> {
  if (req.headers['x-goog-api-key'] !== GEMINI_KEY) {
    return send(res, 403, { error: { code: 403, message: 'API key not valid.', status: 'PERMISSION_DENIED' } });
  }
  const match = /^\/v1beta\/models\/([^:]+):(generateContent|streamGenerateContent)(\?alt=sse)?$/.exec(path);
  if (!match) return send(res, 404, { error: { code: 404, message: 'not found', status: 'NOT_FOUND' } });
  const model = decodeURIComponent(match[1] as string);
  const status = errorStatus(model);
  if (status) return send(res, status, { error: { code: status, message: `gemini says ${status}`, status: GOOGLE_STATUS[status] ?? 'INTERNAL' } });
  const stream = match[2] === 'streamGenerateContent';
  if (stream && match[3] !== '?alt=sse') return send(res, 400, { error: { code: 400, message: 'expected alt=sse', status: 'INVALID_ARGUMENT' } });
  const basic = stream ? 'googleai-streaming-success-basic-reply-short' : 'googleai-unary-success-basic-reply-short';
  if (model.endsWith('-cut')) {
    await replay(res, 'gemini', basic, true, 1);
    res.socket?.destroy();
    return;
  }
  const tool = model.endsWith('-tool') || (model.endsWith('-agent') && !endsWithToolResult(body));
  const name = recordingName(model) ?? (tool ? (stream ? 'js-genai-function-calling-stream' : 'js-genai-parameters-json-schema') : basic);
  await replay(res, 'gemini', name, stream);
}

// ---------------------------------------------------------------- Azure OpenAI

async function azure(req: IncomingMessage, res: ServerResponse, body: Record<string, unknown>, path: string): Promise<void> {
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
  const stream = body.stream === true;
  await replay(res, 'azure', recordingName(deployment) ?? (stream ? 'tool-calls-stream' : 'chat-completion'), stream);
}

// ---------------------------------------------------------------- OpenAI Responses API

async function openaiResponses(req: IncomingMessage, res: ServerResponse, body: Record<string, unknown>, authorized: boolean): Promise<void> {
  if (!authorized) {
    return send(res, 401, { error: { message: 'Incorrect API key provided.', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } });
  }
  const model = String(body.model);
  const status = errorStatus(model);
  if (status) {
    if (status === 429) res.setHeader('retry-after', '0');
    return send(res, status, { error: { message: `openai says ${status}`, type: status === 429 ? 'requests' : 'server_error', param: null, code: status === 429 ? 'rate_limit_exceeded' : null } });
  }
  const input = Array.isArray(body.input) ? (body.input as { type?: string }[]) : [];
  const offersFunctions = Array.isArray(body.tools) && (body.tools as { type?: string }[]).some((tool) => tool.type === 'function');
  const name = offersFunctions && input.at(-1)?.type !== 'function_call_output' ? 'responses-function-call' : 'responses-text';
  const stream = body.stream === true;
  if (model.endsWith('-cut')) {
    await replay(res, 'openai', `${name}-stream`, true, 4);
    res.socket?.destroy();
    return;
  }
  if (model.endsWith('-midstream-error')) {
    await replay(res, 'openai', `${name}-stream`, true, 4);
    res.end(`event: error\ndata: ${JSON.stringify({ type: 'error', code: 'server_error', message: 'The server had an error', param: null, sequence_number: 4 })}\n\n`);
    return;
  }
  await replay(res, 'openai', stream ? `${name}-stream` : name, stream);
}
