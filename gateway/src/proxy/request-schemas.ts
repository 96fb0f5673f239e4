/**
 * Validation of client request bodies. Only the fields the gateway itself reads (or that are cheap to
 * check and commonly wrong) are checked; everything else passes through to the upstream unchanged.
 */
import { z } from 'zod';
import { GatewayError } from '../errors.js';
import type { CanonicalOperation, JsonObject } from '../providers/types.js';

/**
 * Longest `model` accepted. Real names (`openai/gpt-4o-mini`, `local-vllm/meta-llama/Llama-3.1-8B-Instruct`)
 * are far shorter; the bound keeps a client's name out of reply headers and log lines at any size.
 */
export const MAX_MODEL_NAME_LENGTH = 256;
const modelName = z.string().min(1).max(MAX_MODEL_NAME_LENGTH);

const optionalNumber = z.number().nullable().optional();
const optionalInt = z.number().int().nonnegative().nullable().optional();

const common = {
  model: modelName,
  stream: z.boolean().nullable().optional(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullable().optional(),
  user: z.string().optional(),
  temperature: optionalNumber,
  top_p: optionalNumber,
  n: z.number().int().positive().nullable().optional(),
  max_tokens: optionalInt,
};

const message = z.looseObject({
  role: z.string().min(1),
});

const schemas: Record<CanonicalOperation, z.ZodType> = {
  chat: z.looseObject({
    ...common,
    messages: z.array(message).min(1),
    max_completion_tokens: optionalInt,
    tools: z.array(z.looseObject({ type: z.string() })).optional(),
  }),
  completions: z.looseObject({
    ...common,
    prompt: z.union([z.string(), z.array(z.string()), z.array(z.number()), z.array(z.array(z.number()))]),
  }),
  embeddings: z.looseObject({
    model: modelName,
    input: z.union([z.string(), z.array(z.string()).min(1), z.array(z.number()).min(1), z.array(z.array(z.number())).min(1)]),
    user: z.string().optional(),
    dimensions: z.number().int().positive().optional(),
  }),
};

/** A validated body: known fields are typed, the rest is carried along untouched. */
export type ValidatedBody = JsonObject & { model: string; stream?: boolean | null; user?: string };

export function validateRequestBody(operation: CanonicalOperation, body: unknown): ValidatedBody {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new GatewayError('invalid_request', 'request body must be a JSON object');
  }
  const result = schemas[operation].safeParse(body);
  if (!result.success) {
    const issue = result.error.issues[0];
    const param = issue ? formatParam(issue.path) : null;
    const message = issue ? `${param ?? 'body'}: ${issue.message}` : 'invalid request body';
    throw new GatewayError('invalid_request', message, { param });
  }
  // The original object, not zod's copy: unknown fields and key order reach the upstream unchanged.
  return body as ValidatedBody;
}

/** `messages[0].content` — the way OpenAI names a field in `param`. */
export function formatParam(path: readonly PropertyKey[]): string | null {
  if (path.length === 0) return null;
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out;
}
