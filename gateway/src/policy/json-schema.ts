/**
 * JSON Schema validation of answers, with Ajv (draft 2020-12 keywords as Ajv's default draft supports
 * them; `format` is not checked). Ajv is loaded the first time a schema is compiled, so a gateway with
 * no `json_schema` guardrail never loads it.
 */
import { createRequire } from 'node:module';
import type { Ajv as AjvInstance, ValidateFunction } from 'ajv';

let ajv: AjvInstance | undefined;

function instance(): AjvInstance {
  if (!ajv) {
    const { Ajv } = createRequire(import.meta.url)('ajv') as typeof import('ajv');
    // Schemas written for OpenAI's structured outputs carry keywords Ajv does not know in strict mode.
    ajv = new Ajv({ strict: false, validateFormats: false, allErrors: false });
  }
  return ajv;
}

/** Why the schema cannot be used ([] when it compiles). */
export function jsonSchemaProblems(schema: Record<string, unknown>): string[] {
  try {
    instance().compile(schema);
    return [];
  } catch (error) {
    return [`not a usable JSON schema: ${(error as Error).message}`];
  }
}

/** A compiled schema: the first violation (`/answer must be number`), or undefined when the value fits. */
export type SchemaCheck = (value: unknown) => string | undefined;

export function compileJsonSchema(schema: Record<string, unknown>): SchemaCheck {
  const validate: ValidateFunction = instance().compile(schema);
  return (value) => {
    if (validate(value)) return undefined;
    const error = validate.errors?.[0];
    return error ? `${error.instancePath || '/'} ${error.message ?? 'is invalid'}` : 'does not match the schema';
  };
}

/** Schemas named by requests (`response_format.json_schema.schema`), compiled once each, bounded. */
const fromRequests = new Map<string, SchemaCheck | string>();
const MAX_REQUEST_SCHEMAS = 256;

/** The request's own schema compiled (cached by its text), or a string saying why it cannot be used. */
export function requestSchemaCheck(schema: Record<string, unknown>): SchemaCheck | string {
  const key = JSON.stringify(schema);
  let found = fromRequests.get(key);
  if (found === undefined) {
    const problems = jsonSchemaProblems(schema);
    found = problems.length > 0 ? (problems[0] as string) : compileJsonSchema(schema);
    if (fromRequests.size >= MAX_REQUEST_SCHEMAS) fromRequests.delete(fromRequests.keys().next().value as string);
    fromRequests.set(key, found);
  }
  return found;
}
