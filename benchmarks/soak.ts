/**
 * `npm run soak`: the gateway in its default configuration (DuckDB traces, a log line per request, as
 * `npm start` runs it) under a steady mix of traffic for ten minutes — chat JSON, streams, cache hits,
 * fallbacks, upstream errors and invalid requests, evenly spaced — while its RSS is sampled. Then it is
 * stopped (which flushes its traces) and every trace id it answered with is looked up in its DuckDB file.
 *
 * Passes when RSS at the end is within 10% of where it stood after the first minute (no growth: nothing
 * accumulates per request) and every request is traced. Writes benchmarks/results/soak-<date>.json and
 * .md. Not part of `npm test` (it takes ten minutes); `--seconds` shortens it for a look.
 *
 *   npm run soak -- --rate 300 --seconds 600
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { freePort } from '../gateway/test/helpers/free-port.js';
import { summarize } from './open-loop.js';
import { cpuTimeMs } from './saturation.js';
import { startCommand } from './start-command.js';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const { values: args } = parseArgs({
  options: {
    rate: { type: 'string', default: '300' },
    seconds: { type: 'string', default: '600' },
    out: { type: 'string', default: join(ROOT, 'benchmarks/results') },
  },
});
const RATE = Number(args.rate);
const SECONDS = Number(args.seconds);
const SAMPLE_MS = 5000;
/** RSS after this long is the baseline the end is compared with. */
const BASELINE_SECONDS = Math.min(60, SECONDS / 2);

const PROMPT = 'Summarise the following paragraph in one sentence. '.repeat(12);
const chat = (model: string, content: string, stream = false): string =>
  JSON.stringify({ model, messages: [{ role: 'user', content }], max_tokens: 128, ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}) });

/** The mix, by weight out of 20: each slot is one kind of request. */
const MIX: { kind: string; weight: number; body: (i: number) => string }[] = [
  { kind: 'chat JSON', weight: 8, body: (i) => chat('bench', `${PROMPT} ${i}`) },
  { kind: 'chat stream', weight: 4, body: (i) => chat('bench', `${PROMPT} ${i}`, true) },
  // Sixteen prompts over and over: after the first of each, cache hits.
  { kind: 'cache hit', weight: 4, body: (i) => chat('cached', `${PROMPT} ${i % 16}`) },
  { kind: 'fallback (500 → ok)', weight: 2, body: (i) => chat('fallback', `${PROMPT} ${i}`) },
  { kind: 'upstream error (5xx)', weight: 1, body: (i) => chat('failing', `${PROMPT} ${i}`) },
  { kind: 'invalid request (400)', weight: 1, body: () => JSON.stringify({ model: 'bench', messages: 'not a list' }) },
];
const SLOTS = MIX.flatMap((entry) => Array.from({ length: entry.weight }, () => entry));

function rssMb(pid: number): number {
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 102.4) / 10;
}

async function waitForHttp(url: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    try {
      await (await fetch(url)).arrayBuffer();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`${url} did not come up`);
}

async function main(): Promise<void> {
  const loadStart = loadavg().map((value) => Math.round(value * 100) / 100);
  const work = mkdtempSync(join(tmpdir(), 'gateway-soak-'));
  const dataDir = join(work, 'data');
  const ports = { upstream: await freePort(), gateway: await freePort() };
  const config = join(work, 'gateway.json');
  writeFileSync(
    config,
    JSON.stringify({
      providers: { up: { type: 'openai-compatible', baseUrl: `http://127.0.0.1:${ports.upstream}/v1`, maxConnections: 256 } },
      routing: { retry: { maxAttempts: 1 }, breaker: { enabled: false } },
      telemetry: { dataDir },
      routes: {
        bench: { targets: [{ provider: 'up', model: 'bench-model' }] },
        cached: { targets: [{ provider: 'up', model: 'bench-model' }], cache: { enabled: true, ttlSeconds: 3600 } },
        fallback: { strategy: 'fallback', targets: [{ provider: 'up', model: 'fail-500' }, { provider: 'up', model: 'bench-model' }] },
        failing: { targets: [{ provider: 'up', model: 'fail-500' }] },
      },
    }),
  );
  const children: ChildProcess[] = [];
  const upstream = spawn(process.execPath, ['--import', 'tsx', 'benchmarks/mock-upstream.ts', '--port', String(ports.upstream), '--chunks', '8'], { cwd: ROOT, stdio: 'ignore' });
  children.push(upstream);
  const start = startCommand(ROOT);
  const gateway = spawn(process.execPath, start.args, { cwd: ROOT, env: { ...process.env, ...start.env, GATEWAY_CONFIG: config, PORT: String(ports.gateway) }, stdio: ['ignore', 'ignore', 'inherit'] });
  children.push(gateway);
  const exited = new Promise<number | null>((resolve) => gateway.once('exit', resolve));
  try {
    await waitForHttp(`http://127.0.0.1:${ports.upstream}/`);
    await waitForHttp(`http://127.0.0.1:${ports.gateway}/healthz`);
    const pid = gateway.pid!;

    const pool = new Pool(`http://127.0.0.1:${ports.gateway}`, { connections: 128, keepAliveTimeout: 60_000 });
    const traceIds = new Set<string>();
    const byKind = new Map<string, { sent: number; statuses: Record<string, number> }>();
    const latencies: number[] = [];
    let failures = 0;
    const samples: { atSeconds: number; rssMb: number }[] = [{ atSeconds: 0, rssMb: rssMb(pid) }];
    const cpuStart = cpuTimeMs(pid);

    const send = async (i: number, intended: number): Promise<void> => {
      const entry = SLOTS[i % SLOTS.length]!;
      const counts = byKind.get(entry.kind) ?? { sent: 0, statuses: {} };
      byKind.set(entry.kind, counts);
      counts.sent++;
      try {
        const response = await pool.request({ path: '/v1/chat/completions', method: 'POST', headers: { 'content-type': 'application/json' }, body: entry.body(i) });
        await response.body.dump({ limit: Infinity });
        latencies.push(performance.now() - intended);
        const id = response.headers['x-gateway-trace-id'];
        if (typeof id === 'string') traceIds.add(id);
        counts.statuses[response.statusCode] = (counts.statuses[response.statusCode] ?? 0) + 1;
      } catch {
        failures++;
      }
    };

    const total = Math.round(RATE * SECONDS);
    const interval = 1000 / RATE;
    const start = performance.now() + 20;
    const pending = new Set<Promise<void>>();
    let sent = 0;
    let nextSample = SAMPLE_MS;
    await new Promise<void>((done) => {
      const tick = (): void => {
        const now = performance.now();
        while (sent < total && start + sent * interval <= now) {
          const promise = send(sent, start + sent * interval);
          pending.add(promise);
          void promise.finally(() => pending.delete(promise));
          sent++;
        }
        if (now - start >= nextSample) {
          samples.push({ atSeconds: Math.round(nextSample / 1000), rssMb: rssMb(pid) });
          process.stdout.write(`${Math.round(nextSample / 1000)} s: ${sent} sent, RSS ${samples.at(-1)!.rssMb} MB\n`);
          nextSample += SAMPLE_MS;
        }
        if (sent >= total) return done();
        setTimeout(tick, Math.max(0, Math.min(start + sent * interval, start + nextSample) - performance.now() - 1));
      };
      tick();
    });
    await Promise.all(pending);
    const elapsed = performance.now() - start;
    samples.push({ atSeconds: Math.round(elapsed / 1000), rssMb: rssMb(pid) });
    const cpuMsPerRequest = (cpuTimeMs(pid) - cpuStart) / sent;
    await pool.close();

    // Stopping drains and flushes the trace store; then its file can be opened here.
    gateway.kill('SIGTERM');
    const code = await exited;
    const { DuckDbSink } = await import('../gateway/src/telemetry/duckdb-sink.js');
    const sink = new DuckDbSink(join(dataDir, 'traces.duckdb'));
    await sink.init();
    const stored = new Set((await sink.select('SELECT DISTINCT trace_id FROM requests')).map((row) => String(row.trace_id)));
    await sink.close();
    const missing = [...traceIds].filter((id) => !stored.has(id)).length;

    const baseline = samples.filter((s) => s.atSeconds <= BASELINE_SECONDS).at(-1)!;
    const end = samples.at(-1)!;
    const growth = (end.rssMb - baseline.rssMb) / baseline.rssMb;
    const result = {
      date: new Date().toISOString(),
      machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, node: process.version, commit: gitCommit(), load: { start: loadStart, end: loadavg().map((v) => Math.round(v * 100) / 100) } },
      settings: { rate: RATE, seconds: SECONDS, mix: MIX.map(({ kind, weight }) => ({ kind, share: weight / SLOTS.length })), startCommand: startCommand(ROOT) },
      sent,
      answered: traceIds.size,
      transportFailures: failures,
      byKind: Object.fromEntries(byKind),
      latencyMs: summarize(latencies, failures, elapsed),
      cpuMsPerRequest: Math.round(cpuMsPerRequest * 1000) / 1000,
      exitCode: code,
      traced: traceIds.size - missing,
      missing,
      rss: { baselineAtSeconds: baseline.atSeconds, baselineMb: baseline.rssMb, endMb: end.rssMb, growth: Math.round(growth * 1000) / 1000, samples },
      passed: Math.abs(growth) <= 0.1 && missing === 0 && failures === 0 && traceIds.size === sent && code === 0,
    };
    mkdirSync(args.out, { recursive: true });
    const name = `soak-${result.date.slice(0, 10)}`;
    writeFileSync(join(args.out, `${name}.json`), `${JSON.stringify(result, null, 2)}\n`);
    writeFileSync(join(args.out, `${name}.md`), renderSoak(result));
    process.stdout.write(`\n${renderSoak(result)}\nwrote ${join(args.out, name)}.{json,md}\n`);
    if (!result.passed) process.exitCode = 1;
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  }
}

function renderSoak(r: {
  date: string;
  machine: { cpu: string; cores: number; node: string; commit: string; load: { start: number[]; end: number[] } };
  settings: { rate: number; seconds: number; mix: { kind: string; share: number }[] };
  sent: number;
  answered: number;
  transportFailures: number;
  byKind: Record<string, { sent: number; statuses: Record<string, number> }>;
  latencyMs: { p50: number; p99: number; max: number };
  cpuMsPerRequest: number;
  traced: number;
  missing: number;
  rss: { baselineAtSeconds: number; baselineMb: number; endMb: number; growth: number; samples: { atSeconds: number; rssMb: number }[] };
  passed: boolean;
}): string {
  const lines = [
    `# Soak ${r.date.slice(0, 10)}`,
    '',
    `Machine: ${r.machine.cpu}, ${r.machine.cores} cores, Node ${r.machine.node}, commit ${r.machine.commit}. Load average from other work: ${r.machine.load.start.join(', ')} at the start, ${r.machine.load.end.join(', ')} at the end.`,
    `The gateway in its default configuration (DuckDB traces, a log line per request, as \`npm start\` runs it), ${r.settings.rate} requests/s evenly spaced for ${r.settings.seconds} s: ${r.settings.mix.map((m) => `${m.kind} ${Math.round(m.share * 100)}%`).join(', ')}.`,
    '',
    '| check | measured | met |',
    '| --- | --- | --- |',
    `| RSS at the end within 10% of RSS after ${r.rss.baselineAtSeconds} s | ${r.rss.baselineMb} → ${r.rss.endMb} MB (${r.rss.growth >= 0 ? '+' : ''}${(r.rss.growth * 100).toFixed(1)}%) | ${Math.abs(r.rss.growth) <= 0.1 ? 'yes' : '**no**'} |`,
    `| every request answered and traced | ${r.sent} sent, ${r.answered} answered, ${r.traced} traced, ${r.missing} missing, ${r.transportFailures} transport failures | ${r.missing === 0 && r.answered === r.sent && r.transportFailures === 0 ? 'yes' : '**no**'} |`,
    '',
    `Latency from the intended send time, all kinds together: p50 ${r.latencyMs.p50.toFixed(2)} ms, p99 ${r.latencyMs.p99.toFixed(2)} ms, max ${r.latencyMs.max.toFixed(1)} ms. CPU per request ${r.cpuMsPerRequest} ms.`,
    '',
    '| kind | sent | statuses |',
    '| --- | ---: | --- |',
    ...Object.entries(r.byKind).map(([kind, c]) => `| ${kind} | ${c.sent} | ${Object.entries(c.statuses).map(([s, n]) => `${s}: ${n}`).join(', ')} |`),
    '',
    `RSS (MB) every ${SAMPLE_MS / 1000} s: ${r.rss.samples.map((s) => s.rssMb).join(' ')}`,
    '',
  ];
  return lines.join('\n');
}

function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).toString().trim();
  } catch {
    return 'unknown';
  }
}

await main();
