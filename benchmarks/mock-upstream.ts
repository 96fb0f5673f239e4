/**
 * The benchmark upstream: a separate process speaking the OpenAI API as fast as Node's http allows.
 * Answers are prebuilt buffers. Options: --port, --latency-ms (before answering), --chunks (stream
 * content chunks, a usage chunk follows when asked), --chunk-delay-ms. A `model` of "fail-500" answers
 * 500, for the fallback scenario. `POST /v1/responses` answers as OpenAI's Responses API does (a response
 * object, or its typed events with the same text in as many deltas), for native pass-through.
 *
 *   tsx benchmarks/mock-upstream.ts --port 9100 --chunks 8
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { parseArgs } from 'node:util';

export interface UpstreamOptions {
  port: number;
  latencyMs: number;
  chunks: number;
  chunkDelayMs: number;
}

const CHAT = Buffer.from(
  JSON.stringify({
    id: 'chatcmpl-bench',
    object: 'chat.completion',
    created: 1,
    model: 'bench-model',
    choices: [{ index: 0, message: { role: 'assistant', content: 'The quick brown fox jumps over the lazy dog. '.repeat(4) }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 250, completion_tokens: 40, total_tokens: 290 },
  }),
);
const ERROR = Buffer.from(JSON.stringify({ error: { message: 'injected failure', type: 'server_error', param: null, code: null } }));

function streamEvents(chunks: number): { content: Buffer[]; usage: Buffer; done: Buffer } {
  const base = { id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: 1, model: 'bench-model' };
  const content = Array.from({ length: chunks }, (_, i) =>
    Buffer.from(`data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: i === 0 ? { role: 'assistant', content: 'token ' } : { content: 'token ' }, finish_reason: i === chunks - 1 ? 'stop' : null }] })}\n\n`),
  );
  const usage = Buffer.from(`data: ${JSON.stringify({ ...base, choices: [], usage: { prompt_tokens: 250, completion_tokens: chunks, total_tokens: 250 + chunks } })}\n\n`);
  return { content, usage, done: Buffer.from('data: [DONE]\n\n') };
}

const RESPONSE = {
  id: 'resp_bench',
  object: 'response',
  created_at: 1,
  status: 'completed',
  error: null,
  incomplete_details: null,
  instructions: null,
  model: 'bench-model',
  output: [{ id: 'msg_bench', type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'output_text', annotations: [], logprobs: [], text: 'The quick brown fox jumps over the lazy dog. '.repeat(4) }] }],
  parallel_tool_calls: true,
  temperature: 1,
  tool_choice: 'auto',
  tools: [],
  top_p: 1,
  metadata: {},
  usage: { input_tokens: 250, input_tokens_details: { cached_tokens: 0 }, output_tokens: 40, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 290 },
};
const RESPONSE_JSON = Buffer.from(JSON.stringify(RESPONSE));

/** A Responses API stream of RESPONSE with its text in `chunks` deltas, framed as OpenAI frames it. */
function responseEvents(chunks: number): Buffer {
  let sequence = 0;
  const event = (type: string, fields: Record<string, unknown>): string => `event: ${type}\ndata: ${JSON.stringify({ type, ...fields, sequence_number: sequence++ })}\n\n`;
  const shell = { ...RESPONSE, status: 'in_progress', output: [], usage: undefined };
  const ids = { item_id: 'msg_bench', output_index: 0, content_index: 0 };
  let text = event('response.created', { response: shell }) + event('response.in_progress', { response: shell });
  text += event('response.output_item.added', { output_index: 0, item: { id: 'msg_bench', type: 'message', status: 'in_progress', role: 'assistant', content: [] } });
  text += event('response.content_part.added', { ...ids, part: { type: 'output_text', annotations: [], logprobs: [], text: '' } });
  for (let i = 0; i < chunks; i++) text += event('response.output_text.delta', { ...ids, delta: 'token ', logprobs: [] });
  const done = 'token '.repeat(chunks);
  text += event('response.output_text.done', { ...ids, text: done, logprobs: [] });
  text += event('response.content_part.done', { ...ids, part: { type: 'output_text', annotations: [], logprobs: [], text: done } });
  const item = { id: 'msg_bench', type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'output_text', annotations: [], logprobs: [], text: done }] };
  text += event('response.output_item.done', { output_index: 0, item });
  text += event('response.completed', { response: { ...RESPONSE, output: [item] } });
  return Buffer.from(text);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function startBenchUpstream(options: UpstreamOptions): Promise<() => Promise<void>> {
  const events = streamEvents(options.chunks);
  const responseStream = responseEvents(options.chunks);
  const handle = async (req: IncomingMessage, res: ServerResponse, body: string): Promise<void> => {
    if (options.latencyMs > 0) await sleep(options.latencyMs);
    if (body.includes('"fail-500"')) {
      res.writeHead(500, { 'content-type': 'application/json', 'content-length': ERROR.length }).end(ERROR);
      return;
    }
    if (req.url === '/v1/responses') {
      if (body.includes('"stream":true')) res.writeHead(200, { 'content-type': 'text/event-stream' }).end(responseStream);
      else res.writeHead(200, { 'content-type': 'application/json', 'content-length': RESPONSE_JSON.length }).end(RESPONSE_JSON);
      return;
    }
    if (!body.includes('"stream":true')) {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': CHAT.length }).end(CHAT);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    for (const chunk of events.content) {
      res.write(chunk);
      if (options.chunkDelayMs > 0) await sleep(options.chunkDelayMs);
    }
    if (body.includes('"include_usage":true')) res.write(events.usage);
    res.end(events.done);
  };
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (part: Buffer) => parts.push(part));
    req.on('end', () => void handle(req, res, Buffer.concat(parts).toString()));
  });
  server.keepAliveTimeout = 60_000;
  return new Promise((resolve) =>
    server.listen(options.port, '127.0.0.1', () =>
      resolve(() => new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      })),
    ),
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '9100' },
      'latency-ms': { type: 'string', default: '0' },
      chunks: { type: 'string', default: '8' },
      'chunk-delay-ms': { type: 'string', default: '0' },
    },
  });
  await startBenchUpstream({
    port: Number(values.port),
    latencyMs: Number(values['latency-ms']),
    chunks: Number(values.chunks),
    chunkDelayMs: Number(values['chunk-delay-ms']),
  });
  process.stdout.write(`bench upstream listening on ${values.port}\n`);
}
