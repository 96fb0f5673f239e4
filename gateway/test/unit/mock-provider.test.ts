import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import { createProvider } from '../../src/providers/registry.js';
import { countMockTokens, mockEmbedding } from '../../src/providers/mock-text.js';
import type { JsonObject, ProviderCall } from '../../src/providers/types.js';

const config = validateConfig({ providers: { sim: { type: 'mock', streamChunks: 5, embeddingDimensions: 4 } } }, {}, 'test');
const mock = createProvider('sim', config.providers.sim!);

function call(partial: Partial<ProviderCall>): ProviderCall {
  return { operation: 'chat', model: 'mock-1', body: {}, stream: false, requestId: 'r1', signal: new AbortController().signal, ...partial };
}

async function collect(iterator: AsyncIterator<JsonObject>): Promise<JsonObject[]> {
  const out: JsonObject[] = [];
  for (let next = await iterator.next(); !next.done; next = await iterator.next()) out.push(next.value);
  return out;
}

describe('mock provider', () => {
  it('counts tokens as words and punctuation', () => {
    expect(countMockTokens('Hello, world!')).toBe(4);
    expect(countMockTokens('')).toBe(0);
  });

  it('streams exactly streamChunks content chunks plus usage when asked, matching the JSON answer', async () => {
    const messages = [{ role: 'system', content: 'be brief' }, { role: 'user', content: [{ type: 'text', text: 'hi there' }] }];
    const json = await mock.send(call({ body: { model: 'mock-1', messages } }));
    const streamed = await mock.send(call({ stream: true, body: { model: 'mock-1', messages, stream_options: { include_usage: true } } }));
    if (json.kind !== 'json' || streamed.kind !== 'stream') throw new Error('wrong kinds');
    const chunks = await collect(streamed.chunks);
    expect(chunks).toHaveLength(6);
    const text = chunks.slice(0, 5).map((c) => ((c.choices as { delta: { content: string } }[])[0]!.delta.content)).join('');
    const message = (json.body.choices as { message: { content: string } }[])[0]!.message;
    expect(text).toBe(message.content);
    expect(chunks[5]!.usage).toEqual(json.body.usage);
    expect(json.body.usage).toEqual({ prompt_tokens: 4, completion_tokens: countMockTokens(message.content), total_tokens: 4 + countMockTokens(message.content) });
  });

  it('omits the usage chunk unless include_usage is set', async () => {
    const streamed = await mock.send(call({ stream: true, body: { messages: [{ role: 'user', content: 'x' }] } }));
    if (streamed.kind !== 'stream') throw new Error('wrong kind');
    const chunks = await collect(streamed.chunks);
    expect(chunks).toHaveLength(5);
    expect(chunks.every((c) => c.usage === undefined)).toBe(true);
  });

  it('gives deterministic unit-length embeddings', async () => {
    const reply = await mock.send(call({ operation: 'embeddings', body: { input: ['a b', 'c'] } }));
    if (reply.kind !== 'json') throw new Error('wrong kind');
    const data = reply.body.data as { embedding: number[] }[];
    expect(data).toHaveLength(2);
    expect(data[0]!.embedding).toEqual(mockEmbedding('a b', 4));
    const norm = Math.sqrt(data[0]!.embedding.reduce((sum, v) => sum + v * v, 0));
    expect(norm).toBeCloseTo(1, 4);
    expect(reply.body.usage).toEqual({ prompt_tokens: 3, total_tokens: 3 });
  });
});
