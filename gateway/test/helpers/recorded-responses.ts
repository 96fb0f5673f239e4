/**
 * The vendors' recorded responses (gateway/test/fixtures/recorded, sources and licences in its README),
 * loaded for the native mock servers to replay. A stream is kept as its raw events, byte for byte, so
 * the gateway parses exactly what the vendor sent; the few derived streams say how they were derived.
 */
import { readdirSync, readFileSync } from 'node:fs';

export type Vendor = 'anthropic' | 'gemini' | 'azure' | 'openai';

export type RecordedResponse =
  /** Raw SSE events, each with its own line ends and blank-line terminator as recorded. */
  | { kind: 'sse'; events: string[] }
  | { kind: 'json'; body: unknown };

const ROOT = new URL('../fixtures/recorded/', import.meta.url);

/** Splits a recorded body after each blank line, keeping every byte (LF or CRLF framing). */
function splitEvents(text: string): string[] {
  return text.split(/(?<=\r\n\r\n|\n\n)/).filter((event) => event.length > 0);
}

interface JsGenaiRecording {
  interactions: { response: { statusCode: number; headers: Record<string, string>; bodySegments: unknown[] } }[];
}

function load(vendor: Vendor, file: string): RecordedResponse {
  const text = readFileSync(new URL(`${vendor}/${file}`, ROOT), 'utf8');
  if (!file.endsWith('.json')) return { kind: 'sse', events: splitEvents(text) };
  const body = JSON.parse(text) as unknown;
  if (!file.startsWith('js-genai-')) return { kind: 'json', body };
  // js-genai keeps a response as parsed segments; a stream's segments were its SSE events.
  const { response } = (body as JsGenaiRecording).interactions[0]!;
  return response.headers['Content-Type']?.startsWith('text/event-stream')
    ? { kind: 'sse', events: response.bodySegments.map((segment) => `data: ${JSON.stringify(segment)}\r\n\r\n`) }
    : { kind: 'json', body: response.bodySegments[0] };
}

/** The request a js-genai recording captured (what the official SDK sent), for comparison. */
export function recordedGeminiRequest(file: string): Record<string, unknown> {
  const recording = JSON.parse(readFileSync(new URL(`gemini/${file}`, ROOT), 'utf8')) as {
    interactions: { request: { bodySegments: Record<string, unknown>[] } }[];
  };
  return recording.interactions[0]!.request.bodySegments[0]!;
}

const eventData = (event: string): Record<string, unknown> => JSON.parse(/^data: (.*)$/m.exec(event)![1]!) as Record<string, unknown>;

/**
 * Streams derived from a recording where no vendor recorded the case. Each keeps the recorded events
 * and changes only what its name says.
 */
const DERIVED: Record<string, () => RecordedResponse> = {
  // A tool call without arguments: Anthropic opens the block with `input: {}`, sends one empty
  // `input_json_delta` and closes it. The recorded call does exactly that before its argument deltas.
  'anthropic/tool-use-no-arguments-stream': () => {
    const { events } = recorded('anthropic', 'tool-use-stream') as { events: string[] };
    return {
      kind: 'sse',
      events: events.filter((event) => {
        if (!event.startsWith('event: content_block_delta')) return true;
        return (eventData(event).delta as { partial_json?: string }).partial_json === '';
      }),
    };
  },
  // Two tool calls in one message: the recorded tool_use block, then the same block again as
  // content block 1 with another id, before the recorded message_delta and message_stop.
  'anthropic/two-tool-calls-stream': () => {
    const { events } = recorded('anthropic', 'tool-use-stream') as { events: string[] };
    const blockEnd = events.findIndex((event) => event.startsWith('event: content_block_stop')) + 1;
    const block = events
      .slice(1, blockEnd)
      .filter((event) => !event.startsWith('event: ping'))
      .map((event) => event.replace('"index":0', '"index":1').replace('toolu_018acGYLtfR52q9yDbWaEdQZ', 'toolu_018acGYLtfR52q9yDbWaEdQY'));
    return { kind: 'sse', events: [...events.slice(0, blockEnd), ...block, ...events.slice(blockEnd)] };
  },
};

/** The recorded Responses API body as served (see the fixtures README): valid against today's schema. */
function servedResponse(): Record<string, unknown> {
  const body = structuredClone((load('openai', 'responses-text.json') as { body: Record<string, unknown> }).body);
  delete body.user;
  const usage = body.usage as { input_tokens_details: Record<string, unknown> };
  usage.input_tokens_details.cache_write_tokens = 0;
  return body;
}

/** The recorded response with its message replaced by one function call. */
function functionCallResponse(): Record<string, unknown> {
  const body = servedResponse();
  body.output = [
    {
      id: 'fc_689a0b2637b08193ac478e568f49e3f900b2e36c65a1fd4c',
      type: 'function_call',
      status: 'completed',
      arguments: '{"city":"San Francisco"}',
      call_id: 'call_0b2637b08193ac478e568f49',
      name: 'get_weather',
    },
  ];
  return body;
}

/** The events the Responses API streams for a finished response, as it frames them. */
export function responsesEvents(response: Record<string, unknown>): string[] {
  let sequence = 0;
  const event = (type: string, fields: Record<string, unknown>): string =>
    `event: ${type}\ndata: ${JSON.stringify({ type, ...fields, sequence_number: sequence++ })}\n\n`;
  const shell = { ...response, status: 'in_progress', output: [], completed_at: null };
  delete (shell as { usage?: unknown }).usage;
  const events = [event('response.created', { response: shell }), event('response.in_progress', { response: shell })];
  const output = response.output as Record<string, unknown>[];
  output.forEach((item, outputIndex) => {
    if (item.type === 'message') {
      const part = (item.content as { text: string }[])[0]!;
      events.push(event('response.output_item.added', { output_index: outputIndex, item: { ...item, status: 'in_progress', content: [] } }));
      const ids = { item_id: item.id, output_index: outputIndex, content_index: 0 };
      events.push(event('response.content_part.added', { ...ids, part: { ...part, text: '' } }));
      for (const piece of part.text.match(/\S+\s*/g) ?? []) events.push(event('response.output_text.delta', { ...ids, delta: piece, logprobs: [] }));
      events.push(event('response.output_text.done', { ...ids, text: part.text, logprobs: [] }));
      events.push(event('response.content_part.done', { ...ids, part }));
    } else {
      const args = String(item.arguments);
      events.push(event('response.output_item.added', { output_index: outputIndex, item: { ...item, status: 'in_progress', arguments: '' } }));
      const ids = { item_id: item.id, output_index: outputIndex };
      for (const piece of args.match(/.{1,8}/g) ?? []) events.push(event('response.function_call_arguments.delta', { ...ids, delta: piece }));
      events.push(event('response.function_call_arguments.done', { ...ids, name: item.name, arguments: args }));
    }
    events.push(event('response.output_item.done', { output_index: outputIndex, item }));
  });
  events.push(event('response.completed', { response }));
  return events;
}

Object.assign(DERIVED, {
  'openai/responses-text': () => ({ kind: 'json', body: servedResponse() }),
  'openai/responses-function-call': () => ({ kind: 'json', body: functionCallResponse() }),
  'openai/responses-text-stream': () => ({ kind: 'sse', events: responsesEvents(servedResponse()) }),
  'openai/responses-function-call-stream': () => ({ kind: 'sse', events: responsesEvents(functionCallResponse()) }),
});

const cache = new Map<string, RecordedResponse>();

/** The recording `name` (a file name without extension, or a derived stream's name) of `vendor`. */
export function recorded(vendor: Vendor, name: string): RecordedResponse {
  const key = `${vendor}/${name}`;
  let response = cache.get(key);
  if (!response) {
    const derive = DERIVED[key];
    if (derive) response = derive();
    else {
      const file = readdirSync(new URL(`${vendor}/`, ROOT)).find((candidate) => candidate.replace(/\.[^.]+$/, '') === name);
      if (!file) throw new Error(`no recorded ${vendor} response named '${name}'`);
      response = load(vendor, file);
    }
    cache.set(key, response);
  }
  return response;
}

/** `rec-<name>` selects a recording; anything else is not a replay. */
export function recordingName(model: string): string | undefined {
  return model.startsWith('rec-') ? model.slice(4) : undefined;
}
