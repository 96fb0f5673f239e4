/**
 * OpenAI's own response schemas (copied from its OpenAPI document into test fixtures), compiled once,
 * so tests can assert that what a client receives is a `chat.completion`, a `chat.completion.chunk`, a
 * Responses API `response`, stream event or item list exactly as OpenAI defines them, not as we
 * remember them.
 */
import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';

type SchemaName =
  | 'CreateChatCompletionResponse'
  | 'CreateChatCompletionStreamResponse'
  | 'ErrorResponse'
  | 'Response'
  | 'ResponseStreamEvent'
  | 'ResponseItemList';

/** Each fixture file (one schema id per file: the two share schema names). */
const FILES = {
  chat: 'chat-completion-schemas.json',
  responses: 'responses-schemas.json',
} as const;

const FILE_OF: Record<SchemaName, keyof typeof FILES> = {
  CreateChatCompletionResponse: 'chat',
  CreateChatCompletionStreamResponse: 'chat',
  ErrorResponse: 'chat',
  Response: 'responses',
  ResponseStreamEvent: 'responses',
  ResponseItemList: 'responses',
};

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

// strict: false ignores OpenAPI annotations (x-*, discriminator, example); formats such as `unixtime` are not checked.
const ajv = new Ajv({ strict: false, validateFormats: false, allErrors: true });
for (const [kind, file] of Object.entries(FILES)) {
  const document = JSON.parse(readFileSync(new URL(`../fixtures/openai/${file}`, import.meta.url), 'utf8')) as { components: unknown };
  ajv.addSchema({ $id: `https://openai.invalid/openapi/${kind}`, components: toJsonSchema(document.components) });
}

const validators = new Map<SchemaName, ValidateFunction>();

function validator(name: SchemaName): ValidateFunction {
  let validate = validators.get(name);
  if (!validate) {
    validate = ajv.getSchema(`https://openai.invalid/openapi/${FILE_OF[name]}#/components/schemas/${name}`);
    if (!validate) throw new Error(`schema ${name} is not in the fixture`);
    validators.set(name, validate);
  }
  return validate;
}

/** Throws, listing every violation, unless `value` validates against OpenAI's schema `name`. */
export function assertOpenAISchema(name: SchemaName, value: unknown): void {
  const validate = validator(name);
  if (validate(value)) return;
  // A oneOf over many event types reports every branch; the branch named by `type` is the useful one.
  const problems = (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
  throw new Error(`not a valid ${name}:\n  ${problems.slice(0, 40).join('\n  ')}\nvalue: ${JSON.stringify(value)}`);
}

export const assertChatCompletion = (value: unknown): void => assertOpenAISchema('CreateChatCompletionResponse', value);
export const assertChatCompletionChunk = (value: unknown): void => assertOpenAISchema('CreateChatCompletionStreamResponse', value);
export const assertResponse = (value: unknown): void => assertOpenAISchema('Response', value);
export const assertResponseStreamEvent = (value: unknown): void => assertOpenAISchema('ResponseStreamEvent', value);
export const assertResponseItemList = (value: unknown): void => assertOpenAISchema('ResponseItemList', value);
