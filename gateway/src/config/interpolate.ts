/**
 * `${ENV_VAR}` interpolation over every string of a parsed config document, so secrets stay out of the
 * file. `${VAR:-fallback}` supplies a default; `$${` writes a literal `${`. A variable that is unset
 * (and has no default) is a problem reported with its path, like any schema problem.
 */
import type { ConfigProblem } from './problems.js';

const PLACEHOLDER = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

export function interpolateEnv(
  document: unknown,
  env: NodeJS.ProcessEnv,
  problems: ConfigProblem[],
  path: (string | number)[] = [],
): unknown {
  if (typeof document === 'string') return interpolateString(document, env, problems, path);
  if (Array.isArray(document)) {
    return document.map((item, index) => interpolateEnv(item, env, problems, [...path, index]));
  }
  if (document !== null && typeof document === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(document)) {
      out[key] = interpolateEnv(value, env, problems, [...path, key]);
    }
    return out;
  }
  return document;
}

function interpolateString(
  text: string,
  env: NodeJS.ProcessEnv,
  problems: ConfigProblem[],
  path: (string | number)[],
): string {
  if (!text.includes('${')) return text;
  return text.replace(PLACEHOLDER, (match, name: string | undefined, fallback: string | undefined) => {
    if (match === '$${') return '${';
    const value = env[name as string];
    if (value !== undefined && value !== '') return value;
    if (fallback !== undefined) return fallback;
    problems.push({ path, message: `environment variable ${name} is not set` });
    return '';
  });
}
