/**
 * The Responses API's `response` object: ids, the echo of the request every response carries (OpenAI's
 * field set and defaults), and a chat completion translated into one — output items (`message` with
 * `output_text`, `function_call`, `reasoning` when the provider returned reasoning text), status and
 * `incomplete_details` from the finish reason, and usage in the Responses API's terms.
 */
import { randomBytes } from 'node:crypto';
import type { JsonObject } from '../providers/types.js';
import type { ResponsesRequest } from './responses-request.js';
import type { ToolNames } from './responses-to-chat.js';

/** `resp_…`, `msg_…`, `fc_…`, `rs_…`: OpenAI's id shape (a prefix and 48 hex digits). */
export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(24).toString('hex')}`;
}

export type ResponseStatus = 'in_progress' | 'completed' | 'incomplete' | 'failed';

/**
 * A response object for `request`, without output: what `response.created` carries, and the frame the
 * finished object fills in. Field order and defaults follow what OpenAI's API returns.
 */
export function responseShell(request: ResponsesRequest, id: string, createdAt: number, status: ResponseStatus): JsonObject {
  const reasoning = (request.reasoning ?? {}) as JsonObject;
  return {
    id,
    object: 'response',
    created_at: createdAt,
    status,
    background: false,
    completed_at: null,
    error: null,
    incomplete_details: null,
    instructions: request.instructions ?? null,
    max_output_tokens: request.max_output_tokens ?? null,
    max_tool_calls: request.max_tool_calls ?? null,
    model: request.model,
    output: [],
    parallel_tool_calls: request.parallel_tool_calls ?? true,
    previous_response_id: request.previous_response_id ?? null,
    prompt_cache_key: request.prompt_cache_key ?? null,
    reasoning: { effort: reasoning.effort ?? null, summary: reasoning.summary ?? null },
    safety_identifier: request.safety_identifier ?? null,
    service_tier: 'default',
    store: request.store ?? true,
    temperature: request.temperature ?? 1,
    text: { format: { type: 'text' }, verbosity: 'medium', ...request.text },
    tool_choice: request.tool_choice ?? 'auto',
    tools: request.tools ?? [],
    top_logprobs: request.top_logprobs ?? 0,
    top_p: request.top_p ?? 1,
    truncation: request.truncation ?? 'disabled',
    // `usage` is set once known; `user` only when given (neither is nullable in OpenAI's schema).
    ...(typeof request.user === 'string' ? { user: request.user } : {}),
    metadata: request.metadata ?? {},
  };
}

/**
 * What the client asked, put back on a response a provider produced natively: the gateway's own id (the
 * key its conversation is stored under: a provider's ids need not be unique — a self-hosted server may
 * repeat them — and are never sent back, since the provider is sent `store: false` and the whole
 * conversation), the model the client named, and the state fields the gateway handled itself (it expands
 * `previous_response_id` into the input).
 */
export function echoRequest(response: JsonObject, request: ResponsesRequest, id: string): JsonObject {
  response.id = id;
  response.model = request.model;
  response.instructions = request.instructions ?? null;
  response.store = request.store ?? true;
  response.previous_response_id = request.previous_response_id ?? null;
  if ('metadata' in response || request.metadata) response.metadata = request.metadata ?? {};
  return response;
}

/** The finished response's status, and why it is incomplete, from a chat finish reason. */
export function finishStatus(finishReason: unknown): { status: ResponseStatus; incomplete: JsonObject | null } {
  if (finishReason === 'length') return { status: 'incomplete', incomplete: { reason: 'max_output_tokens' } };
  if (finishReason === 'content_filter') return { status: 'incomplete', incomplete: { reason: 'content_filter' } };
  return { status: 'completed', incomplete: null };
}

/** Chat usage in the Responses API's terms. */
export function responsesUsage(usage: unknown): JsonObject | undefined {
  if (!usage || typeof usage !== 'object') return undefined;
  const u = usage as {
    prompt_tokens?: number;
    completion_tokens?: number;
    total_tokens?: number;
    prompt_tokens_details?: { cached_tokens?: number };
    completion_tokens_details?: { reasoning_tokens?: number };
    cache_creation_input_tokens?: number;
  };
  if (typeof u.prompt_tokens !== 'number') return undefined;
  const input = u.prompt_tokens;
  const output = u.completion_tokens ?? 0;
  return {
    input_tokens: input,
    input_tokens_details: { cached_tokens: u.prompt_tokens_details?.cached_tokens ?? 0, cache_write_tokens: u.cache_creation_input_tokens ?? 0 },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: u.completion_tokens_details?.reasoning_tokens ?? 0 },
    total_tokens: u.total_tokens ?? input + output,
  };
}

export function messageItem(id: string, text: string, status: string, refusal?: string): JsonObject {
  const content: JsonObject[] = [];
  if (text || refusal === undefined) content.push({ type: 'output_text', annotations: [], logprobs: [], text });
  if (refusal !== undefined) content.push({ type: 'refusal', refusal });
  return { id, type: 'message', status, content, role: 'assistant' };
}

export function functionCallItem(id: string, callId: string, chatName: string, args: string, status: string, names: ToolNames): JsonObject {
  const mapped = names.get(chatName);
  return {
    id,
    type: 'function_call',
    status,
    arguments: args,
    call_id: callId,
    ...(mapped ? { namespace: mapped.namespace, name: mapped.name } : { name: chatName }),
  };
}

export function reasoningItem(id: string, text: string, status: string): JsonObject {
  return { id, type: 'reasoning', summary: [], content: [{ type: 'reasoning_text', text }], status };
}

/** Reasoning text a chat answer carried (vLLM, SGLang, DeepSeek: `reasoning_content`; others: `reasoning`). */
export function reasoningText(message: JsonObject): string {
  const text = message.reasoning_content ?? message.reasoning;
  return typeof text === 'string' ? text : '';
}

/** A chat completion (canonical answer of a translated attempt) as the response to `shell`'s request. */
export function fromChatCompletion(completion: JsonObject, shell: JsonObject, names: ToolNames): JsonObject {
  const choice = ((completion.choices as JsonObject[] | undefined) ?? [])[0] ?? {};
  const message = (choice.message as JsonObject | undefined) ?? {};
  const { status, incomplete } = finishStatus(choice.finish_reason);
  const itemStatus = status === 'completed' ? 'completed' : 'incomplete';
  const output: JsonObject[] = [];
  const reasoning = reasoningText(message);
  if (reasoning) output.push(reasoningItem(newId('rs'), reasoning, itemStatus));
  const text = typeof message.content === 'string' ? message.content : '';
  const refusal = typeof message.refusal === 'string' && message.refusal ? message.refusal : undefined;
  const calls = (message.tool_calls as JsonObject[] | undefined) ?? [];
  if (text || refusal !== undefined || calls.length === 0) output.push(messageItem(newId('msg'), text, itemStatus, refusal));
  for (const call of calls) {
    const fn = (call.function as JsonObject | undefined) ?? {};
    output.push(functionCallItem(newId('fc'), String(call.id ?? newId('call')), String(fn.name ?? ''), String(fn.arguments ?? ''), 'completed', names));
  }
  return finished(shell, status, incomplete, output, responsesUsage(completion.usage));
}

/** The shell completed: status, output, usage, completion time. */
export function finished(shell: JsonObject, status: ResponseStatus, incomplete: JsonObject | null, output: JsonObject[], usage: JsonObject | undefined): JsonObject {
  const response: JsonObject = { ...shell, status, incomplete_details: incomplete, output };
  if (usage) response.usage = usage;
  if (status === 'completed') response.completed_at = Math.floor(Date.now() / 1000);
  return response;
}

/** The text a response's output carries: messages' text and refusals, and function-call arguments. */
export function responseText(response: JsonObject): string {
  let text = '';
  for (const item of (response.output as JsonObject[] | undefined) ?? []) {
    if (item.type === 'message') {
      for (const part of (item.content as JsonObject[] | undefined) ?? []) {
        if (typeof part.text === 'string') text += part.text;
        else if (typeof part.refusal === 'string') text += part.refusal;
      }
    } else if (item.type === 'function_call' && typeof item.arguments === 'string') text += item.arguments;
  }
  return text;
}
