/**
 * Two builds of the gateway, same config, same upstream, measured in alternating rounds so the shared
 * machine's load falls on both alike: `tsx benchmarks/compare-builds.ts --before <checkout> [--after .]`.
 * Each checkout needs its `dist/` built and its `node_modules`. Reports, per scenario, the median over
 * rounds of the gateway's CPU time per request (utime + stime from /proc: what a change costs) and of
 * requests/s (closed loop, what the machine let it do).
 *
 * Used to check that the request path with no policy configured is as fast as before the policy layer
 * (README "Benchmarks"); the config names no guardrail and no conditional route.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort } from '../gateway/test/helpers/free-port.js';
import { startBenchUpstream } from './mock-upstream.js';
import { stopChild, waitForHttp } from './processes.js';
import { runSaturation } from './saturation.js';

const { values: args } = parseArgs({
  options: {
    before: { type: 'string' },
    after: { type: 'string', default: '.' },
    rounds: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '4' },
  },
});
if (!args.before) throw new Error('--before <checkout> is required');

const BODY = (stream: boolean): string =>
  JSON.stringify({
    model: 'bench',
    messages: [
      { role: 'system', content: 'You are a helpful assistant that answers concisely and accurately. '.repeat(4) },
      { role: 'user', content: 'Summarise the following paragraph in one sentence. '.repeat(12) },
    ],
    max_tokens: 128,
    ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
  });

interface Build {
  name: string;
  dir: string;
  child?: ChildProcess;
  port?: number;
}

async function startBuild(build: Build, configFile: string): Promise<void> {
  build.port = await freePort();
  build.child = spawn(join(build.dir, 'node_modules/.bin/node'), ['dist/main.js'], {
    cwd: build.dir,
    env: { ...process.env, GATEWAY_CONFIG: configFile, PORT: String(build.port) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  await waitForHttp(`http://127.0.0.1:${build.port}/healthz`);
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

async function main(): Promise<void> {
  const upstreamPort = await freePort();
  const stopUpstream = await startBenchUpstream({ port: upstreamPort, latencyMs: 0, chunks: 8, chunkDelayMs: 0 });
  const work = mkdtempSync(join(tmpdir(), 'gateway-compare-'));
  const configFile = join(work, 'config.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      logging: { level: 'warn' },
      providers: { up: { type: 'openai-compatible', baseUrl: `http://127.0.0.1:${upstreamPort}/v1`, maxConnections: 256 } },
      routing: { retry: { maxAttempts: 1 } },
      telemetry: { sink: 'none', logRequests: false, dataDir: join(work, 'data') },
      routes: { bench: { targets: [{ provider: 'up', model: 'bench-model' }] } },
    }),
  );
  const builds: Build[] = [
    { name: 'before', dir: resolve(args.before as string) },
    { name: 'after', dir: resolve(args.after) },
  ];
  try {
    for (const build of builds) await startBuild(build, configFile);
    const results = new Map<string, { cpu: number[]; rps: number[] }>();
    for (let round = 0; round < Number(args.rounds); round++) {
      for (const stream of [false, true]) {
        // Alternate which build goes first, so neither always meets the same moment of the machine's load.
        const order = round % 2 === 0 ? builds : [...builds].reverse();
        for (const build of order) {
          const key = `${stream ? 'chat stream' : 'chat JSON'}|${build.name}`;
          const url = `http://127.0.0.1:${build.port}/v1/chat/completions`;
          await runSaturation({ url, body: BODY(stream), connections: 32, durationSec: 1 });
          const result = await runSaturation({ url, body: BODY(stream), connections: 32, durationSec: Number(args.seconds), pids: [build.child!.pid!] });
          const entry = results.get(key) ?? { cpu: [], rps: [] };
          entry.cpu.push(result.cpuMsPerRequest ?? NaN);
          entry.rps.push(result.requestsPerSec);
          results.set(key, entry);
          process.stdout.write(`round ${round + 1} ${key.padEnd(20)} ${result.requestsPerSec.toFixed(0).padStart(6)} req/s  ${result.cpuMsPerRequest?.toFixed(3)} ms CPU/req\n`);
        }
      }
    }
    process.stdout.write('\n| scenario | build | CPU ms/req (median) | req/s (median) |\n| --- | --- | ---: | ---: |\n');
    for (const [key, { cpu, rps }] of results) {
      const [scenario, build] = key.split('|');
      process.stdout.write(`| ${scenario} | ${build} | ${median(cpu).toFixed(3)} | ${median(rps).toFixed(0)} |\n`);
    }
  } finally {
    await Promise.all(builds.map((build) => (build.child ? stopChild(build.child) : undefined)));
    await stopUpstream();
  }
}

await main();
