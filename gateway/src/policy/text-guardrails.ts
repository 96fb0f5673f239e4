/**
 * The guardrails that find spans of text: operator regexes, word lists, and the built-in personal-data
 * and secret detectors. Compiled once at load. Each reads the text folded (folded-text.ts: NFKC, invisible
 * characters removed) and reports spans of the original.
 */
import type { GuardrailConfig } from '../config/guardrail-schema.js';
import { anyOfLinearRegexes, BACKTRACK_BUDGET, compileLinearRegex, MAX_PROGRAM_SIZE, type LinearRegex } from './linear-regex.js';
import { PII_CATALOGUE, SECRET_CATALOGUE, selectDetectors } from './detectors/catalogue.js';
import { foldText } from './folded-text.js';
import type { StreamMode, TextGuardrail } from './guardrail.js';

type TextConfig = Extract<GuardrailConfig, { kind: 'regex' | 'words' | 'pii' | 'secrets' }>;
type Scan = TextGuardrail['scan'];

/**
 * Operator patterns run over windows of at most this many characters, each read with `maxMatchChars` of
 * the text before it (so look-behinds, `\b` and `^` see what precedes the window; matches starting there
 * belong to the window before) and `maxMatchChars` + 1 after it (so a match starting in the window is
 * whole, and `\b` and `$` see what follows it). RE2 is linear whatever the window; windows keep its
 * slower search for positions (against the yes/no question asked first) to the windows that hold a match,
 * and keep what it searches short enough for its backtracker (linear-regex.ts).
 */
export const REGEX_WINDOW = 4096;
/** The shortest window a guardrail may have: its patterns' size and `maxMatchChars` are refused at load beyond it. */
const MIN_REGEX_WINDOW = 256;

/** The window for patterns whose largest program is `programSize` instructions, read with `overlap` on each side. */
export function regexWindow(programSize: number, overlap: number): number {
  return Math.min(REGEX_WINDOW, Math.floor(BACKTRACK_BUDGET / programSize) - 2 * overlap - 1);
}

/** The largest program a `regex` guardrail's pattern may compile to, given its `maxMatchChars`. */
export function maxRegexProgramSize(maxMatchChars: number): number {
  return Math.min(MAX_PROGRAM_SIZE, Math.floor(BACKTRACK_BUDGET / (MIN_REGEX_WINDOW + 2 * maxMatchChars + 1)));
}

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
      const overlap = config.maxMatchChars;
      const patterns = config.patterns.map((source) => compileLinearRegex(source, config.flags, maxRegexProgramSize(overlap)));
      const window = regexWindow(Math.max(...patterns.map((p) => p.programSize)), overlap);
      // One automaton for all the patterns, where the backtracker takes a window for it too (should RE2's DFA give up on it).
      const any = patterns.length > 1 ? anyOfLinearRegexes(config.patterns, config.flags) : undefined;
      const anyFits = any !== undefined && regexWindow(any.programSize, overlap) >= window;
      return {
        ...base,
        replacement: (label) => (config.replacement !== undefined ? replacement(label) : '[REDACTED]'),
        holdback: overlap,
        scan: folding((text, found) => scanWindowed(patterns, anyFits ? any : undefined, text, window, overlap, found)),
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
  window: number,
  overlap: number,
  found: (start: number, end: number, label: string) => void,
): void {
  const reportedUntil = patterns.map(() => 0);
  for (let from = 0; ; from += window) {
    // Read with the text before the window (context) and after it (the rest of a match starting in it).
    const lead = Math.min(from, overlap);
    const sliceStart = from - lead;
    const to = Math.min(text.length, from + window + overlap + 1);
    const last = to === text.length;
    const slice = sliceStart === 0 && last ? text : text.slice(sliceStart, to);
    if (!any || any.test(slice)) {
      patterns.forEach((pattern, index) =>
        pattern.forEachMatch(slice, (matchStart, matchEnd) => {
          // Matches starting in the context belong to the window before; after the window, to the next one.
          if (matchStart < lead || (matchStart >= lead + window && !last)) return;
          const start = sliceStart + matchStart;
          if (start < (reportedUntil[index] as number)) return;
          found(start, sliceStart + matchEnd, `pattern_${index}`);
          reportedUntil[index] = sliceStart + matchEnd;
        }),
      );
    }
    if (last) break;
  }
}
