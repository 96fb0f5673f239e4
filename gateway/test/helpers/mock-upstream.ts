/**
 * A fault-injecting OpenAI-compatible upstream for integration tests, on a real socket. The behaviour
 * of each request is chosen by its `model`:
 *
 *   anything else          normal answer (JSON, or SSE with a usage chunk when include_usage is set)
 *   fail-<status>          OpenAI-shaped error with that status
 *   plain-<status>         non-JSON error body with that status
 *   retry-after-<s>        429 with `Retry-After: <s>`
 *   stall                  never answers (until the client goes away)
 *   stall-body             sends headers and one chunk, then goes silent
 *   cut-after-<n>          streams n chunks, then destroys the socket
 *   slow-<ms>              waits ms before answering
 *   lag-<ms>-<n>-<extra>[~tag]  waits ms, and extra ms more for n of every 100 requests (evenly spread)
 *   tool-call              answers with a tool call (JSON and stream)
 *   agent*                 a tool-using model: calls the first offered tool (`{"city":"Paris"}`) unless
 *                          the conversation ends with a tool result, then answers with text
 *   reset                  destroys the socket without answering
 *   no-usage*              never reports usage (like many self-hosted servers)
 *   bad-usage*             reports usage that is not counts (negative, fractional)
 *   errorpct-<n>[~tag]     fails with 500 for n of every 100 requests of that model (evenly spread)
 *   echo-<n>[~tag]         answers with the last message's text (streams: in chunks of n characters)
 *   call-echo-<n>[~tag]    calls `send_note` with `{"note": <the last message's text>}` (streams: the
 *                          arguments in chunks of n characters)
 *   think-<n>[~tag]        a reasoning model (vLLM's reasoning_content): reasons with the last message's
 *                          text (streams: in chunks of n characters), then answers "Done."
 *   turns[~tag]            the k-th request for that model answers with the k-th message's text (cycling)
 *   flaky-<n>[~tag]        fails with 500 for the first n requests of that model, then answers
 *   limited-<n>-<s>[~tag]  429 with `Retry-After: <s>` for the first n requests of that model, then answers
 *
 * GET /unhealthy answers 503 and any other GET answers 200, for active health checks.
 * `fail(model, status)` breaks a model from then on: every request for it gets that error status.
 * `hold(model)` holds every request for it until the returned function is called, then answers as usual.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
}

export interface MockUpstream {
  url: string;
  requests: RecordedRequest[];
  /** Requests whose client went away before the answer was complete. */
  abortedRequests: () => number;
  /** Requests still open right now. */
  openRequests: () => number;
  /** From now on, every request for `model` is answered with an OpenAI-shaped error of this status. */
  fail(model: string, status: number): void;
  /** Holds requests for `model` (received, unanswered) until the returned release is called. */
  hold(model: string): () => void;
  close(): Promise<void>;
}

export async function startMockUpstream(): Promise<MockUpstream> {
  const requests: RecordedRequest[] = [];
  const flakyCounts = new Map<string, number>();
  const broken = new Map<string, number>();
  const held = new Map<string, Promise<void>>();
  let aborted = 0;
  let open = 0;

  const server: Server = createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (raw += chunk));
    req.on('end', () => {
      let body: Record<string, unknown> = {};
      try {
        body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
      } catch {
        res.writeHead(400).end('bad json');
        return;
      }
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      open++;
      res.on('close', () => {
        open--;
        if (!res.writableFinished) aborted++;
      });
      const status = broken.get(String(body.model ?? ''));
      if (status !== undefined) {
        json(res, status, { error: { message: 'broken on purpose', type: 'server_error', param: null, code: null } });
        return;
      }
      const gate = held.get(String(body.model ?? ''));
      void (gate ?? Promise.resolve()).then(() => respond(req, res, body, flakyCounts));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    abortedRequests: () => aborted,
    openRequests: () => open,
    fail: (model, status) => void broken.set(model, status),
    hold: (model) => {
      let release!: () => void;
      held.set(model, new Promise<void>((resolve) => (release = resolve)));
      return () => {
        held.delete(model);
        release();
      };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function respond(
  req: IncomingMessage,
  res: ServerResponse,
  body: Record<string, unknown>,
  flakyCounts: Map<string, number>,
): Promise<void> {
  const model = String(body.model ?? '');
  const path = (req.url ?? '').replace(/\?.*$/, '');
  let match: RegExpMatchArray | null;
  if (req.method === 'GET') {
    res.writeHead(path === '/unhealthy' ? 503 : 200).end();
    return;
  }

  if ((match = /^fail-(\d{3})$/.exec(model))) {
    return json(res, Number(match[1]), {
      error: { message: `upstream says ${match[1]}`, type: 'upstream_type', param: null, code: 'upstream_code' },
    });
  }
  if ((match = /^plain-(\d{3})$/.exec(model))) {
    res.writeHead(Number(match[1]), { 'content-type': 'text/plain' }).end('<html>bad gateway</html>');
    return;
  }
  if ((match = /^retry-after-(\d+)$/.exec(model))) {
    res.setHeader('retry-after', match[1] as string);
    return json(res, 429, { error: { message: 'slow down', type: 'requests', param: null, code: 'rate_limit_exceeded' } });
  }
  if ((match = /^flaky-(\d+)(?:~\w+)?$/.exec(model))) {
    const seen = flakyCounts.get(model) ?? 0;
    flakyCounts.set(model, seen + 1);
    if (seen < Number(match[1])) {
      return json(res, 500, { error: { message: 'flaky', type: 'server_error', param: null, code: null } });
    }
  }
  if ((match = /^limited-(\d+)-(\d+)(?:~\w+)?$/.exec(model))) {
    const seen = flakyCounts.get(model) ?? 0;
    flakyCounts.set(model, seen + 1);
    if (seen < Number(match[1])) {
      res.setHeader('retry-after', match[2] as string);
      return json(res, 429, { error: { message: 'slow down', type: 'requests', param: null, code: 'rate_limit_exceeded' } });
    }
  }
  if ((match = /^errorpct-(\d+)(?:~\w+)?$/.exec(model))) {
    const seen = flakyCounts.get(model) ?? 0;
    flakyCounts.set(model, seen + 1);
    // Spread evenly: request k fails when the running share of failures is below n%.
    if (Math.floor(((seen + 1) * Number(match[1])) / 100) > Math.floor((seen * Number(match[1])) / 100)) {
      return json(res, 500, { error: { message: 'injected failure', type: 'server_error', param: null, code: null } });
    }
  }
  if (model === 'stall') return; // never answer; the socket stays open until the client aborts
  if (model === 'reset') {
    req.socket.destroy();
    return;
  }
  if ((match = /slow-(\d+)$/.exec(model))) await sleep(Number(match[1]));
  if ((match = /^lag-(\d+)-(\d+)-(\d+)(?:~\w+)?$/.exec(model))) {
    const seen = flakyCounts.get(model) ?? 0;
    flakyCounts.set(model, seen + 1);
    const share = Number(match[2]);
    const extra = Math.floor(((seen + 1) * share) / 100) > Math.floor((seen * share) / 100);
    await sleep(Number(match[1]) + (extra ? Number(match[3]) : 0));
  }

  if (path.endsWith('/embeddings')) {
    const inputs = Array.isArray(body.input) ? body.input : [body.input];
    return json(res, 200, {
      object: 'list',
      data: inputs.map((_, index) => ({ object: 'embedding', index, embedding: [0.1 * (index + 1), 0.2, 0.3] })),
      model,
      usage: { prompt_tokens: inputs.length * 2, total_tokens: inputs.length * 2 },
    });
  }
  if (path.endsWith('/completions') && !path.endsWith('/chat/completions')) {
    const text = 'completed text';
    if (body.stream === true) {
      return stream(res, model, body, ['completed ', 'text'].map((t, i) => ({
        id: 'cmpl-1', object: 'text_completion', created: 1, model,
        choices: [{ index: 0, text: t, logprobs: null, finish_reason: i === 1 ? 'stop' : null }],
      })));
    }
    return json(res, 200, {
      id: 'cmpl-1', object: 'text_completion', created: 1, model,
      choices: [{ index: 0, text, logprobs: null, finish_reason: 'stop' }],
      usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
      system_fingerprint: 'fp_mock',
    });
  }

  const scripted = scriptedAnswer(model, body, flakyCounts);
  if (scripted) return scriptedChat(res, model, body, scripted.text, scripted.chunkSize);
  const think = /^think-(\d+)(?:~\w+)?$/.exec(model);
  if (think) return thinkingChat(res, model, body, lastText(body), Number(think[1]));
  const callEcho = /^call-echo-(\d+)(?:~\w+)?$/.exec(model);
  if (callEcho) return noteCall(res, model, body, JSON.stringify({ note: lastText(body) }), Number(callEcho[1]));

  const messages = Array.isArray(body.messages) ? (body.messages as { role?: string }[]) : [];
  const offered = Array.isArray(body.tools) ? (body.tools as { function?: { name?: string } }[]) : [];
  const agentCalls = model.startsWith('agent') && offered.length > 0 && messages.at(-1)?.role !== 'tool';
  const toolCall = model === 'tool-call' || agentCalls;
  const toolName = agentCalls ? String(offered[0]?.function?.name) : 'get_weather';
  if (body.stream === true) {
    const base = { id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model, system_fingerprint: 'fp_mock' };
    const chunks = toolCall
      ? [
          { ...base, choices: [{ index: 0, delta: { role: 'assistant', content: null, tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: toolName, arguments: '' } }] }, finish_reason: null }] },
          { ...base, choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }, finish_reason: null }] },
          { ...base, choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }, finish_reason: null }] },
          { ...base, choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] },
        ]
      : ['Hel', 'lo', ' from', ' the', ' mock', ' up', 'str', 'eam'].map((content, i, all) => ({
          ...base,
          choices: [{ index: 0, delta: i === 0 ? { role: 'assistant', content } : { content }, finish_reason: i === all.length - 1 ? 'stop' : null }],
        }));
    return stream(res, model, body, chunks);
  }
  const message = toolCall
    ? { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: toolName, arguments: '{"city":"Paris"}' } }] }
    : { role: 'assistant', content: 'Hello from the mock upstream' };
  return json(res, 200, chatCompletion(model, message, toolCall ? 'tool_calls' : 'stop'));
}

/** A whole chat completion with one choice. */
function chatCompletion(model: string, message: Record<string, unknown>, finishReason: string): Record<string, unknown> {
  return {
    id: 'chatcmpl-1',
    object: 'chat.completion',
    created: 1,
    model,
    system_fingerprint: 'fp_mock',
    choices: [{ index: 0, message, logprobs: null, finish_reason: finishReason }],
    usage: { prompt_tokens: 11, completion_tokens: 6, total_tokens: 17 },
  };
}

/** The text an `echo-<n>` or `turns` model answers with, and the stream's chunk size. */
function scriptedAnswer(model: string, body: Record<string, unknown>, counts: Map<string, number>): { text: string; chunkSize: number } | undefined {
  const messages = Array.isArray(body.messages) ? (body.messages as { content?: unknown }[]) : [];
  const textOf = (message: { content?: unknown } | undefined): string => (typeof message?.content === 'string' ? message.content : '');
  const echo = /^echo-(\d+)(?:~\w+)?$/.exec(model);
  if (echo) return { text: textOf(messages.at(-1)), chunkSize: Number(echo[1]) };
  if (/^turns(?:~\w+)?$/.test(model) && messages.length > 0) {
    const seen = counts.get(model) ?? 0;
    counts.set(model, seen + 1);
    return { text: textOf(messages[seen % messages.length]), chunkSize: 4 };
  }
  return undefined;
}

function lastText(body: Record<string, unknown>): string {
  const messages = Array.isArray(body.messages) ? (body.messages as { content?: unknown }[]) : [];
  const content = messages.at(-1)?.content;
  return typeof content === 'string' ? content : '';
}

/** Reasoning in `reasoning_content` (as vLLM, SGLang and DeepSeek send it), then the answer. */
function thinkingChat(res: ServerResponse, model: string, body: Record<string, unknown>, reasoning: string, chunkSize: number): Promise<void> | void {
  if (body.stream === true) {
    const base = { id: 'chatcmpl-think', object: 'chat.completion.chunk', created: 1, model };
    const chunks = [{ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] }];
    for (let i = 0; i < reasoning.length; i += chunkSize) {
      chunks.push({ ...base, choices: [{ index: 0, delta: { reasoning_content: reasoning.slice(i, i + chunkSize) } as never, finish_reason: null }] });
    }
    chunks.push({ ...base, choices: [{ index: 0, delta: { content: 'Done.' } as never, finish_reason: null }] });
    chunks.push({ ...base, choices: [{ index: 0, delta: {} as never, finish_reason: 'stop' as never }] });
    return stream(res, model, body, chunks);
  }
  return json(res, 200, chatCompletion(model, { role: 'assistant', content: 'Done.', reasoning_content: reasoning }, 'stop'));
}

function noteCall(res: ServerResponse, model: string, body: Record<string, unknown>, args: string, chunkSize: number): Promise<void> | void {
  const call = { id: 'call_note', type: 'function', function: { name: 'send_note', arguments: args } };
  if (body.stream === true) {
    const base = { id: 'chatcmpl-call', object: 'chat.completion.chunk', created: 1, model };
    const chunks: Record<string, unknown>[] = [
      { ...base, choices: [{ index: 0, delta: { role: 'assistant', content: null, tool_calls: [{ index: 0, ...call, function: { name: 'send_note', arguments: '' } }] }, finish_reason: null }] },
    ];
    for (let i = 0; i < args.length; i += chunkSize) {
      chunks.push({ ...base, choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: args.slice(i, i + chunkSize) } }] }, finish_reason: null }] });
    }
    chunks.push({ ...base, choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] });
    return stream(res, model, body, chunks);
  }
  return json(res, 200, chatCompletion(model, { role: 'assistant', content: null, tool_calls: [call] }, 'tool_calls'));
}

function scriptedChat(res: ServerResponse, model: string, body: Record<string, unknown>, text: string, chunkSize: number): Promise<void> | void {
  if (body.stream === true) {
    const base = { id: 'chatcmpl-echo', object: 'chat.completion.chunk', created: 1, model };
    const pieces: string[] = [];
    for (let i = 0; i < text.length; i += chunkSize) pieces.push(text.slice(i, i + chunkSize));
    const chunks = [
      { ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] },
      ...pieces.map((content) => ({ ...base, choices: [{ index: 0, delta: { content }, finish_reason: null }] })),
      { ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] },
    ];
    return stream(res, model, body, chunks);
  }
  return json(res, 200, chatCompletion(model, { role: 'assistant', content: text }, 'stop'));
}

function json(res: ServerResponse, status: number, payload: unknown): void {
  if (payload && typeof payload === 'object' && String((payload as { model?: unknown }).model ?? '').startsWith('no-usage')) {
    delete (payload as { usage?: unknown }).usage;
  }
  if (payload && typeof payload === 'object' && String((payload as { model?: unknown }).model ?? '').startsWith('bad-usage')) {
    (payload as { usage?: unknown }).usage = { prompt_tokens: -5, completion_tokens: 2.5, total_tokens: -2.5 };
  }
  const text = JSON.stringify(payload);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
}

async function stream(res: ServerResponse, model: string, body: Record<string, unknown>, chunks: Record<string, unknown>[]): Promise<void> {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  const cut = /^cut-after-(\d+)$/.exec(model);
  const stallBody = model === 'stall-body';
  for (let i = 0; i < chunks.length; i++) {
    if (cut && i === Number(cut[1])) {
      res.socket?.destroy();
      return;
    }
    res.write(`data: ${JSON.stringify(chunks[i])}\n\n`);
    if (stallBody) return; // headers and one chunk, then silence
    await sleep(2);
  }
  const options = body.stream_options as { include_usage?: boolean } | undefined;
  if (options?.include_usage && !model.startsWith('no-usage')) {
    const { choices: _unused, ...base } = chunks[0] as Record<string, unknown>;
    res.write(`data: ${JSON.stringify({ ...base, choices: [], usage: { prompt_tokens: 11, completion_tokens: 8, total_tokens: 19 } })}\n\n`);
  }
  res.end('data: [DONE]\n\n');
}
