/**
 * The texts guardrails read and rewrite, found in canonical (OpenAI-shaped) bodies: a request's message
 * contents and text parts, the arguments of the tool calls in its conversation (they carry what the
 * model took from earlier turns: an address, an account number), prompt or input; an answer's message
 * contents (or completion texts), the reasoning text beside them (which every dialect shows its client:
 * `reasoning_content`, a thinking block, a reasoning item) and the arguments of the tool calls it makes
 * (what the application will act on: an address to write to, a query to run); a streamed answer's
 * deltas, joined per choice and field (and per tool call). Images and audio are not text here.
 */
import type { JsonObject } from '../providers/types.js';
import { foldText, type FoldedText } from './folded-text.js';
import { redact, redistribute, type Span } from './redaction.js';

/** What a text is: the text itself (a message, a prompt), reasoning beside an answer, or a tool call's arguments. */
export type SegmentKind = 'text' | 'reasoning' | 'tool_arguments';

export interface TextSegment {
  /** Where the text is, as OpenAI names a field in `param` (`messages[1].content`). */
  readonly path: string;
  readonly kind: SegmentKind;
  text(): string;
  /** The text folded for checks: folded once, shared by every check until the text changes. */
  folded(): FoldedText;
  /** Replaces the whole text (a webhook's redaction). */
  replace(text: string): void;
  /** Replaces these spans (disjoint, sorted) of the text, keeping everything else where it was. */
  redact(spans: readonly Span[], replacement: (label: string) => string): void;
}

/** `text`'s folded form, kept while `text()` returns the same string. */
function foldedOnce(text: () => string): () => FoldedText {
  let last: FoldedText | undefined;
  return () => {
    const current = text();
    if (last?.original !== current) last = foldText(current);
    return last;
  };
}

/** A string held at `container[key]`. */
function fieldSegment(container: JsonObject | unknown[], key: string | number, path: string, kind: SegmentKind = 'text'): TextSegment {
  const holder = container as Record<string | number, unknown>;
  const text = (): string => holder[key] as string;
  return {
    path,
    kind,
    text,
    folded: foldedOnce(text),
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
      if (message === null || typeof message !== 'object') return;
      contentSegments(message as JsonObject, `messages[${index}]`, out);
      toolCallSegments(message as JsonObject, `messages[${index}]`, out);
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

/** An assistant message's tool calls: each call's `function.arguments` (a JSON text). */
function toolCallSegments(message: JsonObject, path: string, out: TextSegment[]): void {
  const calls = message.tool_calls;
  if (!Array.isArray(calls)) return;
  calls.forEach((call, index) => {
    const fn = call !== null && typeof call === 'object' ? (call as JsonObject).function : undefined;
    if (fn !== null && typeof fn === 'object' && typeof (fn as JsonObject).arguments === 'string') {
      out.push(fieldSegment(fn as JsonObject, 'arguments', `${path}.tool_calls[${index}].function.arguments`, 'tool_arguments'));
    }
  });
}

/**
 * Where OpenAI-compatible servers put a model's reasoning beside its answer (vLLM, SGLang, DeepSeek:
 * `reasoning_content`; newer vLLM, OpenRouter: `reasoning`), in a message or a stream delta.
 */
export const REASONING_KEYS = ['reasoning_content', 'reasoning'] as const;
export type ReasoningKey = (typeof REASONING_KEYS)[number];

/**
 * An answer's texts: each choice's content first, then the reasoning the choices carried, then the
 * arguments of their tool calls.
 */
export function answerSegments(answer: JsonObject): TextSegment[] {
  const out: TextSegment[] = [];
  const choices = answer.choices;
  if (!Array.isArray(choices)) return out;
  const reasoning: TextSegment[] = [];
  const calls: TextSegment[] = [];
  choices.forEach((choice, index) => {
    if (choice === null || typeof choice !== 'object') return;
    const c = choice as JsonObject;
    if (typeof c.text === 'string') out.push(fieldSegment(c, 'text', `choices[${index}].text`));
    else if (c.message !== null && typeof c.message === 'object') {
      const message = c.message as JsonObject;
      contentSegments(message, `choices[${index}].message`, out);
      for (const key of REASONING_KEYS) {
        if (typeof message[key] === 'string') reasoning.push(fieldSegment(message, key, `choices[${index}].message.${key}`, 'reasoning'));
      }
      toolCallSegments(message, `choices[${index}].message`, calls);
    }
  });
  return [...out, ...reasoning, ...calls];
}

type TextKey = 'content' | 'text' | 'arguments' | ReasoningKey;

/** Where a stream chunk's choice carries text: the delta's `content` (chat) or the choice's `text` (completions). */
export function chunkTextHolder(choice: JsonObject): { holder: JsonObject; key: 'content' | 'text' } | undefined {
  if (typeof choice.text === 'string') return { holder: choice, key: 'text' };
  const delta = choice.delta;
  if (delta !== null && typeof delta === 'object') return { holder: delta as JsonObject, key: 'content' };
  return undefined;
}

/**
 * One segment per choice and field of a whole (buffered) stream: the answer's deltas joined, then the
 * reasoning deltas joined, then each tool call's argument deltas joined. Redaction keeps the chunking
 * (each delta keeps its own part); a whole replacement goes to the first delta with text.
 */
export function streamSegments(chunks: readonly JsonObject[]): TextSegment[] {
  const pieces = new Map<string, { kind: SegmentKind; list: { holder: JsonObject; key: TextKey }[] }>();
  const add = (path: string, holder: JsonObject, key: TextKey, kind: SegmentKind = 'text'): void => {
    const entry = pieces.get(path) ?? { kind, list: [] };
    entry.list.push({ holder, key });
    pieces.set(path, entry);
  };
  for (const chunk of chunks) {
    const choices = chunk.choices;
    if (!Array.isArray(choices)) continue;
    for (const choice of choices) {
      if (choice === null || typeof choice !== 'object') continue;
      const index = typeof (choice as JsonObject).index === 'number' ? ((choice as JsonObject).index as number) : 0;
      const where = chunkTextHolder(choice as JsonObject);
      if (where && typeof where.holder[where.key] === 'string') add(`choices[${index}]`, where.holder, where.key);
      const delta = (choice as JsonObject).delta;
      if (delta === null || typeof delta !== 'object') continue;
      for (const key of REASONING_KEYS) {
        if (typeof (delta as JsonObject)[key] === 'string') add(`choices[${index}].${key}`, delta as JsonObject, key, 'reasoning');
      }
      for (const call of Array.isArray((delta as JsonObject).tool_calls) ? ((delta as JsonObject).tool_calls as unknown[]) : []) {
        const fn = call !== null && typeof call === 'object' ? (call as JsonObject).function : undefined;
        if (fn === null || typeof fn !== 'object' || typeof (fn as JsonObject).arguments !== 'string') continue;
        const at = typeof (call as JsonObject).index === 'number' ? ((call as JsonObject).index as number) : 0;
        add(`choices[${index}].tool_calls[${at}].function.arguments`, fn as JsonObject, 'arguments', 'tool_arguments');
      }
    }
  }
  const order: readonly SegmentKind[] = ['text', 'reasoning', 'tool_arguments'];
  const ordered = [...pieces].sort(([, a], [, b]) => order.indexOf(a.kind) - order.indexOf(b.kind));
  return ordered.map(([path, { kind, list }]) => {
    const texts = (): string[] => list.map((p) => p.holder[p.key] as string);
    // Joined once, and again only after a check rewrote the pieces.
    let joined: string | undefined;
    const text = (): string => (joined ??= texts().join(''));
    return {
      path,
      kind,
      text,
      folded: foldedOnce(text),
      replace: (replacement) => {
        list.forEach((p, i) => (p.holder[p.key] = i === 0 ? replacement : ''));
        joined = undefined;
      },
      redact: (spans, replacement) => {
        const redacted = redistribute(texts(), spans, replacement);
        list.forEach((p, i) => (p.holder[p.key] = redacted[i] as string));
        joined = undefined;
      },
    };
  });
}
