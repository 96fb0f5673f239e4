/**
 * The texts guardrails read and rewrite, found in canonical (OpenAI-shaped) bodies: a request's message
 * contents and text parts, prompt or input; an answer's message contents (or completion texts); a
 * streamed answer's deltas, joined per choice. Tool-call arguments, images and audio are not text here.
 */
import type { JsonObject } from '../providers/types.js';
import { redact, redistribute, type Span } from './redaction.js';

export interface TextSegment {
  /** Where the text is, as OpenAI names a field in `param` (`messages[1].content`). */
  readonly path: string;
  text(): string;
  /** Replaces the whole text (a webhook's redaction). */
  replace(text: string): void;
  /** Replaces these spans (disjoint, sorted) of the text, keeping everything else where it was. */
  redact(spans: readonly Span[], replacement: (label: string) => string): void;
}

/** A string held at `container[key]`. */
function fieldSegment(container: JsonObject | unknown[], key: string | number, path: string): TextSegment {
  const holder = container as Record<string | number, unknown>;
  return {
    path,
    text: () => holder[key] as string,
    replace: (text) => {
      holder[key] = text;
    },
    redact: (spans, replacement) => {
      holder[key] = redact(holder[key] as string, spans, replacement);
    },
  };
}

/** A message's `content`: a string, or parts whose `text` is text. */
function contentSegments(message: JsonObject, path: string, out: TextSegment[]): void {
  const content = message.content;
  if (typeof content === 'string') out.push(fieldSegment(message, 'content', `${path}.content`));
  else if (Array.isArray(content)) {
    content.forEach((part, index) => {
      if (part !== null && typeof part === 'object' && typeof (part as JsonObject).text === 'string') {
        out.push(fieldSegment(part as JsonObject, 'text', `${path}.content[${index}].text`));
      }
    });
  }
}

export function requestSegments(body: JsonObject): TextSegment[] {
  const out: TextSegment[] = [];
  if (Array.isArray(body.messages)) {
    body.messages.forEach((message, index) => {
      if (message !== null && typeof message === 'object') contentSegments(message as JsonObject, `messages[${index}]`, out);
    });
    return out;
  }
  const field = body.prompt !== undefined ? 'prompt' : 'input';
  const input = body[field];
  if (typeof input === 'string') out.push(fieldSegment(body, field, field));
  else if (Array.isArray(input)) {
    input.forEach((item, index) => {
      if (typeof item === 'string') out.push(fieldSegment(input, index, `${field}[${index}]`));
    });
  }
  return out;
}

export function answerSegments(answer: JsonObject): TextSegment[] {
  const out: TextSegment[] = [];
  const choices = answer.choices;
  if (!Array.isArray(choices)) return out;
  choices.forEach((choice, index) => {
    if (choice === null || typeof choice !== 'object') return;
    const c = choice as JsonObject;
    if (typeof c.text === 'string') out.push(fieldSegment(c, 'text', `choices[${index}].text`));
    else if (c.message !== null && typeof c.message === 'object') contentSegments(c.message as JsonObject, `choices[${index}].message`, out);
  });
  return out;
}

/** Where a stream chunk's choice carries text: the delta's `content` (chat) or the choice's `text` (completions). */
export function chunkTextHolder(choice: JsonObject): { holder: JsonObject; key: 'content' | 'text' } | undefined {
  if (typeof choice.text === 'string') return { holder: choice, key: 'text' };
  const delta = choice.delta;
  if (delta !== null && typeof delta === 'object') return { holder: delta as JsonObject, key: 'content' };
  return undefined;
}

/**
 * One segment per choice of a whole (buffered) stream: the choice's deltas joined. Redaction keeps the
 * chunking (each delta keeps its own part); a whole replacement goes to the first delta with text.
 */
export function streamSegments(chunks: readonly JsonObject[]): TextSegment[] {
  const pieces = new Map<number, { holder: JsonObject; key: 'content' | 'text' }[]>();
  for (const chunk of chunks) {
    const choices = chunk.choices;
    if (!Array.isArray(choices)) continue;
    for (const choice of choices) {
      if (choice === null || typeof choice !== 'object') continue;
      const where = chunkTextHolder(choice as JsonObject);
      if (!where || typeof where.holder[where.key] !== 'string') continue;
      const index = typeof (choice as JsonObject).index === 'number' ? ((choice as JsonObject).index as number) : 0;
      const list = pieces.get(index) ?? [];
      list.push(where);
      pieces.set(index, list);
    }
  }
  return [...pieces].map(([index, list]) => {
    const texts = (): string[] => list.map((p) => p.holder[p.key] as string);
    return {
      path: `choices[${index}]`,
      text: () => texts().join(''),
      replace: (text) => list.forEach((p, i) => (p.holder[p.key] = i === 0 ? text : '')),
      redact: (spans, replacement) => {
        const redacted = redistribute(texts(), spans, replacement);
        list.forEach((p, i) => (p.holder[p.key] = redacted[i] as string));
      },
    };
  });
}
