/**
 * OpenAI chat ⇄ Anthropic Messages API (version header 2023-06-01): the request, the response, and the
 * mapping tables (finish reasons, errors). Plain data in, plain data out.
 */
import { upstreamError, type GatewayError } from '../errors.js';
import {
  contentParts,
  contentText,
  maxTokensOf,
  parseArguments,
  stopSequences,
  TurnList,
  type ContentPart,
  type OpenAIMessage,
  type OpenAIToolCall,
} from './openai-content.js';
import type { JsonObject } from './types.js';

export const ANTHROPIC_VERSION = '2023-06-01';

type AnthropicBlock = JsonObject & { type: string };
interface AnthropicMessage {
  role: 'user' | 'assistant';
  content: AnthropicBlock[];
}

export const FINISH_REASONS: Record<string, string> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  pause_turn: 'stop',
  max_tokens: 'length',
  model_context_window_exceeded: 'length',
  tool_use: 'tool_calls',
  refusal: 'content_filter',
};

/**
 * The inverse, for OpenAI-shaped answers rendered in Anthropic's shape (the /v1/messages endpoint): one
 * stop reason per finish reason. `pause_turn` and `model_context_window_exceeded` have no OpenAI source.
 */
export const STOP_REASONS: Record<string, string> = {
  stop: 'end_turn',
  length: 'max_tokens',
  tool_calls: 'tool_use',
  function_call: 'tool_use',
  content_filter: 'refusal',
};

export function finishReason(stopReason: unknown): string | null {
  if (typeof stopReason !== 'string') return null;
  return FINISH_REASONS[stopReason] ?? 'stop';
}

function imageBlock(part: Extract<ContentPart, { kind: 'image' }>): AnthropicBlock {
  const { image } = part;
  return image.kind === 'base64'
    ? { type: 'image', source: { type: 'base64', media_type: image.mediaType, data: image.data } }
    : { type: 'image', source: { type: 'url', url: image.url } };
}

function userBlocks(content: unknown): AnthropicBlock[] {
  return contentParts(content).map((part) => {
    if (part.kind === 'text') return { type: 'text', text: part.text };
    // Anthropic reads PDFs (and plain text) as document blocks.
    if (part.kind === 'file') return { type: 'document', source: { type: 'base64', media_type: part.mediaType, data: part.data } };
    return imageBlock(part);
  });
}

function assistantBlocks(message: OpenAIMessage): AnthropicBlock[] {
  const blocks: AnthropicBlock[] = [];
  const text = contentText(message.content);
  if (text) blocks.push({ type: 'text', text });
  for (const call of message.tool_calls ?? []) {
    blocks.push({ type: 'tool_use', id: call.id, name: call.function.name, input: parseArguments(call.function.arguments) });
  }
  return blocks;
}

export function toAnthropicRequest(body: JsonObject, model: string, defaultMaxTokens: number, stream: boolean): JsonObject {
  const system: string[] = [];
  // Anthropic wants user/assistant turns; consecutive messages of one role merge into one turn.
  const turns = new TurnList<AnthropicMessage['role'], AnthropicBlock>();
  const push = turns.push.bind(turns);
  for (const message of (body.messages as OpenAIMessage[]) ?? []) {
    switch (message.role) {
      case 'system':
      case 'developer':
        system.push(contentText(message.content));
        break;
      case 'assistant':
        push('assistant', assistantBlocks(message));
        break;
      case 'tool':
        push('user', [{ type: 'tool_result', tool_use_id: message.tool_call_id ?? '', content: contentText(message.content) }]);
        break;
      default:
        push('user', userBlocks(message.content));
    }
  }

  const messages: AnthropicMessage[] = turns.turns.map(({ role, items }) => ({ role, content: items }));
  const request: JsonObject = { model, max_tokens: maxTokensOf(body) ?? defaultMaxTokens, messages };
  if (system.length > 0) request.system = system.join('\n\n');
  if (typeof body.temperature === 'number') request.temperature = body.temperature;
  if (typeof body.top_p === 'number') request.top_p = body.top_p;
  const stop = stopSequences(body.stop);
  if (stop) request.stop_sequences = stop;
  if (typeof body.user === 'string') request.metadata = { user_id: body.user };
  if (stream) request.stream = true;
  if (Array.isArray(body.tools) && body.tools.length > 0) {
    request.tools = (body.tools as { function?: { name: string; description?: string; parameters?: unknown } }[])
      .filter((tool) => tool.function)
      .map(({ function: fn }) => ({
        name: fn!.name,
        ...(fn!.description ? { description: fn!.description } : {}),
        input_schema: fn!.parameters ?? { type: 'object', properties: {} },
      }));
  }
  const toolChoice = toAnthropicToolChoice(body.tool_choice, body.parallel_tool_calls);
  if (toolChoice) request.tool_choice = toolChoice;
  const schema = jsonSchemaOf(body.response_format);
  // Anthropic's structured outputs (`output_config.format`); `json_object` has no Anthropic form.
  if (schema) request.output_config = { format: { type: 'json_schema', schema } };
  return request;
}

/** The schema of OpenAI's `response_format: {type: "json_schema", json_schema: {schema}}`, if that is what it is. */
function jsonSchemaOf(format: unknown): JsonObject | undefined {
  if (format === null || typeof format !== 'object' || (format as JsonObject).type !== 'json_schema') return undefined;
  const schema = ((format as JsonObject).json_schema as JsonObject | undefined)?.schema;
  return schema !== null && typeof schema === 'object' && !Array.isArray(schema) ? (schema as JsonObject) : undefined;
}

/** OpenAI's tool_choice strings and the Anthropic tool_choice types they are. */
const TOOL_CHOICE_TYPES: Record<string, string> = { auto: 'auto', required: 'any', none: 'none' };
const TOOL_CHOICE_STRINGS: Record<string, string> = Object.fromEntries(Object.entries(TOOL_CHOICE_TYPES).map(([openai, type]) => [type, openai]));

export function toAnthropicToolChoice(choice: unknown, parallel: unknown): JsonObject | undefined {
  let mapped: JsonObject | undefined;
  if (typeof choice === 'string' && TOOL_CHOICE_TYPES[choice]) mapped = { type: TOOL_CHOICE_TYPES[choice] };
  else if (choice && typeof choice === 'object') {
    const name = (choice as { function?: { name?: unknown } }).function?.name;
    if (typeof name === 'string') mapped = { type: 'tool', name };
  }
  if (parallel === false) mapped = { ...(mapped ?? { type: 'auto' }), disable_parallel_tool_use: true };
  return mapped;
}

/**
 * The inverse: Anthropic's `tool_choice` as OpenAI's `tool_choice` and `parallel_tool_calls`. Undefined
 * fields are not set; an unknown type is left to the caller to refuse.
 */
export function fromAnthropicToolChoice(choice: { type?: unknown; name?: unknown; disable_parallel_tool_use?: unknown }): {
  tool_choice?: unknown;
  parallel_tool_calls?: boolean;
} {
  const type = String(choice.type);
  const mapped: { tool_choice?: unknown; parallel_tool_calls?: boolean } = {};
  if (TOOL_CHOICE_STRINGS[type]) mapped.tool_choice = TOOL_CHOICE_STRINGS[type];
  else if (type === 'tool' && typeof choice.name === 'string') mapped.tool_choice = { type: 'function', function: { name: choice.name } };
  if (choice.disable_parallel_tool_use === true) mapped.parallel_tool_calls = false;
  return mapped;
}

export function toOpenAIUsage(usage: unknown): JsonObject | undefined {
  if (!usage || typeof usage !== 'object') return undefined;
  const u = usage as Record<string, number | undefined>;
  const cacheRead = u.cache_read_input_tokens ?? 0;
  const cacheWrite = u.cache_creation_input_tokens ?? 0;
  const prompt = (u.input_tokens ?? 0) + cacheRead + cacheWrite;
  const completion = u.output_tokens ?? 0;
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: cacheRead },
    cache_read_input_tokens: cacheRead,
    cache_creation_input_tokens: cacheWrite,
  };
}

export interface AnthropicUsage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
}

/**
 * The inverse of toOpenAIUsage: OpenAI's prompt tokens include cached ones, Anthropic's input tokens do
 * not (cache reads and writes are counted apart). Missing counts are zero.
 */
export function toAnthropicUsage(usage: unknown): AnthropicUsage {
  const u = (usage && typeof usage === 'object' ? usage : {}) as Record<string, unknown>;
  const count = (value: unknown): number => (typeof value === 'number' && value > 0 ? value : 0);
  const cacheRead = count(u.cache_read_input_tokens ?? (u.prompt_tokens_details as { cached_tokens?: unknown } | undefined)?.cached_tokens);
  const cacheWrite = count(u.cache_creation_input_tokens);
  return {
    input_tokens: Math.max(0, count(u.prompt_tokens) - cacheRead - cacheWrite),
    output_tokens: count(u.completion_tokens),
    cache_creation_input_tokens: cacheWrite,
    cache_read_input_tokens: cacheRead,
  };
}

export function toOpenAIResponse(message: JsonObject, model: string): JsonObject {
  const blocks = (message.content as AnthropicBlock[]) ?? [];
  const text = blocks.filter((b) => b.type === 'text').map((b) => b.text as string).join('');
  const toolCalls: OpenAIToolCall[] = blocks
    .filter((b) => b.type === 'tool_use')
    .map((b) => ({ id: b.id as string, type: 'function', function: { name: b.name as string, arguments: JSON.stringify(b.input ?? {}) } }));
  return {
    id: message.id,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: text || (toolCalls.length > 0 ? null : ''), refusal: null, ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}) },
        logprobs: null,
        finish_reason: finishReason(message.stop_reason) ?? 'stop',
      },
    ],
    usage: toOpenAIUsage(message.usage),
  };
}

/** Anthropic error type → OpenAI error type, and whether another attempt may succeed. */
export const ERROR_TYPES: Record<string, { type: string; retryable: boolean }> = {
  invalid_request_error: { type: 'invalid_request_error', retryable: false },
  authentication_error: { type: 'authentication_error', retryable: false },
  permission_error: { type: 'permission_error', retryable: false },
  not_found_error: { type: 'invalid_request_error', retryable: false },
  request_too_large: { type: 'invalid_request_error', retryable: false },
  rate_limit_error: { type: 'rate_limit_error', retryable: true },
  api_error: { type: 'server_error', retryable: true },
  overloaded_error: { type: 'server_error', retryable: true },
  timeout_error: { type: 'server_error', retryable: true },
};

/** Anthropic's error type for each HTTP status it documents (other 4xx are `invalid_request_error`). */
export const STATUS_ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  504: 'timeout_error',
  529: 'overloaded_error',
};

/** The status Anthropic answers each of its error types with. */
export const ERROR_TYPE_STATUSES: Record<string, number> = Object.fromEntries(
  Object.entries(STATUS_ERROR_TYPES).map(([status, type]) => [type, Number(status)]),
);

/** An Anthropic error (from a status + body, or a stream `error` event) as a gateway error. */
export function toGatewayError(status: number, body: unknown, retryAfterMs: number | undefined, providerName: string): GatewayError {
  const error = (body as { error?: { type?: unknown; message?: unknown } } | undefined)?.error;
  const anthropicType = typeof error?.type === 'string' ? error.type : (STATUS_ERROR_TYPES[status] ?? 'api_error');
  const mapped = ERROR_TYPES[anthropicType] ?? { type: status >= 500 ? 'server_error' : 'invalid_request_error', retryable: status >= 500 };
  const message = typeof error?.message === 'string' ? error.message : `provider '${providerName}' answered HTTP ${status}`;
  return upstreamError(status, { error: { message, type: mapped.type, param: null, code: anthropicType } }, mapped.retryable, retryAfterMs);
}
