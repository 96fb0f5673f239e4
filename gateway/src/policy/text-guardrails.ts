/**
 * The guardrails that find spans of text: operator regexes, word lists, and the built-in personal-data
 * and secret detectors. Compiled once at load. Each reads the text folded (folded-text.ts: NFKC, invisible
 * characters removed) and reports spans of the original.
 */
import type { GuardrailConfig } from '../config/guardrail-schema.js';
import { anyOfLinearRegexes, compileLinearRegex, type LinearRegex } from './linear-regex.js';
import { PII_CATALOGUE, SECRET_CATALOGUE, selectDetectors } from './detectors/catalogue.js';
import { foldText } from './folded-text.js';
import type { StreamMode, TextGuardrail } from './guardrail.js';

type TextConfig = Extract<GuardrailConfig, { kind: 'regex' | 'words' | 'pii' | 'secrets' }>;
type Scan = TextGuardrail['scan'];

/**
 * Operator patterns run over windows of this many characters (overlapping by `maxMatchChars`). RE2 is
 * linear whatever the window; windows keep its slower search for positions (tens of µs per KB, against a
 * few for the yes/no question asked first) to the windows that hold a match.
 */
export const REGEX_WINDOW = 4096;

export function compileTextGuardrail(name: string, config: TextConfig): TextGuardrail {
  const stream: StreamMode = config.stream ?? 'incremental';
  const replacement = (label: string): string =>
    config.replacement !== undefined ? config.replacement.replaceAll('{type}', label.toUpperCase()) : `[${label.toUpperCase()}]`;
  const base = { kind: 'text' as const, name, action: config.action, stream, replacement };
  switch (config.kind) {
    case 'pii':
    case 'secrets': {
      const detectors = selectDetectors(config.kind === 'pii' ? PII_CATALOGUE : SECRET_CATALOGUE, config.detectors);
      return {
        ...base,
        holdback: Math.max(...detectors.map((d) => d.holdback)),
        scan: folding((text, found) => {
          for (const detector of detectors) detector.scan(text, (start, end) => found(start, end, detector.name));
        }),
      };
    }
    case 'words': {
      // Written as the text is read: folded.
      const words = config.words.map((word) => foldText(word).text);
      const pattern = wordPattern(words, config.caseSensitive);
      const longest = Math.max(...words.map((w) => w.length));
      return {
        ...base,
        replacement: (label) => (config.replacement !== undefined ? replacement(label) : '[REDACTED]'),
        holdback: longest + 1,
        scan: folding((text, found) => {
          pattern.lastIndex = 0;
          let match: RegExpExecArray | null;
          while ((match = pattern.exec(text)) !== null) found(match.index, match.index + match[0].length, 'word');
        }),
      };
    }
    case 'regex': {
      const patterns = config.patterns.map((source) => compileLinearRegex(source, config.flags));
      const any = patterns.length > 1 ? anyOfLinearRegexes(config.patterns, config.flags) : undefined;
      const overlap = config.maxMatchChars;
      return {
        ...base,
        replacement: (label) => (config.replacement !== undefined ? replacement(label) : '[REDACTED]'),
        holdback: overlap,
        scan: folding((text, found) => scanWindowed(patterns, any, text, overlap, found)),
      };
    }
  }
}

/** A scan of plain text run on the folded text, its spans mapped back to the original's. */
function folding(scan: (text: string, found: (start: number, end: number, label: string) => void) => void): Scan {
  return (folded, found) => {
    if (folded.text === folded.original) return scan(folded.text, found);
    scan(folded.text, (start, end, label) => found(folded.originalStart(start), folded.originalEnd(end), label));
  };
}

/** Whole words or phrases: not preceded or followed by a letter, digit or underscore (any script). */
function wordPattern(words: readonly string[], caseSensitive: boolean): RegExp {
  // Longest first, so a phrase wins over a word it starts with.
  const alternatives = [...new Set(words)].sort((a, b) => b.length - a.length).map(escapeRegExp);
  return new RegExp(`(?<![\\p{L}\\p{N}_])(?:${alternatives.join('|')})(?![\\p{L}\\p{N}_])`, caseSensitive ? 'gu' : 'giu');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Every match of every pattern, window by window; `any` (one automaton for all the patterns) skips the
 * windows where none occurs in one pass. A match is reported once, by the window it starts in.
 */
function scanWindowed(
  patterns: readonly LinearRegex[],
  any: Pick<LinearRegex, 'test'> | undefined,
  text: string,
  overlap: number,
  found: (start: number, end: number, label: string) => void,
): void {
  const reportedUntil = patterns.map(() => 0);
  for (let from = 0; from < text.length || from === 0; from += REGEX_WINDOW) {
    const to = Math.min(text.length, from + REGEX_WINDOW + overlap);
    const window = from === 0 && to === text.length ? text : text.slice(from, to);
    const last = to === text.length;
    if (!any || any.test(window)) {
      patterns.forEach((pattern, index) =>
        pattern.forEachMatch(window, (matchStart, matchEnd) => {
          // Matches starting in the overlap belong to the next window (unless this is the last one).
          if (matchStart >= REGEX_WINDOW && !last) return;
          const start = from + matchStart;
          if (start < (reportedUntil[index] as number)) return;
          found(start, from + matchEnd, `pattern_${index}`);
          reportedUntil[index] = from + matchEnd;
        }),
      );
    }
    if (last) break;
  }
}
