/**
 * Operator patterns (regex guardrails, routing conditions) run on client text: whatever an operator
 * writes, matching must stay linear in the text. The four patterns below passed the old static rules and
 * held the event loop for 10 s to a minute on a kilobyte or four; the bounds here are a correctness check
 * (linear time finishes in milliseconds), not a benchmark.
 */
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/problems.js';
import { GuardrailSet } from '../../src/policy/compile-guardrails.js';
import type { TextGuardrail } from '../../src/policy/guardrail.js';
import { foldText } from '../../src/policy/folded-text.js';
import { compileLinearRegex, linearRegexProblems, withoutLookBehinds } from '../../src/policy/linear-regex.js';
import { compileCondition, MAX_REGEX_SUBJECT } from '../../src/routing/conditions.js';
import { requestFacts } from '../../src/routing/request-facts.js';

/** Each pattern, and text of the kind that made a backtracking engine try every way to split it. */
const BACKTRACKING_CASES: readonly { pattern: string; text: string }[] = [
  { pattern: '\\w*\\w*\\w*x', text: 'a'.repeat(1024) },
  { pattern: '.*a.*b', text: 'a'.repeat(4096) },
  { pattern: '[a-z]+[a-z]+[a-z]+[a-z]+!', text: 'a'.repeat(1024) },
  { pattern: '\\d+[ -]?\\d+[ -]?\\d+x', text: '1'.repeat(1024) },
  { pattern: '(a+)+$', text: `${'a'.repeat(1024)}!` },
  { pattern: '\\w+@\\w+\\.com', text: 'a'.repeat(4096) },
];

function regexGuardrail(patterns: string[], flags = ''): TextGuardrail {
  const config = validateConfig(
    { providers: { m: { type: 'mock' } }, guardrails: { r: { kind: 'regex', patterns, flags, action: 'flag' } }, routing: { guardrails: { input: ['r'] } } },
    {},
    'test',
  );
  return new GuardrailSet(config.guardrails).policyFor(config.routing.guardrails, undefined)!.input[0] as TextGuardrail;
}

function elapsedMs(work: () => unknown): number {
  const start = performance.now();
  work();
  return performance.now() - start;
}

describe('operator patterns match in linear time', () => {
  it('a regex guardrail scans text built to make each pattern backtrack in well under a second', () => {
    for (const { pattern, text } of BACKTRACKING_CASES) {
      const guardrail = regexGuardrail([pattern]);
      // A prompt of many such windows: 64 KB.
      const prompt = text.repeat(Math.ceil(65_536 / text.length));
      const ms = elapsedMs(() => guardrail.scan(foldText(prompt), () => undefined));
      expect({ pattern, fast: ms < 1000 }).toEqual({ pattern, fast: true });
    }
  });

  it('a routing condition tests a 1,024-character value against each pattern in well under a second', () => {
    for (const { pattern, text } of BACKTRACKING_CASES) {
      const condition = compileCondition({ 'metadata.tag': { regex: pattern } });
      const facts = requestFacts({ model: 'chat', messages: [] }, { tag: text.slice(0, MAX_REGEX_SUBJECT) }, '', '');
      const ms = elapsedMs(() => condition(facts));
      expect({ pattern, fast: ms < 1000 }).toEqual({ pattern, fast: true });
    }
  });

  it('the same patterns still find what they describe, alone or several in one guardrail', () => {
    const hits = (pattern: string | string[], text: string): string[] => {
      const out: string[] = [];
      regexGuardrail([pattern].flat()).scan(foldText(text), (start, end, label) => out.push(`${label}:${text.slice(start, end)}`));
      return out.sort();
    };
    expect(hits('\\w*\\w*\\w*x', 'aax bb')).toEqual(['pattern_0:aax']);
    expect(hits('.*a.*b', 'xxaxxb\nab')).toEqual(['pattern_0:ab', 'pattern_0:xxaxxb']);
    expect(hits('\\d+[ -]?\\d+[ -]?\\d+x', 'call 12 34-56x')).toEqual(['pattern_0:12 34-56x']);
    expect(hits('\\w+@\\w+\\.com', 'mail jo@corp.com now')).toEqual(['pattern_0:jo@corp.com']);
    expect(hits(['PRJ-\\d+', 'x(?<n>\\d)', 'y(?<n>\\d)'], 'PRJ-7 x1 y2')).toEqual(['pattern_0:PRJ-7', 'pattern_1:x1', 'pattern_2:y2']);
    expect(hits(['PRJ-\\d+', 'nomatch'], `${'z'.repeat(10_000)} PRJ-12`)).toEqual(['pattern_0:PRJ-12']);
  });
});

describe('operator pattern rules', () => {
  it('refuses what RE2 cannot match in linear time, back-references, long patterns, bad syntax and flags', () => {
    expect(linearRegexProblems('\\d{16}(?!\\d)')).toEqual([expect.stringContaining('not supported by RE2')]);
    expect(linearRegexProblems('secret(?=:)')).toEqual([expect.stringContaining('not supported by RE2')]);
    expect(linearRegexProblems('(a)\\1')).toEqual([expect.stringContaining('back-references')]);
    expect(linearRegexProblems('(?<x>a)\\k<x>')).toEqual([expect.stringContaining('back-references')]);
    expect(linearRegexProblems('a'.repeat(600))).toEqual([expect.stringContaining('longer than'), expect.stringContaining('instructions')]);
    expect(linearRegexProblems('(unclosed')).toEqual([expect.stringContaining('not a valid regular expression')]);
    expect(linearRegexProblems('a', 'g')).toEqual([expect.stringContaining('flags')]);
  });

  it('refuses a pattern whose compiled program is too large to search cheaply, a bound that tightens with maxMatchChars', () => {
    expect(linearRegexProblems('\\w{1000}')).toEqual([expect.stringContaining('1002 RE2 instructions, more than the 256 allowed')]);
    expect(linearRegexProblems('[A-Za-z0-9]{32,256}')).toEqual([expect.stringContaining('instructions')]);
    expect(linearRegexProblems('[A-Za-z0-9]{32,}')).toEqual([]);
    // A look-behind keeps RE2 on its NFA: a tighter bound.
    expect(linearRegexProblems('(?<=a)[a-z]{64}')).toEqual([expect.stringContaining('more than the 64 allowed with a look-behind')]);
    expect(linearRegexProblems('(?<=a)[a-z]{32}')).toEqual([]);
    const problems = (patterns: string[], maxMatchChars?: number): { path: string; message: string }[] => {
      try {
        validateConfig({ providers: { m: { type: 'mock' } }, guardrails: { keys: { kind: 'regex', patterns, action: 'redact', maxMatchChars } } }, {}, 'test');
        return [];
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        return error.problems.map(({ path, message }) => ({ path: path.join('.'), message: message.replace(/ \(.*$/, '') }));
      }
    };
    expect(problems(['\\bPRJ-\\d{4}\\b', '\\w{1000}'])).toEqual([{ path: 'guardrails.keys.patterns.1', message: 'compiles to 1002 RE2 instructions, more than the 256 allowed' }]);
    expect(problems(['[A-Za-z0-9]{64}'])).toEqual([]);
    expect(problems(['[A-Za-z0-9]{64}'], 4096)).toEqual([{ path: 'guardrails.keys.patterns.0', message: 'compiles to 66 RE2 instructions, more than the 31 allowed with maxMatchChars 4096' }]);
  });

  it('a pattern with a look-behind is first asked about without it (a question RE2 answers with its DFA), and matches as written', () => {
    expect(withoutLookBehinds('(?<=a(?<!b)c)[(?<=]\\(?<=x(?<!y)z')).toBe('(?:ac)[(?<=]\\(?<=xz');
    const spans = (source: string, text: string): [number, number][] => {
      const out: [number, number][] = [];
      compileLinearRegex(source).forEachMatch(text, (start, end) => out.push([start, end]));
      return out;
    };
    expect(spans('(?<=key=)\\w+', 'x key=abc keyabc')).toEqual([[6, 9]]);
    expect(spans('(?<!\\d)\\d{3}', '1234 567')).toEqual([[0, 3], [5, 8]]);
    expect(compileLinearRegex('(?<=key=)\\w+').test('key')).toBe(false);
    expect(compileLinearRegex('(?<=key=)\\w+').test('=x key=')).toBe(false);
  });

  it('\\s, \\S and . match what they match in JavaScript, where RE2 alone would differ', () => {
    const spans = (source: string, text: string, flags = ''): [number, number][] => {
      const out: [number, number][] = [];
      compileLinearRegex(source, flags).forEachMatch(text, (start, end) => out.push([start, end]));
      return out;
    };
    // RE2's \s is [\t\n\f\r ]: a line separator or a vertical tab between words would slip past it.
    for (const space of ['\u2028', '\v', '\u00a0', '\u3000']) expect(spans('ignore\\s+previous', `ignore${space}previous`)).toEqual([[0, 15]]);
    expect(spans('[\\s\\d]+', 'x\u2028 1x')).toEqual([[1, 4]]);
    expect(spans('\\S+', 'ab\u2028cd')).toEqual([[0, 2], [3, 5]]);
    // RE2's . matches \r, \u2028 and \u2029; JavaScript's does not, unless with s.
    for (const separator of ['\r', '\u2028', '\u2029', '\n']) {
      expect(spans('a.b', `a${separator}b`)).toEqual([]);
      expect(spans('a.b', `a${separator}b`, 's')).toEqual([[0, 3]]);
    }
    expect(spans('[.]x', 'a.x')).toEqual([[1, 3]]);
    expect(spans('\\.x', 'a.x bx')).toEqual([[1, 3]]);
  });

  it('accepts ordinary patterns in JavaScript spelling, look-behind and nested repetition included', () => {
    for (const ok of [
      '^internal-\\d+$',
      '\\bPRJ-\\d{4}\\b',
      'password\\s*[:=]\\s*\\S+',
      '\\b(?:foo|bar)\\b',
      '(ab)?c+',
      '(?:abc){3}',
      '[(+*)]+x',
      '\\p{L}{2,}',
      '\\(\\d{3}\\) \\d{3}-\\d{4}',
      '(?<!\\d)\\d{16}',
      '(?<=secret: )\\w+',
      '(?<name>\\d+)-x',
      'caf\\u00e9',
      '(a+)+$',
      '\\\\+',
    ]) {
      expect([ok, linearRegexProblems(ok, 'u')]).toEqual([ok, []]);
    }
  });

  it('flags: i, m and s mean what they mean in JavaScript; offsets are UTF-16 offsets', () => {
    const spans = (source: string, flags: string, text: string): [number, number][] => {
      const out: [number, number][] = [];
      compileLinearRegex(source, flags).forEachMatch(text, (start, end) => out.push([start, end]));
      return out;
    };
    expect(spans('prj-\\d+', 'i', 'PRJ-12')).toEqual([[0, 6]]);
    expect(spans('prj-\\d+', '', 'PRJ-12')).toEqual([]);
    expect(spans('^x$', 'm', 'a\nx\nb')).toEqual([[2, 3]]);
    expect(spans('^x$', '', 'a\nx\nb')).toEqual([]);
    expect(spans('a.b', 's', 'a\nb')).toEqual([[0, 3]]);
    expect(spans('a.b', '', 'a\nb')).toEqual([]);
    // An astral character is two UTF-16 units: offsets count them as JavaScript strings do.
    expect(spans('caf\\u00e9', '', '😀😀 café')).toEqual([[5, 9]]);
    expect(compileLinearRegex('^internal-').test('internal-7')).toBe(true);
  });
});
