/**
 * What the trace store does with rows it cannot take, and with the files it keeps: a spooled row the
 * store refuses for good is quarantined (counted, in a file of its own) instead of holding every later
 * row in the spool for ever; bodies are bounded by their stored size; the data stays the owner's.
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/problems.js';
import { DiskSpool, QUARANTINE_FILE } from '../../src/telemetry/disk-spool.js';
import { redactedJson } from '../../src/telemetry/redact.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { metricValue } from '../helpers/metrics.js';
import { traceRow } from '../helpers/trace-rows.js';

let gateway: RunningGateway | undefined;
afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
});

function document(dataDir: string, telemetry: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    providers: { sim: { type: 'mock' } },
    routes: { chat: { targets: [{ provider: 'sim', model: 'mock-1' }] } },
    telemetry: { sink: 'duckdb', dataDir, ...telemetry },
  };
}

async function chat(count: number, content = 'hi'): Promise<void> {
  for (let i = 0; i < count; i++) {
    const response = await fetch(`${gateway!.baseURL}/chat/completions`, { method: 'POST', body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content }] }) });
    expect(response.status).toBe(200);
    await response.arrayBuffer();
  }
}

async function stored(): Promise<number> {
  await gateway!.app.traces!.flush();
  return (await gateway!.app.traces!.sink.countTraces()).distinct;
}

describe('rows the store refuses', () => {
  it('a spooled row the store refuses is quarantined; the rows around it are stored, and later rows too', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'gateway-trace-limits-'));
    const spool = join(dataDir, 'spool', 'duckdb');
    mkdirSync(spool, { recursive: true });
    // An earlier run's spool holding a row no DuckDB column can take (text where a number belongs).
    const bad = { ...traceRow({ trace_id: 'refused' }), latency_ms: 'not a number' };
    const rows = [traceRow(), bad, traceRow(), traceRow()];
    writeFileSync(join(spool, '000000000001.jsonl'), rows.map((row) => JSON.stringify(row)).join('\n') + '\n');
    gateway = await startGateway(document(dataDir));
    // The spool held rows: the thread starts at once to replay them.
    await expect.poll(() => metricValue(gateway!.origin, 'gateway_traces_quarantined_total'), { timeout: 10_000 }).toBe(1);
    await expect.poll(() => stored()).toBe(3);
    expect(readdirSync(spool).filter((name) => name.endsWith('.jsonl'))).toEqual([]);
    const quarantined = readFileSync(join(spool, QUARANTINE_FILE), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { reason: string; row: { trace_id: string } });
    expect(quarantined.map((entry) => entry.row.trace_id)).toEqual(['refused']);
    expect(quarantined[0]!.reason).toBeTruthy();
    expect(statSync(join(spool, QUARANTINE_FILE)).mode & 0o777).toBe(0o600);
    await chat(2);
    expect(await stored()).toBe(5);
    expect(await metricValue(gateway.origin, 'gateway_traces_dropped_total')).toBe(0);
  });

  it('a body of quotes is cut by its stored size, and the row is stored', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'gateway-trace-limits-'));
    gateway = await startGateway(document(dataDir, { logBodies: true, maxBodyBytes: 65_536 }));
    await chat(1, '"'.repeat(200_000));
    expect(await stored()).toBe(1);
    const [row] = await gateway.app.traces!.sink.select("SELECT request_body FROM requests");
    const body = String(row!.request_body);
    // As stored: a JSON string in UTF-8, every quote escaped (the cut marker aside).
    const escaped = Buffer.byteLength(JSON.stringify(body.slice(0, body.indexOf('…[truncated'))));
    expect(escaped).toBeLessThanOrEqual(65_536 + 2);
    expect(escaped).toBeGreaterThan(65_536 - 16);
    expect(await metricValue(gateway.origin, 'gateway_traces_spooled_total')).toBe(0);
  });
});

describe('stored bodies', () => {
  it('are cut by their escaped UTF-8 size, never inside a character', () => {
    for (const unit of ['"', '\u0001', 'é', '€', '😀', 'a']) {
      const text = redactedJson(unit.repeat(10_000), 1000);
      const kept = text.slice(0, text.indexOf('…[truncated'));
      expect(Buffer.byteLength(JSON.stringify(kept)) - 2).toBeLessThanOrEqual(1000);
      expect(Buffer.byteLength(JSON.stringify(kept)) - 2).toBeGreaterThan(1000 - 7);
      expect(kept.isWellFormed()).toBe(true);
    }
    expect(redactedJson('short', 1000)).toBe('"short"');
  });

  it('maxBodyBytes has an upper bound, so no row outgrows what the stores read', () => {
    const config = (maxBodyBytes: number) => () => validateConfig({ providers: { sim: { type: 'mock' } }, telemetry: { maxBodyBytes } }, {}, 'test');
    expect(config(1024 * 1024)).not.toThrow();
    expect(config(10 * 1024 * 1024)).toThrow(ConfigError);
  });
});

describe('files under the data directory', () => {
  it('never write through a planted link; the data is the owner\'s alone', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'gateway-trace-limits-'));
    const victim = join(mkdtempSync(join(tmpdir(), 'gateway-victim-')), 'victim.txt');
    writeFileSync(victim, 'precious');
    // Links where batch files go (the old fixed name, and one like those a crashed run leaves).
    symlinkSync(victim, join(dataDir, 'traces.duckdb.batch.ndjson'));
    symlinkSync(victim, join(dataDir, 'traces.duckdb.batch.1-0123456789abcdef.ndjson'));
    gateway = await startGateway(document(dataDir, { logBodies: true }));
    await chat(3, 'a secret of the user');
    expect(await stored()).toBe(3);
    expect(readFileSync(victim, 'utf8')).toBe('precious');
    // Stale batch files are gone, and the batch file of each insert too.
    expect(readdirSync(dataDir).filter((name) => name.includes('.batch'))).toEqual([]);
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dataDir, 'traces.duckdb')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dataDir, 'spool', 'duckdb')).mode & 0o777).toBe(0o700);
  });

  it('spool segments are the owner\'s alone', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'gateway-trace-limits-')), 'spool');
    const spool = new DiskSpool<{ n: number }>(dir, 1_000_000);
    await spool.open();
    expect(await spool.append([{ n: 1 }])).toBe(true);
    expect(readdirSync(dir).map((name) => statSync(join(dir, name)).mode & 0o777)).toEqual([0o600]);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
  });
});
