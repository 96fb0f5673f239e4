/**
 * The canonical chunk stream (OpenAI chat.completion.chunk objects) as Anthropic's event sequence,
 * translated as chunks arrive — one pass, nothing held back but the closing message_delta, which waits
 * for the usage chunk OpenAI-style streams send after the finish reason.
 *
 *   message_start                         on the first chunk (input tokens: the caller's estimate;
 *                                         the exact count follows in message_delta)
 *   content_block_start, ping             the first block is followed by a ping, as Anthropic sends it
 *   content_block_delta                   text_delta, thinking_delta (a server's reasoning_content),
 *                                         input_json_delta (tool-call arguments)
 *   content_block_stop                    when the next kind of block starts, or the answer ends
 *   message_delta, message_stop           at the end: stop reason, stop sequence, cumulative usage
 *
 * Tool calls stay open until a text or thinking block follows or the answer ends, so arguments of
 * parallel calls that interleave still reach the block their call opened (deltas name their block).
 */
import { toAnthropicUsage, type AnthropicUsage } from '../providers/anthropic-mapping.js';
import type { JsonObject } from '../providers/types.js';
import { messageDeltaEvent, messageStartEvent, PING_EVENT, type MessagesEvent } from './messages-events.js';
import { messageId, reasoningOf, stopReasonOf, toolUseId, type StopContext } from './messages-response.js';

export interface MessagesStreamOptions extends StopContext {
  /** The model name the client asked for. */
  model: string;
  /** Input tokens for message_start, before the upstream has reported any (an estimate). */
  inputTokens?: number | undefined;
}

type OpenBlock = { kind: 'text' | 'thinking'; index: number } | { kind: 'tools' };

export class MessagesStreamEncoder {
  private started = false;
  private nextIndex = 0;
  private open: OpenBlock | undefined;
  /** Open tool_use blocks by OpenAI tool-call index → Anthropic block index. */
  private readonly tools = new Map<number, number>();
  private finishReason: unknown;
  private matchedStop: unknown;
  private sawToolCall = false;
  private usage: unknown;

  constructor(private readonly options: MessagesStreamOptions) {}

  /** The events one chunk adds (often one; none for a usage chunk). */
  push(chunk: JsonObject): MessagesEvent[] {
    const events: MessagesEvent[] = [];
    if (!this.started) this.start(events, chunk.id);
    if (chunk.usage) this.usage = chunk.usage;
    const choice = ((chunk.choices as JsonObject[] | undefined) ?? [])[0];
    if (!choice) return events;
    const delta = (choice.delta as JsonObject | undefined) ?? {};

    const reasoning = reasoningOf(delta);
    if (reasoning) this.append(events, 'thinking', { type: 'thinking_delta', thinking: reasoning });
    if (typeof delta.content === 'string' && delta.content !== '') this.append(events, 'text', { type: 'text_delta', text: delta.content });
    if (typeof delta.refusal === 'string' && delta.refusal !== '') this.append(events, 'text', { type: 'text_delta', text: delta.refusal });
    for (const call of (delta.tool_calls as JsonObject[] | undefined) ?? []) this.toolCall(events, call);

    if (choice.finish_reason) {
      this.finishReason = choice.finish_reason;
      this.matchedStop = choice.stop_reason;
      this.closeOpen(events);
    }
    return events;
  }

  /**
   * The closing events of a complete answer. `fallbackUsage` stands in when the upstream reported
   * none (the gateway's estimate).
   */
  finish(fallbackUsage?: AnthropicUsage): MessagesEvent[] {
    const events: MessagesEvent[] = [];
    if (!this.started) this.start(events, undefined);
    this.closeOpen(events);
    const stop = stopReasonOf(this.finishReason, this.matchedStop, this.sawToolCall, this.options);
    const usage = this.usage ? toAnthropicUsage(this.usage) : (fallbackUsage ?? toAnthropicUsage(undefined));
    events.push(messageDeltaEvent(stop.stop_reason, stop.stop_sequence, usage), { type: 'message_stop' });
    return events;
  }

  private start(events: MessagesEvent[], id: unknown): void {
    this.started = true;
    const usage: AnthropicUsage = { input_tokens: this.options.inputTokens ?? 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
    events.push(
      messageStartEvent({
        id: messageId(id),
        type: 'message',
        role: 'assistant',
        model: this.options.model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage,
      }),
    );
  }

  private openBlock(events: MessagesEvent[], block: JsonObject): number {
    const index = this.nextIndex++;
    events.push({ type: 'content_block_start', index, content_block: block });
    if (index === 0) events.push(PING_EVENT);
    return index;
  }

  private append(events: MessagesEvent[], kind: 'text' | 'thinking', delta: JsonObject): void {
    let open = this.open;
    if (open?.kind !== kind) {
      this.closeOpen(events);
      const index = this.openBlock(events, kind === 'text' ? { type: 'text', text: '' } : { type: 'thinking', thinking: '', signature: '' });
      open = this.open = { kind, index };
    }
    events.push({ type: 'content_block_delta', index: open.index, delta });
  }

  private toolCall(events: MessagesEvent[], call: JsonObject): void {
    this.sawToolCall = true;
    const callIndex = typeof call.index === 'number' ? call.index : 0;
    const fn = (call.function as { name?: unknown; arguments?: unknown } | undefined) ?? {};
    let index = this.tools.get(callIndex);
    if (index === undefined) {
      if (this.open?.kind !== 'tools') {
        this.closeOpen(events);
        this.open = { kind: 'tools' };
      }
      const id = typeof call.id === 'string' && call.id ? call.id : toolUseId();
      index = this.openBlock(events, { type: 'tool_use', id, name: String(fn.name ?? ''), input: {} });
      this.tools.set(callIndex, index);
    }
    if (typeof fn.arguments === 'string' && fn.arguments !== '') {
      events.push({ type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: fn.arguments } });
    }
  }

  private closeOpen(events: MessagesEvent[]): void {
    const open = this.open;
    if (!open) return;
    this.open = undefined;
    if (open.kind !== 'tools') {
      events.push({ type: 'content_block_stop', index: open.index });
      return;
    }
    for (const index of this.tools.values()) events.push({ type: 'content_block_stop', index });
    this.tools.clear();
  }
}
