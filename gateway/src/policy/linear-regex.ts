/**
 * Regular expressions written by operators (routing conditions, `regex` guardrails) run on text a client
 * controls, so they run on RE2 (the `re2js` port), whose automata match in time linear in the text
 * whatever the pattern: no pattern an operator writes can make a request hold the event loop. JavaScript's
 * own engine backtracks, and shapes no static rule catches (`\w*\w*\w*x`, `.*a.*b`) take it from
 * milliseconds to minutes on a few kilobytes.
 *
 * Patterns are written as JavaScript regular expressions and must be valid ones; RE2 then refuses what it
 * cannot match in linear time — look-ahead and back-references. Look-behind is allowed (RE2's linear,
 * capture-free kind). Checked once, at load, with every problem reported:
 *
 * - at most 512 characters;
 * - flags among `i`, `m`, `s`, `u` (RE2 always reads code points, so `u` changes nothing);
 * - valid JavaScript, and within what RE2 accepts.
 *
 * RE2 is loaded the first time a pattern is checked or compiled, so a gateway without operator patterns
 * never loads it.
 */
import { createRequire } from 'node:module';
import type { RE2JS as RE2JSPattern } from 're2js';

export const MAX_PATTERN_LENGTH = 512;
const ALLOWED_FLAGS = /^[imsu]*$/;

/** An operator pattern, compiled: whether it occurs, and where. */
export interface LinearRegex {
  /** Whether the pattern occurs anywhere in `text`. */
  test(text: string): boolean;
  /** Calls `found` with the [start, end) of every non-empty match, left to right (UTF-16 offsets). */
  forEachMatch(text: string, found: (start: number, end: number) => void): void;
}

let re2: typeof import('re2js').RE2JS | undefined;

function engine(): typeof import('re2js').RE2JS {
  re2 ??= (createRequire(import.meta.url)('re2js') as typeof import('re2js')).RE2JS;
  return re2;
}

/** Every reason the pattern is refused (empty when it is acceptable). */
export function linearRegexProblems(source: string, flags = ''): string[] {
  const problems: string[] = [];
  if (source.length > MAX_PATTERN_LENGTH) problems.push(`pattern is longer than ${MAX_PATTERN_LENGTH} characters`);
  if (!ALLOWED_FLAGS.test(flags) || new Set(flags).size !== flags.length) problems.push(`flags must be among i, m, s, u (got '${flags}')`);
  try {
    new RegExp(source, flags.replace(/[^imsu]/g, ''));
  } catch (error) {
    problems.push(`not a valid regular expression: ${(error as Error).message}`);
    return problems;
  }
  // RE2 would read `\1` as an octal escape and `\k<x>` as literal text: refuse them by name instead.
  if (/\\(?:[1-9]|k<)/.test(source.replace(/\\\\/g, ''))) {
    problems.push('back-references are not supported (patterns run on RE2, which matches in linear time)');
    return problems;
  }
  try {
    compileRE2(source, flags);
  } catch (error) {
    problems.push(`not supported by RE2, which matches in linear time (no look-ahead, no back-references): ${re2Message(error)}`);
  }
  return problems;
}

/** Compiles a pattern that passed `linearRegexProblems` (throws on one that did not). */
export function compileLinearRegex(source: string, flags = ''): LinearRegex {
  const problems = linearRegexProblems(source, flags);
  if (problems.length > 0) throw new Error(`regex /${source}/ refused: ${problems.join('; ')}`);
  const pattern = compileRE2(source, flags);
  return {
    // RE2's DFA, no captures: the cheap question, asked first.
    test: (text) => pattern.test(text),
    forEachMatch(text, found) {
      if (!pattern.test(text)) return;
      const matcher = pattern.matcher(text);
      while (matcher.find()) {
        const start = matcher.start();
        const end = matcher.end();
        if (end > start) found(start, end);
      }
    },
  };
}

/**
 * One automaton for "does any of these patterns occur?" (patterns that passed `linearRegexProblems`):
 * one pass over the text instead of one per pattern. Undefined when the patterns cannot be joined (two
 * name the same group).
 */
export function anyOfLinearRegexes(sources: readonly string[], flags = ''): Pick<LinearRegex, 'test'> | undefined {
  try {
    const pattern = compileRE2(sources.map((source) => `(?:${source})`).join('|'), flags);
    return { test: (text) => pattern.test(text) };
  } catch {
    return undefined;
  }
}

function compileRE2(source: string, flags: string): RE2JSPattern {
  const RE2JS = engine();
  let bits = RE2JS.LOOKBEHINDS;
  if (flags.includes('i')) bits |= RE2JS.CASE_INSENSITIVE;
  if (flags.includes('m')) bits |= RE2JS.MULTILINE;
  if (flags.includes('s')) bits |= RE2JS.DOTALL;
  // JavaScript spellings RE2 writes otherwise (`\u00e9`, `(?<name>`, `[^]`) are translated first.
  return RE2JS.compile(RE2JS.translateRegExp(source), bits);
}

/** RE2's message without its `error parsing regexp: ` prefix. */
function re2Message(error: unknown): string {
  return String((error as Error).message ?? error).replace(/^error parsing regexp: /, '');
}
