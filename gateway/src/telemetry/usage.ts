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
 * Usage as an answer reported it: OpenAI chat's prompt_tokens/completion_tokens, or the
 * input_tokens/output_tokens of OpenAI's Responses API and Anthropic's Messages API. Anthropic's input
 * tokens leave out cache reads and writes (its own fields, which the Responses API does not have): they
 * are counted in, as OpenAI counts cached tokens in.
 *
 * Only counts are counts: a negative or fractional number from a misbehaving server would be refused by
 * the counters and the stores, so usage with one counts as not reported (and is estimated).
 */
export function reportedUsage(usage: unknown): Usage | undefined {
  if (!usage || typeof usage !== 'object') return undefined;
  const u = usage as Record<string, unknown>;
  // Optional counts may be absent or null (Anthropic sends null cache fields).
  const counts = (...values: unknown[]): boolean => values.every((value) => value === undefined || value === null || isCount(value));
  const count = (value: unknown): number => (isCount(value) ? value : 0);
  if (typeof u.prompt_tokens === 'number') {
    if (!isCount(u.prompt_tokens) || !counts(u.completion_tokens)) return undefined;
    return { inputTokens: u.prompt_tokens, outputTokens: count(u.completion_tokens), estimated: false };
  }
  if (!isCount(u.input_tokens) || !counts(u.output_tokens, u.cache_read_input_tokens, u.cache_creation_input_tokens)) return undefined;
  const input = u.input_tokens + count(u.cache_read_input_tokens) + count(u.cache_creation_input_tokens);
  return { inputTokens: input, outputTokens: count(u.output_tokens), estimated: false };
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
