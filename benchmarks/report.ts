/** The benchmark report: its JSON shape, the targets it is judged against, and its Markdown form. */
import type { LatencySummary } from './open-loop.js';
import type { SaturationResult } from './saturation.js';
import { fleetTargets, type FleetOptions, type FleetResult } from './fleet.js';
import type { GuardrailCostRow } from './guardrail-cost.js';

export interface BenchReport {
  date: string;
  quick: boolean;
  machine: { cpu: string; cores: number; memoryGb: number; node: string; pinned: boolean; commit: string; load?: { start: number[]; end: number[] } };
  settings: { connections: number; saturationSec: number; saturationRuns: number; openLoopMs: number; upstreamChunks: number; peer: string };
  /** RSS of a freshly started gateway before any traffic. */
  idle?: { target: string; rssMb: number }[];
  saturation: (SaturationResult & { scenario: string; target: string; peakRssMb: number | undefined })[];
  fixedRate: (LatencySummary & { scenario: string; rate: number; target: string })[];
  /** The replica-pool scenario: one simulated GPU fleet, each scheduling strategy in turn. */
  fleet?: { options: FleetOptions; results: FleetResult[] } | undefined;
  /** CPU per KB of each detector and guardrail kind (benchmarks/guardrail-cost.ts). */
  guardrailCost?: GuardrailCostRow[] | undefined;
}

export interface TargetCheck {
  target: string;
  measured: string;
  met: boolean | undefined;
}

const ms = (value: number): string => (Number.isFinite(value) ? value.toFixed(3) : '–');

function saturationOf(report: BenchReport, scenario: string, target: string) {
  return report.saturation.find((row) => row.scenario === scenario && row.target === target);
}

function fixedOf(report: BenchReport, scenario: string, rate: number, target: string) {
  return report.fixedRate.find((row) => row.scenario === scenario && row.rate === rate && row.target === target);
}

/**
 * The targets (issue 20), each computed from rows of the same run. "gateway" is the default
 * configuration as `npm start` runs it: DuckDB traces and a log line per request.
 */
export function checkTargets(report: BenchReport): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const idle = report.idle?.find((row) => row.target === 'gateway');
  if (idle) checks.push({ target: 'idle RSS after start ≤ 80 MB', measured: `${idle.rssMb} MB`, met: idle.rssMb <= 80 });
  const rss = report.saturation.filter((r) => r.target === 'gateway' && r.peakRssMb !== undefined).map((r) => r.peakRssMb as number);
  if (rss.length > 0) {
    const peak = Math.max(...rss);
    checks.push({ target: 'peak RSS at saturation ≤ 150 MB', measured: `${peak} MB`, met: peak <= 150 });
  }
  const direct500 = fixedOf(report, 'chat JSON', 500, 'direct');
  const gateway500 = fixedOf(report, 'chat JSON', 500, 'gateway');
  const raw500 = fixedOf(report, 'chat JSON', 500, 'raw proxy');
  if (direct500 && gateway500) {
    const p99 = gateway500.p99 - direct500.p99;
    checks.push({ target: 'fixed 500/s chat JSON: overhead p99 ≤ 2 ms', measured: `${ms(p99)} ms`, met: p99 <= 2 });
    if (raw500) {
      const beyond = gateway500.p50 - raw500.p50;
      checks.push({
        target: 'fixed 500/s chat JSON: overhead p50 within 0.1 ms of a bare Node proxy',
        measured: `${ms(gateway500.p50 - direct500.p50)} ms vs ${ms(raw500.p50 - direct500.p50)} ms (${beyond >= 0 ? '+' : ''}${ms(beyond)})`,
        met: beyond <= 0.1,
      });
    }
  }
  for (const row of report.fixedRate.filter((r) => r.scenario === 'stream first byte' && r.target === 'gateway')) {
    const base = fixedOf(report, 'stream first byte', row.rate, 'direct');
    if (!base) continue;
    const p99 = row.p99 - base.p99;
    checks.push({ target: `streams (${row.rate}/s): first-byte overhead p99 ≤ 5 ms`, measured: `${ms(p99)} ms`, met: p99 <= 5 });
  }
  const gateway = saturationOf(report, 'chat JSON', 'gateway');
  const rawProxy = saturationOf(report, 'chat JSON', 'raw proxy');
  const peer = saturationOf(report, 'chat JSON', 'portkey');
  if (gateway && rawProxy) {
    const share = gateway.requestsPerSec / rawProxy.requestsPerSec;
    checks.push({ target: 'saturation: ≥ 60% of a bare Node proxy\'s requests/s', measured: `${(share * 100).toFixed(0)}%`, met: share >= 0.6 });
  }
  if (gateway?.cpuMsPerRequest !== undefined) {
    const floor = rawProxy?.cpuMsPerRequest !== undefined ? ` (a bare Node proxy: ${rawProxy.cpuMsPerRequest.toFixed(3)} ms)` : '';
    checks.push({ target: 'saturation: CPU per request ≤ 0.15 ms', measured: `${gateway.cpuMsPerRequest.toFixed(3)} ms${floor}`, met: gateway.cpuMsPerRequest <= 0.15 });
  }
  if (gateway && peer) {
    const times = gateway.requestsPerSec / peer.requestsPerSec;
    checks.push({ target: 'saturation: ≥ 10× the peer (Portkey) requests/s', measured: `${times.toFixed(1)}×`, met: times >= 10 });
  }
  if (gateway) {
    const off = saturationOf(report, 'chat JSON', 'gateway, telemetry off');
    if (off) {
      const cost = 1 - gateway.requestsPerSec / off.requestsPerSec;
      checks.push({ target: 'telemetry (DuckDB traces, log lines) costs ≤ 15% of throughput', measured: `${(cost * 100).toFixed(0)}%`, met: cost <= 0.15 });
    }
    const hit = saturationOf(report, 'cache hit', 'gateway');
    if (hit) {
      const times = hit.requestsPerSec / gateway.requestsPerSec;
      checks.push({ target: 'cache hit serves ≥ 2× the requests/s of a miss', measured: `${times.toFixed(2)}×`, met: times >= 2 });
    }
  }
  if (report.fleet && report.fleet.results.length === 4) {
    const fleet = fleetTargets(report.fleet.results);
    checks.push({ target: 'fleet: prefix-affinity cuts p95 TTFT ≥ 30% against least-busy', measured: `${(fleet.ttftCut * 100).toFixed(0)}%`, met: fleet.ttftMet });
    checks.push({ target: "fleet: …without any replica's peak queue above round-robin's", measured: `${fleet.peakQueue} (round-robin: ${fleet.roundRobinPeakQueue})`, met: fleet.queueMet });
  }
  return [...checks, ...costAgainstChat(report)];
}

/**
 * Scenarios against chat in the same run, as gateway CPU per request and requests/s. Reported, not
 * judged: the issues set no target. The Responses API: what translating (or passing a native body
 * through) costs. Policies: conditional routing with input and output guardrails against the same
 * requests without them.
 */
const AGAINST_CHAT: readonly (readonly [string, string])[] = [
  ['responses JSON (translated)', 'chat JSON'],
  ['responses stream (translated)', 'chat stream'],
  ['responses JSON (native)', 'chat JSON'],
  ['responses stream (native)', 'chat stream'],
  ['policies on (JSON)', 'chat JSON'],
  ['policies on (stream)', 'chat stream'],
];

function costAgainstChat(report: BenchReport): TargetCheck[] {
  const checks: TargetCheck[] = [];
  for (const [scenario, chat] of AGAINST_CHAT) {
    const row = saturationOf(report, scenario, 'gateway');
    const base = saturationOf(report, chat, 'gateway');
    if (!row || !base) continue;
    const cpu = row.cpuMsPerRequest !== undefined && base.cpuMsPerRequest !== undefined ? `, CPU ${ms(row.cpuMsPerRequest)} vs ${ms(base.cpuMsPerRequest)} ms/req` : '';
    checks.push({ target: `${scenario}: cost against ${chat} (same run)`, measured: `${((row.requestsPerSec / base.requestsPerSec) * 100).toFixed(0)}% of its req/s${cpu}`, met: undefined });
  }
  return checks;
}

export function renderMarkdown(report: BenchReport): string {
  const lines: string[] = [];
  const { machine, settings } = report;
  lines.push(`# Benchmark ${report.date.slice(0, 10)}${report.quick ? ' (smoke run: numbers are not meaningful)' : ''}`);
  lines.push('');
  lines.push(`Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGb} GB, Node ${machine.node}, commit ${machine.commit}.`);
  if (machine.load) {
    lines.push(`Load average (1, 5, 15 min) from other work on this shared machine: ${machine.load.start.join(', ')} at the start, ${machine.load.end.join(', ')} at the end.`);
  }
  lines.push('"gateway" is the default configuration as `npm start` runs it (DuckDB traces, a log line per request, the start script\'s Node options).');
  lines.push(
    `Settings: ${settings.connections} connections for saturation (median of ${settings.saturationRuns} runs of ${settings.saturationSec} s, after a warm-up), ` +
      `open-loop phases of ${settings.openLoopMs / 1000} s, upstream streams ${settings.upstreamChunks} chunks + usage, peer ${settings.peer}. ` +
      (machine.pinned ? 'Pinned: mock upstream and load generator on core 0, the gateway under test on core 1.' : 'Not pinned to cores.'),
  );
  lines.push('');
  lines.push('## Targets');
  lines.push('');
  lines.push('| target | measured | met |');
  lines.push('| --- | --- | --- |');
  for (const check of checkTargets(report)) lines.push(`| ${check.target} | ${check.measured} | ${check.met === undefined ? '–' : check.met ? 'yes' : '**no**'} |`);
  lines.push('');
  if (report.idle?.length) {
    lines.push('## Idle (a fresh process, before any traffic)');
    lines.push('');
    lines.push('| target | RSS MB |');
    lines.push('| --- | ---: |');
    for (const row of report.idle) lines.push(`| ${row.target} | ${row.rssMb} |`);
    lines.push('');
  }
  lines.push('## Saturation (closed loop)');
  lines.push('');
  lines.push('| scenario | target | req/s | p50 ms | p90 ms | p99 ms | CPU ms/req | peak RSS MB | errors |');
  lines.push('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const row of report.saturation) {
    lines.push(
      `| ${row.scenario} | ${row.target} | ${row.requestsPerSec.toFixed(0)} | ${row.p50} | ${row.p90} | ${row.p99} | ${row.cpuMsPerRequest?.toFixed(3) ?? '–'} | ${row.peakRssMb ?? '–'} | ${row.errors + row.non2xx} |`,
    );
  }
  lines.push('');
  lines.push('## Fixed rate (open loop, latency from the intended send time)');
  lines.push('');
  lines.push('| scenario | rate/s | target | p50 ms | p90 ms | p99 ms | overhead p50 | overhead p90 | overhead p99 | errors |');
  lines.push('| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const row of report.fixedRate) {
    const base = row.target === 'direct' ? undefined : fixedOf(report, row.scenario, row.rate, 'direct');
    const over = (q: 'p50' | 'p90' | 'p99'): string => (base ? ms(row[q] - base[q]) : '–');
    lines.push(`| ${row.scenario} | ${row.rate} | ${row.target} | ${ms(row.p50)} | ${ms(row.p90)} | ${ms(row.p99)} | ${over('p50')} | ${over('p90')} | ${over('p99')} | ${row.errors} |`);
  }
  lines.push('');
  if (report.guardrailCost) {
    lines.push('## Guardrails: CPU per KB of text');
    lines.push('');
    lines.push('Measured in process (CPU time, median of five rounds). "realistic": prompts, code, logs and numbers with an e-mail, a card, an IBAN and a key per 3 KB; "adversarial": 64 KB of near-matches that complete none.');
    lines.push('');
    lines.push('| check | text | µs per KB |');
    lines.push('| --- | --- | ---: |');
    for (const row of report.guardrailCost) lines.push(`| ${row.check} | ${row.text} | ${row.usPerKb.toFixed(2)} |`);
    lines.push('');
  }
  if (report.fleet) {
    const { options, results } = report.fleet;
    lines.push('## Fleet: scheduling a simulated GPU fleet');
    lines.push('');
    lines.push(
      `4 fake vLLM replicas (one half as fast), ${options.rate} chat streams/s open-loop (Poisson), ${options.durationMs / 1000} s measured after ${options.warmupMs / 1000} s warm-up, ` +
        'the same seeded arrivals for every strategy. Latencies from the intended send time; cache hit = cached / all prompt tokens across the fleet.',
    );
    lines.push('');
    lines.push('| strategy | requests | e2e p50 ms | e2e p95 ms | TTFT p50 ms | TTFT p95 ms | prefix-cache hit | peak queue per replica | errors |');
    lines.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |');
    for (const r of results) {
      lines.push(`| ${r.strategy} | ${r.requests} | ${r.e2eP50.toFixed(0)} | ${r.e2eP95.toFixed(0)} | ${r.ttftP50.toFixed(0)} | ${r.ttftP95.toFixed(0)} | ${(r.cacheHitRatio * 100).toFixed(1)}% | ${r.peakQueues.join(' / ')} | ${r.errors} |`);
    }
    lines.push('');
  }
  return lines.join('\n');
}
