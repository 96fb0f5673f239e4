/**
 * The canonical answer (an OpenAI chat completion) as an Anthropic Message: content blocks (thinking
 * where the provider returned reasoning, text, tool_use), the stop reason and stop sequence, and usage
 * with cache reads and writes counted apart. Plain data in, plain data out.
 */
import { randomUUID } from 'node:crypto';
import { STOP_REASONS, toAnthropicUsage, type AnthropicUsage } from '../providers/anthropic-mapping.js';
import { contentText, parseArguments } from '../providers/openai-content.js';
import type { JsonObject } from '../providers/types.js';

export type MessagesContentBlock = JsonObject & { type: string };

export interface AnthropicMessage {
  id: string;
  type: 'message';
  role: 'assistant';
  model: string;
  content: MessagesContentBlock[];
  stop_reason: string | null;
  stop_sequence: string | null;
  usage: AnthropicUsage;
}

/** What the answer's stop reason depends on besides the finish reason. */
export interface StopContext {
  /** The request's stop sequences: a server that names the one it matched lets us report it. */
  stopSequences?: readonly string[] | undefined;
}

/**
 * Anthropic ids start with `msg_`; a translated answer keeps the upstream's id after that prefix so
 * the two can be matched in logs.
 */
export function messageId(id: unknown): string {
  if (typeof id === 'string' && id.length > 0) return id.startsWith('msg_') ? id : `msg_${id}`;
  return `msg_${randomUUID().replaceAll('-', '')}`;
}

/**
 * Reasoning text an OpenAI-compatible server returned beside the answer: `reasoning_content` (vLLM,
 * SGLang, DeepSeek) or `reasoning` (newer vLLM, OpenRouter).
 */
export function reasoningOf(message: JsonObject): string {
  const value = message.reasoning_content ?? message.reasoning;
  return typeof value === 'string' ? value : '';
}

/**
 * The stop reason for a finish reason. A server that says which stop string it matched (vLLM puts it in
 * the choice's `stop_reason`) gets `stop_sequence`; a server that reports tool calls with `stop` (some
 * self-hosted ones do) gets `tool_use`.
 */
export function stopReasonOf(
  finishReason: unknown,
  matched: unknown,
  sawToolCall: boolean,
  context: StopContext,
): { stop_reason: string; stop_sequence: string | null } {
  if (finishReason === 'stop' && typeof matched === 'string' && context.stopSequences?.includes(matched)) {
    return { stop_reason: 'stop_sequence', stop_sequence: matched };
  }
  const reason = typeof finishReason === 'string' ? (STOP_REASONS[finishReason] ?? 'end_turn') : 'end_turn';
  return { stop_reason: reason === 'end_turn' && sawToolCall ? 'tool_use' : reason, stop_sequence: null };
}

/** A chat completion as an Anthropic Message; `model` is the name the client asked for. */
export function toAnthropicMessage(chat: JsonObject, model: string, context: StopContext = {}): AnthropicMessage {
  const choice = ((chat.choices as JsonObject[] | undefined) ?? [])[0] ?? {};
  const message = (choice.message as JsonObject | undefined) ?? {};
  const content: MessagesContentBlock[] = [];
  const reasoning = reasoningOf(message);
  if (reasoning) content.push({ type: 'thinking', thinking: reasoning, signature: '' });
  const text = contentText(message.content);
  if (text) content.push({ type: 'text', text });
  const refusal = typeof message.refusal === 'string' ? message.refusal : '';
  if (refusal) content.push({ type: 'text', text: refusal });
  const toolCalls = (message.tool_calls as JsonObject[] | undefined) ?? [];
  for (const call of toolCalls) {
    const fn = (call.function as { name?: unknown; arguments?: unknown } | undefined) ?? {};
    content.push({
      type: 'tool_use',
      id: typeof call.id === 'string' ? call.id : toolUseId(),
      name: String(fn.name ?? ''),
      input: parseArguments(typeof fn.arguments === 'string' ? fn.arguments : ''),
    });
  }
  const stop = stopReasonOf(choice.finish_reason, choice.stop_reason, toolCalls.length > 0, context);
  return {
    id: messageId(chat.id),
    type: 'message',
    role: 'assistant',
    model,
    content,
    stop_reason: refusal && stop.stop_reason === 'end_turn' ? 'refusal' : stop.stop_reason,
    stop_sequence: stop.stop_sequence,
    usage: toAnthropicUsage(chat.usage),
  };
}

/** An id for a tool call the upstream sent without one (Anthropic always names its tool_use blocks). */
export function toolUseId(): string {
  return `toolu_${randomUUID().replaceAll('-', '')}`;
}
