/**
 * A detector finds one kind of sensitive thing in text (an e-mail address, a payment card number, an
 * API key) and reports where. Built-in detectors are a candidate pattern — written with bounded
 * quantifiers so a search stays linear in the text — and a validator (a checksum, a length table, a
 * context word) that turns look-alikes away.
 */
export interface Detector {
  /** Its name in config and in findings: `email`, `payment_card`, `openai_key`… */
  readonly name: string;
  /**
   * How many trailing characters of a stream must be held back so a match is recognised before any of it
   * is sent: the length by which the pattern (and any context word after it) has seen enough. A match
   * still growing at the end of what arrived is held whole, however long it gets.
   */
  readonly holdback: number;
  /**
   * The regular expressions it runs on client text (JavaScript's backtracking engine, for speed): a unit
   * test has a ReDoS checker prove each of them free of super-linear backtracking.
   */
  readonly patterns: readonly RegExp[];
  /** Calls `found` with the [start, end) of every match in `text`, in order. Synchronous. */
  scan(text: string, found: (start: number, end: number) => void): void;
}

export interface PatternDetectorOptions {
  /** A global (`g`) pattern; capture groups are the validator's to read. */
  pattern: RegExp;
  holdback: number;
  /** A cheap test the text must pass before the pattern runs (e.g. it contains '@'). */
  prefilter?: (text: string) => boolean;
  /** Digits every match contains at least: a text with fewer is not searched. */
  minDigits?: number;
  /**
   * Accepts, trims or rejects a candidate: returns the end of the accepted match (≤ match end), or -1.
   * `text` and the match's start are given so a validator can look at context around it.
   */
  validate?: (match: RegExpExecArray, text: string) => number;
}

export function patternDetector(name: string, options: PatternDetectorOptions): Detector {
  const { pattern, prefilter, validate, minDigits = 0 } = options;
  if (!pattern.global) throw new Error(`detector ${name}: the pattern must be global`);
  return {
    name,
    holdback: options.holdback,
    patterns: [pattern],
    scan(text, found) {
      if ((prefilter && !prefilter(text)) || (minDigits > 0 && !hasDigits(text, minDigits))) return;
      pattern.lastIndex = 0;
      let match: RegExpExecArray | null;
      while ((match = pattern.exec(text)) !== null) {
        const start = match.index;
        const end = validate ? validate(match, text) : start + match[0].length;
        if (end > start) {
          found(start, end);
          // A trimmed match continues the search right after what was accepted.
          pattern.lastIndex = end;
        } else if (match[0].length === 0) {
          pattern.lastIndex++;
        }
      }
    },
  };
}

/** Whether `text` holds at least `count` ASCII digits (stops as soon as it does). */
export function hasDigits(text: string, count: number): boolean {
  let seen = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 48 && code <= 57 && ++seen >= count) return true;
  }
  return false;
}

/**
 * Whether one of `words` (lowercase) occurs within `span` characters of the match — before it ("my PESEL
 * is …") or after it ("… är mitt pnr").
 */
export function hasContext(text: string, start: number, end: number, words: readonly string[], span = 48): boolean {
  const around = text.slice(Math.max(0, start - span), Math.min(text.length, end + span)).toLowerCase();
  for (const word of words) if (around.includes(word)) return true;
  return false;
}
