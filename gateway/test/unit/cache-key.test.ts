import { describe, expect, it } from 'vitest';
import { cacheKey, canonicalJson } from '../../src/cache/cache-key.js';
import { answerFromJson, answerFromStream, replayChunks } from '../../src/cache/cached-answer.js';

describe('cache keys', () => {
  it('canonical JSON sorts keys at every depth', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { z: 1, y: 2 }], c: null } })).toBe('{"a":{"c":null,"d":[2,{"y":2,"z":1}]},"b":1}');
  });

  it('field order never matters; stream, stream_options and user never count', () => {
    const a = cacheKey('', 'chat', { model: 'm', messages: [{ role: 'user', content: 'x' }], temperature: 0 });
    const b = cacheKey('', 'chat', { temperature: 0, stream: true, stream_options: { include_usage: true }, user: 'u', messages: [{ content: 'x', role: 'user' }], model: 'm' });
    expect(a).toBe(b);
  });

  it('everything that changes the answer changes the key', () => {
    const base = { model: 'm', messages: [{ role: 'user', content: 'x' }] };
    const key = cacheKey('', 'chat', base);
    expect(cacheKey('', 'chat', { ...base, temperature: 1 })).not.toBe(key);
    expect(cacheKey('', 'chat', { ...base, model: 'n' })).not.toBe(key);
    expect(cacheKey('', 'chat', { ...base, tools: [{ type: 'function' }] })).not.toBe(key);
    expect(cacheKey('', 'completions', base)).not.toBe(key);
    expect(cacheKey('tenant-b', 'chat', base)).not.toBe(key);
  });
});

describe('cached answers', () => {
  const envelope = { id: 'c1', object: 'chat.completion.chunk', created: 5, model: 'route' };
  const streamed = [
    { ...envelope, choices: [{ index: 0, delta: { role: 'assistant', content: 'Hel' }, finish_reason: null }] },
    { ...envelope, choices: [{ index: 0, delta: { content: 'lo', tool_calls: [{ index: 0, id: 't1', type: 'function', function: { name: 'f', arguments: '{"a"' } }] }, finish_reason: null }] },
    { ...envelope, choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: ':1}' } }] }, finish_reason: 'tool_calls' }] },
    { ...envelope, choices: [], usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 } },
  ];

  it('assembles a stream into one JSON response, usage included', () => {
    const answer = answerFromStream('chat', streamed);
    expect(answer.json).toEqual({
      id: 'c1', object: 'chat.completion', created: 5, model: 'route',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hello', refusal: null, tool_calls: [{ id: 't1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }] }, logprobs: null, finish_reason: 'tool_calls' }],
      usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 },
    });
    expect(answer.chunks).toHaveLength(3);
  });

  it('replays the same chunks, with the usage chunk only when asked', () => {
    const answer = answerFromStream('chat', streamed);
    expect(replayChunks('chat', answer, false)).toEqual(streamed.slice(0, 3));
    const withUsage = replayChunks('chat', answer, true);
    expect(withUsage).toHaveLength(4);
    expect(withUsage[3]).toMatchObject({ choices: [], usage: { total_tokens: 7 } });
  });

  it('replays a JSON answer as chunks that reassemble to it', () => {
    const json = answerFromStream('chat', streamed).json;
    const replayed = replayChunks('chat', answerFromJson(json), true);
    expect(answerFromStream('chat', replayed).json).toEqual(json);
  });
});
