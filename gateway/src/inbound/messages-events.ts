/**
 * Anthropic's streaming events (message_start, content_block_start/delta/stop, ping, message_delta,
 * message_stop, error): their SSE framing, a Message replayed as the event sequence the API would have
 * sent (a cached answer to a streaming client), and the reverse — events accumulated into the Message
 * they describe (a streamed answer cached, traced or returned as JSON). The accumulation follows the
 * official SDK's MessageStream: deltas apply to the block their `index` names, message_delta overwrites
 * the usage counters it carries.
 */
import type { AnthropicUsage } from '../providers/anthropic-mapping.js';
import { parseArguments } from '../providers/openai-content.js';
import type { JsonObject } from '../providers/types.js';
import type { AnthropicMessage, MessagesContentBlock } from './messages-response.js';

export type MessagesEvent = JsonObject & { type: string };

/** One event as Anthropic frames it: a named SSE event whose data repeats the type (the SDK skips unnamed ones). */
export function sseEvent(event: MessagesEvent): string {
  return `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

export const PING_EVENT: MessagesEvent = { type: 'ping' };

export function errorEvent(type: string, message: string): MessagesEvent {
  return { type: 'error', error: { type, message } };
}

/** Message fields that message_delta sets at the end of a stream (null until then). */
const DELTA_FIELDS = ['stop_reason', 'stop_sequence', 'stop_details', 'container'] as const;

/** The Message as message_start announces it: no content and no stop reason yet. */
export function messageStartEvent(message: AnthropicMessage): MessagesEvent {
  const start: JsonObject = { ...message, content: [] };
  for (const field of DELTA_FIELDS) if (field in start) start[field] = null;
  return { type: 'message_start', message: start };
}

export function messageDeltaEvent(stopReason: string | null, stopSequence: string | null, usage: AnthropicUsage | JsonObject): MessagesEvent {
  return { type: 'message_delta', delta: { stop_reason: stopReason, stop_sequence: stopSequence }, usage };
}

/** The message_delta that ends a stream of this Message: its closing fields and its whole usage. */
function closingDelta(message: AnthropicMessage): MessagesEvent {
  const delta: JsonObject = {};
  for (const field of DELTA_FIELDS) if (field in message) delta[field] = (message as unknown as JsonObject)[field];
  return { type: 'message_delta', delta, usage: message.usage };
}

/** The empty form a block opens with before its deltas fill it; blocks without deltas open whole. */
function openingBlock(block: MessagesContentBlock): MessagesContentBlock {
  switch (block.type) {
    case 'text':
      return { ...block, text: '' };
    case 'thinking':
      return { ...block, thinking: '', signature: '' };
    case 'tool_use':
    case 'server_tool_use':
      return { ...block, input: {} };
    default:
      return block;
  }
}

function blockDeltas(block: MessagesContentBlock): JsonObject[] {
  switch (block.type) {
    case 'text':
      return block.text ? [{ type: 'text_delta', text: block.text }] : [];
    case 'thinking': {
      const deltas: JsonObject[] = [];
      if (block.thinking) deltas.push({ type: 'thinking_delta', thinking: block.thinking });
      if (block.signature) deltas.push({ type: 'signature_delta', signature: block.signature });
      return deltas;
    }
    case 'tool_use':
    case 'server_tool_use': {
      const input = JSON.stringify(block.input ?? {});
      return input === '{}' ? [] : [{ type: 'input_json_delta', partial_json: input }];
    }
    default:
      return [];
  }
}

/** A complete Message as the event sequence a stream of it carries, ping included. */
export function messageToEvents(message: AnthropicMessage): MessagesEvent[] {
  const { output_tokens: _output, ...startUsage } = message.usage;
  const events: MessagesEvent[] = [messageStartEvent({ ...message, usage: { ...startUsage, output_tokens: 0 } as AnthropicUsage })];
  message.content.forEach((block, index) => {
    events.push({ type: 'content_block_start', index, content_block: openingBlock(block) });
    if (index === 0) events.push(PING_EVENT);
    for (const delta of blockDeltas(block)) events.push({ type: 'content_block_delta', index, delta });
    events.push({ type: 'content_block_stop', index });
  });
  if (message.content.length === 0) events.push(PING_EVENT);
  events.push(closingDelta(message), { type: 'message_stop' });
  return events;
}

/** The usage counters message_delta may carry: whole-message totals, each overwriting the Message's when present. */
const DELTA_USAGE_FIELDS = ['input_tokens', 'output_tokens', 'cache_creation_input_tokens', 'cache_read_input_tokens', 'server_tool_use', 'output_tokens_details'];

/**
 * Accumulates a stream's events into its Message. `complete` turns true at message_stop; an `error`
 * event is left to the caller (the stream failed).
 */
export class MessageAccumulator {
  private current: (AnthropicMessage & JsonObject) | undefined;
  /** Tool input JSON as it streams, by block index; parsed when the block stops. */
  private readonly inputJson = new Map<number, string>();
  complete = false;

  push(event: MessagesEvent): void {
    if (event.type === 'message_start') {
      const message = event.message as AnthropicMessage & JsonObject;
      this.current = { ...message, content: [...(message.content ?? [])], usage: { ...message.usage } };
      return;
    }
    const message = this.current;
    if (!message) return;
    const index = typeof event.index === 'number' ? event.index : -1;
    switch (event.type) {
      case 'content_block_start':
        message.content[index] = { ...(event.content_block as MessagesContentBlock) };
        break;
      case 'content_block_delta':
        this.applyDelta(message.content[index], index, (event.delta ?? {}) as JsonObject);
        break;
      case 'content_block_stop':
        this.settleInput(index);
        break;
      case 'message_delta': {
        const delta = (event.delta ?? {}) as JsonObject;
        for (const [name, value] of Object.entries(delta)) (message as JsonObject)[name] = value;
        const usage = (event.usage ?? {}) as JsonObject;
        for (const name of DELTA_USAGE_FIELDS) if (usage[name] != null) (message.usage as unknown as JsonObject)[name] = usage[name];
        break;
      }
      case 'message_stop':
        // A stream cut off by max_tokens may never stop its last tool block.
        for (const pending of [...this.inputJson.keys()]) this.settleInput(pending);
        this.complete = true;
        break;
    }
  }

  /** A tool block's streamed input JSON as its `input`; unfinished JSON is kept as `_raw` (parseArguments). */
  private settleInput(index: number): void {
    const json = this.inputJson.get(index);
    const block = this.current?.content[index];
    if (json === undefined || !block) return;
    block.input = parseArguments(json);
    this.inputJson.delete(index);
  }

  private applyDelta(block: MessagesContentBlock | undefined, index: number, delta: JsonObject): void {
    if (!block) return;
    switch (delta.type) {
      case 'text_delta':
        block.text = String(block.text ?? '') + String(delta.text ?? '');
        break;
      case 'input_json_delta':
        this.inputJson.set(index, (this.inputJson.get(index) ?? '') + String(delta.partial_json ?? ''));
        break;
      case 'thinking_delta':
        block.thinking = String(block.thinking ?? '') + String(delta.thinking ?? '');
        break;
      case 'signature_delta':
        block.signature = delta.signature;
        break;
      case 'citations_delta':
        block.citations = [...((block.citations as unknown[] | null | undefined) ?? []), delta.citation];
        break;
    }
  }

  /** The Message so far (complete once `complete` is true); undefined before message_start. */
  message(): AnthropicMessage | undefined {
    return this.current;
  }
}

/** Accumulates a whole event sequence. */
export function eventsToMessage(events: Iterable<MessagesEvent>): AnthropicMessage | undefined {
  const accumulator = new MessageAccumulator();
  for (const event of events) accumulator.push(event);
  return accumulator.message();
}
