/**
 * The gateway process stops on purpose whatever the trace store's state: shutdown is bounded by the
 * grace period even when stdout is not taking lines (a pipe nobody reads), and a spool that cannot
 * write costs the rows (counted) but not the orderly exit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort } from '../helpers/free-port.js';
import { MAIN_JS, startGatewayProcess } from '../helpers/gateway-process.js';
import type { WorkerTraceStore } from '../../src/telemetry/trace-worker-client.js';
import { startGateway, waitFor } from '../helpers/gateway.js';

/** Request lines (about 400 bytes each) until far more than a pipe holds is waiting to be written. */
async function fillStdout(origin: string): Promise<void> {
  for (let batch = 0; batch < 20; batch++) {
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        const response = await fetch(`${origin}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }) });
        await response.arrayBuffer();
      }),
    );
  }
}

/**
 * The gateway as a process on `config`, its stdout a pipe this test never reads, filled until every write
 * waits.
 */
async function startWithStalledStdout(cwd: string, config: string): Promise<{ child: ChildProcess; exited: Promise<number | null>; origin: string }> {
  const port = await freePort();
  const child = spawn(process.execPath, [MAIN_JS], { env: { PATH: process.env.PATH ?? '', PORT: String(port), GATEWAY_CONFIG: config }, cwd, stdio: ['ignore', 'pipe', 'ignore'] });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const origin = `http://127.0.0.1:${port}`;
  try {
    await waitFor(() => fetch(`${origin}/healthz`).then((r) => r.ok, () => false), 15_000);
    await fillStdout(origin);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return { child, exited, origin };
}

describe('shutdown', () => {
  it('ends within the grace period while nobody reads stdout', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'gateway-stalled-'));
    const config = join(cwd, 'gateway.yaml');
    writeFileSync(config, ['providers:', '  sim: { type: mock }', 'routes:', '  chat: { targets: [{ provider: sim, model: m }] }', 'server:', '  shutdownGraceMs: 1000', ''].join('\n'));
    const { child, exited } = await startWithStalledStdout(cwd, config);
    try {
      const stopping = Date.now();
      child.kill('SIGTERM');
      const code = await Promise.race([exited, new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), 15_000))]);
      expect(code).toBe(0);
      // The grace period, the last-lines allowance (1 s) and the store's close, with room for a loaded machine.
      expect(Date.now() - stopping).toBeLessThan(10_000);
    } finally {
      child.kill('SIGKILL');
    }
  }, 60_000);

  it('one deadline for the whole stop: after a drain that took the grace period the trace store gets a short allowance, not a grace of its own', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'gateway-one-deadline-'));
    const config = join(cwd, 'gateway.yaml');
    const graceMs = 5000;
    writeFileSync(
      config,
      [
        'providers:',
        '  sim: { type: mock }',
        '  slow: { type: mock, streamChunks: 3, chunkDelayMs: 120000 }',
        'routes:',
        '  chat: { targets: [{ provider: sim, model: m }] }',
        '  slow: { targets: [{ provider: slow, model: m }] }',
        'server:',
        `  shutdownGraceMs: ${graceMs}`,
        '',
      ].join('\n'),
    );
    // stdout stalled: the trace thread's close waits on it until its deadline.
    const { child, exited, origin } = await startWithStalledStdout(cwd, config);
    try {
      // A stream that outlasts the grace period: the HTTP drain takes all of it.
      const slow = await fetch(`${origin}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'slow', stream: true, messages: [{ role: 'user', content: 'hi' }] }) });
      expect(slow.status).toBe(200);
      void slow.arrayBuffer().catch(() => undefined);
      const stopping = Date.now();
      child.kill('SIGTERM');
      const code = await Promise.race([exited, new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), 30_000))]);
      expect(code).toBe(0);
      const took = Date.now() - stopping;
      expect(took).toBeGreaterThanOrEqual(graceMs);
      // The grace period, the trace close's allowance (1 s) and the last-lines allowance (1 s), with
      // room for a loaded machine — but less than two grace periods, which the trace close used to add.
      expect(took).toBeLessThan(2 * graceMs);
    } finally {
      child.kill('SIGKILL');
    }
  }, 60_000);

  it('a grace of 0: SIGTERM under load still stores every answered request, and the process exits 0', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'gateway-no-grace-'));
    const dataDir = join(cwd, 'data');
    const config = join(cwd, 'gateway.yaml');
    writeFileSync(config, ['providers:', '  sim: { type: mock }', 'routes:', '  chat: { targets: [{ provider: sim, model: m }] }', 'server:', '  shutdownGraceMs: 0', 'telemetry:', '  sink: duckdb', `  dataDir: ${dataDir}`, ''].join('\n'));
    const gateway = await startGatewayProcess({ GATEWAY_CONFIG: config });
    const answered: string[] = [];
    const inFlight = new Set<Promise<void>>();
    try {
      // About 200 requests a second for 2 s, then SIGTERM while they keep coming.
      const started = Date.now();
      for (let sent = 0; Date.now() - started < 2000 || gateway.child.exitCode === null; sent++) {
        if (Date.now() - started >= 2000 && gateway.child.signalCode === null && !gateway.child.killed) gateway.child.kill('SIGTERM');
        if (Date.now() - started > 15_000) break;
        const request = fetch(`${gateway.origin}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }) })
          .then(async (response) => {
            await response.arrayBuffer();
            if (response.status === 200) answered.push(response.headers.get('x-gateway-trace-id')!);
          }, () => undefined)
          .finally(() => inFlight.delete(request));
        inFlight.add(request);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      await Promise.all(inFlight);
      expect(await gateway.exited).toBe(0);
    } finally {
      gateway.child.kill('SIGKILL');
    }
    expect(answered.length).toBeGreaterThan(100);
    // Every answered request is in the store: read it back with a gateway of the test's own.
    const reader = await startGateway({ providers: { sim: { type: 'mock' } }, routes: {}, telemetry: { sink: 'duckdb', dataDir } });
    try {
      const store = reader.app.traces as WorkerTraceStore;
      await store.sink.countTraces(); // opens the store (and replays a spool, if the stop left one)
      await store.flush();
      const stored = new Set((await store.sink.select(`SELECT trace_id FROM requests`)).map((row) => row.trace_id as string));
      expect(answered.filter((id) => !stored.has(id))).toEqual([]);
    } finally {
      await reader.close();
    }
  }, 60_000);

  it('a spool that cannot write: the rows are dropped and counted, and SIGTERM still ends in an orderly exit', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'gateway-spool-failing-'));
    const config = join(cwd, 'gateway.yaml');
    // Nothing listens on the ClickHouse port: every row goes to the spool.
    writeFileSync(config, ['providers:', '  sim: { type: mock }', 'routes:', '  chat: { targets: [{ provider: sim, model: m }] }', 'telemetry:', '  sink: clickhouse', `  dataDir: ${join(cwd, 'data')}`, '  clickhouse:', `    url: http://127.0.0.1:${await freePort()}`, '    timeoutMs: 500', ''].join('\n'));
    const gateway = await startGatewayProcess({ GATEWAY_CONFIG: config });
    try {
      const chat = async (): Promise<void> => {
        const response = await fetch(`${gateway.origin}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }) });
        expect(response.status).toBe(200);
        await response.arrayBuffer();
      };
      await chat(); // starts the trace worker, which opens the spool
      const spool = join(cwd, 'data', 'spool', 'clickhouse');
      await waitFor(() => existsSync(spool), 10_000);
      // The spool's directory becomes a file: every write to it fails, as on a failing disk.
      rmSync(spool, { recursive: true });
      writeFileSync(spool, '');
      for (let i = 0; i < 5; i++) await chat();
      gateway.child.kill('SIGTERM');
      expect(await gateway.exited).toBe(0);
      const lines = gateway.output().trimEnd().split('\n').map((line) => JSON.parse(line) as { msg: string });
      expect(lines.at(-1)?.msg).toBe('stopped');
      expect(lines.map((line) => line.msg)).toContain('trace spool cannot write; dropping trace rows');
      expect(lines.map((line) => line.msg)).not.toContain('trace worker failed; starting another');
    } finally {
      gateway.child.kill('SIGKILL');
    }
  }, 60_000);
});
