/**
 * Token usage: read from the upstream's answer when it reports it, otherwise counted with a tokenizer
 * (o200k, via gpt-tokenizer) and marked as estimated — self-hosted servers often omit usage.
 */
import { countTokens } from 'gpt-tokenizer';
import type { JsonObject } from '../providers/types.js';

export interface Usage {
  inputTokens: number;
  outputTokens: number;
  estimated: boolean;
}

export function reportedUsage(usage: unknown): Usage | undefined {
  if (!usage || typeof usage !== 'object') return undefined;
  const u = usage as { prompt_tokens?: unknown; completion_tokens?: unknown };
  if (typeof u.prompt_tokens !== 'number') return undefined;
  return { inputTokens: u.prompt_tokens, outputTokens: typeof u.completion_tokens === 'number' ? u.completion_tokens : 0, estimated: false };
}

/** Per-message framing tokens, as OpenAI's chat format adds them. */
const TOKENS_PER_MESSAGE = 4;

export function estimateInputTokens(body: JsonObject): number {
  if (Array.isArray(body.messages)) {
    let tokens = 3;
    for (const message of body.messages as JsonObject[]) tokens += TOKENS_PER_MESSAGE + countTokens(textOf(message?.content));
    return tokens;
  }
  const input = body.prompt ?? body.input;
  if (typeof input === 'string') return countTokens(input);
  if (Array.isArray(input)) return input.reduce<number>((sum, item) => sum + (typeof item === 'string' ? countTokens(item) : Array.isArray(item) ? item.length : 1), 0);
  return 0;
}

export function estimateOutputTokens(text: string): number {
  return text ? countTokens(text) : 0;
}

/** The text an answer carried (message contents, tool-call arguments, completion texts). */
export function answerText(response: JsonObject): string {
  let text = '';
  for (const choice of (response.choices as JsonObject[] | undefined) ?? []) {
    if (typeof choice.text === 'string') text += choice.text;
    const message = choice.message as JsonObject | undefined;
    if (message) {
      text += textOf(message.content);
      for (const call of (message.tool_calls as JsonObject[] | undefined) ?? []) text += String((call.function as JsonObject | undefined)?.arguments ?? '');
    }
  }
  return text;
}

/** The text one stream chunk adds. */
export function chunkText(chunk: JsonObject): string {
  let text = '';
  for (const choice of (chunk.choices as JsonObject[] | undefined) ?? []) {
    if (typeof choice.text === 'string') text += choice.text;
    const delta = choice.delta as JsonObject | undefined;
    if (delta) {
      if (typeof delta.content === 'string') text += delta.content;
      for (const call of (delta.tool_calls as JsonObject[] | undefined) ?? []) text += String((call.function as JsonObject | undefined)?.arguments ?? '');
    }
  }
  return text;
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.map((part) => (part && typeof part === 'object' && typeof (part as JsonObject).text === 'string' ? (part as JsonObject).text : '')).join('');
}
