/**
 * The fleet scenario: one simulated GPU fleet — 4 replicas, one of them half as fast — behind the
 * gateway, under a chat workload of shared system prompts and multi-turn conversations offered at a
 * fixed rate near the fleet's capacity. The same seeded arrival schedule runs against each strategy:
 *
 * - round-robin: a pool taking replicas in turn;
 * - least-busy: today's route strategy over 4 single-server providers (fewest in-flight first);
 * - least-loaded: a pool scheduling on vLLM's /metrics (queue, running, KV) plus what it sent since;
 * - prefix-affinity: the pool following prompt prefixes, bounded load, least-loaded past the bound.
 *
 * Reported per strategy: end-to-end p50/p95, time to first token p95, the fleet's prefix-cache hit
 * ratio (cached prompt tokens / prompt tokens, from the engines) and each replica's peak queue.
 *   tsx benchmarks/fleet.ts [--quick]   (npm run bench runs it too)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { freePort } from '../gateway/test/helpers/free-port.js';
import { stopChild, waitForHttp } from './processes.js';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const SPEEDS = [1, 1, 1, 0.5];

/** Loopback ports picked free at the start of a run (fixed ones collide with other runs on a shared machine). */
interface FleetPorts {
  engines: number[];
  gateway: number;
}

export const STRATEGIES = ['round-robin', 'least-busy', 'least-loaded', 'prefix-affinity'] as const;
export type FleetStrategy = (typeof STRATEGIES)[number];

export interface FleetResult {
  strategy: FleetStrategy;
  requests: number;
  errors: number;
  e2eP50: number;
  e2eP95: number;
  ttftP50: number;
  ttftP95: number;
  cacheHitRatio: number;
  peakQueues: number[];
}

export interface FleetOptions {
  rate: number;
  durationMs: number;
  warmupMs: number;
  seed: number;
  /** The pools' bounded-load factor (1 + ε); the gateway's default when undefined. */
  loadFactor: number | undefined;
  strategies: readonly FleetStrategy[];
}

export const FLEET_DEFAULTS: FleetOptions = { rate: 45, durationMs: 20_000, warmupMs: 5_000, seed: 7, loadFactor: undefined, strategies: STRATEGIES };

/** A small deterministic PRNG (mulberry32), so every strategy faces the same arrivals and prompts. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = 'alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu'.split(' ');

function text(random: () => number, chars: number): string {
  let out = '';
  while (out.length < chars) out += `${WORDS[Math.floor(random() * WORDS.length)]} `;
  return out.slice(0, chars);
}

interface Session {
  system: string;
  turns: { role: 'user' | 'assistant'; content: string }[];
  left: number;
}

/**
 * The workload: 8 system prompts (~1,500 tokens each, the first ones more popular) shared by 48
 * concurrent conversations of 2–6 turns; each arrival is the next turn of a random conversation,
 * carrying its whole history. Arrivals are Poisson at `rate`.
 */
function workload(options: FleetOptions): { at: number; body: string }[] {
  const random = prng(options.seed);
  const systems = Array.from({ length: 8 }, (_, i) => `System prompt ${i}. ${text(random, 6000)}`);
  const newSession = (): Session => ({
    system: systems[Math.min(systems.length - 1, Math.floor(-Math.log(1 - random()) * 2.5))] as string,
    turns: [],
    left: 2 + Math.floor(random() * 5),
  });
  const sessions = Array.from({ length: 48 }, newSession);
  const out: { at: number; body: string }[] = [];
  const total = options.warmupMs + options.durationMs;
  for (let at = 0; at < total; at += (-Math.log(1 - random()) * 1000) / options.rate) {
    const index = Math.floor(random() * sessions.length);
    const session = sessions[index] as Session;
    session.turns.push({ role: 'user', content: text(random, 200 + Math.floor(random() * 400)) });
    out.push({
      at,
      body: JSON.stringify({
        model: 'fleet',
        stream: true,
        max_tokens: 16,
        messages: [{ role: 'system', content: session.system }, ...session.turns],
      }),
    });
    session.turns.push({ role: 'assistant', content: text(random, 64) });
    if (--session.left === 0) sessions[index] = newSession();
  }
  return out;
}

function gatewayConfig(ports: FleetPorts, strategy: FleetStrategy, loadFactor: number | undefined): Record<string, unknown> {
  const urls = ports.engines.map((port) => `http://127.0.0.1:${port}/v1`);
  const common = { logging: { level: 'warn' }, routing: { retry: { maxAttempts: 1 } }, telemetry: { sink: 'none', logRequests: false } };
  if (strategy === 'least-busy') {
    return {
      ...common,
      providers: Object.fromEntries(urls.map((baseUrl, i) => [`gpu${i}`, { type: 'openai-compatible', baseUrl, maxConnections: 256 }])),
      routes: { fleet: { strategy: 'least-busy', targets: urls.map((_, i) => ({ provider: `gpu${i}`, model: 'fake-model' })) } },
    };
  }
  return {
    ...common,
    providers: { gpus: { type: 'openai-compatible', replicas: urls, engine: 'vllm', scheduling: { strategy, ...(loadFactor === undefined ? {} : { loadFactor }) }, maxConnections: 256 } },
    routes: { fleet: { targets: [{ provider: 'gpus', model: 'fake-model' }] } },
  };
}

function startProcess(command: string, args: string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(command, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
}


function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number) : NaN;
}

async function engineStats(ports: FleetPorts): Promise<{ promptTokens: number; cachedTokens: number; peakWaiting: number }[]> {
  return Promise.all(ports.engines.map(async (port) => (await (await fetch(`http://127.0.0.1:${port}/stats`)).json()) as { promptTokens: number; cachedTokens: number; peakWaiting: number }));
}

async function engineReset(ports: FleetPorts, path: '/reset' | '/reset-stats'): Promise<void> {
  await Promise.all(ports.engines.map((port) => fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST' })));
}

/** Sends the schedule open-loop; returns end-to-end and first-byte latencies of the measured part. */
async function drive(gatewayPort: number, schedule: { at: number; body: string }[], warmupMs: number, onWarm: () => Promise<void>): Promise<{ e2e: number[]; ttft: number[]; errors: number }> {
  const pool = new Pool(`http://127.0.0.1:${gatewayPort}`, { connections: 512, pipelining: 1, keepAliveTimeout: 60_000 });
  const e2e: number[] = [];
  const ttft: number[] = [];
  let errors = 0;
  const pending: Promise<void>[] = [];
  const start = performance.now();
  let warmed = false;
  for (const item of schedule) {
    const intended = start + item.at;
    const wait = intended - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    if (!warmed && item.at >= warmupMs) {
      warmed = true;
      await onWarm();
    }
    const measured = item.at >= warmupMs;
    pending.push(
      (async () => {
        try {
          const response = await pool.request({ path: '/v1/chat/completions', method: 'POST', headers: { 'content-type': 'application/json' }, body: item.body });
          let first: number | undefined;
          for await (const _ of response.body) first ??= performance.now();
          const end = performance.now();
          if (response.statusCode !== 200 || first === undefined) {
            if (measured) errors++;
            return;
          }
          if (measured) {
            ttft.push(first - intended);
            e2e.push(end - intended);
          }
        } catch {
          if (measured) errors++;
        }
      })(),
    );
  }
  await Promise.all(pending);
  await pool.close();
  return { e2e, ttft, errors };
}

export async function runFleet(options: FleetOptions = FLEET_DEFAULTS, log: (line: string) => void = (line) => process.stdout.write(`${line}\n`)): Promise<FleetResult[]> {
  const work = mkdtempSync(join(tmpdir(), 'gateway-fleet-'));
  const ports: FleetPorts = { engines: [await freePort(), await freePort(), await freePort(), await freePort()], gateway: await freePort() };
  const engines = startProcess(process.execPath, ['--import', 'tsx', 'benchmarks/fleet-engines.ts', '--ports', ports.engines.join(','), '--speeds', SPEEDS.join(',')]);
  const results: FleetResult[] = [];
  try {
    await waitForHttp(`http://127.0.0.1:${ports.engines[0]}/stats`);
    const schedule = workload(options);
    for (const strategy of options.strategies) {
      await engineReset(ports, '/reset');
      const file = join(work, `${strategy}.json`);
      writeFileSync(file, JSON.stringify(gatewayConfig(ports, strategy, options.loadFactor)));
      const gateway = startProcess(process.execPath, ['dist/main.js'], { GATEWAY_CONFIG: file, PORT: String(ports.gateway) });
      try {
        await waitForHttp(`http://127.0.0.1:${ports.gateway}/healthz`);
        const run = await drive(ports.gateway, schedule, options.warmupMs, () => engineReset(ports, '/reset-stats'));
        const stats = await engineStats(ports);
        const prompt = stats.reduce((sum, s) => sum + s.promptTokens, 0);
        const cached = stats.reduce((sum, s) => sum + s.cachedTokens, 0);
        const result: FleetResult = {
          strategy,
          requests: run.e2e.length,
          errors: run.errors,
          e2eP50: quantile(run.e2e, 0.5),
          e2eP95: quantile(run.e2e, 0.95),
          ttftP50: quantile(run.ttft, 0.5),
          ttftP95: quantile(run.ttft, 0.95),
          cacheHitRatio: prompt > 0 ? cached / prompt : 0,
          peakQueues: stats.map((s) => s.peakWaiting),
        };
        results.push(result);
        log(`fleet ${strategy.padEnd(16)} e2e p50 ${result.e2eP50.toFixed(0)} p95 ${result.e2eP95.toFixed(0)} ms, TTFT p95 ${result.ttftP95.toFixed(0)} ms, cache hit ${(result.cacheHitRatio * 100).toFixed(1)}%, peak queues ${result.peakQueues.join('/')}, errors ${result.errors}`);
      } finally {
        await stopChild(gateway);
      }
    }
  } finally {
    await stopChild(engines);
  }
  return results;
}

/** The targets: prefix-affinity cuts p95 TTFT ≥ 30% against least-busy, without any replica's peak queue above round-robin's. */
export function fleetTargets(results: FleetResult[]): { ttftCut: number; ttftMet: boolean; peakQueue: number; roundRobinPeakQueue: number; queueMet: boolean } {
  const by = (strategy: FleetStrategy) => results.find((r) => r.strategy === strategy) as FleetResult;
  const ttftCut = 1 - by('prefix-affinity').ttftP95 / by('least-busy').ttftP95;
  const peakQueue = Math.max(...by('prefix-affinity').peakQueues);
  const roundRobinPeakQueue = Math.max(...by('round-robin').peakQueues);
  return { ttftCut, ttftMet: ttftCut >= 0.3, peakQueue, roundRobinPeakQueue, queueMet: peakQueue <= roundRobinPeakQueue };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      rate: { type: 'string' },
      'duration-ms': { type: 'string' },
      'load-factor': { type: 'string' },
      strategies: { type: 'string' },
    },
  });
  const options: FleetOptions = {
    ...FLEET_DEFAULTS,
    ...(values.quick ? { durationMs: 3000, warmupMs: 1000 } : {}),
    ...(values.rate ? { rate: Number(values.rate) } : {}),
    ...(values['duration-ms'] ? { durationMs: Number(values['duration-ms']) } : {}),
    ...(values['load-factor'] ? { loadFactor: Number(values['load-factor']) } : {}),
    ...(values.strategies ? { strategies: values.strategies.split(',') as FleetStrategy[] } : {}),
  };
  const results = await runFleet(options);
  if (options.strategies.length === STRATEGIES.length) process.stdout.write(`${JSON.stringify(fleetTargets(results))}\n`);
}
