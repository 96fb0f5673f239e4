/**
 * Adapter for the Google Gemini API, v1beta: POST models/{model}:generateContent, and
 * :streamGenerateContent?alt=sse for streams (each SSE event is a partial GenerateContentResponse; the
 * stream has no end marker, it is complete once a candidate carried a finish reason). The API key goes
 * in the `x-goog-api-key` header. A blocked prompt (promptFeedback.blockReason) answers 400 content_filter.
 */
import { GatewayError } from '../errors.js';
import { chunkEnvelope } from './openai-content.js';
import { blockedPromptError, finishReason, readCandidateParts, toGatewayError, toGeminiRequest, toOpenAIResponse, toOpenAIUsage } from './gemini-mapping.js';
import { parseEventJson } from './sse.js';
import type { JsonObject, ProviderAdapter, StreamDecoder } from './types.js';

export interface GeminiAdapterOptions {
  providerName: string;
  apiKey: string;
  apiVersion: string;
  extraHeaders?: Readonly<Record<string, string>>;
}

export function createGeminiAdapter(options: GeminiAdapterOptions): ProviderAdapter {
  const headers = { 'content-type': 'application/json', 'x-goog-api-key': options.apiKey, ...options.extraHeaders };
  const modelPath = (model: string): string => `/${options.apiVersion}/models/${encodeURIComponent(model.replace(/^models\//, ''))}`;

  return {
    supports: (operation) => operation === 'chat',
    buildRequest: ({ body, model, stream }) => ({
      path: `${modelPath(model)}:${stream ? 'streamGenerateContent' : 'generateContent'}`,
      ...(stream ? { query: 'alt=sse' } : {}),
      headers,
      body: JSON.stringify(toGeminiRequest(body)),
    }),
    parseResponse(_operation, body, model) {
      if (!body || typeof body !== 'object' || Array.isArray(body)) {
        throw new GatewayError('upstream_invalid_response', `provider '${options.providerName}' returned a non-object body`);
      }
      const blocked = blockedPromptError(body as JsonObject, options.providerName);
      if (blocked) throw blocked;
      return toOpenAIResponse(body as JsonObject, model);
    },
    createStreamDecoder: ({ model, body }) =>
      createGeminiStreamDecoder(model, (body.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true, options.providerName),
    parseError: (status, body, retryAfterMs) => toGatewayError(status, body, retryAfterMs, options.providerName),
  };
}

export function createGeminiStreamDecoder(model: string, withUsage: boolean, providerName: string): StreamDecoder {
  const envelope = chunkEnvelope(`gemini-${Date.now()}`, model, Math.floor(Date.now() / 1000));
  let started = false;
  let finished = false;
  let usage: JsonObject | undefined;
  let calls = 0;
  const nextId = (): string => `call_${calls++}`;
  /** Tool calls seen per candidate, so finish reasons say tool_calls and indexes keep counting. */
  const toolCallsSeen = new Map<number, number>();

  return {
    decode(event) {
      const data = (parseEventJson(event, providerName) ?? {}) as JsonObject;
      if (data.error) throw toGatewayError(500, data, undefined, providerName);
      // A blocked prompt is the stream's only event, so the client gets the 400 before any byte.
      const blocked = blockedPromptError(data, providerName);
      if (blocked) throw blocked;
      if (typeof data.responseId === 'string') envelope.id = data.responseId;
      if (data.usageMetadata) usage = toOpenAIUsage(data.usageMetadata);
      const chunks: JsonObject[] = [];
      for (const [position, candidate] of ((data.candidates as JsonObject[] | undefined) ?? []).entries()) {
        const index = typeof candidate.index === 'number' ? candidate.index : position;
        const { text, toolCalls } = readCandidateParts((candidate.content as JsonObject | undefined)?.parts, nextId);
        const delta: JsonObject = {};
        if (!started) {
          delta.role = 'assistant';
          started = true;
        }
        if (text) delta.content = text;
        if (toolCalls.length > 0) {
          const seen = toolCallsSeen.get(index) ?? 0;
          delta.tool_calls = toolCalls.map((call, i) => ({ index: seen + i, ...call }));
          toolCallsSeen.set(index, seen + toolCalls.length);
        }
        const finish = finishReason(candidate.finishReason, (toolCallsSeen.get(index) ?? 0) > 0);
        if (finish) finished = true;
        if (Object.keys(delta).length > 0 || finish) {
          chunks.push({ ...envelope, choices: [{ index, delta, logprobs: null, finish_reason: finish }] });
        }
      }
      return { chunks, done: false };
    },
    finishWithoutMarker: () => ({
      complete: finished,
      chunks: finished && withUsage && usage ? [{ ...envelope, choices: [], usage }] : [],
    }),
  };
}
