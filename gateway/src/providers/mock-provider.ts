/**
 * The built-in, in-process mock provider: deterministic answers with exact usage numbers, configurable
 * latency and stream shape. It makes `npm start` useful with no keys and no network, and gives
 * benchmarks an upstream without a network hop.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { MockProviderConfig } from '../config/schema.js';
import { GatewayError } from '../errors.js';
import { contentText, countMockTokens, mockEmbedding, mockReplyText, splitIntoParts } from './mock-text.js';
import { isCanonicalOperation, type JsonObject, type Provider, type ProviderCall, type ProviderReply } from './types.js';

export function createMockProvider(name: string, config: MockProviderConfig): Provider {
  async function send(call: ProviderCall): Promise<ProviderReply> {
    if (config.latencyMs > 0) await wait(config.latencyMs, call.signal);
    const created = Math.floor(Date.now() / 1000);
    const id = `mock-${call.requestId}`;
    switch (call.operation) {
      case 'embeddings':
        return { kind: 'json', body: embeddingsResponse(call, config.embeddingDimensions) };
      case 'completions': {
        const prompt = promptText(call.body.prompt);
        const text = mockReplyText(call.model, prompt);
        const usage = usageOf(countMockTokens(prompt), countMockTokens(text));
        if (!call.stream) {
          return {
            kind: 'json',
            body: {
              id, object: 'text_completion', created, model: call.model,
              choices: [{ index: 0, text, logprobs: null, finish_reason: 'stop' }],
              usage,
            },
          };
        }
        const chunks = splitIntoParts(text, config.streamChunks).map((part, i, all) => ({
          id, object: 'text_completion', created, model: call.model,
          choices: [{ index: 0, text: part, logprobs: null, finish_reason: i === all.length - 1 ? 'stop' : null }],
        }));
        return { kind: 'stream', chunks: paced(chunks, usageChunk(call, { id, object: 'text_completion', created, model: call.model }, usage), config.chunkDelayMs, call.signal) };
      }
      case 'responses':
        throw new GatewayError('operation_not_supported', 'the mock provider serves the Responses API through chat translation');
      case 'chat': {
        const prompt = chatPromptText(call.body.messages);
        const text = mockReplyText(call.model, lastUserText(call.body.messages));
        const usage = usageOf(countMockTokens(prompt), countMockTokens(text));
        if (!call.stream) {
          return {
            kind: 'json',
            body: {
              id, object: 'chat.completion', created, model: call.model,
              choices: [{ index: 0, message: { role: 'assistant', content: text, refusal: null }, logprobs: null, finish_reason: 'stop' }],
              usage,
            },
          };
        }
        const base = { id, object: 'chat.completion.chunk', created, model: call.model };
        const parts = splitIntoParts(text, config.streamChunks);
        const chunks = parts.map((part, i) => ({
          ...base,
          choices: [{
            index: 0,
            delta: i === 0 ? { role: 'assistant', content: part } : { content: part },
            logprobs: null,
            finish_reason: i === parts.length - 1 ? 'stop' : null,
          }],
        }));
        return { kind: 'stream', chunks: paced(chunks, usageChunk(call, base, usage), config.chunkDelayMs, call.signal) };
      }
      default:
        throw new GatewayError('operation_not_supported', `the mock provider does not serve '${call.operation}'`);
    }
  }

  return {
    name,
    type: 'mock',
    models: config.models,
    // The canonical operations; other dialects (Responses, Messages) are translated to chat for it.
    supports: isCanonicalOperation,
    send,
    close: async () => {},
  };
}

function usageOf(prompt: number, completion: number): JsonObject {
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

/** The final usage chunk, sent only when the client asked for it (as OpenAI does). */
function usageChunk(call: ProviderCall, base: JsonObject, usage: JsonObject): JsonObject | undefined {
  const options = call.body.stream_options as { include_usage?: unknown } | undefined;
  return options?.include_usage === true ? { ...base, choices: [], usage } : undefined;
}

async function* paced(chunks: JsonObject[], last: JsonObject | undefined, delayMs: number, signal: AbortSignal): AsyncGenerator<JsonObject> {
  for (let i = 0; i < chunks.length; i++) {
    if (i > 0 && delayMs > 0) await wait(delayMs, signal);
    yield chunks[i] as JsonObject;
  }
  if (last) yield last;
}

async function wait(ms: number, signal: AbortSignal): Promise<void> {
  try {
    await sleep(ms, undefined, { signal });
  } catch {
    throw signal.reason instanceof GatewayError ? signal.reason : new GatewayError('upstream_unreachable', 'mock request aborted');
  }
}

function promptText(prompt: unknown): string {
  if (typeof prompt === 'string') return prompt;
  if (Array.isArray(prompt)) return prompt.filter((p) => typeof p === 'string').join(' ');
  return '';
}

function chatPromptText(messages: unknown): string {
  if (!Array.isArray(messages)) return '';
  return messages.map((m) => contentText((m as { content?: unknown })?.content)).join(' ');
}

function lastUserText(messages: unknown): string {
  if (!Array.isArray(messages)) return '';
  for (let i = messages.length - 1; i >= 0; i--) {
    const message = messages[i] as { role?: unknown; content?: unknown } | undefined;
    if (message?.role === 'user') return contentText(message.content);
  }
  return '';
}

function embeddingsResponse(call: ProviderCall, defaultDimensions: number): JsonObject {
  const input = call.body.input;
  const items: unknown[] = Array.isArray(input) && !input.every((v) => typeof v === 'number') ? input : [input];
  const requested = call.body.dimensions;
  const dimensions = typeof requested === 'number' && requested > 0 ? Math.min(requested, 8192) : defaultDimensions;
  let tokens = 0;
  const data = items.map((item, index) => {
    const text = typeof item === 'string' ? item : JSON.stringify(item);
    tokens += typeof item === 'string' ? countMockTokens(item) : Array.isArray(item) ? item.length : 1;
    return { object: 'embedding', index, embedding: mockEmbedding(text, dimensions) };
  });
  return { object: 'list', data, model: call.model, usage: { prompt_tokens: tokens, total_tokens: tokens } };
}
