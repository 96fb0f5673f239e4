/**
 * The built-in detectors and the rest of the policy code run JavaScript's backtracking engine on client
 * text (for speed, and for the look-arounds detectors' boundaries need), unlike operator patterns, which
 * run on RE2. So each such regular expression must be free of super-linear backtracking: recheck (a ReDoS
 * checker) proves it with automata theory where the pattern allows, and by guided fuzzing where
 * look-arounds or back-references rule that out.
 *
 * The expressions are gathered, not listed by hand: every regular-expression literal in the policy
 * sources (read by a small lexer), and every pattern a detector reports it runs (which covers
 * those built with `new RegExp` from strings). A regex added anywhere there with a vulnerable shape fails
 * here, whether or not its author declared it.
 *
 * recheck runs its native binary where its platform package installed, and its pure-JavaScript build in a
 * worker thread otherwise (the same verdicts; slower).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { check } from 'recheck';
import { describe, expect, it } from 'vitest';
import { PII_CATALOGUE, SECRET_CATALOGUE } from '../../src/policy/detectors/catalogue.js';

const POLICY_DIR = fileURLToPath(new URL('../../src/policy/', import.meta.url));
const DETECTORS = [...PII_CATALOGUE.values(), ...SECRET_CATALOGUE.values()];

/** Every regular-expression literal in the policy sources, as `[where, source, flags]`. */
function regexLiterals(): [string, string, string][] {
  const out: [string, string, string][] = [];
  const files = readdirSync(POLICY_DIR, { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.ts'));
  for (const file of files) {
    // Read as TypeScript, not stripped first: type syntax holds no `/`, so the lexer finds the same literals
    // (checked against Node 24's stripTypeScriptTypes, whose `transform` mode Node 26 no longer has).
    for (const [source, flags] of literalsIn(readFileSync(join(POLICY_DIR, file), 'utf8'))) out.push([file, source, flags]);
  }
  return out;
}

/** After these (or at the start), a `/` starts a regular expression; after anything else it divides. */
const BEFORE_REGEX = new Set([...'(,=:[!&|?{};+-*%<>~^', 'return', 'typeof', 'case', 'of', 'in', 'delete', 'void', 'throw', 'new', 'else', 'do', 'yield', 'await']);

/**
 * The regular-expression literals in JavaScript source: a small lexer that skips comments, strings and
 * template literals (an expression inside a template is not read) and tells a regex from a division by
 * what precedes it.
 */
function literalsIn(code: string): [string, string][] {
  const out: [string, string][] = [];
  let previous = '';
  for (let i = 0; i < code.length; ) {
    const char = code[i] as string;
    if (/\s/.test(char)) i++;
    else if (code.startsWith('//', i)) i = code.indexOf('\n', i) < 0 ? code.length : code.indexOf('\n', i);
    else if (code.startsWith('/*', i)) i = code.indexOf('*/', i + 2) + 2;
    else if (char === '"' || char === "'" || char === '`') {
      for (i++; i < code.length && code[i] !== char; i++) if (code[i] === '\\') i++;
      i++;
      previous = 'string';
    } else if (char === '/' && (previous === '' || BEFORE_REGEX.has(previous))) {
      let inClass = false;
      let end = i + 1;
      for (; end < code.length; end++) {
        const c = code[end];
        if (c === '\\') end++;
        else if (c === '[') inClass = true;
        else if (c === ']') inClass = false;
        else if (c === '/' && !inClass) break;
      }
      const flags = /^[a-z]*/.exec(code.slice(end + 1))![0];
      out.push([code.slice(i + 1, end), flags]);
      i = end + 1 + flags.length;
      previous = 'regex';
    } else if (/[\w$]/.test(char)) {
      const word = /^[\w$]+/.exec(code.slice(i, i + 64))![0];
      previous = word;
      i += word.length;
    } else {
      previous = char;
      i++;
    }
  }
  return out;
}

describe('regular expressions the policy runs on client text', () => {
  it('every detector names the patterns it runs, and the sources hold the literals this test reads', () => {
    for (const detector of DETECTORS) expect([detector.name, detector.patterns.length > 0]).toEqual([detector.name, true]);
    const literals = regexLiterals().map(([, source]) => source);
    expect(literalsIn('const a = /x\\/[/]y/gu, b = 4 / 2 / 1; // c = /no/\n" /no/ "; f(/z/)')).toEqual([['x\\/[/]y', 'gu'], ['z', '']]);
    // The e-mail detector's pattern is a literal; the token detectors' are built from strings (reported by the detectors).
    expect(literals).toContain((PII_CATALOGUE.get('email')!.patterns[0] as RegExp).source);
    expect(literals.length).toBeGreaterThan(30);
  });

  it('none backtracks super-linearly (recheck)', { timeout: 300_000 }, async () => {
    const all = new Map<string, string>();
    for (const [where, source, flags] of regexLiterals()) all.set(`${source}/${flags.replace(/[gy]/g, '')}`, where);
    for (const detector of DETECTORS) for (const pattern of detector.patterns) all.set(`${pattern.source}/${pattern.flags.replace(/[gy]/g, '')}`, `detector ${detector.name}`);
    const verdicts: string[] = [];
    for (const [key, where] of all) {
      const slash = key.lastIndexOf('/');
      const result = await check(key.slice(0, slash), key.slice(slash + 1), { timeout: 60_000 });
      verdicts.push(`${where} /${key.slice(0, slash)}/: ${result.status}${result.status === 'vulnerable' ? ` (${result.complexity.type}, attack ${JSON.stringify(result.attack.pattern)})` : ''}`);
    }
    expect(verdicts).toEqual(verdicts.map((verdict) => verdict.replace(/: [^:]*$/, ': safe')));
  });
});
