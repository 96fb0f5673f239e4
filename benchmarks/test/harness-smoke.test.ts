/**
 * A small smoke run of the benchmark harness (numbers are meaningless at this length): every scenario
 * runs through the real processes and load generators, and the report files are written.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkTargets, type BenchReport } from '../report.js';
import { runOpenLoop, summarize } from '../open-loop.js';
import { startBenchUpstream } from '../mock-upstream.js';
import { freePort } from '../../gateway/test/helpers/free-port.js';

describe('benchmark harness', () => {
  it('summarize takes quantiles from sorted latencies', () => {
    const summary = summarize([5, 1, 4, 2, 3, 6, 7, 8, 9, 10], 1, 1000);
    expect(summary).toMatchObject({ count: 10, errors: 1, p50: 6, p90: 10, p99: 10, max: 10, achievedRate: 10 });
  });

  it('the open-loop generator keeps to its rate and times from the intended send time', async () => {
    const port = await freePort();
    const stop = await startBenchUpstream({ port, latencyMs: 20, chunks: 8, chunkDelayMs: 0 });
    try {
      const started = Date.now();
      const summary = await runOpenLoop({ url: `http://127.0.0.1:${port}/v1/chat/completions`, body: '{"model":"m"}', rate: 100, durationMs: 1000 });
      expect(summary.count).toBe(100);
      expect(summary.errors).toBe(0);
      // Node's timers tick in whole milliseconds, so a 20 ms answer may measure a hair under 20 ms.
      expect(summary.p50).toBeGreaterThanOrEqual(19);
      expect(Date.now() - started).toBeLessThan(2500);
    } finally {
      await stop();
    }
  });

  it('a quick run produces a report with every scenario and the target checks', () => {
    const out = mkdtempSync(join(tmpdir(), 'bench-smoke-'));
    const run = spawnSync('node_modules/.bin/tsx', ['benchmarks/run.ts', '--quick', '--no-peer', '--out', out], { encoding: 'utf8', timeout: 200_000 });
    expect(run.status, run.stderr).toBe(0);
    const file = readdirSync(out).find((name) => name.endsWith('.json'))!;
    const report = JSON.parse(readFileSync(join(out, file), 'utf8')) as BenchReport;
    expect(report.saturation.map((row) => `${row.scenario}/${row.target}`)).toEqual([
      'chat JSON/direct', 'chat JSON/gateway', 'chat JSON/raw proxy', 'chat stream/direct', 'chat stream/gateway',
      'responses JSON (translated)/gateway', 'responses stream (translated)/gateway', 'responses JSON (native)/gateway', 'responses stream (native)/gateway',
      'policies on (JSON)/gateway', 'policies on (stream)/gateway', 'cache hit/gateway',
      'fallback (500 → ok)/gateway', 'chat JSON/gateway, telemetry off',
    ]);
    expect(report.idle?.map((row) => row.target)).toEqual(['gateway', 'gateway, after 100 requests', 'gateway, telemetry off', 'gateway, telemetry off, after 100 requests']);
    expect(report.idle?.every((row) => row.rssMb > 0)).toBe(true);
    for (const row of report.saturation) {
      expect(row.requestsPerSec).toBeGreaterThan(0);
      expect(row.errors + row.non2xx).toBe(0);
    }
    // Failed requests say why (a status, a socket error), so a failure here names its cause.
    expect(report.fixedRate.filter((row) => row.errors > 0 || row.count === 0).map((row) => ({ scenario: row.scenario, target: row.target, count: row.count, failures: row.failures }))).toEqual([]);
    expect(report.fleet!.results.map((r) => r.strategy)).toEqual(['round-robin', 'least-busy', 'least-loaded', 'prefix-affinity']);
    for (const row of report.fleet!.results) {
      expect(row.requests).toBeGreaterThan(0);
      expect(row.errors).toBe(0);
      expect(row.peakQueues).toHaveLength(4);
    }
    expect(checkTargets(report).length).toBeGreaterThanOrEqual(7);
    expect(report.guardrailCost!.map((row) => row.check)).toEqual(expect.arrayContaining(['email', 'payment_card', 'pii (all 15 detectors)', 'secrets (all 14 detectors)', 'stream check (incremental pii redact)']));
    expect(report.guardrailCost!.every((row) => row.usPerKb > 0)).toBe(true);
    expect(readFileSync(join(out, file.replace('.json', '.md')), 'utf8')).toContain('## Targets');
  }, 230_000);
});
