/**
 * What the memory cache really costs: peak RSS of the gateway (dist/, with `npm start`'s Node options) serving
 * large answers with the cache off, then with the memory cache on and `maxBytes` set, same workload. The
 * difference is what the cache costs the process; the goal is at most about 2× `maxBytes`.
 *
 *   npm run build && tsx benchmarks/cache-memory.ts [--answer-kb 500] [--max-mib 16] [--prompts 120] [--runs 3]
 *
 * Workload per phase, for JSON and then for streamed answers: every distinct prompt once (misses that
 * fill and churn the cache), then three times as many requests again, half to a hot set (hits), half to
 * any prompt (misses that evict), four at a time. Each phase is a fresh gateway, run `--runs` times; the
 * table gives medians (peaks move with garbage-collection timing). RSS (VmRSS) is sampled every 10 ms;
 * VmHWM gives the peak.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startCommand } from './start-command.js';

const { values } = parseArgs({
  options: {
    'answer-kb': { type: 'string', default: '500' },
    'max-mib': { type: 'string', default: '16' },
    prompts: { type: 'string', default: '120' },
    chunks: { type: 'string', default: '64' },
    runs: { type: 'string', default: '3' },
    /** Run `node dist/main.js` without the start script's Node options. */
    bare: { type: 'boolean', default: false },
  },
});
const ANSWER_BYTES = Number(values['answer-kb']) * 1000;
const MAX_BYTES = Number(values['max-mib']) * 1024 * 1024;
const PROMPTS = Number(values.prompts);
const CHUNKS = Number(values.chunks);
const RUNS = Number(values.runs);
const CONCURRENCY = 4;
const MiB = 1024 * 1024;

/** An upstream whose answer to each prompt is ANSWER_BYTES of text of its own (so no two answers share). */
function startUpstream(): Promise<Server> {
  const server = createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (part: string) => (raw += part));
    req.on('end', () => {
      const body = JSON.parse(raw) as { messages: { content: string }[]; stream?: boolean; stream_options?: { include_usage?: boolean } };
      const seed = body.messages.at(-1)?.content ?? '';
      const text = `${seed} `.repeat(Math.ceil(ANSWER_BYTES / (seed.length + 1))).slice(0, ANSWER_BYTES);
      const base = { id: `chatcmpl-${seed}`, created: 1, model: 'big-model' };
      const usage = { prompt_tokens: 10, completion_tokens: Math.round(ANSWER_BYTES / 4), total_tokens: 10 + Math.round(ANSWER_BYTES / 4) };
      if (!body.stream) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ...base, object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }], usage }));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const size = Math.ceil(text.length / CHUNKS);
      for (let i = 0; i < CHUNKS; i++) {
        const delta = i === 0 ? { role: 'assistant', content: text.slice(0, size) } : { content: text.slice(i * size, (i + 1) * size) };
        res.write(`data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: i === CHUNKS - 1 ? 'stop' : null }] })}\n\n`);
      }
      if (body.stream_options?.include_usage) res.write(`data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices: [], usage })}\n\n`);
      res.end('data: [DONE]\n\n');
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

function status(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match?.[1] ?? 0) * 1024;
}

async function startGateway(upstreamUrl: string, cacheOn: boolean): Promise<{ child: ChildProcess; origin: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'cache-memory-'));
  const config = join(dir, 'gateway.yaml');
  writeFileSync(
    config,
    JSON.stringify({
      logging: { level: 'info' },
      providers: { up: { type: 'openai-compatible', baseUrl: upstreamUrl } },
      routes: { big: { targets: [{ provider: 'up', model: 'big-model' }], cache: { enabled: cacheOn } } },
      cache: { maxBytes: MAX_BYTES, maxEntryBytes: 1024 * 1024 },
      telemetry: { sink: 'none', logRequests: false },
    }),
  );
  const child = spawn(process.execPath, values.bare ? ['dist/main.js'] : startCommand(process.cwd()).args, { env: { ...process.env, ...(values.bare ? {} : startCommand(process.cwd()).env), GATEWAY_CONFIG: config, PORT: '0' }, stdio: ['ignore', 'pipe', 'inherit'] });
  const origin = await new Promise<string>((resolve, reject) => {
    let output = '';
    child.stdout!.on('data', (data: Buffer) => {
      output += data.toString();
      const match = /listening on (http:\/\/[\d.:]+)/.exec(output);
      if (match) resolve(match[1] as string);
    });
    child.once('exit', (code) => reject(new Error(`gateway exited with ${code}: ${output}`)));
  });
  return { child, origin };
}

async function ask(origin: string, prompt: string, stream: boolean): Promise<void> {
  const response = await fetch(`${origin}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'big', stream, messages: [{ role: 'user', content: prompt }] }),
  });
  await response.arrayBuffer();
  if (response.status !== 200) throw new Error(`status ${response.status}`);
}

/** Deterministic, so every phase sends the same sequence. */
function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

/**
 * Every prompt once (misses that fill and churn the cache), then three passes' worth of requests: half to
 * a hot set of 16 prompts (hits once cached), half to any prompt (mostly misses that evict).
 */
async function runWorkload(origin: string, stream: boolean): Promise<void> {
  const prompts = Array.from({ length: PROMPTS }, (_, i) => `${stream ? 's' : 'j'}${i}`);
  const random = seeded(42);
  const pick = (): string => prompts[Math.floor(random() * (random() < 0.5 ? 16 : PROMPTS))] as string;
  const order = [...prompts, ...Array.from({ length: 3 * PROMPTS }, pick)];
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < order.length) await ask(origin, order[next++] as string, stream);
    }),
  );
}

interface PhaseResult {
  idleMiB: number;
  peakMiB: number;
  growthMiB: number;
}

async function phase(upstreamUrl: string, cacheOn: boolean, stream: boolean): Promise<PhaseResult> {
  const { child, origin } = await startGateway(upstreamUrl, cacheOn);
  const pid = child.pid as number;
  try {
    await ask(origin, 'warm-up', stream);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const idle = status(pid, 'VmRSS');
    let peak = idle;
    const sampler = setInterval(() => (peak = Math.max(peak, status(pid, 'VmRSS'))), 10);
    await runWorkload(origin, stream);
    clearInterval(sampler);
    peak = Math.max(peak, status(pid, 'VmHWM'));
    return { idleMiB: idle / MiB, peakMiB: peak / MiB, growthMiB: (peak - idle) / MiB };
  } finally {
    child.kill('SIGKILL');
  }
}

/** The run with the median growth. */
async function medianPhase(upstreamUrl: string, cacheOn: boolean, stream: boolean): Promise<PhaseResult> {
  const results: PhaseResult[] = [];
  for (let i = 0; i < RUNS; i++) results.push(await phase(upstreamUrl, cacheOn, stream));
  results.sort((a, b) => a.growthMiB - b.growthMiB);
  return results[Math.floor(results.length / 2)] as PhaseResult;
}

const upstream = await startUpstream();
const upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`;
const fmt = (n: number): string => n.toFixed(1);
process.stdout.write(
  `answers ${ANSWER_BYTES / 1000} KB, cache.maxBytes ${MAX_BYTES / MiB} MiB, ${PROMPTS} distinct prompts, 4 × as many requests, ${CONCURRENCY} at a time, median of ${RUNS} runs, Node ${process.version}${values.bare ? ', without the start script\'s Node options' : ''}\n\n` +
    '| answers | cache | idle RSS MiB | peak RSS MiB | growth MiB | cache cost (growth − off) | × maxBytes |\n| --- | --- | ---: | ---: | ---: | ---: | ---: |\n',
);
for (const stream of [false, true]) {
  const off = await medianPhase(upstreamUrl, false, stream);
  const on = await medianPhase(upstreamUrl, true, stream);
  const cost = on.growthMiB - off.growthMiB;
  const kind = stream ? 'stream' : 'JSON';
  process.stdout.write(`| ${kind} | off | ${fmt(off.idleMiB)} | ${fmt(off.peakMiB)} | ${fmt(off.growthMiB)} | – | – |\n`);
  process.stdout.write(`| ${kind} | memory | ${fmt(on.idleMiB)} | ${fmt(on.peakMiB)} | ${fmt(on.growthMiB)} | ${fmt(cost)} | ${(cost / (MAX_BYTES / MiB)).toFixed(2)} |\n`);
}
upstream.closeAllConnections();
upstream.close();
