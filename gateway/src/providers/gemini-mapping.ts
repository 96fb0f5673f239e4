/**
 * OpenAI chat ⇄ Google Gemini API v1beta (models/{model}:generateContent and :streamGenerateContent):
 * the request, the response, and the mapping tables (roles, finish reasons, errors).
 */
import { upstreamError, type GatewayError } from '../errors.js';
import { contentParts, contentText, maxTokensOf, parseArguments, stopSequences, TurnList, type OpenAIMessage, type OpenAIToolCall } from './openai-content.js';
import type { JsonObject } from './types.js';

type GeminiPart = JsonObject;
interface GeminiContent {
  role: 'user' | 'model';
  parts: GeminiPart[];
}

export const FINISH_REASONS: Record<string, string> = {
  STOP: 'stop',
  MAX_TOKENS: 'length',
  SAFETY: 'content_filter',
  RECITATION: 'content_filter',
  BLOCKLIST: 'content_filter',
  PROHIBITED_CONTENT: 'content_filter',
  SPII: 'content_filter',
  IMAGE_SAFETY: 'content_filter',
  LANGUAGE: 'stop',
  MALFORMED_FUNCTION_CALL: 'stop',
  OTHER: 'stop',
};

export function finishReason(reason: unknown, sawToolCall: boolean): string | null {
  if (typeof reason !== 'string' || reason === 'FINISH_REASON_UNSPECIFIED') return null;
  const mapped = FINISH_REASONS[reason] ?? 'stop';
  return mapped === 'stop' && sawToolCall ? 'tool_calls' : mapped;
}

const MIME_BY_EXTENSION: Record<string, string> = { png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', webp: 'image/webp', gif: 'image/gif', heic: 'image/heic' };

function guessMime(url: string): string {
  const extension = /\.([a-z0-9]+)(?:\?|#|$)/i.exec(url)?.[1]?.toLowerCase();
  return (extension && MIME_BY_EXTENSION[extension]) || 'image/jpeg';
}

function userParts(content: unknown): GeminiPart[] {
  return contentParts(content).map((part) => {
    if (part.kind === 'text') return { text: part.text };
    if (part.kind === 'file') return { inlineData: { mimeType: part.mediaType, data: part.data } };
    const { image } = part;
    return image.kind === 'base64'
      ? { inlineData: { mimeType: image.mediaType, data: image.data } }
      : { fileData: { mimeType: guessMime(image.url), fileUri: image.url } };
  });
}

export function toGeminiRequest(body: JsonObject): JsonObject {
  const system: string[] = [];
  const turns = new TurnList<GeminiContent['role'], GeminiPart>();
  const push = turns.push.bind(turns);
  // Gemini answers a function call by name, OpenAI by call id: remember which id named which function.
  const toolNames = new Map<string, string>();
  for (const message of (body.messages as OpenAIMessage[]) ?? []) {
    switch (message.role) {
      case 'system':
      case 'developer':
        system.push(contentText(message.content));
        break;
      case 'assistant': {
        const parts: GeminiPart[] = [];
        const text = contentText(message.content);
        if (text) parts.push({ text });
        for (const call of message.tool_calls ?? []) {
          toolNames.set(call.id, call.function.name);
          const signature = call.extra_content?.google?.thought_signature;
          parts.push({
            functionCall: { name: call.function.name, args: parseArguments(call.function.arguments) },
            ...(typeof signature === 'string' ? { thoughtSignature: signature } : {}),
          });
        }
        push('model', parts);
        break;
      }
      case 'tool': {
        const name = toolNames.get(message.tool_call_id ?? '') ?? message.name ?? 'function';
        const text = contentText(message.content);
        const parsed = parseArguments(text);
        push('user', [{ functionResponse: { name, response: '_raw' in parsed ? { content: text } : parsed } }]);
        break;
      }
      default:
        push('user', userParts(message.content));
    }
  }

  const contents: GeminiContent[] = turns.turns.map(({ role, items }) => ({ role, parts: items }));
  const request: JsonObject = { contents };
  if (system.length > 0) request.systemInstruction = { parts: [{ text: system.join('\n\n') }] };
  const generationConfig: JsonObject = {};
  if (typeof body.temperature === 'number') generationConfig.temperature = body.temperature;
  if (typeof body.top_p === 'number') generationConfig.topP = body.top_p;
  const maxTokens = maxTokensOf(body);
  if (maxTokens !== undefined) generationConfig.maxOutputTokens = maxTokens;
  const stop = stopSequences(body.stop);
  if (stop) generationConfig.stopSequences = stop;
  if (typeof body.n === 'number') generationConfig.candidateCount = body.n;
  if (typeof body.seed === 'number') generationConfig.seed = body.seed;
  const format = body.response_format as { type?: string; json_schema?: { schema?: unknown } } | undefined;
  if (format?.type === 'json_object' || format?.type === 'json_schema') generationConfig.responseMimeType = 'application/json';
  if (format?.type === 'json_schema' && format.json_schema?.schema) generationConfig.responseJsonSchema = format.json_schema.schema;
  if (Object.keys(generationConfig).length > 0) request.generationConfig = generationConfig;

  if (Array.isArray(body.tools) && body.tools.length > 0) {
    // OpenAI tool parameters are JSON Schema; `parameters` takes only Google's OpenAPI subset (it rejects
    // additionalProperties, which strict mode requires), `parametersJsonSchema` takes JSON Schema as is.
    const declarations = (body.tools as { function?: { name: string; description?: string; parameters?: unknown } }[])
      .filter((tool) => tool.function)
      .map(({ function: fn }) => ({
        name: fn!.name,
        ...(fn!.description ? { description: fn!.description } : {}),
        ...(fn!.parameters ? { parametersJsonSchema: fn!.parameters } : {}),
      }));
    request.tools = [{ functionDeclarations: declarations }];
  }
  const toolConfig = toGeminiToolConfig(body.tool_choice);
  if (toolConfig) request.toolConfig = toolConfig;
  return request;
}

export function toGeminiToolConfig(choice: unknown): JsonObject | undefined {
  if (choice === 'auto') return { functionCallingConfig: { mode: 'AUTO' } };
  if (choice === 'required') return { functionCallingConfig: { mode: 'ANY' } };
  if (choice === 'none') return { functionCallingConfig: { mode: 'NONE' } };
  const name = (choice as { function?: { name?: unknown } } | undefined)?.function?.name;
  if (typeof name === 'string') return { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: [name] } };
  return undefined;
}

export function toOpenAIUsage(metadata: unknown): JsonObject | undefined {
  if (!metadata || typeof metadata !== 'object') return undefined;
  const m = metadata as Record<string, number | undefined>;
  // Results of built-in tools (code execution, search, URL context) are fed back to the model as input.
  const prompt = (m.promptTokenCount ?? 0) + (m.toolUsePromptTokenCount ?? 0);
  // Thinking tokens are billed as output.
  const completion = (m.candidatesTokenCount ?? 0) + (m.thoughtsTokenCount ?? 0);
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: m.totalTokenCount ?? prompt + completion,
    prompt_tokens_details: { cached_tokens: m.cachedContentTokenCount ?? 0 },
    ...(m.thoughtsTokenCount ? { completion_tokens_details: { reasoning_tokens: m.thoughtsTokenCount } } : {}),
  };
}

/**
 * One candidate's parts as OpenAI message content and tool calls; `nextId` numbers the calls. A call's
 * thought signature goes to the client in `extra_content.google.thought_signature`, where Google's own
 * OpenAI-compatible API puts it, so that it comes back with the call (Gemini 3 rejects a function-calling
 * turn without it).
 */
export function readCandidateParts(parts: unknown, nextId: () => string): { text: string; toolCalls: OpenAIToolCall[] } {
  let text = '';
  const toolCalls: OpenAIToolCall[] = [];
  for (const part of (parts as GeminiPart[]) ?? []) {
    if (part.thought === true) continue;
    if (typeof part.text === 'string') text += part.text;
    const call = part.functionCall as { name?: string; args?: unknown; id?: string } | undefined;
    if (!call?.name) continue;
    toolCalls.push({
      id: call.id ?? nextId(),
      type: 'function',
      function: { name: call.name, arguments: JSON.stringify(call.args ?? {}) },
      ...(typeof part.thoughtSignature === 'string' ? { extra_content: { google: { thought_signature: part.thoughtSignature } } } : {}),
    });
  }
  return { text, toolCalls };
}

export function toOpenAIResponse(response: JsonObject, model: string): JsonObject {
  let calls = 0;
  const nextId = (): string => `call_${calls++}`;
  const candidates = (response.candidates as JsonObject[] | undefined) ?? [];
  return {
    id: typeof response.responseId === 'string' ? response.responseId : `gemini-${Date.now()}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: candidates.map((candidate, index) => {
      const { text, toolCalls } = readCandidateParts((candidate.content as JsonObject | undefined)?.parts, nextId);
      return {
        index: typeof candidate.index === 'number' ? candidate.index : index,
        message: {
          role: 'assistant',
          content: text || (toolCalls.length > 0 ? null : ''),
          refusal: null,
          ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
        },
        logprobs: null,
        finish_reason: finishReason(candidate.finishReason, toolCalls.length > 0) ?? 'stop',
      };
    }),
    usage: toOpenAIUsage(response.usageMetadata),
  };
}

/**
 * A prompt Gemini refused: `promptFeedback.blockReason`, or prompt feedback and no candidates at all.
 * The block is deterministic, so it is a 400 that is never retried, in the shape Azure OpenAI gives its
 * own prompt filter: type invalid_request_error, code `content_filter`, param `prompt`.
 */
export function blockedPromptError(response: JsonObject, providerName: string): GatewayError | undefined {
  const feedback = response.promptFeedback as { blockReason?: unknown; blockReasonMessage?: unknown } | undefined;
  if (!feedback || typeof feedback !== 'object') return undefined;
  const reason = typeof feedback.blockReason === 'string' ? feedback.blockReason : undefined;
  const candidates = response.candidates;
  if (reason === undefined && Array.isArray(candidates) && candidates.length > 0) return undefined;
  const explanation = [reason, typeof feedback.blockReasonMessage === 'string' ? feedback.blockReasonMessage : undefined].filter(Boolean).join(': ');
  const message = `provider '${providerName}' blocked the prompt${explanation ? ` (${explanation})` : ''}`;
  return upstreamError(400, { error: { message, type: 'invalid_request_error', param: 'prompt', code: 'content_filter' } }, false, undefined);
}

/** Google API status names → OpenAI error type and retryability. */
export const ERROR_STATUSES: Record<string, { type: string; retryable: boolean }> = {
  INVALID_ARGUMENT: { type: 'invalid_request_error', retryable: false },
  FAILED_PRECONDITION: { type: 'invalid_request_error', retryable: false },
  OUT_OF_RANGE: { type: 'invalid_request_error', retryable: false },
  UNAUTHENTICATED: { type: 'authentication_error', retryable: false },
  PERMISSION_DENIED: { type: 'permission_error', retryable: false },
  NOT_FOUND: { type: 'invalid_request_error', retryable: false },
  RESOURCE_EXHAUSTED: { type: 'rate_limit_error', retryable: true },
  INTERNAL: { type: 'server_error', retryable: true },
  UNAVAILABLE: { type: 'server_error', retryable: true },
  DEADLINE_EXCEEDED: { type: 'server_error', retryable: true },
};

export function toGatewayError(status: number, body: unknown, retryAfterMs: number | undefined, providerName: string): GatewayError {
  const error = (Array.isArray(body) ? body[0] : body) as { error?: { message?: unknown; status?: unknown } } | undefined;
  const googleStatus = typeof error?.error?.status === 'string' ? error.error.status : undefined;
  const mapped = (googleStatus && ERROR_STATUSES[googleStatus]) || {
    type: status === 429 ? 'rate_limit_error' : status >= 500 ? 'server_error' : 'invalid_request_error',
    retryable: status === 429 || status >= 500,
  };
  const message = typeof error?.error?.message === 'string' ? error.error.message : `provider '${providerName}' answered HTTP ${status}`;
  return upstreamError(status, { error: { message, type: mapped.type, param: null, code: googleStatus?.toLowerCase() ?? 'upstream_error' } }, mapped.retryable, retryAfterMs);
}
