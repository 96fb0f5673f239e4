import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.js';
import { createOpenAIAdapter } from '../../src/providers/openai-adapter.js';

const adapter = createOpenAIAdapter({ providerName: 'p', apiKey: 'sk-1', organization: 'org-1', extraHeaders: { 'x-route': 'gpu' } });

describe('OpenAI adapter', () => {
  it('builds requests per operation with auth and extra headers', () => {
    const chat = adapter.buildRequest({ operation: 'chat', model: 'm', body: { model: 'm', messages: [] }, stream: false });
    expect(chat.path).toBe('/chat/completions');
    expect(chat.headers).toMatchObject({ authorization: 'Bearer sk-1', 'openai-organization': 'org-1', 'x-route': 'gpu', 'content-type': 'application/json' });
    expect(JSON.parse(chat.body)).toEqual({ model: 'm', messages: [] });
    expect(adapter.buildRequest({ operation: 'embeddings', model: 'm', body: {}, stream: false }).path).toBe('/embeddings');
    expect(adapter.buildRequest({ operation: 'completions', model: 'm', body: {}, stream: true }).headers.accept).toBe('text/event-stream');
  });

  it('sends no authorization header without a key', () => {
    const open = createOpenAIAdapter({ providerName: 'local' });
    expect(open.buildRequest({ operation: 'chat', model: 'm', body: {}, stream: false }).headers.authorization).toBeUndefined();
  });

  it('decodes chunks, stops at [DONE], and surfaces in-stream errors', () => {
    const decoder = adapter.createStreamDecoder({ operation: 'chat', model: 'm', body: {}, stream: true });
    expect(decoder.decode({ event: undefined, data: '{"choices":[{"delta":{"content":"a"}}]}' })).toEqual({ chunks: [{ choices: [{ delta: { content: 'a' } }] }], done: false });
    expect(decoder.finishWithoutMarker().complete).toBe(false);
    decoder.decode({ event: undefined, data: '{"choices":[{"delta":{},"finish_reason":"stop"}]}' });
    expect(decoder.finishWithoutMarker().complete).toBe(true);
    expect(decoder.decode({ event: undefined, data: '[DONE]' })).toEqual({ chunks: [], done: true });
    expect(() => decoder.decode({ event: undefined, data: '{"error":{"message":"overloaded"}}' })).toThrow(GatewayError);
    expect(() => decoder.decode({ event: undefined, data: 'not json' })).toThrow(GatewayError);
  });

  it('rejects a non-object JSON body', () => {
    expect(() => adapter.parseResponse('chat', [1, 2], 'm')).toThrow(GatewayError);
  });
});
