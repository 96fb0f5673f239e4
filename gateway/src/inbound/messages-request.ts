/**
 * Anthropic Messages API requests (POST /v1/messages): validation, and translation into the canonical
 * request (an OpenAI chat body) for targets that do not speak the Messages API. Plain data in, plain
 * data out.
 *
 * Validation checks what every path needs (an Anthropic target validates the rest itself). The
 * translation reads each content block and refuses, with a 400 naming the block, what it cannot express
 * in OpenAI's terms (server tools, Files API sources, block types it does not know). Its rule for the
 * rest — documented in the README — is:
 *   - top-level fields other than those read below are dropped (newer API features the target cannot
 *     honour: context management, output config but its JSON-schema format, container, service tier, …);
 *   - `output_config.format` (structured outputs: a JSON schema) becomes `response_format: json_schema`;
 *   - fields of known blocks with no OpenAI equivalent are dropped (`cache_control`, `citations`, …);
 *   - `thinking` and `redacted_thinking` blocks in the conversation are dropped (their signatures only
 *     verify at Anthropic), and so are the `thinking` and `top_k` request settings;
 *   - a `tool_result` with `is_error: true` reaches the model as text starting "Error: ", and images in
 *     a tool result follow the tool messages in a user message (OpenAI tool messages carry text only).
 */
import { z } from 'zod';
import { GatewayError } from '../errors.js';
import { fromAnthropicToolChoice } from '../providers/anthropic-mapping.js';
import type { JsonObject } from '../providers/types.js';
import { formatParam, MAX_MODEL_NAME_LENGTH } from '../proxy/request-schemas.js';

const block = z.looseObject({ type: z.string() });
const content = z.union([z.string(), z.array(block)]);

const schema = z.looseObject({
  model: z.string().min(1).max(MAX_MODEL_NAME_LENGTH),
  max_tokens: z.number().int().min(1),
  messages: z.array(z.looseObject({ role: z.enum(['user', 'assistant', 'system']), content })).min(1),
  system: z.union([z.string(), z.array(block)]).optional(),
  stream: z.boolean().optional(),
  stop_sequences: z.array(z.string()).optional(),
  temperature: z.number().min(0).optional(),
  top_p: z.number().min(0).max(1).optional(),
  top_k: z.number().int().min(0).optional(),
  metadata: z.looseObject({ user_id: z.string().nullable().optional() }).optional(),
  tools: z.array(z.looseObject({ name: z.string().optional(), type: z.string().nullable().optional() })).optional(),
  tool_choice: z.looseObject({ type: z.enum(['auto', 'any', 'tool', 'none']), name: z.string().optional() }).optional(),
  thinking: z.looseObject({ type: z.string() }).optional(),
});

export type MessagesBlock = JsonObject & { type: string };
export interface MessagesMessage {
  role: 'user' | 'assistant' | 'system';
  content: string | MessagesBlock[];
}

interface MessagesFields {
  model: string;
  messages: MessagesMessage[];
  system?: string | MessagesBlock[];
  stream?: boolean;
  stop_sequences?: string[];
  temperature?: number;
  top_p?: number;
  metadata?: { user_id?: string | null };
  tools?: (JsonObject & { name?: string; type?: string | null })[];
  tool_choice?: { type: string; name?: string; disable_parallel_tool_use?: unknown };
}

/** A validated Messages request: the fields the gateway reads are typed, the rest is carried untouched. */
export type MessagesRequest = JsonObject & MessagesFields & { max_tokens: number };
/** A validated token-counting request: a Messages request without max_tokens. */
export type CountTokensRequest = JsonObject & MessagesFields & { max_tokens?: number };

/** A token-counting request (POST /v1/messages/count_tokens) is a Messages request without max_tokens. */
const countTokensSchema = schema.extend({ max_tokens: z.number().int().min(1).optional() });

/** Validates a Messages request; a bad one is a 400 naming the field the way Anthropic does (`messages.0.content`). */
export function validateMessagesRequest(body: unknown): MessagesRequest {
  return validate(schema, body) as MessagesRequest;
}

export function validateCountTokensRequest(body: unknown): CountTokensRequest {
  return validate(countTokensSchema, body) as CountTokensRequest;
}

function validate(against: z.ZodType, body: unknown): JsonObject {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new GatewayError('invalid_request', 'request body must be a JSON object');
  }
  const result = against.safeParse(body);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const where = issue.path.length > 0 ? issue.path.map(String).join('.') : 'body';
    throw new GatewayError('invalid_request', `${where}: ${issue.message}`, { param: formatParam(issue.path) });
  }
  // The original object, not zod's copy: a pass-through sends it on with unknown fields and key order kept.
  return body as JsonObject;
}

/**
 * Receives what the translation could not express (a server tool, a Files API source, an unknown block
 * type…): the item is left out and translation goes on. Without one, the first such item throws.
 */
export type Untranslatable = (error: GatewayError) => void;

/** The Messages request as an OpenAI chat request, for targets that do not speak the Messages API. */
export function toChatRequest(request: MessagesRequest, untranslatable?: Untranslatable): JsonObject {
  const each = <T>(items: readonly T[], translate: (item: T, i: number) => void): void => {
    items.forEach((item, i) => {
      if (!untranslatable) return translate(item, i);
      try {
        translate(item, i);
      } catch (error) {
        if (!(error instanceof GatewayError)) throw error;
        untranslatable(error);
      }
    });
  };
  const messages: JsonObject[] = [];
  if (request.system !== undefined) {
    const system = systemContent(request.system, 'system', each);
    if (system !== undefined) messages.push({ role: 'system', content: system });
  }
  request.messages.forEach((message, i) => appendMessage(messages, message, `messages[${i}]`, each));

  const chat: JsonObject = { model: request.model, messages, max_tokens: request.max_tokens };
  if (request.stream === true) chat.stream = true;
  if (request.temperature !== undefined) chat.temperature = request.temperature;
  if (request.top_p !== undefined) chat.top_p = request.top_p;
  if (request.stop_sequences && request.stop_sequences.length > 0) chat.stop = request.stop_sequences;
  const user = request.metadata?.user_id;
  if (typeof user === 'string' && user.length > 0) chat.user = user;
  const schema = outputSchemaOf(request.output_config);
  if (schema) chat.response_format = { type: 'json_schema', json_schema: { name: 'output', schema } };
  const tools: JsonObject[] = [];
  each(request.tools ?? [], (tool, i) => tools.push(toFunctionTool(tool, `tools[${i}]`)));
  if (tools.length > 0) {
    chat.tools = tools;
    // OpenAI refuses tool_choice and parallel_tool_calls without tools.
    if (request.tool_choice) Object.assign(chat, fromAnthropicToolChoice(request.tool_choice));
  }
  return chat;
}

/** The JSON schema of Anthropic's structured outputs (`output_config.format`), when the request has one. */
function outputSchemaOf(config: unknown): JsonObject | undefined {
  const format = config !== null && typeof config === 'object' ? (config as JsonObject).format : undefined;
  if (format === null || typeof format !== 'object' || (format as JsonObject).type !== 'json_schema') return undefined;
  const schema = (format as JsonObject).schema;
  return schema !== null && typeof schema === 'object' && !Array.isArray(schema) ? (schema as JsonObject) : undefined;
}

/** Translates each item; with an Untranslatable callback, an item that cannot be is reported and skipped. */
type Each = <T>(items: readonly T[], translate: (item: T, i: number) => void) => void;

function fail(param: string, message: string): never {
  throw new GatewayError('invalid_request', `${param}: ${message}`, { param });
}

const ANTHROPIC_ONLY = 'it can only be routed to an anthropic provider';

function systemContent(system: string | MessagesBlock[], param: string, each: Each): string | JsonObject[] | undefined {
  if (typeof system === 'string') return system;
  const parts: JsonObject[] = [];
  each(system, (b, i) => parts.push(b.type === 'text' ? textPart(b, `${param}[${i}]`) : fail(`${param}[${i}].type`, `expected a text block, got '${b.type}'`)));
  return parts.length > 0 ? simplify(parts) : undefined;
}

function textPart(b: MessagesBlock, param: string): JsonObject {
  if (typeof b.text !== 'string') fail(`${param}.text`, 'expected a string');
  return { type: 'text', text: b.text };
}

/** One text part is sent as a plain string, which every OpenAI-compatible server reads. */
function simplify(parts: JsonObject[]): string | JsonObject[] {
  return parts.length === 1 && parts[0]!.type === 'text' ? (parts[0]!.text as string) : parts;
}

function appendMessage(out: JsonObject[], message: MessagesMessage, param: string, each: Each): void {
  if (typeof message.content === 'string') {
    out.push({ role: message.role, content: message.content });
    return;
  }
  const blocks = message.content;
  if (message.role === 'system') {
    const system = systemContent(blocks, `${param}.content`, each);
    if (system !== undefined) out.push({ role: 'system', content: system });
  } else if (message.role === 'assistant') {
    appendAssistant(out, blocks, `${param}.content`, each);
  } else {
    appendUser(out, blocks, `${param}.content`, each);
  }
}

function appendAssistant(out: JsonObject[], blocks: MessagesBlock[], param: string, each: Each): void {
  let text = '';
  const toolCalls: JsonObject[] = [];
  each(blocks, (b, i) => {
    const at = `${param}[${i}]`;
    switch (b.type) {
      case 'text':
        text += textPart(b, at).text as string;
        break;
      case 'tool_use':
        if (typeof b.id !== 'string' || typeof b.name !== 'string') fail(at, 'a tool_use block needs a string id and name');
        toolCalls.push({ id: b.id, type: 'function', function: { name: b.name, arguments: JSON.stringify(b.input ?? {}) } });
        break;
      case 'thinking':
      case 'redacted_thinking':
        break;
      default:
        unsupportedBlock(b, at);
    }
  });
  // A turn that was only thinking has nothing an OpenAI model can read.
  if (text === '' && toolCalls.length === 0) return;
  out.push({ role: 'assistant', content: text === '' ? null : text, ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}) });
}

/**
 * A user turn: its tool results become tool messages (which must directly follow the assistant's tool
 * calls), then the rest of the turn — and any images the tool results held — one user message.
 */
function appendUser(out: JsonObject[], blocks: MessagesBlock[], param: string, each: Each): void {
  const parts: JsonObject[] = [];
  const toolMessages: JsonObject[] = [];
  const toolParts: JsonObject[] = [];
  each(blocks, (b, i) => {
    const at = `${param}[${i}]`;
    if (b.type === 'tool_result') toolMessages.push(toolMessage(b, at, toolParts));
    else if (b.type === 'thinking' || b.type === 'redacted_thinking') return;
    else parts.push(...userParts(b, at));
  });
  out.push(...toolMessages);
  const all = [...toolParts, ...parts];
  if (all.length > 0) out.push({ role: 'user', content: simplify(all) });
}

function toolMessage(b: MessagesBlock, param: string, otherParts: JsonObject[]): JsonObject {
  if (typeof b.tool_use_id !== 'string') fail(`${param}.tool_use_id`, 'expected a string');
  let text = '';
  if (typeof b.content === 'string') text = b.content;
  else if (Array.isArray(b.content)) {
    (b.content as MessagesBlock[]).forEach((inner, i) => {
      for (const part of userParts(inner, `${param}.content[${i}]`)) {
        if (part.type === 'text') text += (text ? '\n' : '') + (part.text as string);
        else otherParts.push(part);
      }
    });
  } else if (b.content !== undefined) fail(`${param}.content`, 'expected a string or an array of blocks');
  return { role: 'tool', tool_call_id: b.tool_use_id, content: b.is_error === true ? `Error: ${text}` : text };
}

/** The OpenAI content parts for one block of a user turn (or of a tool result's content). */
function userParts(b: MessagesBlock, param: string): JsonObject[] {
  // Nested blocks (a tool result's, a document's) are not checked by validation: anything may be here.
  if (typeof b !== 'object' || b === null || typeof b.type !== 'string') fail(param, 'expected a content block with a type');
  switch (b.type) {
    case 'text':
      return [textPart(b, param)];
    case 'image':
      return [imagePart(b, param)];
    case 'document':
      return documentParts(b, param);
    default:
      return unsupportedBlock(b, param);
  }
}

function sourceOf(b: MessagesBlock, param: string): JsonObject & { type: string } {
  const source = b.source as (JsonObject & { type?: unknown }) | undefined;
  if (!source || typeof source.type !== 'string') fail(`${param}.source`, 'expected an object with a type');
  return source as JsonObject & { type: string };
}

function imagePart(b: MessagesBlock, param: string): JsonObject {
  const source = sourceOf(b, param);
  if (source.type === 'base64' && typeof source.media_type === 'string' && typeof source.data === 'string') {
    return { type: 'image_url', image_url: { url: `data:${source.media_type};base64,${source.data}` } };
  }
  if (source.type === 'url' && typeof source.url === 'string') return { type: 'image_url', image_url: { url: source.url } };
  return fail(`${param}.source`, `an image source of type '${source.type}' cannot be translated; ${ANTHROPIC_ONLY}`);
}

function documentParts(b: MessagesBlock, param: string): JsonObject[] {
  const source = sourceOf(b, param);
  switch (source.type) {
    case 'base64':
      if (typeof source.data !== 'string') fail(`${param}.source.data`, 'expected a string');
      // OpenAI's file content part takes a PDF as a data URL.
      return [{ type: 'file', file: { filename: typeof b.title === 'string' ? b.title : 'document.pdf', file_data: `data:${String(source.media_type ?? 'application/pdf')};base64,${source.data}` } }];
    case 'text':
      if (typeof source.data !== 'string') fail(`${param}.source.data`, 'expected a string');
      return [{ type: 'text', text: source.data }];
    case 'content':
      if (typeof source.content === 'string') return [{ type: 'text', text: source.content }];
      if (!Array.isArray(source.content)) fail(`${param}.source.content`, 'expected a string or an array of blocks');
      return (source.content as MessagesBlock[]).flatMap((inner, i) => userParts(inner, `${param}.source.content[${i}]`));
    default:
      return fail(`${param}.source`, `a document source of type '${source.type}' cannot be translated; ${ANTHROPIC_ONLY}`);
  }
}

function unsupportedBlock(b: MessagesBlock, param: string): never {
  return fail(`${param}.type`, `a '${b.type}' block cannot be translated for this target; ${ANTHROPIC_ONLY}`);
}

/** A custom tool as an OpenAI function tool; Anthropic-defined tools (server tools, bash, computer use, …) have no translation. */
function toFunctionTool(tool: JsonObject & { name?: string; type?: string | null }, param: string): JsonObject {
  if (tool.type != null && tool.type !== 'custom') {
    fail(`${param}.type`, `'${tool.type}' is an Anthropic-defined tool; ${ANTHROPIC_ONLY}`);
  }
  if (typeof tool.name !== 'string') fail(`${param}.name`, 'expected a string');
  const fn: JsonObject = { name: tool.name, parameters: tool.input_schema ?? { type: 'object', properties: {} } };
  if (typeof tool.description === 'string') fn.description = tool.description;
  if (typeof tool.strict === 'boolean') fn.strict = tool.strict;
  return { type: 'function', function: fn };
}
