/**
 * A Responses API request as the gateway's canonical chat request, for providers that do not serve the
 * Responses API themselves. Items become messages (`function_call` items join their assistant turn as
 * tool calls, `function_call_output` items become tool messages), `instructions` the first system
 * message, function tools chat tools — tools grouped under a namespace flattened to `<namespace>__<name>`
 * and mapped back on the way out — `text.format` the response format, `max_output_tokens` max_tokens,
 * `reasoning.effort` reasoning_effort. What chat cannot carry is left out: hosted tools (named in
 * `droppedTools`), reasoning items and hosted tools' call items from earlier turns, item references.
 */
import type { JsonObject } from '../providers/types.js';
import type { ResponsesInputItem, ResponsesRequest } from './responses-request.js';

/** A flattened namespace tool's chat name → how the client names it. */
export type ToolNames = ReadonlyMap<string, { name: string; namespace: string }>;

export interface ChatTranslation {
  body: JsonObject & { model: string };
  droppedTools: string[];
  names: ToolNames;
}

const NAMESPACE_SEPARATOR = '__';

export function flatName(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}${NAMESPACE_SEPARATOR}${name}` : name;
}

export function toChatRequest(request: ResponsesRequest, items: readonly ResponsesInputItem[]): ChatTranslation {
  const messages: JsonObject[] = [];
  if (typeof request.instructions === 'string' && request.instructions) messages.push({ role: 'system', content: request.instructions });
  appendItems(messages, items);

  const body: JsonObject & { model: string } = { model: request.model, messages };
  const names = new Map<string, { name: string; namespace: string }>();
  const dropped = new Set<string>();
  const tools = chatTools(request.tools ?? [], names, dropped);
  if (tools.length > 0) {
    body.tools = tools;
    const choice = chatToolChoice(request.tool_choice);
    if (choice !== undefined) body.tool_choice = choice;
    if (typeof request.parallel_tool_calls === 'boolean') body.parallel_tool_calls = request.parallel_tool_calls;
  }
  const format = request.text?.format;
  if (format?.type === 'json_object') body.response_format = { type: 'json_object' };
  else if (format?.type === 'json_schema') {
    const { type: _type, ...schema } = format;
    body.response_format = { type: 'json_schema', json_schema: schema };
  }
  if (typeof request.max_output_tokens === 'number') body.max_tokens = request.max_output_tokens;
  if (typeof request.temperature === 'number') body.temperature = request.temperature;
  if (typeof request.top_p === 'number') body.top_p = request.top_p;
  const effort = (request.reasoning as { effort?: unknown } | null | undefined)?.effort;
  if (typeof effort === 'string') body.reasoning_effort = effort;
  const user = request.user ?? request.safety_identifier;
  if (typeof user === 'string') body.user = user;
  if (request.stream === true) body.stream = true;
  if (typeof request.top_logprobs === 'number' && request.top_logprobs > 0) {
    body.logprobs = true;
    body.top_logprobs = request.top_logprobs;
  }
  return { body, droppedTools: [...dropped], names };
}

function appendItems(messages: JsonObject[], items: readonly ResponsesInputItem[]): void {
  for (const item of items) {
    const type = item.type ?? 'message';
    if (type === 'message') {
      const role = item.role === 'developer' ? 'system' : String(item.role);
      messages.push({ role, content: role === 'assistant' ? textOf(item.content) : chatContent(item.content) });
    } else if (type === 'function_call') {
      const call = {
        id: item.call_id,
        type: 'function',
        function: { name: flatName(item.namespace as string | undefined, String(item.name)), arguments: String(item.arguments ?? '') },
      };
      // Calls join the assistant turn they belong to: the text just before them, or calls just before.
      const last = messages.at(-1);
      if (last?.role === 'assistant') {
        const calls = (last.tool_calls as JsonObject[] | undefined) ?? [];
        calls.push(call);
        last.tool_calls = calls;
        if (last.content === '') last.content = null;
      } else messages.push({ role: 'assistant', content: null, tool_calls: [call] });
    } else if (type === 'function_call_output') {
      messages.push({ role: 'tool', tool_call_id: item.call_id, content: textOf(item.output) });
    }
    // Reasoning items, hosted tools' calls and item references have no chat form: left out.
  }
}

/**
 * Input content as chat content parts (text, images, files). Text alone becomes a plain string: many
 * self-hosted servers' chat templates take nothing else (for system messages above all).
 */
function chatContent(content: unknown): unknown {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  const parts: JsonObject[] = [];
  for (const part of content as JsonObject[]) {
    switch (part?.type) {
      case 'input_text':
      case 'output_text':
      case 'text':
        parts.push({ type: 'text', text: String(part.text ?? '') });
        break;
      case 'refusal':
        parts.push({ type: 'text', text: String(part.refusal ?? '') });
        break;
      case 'input_image':
        if (typeof part.image_url === 'string') {
          parts.push({ type: 'image_url', image_url: { url: part.image_url, ...(typeof part.detail === 'string' ? { detail: part.detail } : {}) } });
        }
        break;
      case 'input_file': {
        const file: JsonObject = {};
        if (typeof part.file_data === 'string') file.file_data = part.file_data;
        if (typeof part.file_id === 'string') file.file_id = part.file_id;
        if (typeof part.filename === 'string') file.filename = part.filename;
        if (file.file_data !== undefined || file.file_id !== undefined) parts.push({ type: 'file', file });
        break;
      }
      case 'input_audio':
        parts.push({ type: 'input_audio', input_audio: part.input_audio });
        break;
    }
  }
  return parts.every((part) => part.type === 'text') ? parts.map((part) => part.text).join('') : parts;
}

/** The text of content given as a string or as parts (tool outputs, assistant turns). */
export function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  let text = '';
  for (const part of content as JsonObject[]) {
    if (typeof part?.text === 'string') text += part.text;
    else if (typeof part?.refusal === 'string') text += part.refusal;
  }
  return text;
}

function chatTools(tools: readonly JsonObject[], names: Map<string, { name: string; namespace: string }>, dropped: Set<string>): JsonObject[] {
  const out: JsonObject[] = [];
  const addFunction = (tool: JsonObject, namespace: string | undefined): void => {
    const name = flatName(namespace, String(tool.name));
    if (namespace) names.set(name, { name: String(tool.name), namespace });
    const fn: JsonObject = { name };
    if (typeof tool.description === 'string') fn.description = tool.description;
    fn.parameters = tool.parameters ?? { type: 'object', properties: {} };
    if (typeof tool.strict === 'boolean') fn.strict = tool.strict;
    out.push({ type: 'function', function: fn });
  };
  for (const tool of tools) {
    if (tool.type === 'function') addFunction(tool, undefined);
    else if (tool.type === 'namespace') {
      for (const inner of (tool.tools as JsonObject[]) ?? []) {
        if (inner.type === 'function') addFunction(inner, String(tool.name));
        else dropped.add(String(inner.type));
      }
    } else dropped.add(String(tool.type));
  }
  return out;
}

function chatToolChoice(choice: ResponsesRequest['tool_choice']): unknown {
  if (choice === undefined || typeof choice === 'string') return choice;
  if (choice.type === 'function' && typeof choice.name === 'string') {
    return { type: 'function', function: { name: flatName(choice.namespace as string | undefined, choice.name) } };
  }
  if (choice.type === 'allowed_tools') return choice.mode === 'required' ? 'required' : 'auto';
  // A hosted tool was asked for: it is not among a translated provider's tools.
  return 'auto';
}
