/**
 * What routing conditions and guardrails may know about a request: its canonical body, its tags (the
 * `x-gateway-metadata` header merged with the key's tags), the key and the user. Built once per request,
 * only when the route has a policy; everything here is read without allocating.
 */
import type { JsonObject } from '../providers/types.js';

export interface RequestFacts {
  /** The canonical request (an OpenAI body for the operation). */
  readonly body: JsonObject;
  readonly metadata: Readonly<Record<string, string>> | undefined;
  /** The gateway key's id, '' when the gateway runs without keys. */
  readonly keyId: string;
  /** The end user the client named, '' when none. */
  readonly user: string;
  /** Estimated prompt tokens, computed on first use (-1 until then). */
  promptTokens: number;
}

export function requestFacts(body: JsonObject, metadata: Readonly<Record<string, string>> | undefined, keyId: string, user: string): RequestFacts {
  return { body, metadata, keyId, user, promptTokens: -1 };
}

export function promptTokensOf(facts: RequestFacts): number {
  if (facts.promptTokens < 0) facts.promptTokens = estimatePromptTokens(facts.body);
  return facts.promptTokens;
}

/** The characters-per-token rule of thumb for English text with OpenAI's tokenizers. */
const CHARS_PER_TOKEN = 4;
/** OpenAI's chat format adds a few tokens of framing per message. */
const TOKENS_PER_MESSAGE = 4;

/**
 * An estimate of the prompt's size in tokens — characters / 4, plus message framing — cheap enough for
 * every request (no tokenizer, no allocation). Good for routing by size; billing uses real counts.
 */
export function estimatePromptTokens(body: JsonObject): number {
  const { chars, tokens, messages } = promptSize(body);
  return Math.ceil(chars / CHARS_PER_TOKEN) + tokens + TOKENS_PER_MESSAGE * messages;
}

/** Characters of text in the prompt (messages' text, prompt, input). */
export function promptChars(body: JsonObject): number {
  return promptSize(body).chars;
}

/** Text characters, token ids given as such, and messages of a prompt. */
function promptSize(body: JsonObject): { chars: number; tokens: number; messages: number } {
  const messages = body.messages;
  if (Array.isArray(messages)) {
    let chars = 0;
    for (const message of messages) {
      if (message !== null && typeof message === 'object') chars += contentChars((message as JsonObject).content);
    }
    return { chars, tokens: 0, messages: messages.length };
  }
  const input = body.prompt ?? body.input;
  if (typeof input === 'string') return { chars: input.length, tokens: 0, messages: 0 };
  let chars = 0;
  let tokens = 0;
  if (Array.isArray(input)) {
    for (const item of input) {
      if (typeof item === 'string') chars += item.length;
      else if (Array.isArray(item)) tokens += item.length; // already token ids
      else if (typeof item === 'number') tokens += 1;
    }
  }
  return { chars, tokens, messages: 0 };
}

/** Characters of text in a message's content: a string, or an array of parts with `text`. */
function contentChars(content: unknown): number {
  if (typeof content === 'string') return content.length;
  if (!Array.isArray(content)) return 0;
  let chars = 0;
  for (const part of content) {
    if (part !== null && typeof part === 'object') {
      const text = (part as JsonObject).text;
      if (typeof text === 'string') chars += text.length;
    }
  }
  return chars;
}
