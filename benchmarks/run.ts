/**
 * `npm run bench`: the gateway against a direct baseline, a bare Node proxy and a peer gateway (Portkey's,
 * from npm), in one run, on this machine. Writes benchmarks/results/<date>.json and .md.
 *
 * The gateway's main row is its default configuration as `npm start` runs it — DuckDB traces and one
 * log line per request, with the Node options of package.json's start script — beside the same gateway
 * with telemetry off and with ClickHouse traces.
 *
 * Processes are not pinned by default: on this VM, pinning the gateway to its own core made every
 * loopback write wake the other core (an inter-processor interrupt, which traps to the hypervisor) and
 * halved throughput; see benchmarks/README.md. `--pin` puts the upstream and load generator on core 0 and
 * the gateway under test on core 1. `--quick` shortens every phase (the test suite's smoke run uses it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort } from '../gateway/test/helpers/free-port.js';
import { runOpenLoop, type LatencySummary } from './open-loop.js';
import { renderMarkdown, type BenchReport } from './report.js';
import { measureGuardrailCost } from './guardrail-cost.js';
import { runSaturation, type SaturationResult } from './saturation.js';
import { startCommand } from './start-command.js';
import { CHAT_BODY, gatewayConfig, RESPONSES_BODY } from './bench-gateway.js';
import { FLEET_DEFAULTS, runFleet, type FleetOptions } from './fleet.js';
import { stopChild, waitForHttp } from './processes.js';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const PORTKEY_ENTRY = join(ROOT, 'benchmarks/node_modules/@portkey-ai/gateway/build/start-server.js');

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    out: { type: 'string', default: join(ROOT, 'benchmarks/results') },
    'no-peer': { type: 'boolean', default: false },
    'cpu-prof': { type: 'string' },
    pin: { type: 'boolean', default: false },
  },
});

const QUICK = args.quick;
const SATURATION_SEC = QUICK ? 1 : 5;
const SATURATION_RUNS = QUICK ? 1 : 3;
const OPEN_LOOP_MS = QUICK ? 1000 : 8000;
const RATES = QUICK ? [100] : [200, 500, 1000];
const STREAM_RATES = QUICK ? [100] : [200, 500];
const CONNECTIONS = 32;
const PINNED = args.pin && cpus().length >= 2 && existsSync('/usr/bin/taskset');

/** Free loopback ports, picked at start: fixed ones collide with anything else running on the machine. */
const PORTS = {
  upstream: await freePort(),
  default: await freePort(),
  plain: await freePort(),
  clickhouse: await freePort(),
  portkey: await freePort(),
  raw: await freePort(),
};

/** How long a freshly started gateway idles before its RSS is read. */
const IDLE_SETTLE_MS = QUICK ? 500 : 3000;

interface Proc {
  child: ChildProcess;
  pid: number;
}

function pinned(cpu: number, command: string, commandArgs: string[]): [string, string[]] {
  return PINNED ? ['taskset', ['-c', String(cpu), command, ...commandArgs]] : [command, commandArgs];
}

function start(cpu: number, command: string, commandArgs: string[], env: Record<string, string> = {}, cwd = ROOT): Proc {
  const [cmd, argv] = pinned(cpu, command, commandArgs);
  const child = spawn(cmd, argv, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
  return { child, pid: child.pid! };
}

function stop(proc: Proc): Promise<void> {
  return stopChild(proc.child);
}

/** Resets the peak-RSS mark (Linux clear_refs 5), so each scenario reports its own peak. */
function resetPeakRss(pid: number): void {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch {
    // Not permitted: the peak then covers the process's life so far.
  }
}

function statusMb(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return Math.round((kb / 1024) * 10) / 10;
}

const peakRssMb = (pid: number): number => statusMb(pid, 'VmHWM');

/** Telemetry off: no trace store, no request log lines. */
const TELEMETRY_OFF = { telemetry: { sink: 'none', logRequests: false } };

async function main(): Promise<void> {
  // The machine is shared: its load at the start and end of the run goes into the report.
  const loadStart = loadavg().map((value) => Math.round(value * 100) / 100);
  mkdirSync(args.out, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'gateway-bench-'));
  const procs: Proc[] = [];
  const cleanup = async (): Promise<void> => {
    await Promise.all(procs.map(stop));
  };
  process.on('SIGINT', () => void cleanup().then(() => process.exit(130)));

  try {
    // `node --import tsx` keeps each helper a single process, so its pid is the one doing the work.
    const ts = (file: string): string[] => ['--import', 'tsx', file];
    const upstream = start(0, process.execPath, [...ts('benchmarks/mock-upstream.ts'), '--port', String(PORTS.upstream), '--chunks', '8']);
    procs.push(upstream);
    await waitForHttp(`http://127.0.0.1:${PORTS.upstream}/`, undefined, upstream.child);

    const gateways: Record<string, Proc> = {};
    type GatewayName = 'default' | 'plain' | 'clickhouse';
    const startGateway = async (name: GatewayName, overrides: Parameters<typeof gatewayConfig>[3], extraEnv: Record<string, string> = {}): Promise<Proc> => {
      const profile = args['cpu-prof'] && name === 'default' ? ['--cpu-prof', `--cpu-prof-dir=${args['cpu-prof']}`] : [];
      const { env: startEnv, args: startArgs } = startCommand(ROOT);
      const proc = start(1, process.execPath, [...profile, ...startArgs], { ...startEnv, GATEWAY_CONFIG: gatewayConfig(work, name, PORTS.upstream, overrides), PORT: String(PORTS[name]), ...extraEnv });
      procs.push(proc);
      gateways[name] = proc;
      await waitForHttp(`http://127.0.0.1:${PORTS[name]}/healthz`, undefined, proc.child);
      return proc;
    };

    const direct = `http://127.0.0.1:${PORTS.upstream}/v1/chat/completions`;
    const via = (name: keyof typeof PORTS): string => `http://127.0.0.1:${PORTS[name]}/v1/chat/completions`;

    // ---------------------------------------------------------------- idle
    // A fresh gateway, started and left alone: what it costs before any traffic.
    const idle: BenchReport['idle'] = [];
    for (const [name, overrides] of [['default', {}], ['plain', TELEMETRY_OFF]] as const) {
      const proc = await startGateway(name, overrides);
      await new Promise((r) => setTimeout(r, IDLE_SETTLE_MS));
      const target = name === 'default' ? 'gateway' : 'gateway, telemetry off';
      idle.push({ target, rssMb: statusMb(proc.pid, 'VmRSS') });
      // The trace worker and its sink start with the first request: what the gateway idles at afterwards.
      for (let i = 0; i < 100; i++) await (await fetch(via(name), { method: 'POST', headers: { 'content-type': 'application/json' }, body: CHAT_BODY('bench') })).arrayBuffer();
      await new Promise((r) => setTimeout(r, IDLE_SETTLE_MS));
      idle.push({ target: `${target}, after 100 requests`, rssMb: statusMb(proc.pid, 'VmRSS') });
      await stop(proc);
    }
    process.stdout.write(`idle RSS: ${idle.map((row) => `${row.target} ${row.rssMb} MB`).join(', ')}\n`);

    await startGateway('default', {});
    const raw = start(1, process.execPath, [...ts('benchmarks/raw-proxy.ts'), '--port', String(PORTS.raw), '--upstream', `http://127.0.0.1:${PORTS.upstream}`]);
    procs.push(raw);
    await waitForHttp(`http://127.0.0.1:${PORTS.raw}/`, undefined, raw.child);

    let portkey: Proc | undefined;
    if (!args['no-peer'] && existsSync(PORTKEY_ENTRY)) {
      portkey = start(1, process.execPath, [PORTKEY_ENTRY, `--port=${PORTS.portkey}`, '--headless'], { NODE_ENV: 'production' }, work);
      procs.push(portkey);
      await waitForHttp(`http://127.0.0.1:${PORTS.portkey}/`);
    }
    const portkeyHeaders = {
      'x-portkey-provider': 'openai',
      'x-portkey-custom-host': `http://127.0.0.1:${PORTS.upstream}/v1`,
      authorization: 'Bearer bench',
    };

    const viaResponses = (name: keyof typeof PORTS): string => `http://127.0.0.1:${PORTS[name]}/v1/responses`;

    // Fixed-rate phases run first, while no other gateway or trace server is alive.
    // ---------------------------------------------------------------- fixed rate
    const fixedRate: BenchReport['fixedRate'] = [];
    const openLoop = async (scenario: string, rate: number, target: string, url: string, body: string, firstByte: boolean, headers?: Record<string, string>): Promise<LatencySummary> => {
      await runOpenLoop({ url, body, headers, rate, durationMs: 500, firstByte }); // warm-up
      const summary = await runOpenLoop({ url, body, headers, rate, durationMs: OPEN_LOOP_MS, firstByte });
      fixedRate.push({ scenario, rate, target, ...summary });
      process.stdout.write(`fixed ${String(rate).padStart(5)}/s ${scenario.padEnd(18)} ${target.padEnd(10)} p50 ${summary.p50.toFixed(3)} p99 ${summary.p99.toFixed(3)} ms\n`);
      return summary;
    };
    for (const rate of RATES) {
      await openLoop('chat JSON', rate, 'direct', direct, CHAT_BODY('bench-model'), false);
      await openLoop('chat JSON', rate, 'gateway', via('default'), CHAT_BODY('bench'), false);
    }
    const midRate = QUICK ? 100 : 500;
    await openLoop('chat JSON', midRate, 'raw proxy', via('raw'), CHAT_BODY('bench-model'), false);
    for (const rate of STREAM_RATES) {
      await openLoop('stream first byte', rate, 'direct', direct, CHAT_BODY('bench-model', true), true);
      await openLoop('stream first byte', rate, 'gateway', via('default'), CHAT_BODY('bench', true), true);
      await openLoop('stream first byte', rate, 'raw proxy', via('raw'), CHAT_BODY('bench-model', true), true);
    }
    // The Responses API at the same rate: translated to the chat upstream, and passed through natively.
    await openLoop('responses JSON (translated)', midRate, 'gateway', viaResponses('default'), RESPONSES_BODY('bench'), false);
    await openLoop('responses JSON (native)', midRate, 'gateway', viaResponses('default'), RESPONSES_BODY('bench-native'), false);
    if (portkey) {
      await openLoop('chat JSON', midRate, 'portkey', via('portkey'), CHAT_BODY('bench-model'), false, portkeyHeaders);
      await openLoop('stream first byte', midRate, 'portkey', via('portkey'), CHAT_BODY('bench-model', true), true, portkeyHeaders);
    }

    // A fresh gateway for the saturation phases: the one that just served 1,000 req/s open-loop carries
    // that phase's sockets and heap, which would skew the comparisons.
    await stop(gateways.default!);
    await startGateway('default', {});

    // ---------------------------------------------------------------- saturation
    const saturation: BenchReport['saturation'] = [];
    const saturate = async (scenario: string, target: string, url: string, body: string, proc?: Proc, headers?: Record<string, string>): Promise<void> => {
      await runSaturation({ url, body, headers, connections: CONNECTIONS, durationSec: QUICK ? 1 : 2 }); // warm-up
      if (proc) resetPeakRss(proc.pid);
      // This machine is shared and noisy: the median of three runs is reported.
      const runs: SaturationResult[] = [];
      for (let i = 0; i < SATURATION_RUNS; i++) {
        runs.push(await runSaturation({ url, body, headers, connections: CONNECTIONS, durationSec: SATURATION_SEC, pids: proc ? [proc.pid] : undefined }));
      }
      const result = runs.sort((a, b) => a.requestsPerSec - b.requestsPerSec)[Math.floor(runs.length / 2)]!;
      saturation.push({ scenario, target, ...result, peakRssMb: proc ? peakRssMb(proc.pid) : undefined });
      process.stdout.write(`saturation ${scenario.padEnd(22)} ${target.padEnd(24)} ${result.requestsPerSec.toFixed(0).padStart(7)} req/s  p99 ${result.p99} ms\n`);
    };
    const main = gateways.default!;
    await saturate('chat JSON', 'direct', direct, CHAT_BODY('bench-model'));
    await saturate('chat JSON', 'gateway', via('default'), CHAT_BODY('bench'), main);
    await saturate('chat JSON', 'raw proxy', via('raw'), CHAT_BODY('bench-model'), raw);
    if (portkey) await saturate('chat JSON', 'portkey', via('portkey'), CHAT_BODY('bench-model'), portkey, portkeyHeaders);
    await saturate('chat stream', 'direct', direct, CHAT_BODY('bench-model', true));
    await saturate('chat stream', 'gateway', via('default'), CHAT_BODY('bench', true), main);
    if (portkey) await saturate('chat stream', 'portkey', via('portkey'), CHAT_BODY('bench-model', true), portkey, portkeyHeaders);
    await saturate('responses JSON (translated)', 'gateway', viaResponses('default'), RESPONSES_BODY('bench'), main);
    await saturate('responses stream (translated)', 'gateway', viaResponses('default'), RESPONSES_BODY('bench', true), main);
    await saturate('responses JSON (native)', 'gateway', viaResponses('default'), RESPONSES_BODY('bench-native'), main);
    await saturate('responses stream (native)', 'gateway', viaResponses('default'), RESPONSES_BODY('bench-native', true), main);
    await saturate('policies on (JSON)', 'gateway', via('default'), CHAT_BODY('policy'), main);
    await saturate('policies on (stream)', 'gateway', via('default'), CHAT_BODY('policy', true), main);
    await saturate('cache hit', 'gateway', via('default'), CHAT_BODY('cached'), main);
    await saturate('fallback (500 → ok)', 'gateway', via('default'), CHAT_BODY('fallback'), main);
    if (portkey) await stop(portkey);
    await stop(main);

    await startGateway('plain', TELEMETRY_OFF);
    await saturate('chat JSON', 'gateway, telemetry off', via('plain'), CHAT_BODY('bench'), gateways.plain);
    await stop(gateways.plain!);
    if (!QUICK && existsSync('/usr/sbin/clickhouse-server')) {
      const { startClickHouseServer } = await import('../gateway/test/helpers/clickhouse-server.js');
      const clickhouse = await startClickHouseServer();
      try {
        await startGateway('clickhouse', { telemetry: { sink: 'clickhouse', clickhouse: { url: clickhouse.url, database: 'bench' } } });
        await saturate('chat JSON', 'gateway, ClickHouse traces', via('clickhouse'), CHAT_BODY('bench'), gateways.clickhouse);
        await stop(gateways.clickhouse!);
      } finally {
        await clickhouse.stop();
      }
    }

    await cleanup();

    // ---------------------------------------------------------------- guardrail cost per KB (in process)
    const guardrailCost = await measureGuardrailCost(QUICK ? 20 : 150);

    // ---------------------------------------------------------------- fleet (replica pools)
    const fleetOptions: FleetOptions = QUICK ? { ...FLEET_DEFAULTS, durationMs: 2000, warmupMs: 500 } : FLEET_DEFAULTS;
    const fleet = { options: fleetOptions, results: await runFleet(fleetOptions) };

    const report: BenchReport = {
      date: new Date().toISOString(),
      quick: QUICK,
      machine: {
        cpu: cpus()[0]?.model ?? 'unknown',
        load: { start: loadStart, end: loadavg().map((value) => Math.round(value * 100) / 100) },
        cores: cpus().length,
        memoryGb: Math.round(totalmem() / 1024 ** 3),
        node: process.version,
        pinned: PINNED,
        commit: gitCommit(),
      },
      settings: { connections: CONNECTIONS, saturationSec: SATURATION_SEC, saturationRuns: SATURATION_RUNS, openLoopMs: OPEN_LOOP_MS, upstreamChunks: 8, peer: portkey ? '@portkey-ai/gateway ' + portkeyVersion() : 'not run' },
      idle,
      saturation,
      fixedRate,
      fleet,
      guardrailCost,
    };
    const stamp = report.date.slice(0, 10);
    const name = QUICK ? `smoke-${stamp}` : stamp;
    writeFileSync(join(args.out, `${name}.json`), `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(join(args.out, `${name}.md`), renderMarkdown(report));
    process.stdout.write(`\nwrote ${join(args.out, name)}.{json,md}\n`);
  } finally {
    await cleanup();
  }
}

function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).toString().trim();
  } catch {
    return 'unknown';
  }
}

function portkeyVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(ROOT, 'benchmarks/node_modules/@portkey-ai/gateway/package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '?';
  }
}

await main();
