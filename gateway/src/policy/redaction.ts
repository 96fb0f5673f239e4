/** Replacing found spans of text, and summarising what was found without the text itself. */

export interface Span {
  start: number;
  end: number;
  /** What was found: a detector name, `pattern_0`, `word`. */
  label: string;
}

/**
 * The spans sorted, overlapping ones merged into one (labelled as the earliest): two matches that share
 * characters are redacted as one span covering both, so neither leaves any of itself behind.
 */
export function mergeOverlaps<T extends Span>(spans: readonly T[]): T[] {
  const sorted = [...spans].sort((a, b) => a.start - b.start || b.end - a.end);
  const out: T[] = [];
  for (const span of sorted) {
    const last = out[out.length - 1];
    if (last && span.start < last.end) {
      if (span.end > last.end) out[out.length - 1] = { ...last, end: span.end };
      continue;
    }
    out.push(span);
  }
  return out;
}

/** `text` with each span replaced; `spans` must be disjoint and sorted (see `mergeOverlaps`). */
export function redact(text: string, spans: readonly Span[], replacement: (label: string) => string, offset = 0): string {
  let out = '';
  let at = offset;
  for (const span of spans) {
    out += text.slice(at, span.start) + replacement(span.label);
    at = span.end;
  }
  return out + text.slice(at);
}

/**
 * Redaction of a text that arrived in pieces (a stream's deltas), keeping its pieces: each piece gets
 * its own part of the redacted text, a replacement going to the piece where its span starts and the
 * rest of the span removed from the pieces it covered.
 */
export function redistribute(pieces: readonly string[], spans: readonly Span[], replacement: (label: string) => string): string[] {
  const out: string[] = [];
  let pieceStart = 0;
  let s = 0;
  for (const piece of pieces) {
    const pieceEnd = pieceStart + piece.length;
    let text = '';
    let at = pieceStart;
    while (at < pieceEnd) {
      const span = spans[s];
      if (!span || span.start >= pieceEnd) {
        text += pieceTextBetween(piece, pieceStart, at, pieceEnd);
        at = pieceEnd;
      } else if (span.end <= at) {
        s++;
      } else {
        if (span.start > at) text += pieceTextBetween(piece, pieceStart, at, span.start);
        if (span.start >= pieceStart) text += replacement(span.label);
        at = Math.min(span.end, pieceEnd);
        if (span.end <= pieceEnd) s++;
      }
    }
    out.push(text);
    pieceStart = pieceEnd;
  }
  return out;
}

function pieceTextBetween(piece: string, pieceStart: number, from: number, to: number): string {
  return piece.slice(from - pieceStart, to - pieceStart);
}

/** `email:2,iban:1` — what was found and how often, in the order first found. */
export function summarise(counts: ReadonlyMap<string, number>): string {
  let out = '';
  for (const [label, count] of counts) out += `${out ? ',' : ''}${label}:${count}`;
  return out;
}
