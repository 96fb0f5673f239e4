/**
 * A complete answer's conversions between its two forms: a streamed answer assembled into one JSON
 * response, and a JSON answer replayed to a streaming client as synthesized chunks (usage apart, so it is
 * sent only when asked for). What the cache keeps is stored-answer.ts's text; these run on the way out.
 */
import { isUsageOnlyChunk } from '../telemetry/usage.js';
import type { JsonObject, Operation } from '../providers/types.js';

export interface CachedAnswer {
  /** The non-streaming response, usage included when known. */
  json: JsonObject;
  /** Content chunks exactly as streamed (without the usage chunk), when the answer was streamed. */
  chunks?: JsonObject[];
}

export function answerFromJson(json: JsonObject): CachedAnswer {
  return { json };
}

export function answerFromStream(operation: Operation, chunks: readonly JsonObject[]): CachedAnswer {
  const content = chunks.filter((chunk) => !isUsageOnlyChunk(chunk));
  const usage = chunks.find((chunk) => chunk.usage)?.usage;
  return { json: assemble(operation, content, usage), chunks: content };
}

/** The SSE chunks to replay for this answer; a usage chunk is added only when the client asked for it. */
export function replayChunks(operation: Operation, answer: CachedAnswer, includeUsage: boolean): JsonObject[] {
  const chunks = answer.chunks ?? synthesizeChunks(operation, answer.json);
  const usage = answer.json.usage;
  if (!includeUsage || !usage) return chunks;
  const first = chunks[0] ?? {};
  return [...chunks, { id: first.id, object: first.object, created: first.created, model: first.model, choices: [], usage }];
}


interface ToolCallAccumulator {
  id?: unknown;
  type: unknown;
  function: { name: unknown; arguments: string };
}

interface ChoiceAccumulator {
  index: number;
  role: string;
  text: string;
  refusal: string | null;
  toolCalls: ToolCallAccumulator[];
  finishReason: unknown;
}

function assemble(operation: Operation, chunks: readonly JsonObject[], usage: unknown): JsonObject {
  const first = chunks[0] ?? {};
  const choices = new Map<number, ChoiceAccumulator>();
  for (const chunk of chunks) {
    for (const raw of (chunk.choices as JsonObject[] | undefined) ?? []) {
      const index = typeof raw.index === 'number' ? raw.index : 0;
      let choice = choices.get(index);
      if (!choice) {
        choice = { index, role: 'assistant', text: '', refusal: null, toolCalls: [], finishReason: null };
        choices.set(index, choice);
      }
      if (raw.finish_reason) choice.finishReason = raw.finish_reason;
      if (operation === 'completions') {
        if (typeof raw.text === 'string') choice.text += raw.text;
        continue;
      }
      const delta = (raw.delta as JsonObject | undefined) ?? {};
      if (typeof delta.role === 'string') choice.role = delta.role;
      if (typeof delta.content === 'string') choice.text += delta.content;
      if (typeof delta.refusal === 'string') choice.refusal = (choice.refusal ?? '') + delta.refusal;
      for (const call of (delta.tool_calls as JsonObject[] | undefined) ?? []) {
        const at = typeof call.index === 'number' ? call.index : 0;
        const fn = (call.function as JsonObject | undefined) ?? {};
        const existing = (choice.toolCalls[at] ??= { type: 'function', function: { name: undefined, arguments: '' } });
        if (call.id) existing.id = call.id;
        if (call.type) existing.type = call.type;
        if (fn.name) existing.function.name = fn.name;
        if (typeof fn.arguments === 'string') existing.function.arguments += fn.arguments;
      }
    }
  }
  const sorted = [...choices.values()].sort((a, b) => a.index - b.index);
  const base: JsonObject = {
    id: first.id,
    object: operation === 'completions' ? 'text_completion' : 'chat.completion',
    created: first.created,
    model: first.model,
  };
  if (first.system_fingerprint) base.system_fingerprint = first.system_fingerprint;
  base.choices = sorted.map((choice) =>
    operation === 'completions'
      ? { index: choice.index, text: choice.text, logprobs: null, finish_reason: choice.finishReason }
      : {
          index: choice.index,
          message: {
            role: choice.role,
            content: choice.text === '' && choice.toolCalls.length > 0 ? null : choice.text,
            refusal: choice.refusal,
            ...(choice.toolCalls.length > 0 ? { tool_calls: choice.toolCalls.filter(Boolean) } : {}),
          },
          logprobs: null,
          finish_reason: choice.finishReason,
        },
  );
  if (usage) base.usage = usage;
  return base;
}

function synthesizeChunks(operation: Operation, json: JsonObject): JsonObject[] {
  const envelope = {
    id: json.id,
    object: operation === 'completions' ? 'text_completion' : 'chat.completion.chunk',
    created: json.created,
    model: json.model,
  };
  const chunks: JsonObject[] = [];
  for (const choice of (json.choices as JsonObject[] | undefined) ?? []) {
    if (operation === 'completions') {
      chunks.push({ ...envelope, choices: [{ index: choice.index, text: choice.text, logprobs: null, finish_reason: choice.finish_reason }] });
      continue;
    }
    const message = (choice.message as JsonObject | undefined) ?? {};
    const delta: JsonObject = { role: message.role ?? 'assistant', content: message.content ?? null };
    if (Array.isArray(message.tool_calls)) {
      delta.tool_calls = (message.tool_calls as JsonObject[]).map((call, index) => ({ index, ...call }));
    }
    if (message.refusal) delta.refusal = message.refusal;
    chunks.push({ ...envelope, choices: [{ index: choice.index, delta, logprobs: null, finish_reason: null }] });
    chunks.push({ ...envelope, choices: [{ index: choice.index, delta: {}, logprobs: null, finish_reason: choice.finish_reason }] });
  }
  return chunks;
}
