/**
 * Validation of `POST /v1/responses` bodies. The fields the gateway reads or translates are checked (an
 * error names the field as OpenAI does: `input[2].call_id`); every other field is carried along for
 * providers that serve the Responses API natively.
 */
import { z } from 'zod';
import { GatewayError } from '../errors.js';
import { formatParam, MAX_MODEL_NAME_LENGTH } from '../proxy/request-schemas.js';
import type { JsonObject } from '../providers/types.js';

const text = z.string();

/** A content part of an input message: text, image or file (audio and others pass to native providers only). */
const contentPart = z.looseObject({ type: z.string().min(1) });

const messageItem = z.looseObject({
  type: z.literal('message').optional(),
  role: z.enum(['user', 'assistant', 'system', 'developer']),
  content: z.union([text, z.array(contentPart)]),
});

const functionCallItem = z.looseObject({
  type: z.literal('function_call'),
  call_id: z.string().min(1),
  name: z.string().min(1),
  arguments: z.string(),
  namespace: z.string().optional(),
});

const functionCallOutputItem = z.looseObject({
  type: z.literal('function_call_output'),
  call_id: z.string().min(1),
  output: z.union([text, z.array(contentPart)]),
});

/** Any other item (reasoning, hosted tool calls, item references…): passed to native providers. */
const otherItem = z.looseObject({ type: z.string().min(1) }).refine(
  (item) => !['message', 'function_call', 'function_call_output'].includes(item.type),
  { message: 'invalid item' },
);

const inputItem = z.union([messageItem, functionCallItem, functionCallOutputItem, otherItem]);

const functionTool = z.looseObject({
  type: z.literal('function'),
  name: z.string().min(1).max(64),
  parameters: z.record(z.string(), z.unknown()).nullable().optional(),
  strict: z.boolean().nullable().optional(),
  description: z.string().nullable().optional(),
});

const namespaceTool = z.looseObject({
  type: z.literal('namespace'),
  name: z.string().min(1),
  tools: z.array(z.looseObject({ type: z.string(), name: z.string().min(1) })).min(1),
});

const tool = z.union([functionTool, namespaceTool, z.looseObject({ type: z.string().min(1) })]);

const format = z.discriminatedUnion('type', [
  z.looseObject({ type: z.literal('text') }),
  z.looseObject({ type: z.literal('json_object') }),
  z.looseObject({
    type: z.literal('json_schema'),
    name: z.string().min(1).max(64),
    schema: z.record(z.string(), z.unknown()),
    strict: z.boolean().nullable().optional(),
    description: z.string().optional(),
  }),
]);

const schema = z.looseObject({
  model: z.string().min(1).max(MAX_MODEL_NAME_LENGTH),
  input: z.union([text, z.array(inputItem)]).optional(),
  instructions: z.string().nullable().optional(),
  tools: z.array(tool).optional(),
  tool_choice: z.union([z.enum(['none', 'auto', 'required']), z.looseObject({ type: z.string().min(1) })]).optional(),
  parallel_tool_calls: z.boolean().nullable().optional(),
  text: z.looseObject({ format: format.optional() }).optional(),
  max_output_tokens: z.number().int().min(1).nullable().optional(),
  temperature: z.number().min(0).max(2).nullable().optional(),
  top_p: z.number().min(0).max(1).nullable().optional(),
  reasoning: z.looseObject({ effort: z.string().nullable().optional(), summary: z.string().nullable().optional() }).nullable().optional(),
  metadata: z.record(z.string().max(64), z.string().max(512)).refine((m) => Object.keys(m).length <= 16, 'at most 16 keys').nullable().optional(),
  store: z.boolean().nullable().optional(),
  stream: z.boolean().nullable().optional(),
  previous_response_id: z.string().min(1).nullable().optional(),
  user: z.string().optional(),
  safety_identifier: z.string().optional(),
  include: z.array(z.string()).nullable().optional(),
});

export type ResponsesInputItem = JsonObject & { type?: string };

/** A validated request: the fields the gateway reads are typed, the rest rides along untouched. */
export interface ResponsesRequest extends JsonObject {
  model: string;
  input?: string | ResponsesInputItem[];
  instructions?: string | null;
  tools?: (JsonObject & { type: string })[];
  tool_choice?: string | (JsonObject & { type: string });
  stream?: boolean | null;
  store?: boolean | null;
  previous_response_id?: string | null;
  user?: string;
  safety_identifier?: string;
  metadata?: Record<string, string> | null;
  text?: JsonObject & { format?: JsonObject & { type: string } };
}

/** Fields the gateway does not serve, with the reason a client gets. */
const REFUSED: Record<string, (value: unknown) => string | undefined> = {
  background: (value) => (value === true ? 'background responses are not supported by this gateway' : undefined),
  conversation: (value) => (value != null ? 'conversations are not supported by this gateway; use previous_response_id' : undefined),
};

export function validateResponsesRequest(body: unknown): ResponsesRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new GatewayError('invalid_request', 'request body must be a JSON object');
  }
  const result = schema.safeParse(body);
  if (!result.success) {
    const issue = result.error.issues[0];
    const param = issue ? formatParam(issue.path) : null;
    throw new GatewayError('invalid_request', issue ? `${param ?? 'body'}: ${issue.message}` : 'invalid request body', { param });
  }
  for (const [field, refuse] of Object.entries(REFUSED)) {
    const reason = refuse((body as JsonObject)[field]);
    if (reason) throw new GatewayError('invalid_request', reason, { param: field });
  }
  // The original object, not zod's copy: unknown fields reach native providers unchanged.
  return body as ResponsesRequest;
}
