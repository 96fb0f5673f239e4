/**
 * Token usage: read from the upstream's answer when it reports it, otherwise counted with a tokenizer
 * (o200k, via gpt-tokenizer) and marked as estimated — self-hosted servers often omit usage.
 */
import { contentText } from '../providers/openai-content.js';
import type { JsonObject } from '../providers/types.js';

/** The tokenizer's tables take ~70 MB: loaded on the first request that needs an estimate, not at start. */
let countTokens: ((text: string) => number) | undefined;
let loading: Promise<void> | undefined;

export function tokenizerLoaded(): boolean {
  return countTokens !== undefined;
}

export function loadTokenizer(): Promise<void> {
  loading ??= import('gpt-tokenizer').then((module) => {
    countTokens = module.countTokens;
  });
  return loading;
}

function tokens(text: string): number {
  if (!countTokens) throw new Error('tokenizer not loaded; await loadTokenizer() first');
  return countTokens(text);
}

export interface Usage {
  inputTokens: number;
  outputTokens: number;
  estimated: boolean;
}

const isCount = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;

/**
 * Usage as the upstream reported it, when its counts are counts: a negative or fractional number from a
 * misbehaving server would be refused by the counters and the stores, so it counts as not reported.
 */
export function reportedUsage(usage: unknown): Usage | undefined {
  if (!usage || typeof usage !== 'object') return undefined;
  const u = usage as { prompt_tokens?: unknown; completion_tokens?: unknown };
  if (!isCount(u.prompt_tokens) || (u.completion_tokens !== undefined && !isCount(u.completion_tokens))) return undefined;
  return { inputTokens: u.prompt_tokens, outputTokens: u.completion_tokens ?? 0, estimated: false };
}

/** Per-message framing tokens, as OpenAI's chat format adds them. */
const TOKENS_PER_MESSAGE = 4;

export function estimateInputTokens(body: JsonObject): number {
  if (Array.isArray(body.messages)) {
    let total = 3;
    for (const message of body.messages as JsonObject[]) total += TOKENS_PER_MESSAGE + tokens(contentText(message?.content));
    return total;
  }
  const input = body.prompt ?? body.input;
  if (typeof input === 'string') return tokens(input);
  if (Array.isArray(input)) return input.reduce<number>((sum, item) => sum + (typeof item === 'string' ? tokens(item) : Array.isArray(item) ? item.length : 1), 0);
  return 0;
}

export function estimateOutputTokens(text: string): number {
  return text ? tokens(text) : 0;
}

/** The text an answer carried (message contents, tool-call arguments, completion texts). */
export function answerText(response: JsonObject): string {
  let text = '';
  for (const choice of (response.choices as JsonObject[] | undefined) ?? []) {
    if (typeof choice.text === 'string') text += choice.text;
    const message = choice.message as JsonObject | undefined;
    if (message) {
      text += contentText(message.content);
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

/** The chunk OpenAI streams last when usage was asked for: usage and no choices. */
export function isUsageOnlyChunk(chunk: JsonObject): boolean {
  return chunk.usage != null && Array.isArray(chunk.choices) && chunk.choices.length === 0;
}
