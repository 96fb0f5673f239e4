/**
 * Run as its own process with --expose-gc (see cache-memory.test.ts): a gateway with the memory cache on
 * serves many large answers — JSON and streamed, misses, same-form and cross-form hits — over real
 * sockets, and reports how much the heap and external memory grew, after full collections, against what
 * the cache store counts. Prints one JSON line.
 *
 *   node --expose-gc --import tsx gateway/test/helpers/cache-heap-probe.ts <maxBytes> <answerBytes> <prompts>
 */
import type { AddressInfo } from 'node:net';
import { buildApp } from '../../src/app.js';
import type { MemoryCacheStore } from '../../src/cache/memory-store.js';
import { validateConfig } from '../../src/config/load.js';

const [maxBytes, answerBytes, prompts] = process.argv.slice(2).map(Number) as [number, number, number];
const collect = (globalThis as { gc?: () => void }).gc;
if (!collect) throw new Error('run with --expose-gc');

const config = validateConfig(
  {
    logging: { level: 'silent' },
    providers: { sim: { type: 'mock' } },
    routes: { cached: { targets: [{ provider: 'sim', model: 'mock-1' }], cache: { enabled: true } } },
    cache: { maxBytes, maxEntryBytes: maxBytes },
    telemetry: { sink: 'none', logRequests: false },
  },
  {},
  'cache-heap-probe',
);
const app = buildApp(config);
await app.listen({ host: '127.0.0.1', port: 0 });
const origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;

const hits = { json: 0, stream: 0 };
/** The mock answers with the prompt's first words: one long word makes an answer of about that size. */
async function ask(word: string, stream: boolean): Promise<void> {
  const response = await fetch(`${origin}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'cached', stream, stream_options: stream ? { include_usage: true } : undefined, messages: [{ role: 'user', content: word }] }),
  });
  await response.arrayBuffer();
  if (response.status !== 200) throw new Error(`status ${response.status}`);
  if (response.headers.get('x-gateway-cache') === 'HIT') hits[stream ? 'stream' : 'json']++;
}

function settled(): { heap: number; external: number } {
  collect!();
  collect!();
  const usage = process.memoryUsage();
  // `external` includes the ArrayBuffers that Buffers hold.
  return { heap: usage.heapUsed, external: usage.external };
}

const bigWord = (i: number): string => `${i}-${'x'.repeat(answerBytes)}`;
// Warm every path (miss, hit, cross-form hit) so lazily loaded and optimised code is not counted as cache.
for (let i = 0; i < 50; i++) for (const stream of [false, true, false, true]) await ask(`warm-up-${i}`, stream);
await new Promise((resolve) => setTimeout(resolve, 200));
const before = settled();

for (let i = 0; i < prompts; i++) {
  const stream = i % 2 === 1;
  await ask(bigWord(i), stream);
  // Hits on what was just stored: the same form, then the other one.
  await ask(bigWord(i), stream);
  await ask(bigWord(i), !stream);
}
await new Promise((resolve) => setTimeout(resolve, 200));
const after = settled();
const store = app.cache?.store as MemoryCacheStore;
process.stdout.write(
  `${JSON.stringify({
    heapGrowth: after.heap - before.heap,
    externalGrowth: after.external - before.external,
    counted: store.calculatedSize,
    departed: store.departedBytes,
    hits,
  })}\n`,
);
await app.close();
