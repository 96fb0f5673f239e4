/**
 * Loads the configuration once at start: read the file named by GATEWAY_CONFIG (YAML or JSON) or build
 * the default one, interpolate `${ENV}`, apply HOST/PORT, validate everything, freeze. Every problem is
 * collected with its path before failing, so one run shows the whole list; notices (fields left out
 * because their variable is unset) are handed back for the log.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { z } from 'zod';
import { configSchema, type GatewayConfig } from './schema.js';
import { defaultConfigDocument } from './defaults.js';
import { explainOmissions, interpolateEnv, type Interpolation } from './interpolate.js';
import { ConfigError, type ConfigProblem } from './problems.js';
import { deepFreeze } from './deep-freeze.js';
import { guardrailReferenceProblems } from './guardrail-schema.js';

export function loadConfig(env: NodeJS.ProcessEnv = process.env, notices?: ConfigProblem[]): GatewayConfig {
  const file = env.GATEWAY_CONFIG;
  if (!file) return validateConfig(defaultConfigDocument(env), env, 'default configuration', notices);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(file, [{ path: [], message: `cannot read file: ${(error as Error).message}` }]);
  }
  return parseConfigText(text, file, env, notices);
}

/** The YAML parser, loaded by the first config file (the default configuration has none). */
const loadYaml = (): typeof import('yaml') => createRequire(import.meta.url)('yaml') as typeof import('yaml');

/** Parses YAML (a superset of JSON, so JSON files work too) and validates. */
export function parseConfigText(text: string, source: string, env: NodeJS.ProcessEnv = {}, notices?: ConfigProblem[]): GatewayConfig {
  let document: unknown;
  try {
    document = loadYaml().parse(text, { prettyErrors: true });
  } catch (error) {
    throw new ConfigError(source, [{ path: [], message: `not valid YAML/JSON: ${(error as Error).message}` }]);
  }
  return validateConfig(document ?? {}, env, source, notices);
}

/** `notices` receives what is worth a warning but not a refusal to start. */
export function validateConfig(document: unknown, env: NodeJS.ProcessEnv, source: string, notices?: ConfigProblem[]): GatewayConfig {
  const interpolation: Interpolation = { problems: [], omitted: [] };
  const problems = interpolation.problems;
  const interpolated = applyClickHouseUrl(
    applyRedisUrl(
      applyListenOverrides(interpolateEnv(withDefaultProviders(document, env), env, interpolation), env, problems),
      env,
    ),
    env,
  );
  const parsed = configSchema.safeParse(interpolated);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      for (const problem of schemaProblems(issue)) problems.push(explainOmissions(problem, interpolation.omitted));
    }
  }
  problems.push(...checkReferences(interpolated));
  if (isRecord(interpolated)) problems.push(...guardrailReferenceProblems(interpolated));
  if (parsed.success) problems.push(...checkExposure(parsed.data));
  if (problems.length > 0 || !parsed.success) throw new ConfigError(source, problems);
  for (const field of interpolation.omitted) {
    if (!field.optional) notices?.push({ path: field.path, message: `environment variable ${field.variable} is not set; the field is left out` });
  }
  return deepFreeze(parsed.data);
}

/**
 * A file that declares no providers gets the default configuration's (the built-in mock plus the hosted
 * providers whose keys are in the environment) — and, when it declares no routes either, its routes.
 */
function withDefaultProviders(document: unknown, env: NodeJS.ProcessEnv): unknown {
  if (!isRecord(document) || document.providers !== undefined) return document;
  const defaults = defaultConfigDocument(env);
  return { ...document, providers: defaults.providers, ...(document.routes === undefined ? { routes: defaults.routes } : {}) };
}

/** HOST and PORT override the file, so one image can listen wherever its platform says. */
function applyListenOverrides(document: unknown, env: NodeJS.ProcessEnv, problems: ConfigProblem[]): unknown {
  if (!isRecord(document) || (env.HOST === undefined && env.PORT === undefined)) return document;
  const server = isRecord(document.server) ? { ...document.server } : {};
  if (env.HOST !== undefined) server.host = env.HOST;
  if (env.PORT !== undefined) {
    const port = Number(env.PORT);
    if (!Number.isInteger(port)) problems.push({ path: ['env', 'PORT'], message: `not a port number: ${env.PORT}` });
    else server.port = port;
  }
  return { ...document, server };
}

/** REDIS_URL is the shared Redis unless the file names one itself (where state goes is `state`'s business). */
function applyRedisUrl(document: unknown, env: NodeJS.ProcessEnv): unknown {
  if (!env.REDIS_URL || !isRecord(document)) return document;
  const redis = isRecord(document.redis) ? document.redis : {};
  if (redis.url !== undefined) return document;
  return { ...document, redis: { ...redis, url: env.REDIS_URL } };
}

/** Settings that moved, and where to: reported as such rather than as unknown keys. */
const MOVED_FIELDS: Readonly<Record<string, string>> = {
  'cache.store': 'state.cache',
  'cache.redis.url': 'redis.url',
  'auth.limitStore': 'state.limits',
};

function schemaProblems(issue: z.core.$ZodIssue): ConfigProblem[] {
  if (issue.code !== 'unrecognized_keys') return [{ path: issue.path, message: issue.message }];
  return issue.keys.map((key) => {
    const path = [...issue.path, key];
    const to = MOVED_FIELDS[path.map(String).join('.')];
    return { path, message: to ? `moved: set ${to} instead (see "Where state lives" in the README)` : 'unknown setting' };
  });
}

/** CLICKHOUSE_URL switches the trace sink to ClickHouse unless the file names one itself. */
function applyClickHouseUrl(document: unknown, env: NodeJS.ProcessEnv): unknown {
  if (!env.CLICKHOUSE_URL || !isRecord(document)) return document;
  const telemetry = isRecord(document.telemetry) ? document.telemetry : {};
  const clickhouse = isRecord(telemetry.clickhouse) ? telemetry.clickhouse : {};
  if (clickhouse.url !== undefined) return document;
  return { ...document, telemetry: { ...telemetry, clickhouse: { ...clickhouse, url: env.CLICKHOUSE_URL } } };
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

/** An open gateway (no keys) may listen only on loopback, unless the config says `auth.mode: none`. */
function checkExposure(config: GatewayConfig): ConfigProblem[] {
  const { host } = config.server;
  const open = config.auth.mode === undefined && config.auth.keys.length === 0;
  if (!open || LOOPBACK.test(host)) return [];
  return [{
    path: ['auth'],
    message: `listening on ${host} with no gateway keys: add auth.keys, or set auth.mode: none to run open on purpose`,
  }];
}

/** Cross-field checks (a route naming a provider that does not exist), tolerant of a malformed document. */
function checkReferences(document: unknown): ConfigProblem[] {
  if (!isRecord(document) || !isRecord(document.routes)) return [];
  const providers = isRecord(document.providers) ? document.providers : {};
  const problems: ConfigProblem[] = [];
  const visit = (node: unknown, path: (string | number)[]): void => {
    if (!isRecord(node)) return;
    if (typeof node.provider === 'string' && !(node.provider in providers)) {
      problems.push({ path: [...path, 'provider'], message: `unknown provider '${node.provider}'` });
    }
    if (Array.isArray(node.targets)) node.targets.forEach((child, index) => visit(child, [...path, 'targets', index]));
    if (isRecord(node.baseline)) visit(node.baseline, [...path, 'baseline']);
    if (isRecord(node.canary)) visit(node.canary, [...path, 'canary']);
    if (Array.isArray(node.branches)) node.branches.forEach((branch, index) => isRecord(branch) && visit(branch.target, [...path, 'branches', index, 'target']));
    if (isRecord(node.default)) visit(node.default, [...path, 'default']);
  };
  for (const [routeName, route] of Object.entries(document.routes)) {
    visit(route, ['routes', routeName]);
    if (isRecord(route) && isRecord(route.shadow)) visit(route.shadow.target, ['routes', routeName, 'shadow', 'target']);
  }
  return problems;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
