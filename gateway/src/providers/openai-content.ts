/**
 * Reading OpenAI chat requests, shared by the adapters that translate them into other APIs: message
 * content parts, image URLs (data: or http), tool calls, and the `stop` field.
 */
import type { JsonObject } from './types.js';

export interface OpenAIToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
  /** Provider data a client must send back with the call (Google's convention: a Gemini thought signature). */
  extra_content?: { google?: { thought_signature?: unknown } };
}

export interface OpenAIMessage {
  role: string;
  content?: unknown;
  name?: string;
  tool_calls?: OpenAIToolCall[];
  tool_call_id?: string;
}

export type ContentPart =
  | { kind: 'text'; text: string }
  | { kind: 'image'; image: ImageSource }
  /** A file sent inline (`{type: "file", file: {file_data: "data:…;base64,…"}}`), e.g. a PDF. */
  | { kind: 'file'; mediaType: string; data: string; filename: string | undefined };

export type ImageSource = { kind: 'base64'; mediaType: string; data: string } | { kind: 'url'; url: string };

const DATA_URL = /^data:([^;,]+);base64,(.*)$/s;

export function parseImageUrl(url: string): ImageSource {
  const match = DATA_URL.exec(url);
  if (match) return { kind: 'base64', mediaType: match[1] as string, data: match[2] as string };
  return { kind: 'url', url };
}

/** A message's content as typed parts; a plain string is one text part. */
export function contentParts(content: unknown): ContentPart[] {
  if (typeof content === 'string') return content.length > 0 ? [{ kind: 'text', text: content }] : [];
  if (!Array.isArray(content)) return [];
  const parts: ContentPart[] = [];
  for (const part of content as JsonObject[]) {
    if (part?.type === 'text' && typeof part.text === 'string') parts.push({ kind: 'text', text: part.text });
    else if (part?.type === 'image_url') {
      const imageUrl = part.image_url as { url?: unknown } | string | undefined;
      const url = typeof imageUrl === 'string' ? imageUrl : imageUrl?.url;
      if (typeof url === 'string') parts.push({ kind: 'image', image: parseImageUrl(url) });
    } else if (part?.type === 'file') {
      const file = part.file as { file_data?: unknown; filename?: unknown } | undefined;
      const inline = typeof file?.file_data === 'string' ? DATA_URL.exec(file.file_data) : null;
      if (inline) parts.push({ kind: 'file', mediaType: inline[1] as string, data: inline[2] as string, filename: typeof file?.filename === 'string' ? file.filename : undefined });
    }
  }
  return parts;
}

/** Just the text of a message's content. */
export function contentText(content: unknown): string {
  return contentParts(content)
    .map((part) => (part.kind === 'text' ? part.text : ''))
    .join('');
}

export function stopSequences(stop: unknown): string[] | undefined {
  if (typeof stop === 'string') return [stop];
  if (Array.isArray(stop)) return stop.filter((s): s is string => typeof s === 'string');
  return undefined;
}

/** Parses tool-call arguments; a model may produce invalid JSON, which is passed on as a string field. */
export function parseArguments(text: string): JsonObject {
  if (!text) return {};
  try {
    const value = JSON.parse(text) as unknown;
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as JsonObject) : { value };
  } catch {
    return { _raw: text };
  }
}

export function maxTokensOf(body: JsonObject): number | undefined {
  const value = body.max_completion_tokens ?? body.max_tokens;
  return typeof value === 'number' ? value : undefined;
}

/** The chunk envelope every translated stream event shares. */
export function chunkEnvelope(id: string, model: string, created: number): JsonObject {
  return { id, object: 'chat.completion.chunk', created, model };
}

/**
 * Conversation turns for APIs that want alternating roles (Anthropic, Gemini): items of consecutive
 * messages with the same role merge into one turn; empty items are skipped.
 */
export class TurnList<Role extends string, Item> {
  readonly turns: { role: Role; items: Item[] }[] = [];

  push(role: Role, items: Item[]): void {
    if (items.length === 0) return;
    const last = this.turns.at(-1);
    if (last && last.role === role) last.items.push(...items);
    else this.turns.push({ role, items });
  }
}
