/**
 * An upstream that echoes the credential it received back into every place a server might put it: the
 * message of a 401 (as OpenAI's "Incorrect API key provided: …" does), a 400's `param` and details, an
 * error event in the middle of a stream, and response headers. It speaks the three dialects the gateway
 * talks to — OpenAI (`/v1/chat/completions`), Anthropic (`/v1/messages`), Gemini (`…:generateContent`) —
 * in their own error shapes; the behaviour is chosen by the model name:
 *
 *   echo-401      401 whose message carries the key
 *   echo-500      500 whose message carries the key (a server error: the gateway logs it)
 *   echo-400      400 with the key in the message, `param` (OpenAI) and nested details, percent-encoded too
 *   echo-stream   200 SSE: one content event, then the dialect's error event carrying the key
 *   echo-body     400 whose message quotes the request's last message (to echo what a client sent)
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SecretEchoUpstream {
  url: string;
  close(): Promise<void>;
}

type Dialect = 'openai' | 'anthropic' | 'gemini';

export async function startSecretEchoUpstream(): Promise<SecretEchoUpstream> {
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (raw += chunk));
    req.on('end', () => respond(req, res, raw ? (JSON.parse(raw) as Record<string, unknown>) : {}));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function credential(req: IncomingMessage): string {
  const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
  const header = (name: string): string | undefined => {
    const value = req.headers[name];
    return typeof value === 'string' ? value : undefined;
  };
  return bearer ?? header('x-api-key') ?? header('api-key') ?? header('x-goog-api-key') ?? '';
}

function respond(req: IncomingMessage, res: ServerResponse, body: Record<string, unknown>): void {
  const path = req.url ?? '';
  const dialect: Dialect = path.includes('/messages') ? 'anthropic' : path.includes(':') ? 'gemini' : 'openai';
  const mode = dialect === 'gemini' ? (/\/models\/([^:]+):/.exec(path)?.[1] ?? '') : String(body.model ?? '');
  const key = credential(req);
  // Headers are where some servers reflect what they were sent.
  res.setHeader('x-echo-key', key);
  res.setHeader('www-authenticate', `Bearer error="invalid_token", key="${key}"`);

  if (mode === 'echo-401') return error(res, dialect, 401, `Incorrect API key provided: ${key}. You can find your API key in your dashboard.`, 'invalid_api_key');
  if (mode === 'echo-500') return error(res, dialect, 500, `upstream failed while checking key ${key}`, 'internal');
  if (mode === 'echo-400') {
    return error(res, dialect, 400, `key ${key} may not use this model (see https://example.test/keys?key=${encodeURIComponent(key)})`, 'invalid_value', key);
  }
  if (mode === 'echo-body') {
    const messages = (body.messages ?? body.contents) as unknown[] | undefined;
    return error(res, dialect, 400, `could not process ${JSON.stringify(messages?.at(-1))}`, 'invalid_value');
  }
  if (mode === 'echo-stream') return streamThenFail(res, dialect, `stream failed for key ${key}`);
  res.writeHead(404).end();
}

function error(res: ServerResponse, dialect: Dialect, status: number, message: string, code: string, param?: string): void {
  let payload: unknown;
  if (dialect === 'anthropic') {
    payload = { type: 'error', error: { type: status === 401 ? 'authentication_error' : status >= 500 ? 'api_error' : 'invalid_request_error', message } };
  } else if (dialect === 'gemini') {
    const googleStatus = status === 401 ? 'UNAUTHENTICATED' : status >= 500 ? 'INTERNAL' : 'INVALID_ARGUMENT';
    payload = { error: { code: status, message, status: googleStatus, details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', metadata: { key: param ?? '' } }] } };
  } else {
    payload = { error: { message, type: 'invalid_request_error', param: param ?? null, code, details: param ? [{ field: 'key', value: param }] : undefined } };
  }
  const text = JSON.stringify(payload);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
}

function streamThenFail(res: ServerResponse, dialect: Dialect, message: string): void {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  const send = (data: unknown, event?: string): boolean => res.write(`${event ? `event: ${event}\n` : ''}data: ${JSON.stringify(data)}\n\n`);
  if (dialect === 'anthropic') {
    send({ type: 'message_start', message: { id: 'msg_echo', type: 'message', role: 'assistant', model: 'echo-stream', content: [], stop_reason: null, usage: { input_tokens: 3, output_tokens: 1 } } }, 'message_start');
    send({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }, 'content_block_start');
    send({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hel' } }, 'content_block_delta');
    send({ type: 'error', error: { type: 'api_error', message } }, 'error');
  } else if (dialect === 'gemini') {
    send({ candidates: [{ content: { role: 'model', parts: [{ text: 'Hel' }] }, index: 0 }], responseId: 'echo' });
    send({ error: { code: 500, message, status: 'INTERNAL' } });
  } else {
    send({ id: 'chatcmpl-echo', object: 'chat.completion.chunk', created: 1, model: 'echo-stream', choices: [{ index: 0, delta: { role: 'assistant', content: 'Hel' }, finish_reason: null }] });
    send({ error: { message, type: 'server_error', param: null, code: null } });
  }
  res.end();
}
