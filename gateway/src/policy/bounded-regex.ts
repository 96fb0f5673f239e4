/**
 * Regular expressions written by operators (routing conditions, `regex` guardrails) run on text a client
 * controls, so they are held to rules that keep JavaScript's backtracking engine out of its exponential
 * cases. Checked once, at load, with every violation reported:
 *
 * - at most 512 characters;
 * - no back-references (`\1`, `\k<name>`): they make matching NP-hard;
 * - no repeated group that itself repeats or alternates — `(a+)+`, `(\w+\s?)*`, `(a|aa)*` — the shapes
 *   behind catastrophic backtracking ("star height" one, no ambiguous repeated alternation);
 * - flags limited to `i`, `m`, `s`, `u` (the engine adds `g` where it scans).
 *
 * What remains is at worst polynomial in the length of the text one match is tried on, and callers bound
 * that length: conditions test values of at most 1,024 characters, guardrails scan text in windows.
 */

export const MAX_PATTERN_LENGTH = 512;
const ALLOWED_FLAGS = /^[imsu]*$/;

/** Every reason the pattern is refused (empty when it is acceptable). */
export function boundedRegexProblems(source: string, flags = ''): string[] {
  const problems: string[] = [];
  if (source.length > MAX_PATTERN_LENGTH) problems.push(`pattern is longer than ${MAX_PATTERN_LENGTH} characters`);
  if (!ALLOWED_FLAGS.test(flags) || new Set(flags).size !== flags.length) problems.push(`flags must be among i, m, s, u (got '${flags}')`);
  try {
    new RegExp(source, flags.replace(/[^imsu]/g, ''));
  } catch (error) {
    problems.push(`not a valid regular expression: ${(error as Error).message}`);
    return problems;
  }
  problems.push(...structureProblems(source));
  return problems;
}

/** Compiles a pattern that passed `boundedRegexProblems`; `extraFlags` adds e.g. `g`. */
export function compileBoundedRegex(source: string, flags = '', extraFlags = ''): RegExp {
  const problems = boundedRegexProblems(source, flags);
  if (problems.length > 0) throw new Error(`regex /${source}/ refused: ${problems.join('; ')}`);
  return new RegExp(source, flags + extraFlags);
}

interface GroupFrame {
  /** The group's contents repeat somewhere (a quantifier with an upper bound above one). */
  repeats: boolean;
  /** The group alternates at its own level (`a|b`). */
  alternates: boolean;
}

/**
 * Walks the pattern's structure: escapes, character classes, groups, quantifiers. The pattern already
 * compiled, so the walk can trust its syntax.
 */
function structureProblems(source: string): string[] {
  const problems = new Set<string>();
  const stack: GroupFrame[] = [{ repeats: false, alternates: false }];
  /** What the last atom was: a plain atom, or a group with these properties. */
  let last: 'none' | 'atom' | GroupFrame = 'none';
  let i = 0;
  while (i < source.length) {
    const char = source[i] as string;
    if (char === '\\') {
      const next = source[i + 1] ?? '';
      if (/[1-9]/.test(next) || (next === 'k' && source[i + 2] === '<')) problems.add('back-references are not allowed');
      // \p{…}, \u{…}, \x.., \cX: skip the escape's own argument so its braces are not read as a quantifier.
      const argument = /^(?:[pP]\{[^}]*\}|u\{[0-9a-fA-F]+\}|u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|c[A-Za-z]|.)/s.exec(source.slice(i + 1));
      i += 1 + (argument?.[0].length ?? 1);
      last = 'atom';
      continue;
    }
    if (char === '[') {
      i = endOfClass(source, i);
      last = 'atom';
      continue;
    }
    if (char === '(') {
      stack.push({ repeats: false, alternates: false });
      // Skip the group's opening syntax: (?:  (?=  (?!  (?<=  (?<!  (?<name>
      const opening = /^\((?:\?(?::|=|!|<=|<!|<[A-Za-z_$][\w$]*>))?/.exec(source.slice(i));
      i += opening?.[0].length ?? 1;
      last = 'none';
      continue;
    }
    if (char === ')') {
      const group = stack.length > 1 ? (stack.pop() as GroupFrame) : { repeats: false, alternates: false };
      // Repetition inside a group is repetition inside its parent too.
      if (group.repeats) (stack[stack.length - 1] as GroupFrame).repeats = true;
      i += 1;
      last = group;
      continue;
    }
    if (char === '|') {
      (stack[stack.length - 1] as GroupFrame).alternates = true;
      i += 1;
      last = 'none';
      continue;
    }
    const quantifier = /^(?:[*+?]|\{(\d+)(,(\d*))?\})\??/.exec(source.slice(i));
    if (quantifier) {
      const text = quantifier[0];
      const repeats = repeatsMoreThanOnce(text, quantifier);
      if (repeats) {
        if (typeof last === 'object') {
          if (last.repeats) problems.add('nested quantifiers (a repeated group that itself repeats) are not allowed');
          if (last.alternates) problems.add('alternation inside a repeated group is not allowed');
        }
        (stack[stack.length - 1] as GroupFrame).repeats = true;
      }
      i += text.length;
      last = 'none';
      continue;
    }
    i += 1;
    last = 'atom';
  }
  return [...problems];
}

function repeatsMoreThanOnce(text: string, match: RegExpExecArray): boolean {
  if (text.startsWith('*') || text.startsWith('+')) return true;
  if (text.startsWith('?')) return false;
  const min = Number(match[1]);
  if (match[2] === undefined) return min > 1;
  if (match[3] === '' || match[3] === undefined) return true;
  return Number(match[3]) > 1;
}

/** Index just past the character class starting at `start` (`[`), honouring escapes and a leading `]`. */
function endOfClass(source: string, start: number): number {
  let i = start + 1;
  if (source[i] === '^') i++;
  if (source[i] === ']') i++;
  while (i < source.length) {
    if (source[i] === '\\') i += 2;
    else if (source[i] === ']') return i + 1;
    else i++;
  }
  return i;
}
