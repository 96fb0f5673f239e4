/**
 * Regular expressions written by operators (routing conditions, `regex` guardrails) run on text a client
 * controls, so they run on RE2 (the `re2js` port), whose automata match in time linear in the text
 * whatever the pattern. JavaScript's own engine backtracks, and shapes no static rule catches
 * (`\w*\w*\w*x`, `.*a.*b`) take it from milliseconds to minutes on a few kilobytes.
 *
 * Linear in the text is not cheap whatever the pattern: the cost per character grows with the size of
 * the compiled program, and counted repetitions are copies (`[A-Za-z0-9]{64}` is 64 of them). re2js
 * answers "does it occur?" with a lazy DFA (a few µs per KB, whatever the size), and finds positions with
 * a bit-state backtracker on texts of up to `BACKTRACK_BUDGET / program size` characters, or else with
 * its NFA, which costs about 10 µs per KB per instruction (`[A-Za-z0-9]{64}` on 2 MB of letters: 1.3 s).
 * So programs are bounded (`MAX_PROGRAM_SIZE`, tighter for a guardrail with a long `maxMatchChars`:
 * text-guardrails.ts) and a guardrail searches for positions in windows the backtracker takes. Patterns
 * with a look-behind always run on the NFA (the backtracker has none), so their bound is tighter
 * (`MAX_LOOK_BEHIND_PROGRAM_SIZE`) and RE2's DFA first asks whether the pattern without its look-behind
 * occurs; on text where they match throughout they still cost the most, up to about 0.3 ms per KB.
 *
 * Patterns are written as JavaScript regular expressions and must be valid ones; RE2 then refuses what it
 * cannot match in linear time — look-ahead and back-references. Look-behind is allowed (RE2's linear,
 * capture-free kind). Checked once, at load, with every problem reported:
 *
 * - at most 512 characters, and a compiled program of at most `MAX_PROGRAM_SIZE` instructions (64 with a
 *   look-behind; fewer for a guardrail with a long `maxMatchChars`);
 * - flags among `i`, `m`, `s`, `u` (RE2 always reads code points, so `u` changes nothing);
 * - valid JavaScript, and within what RE2 accepts.
 *
 * RE2 is loaded the first time a pattern is checked or compiled, so a gateway without operator patterns
 * never loads it.
 */
import { createRequire } from 'node:module';
import type { RE2JS as RE2JSPattern } from 're2js';

export const MAX_PATTERN_LENGTH = 512;
/**
 * re2js searches with its bit-state backtracker when text length × program size is at most this (its
 * `MAX_BACKTRACK_VECTOR`, re2js 2.10), and with its NFA otherwise.
 */
export const BACKTRACK_BUDGET = 262_144;
/** The largest program an operator pattern may compile to: a routing condition's 1,024-character value is searched by the backtracker. */
export const MAX_PROGRAM_SIZE = 256;
/** The largest for a pattern with a look-behind, which RE2 searches with its NFA whatever the text's length. */
export const MAX_LOOK_BEHIND_PROGRAM_SIZE = 64;
const ALLOWED_FLAGS = /^[imsu]*$/;

/** An operator pattern, compiled: whether it occurs, and where. */
export interface LinearRegex {
  /** Whether the pattern occurs anywhere in `text`. */
  test(text: string): boolean;
  /** Calls `found` with the [start, end) of every non-empty match, left to right (UTF-16 offsets). */
  forEachMatch(text: string, found: (start: number, end: number) => void): void;
  /** RE2's compiled program size: the cost of a search per character grows with it. */
  readonly programSize: number;
}

let re2: typeof import('re2js').RE2JS | undefined;

function engine(): typeof import('re2js').RE2JS {
  re2 ??= (createRequire(import.meta.url)('re2js') as typeof import('re2js')).RE2JS;
  return re2;
}

/**
 * Every reason the pattern is refused (empty when it is acceptable). `maxProgramSize` and `why` come from a
 * guardrail whose `maxMatchChars` makes its windows longer.
 */
export function linearRegexProblems(source: string, flags = '', maxProgramSize = MAX_PROGRAM_SIZE, why = ''): string[] {
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
  let size: number;
  try {
    size = compileRE2(source, flags).programSize();
  } catch (error) {
    problems.push(`not supported by RE2, which matches in linear time (no look-ahead, no back-references): ${re2Message(error)}`);
    return problems;
  }
  const lookBehind = withoutLookBehinds(source) !== source;
  const bound = lookBehind ? Math.min(maxProgramSize, MAX_LOOK_BEHIND_PROGRAM_SIZE) : maxProgramSize;
  if (size > bound) {
    problems.push(
      `compiles to ${size} RE2 instructions, more than the ${bound} allowed${lookBehind ? ' with a look-behind' : why} (a search costs more per character ` +
        'the more there are; a counted repetition is that many copies: `x{32,}` is far smaller than `x{32,256}`)',
    );
  }
  return problems;
}

/** Compiles a pattern that passed `linearRegexProblems` (throws on one that did not). */
export function compileLinearRegex(source: string, flags = '', maxProgramSize = MAX_PROGRAM_SIZE): LinearRegex {
  const problems = linearRegexProblems(source, flags, maxProgramSize);
  if (problems.length > 0) throw new Error(`regex /${source}/ refused: ${problems.join('; ')}`);
  const pattern = compileRE2(source, flags);
  // A look-behind keeps RE2 on its NFA, even for the yes/no question: ask the DFA about a pattern without it first.
  const lookBehindFree = withoutLookBehinds(source);
  const first = lookBehindFree === source ? undefined : compileOrUndefined(lookBehindFree, flags);
  const occurs = (text: string): boolean => (first === undefined || first.test(text)) && pattern.test(text);
  return {
    programSize: pattern.programSize(),
    // RE2's DFA, no captures: the cheap question, asked first.
    test: occurs,
    forEachMatch(text, found) {
      if (!occurs(text)) return;
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
 * The pattern with each positive look-behind made a plain group and each negative one removed: it occurs
 * wherever the pattern does (further left, by what the look-behind read), and RE2 can ask whether it
 * occurs with its DFA, which it cannot for a pattern with a look-behind. A cheap first question.
 */
export function withoutLookBehinds(source: string): string {
  let out = '';
  for (let i = 0; i < source.length; ) {
    const char = source[i] as string;
    if (char === '\\') {
      out += source.slice(i, i + 2);
      i += 2;
    } else if (char === '[') {
      const end = classEnd(source, i);
      out += source.slice(i, end);
      i = end;
    } else if (source.startsWith('(?<=', i) || source.startsWith('(?<!', i)) {
      const close = groupEnd(source, i);
      if (source[i + 3] === '=') out += `(?:${withoutLookBehinds(source.slice(i + 4, close))})`;
      i = close + 1;
    } else {
      out += char;
      i++;
    }
  }
  return out;
}

/** Where the character class starting at `start` ends (just after its `]`). */
function classEnd(source: string, start: number): number {
  // As JavaScript reads a class: it ends at the first `]` not escaped (`[]` is empty, `[^]` any character).
  for (let i = start + 1; i < source.length; i++) {
    if (source[i] === '\\') i++;
    else if (source[i] === ']') return i + 1;
  }
  return source.length;
}

/** The index of the `)` closing the group that opens at `start`. */
function groupEnd(source: string, start: number): number {
  let depth = 0;
  for (let i = start; i < source.length; i++) {
    const char = source[i];
    if (char === '\\') i++;
    else if (char === '[') i = classEnd(source, i) - 1;
    else if (char === '(') depth++;
    else if (char === ')' && --depth === 0) return i;
  }
  return source.length;
}

/**
 * One automaton for "may any of these patterns occur?" (patterns that passed `linearRegexProblems`, their
 * look-behinds taken out: it may say yes where none does, never no where one does): one pass of RE2's DFA
 * over the text instead of one per pattern. Undefined when the patterns cannot be joined (two name the
 * same group).
 */
export function anyOfLinearRegexes(sources: readonly string[], flags = ''): Pick<LinearRegex, 'test' | 'programSize'> | undefined {
  const pattern = compileOrUndefined(sources.map((source) => `(?:${withoutLookBehinds(source)})`).join('|'), flags);
  return pattern && { test: (text) => pattern.test(text), programSize: pattern.programSize() };
}

/** JavaScript's `\s`: RE2's is `[\t\n\f\r ]`, so a vertical tab, a no-break or line separator between words would pass `ignore\s+previous`. */
const JS_SPACE = '\\t\\n\\v\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff';
/** What JavaScript's `.` matches without the `s` flag: RE2's excludes `\n` only. */
const JS_DOT = '[^\\n\\r\\u2028\\u2029]';

/**
 * The pattern with `\s`, `\S` and `.` spelt as JavaScript means them, where RE2 means less (`\s`) or more
 * (`.`, which JavaScript keeps off `\r`, `\u2028` and `\u2029`). `\S` inside a class and `.` in a pattern
 * with inline modifiers (`(?s:…)`) keep RE2's meaning; `^` and `$` with `m` keep RE2's (lines end at `\n`
 * only): look-ahead would be needed to spell JavaScript's.
 */
export function asJavaScriptMeans(source: string, flags: string): string {
  const translateDot = !flags.includes('s') && !/\(\?[ims-]+[:)]/.test(source);
  let out = '';
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const char = source[i] as string;
    if (char === '\\') {
      const next = source[i + 1];
      if (next === 's') out += inClass ? JS_SPACE : `[${JS_SPACE}]`;
      else if (next === 'S' && !inClass) out += `[^${JS_SPACE}]`;
      else out += char + (next ?? '');
      i++;
    } else if (char === '[' && !inClass) {
      inClass = true;
      out += char;
      if (source[i + 1] === '^') out += source[++i];
    } else if (char === ']' && inClass) {
      inClass = false;
      out += char;
    } else if (char === '.' && !inClass && translateDot) {
      out += JS_DOT;
    } else {
      out += char;
    }
  }
  return out;
}

function compileOrUndefined(source: string, flags: string): RE2JSPattern | undefined {
  try {
    return compileRE2(source, flags);
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
  return RE2JS.compile(RE2JS.translateRegExp(asJavaScriptMeans(source, flags)), bits);
}

/** RE2's message without its `error parsing regexp: ` prefix. */
function re2Message(error: unknown): string {
  return String((error as Error).message ?? error).replace(/^error parsing regexp: /, '');
}
