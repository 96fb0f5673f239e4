/**
 * The fault test: thousands of requests while ClickHouse is stopped part-way and started again, with the
 * gateway stopped mid-spool and restarted (ClickHouse still down at its start). Every answered request
 * must end up as exactly one distinct trace id in ClickHouse, and no request may fail because of the sink.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClickHouseSink } from '../../src/telemetry/clickhouse-sink.js';
import { startClickHouseServer, type ClickHouseServer } from '../helpers/clickhouse-server.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { metricValue } from '../helpers/metrics.js';

let clickhouse: ClickHouseServer;
beforeAll(async () => {
  clickhouse = await startClickHouseServer();
}, 30_000);
afterAll(async () => {
  await clickhouse?.stop();
});

async function send(gateway: RunningGateway, count: number, answered: Set<string>, failures: number[]): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      next++;
      const response = await fetch(`${gateway.baseURL}/chat/completions`, {
        method: 'POST',
        body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'durable?' }] }),
      });
      await response.arrayBuffer();
      if (response.status === 200) answered.add(response.headers.get('x-gateway-trace-id')!);
      else failures.push(response.status);
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
}

describe('trace durability', () => {
  it('loses and double-counts nothing across a ClickHouse outage and a gateway restart', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'gateway-durability-'));
    const database = `durability_${Date.now()}`;
    const config = {
      providers: { sim: { type: 'mock' } },
      routes: { chat: { targets: [{ provider: 'sim', model: 'mock-1' }] } },
      telemetry: { sink: 'clickhouse', dataDir, clickhouse: { url: clickhouse.url, database, timeoutMs: 2000 }, batchSize: 200, flushIntervalMs: 100 },
    };
    const answered = new Set<string>();
    const failures: number[] = [];

    const first = await startGateway(config);
    await send(first, 1000, answered, failures);
    await clickhouse.stop();
    await send(first, 1000, answered, failures);
    // Stop the gateway while rows sit in the spool.
    await first.app.traces!.flush();
    expect(first.app.traces!.status().spooledBytes).toBeGreaterThan(0);
    expect(await metricValue(first.origin, 'gateway_trace_sink_up')).toBe(0);
    await first.close();

    // Restart it while ClickHouse is still down: it starts, serves, and keeps spooling.
    const second = await startGateway(config);
    await send(second, 500, answered, failures);
    await clickhouse.start();
    await send(second, 500, answered, failures);

    expect(failures).toEqual([]);
    expect(answered.size).toBe(3000);

    const check = new ClickHouseSink({ url: clickhouse.url, database, requestTimeoutMs: 5000 });
    const deadline = Date.now() + 45_000;
    let distinct = 0;
    while (Date.now() < deadline) {
      await second.app.traces!.flush();
      distinct = (await check.countTraces().catch(() => ({ rows: 0, distinct: 0 }))).distinct;
      if (distinct >= answered.size && second.app.traces!.status().spooledBytes === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(distinct).toBe(answered.size);
    expect(await metricValue(second.origin, 'gateway_traces_dropped_total')).toBe(0);
    await second.close();
    // Every answered id is there, and nothing else.
    const ids = await check.select('SELECT DISTINCT trace_id FROM requests');
    expect(new Set(ids.map((r) => String(r.trace_id)))).toEqual(answered);
    await check.close();
  }, 120_000);
});
