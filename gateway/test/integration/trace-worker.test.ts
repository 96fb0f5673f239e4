/**
 * The trace store runs on its own thread (telemetry/trace-worker.ts): rows, queries and log lines cross
 * between the gateway and that thread, and losing the thread loses neither the gateway nor rows: the
 * gateway keeps every row until the thread acknowledges it, and hands the rest to the next thread.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import type { TraceRow } from '../../src/telemetry/trace-row.js';
import type { WorkerTraceStore } from '../../src/telemetry/trace-worker-client.js';
import { freePort } from '../helpers/free-port.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { metricValue } from '../helpers/metrics.js';
import { traceRow } from '../helpers/trace-rows.js';

let gateway: RunningGateway | undefined;
afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
});

function document(telemetry: Record<string, unknown>, dataDir = mkdtempSync(join(tmpdir(), 'gateway-trace-worker-'))): Record<string, unknown> {
  return {
    providers: { sim: { type: 'mock' } },
    routes: { chat: { targets: [{ provider: 'sim', model: 'mock-1' }] } },
    telemetry: { sink: 'duckdb', dataDir, ...telemetry },
  };
}

/** The gateway's log lines, kept for a test to read. */
function logLines(): { lines: string[]; logStream: { write(line: string): void } } {
  const lines: string[] = [];
  return { lines, logStream: { write: (line) => void lines.push(line) } };
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

  it('hands the rows a lost thread had not acknowledged to the next one', async () => {
    // A long interval: rows sit in the thread's queue until it is gone.
    gateway = await startGateway(document({ flushIntervalMs: 3_600_000 }));
    const store = gateway.app.traces as WorkerTraceStore;
    // A query starts the thread and waits for the store to be open and idle (a thread ended from
    // outside while DuckDB runs a statement takes the process down: the native binding aborts).
    await store.sink.countTraces();
    await chat(7);
    await expect.poll(() => store.held === 0 && store.status().queued === 7).toBe(true);
    expect(store.unacknowledged).toBe(7);
    const first = store.thread!;
    await first.terminate();
    await expect.poll(() => store.ready && store.thread !== undefined && store.thread !== first).toBe(true);
    await expect.poll(() => storedCount()).toBe(7);
    expect(await metricValue(gateway.origin, 'gateway_traces_dropped_total')).toBe(0);
    expect(await metricValue(gateway.origin, 'gateway_trace_worker_restarts_total')).toBe(1);
  });

  it('a replacement that opens under traffic stores every row and drains its spool (rows wait for the spool to open)', async () => {
    // A long interval: rows sit in the thread's queue, unacknowledged, until it is gone; they go to the
    // replacement as repeated rows, through its spool, in the first message it gets — while it opens.
    gateway = await startGateway(document({ flushIntervalMs: 3_600_000 }));
    const store = gateway.app.traces as WorkerTraceStore;
    await store.sink.countTraces();
    const ids = await chat(20);
    await expect.poll(() => store.held === 0 && store.unacknowledged === 20).toBe(true);
    const first = store.thread!;
    await first.terminate();
    // Requests keep coming while the replacement starts, so rows are sent to it before it has opened.
    while (!(store.ready && store.thread !== undefined && store.thread !== first)) ids.push(...(await chat(1)));
    ids.push(...(await chat(20)));
    await expect.poll(() => storedCount(), { timeout: 20_000 }).toBe(ids.length);
    await expect.poll(() => store.status(), { timeout: 20_000 }).toMatchObject({ state: 'up', spooledBytes: 0 });
    expect((await store.sink.countTraces()).rows).toBe(ids.length);
    expect(await metricValue(gateway.origin, 'gateway_traces_dropped_total')).toBe(0);
  }, 60_000);

  it('rows the thread stored just before it died are neither lost nor counted twice', async () => {
    gateway = await startGateway(document({ flushIntervalMs: 20 }));
    const store = gateway.app.traces as WorkerTraceStore;
    await store.sink.countTraces();
    await chat(50);
    await expect.poll(() => store.held === 0, { interval: 5 }).toBe(true);
    // Stored (a query runs after the inserts before it), and most likely not acknowledged yet: the
    // thread reports every 250 ms. DuckDB is idle once the query answered, so ending the thread is safe.
    await expect.poll(async () => (await store.sink.countTraces()).distinct, { interval: 5 }).toBe(50);
    const first = store.thread!;
    await first.terminate();
    await expect.poll(() => store.ready && store.thread !== undefined && store.thread !== first).toBe(true);
    await expect.poll(async () => (await store.sink.countTraces()).distinct).toBe(50);
    expect((await store.sink.countTraces()).rows).toBe(50);
    expect(await metricValue(gateway.origin, 'gateway_traces_dropped_total')).toBe(0);
  });

  it('closing while a replacement thread is pending starts one to store the rows held', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'gateway-trace-worker-'));
    gateway = await startGateway(document({}, dataDir));
    const store = gateway.app.traces as WorkerTraceStore;
    await chat(5);
    await store.flush();
    await store.thread!.terminate();
    await expect.poll(() => store.thread === undefined).toBe(true);
    await chat(5); // held, waiting for the next thread
    expect(store.held).toBe(5);
    await gateway.close();
    gateway = await startGateway(document({}, dataDir));
    expect((await gateway.app.traces!.sink.countTraces()).distinct).toBe(10);
  });

  it('survives a JavaScript error while DuckDB runs a statement, and keeps its store', async () => {
    const { lines, logStream } = logLines();
    gateway = await startGateway({ ...document({}), logging: { level: 'info' } }, { logStream });
    const store = gateway.app.traces as WorkerTraceStore;
    await store.sink.countTraces();
    const thread = store.thread!;
    const slow = store.sink.select('SELECT count(*) AS n FROM range(100000000) t(x) WHERE x % 7 = 3');
    // A malformed message: the thread's handler throws while the statement above runs. A thread that
    // died of it would abort the whole process (and this test run) in DuckDB's binding.
    thread.postMessage({ t: 'rows', seq: 0, logged: null, quiet: [], repeat: [] });
    expect(Number((await slow)[0]!.n)).toBeGreaterThan(0);
    expect((await fetch(`${gateway.origin}/healthz`)).status).toBe(200);
    await expect.poll(() => metricValue(gateway!.origin, 'gateway_trace_worker_errors_total')).toBe(1);
    expect(lines.join('')).toContain('"msg":"trace worker caught an unhandled error; carrying on"');
    expect(store.thread).toBe(thread);
    await chat(3);
    expect(await storedCount()).toBe(3);
  });

  it('a row whose log line cannot be made is still recorded and counted, not lost under a later acknowledgement', async () => {
    gateway = await startGateway({ ...document({ logRequests: true }), logging: { level: 'info' } }, logLines());
    const store = gateway.app.traces as WorkerTraceStore;
    await store.sink.countTraces();
    const settledRows = async (): Promise<number> => {
      let total = 0;
      for (const name of ['written', 'spooled', 'dropped', 'quarantined']) total += await metricValue(gateway!.origin, `gateway_traces_${name}_total`);
      return total;
    };
    // A latency the line's time cannot be computed from (a bigint): formatting the line throws.
    const row = { ...traceRow(), latency_ms: 5n } as unknown as TraceRow;
    store.thread!.postMessage({ t: 'rows', seq: 1_000_000, logged: [row], quiet: [], repeat: [] });
    await expect.poll(() => metricValue(gateway!.origin, 'gateway_trace_worker_errors_total')).toBe(1);
    await store.flush();
    // Stored, spooled, or dropped: whichever, it is accounted for.
    await expect.poll(() => settledRows()).toBe(1);
  });

  it('a burst of errors makes the thread retire in order (store closed first); another takes over', async () => {
    const { lines, logStream } = logLines();
    gateway = await startGateway({ ...document({}), logging: { level: 'info' } }, { logStream });
    const store = gateway.app.traces as WorkerTraceStore;
    await store.sink.countTraces();
    const first = store.thread!;
    for (let i = 0; i < 20; i++) first.postMessage({ t: 'rows', seq: 0, logged: null, quiet: [], repeat: [] });
    await expect.poll(() => store.ready && store.thread !== undefined && store.thread !== first).toBe(true);
    expect(lines.join('')).toContain('"msg":"trace worker failing repeatedly; closing the store and retiring"');
    expect(await metricValue(gateway.origin, 'gateway_trace_worker_restarts_total')).toBe(1);
    await chat(2);
    expect(await storedCount()).toBe(2);
  });

  it('closing while the thread retires: its rows go to another thread, none is lost', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'gateway-trace-worker-'));
    gateway = await startGateway(document({}, dataDir));
    const store = gateway.app.traces as WorkerTraceStore;
    await store.sink.countTraces();
    // Rows the thread has not acknowledged yet: sent in the last moments before the burst.
    const ids = await Promise.all(Array.from({ length: 40 }, () => chat(1))).then((lists) => lists.flat());
    const first = store.thread!;
    for (let i = 0; i < 20; i++) first.postMessage({ t: 'rows', seq: 0, logged: null, quiet: [], repeat: [] });
    gateway.app.readiness.stopBy = Date.now() + 10_000;
    await gateway.close();
    gateway = undefined;
    // A fresh gateway on the same directory: every answered request is there (or in the spool it replays).
    gateway = await startGateway(document({}, dataDir));
    const reader = gateway.app.traces as WorkerTraceStore;
    await reader.sink.countTraces();
    await reader.flush();
    const stored = new Set((await reader.sink.select('SELECT trace_id FROM requests')).map((row) => row.trace_id as string));
    expect(ids.filter((id) => !stored.has(id))).toEqual([]);
  });

  it('an empty spool segment (a write that failed) does not start the thread at start', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'gateway-trace-worker-'));
    mkdirSync(join(dataDir, 'spool', 'duckdb'), { recursive: true });
    writeFileSync(join(dataDir, 'spool', 'duckdb', '000000000001.jsonl'), '');
    gateway = await startGateway(document({}, dataDir));
    const store = gateway.app.traces as WorkerTraceStore;
    expect(store.thread).toBeUndefined();
    expect(store.status().state).toBe('not-started');
    await chat(1);
    expect(await storedCount()).toBe(1);
    // The worker's spool forgot the empty segment: nothing is left to replay.
    expect(existsSync(join(dataDir, 'spool', 'duckdb', '000000000001.jsonl'))).toBe(false);
  });

  it('a spool that cannot write drops rows (counted); the thread carries on and closes', async () => {
    const { lines, logStream } = logLines();
    const port = await freePort(); // nothing listens here: every row goes to the spool
    const dataDir = mkdtempSync(join(tmpdir(), 'gateway-trace-worker-'));
    gateway = await startGateway(
      { ...document({ sink: 'clickhouse', clickhouse: { url: `http://127.0.0.1:${port}`, timeoutMs: 500 } }, dataDir), logging: { level: 'info' } },
      { logStream },
    );
    const store = gateway.app.traces as WorkerTraceStore;
    await chat(1);
    await store.flush();
    await expect.poll(() => metricValue(gateway!.origin, 'gateway_traces_spooled_total')).toBe(1);
    // The spool's directory becomes a file: every write to it fails (as on a full or failing disk).
    const spoolDir = join(dataDir, 'spool', 'clickhouse');
    expect(existsSync(spoolDir)).toBe(true);
    rmSync(spoolDir, { recursive: true });
    writeFileSync(spoolDir, '');
    const thread = store.thread;
    await chat(5);
    await store.flush();
    await expect.poll(() => metricValue(gateway!.origin, 'gateway_traces_dropped_total')).toBe(5);
    expect(store.thread).toBe(thread);
    expect(lines.join('')).toContain('"msg":"trace spool cannot write; dropping trace rows"');
    expect(lines.join('')).not.toContain('trace worker failed');
    await gateway.close();
    gateway = undefined;
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

  it('a replacement that dies soon after it opened waits longer than the one before', async () => {
    const port = await freePort(); // ClickHouse down: no native statement can be running when the thread ends
    gateway = await startGateway(document({ sink: 'clickhouse', clickhouse: { url: `http://127.0.0.1:${port}`, timeoutMs: 500 } }));
    const store = gateway.app.traces as WorkerTraceStore;
    await chat(1);
    const opened = (previous: unknown) => store.thread !== undefined && store.thread !== previous && store.status().state === 'down';
    await expect.poll(() => opened(undefined)).toBe(true);
    const gaps: number[] = [];
    for (let i = 0; i < 2; i++) {
      const thread = store.thread!;
      const ended = Date.now();
      await thread.terminate();
      await expect.poll(() => opened(thread), { timeout: 10_000, interval: 20 }).toBe(true);
      gaps.push(Date.now() - ended);
    }
    // 1 s, then 2 s: opening is not health, so the pause did not go back to 1 s.
    expect(gaps[0]).toBeGreaterThanOrEqual(950);
    expect(gaps[1]).toBeGreaterThanOrEqual(1950);
    expect(await metricValue(gateway.origin, 'gateway_trace_worker_restarts_total')).toBe(2);
  });

  it('reports the store as not started until the thread has tried it; the up gauge is 0 only once it is down', async () => {
    const port = await freePort(); // nothing listens here
    gateway = await startGateway(document({ sink: 'clickhouse', clickhouse: { url: `http://127.0.0.1:${port}`, timeoutMs: 500 } }));
    expect(await (await fetch(`${gateway.origin}/readyz`)).json()).toMatchObject({ traceSink: { kind: 'clickhouse', state: 'not-started', up: false } });
    // An idle gateway is not a fault: the gauge says down only once the store is known to be.
    expect(await metricValue(gateway.origin, 'gateway_trace_sink_up')).toBe(1);
    await chat(1);
    await expect.poll(async () => ((await (await fetch(`${gateway!.origin}/readyz`)).json()) as { traceSink: { state: string } }).traceSink.state).toBe('down');
    expect(await metricValue(gateway.origin, 'gateway_trace_sink_up')).toBe(0);
  });

  it('a thread that fails over and over (a data directory it cannot use) reads as down between attempts, never as up', async () => {
    gateway = await startGateway(document({}, '/dev/null/traces'));
    await chat(3);
    await expect.poll(() => metricValue(gateway!.origin, 'gateway_trace_worker_restarts_total'), { timeout: 10_000 }).toBeGreaterThanOrEqual(1);
    // Sampled across the backoff and the replacement's own start: never up, never healthy on the gauge.
    for (let i = 0; i < 10; i++) {
      const { traceSink } = (await (await fetch(`${gateway.origin}/readyz`)).json()) as { traceSink: { state: string; up: boolean } };
      expect([traceSink.state, traceSink.up]).toEqual(['down', false]);
      expect(await metricValue(gateway.origin, 'gateway_trace_sink_up')).toBe(0);
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
  });

  it('a healthy store drops nothing under load: rows the thread has not acknowledged yet do not count against maxQueue', async () => {
    // The thread's queue (maxQueue) fills between flushes and overflows to its spool; its
    // acknowledgements lag by a flush interval. None of that is a reason to drop a row.
    gateway = await startGateway(document({ maxQueue: 20 }));
    const store = gateway.app.traces as WorkerTraceStore;
    await store.sink.countTraces();
    const ids: string[] = [];
    let next = 0;
    const client = async (): Promise<void> => {
      while (next < 400) {
        next++;
        const response = await fetch(`${gateway!.baseURL}/chat/completions`, { method: 'POST', body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }) });
        expect(response.status).toBe(200);
        await response.arrayBuffer();
        ids.push(response.headers.get('x-gateway-trace-id')!);
      }
    };
    await Promise.all(Array.from({ length: 20 }, client));
    expect(await metricValue(gateway.origin, 'gateway_traces_dropped_total')).toBe(0);
    await expect.poll(() => storedCount(), { timeout: 15_000 }).toBe(ids.length);
  }, 60_000);

  it('rows held while no thread runs are bounded in bytes as well as in rows', async () => {
    // A data directory that cannot exist: no thread ever opens, so rows wait on the gateway.
    gateway = await startGateway(document({ dataDir: '/dev/null/traces', logBodies: true, maxBodyBytes: 65_536, maxQueueBytes: 300_000 }));
    const store = gateway.app.traces as WorkerTraceStore;
    for (let i = 0; i < 10; i++) {
      const response = await fetch(`${gateway.baseURL}/chat/completions`, { method: 'POST', body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'x'.repeat(60_000) }] }) });
      expect(response.status).toBe(200);
      await response.arrayBuffer();
    }
    const dropped = await metricValue(gateway.origin, 'gateway_traces_dropped_total');
    // Each row holds at least its request body of 60 KB: at most five fit in 300 KB; the rest are
    // dropped and counted (the row bound, 20,000, is far away). A thread that is starting (before it
    // fails) may have been sent some, unacknowledged: they come back when it fails.
    expect(store.held).toBeLessThanOrEqual(5);
    expect(dropped).toBeGreaterThanOrEqual(1);
    expect(store.held + store.unacknowledged + dropped).toBe(10);
  });

  it('a query the store does not answer in time fails with a timeout; the store answers again later', async () => {
    gateway = await startGateway(document({ queryTimeoutMs: 300 }));
    const store = gateway.app.traces as WorkerTraceStore;
    await store.sink.countTraces();
    const asked = Date.now();
    // About a second of work for DuckDB's single thread (several times the timeout).
    const slow = store.sink.select('SELECT count(*) AS n FROM range(500000000) t(x) WHERE x % 7 = 3');
    await expect(slow).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    expect(Date.now() - asked).toBeLessThan(5000);
    expect((await fetch(`${gateway.origin}/healthz`)).status).toBe(200);
    // Once the statement is done, queries are answered again (and the thread is the same one).
    const thread = store.thread;
    await expect.poll(() => store.sink.countTraces().then(() => true, () => false), { interval: 200 }).toBe(true);
    expect(store.thread).toBe(thread);
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
