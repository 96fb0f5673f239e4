/**
 * Adapter for Anthropic's Messages API (POST /v1/messages, `anthropic-version: 2023-06-01`). Requests
 * and responses are translated by anthropic-mapping.ts; this file adds the streaming translation:
 * message_start, content_block_start/delta/stop (text and client tool-input JSON; server tools such as web
 * search stay on Anthropic's side), message_delta (stop reason, usage), message_stop, ping and error events
 * become OpenAI chat.completion.chunk objects as they arrive.
 *
 * For clients of the gateway's own /v1/messages it is also a pass-through (operations `messages` and
 * `count_tokens`): their body goes up as it is (with the target's model) and Anthropic's answer — the
 * Message, each stream event, the token count — comes back as it is. The client's `anthropic-version`
 * and `anthropic-beta` headers are sent in place of the adapter's.
 */
import { GatewayError } from '../errors.js';
import { ANTHROPIC_VERSION, ERROR_TYPE_STATUSES, finishReason, toAnthropicRequest, toGatewayError, toOpenAIResponse, toOpenAIUsage } from './anthropic-mapping.js';
import { chunkEnvelope } from './openai-content.js';
import { parseEventJson } from './sse.js';
import type { JsonObject, ProviderAdapter, StreamDecoder } from './types.js';

export interface AnthropicAdapterOptions {
  providerName: string;
  apiKey: string;
  /** Anthropic requires max_tokens; used when the client sends none. */
  defaultMaxTokens: number;
  extraHeaders?: Readonly<Record<string, string>>;
}

export function createAnthropicAdapter(options: AnthropicAdapterOptions): ProviderAdapter {
  const headers = {
    'content-type': 'application/json',
    'x-api-key': options.apiKey,
    'anthropic-version': ANTHROPIC_VERSION,
    ...options.extraHeaders,
  };
  const streamHeaders = { ...headers, accept: 'text/event-stream' };

  return {
    supports: (operation) => operation === 'chat' || operation === 'messages' || operation === 'count_tokens',
    buildRequest: ({ operation, body, model, stream, clientHeaders }) => {
      const base = stream ? streamHeaders : headers;
      if (operation === 'chat') {
        return { path: '/v1/messages', headers: base, body: JSON.stringify(toAnthropicRequest(body, model, options.defaultMaxTokens, stream)) };
      }
      return {
        path: operation === 'count_tokens' ? '/v1/messages/count_tokens' : '/v1/messages',
        headers: clientHeaders ? { ...base, ...pickVersionHeaders(clientHeaders) } : base,
        body: JSON.stringify(body),
      };
    },
    parseResponse(operation, body, model) {
      if (operation === 'count_tokens') {
        if (typeof (body as { input_tokens?: unknown } | null)?.input_tokens !== 'number') {
          throw new GatewayError('upstream_invalid_response', `provider '${options.providerName}' returned no token count`);
        }
        return body as JsonObject;
      }
      if (!body || typeof body !== 'object' || (body as JsonObject).type !== 'message') {
        throw new GatewayError('upstream_invalid_response', `provider '${options.providerName}' returned something other than a message`);
      }
      return operation === 'messages' ? (body as JsonObject) : toOpenAIResponse(body as JsonObject, model);
    },
    createStreamDecoder: ({ operation, model, body }) =>
      operation === 'messages' ? createMessagesEventDecoder(options.providerName) : createAnthropicStreamDecoder(model, includeUsage(body), options.providerName),
    parseError: (status, body, retryAfterMs) => toGatewayError(status, body, retryAfterMs, options.providerName),
  };
}

/** The client headers that say which API version and betas it speaks: the only ones a pass-through forwards. */
export const CLIENT_VERSION_HEADERS = ['anthropic-version', 'anthropic-beta'] as const;

function pickVersionHeaders(clientHeaders: Readonly<Record<string, string>>): Record<string, string> {
  const picked: Record<string, string> = {};
  for (const name of CLIENT_VERSION_HEADERS) if (clientHeaders[name]) picked[name] = clientHeaders[name];
  return picked;
}

/**
 * A pass-through stream: each event's data as it came (pings included, so the client's keep-alive
 * works as with Anthropic), complete at message_stop. An `error` event before anything was passed on
 * fails the attempt, which may then be retried; after that it is the stream breaking.
 */
export function createMessagesEventDecoder(providerName: string): StreamDecoder {
  return {
    decode(event) {
      const data = (parseEventJson(event, providerName) ?? {}) as JsonObject;
      const type = event.event ?? data.type;
      if (type === 'error') throw streamError(data, providerName);
      return { chunks: [data], done: type === 'message_stop' };
    },
    finishWithoutMarker: () => ({ complete: false, chunks: [] }),
  };
}

/** An `error` event mid-stream, with the status Anthropic would have answered its type with. */
function streamError(data: JsonObject, providerName: string): GatewayError {
  const type = (data.error as { type?: string } | undefined)?.type;
  return toGatewayError((type && ERROR_TYPE_STATUSES[type]) || 500, data, undefined, providerName);
}

function includeUsage(body: JsonObject): boolean {
  return (body.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true;
}

export function createAnthropicStreamDecoder(model: string, withUsage: boolean, providerName: string): StreamDecoder {
  let envelope: JsonObject = chunkEnvelope('', model, Math.floor(Date.now() / 1000));
  let usage: JsonObject = {};
  /** Client tool calls by Anthropic content-block index (server tools such as web search are not among them). */
  const toolCalls = new Map<number, { index: number; input: unknown; argumentsSent: boolean }>();
  let finished = false;

  const chunk = (delta: JsonObject, finish: string | null = null): JsonObject => ({
    ...envelope,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
  });

  return {
    decode(event) {
      const data = (parseEventJson(event, providerName) ?? {}) as JsonObject;
      switch (event.event ?? data.type) {
        case 'message_start': {
          const message = (data.message ?? {}) as JsonObject;
          envelope = chunkEnvelope(String(message.id ?? ''), model, Math.floor(Date.now() / 1000));
          usage = { ...((message.usage as JsonObject) ?? {}) };
          return { chunks: [chunk({ role: 'assistant', content: '' })], done: false };
        }
        case 'content_block_start': {
          const block = (data.content_block ?? {}) as JsonObject;
          if (block.type !== 'tool_use') return { chunks: [], done: false };
          const index = toolCalls.size;
          toolCalls.set(Number(data.index), { index, input: block.input, argumentsSent: false });
          const call = { index, id: block.id, type: 'function', function: { name: block.name, arguments: '' } };
          return { chunks: [chunk({ tool_calls: [call] })], done: false };
        }
        case 'content_block_delta': {
          const delta = (data.delta ?? {}) as JsonObject;
          if (delta.type === 'text_delta') return { chunks: [chunk({ content: delta.text })], done: false };
          const call = delta.type === 'input_json_delta' ? toolCalls.get(Number(data.index)) : undefined;
          // Thinking and signature deltas have no OpenAI equivalent. Every call opens with an empty
          // partial_json; only text that adds to the arguments is sent.
          if (!call || typeof delta.partial_json !== 'string' || delta.partial_json === '') return { chunks: [], done: false };
          call.argumentsSent = true;
          return { chunks: [chunk({ tool_calls: [{ index: call.index, function: { arguments: delta.partial_json } }] })], done: false };
        }
        case 'content_block_stop': {
          // A call without arguments streams none: its arguments are the block's input, "{}" as OpenAI sends them.
          const call = toolCalls.get(Number(data.index));
          if (!call || call.argumentsSent) return { chunks: [], done: false };
          call.argumentsSent = true;
          const args = JSON.stringify(call.input ?? {});
          return { chunks: [chunk({ tool_calls: [{ index: call.index, function: { arguments: args } }] })], done: false };
        }
        case 'message_delta': {
          Object.assign(usage, (data.usage as JsonObject) ?? {});
          const stopReason = (data.delta as JsonObject | undefined)?.stop_reason;
          if (stopReason === undefined || stopReason === null) return { chunks: [], done: false };
          finished = true;
          return { chunks: [chunk({}, finishReason(stopReason))], done: false };
        }
        case 'message_stop': {
          const chunks = withUsage ? [{ ...envelope, choices: [], usage: toOpenAIUsage(usage) }] : [];
          return { chunks, done: true };
        }
        case 'error':
          throw streamError(data, providerName);
        default:
          return { chunks: [], done: false }; // ping, and event types added later
      }
    },
    finishWithoutMarker: () => ({ complete: finished, chunks: [] }),
  };
}
