/**
 * The trace store runs on its own thread (telemetry/trace-worker.ts): rows, queries and log lines cross
 * between the gateway and that thread, and losing the thread loses neither the gateway nor rows it had
 * not been handed yet. Rows the thread held when it died are counted as dropped, never silently lost.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import type { WorkerTraceStore } from '../../src/telemetry/trace-worker-client.js';
import { freePort } from '../helpers/free-port.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { metricValue } from '../helpers/metrics.js';

let gateway: RunningGateway | undefined;
afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
});

function document(telemetry: Record<string, unknown>): Record<string, unknown> {
  return {
    providers: { sim: { type: 'mock' } },
    routes: { chat: { targets: [{ provider: 'sim', model: 'mock-1' }] } },
    telemetry: { sink: 'duckdb', dataDir: mkdtempSync(join(tmpdir(), 'gateway-trace-worker-')), ...telemetry },
  };
}

async function chat(count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const response = await fetch(`${gateway!.baseURL}/chat/completions`, { method: 'POST', body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: `hi ${i}` }] }) });
    expect(response.status).toBe(200);
    await response.arrayBuffer();
    ids.push(response.headers.get('x-gateway-trace-id')!);
  }
  return ids;
}

async function storedCount(): Promise<number> {
  await gateway!.app.traces!.flush();
  return (await gateway!.app.traces!.sink.countTraces()).distinct;
}

describe('the trace worker', () => {
  it('runs the store on its own thread and answers queries from it', async () => {
    gateway = await startGateway(document({}));
    const store = gateway.app.traces as WorkerTraceStore;
    // Nothing served, nothing to store: the thread starts with the first request.
    expect(store.thread).toBeUndefined();
    const ids = await chat(5);
    expect(store.thread?.threadId).toBeGreaterThan(threadId);
    expect(await storedCount()).toBe(5);
    expect((await store.sink.getTrace(ids[2]!))?.trace_id).toBe(ids[2]);
  });

  it('keeps serving while the thread is replaced, and stores the rows recorded meanwhile', async () => {
    const lines: string[] = [];
    gateway = await startGateway({ ...document({}), logging: { level: 'info' } }, { logStream: { write: (line) => void lines.push(line) } });
    const store = gateway.app.traces as WorkerTraceStore;
    await chat(10);
    expect(await storedCount()).toBe(10);
    const first = store.thread!;
    await first.terminate();
    // Requests go on while no thread runs the store; their rows wait for the next one.
    await chat(10);
    await expect.poll(() => store.ready && store.thread !== undefined && store.thread !== first).toBe(true);
    expect(await storedCount()).toBe(20);
    expect(await metricValue(gateway.origin, 'gateway_traces_dropped_total')).toBe(0);
    expect(lines.join('')).toContain('"msg":"trace worker failed; starting another"');
  });

  it('counts the rows a lost thread held as dropped', async () => {
    // A long interval: rows sit in the thread's queue until it is gone.
    gateway = await startGateway(document({ flushIntervalMs: 3_600_000 }));
    const store = gateway.app.traces as WorkerTraceStore;
    // A query starts the thread and waits for the store to be open and idle: a thread ended while DuckDB
    // is running a statement takes the process down with it (the native binding aborts).
    await store.sink.countTraces();
    await chat(7);
    await expect.poll(() => store.held === 0 && store.status().queued === 7).toBe(true);
    await store.thread!.terminate();
    await expect.poll(() => metricValue(gateway!.origin, 'gateway_traces_dropped_total')).toBe(7);
  });

  it('keeps serving when the thread cannot start at all, and says why', async () => {
    const lines: string[] = [];
    // A data directory that cannot exist: the spool cannot be opened, so the thread fails as it starts.
    gateway = await startGateway(
      { ...document({ dataDir: '/dev/null/traces' }), logging: { level: 'info' } },
      { logStream: { write: (line) => void lines.push(line) } },
    );
    await chat(3);
    await expect.poll(() => lines.some((line) => line.includes('"msg":"trace worker failed; starting another"'))).toBe(true);
    await chat(3);
    expect((await fetch(`${gateway.origin}/healthz`)).status).toBe(200);
  });

  it("passes the store's log lines to the gateway's logger", async () => {
    const lines: string[] = [];
    const port = await freePort(); // nothing listens here
    gateway = await startGateway(
      { ...document({ sink: 'clickhouse', clickhouse: { url: `http://127.0.0.1:${port}`, timeoutMs: 500 } }), logging: { level: 'info' } },
      { logStream: { write: (line) => void lines.push(line) } },
    );
    await chat(1);
    await expect.poll(() => lines.find((line) => line.includes('trace store unavailable'))).toBeDefined();
    const line = JSON.parse(lines.find((l) => l.includes('trace store unavailable'))!) as { level: number; sink: string; err?: { message?: string } };
    expect(line).toMatchObject({ level: 40, sink: 'clickhouse' });
    expect(line.err?.message).toBeTruthy();
    // The gateway serves anyway; readiness reports the store down.
    expect(await (await fetch(`${gateway.origin}/readyz`)).json()).toMatchObject({ status: 'ready', traceSink: { kind: 'clickhouse', up: false } });
  });
});
