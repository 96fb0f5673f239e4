import { describe, expect, it } from 'vitest';
import { createAnthropicStreamDecoder } from '../../src/providers/anthropic-adapter.js';
import * as anthropic from '../../src/providers/anthropic-mapping.js';
import { createAzureAdapter } from '../../src/providers/azure-adapter.js';
import * as gemini from '../../src/providers/gemini-mapping.js';
import { contentParts, parseArguments, parseImageUrl } from '../../src/providers/openai-content.js';

describe('OpenAI content reading', () => {
  it('parses data URLs and plain URLs', () => {
    expect(parseImageUrl('data:image/webp;base64,AAAA')).toEqual({ kind: 'base64', mediaType: 'image/webp', data: 'AAAA' });
    expect(parseImageUrl('https://x/y.png')).toEqual({ kind: 'url', url: 'https://x/y.png' });
    expect(contentParts([{ type: 'text', text: 'a' }, { type: 'input_audio' }, { type: 'image_url', image_url: { url: 'https://x' } }])).toHaveLength(2);
  });

  it('keeps invalid tool arguments instead of failing', () => {
    expect(parseArguments('{"a":1}')).toEqual({ a: 1 });
    expect(parseArguments('{oops')).toEqual({ _raw: '{oops' });
    expect(parseArguments('')).toEqual({});
  });
});

describe('Anthropic mapping tables', () => {
  it('finish reasons', () => {
    expect(anthropic.finishReason('end_turn')).toBe('stop');
    expect(anthropic.finishReason('stop_sequence')).toBe('stop');
    expect(anthropic.finishReason('max_tokens')).toBe('length');
    expect(anthropic.finishReason('tool_use')).toBe('tool_calls');
    expect(anthropic.finishReason('refusal')).toBe('content_filter');
    expect(anthropic.finishReason(null)).toBeNull();
  });

  it('roles: system and developer lift into `system`, tool results become user turns, same roles merge', () => {
    const request = anthropic.toAnthropicRequest(
      {
        messages: [
          { role: 'developer', content: 'A' },
          { role: 'system', content: [{ type: 'text', text: 'B' }] },
          { role: 'user', content: 'one' },
          { role: 'user', content: 'two' },
          { role: 'assistant', content: '', tool_calls: [{ id: 't1', type: 'function', function: { name: 'f', arguments: '{}' } }, { id: 't2', type: 'function', function: { name: 'g', arguments: '{"x":1}' } }] },
          { role: 'tool', tool_call_id: 't1', content: 'r1' },
          { role: 'tool', tool_call_id: 't2', content: 'r2' },
        ],
      },
      'claude',
      100,
      false,
    );
    expect(request.system).toBe('A\n\nB');
    expect(request.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'one' }, { type: 'text', text: 'two' }] },
      { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'f', input: {} }, { type: 'tool_use', id: 't2', name: 'g', input: { x: 1 } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: 'r1' }, { type: 'tool_result', tool_use_id: 't2', content: 'r2' }] },
    ]);
    expect(request.max_tokens).toBe(100);
  });

  it('tool_choice', () => {
    expect(anthropic.toAnthropicToolChoice('auto', undefined)).toEqual({ type: 'auto' });
    expect(anthropic.toAnthropicToolChoice('required', undefined)).toEqual({ type: 'any' });
    expect(anthropic.toAnthropicToolChoice('none', undefined)).toEqual({ type: 'none' });
    expect(anthropic.toAnthropicToolChoice({ type: 'function', function: { name: 'f' } }, false)).toEqual({ type: 'tool', name: 'f', disable_parallel_tool_use: true });
    expect(anthropic.toAnthropicToolChoice(undefined, undefined)).toBeUndefined();
  });

  it('errors: type, status and retryability', () => {
    const overloaded = anthropic.toGatewayError(529, { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }, undefined, 'p');
    expect(overloaded.status).toBe(529);
    expect(overloaded.retryable).toBe(true);
    expect(overloaded.toBody().error).toMatchObject({ type: 'server_error', code: 'overloaded_error', message: 'Overloaded' });
    const invalid = anthropic.toGatewayError(400, { type: 'error', error: { type: 'invalid_request_error', message: 'bad' } }, undefined, 'p');
    expect(invalid.retryable).toBe(false);
    expect(anthropic.toGatewayError(429, 'not json', 3000, 'p')).toMatchObject({ retryable: true, retryAfterMs: 3000 });
    expect(anthropic.toGatewayError(429, 'not json', undefined, 'p').toBody().error.type).toBe('rate_limit_error');
  });

  it('the stream decoder ignores ping and unknown events', () => {
    const decoder = createAnthropicStreamDecoder('m', false, 'p');
    expect(decoder.decode({ event: 'ping', data: '{"type":"ping"}' }).chunks).toEqual([]);
    expect(decoder.decode({ event: 'brand_new_event', data: '{}' }).chunks).toEqual([]);
    expect(decoder.finishWithoutMarker().complete).toBe(false);
  });
});

describe('Gemini mapping tables', () => {
  it('finish reasons, tool calls turning STOP into tool_calls', () => {
    expect(gemini.finishReason('STOP', false)).toBe('stop');
    expect(gemini.finishReason('STOP', true)).toBe('tool_calls');
    expect(gemini.finishReason('MAX_TOKENS', false)).toBe('length');
    expect(gemini.finishReason('SAFETY', false)).toBe('content_filter');
    expect(gemini.finishReason('RECITATION', false)).toBe('content_filter');
    expect(gemini.finishReason('FINISH_REASON_UNSPECIFIED', false)).toBeNull();
    expect(gemini.finishReason(undefined, false)).toBeNull();
  });

  it('roles: assistant → model, tool → functionResponse by the called function name', () => {
    const request = gemini.toGeminiRequest({
      messages: [
        { role: 'system', content: 'S' },
        { role: 'user', content: 'q' },
        { role: 'assistant', content: 'a', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'lookup', arguments: '{"k":2}' } }] },
        { role: 'tool', tool_call_id: 'c1', content: 'plain text result' },
      ],
    });
    expect(request.systemInstruction).toEqual({ parts: [{ text: 'S' }] });
    expect(request.contents).toEqual([
      { role: 'user', parts: [{ text: 'q' }] },
      { role: 'model', parts: [{ text: 'a' }, { functionCall: { name: 'lookup', args: { k: 2 } } }] },
      { role: 'user', parts: [{ functionResponse: { name: 'lookup', response: { content: 'plain text result' } } }] },
    ]);
  });

  it('tool config', () => {
    expect(gemini.toGeminiToolConfig('auto')).toEqual({ functionCallingConfig: { mode: 'AUTO' } });
    expect(gemini.toGeminiToolConfig('none')).toEqual({ functionCallingConfig: { mode: 'NONE' } });
    expect(gemini.toGeminiToolConfig({ type: 'function', function: { name: 'f' } })).toEqual({ functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['f'] } });
  });

  it('usage counts thinking tokens as output', () => {
    expect(gemini.toOpenAIUsage({ promptTokenCount: 10, candidatesTokenCount: 5, thoughtsTokenCount: 7, totalTokenCount: 22 })).toMatchObject({
      prompt_tokens: 10, completion_tokens: 12, total_tokens: 22, completion_tokens_details: { reasoning_tokens: 7 },
    });
  });

  it('errors by Google status', () => {
    expect(gemini.toGatewayError(429, { error: { code: 429, message: 'quota', status: 'RESOURCE_EXHAUSTED' } }, undefined, 'p')).toMatchObject({ status: 429, retryable: true });
    expect(gemini.toGatewayError(400, { error: { code: 400, message: 'bad', status: 'INVALID_ARGUMENT' } }, undefined, 'p').retryable).toBe(false);
    expect(gemini.toGatewayError(503, [{ error: { message: 'busy', status: 'UNAVAILABLE' } }], undefined, 'p').toBody().error).toMatchObject({ code: 'unavailable', type: 'server_error' });
  });
});

describe('Azure adapter', () => {
  it('builds deployment URLs with api-version and the api-key header', () => {
    const adapter = createAzureAdapter({ providerName: 'az', apiKey: 'k', apiVersion: '2024-10-21', deployments: { 'gpt-4o': 'dep/1' } });
    const spec = adapter.buildRequest({ operation: 'chat', model: 'gpt-4o', body: {}, stream: false });
    expect(spec.path).toBe('/openai/deployments/dep%2F1/chat/completions');
    expect(spec.query).toBe('api-version=2024-10-21');
    expect(spec.headers['api-key']).toBe('k');
    expect(spec.headers.authorization).toBeUndefined();
  });
});
