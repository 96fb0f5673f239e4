/**
 * The condition language of `conditional` routes: what a request is, tested against its facts.
 *
 *   when:
 *     metadata.tier: premium                # a scalar means `eq`
 *     max_tokens: { gt: 1000, lte: 4000 }   # several operators on one field: all must hold
 *     or:
 *       - user: { regex: '^internal-' }
 *       - key: { in: [team-a, team-b] }
 *     not: { stream: true }
 *
 * Keys of one object must all hold (`and`); `and: [..]`, `or: [..]` and `not: {..}` combine conditions.
 * Fields and the operators each takes:
 *
 *   metadata.<tag>, key, user, model, response_format   text    eq ne in nin regex exists
 *   max_tokens, temperature, prompt_tokens              number  eq ne gt gte lt lte in nin exists
 *   stream, tools                                       boolean eq ne
 *
 * A field the request does not have (no such tag, no max_tokens) satisfies `ne`, `nin` and
 * `exists: false`, and nothing else. `regex` runs on RE2 (linear-regex.ts: linear in the value whatever the pattern) and tests values of at most
 * 1,024 characters (a longer value never matches).
 *
 * Validated once at load — every problem reported with its path — and compiled into closures over
 * RequestFacts, so evaluating a condition allocates nothing.
 */
import { compileLinearRegex, linearRegexProblems } from '../policy/linear-regex.js';
import type { JsonObject } from '../providers/types.js';
import { promptTokensOf, type RequestFacts } from './request-facts.js';

export type Condition = (facts: RequestFacts) => boolean;

export interface ConditionProblem {
  path: (string | number)[];
  message: string;
}

/** Longest value a `regex` is tried on. */
export const MAX_REGEX_SUBJECT = 1024;

type FieldType = 'text' | 'number' | 'boolean';

interface Field {
  type: FieldType;
  /** The value, or undefined when the request does not have it. */
  read(facts: RequestFacts): string | number | boolean | undefined;
}

const FIELDS: Record<string, Field> = {
  key: { type: 'text', read: (f) => (f.keyId === '' ? undefined : f.keyId) },
  user: { type: 'text', read: (f) => (f.user === '' ? undefined : f.user) },
  model: { type: 'text', read: (f) => textOrUndefined(f.body.model) },
  response_format: {
    type: 'text',
    read: (f) => {
      const format = f.body.response_format;
      return format !== null && typeof format === 'object' ? textOrUndefined((format as JsonObject).type) : undefined;
    },
  },
  max_tokens: { type: 'number', read: (f) => numberOrUndefined(f.body.max_completion_tokens) ?? numberOrUndefined(f.body.max_tokens) },
  temperature: { type: 'number', read: (f) => numberOrUndefined(f.body.temperature) },
  prompt_tokens: { type: 'number', read: promptTokensOf },
  stream: { type: 'boolean', read: (f) => f.body.stream === true },
  tools: { type: 'boolean', read: (f) => Array.isArray(f.body.tools) && f.body.tools.length > 0 },
};

const METADATA_PREFIX = 'metadata.';
const FIELD_LIST = `metadata.<tag>, ${Object.keys(FIELDS).join(', ')}`;

const OPERATORS: Record<FieldType, readonly string[]> = {
  text: ['eq', 'ne', 'in', 'nin', 'regex', 'exists'],
  number: ['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'in', 'nin', 'exists'],
  boolean: ['eq', 'ne'],
};

function textOrUndefined(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function numberOrUndefined(value: unknown): number | undefined {
  return typeof value === 'number' ? value : undefined;
}

function fieldOf(name: string): Field | undefined {
  if (name.startsWith(METADATA_PREFIX) && name.length > METADATA_PREFIX.length) {
    const tag = name.slice(METADATA_PREFIX.length);
    return {
      type: 'text',
      read: (f) => {
        const value = f.metadata?.[tag];
        return typeof value === 'string' && Object.hasOwn(f.metadata as object, tag) ? value : undefined;
      },
    };
  }
  return Object.hasOwn(FIELDS, name) ? FIELDS[name] : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// ------------------------------------------------------------------------------------------- checking

/** Every problem in a condition, with paths relative to it. */
export function conditionProblems(condition: unknown, path: (string | number)[] = []): ConditionProblem[] {
  const problems: ConditionProblem[] = [];
  checkCondition(condition, path, problems);
  return problems;
}

function checkCondition(condition: unknown, path: (string | number)[], problems: ConditionProblem[]): void {
  if (!isRecord(condition)) {
    problems.push({ path, message: 'a condition is an object of fields (and `and`, `or`, `not`)' });
    return;
  }
  if (Object.keys(condition).length === 0) problems.push({ path, message: 'an empty condition: name at least one field' });
  for (const [name, value] of Object.entries(condition)) {
    const at = [...path, name];
    if (name === 'and' || name === 'or') {
      if (!Array.isArray(value) || value.length === 0) problems.push({ path: at, message: `'${name}' takes a non-empty list of conditions` });
      else value.forEach((child, index) => checkCondition(child, [...at, index], problems));
    } else if (name === 'not') {
      checkCondition(value, at, problems);
    } else {
      const field = fieldOf(name);
      if (!field) problems.push({ path: at, message: `unknown field '${name}' (fields: ${FIELD_LIST})` });
      else checkTest(field, value, at, problems);
    }
  }
}

function checkTest(field: Field, test: unknown, path: (string | number)[], problems: ConditionProblem[]): void {
  if (!isRecord(test)) {
    checkOperand(field, 'eq', test, path, problems);
    return;
  }
  if (Object.keys(test).length === 0) problems.push({ path, message: 'no operator given' });
  for (const [operator, operand] of Object.entries(test)) {
    const at = [...path, operator];
    if (!OPERATORS[field.type].includes(operator)) {
      problems.push({ path: at, message: `operator '${operator}' does not apply to a ${field.type} field (use ${OPERATORS[field.type].join(', ')})` });
    } else {
      checkOperand(field, operator, operand, at, problems);
    }
  }
}

function checkOperand(field: Field, operator: string, operand: unknown, path: (string | number)[], problems: ConditionProblem[]): void {
  const scalar = (value: unknown): boolean => typeof value === (field.type === 'text' ? 'string' : field.type) && (typeof value !== 'number' || Number.isFinite(value));
  switch (operator) {
    case 'exists':
      if (typeof operand !== 'boolean') problems.push({ path, message: "'exists' takes true or false" });
      return;
    case 'in':
    case 'nin':
      if (!Array.isArray(operand) || operand.length === 0 || !operand.every(scalar)) {
        problems.push({ path, message: `'${operator}' takes a non-empty list of ${field.type} values` });
      }
      return;
    case 'regex':
      if (typeof operand !== 'string') problems.push({ path, message: "'regex' takes a pattern (a string)" });
      else for (const message of linearRegexProblems(operand)) problems.push({ path, message });
      return;
    default:
      if (!scalar(operand)) {
        problems.push({ path, message: `'${operator}' needs a ${field.type === 'text' ? 'string' : field.type}` });
      }
  }
}

// ------------------------------------------------------------------------------------------ compiling

const ALWAYS: Condition = () => true;

/** Compiles a condition that passed `conditionProblems` (throws on one that did not). */
export function compileCondition(condition: unknown): Condition {
  const problems = conditionProblems(condition);
  if (problems.length > 0) throw new Error(`invalid condition: ${problems.map((p) => `${p.path.join('.')}: ${p.message}`).join('; ')}`);
  return compile(condition as Record<string, unknown>);
}

function compile(condition: Record<string, unknown>): Condition {
  const parts: Condition[] = [];
  for (const [name, value] of Object.entries(condition)) {
    if (name === 'and') parts.push(all((value as Record<string, unknown>[]).map(compile)));
    else if (name === 'or') parts.push(any((value as Record<string, unknown>[]).map(compile)));
    else if (name === 'not') {
      const inner = compile(value as Record<string, unknown>);
      parts.push((facts) => !inner(facts));
    } else {
      parts.push(compileTest(fieldOf(name) as Field, value));
    }
  }
  return all(parts);
}

function all(parts: Condition[]): Condition {
  if (parts.length === 0) return ALWAYS;
  if (parts.length === 1) return parts[0] as Condition;
  return (facts) => {
    for (let i = 0; i < parts.length; i++) if (!(parts[i] as Condition)(facts)) return false;
    return true;
  };
}

function any(parts: Condition[]): Condition {
  if (parts.length === 1) return parts[0] as Condition;
  return (facts) => {
    for (let i = 0; i < parts.length; i++) if ((parts[i] as Condition)(facts)) return true;
    return false;
  };
}

function compileTest(field: Field, test: unknown): Condition {
  if (!isRecord(test)) return compileOperator(field, 'eq', test);
  return all(Object.entries(test).map(([operator, operand]) => compileOperator(field, operator, operand)));
}

function compileOperator(field: Field, operator: string, operand: unknown): Condition {
  const read = field.read;
  switch (operator) {
    case 'eq':
      return (facts) => read(facts) === operand;
    case 'ne':
      return (facts) => read(facts) !== operand;
    case 'gt': {
      const bound = operand as number;
      return (facts) => {
        const value = read(facts);
        return value !== undefined && (value as number) > bound;
      };
    }
    case 'gte': {
      const bound = operand as number;
      return (facts) => {
        const value = read(facts);
        return value !== undefined && (value as number) >= bound;
      };
    }
    case 'lt': {
      const bound = operand as number;
      return (facts) => {
        const value = read(facts);
        return value !== undefined && (value as number) < bound;
      };
    }
    case 'lte': {
      const bound = operand as number;
      return (facts) => {
        const value = read(facts);
        return value !== undefined && (value as number) <= bound;
      };
    }
    case 'in': {
      const set = new Set(operand as unknown[]);
      return (facts) => set.has(read(facts));
    }
    case 'nin': {
      const set = new Set(operand as unknown[]);
      return (facts) => !set.has(read(facts));
    }
    case 'regex': {
      const pattern = compileLinearRegex(operand as string);
      return (facts) => {
        const value = read(facts) as string | undefined;
        return value !== undefined && value.length <= MAX_REGEX_SUBJECT && pattern.test(value);
      };
    }
    case 'exists': {
      const wanted = operand as boolean;
      return (facts) => (read(facts) !== undefined) === wanted;
    }
    default:
      throw new Error(`unknown operator '${operator}'`);
  }
}
