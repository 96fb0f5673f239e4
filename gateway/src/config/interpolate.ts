/**
 * `${ENV_VAR}` interpolation over every string of a parsed config document, so secrets stay out of the
 * file. `${VAR:-fallback}` supplies a default; `$${` writes a literal `${`. A variable set to the empty
 * string counts as unset.
 *
 * A field whose whole value is one placeholder that comes out empty is left out of the document, as if it
 * had not been written: an optional field then takes its default (an optional secret means "none"), and a
 * required one is reported as missing, naming the variable. `${VAR}` with VAR unset also leaves a notice,
 * because it may be a typo; `${VAR:-}` says "empty is fine" and leaves none. Inside a longer string, or as
 * an array item, an unset `${VAR}` is a problem: there is no sensible value to leave out.
 */
import type { ConfigProblem } from './problems.js';

const PLACEHOLDER = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;
const WHOLE_PLACEHOLDER = /^\$\{([A-Za-z_][A-Za-z0-9_]*)(:-)?\}$/;

/** A field left out because its variable was empty or unset. */
export interface OmittedField {
  path: readonly (string | number)[];
  variable: string;
  /** `${VAR:-}`: empty was allowed on purpose. */
  optional: boolean;
}

export interface Interpolation {
  problems: ConfigProblem[];
  omitted: OmittedField[];
}

const OMIT = Symbol('omit');

export function interpolateEnv(document: unknown, env: NodeJS.ProcessEnv, out: Interpolation): unknown {
  const result = visit(document, env, out, []);
  return result === OMIT ? undefined : result;
}

function visit(node: unknown, env: NodeJS.ProcessEnv, out: Interpolation, path: (string | number)[]): unknown {
  if (typeof node === 'string') return interpolateString(node, env, out, path);
  if (Array.isArray(node)) {
    return node.map((item, index) => {
      const value = visit(item, env, out, [...path, index]);
      if (value !== OMIT) return value;
      out.problems.push({ path: [...path, index], message: `environment variable ${variableOf(item)} is not set` });
      return '';
    });
  }
  if (node !== null && typeof node === 'object') {
    const result: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(node)) {
      const interpolated = visit(value, env, out, [...path, key]);
      if (interpolated !== OMIT) result[key] = interpolated;
    }
    return result;
  }
  return node;
}

function interpolateString(text: string, env: NodeJS.ProcessEnv, out: Interpolation, path: (string | number)[]): string | typeof OMIT {
  if (!text.includes('${')) return text;
  const whole = WHOLE_PLACEHOLDER.exec(text);
  if (whole && !env[whole[1] as string]) {
    out.omitted.push({ path, variable: whole[1] as string, optional: whole[2] !== undefined });
    return OMIT;
  }
  return text.replace(PLACEHOLDER, (match, name: string | undefined, fallback: string | undefined) => {
    if (match === '$${') return '${';
    const value = env[name as string];
    if (value !== undefined && value !== '') return value;
    if (fallback !== undefined) return fallback;
    out.problems.push({ path, message: `environment variable ${name} is not set` });
    return '';
  });
}

function variableOf(text: unknown): string {
  return WHOLE_PLACEHOLDER.exec(String(text))?.[1] ?? String(text);
}

/**
 * Schema problems about a field that was left out say which variable to set: "expected string, received
 * undefined" becomes "environment variable X is not set" (and a check on the enclosing object gets the
 * variable added).
 */
export function explainOmissions(problem: ConfigProblem, omitted: readonly OmittedField[]): ConfigProblem {
  const path = problem.path.map(String).join('.');
  for (const field of omitted) {
    const fieldPath = field.path.map(String).join('.');
    if (fieldPath === path) return { path: problem.path, message: `environment variable ${field.variable} is not set` };
    if (field.path.length === problem.path.length + 1 && fieldPath.startsWith(path === '' ? '' : `${path}.`)) {
      return { path: problem.path, message: `${problem.message} (environment variable ${field.variable} is not set)` };
    }
  }
  return problem;
}
