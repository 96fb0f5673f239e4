/**
 * Writing Responses API streams: typed events framed as OpenAI frames them (`event: <type>` then
 * `data: <json>`, no `[DONE]`), numbered by `sequence_number` from 0, and the output items' lifecycle —
 * `response.output_item.added`, content parts, deltas, `.done` events, `response.output_item.done` — as
 * the answer arrives. Used for translated streams and for replaying a stored response as a stream.
 */
import type { JsonObject } from '../providers/types.js';
import { functionCallItem, messageItem, newId, reasoningItem } from './responses-object.js';
import { flatName, type ToolNames } from './responses-to-chat.js';

export function frame(event: JsonObject): string {
  return `event: ${String(event.type)}\ndata: ${JSON.stringify(event)}\n\n`;
}

/** Numbers events in order; `start` continues a stream whose earlier events were numbered elsewhere. */
export class EventSequence {
  constructor(private next = 0) {}

  event(type: string, fields: JsonObject): string {
    return frame({ type, ...fields, sequence_number: this.next++ });
  }
}

interface OpenItem {
  outputIndex: number;
  close(status: string): string;
}

const TEXT_PART = (text: string): JsonObject => ({ type: 'output_text', annotations: [], logprobs: [], text });

/** The output items of one streamed response, opened and closed as deltas arrive. */
export class OutputStream {
  /** Finished items in output order (filled in as items close). */
  readonly items: JsonObject[] = [];
  private readonly open: OpenItem[] = [];
  private message: { id: string; outputIndex: number; text: string; refusal: string | undefined; part: number } | undefined;
  private reasoning: { id: string; outputIndex: number; text: string } | undefined;
  private readonly calls = new Map<number, { id: string; outputIndex: number; callId: string; name: string; args: string }>();
  /** The id the next item opened takes instead of a new one (replaying a stored item as it was). */
  private storedId: string | undefined;

  constructor(
    private readonly events: EventSequence,
    private readonly names: ToolNames,
  ) {}

  text(delta: string): string {
    let out = this.closeReasoning();
    const message = this.message ?? (out += this.openMessage(), this.message!);
    if (message.refusal !== undefined) return out; // text after a refusal has nowhere to go in OpenAI's format
    if (message.part < 0) {
      message.part = 0;
      out += this.part(message, TEXT_PART(''));
    }
    message.text += delta;
    return out + this.events.event('response.output_text.delta', { item_id: message.id, output_index: message.outputIndex, content_index: 0, delta, logprobs: [] });
  }

  refusal(delta: string): string {
    let out = this.closeReasoning();
    const message = this.message ?? (out += this.openMessage(), this.message!);
    if (message.refusal === undefined) {
      if (message.part === 0) out += this.textDone(message);
      message.part += 1;
      message.refusal = '';
      out += this.part(message, { type: 'refusal', refusal: '' });
    }
    message.refusal += delta;
    return out + this.events.event('response.refusal.delta', { item_id: message.id, output_index: message.outputIndex, content_index: message.part, delta });
  }

  reasoningText(delta: string): string {
    let out = '';
    if (!this.reasoning) {
      const id = this.itemId('rs');
      const outputIndex = this.reserve((status) => this.finishReasoning(status));
      this.reasoning = { id, outputIndex, text: '' };
      out += this.events.event('response.output_item.added', { output_index: outputIndex, item: { id, type: 'reasoning', summary: [], status: 'in_progress' } });
      out += this.events.event('response.content_part.added', { item_id: id, output_index: outputIndex, content_index: 0, part: { type: 'reasoning_text', text: '' } });
    }
    this.reasoning.text += delta;
    return out + this.events.event('response.reasoning_text.delta', { item_id: this.reasoning.id, output_index: this.reasoning.outputIndex, content_index: 0, delta });
  }

  /** A tool call's start (id and name) or arguments, by its chat index. */
  call(index: number, callId: string | undefined, name: string | undefined, argsDelta: string): string {
    let out = '';
    let call = this.calls.get(index);
    if (!call) {
      out += this.closeReasoning() + this.closeMessage('completed');
      const id = this.itemId('fc');
      const outputIndex = this.reserve((status) => this.finishCall(index, status));
      call = { id, outputIndex, callId: callId ?? newId('call'), name: name ?? '', args: '' };
      this.calls.set(index, call);
      out += this.events.event('response.output_item.added', { output_index: outputIndex, item: functionCallItem(id, call.callId, call.name, '', 'in_progress', this.names) });
    }
    if (!argsDelta) return out;
    call.args += argsDelta;
    return out + this.events.event('response.function_call_arguments.delta', { item_id: call.id, output_index: call.outputIndex, delta: argsDelta });
  }

  /** Closes every open item (`incomplete` when the answer was cut); the items are then final. */
  closeAll(status: string): string {
    let out = '';
    for (const item of this.open.splice(0)) out += item.close(status);
    this.message = undefined;
    this.reasoning = undefined;
    return out;
  }

  /** A whole item at once (replaying a stored response); `keepId`: under the item's own id, not a new one. */
  whole(item: JsonObject, keepId = false): string {
    this.storedId = keepId && typeof item.id === 'string' ? item.id : undefined;
    if (item.type === 'message') {
      let out = '';
      for (const part of (item.content as JsonObject[] | undefined) ?? []) {
        if (part.type === 'refusal') out += this.refusal(String(part.refusal ?? ''));
        else if (part.type === 'output_text') out += this.text(String(part.text ?? ''));
      }
      if (!this.message) out += this.text('');
      return out + this.closeMessage(String(item.status ?? 'completed'));
    }
    if (item.type === 'function_call') {
      const name = flatName(item.namespace as string | undefined, String(item.name));
      return this.call(this.calls.size, String(item.call_id), name, String(item.arguments ?? '')) + this.closeAll('completed');
    }
    if (item.type === 'reasoning' && Array.isArray(item.content)) {
      const text = (item.content as JsonObject[]).map((part) => String(part.text ?? '')).join('');
      return this.reasoningText(text) + this.closeReasoning();
    }
    // Other items (hosted tools' calls) are replayed as added and done.
    const outputIndex = this.reserve(() => '');
    this.open.pop();
    this.items[outputIndex] = item;
    return this.events.event('response.output_item.added', { output_index: outputIndex, item }) + this.events.event('response.output_item.done', { output_index: outputIndex, item });
  }

  private reserve(close: (status: string) => string): number {
    const outputIndex = this.items.length;
    this.items.push({});
    this.open.push({ outputIndex, close });
    return outputIndex;
  }

  private itemId(prefix: string): string {
    const id = this.storedId ?? newId(prefix);
    this.storedId = undefined;
    return id;
  }

  private openMessage(): string {
    const id = this.itemId('msg');
    const outputIndex = this.reserve((status) => this.finishMessage(status));
    this.message = { id, outputIndex, text: '', refusal: undefined, part: -1 };
    return this.events.event('response.output_item.added', { output_index: outputIndex, item: { id, type: 'message', status: 'in_progress', content: [], role: 'assistant' } });
  }

  private part(message: NonNullable<OutputStream['message']>, part: JsonObject): string {
    return this.events.event('response.content_part.added', { item_id: message.id, output_index: message.outputIndex, content_index: message.part, part });
  }

  private textDone(message: NonNullable<OutputStream['message']>): string {
    const fields = { item_id: message.id, output_index: message.outputIndex, content_index: 0 };
    return (
      this.events.event('response.output_text.done', { ...fields, text: message.text, logprobs: [] }) +
      this.events.event('response.content_part.done', { ...fields, part: TEXT_PART(message.text) })
    );
  }

  private closeMessage(status: string): string {
    const message = this.message;
    if (!message) return '';
    this.open.splice(this.open.findIndex((item) => item.outputIndex === message.outputIndex), 1);
    return this.finishMessage(status);
  }

  private finishMessage(status: string): string {
    const message = this.message;
    if (!message) return '';
    this.message = undefined;
    let out = '';
    if (message.refusal === undefined) {
      if (message.part < 0) {
        message.part = 0;
        out += this.part(message, TEXT_PART(''));
      }
      out += this.textDone(message);
    } else {
      const fields = { item_id: message.id, output_index: message.outputIndex, content_index: message.part };
      out += this.events.event('response.refusal.done', { ...fields, refusal: message.refusal });
      out += this.events.event('response.content_part.done', { ...fields, part: { type: 'refusal', refusal: message.refusal } });
    }
    const item = messageItem(message.id, message.text, status, message.refusal);
    this.items[message.outputIndex] = item;
    return out + this.events.event('response.output_item.done', { output_index: message.outputIndex, item });
  }

  private closeReasoning(): string {
    const reasoning = this.reasoning;
    if (!reasoning) return '';
    this.open.splice(this.open.findIndex((item) => item.outputIndex === reasoning.outputIndex), 1);
    return this.finishReasoning('completed');
  }

  private finishReasoning(status: string): string {
    const reasoning = this.reasoning;
    if (!reasoning) return '';
    this.reasoning = undefined;
    const fields = { item_id: reasoning.id, output_index: reasoning.outputIndex, content_index: 0 };
    const item = reasoningItem(reasoning.id, reasoning.text, status);
    this.items[reasoning.outputIndex] = item;
    return (
      this.events.event('response.reasoning_text.done', { ...fields, text: reasoning.text }) +
      this.events.event('response.content_part.done', { ...fields, part: { type: 'reasoning_text', text: reasoning.text } }) +
      this.events.event('response.output_item.done', { output_index: reasoning.outputIndex, item })
    );
  }

  private finishCall(index: number, status: string): string {
    const call = this.calls.get(index);
    if (!call) return '';
    const item = functionCallItem(call.id, call.callId, call.name, call.args, status === 'incomplete' ? 'incomplete' : 'completed', this.names);
    this.items[call.outputIndex] = item;
    return (
      this.events.event('response.function_call_arguments.done', { item_id: call.id, output_index: call.outputIndex, name: item.name, arguments: call.args }) +
      this.events.event('response.output_item.done', { output_index: call.outputIndex, item })
    );
  }
}
