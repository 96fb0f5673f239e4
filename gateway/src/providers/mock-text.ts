/**
 * Deterministic text helpers for the built-in mock provider: a simple word/punctuation token count
 * (so usage numbers are exact and reproducible), the reply text, and embedding vectors derived from
 * a hash of the input.
 */

const TOKEN = /[A-Za-z0-9]+|[^\sA-Za-z0-9]/g;

/** Counts tokens as runs of letters/digits plus single punctuation marks. */
export function countMockTokens(text: string): number {
  let count = 0;
  TOKEN.lastIndex = 0;
  while (TOKEN.exec(text) !== null) count++;
  return count;
}

/** Text of a message's `content`, whether a string or an array of content parts. */
export function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  let text = '';
  for (const part of content) {
    if (part && typeof part === 'object' && typeof (part as { text?: unknown }).text === 'string') {
      text += (text ? ' ' : '') + (part as { text: string }).text;
    }
  }
  return text;
}

export function mockReplyText(model: string, prompt: string): string {
  const words = prompt.split(/\s+/).filter(Boolean).slice(0, 24).join(' ');
  return `This is ${model} answering. You said: ${words || '(nothing)'}`;
}

/** Splits text into exactly `parts` pieces (some may be empty only when the text is shorter). */
export function splitIntoParts(text: string, parts: number): string[] {
  const out: string[] = [];
  const size = Math.ceil(text.length / parts);
  for (let i = 0; i < parts; i++) out.push(text.slice(i * size, (i + 1) * size));
  return out;
}

/** A unit-length vector that depends only on the text (FNV-1a seeded xorshift). */
export function mockEmbedding(text: string, dimensions: number): number[] {
  let seed = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    seed ^= text.charCodeAt(i);
    seed = Math.imul(seed, 0x01000193) >>> 0;
  }
  const vector: number[] = [];
  let norm = 0;
  for (let i = 0; i < dimensions; i++) {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    seed >>>= 0;
    const value = seed / 0xffffffff - 0.5;
    vector.push(value);
    norm += value * value;
  }
  const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
  return vector.map((value) => Number((value * scale).toFixed(6)));
}
