/**
 * Anthropic's Messages API as an inbound dialect (POST /v1/messages): Anthropic-native clients — the
 * official SDKs, coding agents reading an Anthropic base URL — routed to any provider. `anthropic`
 * targets get the client's body and headers passed through (operation `messages`) and their Message or
 * events come back as sent, with only `model` put back to the client's; every other target gets the
 * canonical chat request and its answer is translated (messages-response.ts, messages-stream.ts).
 * Errors take Anthropic's shape and statuses (messages-errors.ts).
 */
import type { StoredAnswer } from '../cache/stored-answer.js';
import type { GatewayError } from '../errors.js';
import { CLIENT_VERSION_HEADERS } from '../providers/anthropic-adapter.js';
import type { JsonObject } from '../providers/types.js';
import { anthropicErrorBody, anthropicErrorOf } from './messages-errors.js';
import { messageToEvents, sseEvent } from './messages-events.js';
import { toChatRequest, validateMessagesRequest, type MessagesRequest } from './messages-request.js';
import { toAnthropicMessage, type AnthropicMessage } from './messages-response.js';
import { NativeEventRenderer, TranslatedEventRenderer } from './messages-renderers.js';
import { estimatePromptTokens } from '../routing/request-facts.js';
import type { InboundContext, InboundDialect, InboundExchange, StreamRenderer, StreamTelemetry } from './types.js';

const NONE: readonly string[] = Object.freeze([]);

/** The client's version and beta headers, which an Anthropic target is sent. */
export function nativeHeadersOf(headers: InboundContext['headers']): Record<string, string> | undefined {
  let picked: Record<string, string> | undefined;
  for (const name of CLIENT_VERSION_HEADERS) {
    const value = headers[name];
    const text = Array.isArray(value) ? value.join(',') : value;
    if (text) (picked ??= {})[name] = text;
  }
  return picked;
}

export class MessagesExchange implements InboundExchange {
  readonly model: string;
  readonly stream: boolean;
  readonly user: string | undefined;
  readonly canonical: JsonObject & { model: string };
  readonly droppedTools = NONE;
  readonly untranslatable: GatewayError | undefined;
  readonly nativeHeaders: Readonly<Record<string, string>> | undefined;
  readonly logBody: JsonObject;
  /** The client's body: the cache key leaves out `stream` and `metadata` itself. */
  readonly cacheBody: JsonObject;

  constructor(
    private readonly request: MessagesRequest,
    headers: InboundContext['headers'],
  ) {
    this.model = request.model;
    this.stream = request.stream === true;
    const user = request.metadata?.user_id;
    this.user = typeof user === 'string' && user.length > 0 ? user : undefined;
    let refused: GatewayError | undefined;
    this.canonical = toChatRequest(request, (error) => (refused ??= error)) as JsonObject & { model: string };
    this.untranslatable = refused;
    this.nativeHeaders = nativeHeadersOf(headers);
    this.logBody = request;
    this.cacheBody = request;
  }

  nativeBody(model: string): JsonObject {
    return { ...this.request, model, ...withoutUnsignedThinking(this.request.messages) };
  }

  renderJson(answer: JsonObject, native: boolean): JsonObject {
    if (!native) return toAnthropicMessage(answer, this.model, { stopSequences: this.request.stop_sequences }) as unknown as JsonObject;
    answer.model = this.model;
    return answer;
  }

  streamRenderer(native: boolean, telemetry: StreamTelemetry, collect: boolean): StreamRenderer {
    return native
      ? new NativeEventRenderer(this.model, telemetry, collect)
      : new TranslatedEventRenderer({ model: this.model, stopSequences: this.request.stop_sequences, inputTokens: estimatePromptTokens(this.canonical) }, telemetry, collect);
  }

  /** Every Messages answer is stored as its Message (streams too: see messages-renderers.ts): sent as stored. */
  replayJson(hit: StoredAnswer): Buffer {
    return hit.body;
  }

  /** The stored Message as the event sequence a stream of it carries. */
  replaySse(hit: StoredAnswer): { parts: string[] } {
    const message = JSON.parse(hit.body.toString()) as AnthropicMessage;
    let events = '';
    for (const event of messageToEvents(message)) events += sseEvent(event);
    return { parts: [events] };
  }
}

/**
 * A thinking block with an empty signature is one the gateway made from another provider's reasoning:
 * Anthropic would refuse it, so a conversation that moves to an Anthropic target (a fallback, a canary)
 * goes on without it. Returns `{ messages }` only when there was one, so the usual body is not copied.
 */
export function withoutUnsignedThinking(messages: MessagesRequest['messages']): { messages?: MessagesRequest['messages'] } {
  const unsigned = (block: JsonObject): boolean => block.type === 'thinking' && block.signature === '';
  const found = messages.some((message) => message.role === 'assistant' && Array.isArray(message.content) && message.content.some(unsigned));
  if (!found) return {};
  return {
    messages: messages.map((message) =>
      message.role === 'assistant' && Array.isArray(message.content) ? { ...message, content: message.content.filter((block) => !unsigned(block)) } : message,
    ),
  };
}

/** The text of a Message (token estimates, shadow agreement): its text blocks and tool inputs. */
export function messageText(answer: JsonObject): string {
  let text = '';
  for (const block of (answer.content as JsonObject[] | undefined) ?? []) {
    if (block.type === 'text' && typeof block.text === 'string') text += block.text;
    else if (block.type === 'tool_use') text += JSON.stringify(block.input ?? {});
  }
  return text;
}

export const messagesDialect: InboundDialect = {
  name: 'messages',
  path: '/v1/messages',
  operation: 'chat',
  label: 'messages',
  native: 'messages',
  parse: (body, context) => new MessagesExchange(validateMessagesRequest(body), context.headers),
  errorBody: (body, error, requestId) => anthropicErrorBody(anthropicErrorOf(error).type, body.error.message, requestId) as unknown as JsonObject,
  errorStatus: (error) => anthropicErrorOf(error).status,
  answerText: messageText,
};
