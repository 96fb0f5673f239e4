/**
 * OpenAI's own response schemas (copied from its OpenAPI document into test fixtures), compiled once,
 * so tests can assert that what a client receives is a `chat.completion` or `chat.completion.chunk`
 * exactly as OpenAI defines them, not as we remember them.
 */
import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';

const SCHEMA_ID = 'https://openai.invalid/openapi';

type SchemaName = 'CreateChatCompletionResponse' | 'CreateChatCompletionStreamResponse' | 'ErrorResponse';

/**
 * The document is OpenAPI 3.1, but a few schemas still say `nullable: true` (OpenAPI 3.0) beside a
 * `type` or `$ref`; JSON Schema has no such keyword, so it becomes "this schema, or null".
 */
function toJsonSchema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(toJsonSchema);
  if (!node || typeof node !== 'object') return node;
  const { nullable, ...rest } = node as Record<string, unknown>;
  const converted = Object.fromEntries(Object.entries(rest).map(([key, value]) => [key, toJsonSchema(value)]));
  return nullable === true ? { anyOf: [converted, { type: 'null' }] } : converted;
}

const document = JSON.parse(readFileSync(new URL('../fixtures/openai/chat-completion-schemas.json', import.meta.url), 'utf8')) as {
  components: unknown;
};
// strict: false ignores OpenAPI annotations (x-*, discriminator, example); formats such as `unixtime` are not checked.
const ajv = new Ajv({ strict: false, validateFormats: false, allErrors: true });
ajv.addSchema({ $id: SCHEMA_ID, components: toJsonSchema(document.components) });

const validators = new Map<SchemaName, ValidateFunction>();

function validator(name: SchemaName): ValidateFunction {
  let validate = validators.get(name);
  if (!validate) {
    validate = ajv.getSchema(`${SCHEMA_ID}#/components/schemas/${name}`);
    if (!validate) throw new Error(`schema ${name} is not in the fixture`);
    validators.set(name, validate);
  }
  return validate;
}

/** Throws, listing every violation, unless `value` validates against OpenAI's schema `name`. */
export function assertOpenAISchema(name: SchemaName, value: unknown): void {
  const validate = validator(name);
  if (validate(value)) return;
  const problems = (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
  throw new Error(`not a valid ${name}:\n  ${problems.join('\n  ')}\nvalue: ${JSON.stringify(value)}`);
}

export const assertChatCompletion = (value: unknown): void => assertOpenAISchema('CreateChatCompletionResponse', value);
export const assertChatCompletionChunk = (value: unknown): void => assertOpenAISchema('CreateChatCompletionStreamResponse', value);
