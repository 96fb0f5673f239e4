/**
 * One definition of a failed request (telemetry/request-failure.ts): the Prometheus metric the shipped
 * alert and Grafana panel read, and the trace-row SQL the dashboard and canary guards read, count the
 * same requests — an interrupted stream included, a client's 4xx excluded.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DashboardQueries, windowFor } from '../../src/telemetry/dashboard-queries.js';
import { DuckDbSink } from '../../src/telemetry/duckdb-sink.js';
import { FAILED_REQUEST_SQL, isFailedRequest } from '../../src/telemetry/request-failure.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { metricValue } from '../helpers/metrics.js';
import { startMockUpstream, type MockUpstream } from '../helpers/mock-upstream.js';
import { traceRow } from '../helpers/trace-rows.js';

let upstream: MockUpstream;
let gateway: RunningGateway;

beforeAll(async () => {
  upstream = await startMockUpstream();
  gateway = await startGateway({
    providers: { up: { type: 'openai-compatible', baseUrl: upstream.url } },
    routing: { retry: { maxAttempts: 1 }, breaker: { enabled: false } },
    routes: {
      ok: { targets: [{ provider: 'up', model: 'answer' }] },
      broken: { targets: [{ provider: 'up', model: 'fail-500' }] },
      refused: { targets: [{ provider: 'up', model: 'fail-400' }] },
      cut: { targets: [{ provider: 'up', model: 'cut-after-2' }] },
    },
    telemetry: { sink: 'duckdb', dataDir: mkdtempSync(join(tmpdir(), 'gateway-failures-')), flushIntervalMs: 50 },
  });
});
afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
});

async function send(model: string, stream = false): Promise<number> {
  const response = await fetch(`${gateway.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, stream, messages: [{ role: 'user', content: 'hi' }] }),
  });
  await response.text();
  return response.status;
}

describe('a failed request', () => {
  it('is counted the same by /metrics and by the dashboard: 5xx and interrupted streams, not 4xx', async () => {
    expect(await send('ok')).toBe(200);
    expect(await send('ok', true)).toBe(200);
    expect(await send('refused')).toBe(400);
    expect(await send('nowhere')).toBe(404);
    expect(await send('broken')).toBe(500);
    // A 200 whose stream breaks after it started: a failure though its status class is 2xx.
    expect(await send('cut', true)).toBe(200);

    // A stream is recorded as it ends, which can be just after the client read its last byte.
    let all = 0;
    for (let i = 0; i < 100 && all < 6; i++) {
      all = await metricValue(gateway.origin, 'gateway_requests_total');
      if (all < 6) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(all).toBe(6);
    const failures = await metricValue(gateway.origin, 'gateway_requests_total', { outcome: 'failure' });
    expect(failures).toBe(2);
    expect(await metricValue(gateway.origin, 'gateway_requests_total', { route: 'cut', status_class: '2xx', outcome: 'failure' })).toBe(1);

    const traces = gateway.app.traces!;
    let totals = { requests: 0, errors: 0 };
    for (let i = 0; i < 100 && totals.requests < all; i++) {
      await traces.flush();
      ({ totals } = await new DashboardQueries(traces.sink).overview(windowFor('15m', Date.now())));
      if (totals.requests < all) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(totals.requests).toBe(all);
    expect(totals.errors).toBe(failures);
  });

  it('means the same in code and in SQL, for every status and error code a trace row can hold', async () => {
    const sink = new DuckDbSink(join(mkdtempSync(join(tmpdir(), 'gateway-failure-sql-')), 'traces.duckdb'));
    await sink.init();
    try {
      const cases = [200, 201, 204, 400, 401, 404, 408, 413, 429, 499, 500, 502, 503, 504].flatMap((status) =>
        ['', 'stream_interrupted', 'upstream_error', 'invalid_request', 'rate_limit_exceeded', 'upstream_timeout'].map((code) => ({ status, code })),
      );
      await sink.insertTraces(cases.map(({ status, code }, i) => traceRow({ trace_id: `case-${i}`, status, error_code: code })));
      const [row] = await sink.select(`SELECT count(*) AS n FROM requests WHERE ${FAILED_REQUEST_SQL}`);
      const expected = cases.filter(({ status, code }) => isFailedRequest(status, code || undefined)).length;
      expect(Number(row?.n)).toBe(expected);
      // And the definition is the one the README states.
      expect(expected).toBe(cases.filter(({ status, code }) => status >= 500 || code === 'stream_interrupted').length);
    } finally {
      await sink.close();
    }
  });
});
