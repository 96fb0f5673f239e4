/**
 * The Messages dialect's stream renderers: Anthropic's events to the client as SSE, from an `anthropic`
 * target's own events (passed through, model put back) or from canonical chunks (translated). Both
 * accumulate the Message as it streams — the cache stores it (as a JSON answer: one form for every
 * Messages answer, replayed as JSON or as events), the trace logs it, and the usage it reports reaches
 * telemetry — and close a broken stream with an `error` event and no message_stop.
 */
import { encodeJsonAnswer } from '../cache/stored-answer.js';
import type { GatewayError, OpenAIErrorBody } from '../errors.js';
import type { JsonObject } from '../providers/types.js';
import { chunkText } from '../telemetry/usage.js';
import { anthropicErrorOf } from './messages-errors.js';
import { errorEvent, MessageAccumulator, sseEvent, type MessagesEvent } from './messages-events.js';
import { MessagesStreamEncoder, type MessagesStreamOptions } from './messages-stream.js';
import type { StreamAnswer, StreamRenderer, StreamTelemetry } from './types.js';

abstract class MessagesRenderer implements StreamRenderer {
  /** The Message so far: all of it when collecting, else only what message_* events carry (usage). */
  protected readonly message = new MessageAccumulator();

  constructor(
    protected readonly telemetry: StreamTelemetry,
    private readonly collect: boolean,
  ) {}

  abstract next(item: JsonObject): string;
  abstract end(): string;

  /** Accumulates one outgoing event (content blocks only when collecting) and returns it framed. */
  protected send(event: MessagesEvent): string {
    if (this.collect || event.type.startsWith('message_')) this.message.push(event);
    return sseEvent(event);
  }

  /** The upstream's own error type when it named one (an Anthropic `overloaded_error`…), else api_error. */
  fail(error: OpenAIErrorBody, cause?: GatewayError): string {
    return sseEvent(errorEvent(cause ? anthropicErrorOf(cause).type : 'api_error', error.error.message));
  }

  answer(): StreamAnswer | undefined {
    const message = this.message.message() as unknown as JsonObject | undefined;
    if (!this.collect || !this.message.complete || !message) return undefined;
    return { json: () => message, stored: () => encodeJsonAnswer(message) };
  }
}

/** An `anthropic` target's events, as it sent them; message_start gets the client's model back. */
export class NativeEventRenderer extends MessagesRenderer {
  constructor(
    private readonly model: string,
    telemetry: StreamTelemetry,
    collect: boolean,
  ) {
    super(telemetry, collect);
  }

  next(event: JsonObject): string {
    const type = event.type;
    if (type === 'message_start') (event.message as JsonObject).model = this.model;
    else if (type === 'content_block_delta') this.telemetry.streamText += deltaText(event.delta as JsonObject | undefined);
    const framed = this.send(event as MessagesEvent);
    if (type === 'message_start' || type === 'message_delta') this.telemetry.reportedUsage = this.message.message()?.usage;
    return framed;
  }

  /** The target's own message_stop closed the stream already. */
  end(): string {
    return '';
  }
}

/** Canonical chunks as Anthropic's event sequence (messages-stream.ts). */
export class TranslatedEventRenderer extends MessagesRenderer {
  private readonly encoder: MessagesStreamEncoder;

  constructor(options: MessagesStreamOptions, telemetry: StreamTelemetry, collect: boolean) {
    super(telemetry, collect);
    this.encoder = new MessagesStreamEncoder(options);
  }

  next(chunk: JsonObject): string {
    if (chunk.usage) this.telemetry.reportedUsage = chunk.usage;
    else this.telemetry.streamText += chunkText(chunk);
    return this.sendAll(this.encoder.push(chunk));
  }

  end(): string {
    return this.sendAll(this.encoder.finish());
  }

  private sendAll(events: MessagesEvent[]): string {
    let text = '';
    for (const event of events) text += this.send(event);
    return text;
  }
}

function deltaText(delta: JsonObject | undefined): string {
  if (!delta) return '';
  if (delta.type === 'text_delta') return String(delta.text ?? '');
  if (delta.type === 'input_json_delta') return String(delta.partial_json ?? '');
  return '';
}
