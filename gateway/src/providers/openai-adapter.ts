/**
 * Adapter for the OpenAI API and every server that speaks it (vLLM, TGI, SGLang, Ollama, llama.cpp,
 * Groq, Together…). Requests and responses already have the right shape, so this adapter only sets
 * the path and headers, and reads errors. Targets the OpenAI REST API v1 (chat/completions,
 * completions, embeddings), and `responses` for a server that serves the Responses API itself (native
 * pass-through: its events are read by openai-responses-stream.ts).
 */
import { GatewayError, upstreamStatusError } from '../errors.js';
import { createResponsesStreamDecoder } from './openai-responses-stream.js';
import { parseEventJson } from './sse.js';
import { isCanonicalOperation, type JsonObject, type Operation, type ProviderAdapter, type StreamDecoder, type UpstreamRequestSpec } from './types.js';

export interface OpenAIAdapterOptions {
  providerName: string;
  apiKey?: string | undefined;
  organization?: string | undefined;
  project?: string | undefined;
  extraHeaders?: Readonly<Record<string, string>>;
  /** Whether the server speaks the Responses API (`/responses`) itself; otherwise it is translated to chat. */
  responses?: boolean | undefined;
}

const PATHS: Partial<Record<Operation, string>> = {
  chat: '/chat/completions',
  completions: '/completions',
  embeddings: '/embeddings',
  responses: '/responses',
};

export function createOpenAIAdapter(options: OpenAIAdapterOptions): ProviderAdapter {
  // Built once: every request sends the same static headers.
  const staticHeaders: Record<string, string> = {
    'content-type': 'application/json',
    ...options.extraHeaders,
  };
  if (options.apiKey) staticHeaders.authorization = `Bearer ${options.apiKey}`;
  if (options.organization) staticHeaders['openai-organization'] = options.organization;
  if (options.project) staticHeaders['openai-project'] = options.project;

  return {
    supports: (operation) => isCanonicalOperation(operation) || (operation === 'responses' && options.responses === true),

    buildRequest({ operation, body, stream }): UpstreamRequestSpec {
      return {
        path: PATHS[operation] ?? PATHS.chat!,
        headers: stream ? { ...staticHeaders, accept: 'text/event-stream' } : staticHeaders,
        body: JSON.stringify(body),
      };
    },

    parseResponse(_operation, body): JsonObject {
      if (typeof body !== 'object' || body === null || Array.isArray(body)) {
        throw new GatewayError('upstream_invalid_response', `provider '${options.providerName}' returned a non-object body`);
      }
      return body as JsonObject;
    },

    createStreamDecoder({ operation }): StreamDecoder {
      if (operation === 'responses') return createResponsesStreamDecoder(options.providerName);
      let sawFinishReason = false;
      return {
        decode(event) {
          // Tolerate whitespace around the marker (Azure's published recordings end `data: [DONE] `).
          if (event.data.trim() === '[DONE]') return { chunks: [], done: true };
          const chunk = parseEventJson(event, options.providerName);
          if (typeof chunk !== 'object' || chunk === null) return { chunks: [], done: false };
          // Some OpenAI-compatible servers report a failure inside the stream instead of by status.
          if ('error' in chunk && !('choices' in chunk)) {
            throw upstreamStatusError(502, chunk, undefined, options.providerName);
          }
          if (!sawFinishReason && hasFinishReason(chunk as JsonObject)) sawFinishReason = true;
          return { chunks: [chunk as JsonObject], done: false };
        },
        finishWithoutMarker: () => ({ complete: sawFinishReason, chunks: [] }),
      };
    },

    parseError(status, body, retryAfterMs) {
      return upstreamStatusError(status, body, retryAfterMs, options.providerName);
    },
  };
}

function hasFinishReason(chunk: JsonObject): boolean {
  const choices = chunk.choices;
  if (!Array.isArray(choices)) return false;
  for (const choice of choices) {
    if (choice && typeof choice === 'object' && (choice as JsonObject).finish_reason) return true;
  }
  return false;
}
