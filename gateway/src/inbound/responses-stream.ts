/**
 * Streamed answers in the Responses API's events, and the stream-failure contract:
 *
 * - translated (a chat chunk stream from a provider that does not serve the Responses API):
 *   `response.created`, `response.in_progress` when the first chunk arrives; then per output item
 *   `response.output_item.added`, `response.content_part.added`, `response.output_text.delta`… (or
 *   `response.function_call_arguments.delta`, `response.reasoning_text.delta`), their `.done` events,
 *   `response.content_part.done`, `response.output_item.done`; last `response.completed`, or
 *   `response.incomplete` when the answer was cut by its length or a content filter.
 * - native (the provider's own Responses events): passed through as they come, with the client's model
 *   and the state fields the gateway handles put back on every response object; the terminal event is
 *   held until the conversation is stored.
 * - a break after the first event: an `error` event (`code: stream_interrupted`), then `response.failed`
 *   whose `response.error.code` is `server_error` (the only fitting value OpenAI's schema allows); never
 *   `response.completed`.
 */
import { encodeJsonAnswer } from '../cache/stored-answer.js';
import type { OpenAIErrorBody } from '../errors.js';
import type { JsonObject } from '../providers/types.js';
import type { StreamAnswer, StreamRenderer, StreamTelemetry } from './types.js';
import { EventSequence, frame, OutputStream } from './responses-events.js';
import { echoRequest, finished, finishStatus, responsesUsage } from './responses-object.js';
import type { ResponsesRequest } from './responses-request.js';
import type { ToolNames } from './responses-to-chat.js';

const TERMINAL = new Set(['response.completed', 'response.incomplete']);

/** The failure events that end a broken stream, numbered after what was sent. */
function failureFrames(events: EventSequence, response: JsonObject, error: OpenAIErrorBody): string {
  const message = error.error.message;
  return (
    events.event('error', { code: error.error.code ?? 'stream_interrupted', message, param: null }) +
    events.event('response.failed', { response: { ...response, status: 'failed', error: { code: 'server_error', message } } })
  );
}

/** A streamed response, whole: kept (and cached) as the response object, replayed as events from it. */
function whole(response: JsonObject | undefined): StreamAnswer | undefined {
  return response && { json: () => response, stored: () => encodeJsonAnswer(response) };
}

/** Chat chunks (a translated attempt) as Responses events. */
export class TranslatedResponsesStream implements StreamRenderer {
  private readonly events = new EventSequence();
  private readonly output: OutputStream;
  private started = false;
  private finishReason: unknown;
  private usage: unknown;
  private final: JsonObject | undefined;

  constructor(
    private readonly shell: JsonObject,
    names: ToolNames,
    private readonly telemetry: StreamTelemetry,
  ) {
    this.output = new OutputStream(this.events, names);
  }

  next(chunk: JsonObject): string {
    let out = this.start();
    if (chunk.usage) {
      this.usage = chunk.usage;
      this.telemetry.reportedUsage = chunk.usage;
    }
    const choice = ((chunk.choices as JsonObject[] | undefined) ?? [])[0];
    if (!choice || (typeof choice.index === 'number' && choice.index !== 0)) return out;
    const delta = (choice.delta as JsonObject | undefined) ?? {};
    const reasoning = delta.reasoning_content ?? delta.reasoning;
    if (typeof reasoning === 'string' && reasoning) out += this.output.reasoningText(reasoning);
    if (typeof delta.content === 'string' && delta.content) {
      this.telemetry.streamText += delta.content;
      out += this.output.text(delta.content);
    }
    if (typeof delta.refusal === 'string' && delta.refusal) {
      this.telemetry.streamText += delta.refusal;
      out += this.output.refusal(delta.refusal);
    }
    for (const call of (delta.tool_calls as JsonObject[] | undefined) ?? []) {
      const fn = (call.function as JsonObject | undefined) ?? {};
      const args = typeof fn.arguments === 'string' ? fn.arguments : '';
      this.telemetry.streamText += args;
      out += this.output.call(typeof call.index === 'number' ? call.index : 0, call.id as string | undefined, fn.name as string | undefined, args);
    }
    if (choice.finish_reason) this.finishReason = choice.finish_reason;
    return out;
  }

  end(): string {
    const { status, incomplete } = finishStatus(this.finishReason);
    let out = this.start();
    out += this.output.closeAll(status === 'completed' ? 'completed' : 'incomplete');
    this.final = finished(this.shell, status, incomplete, this.output.items, responsesUsage(this.usage));
    return out + this.events.event(status === 'completed' ? 'response.completed' : 'response.incomplete', { response: this.final });
  }

  fail(error: OpenAIErrorBody): string {
    return this.start() + failureFrames(this.events, { ...this.shell, output: this.output.items.filter((item) => item.type) }, error);
  }

  answer(): StreamAnswer | undefined {
    return whole(this.final);
  }

  private start(): string {
    if (this.started) return '';
    this.started = true;
    return this.events.event('response.created', { response: this.shell }) + this.events.event('response.in_progress', { response: this.shell });
  }
}

/** A provider's own Responses events, passed through. */
export class NativeResponsesStream implements StreamRenderer {
  private lastSequence = -1;
  private shell: JsonObject | undefined;
  private held: JsonObject | undefined;

  constructor(
    private readonly request: ResponsesRequest,
    private readonly fallbackShell: JsonObject,
    private readonly telemetry: StreamTelemetry,
  ) {}

  next(event: JsonObject): string {
    if (typeof event.sequence_number === 'number') this.lastSequence = event.sequence_number;
    const response = event.response as JsonObject | undefined;
    if (response && typeof response === 'object') {
      echoRequest(response, this.request, this.fallbackShell.id as string);
      this.shell ??= response;
    }
    const delta = event.delta;
    if (typeof delta === 'string' && (event.type === 'response.output_text.delta' || event.type === 'response.function_call_arguments.delta' || event.type === 'response.refusal.delta')) {
      this.telemetry.streamText += delta;
    }
    if (TERMINAL.has(String(event.type))) {
      // Sent by end(), once the conversation it completes is stored.
      this.held = event;
      if (response?.usage) this.telemetry.reportedUsage = response.usage;
      return '';
    }
    return frame(event);
  }

  end(): string {
    return this.held ? frame(this.held) : '';
  }

  fail(error: OpenAIErrorBody): string {
    return failureFrames(new EventSequence(this.lastSequence + 1), { ...(this.shell ?? this.fallbackShell), output: [] }, error);
  }

  answer(): StreamAnswer | undefined {
    return whole(this.held?.response as JsonObject | undefined);
  }
}

/**
 * A finished response replayed as the events that would have streamed it, and the response those
 * events describe. A cached answer replayed as a new response gets new item ids; a stored response
 * streamed back as itself (`keepIds`: `GET /v1/responses/{id}?stream=true`) keeps its own, and its closing
 * event carries it exactly as stored.
 */
export function replayFrames(response: JsonObject, names: ToolNames, keepIds = false): { frames: string[]; response: JsonObject } {
  const events = new EventSequence();
  const output = new OutputStream(events, names);
  const shell: JsonObject = { ...response, status: 'in_progress', output: [], completed_at: null, incomplete_details: null };
  delete shell.usage;
  const frames = [events.event('response.created', { response: shell }) + events.event('response.in_progress', { response: shell })];
  for (const item of (response.output as JsonObject[] | undefined) ?? []) frames.push(output.whole(item, keepIds));
  const replayed = keepIds ? response : { ...response, output: output.items };
  frames.push(events.event(response.status === 'incomplete' ? 'response.incomplete' : 'response.completed', { response: replayed }));
  return { frames, response: replayed };
}
