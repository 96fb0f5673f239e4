/**
 * The guardrails that find spans of text: operator regexes, word lists, and the built-in personal-data
 * and secret detectors. Compiled once at load.
 */
import type { GuardrailConfig } from '../config/guardrail-schema.js';
import { compileBoundedRegex } from './bounded-regex.js';
import { PII_CATALOGUE, SECRET_CATALOGUE, selectDetectors } from './detectors/catalogue.js';
import type { StreamMode, TextGuardrail } from './guardrail.js';

type TextConfig = Extract<GuardrailConfig, { kind: 'regex' | 'words' | 'pii' | 'secrets' }>;

/**
 * Operator patterns run over windows of this many characters (overlapping by `maxMatchChars`), so the
 * polynomial worst case a bounded pattern keeps is paid on a window, never on a whole 10 MB prompt.
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
        scan(text, found) {
          for (const detector of detectors) detector.scan(text, (start, end) => found(start, end, detector.name));
        },
      };
    }
    case 'words': {
      const pattern = wordPattern(config.words, config.caseSensitive);
      const longest = Math.max(...config.words.map((w) => w.length));
      return {
        ...base,
        replacement: (label) => (config.replacement !== undefined ? replacement(label) : '[REDACTED]'),
        holdback: longest + 1,
        scan(text, found) {
          pattern.lastIndex = 0;
          let match: RegExpExecArray | null;
          while ((match = pattern.exec(text)) !== null) found(match.index, match.index + match[0].length, 'word');
        },
      };
    }
    case 'regex': {
      const patterns = config.patterns.map((source) => compileBoundedRegex(source, config.flags, 'g'));
      const overlap = config.maxMatchChars;
      return {
        ...base,
        replacement: (label) => (config.replacement !== undefined ? replacement(label) : '[REDACTED]'),
        holdback: overlap,
        scan(text, found) {
          patterns.forEach((pattern, index) => scanWindowed(pattern, text, overlap, `pattern_${index}`, found));
        },
      };
    }
  }
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

function scanWindowed(pattern: RegExp, text: string, overlap: number, label: string, found: (start: number, end: number, label: string) => void): void {
  let reportedUntil = 0;
  for (let from = 0; from < text.length || from === 0; from += REGEX_WINDOW) {
    const to = Math.min(text.length, from + REGEX_WINDOW + overlap);
    const window = from === 0 && to === text.length ? text : text.slice(from, to);
    pattern.lastIndex = 0;
    let match: RegExpExecArray | null;
    while ((match = pattern.exec(window)) !== null) {
      // Matches starting in the overlap belong to the next window (unless this is the last one).
      if (match.index >= REGEX_WINDOW && to < text.length) break;
      const start = from + match.index;
      const end = start + match[0].length;
      if (match[0].length === 0) {
        pattern.lastIndex++;
        continue;
      }
      if (start >= reportedUntil) {
        found(start, end, label);
        reportedUntil = end;
      }
    }
    if (to === text.length) break;
  }
}
