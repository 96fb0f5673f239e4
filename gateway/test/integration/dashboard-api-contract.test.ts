/**
 * The dashboard's queries answer the same on DuckDB and on a real ClickHouse: known traffic in, exact
 * counts and sane quantiles out.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClickHouseSink } from '../../src/telemetry/clickhouse-sink.js';
import { DashboardQueries, recentCanaryEvents, windowFor } from '../../src/telemetry/dashboard-queries.js';
import { DuckDbSink } from '../../src/telemetry/duckdb-sink.js';
import type { TraceSink } from '../../src/telemetry/trace-sink.js';
import { startClickHouseServer, type ClickHouseServer } from '../helpers/clickhouse-server.js';
import { traceRow } from '../helpers/trace-rows.js';

let clickhouse: ClickHouseServer;
beforeAll(async () => {
  clickhouse = await startClickHouseServer();
}, 30_000);
afterAll(async () => {
  await clickhouse?.stop();
});

const NOW = Date.parse('2026-11-26T12:00:00Z');
const minutesAgo = (m: number): number => NOW - m * 60_000;

/** 100 requests on "chat" (latency 1..100 ms; every 10th a 502; 20 cache hits), 10 on "embed", a canary split. */
function traffic() {
  const rows = [];
  for (let i = 1; i <= 100; i++) {
    rows.push(
      traceRow({
        trace_id: `chat-${i}`, ts_ms: minutesAgo(1 + (i % 10)), route: 'chat', provider: 'openai', model: 'gpt-4o',
        latency_ms: i, upstream_ms: i - 0.5, ttft_ms: i % 2 ? i / 2 : null, stream: i % 2, status: i % 10 === 0 ? 502 : 200,
        error_code: i % 10 === 0 ? 'upstream_error' : '', cache: i <= 20 ? 'HIT' : 'MISS', input_tokens: 10, output_tokens: 5,
        cost_usd: 0.001, retries: i % 25 === 0 ? 1 : 0, fallbacks: i % 50 === 0 ? 1 : 0, user: `user-${i % 7}`,
        variant: i % 4 === 0 ? 'canary' : 'baseline',
      }),
    );
  }
  for (let i = 1; i <= 10; i++) {
    rows.push(traceRow({ trace_id: `embed-${i}`, ts_ms: minutesAgo(2), route: 'embed', provider: 'local', model: 'bge', latency_ms: 5, status: 200, cost_usd: null, variant: '' }));
  }
  // Outside the 15 minute window: never counted.
  rows.push(traceRow({ trace_id: 'old-1', ts_ms: minutesAgo(120), route: 'chat' }));
  // A stream that broke after starting counts as an error.
  rows.push(traceRow({ trace_id: 'cut-1', ts_ms: minutesAgo(3), route: 'embed', provider: 'local', model: 'bge', status: 200, error_code: 'stream_interrupted', variant: '' }));
  return rows;
}

const sinks: [string, () => TraceSink][] = [
  ['duckdb', () => new DuckDbSink(join(mkdtempSync(join(tmpdir(), 'gateway-dash-')), 'traces.duckdb'))],
  ['clickhouse', () => new ClickHouseSink({ url: clickhouse.url, database: `dash_${Date.now()}`, requestTimeoutMs: 5000 })],
];

describe.each(sinks)('dashboard queries: %s', (_name, make) => {
  let sink: TraceSink;
  let queries: DashboardQueries;
  const window = windowFor('15m', NOW);

  beforeAll(async () => {
    sink = make();
    await sink.init();
    const rows = traffic();
    await sink.insertTraces(rows);
    // A replayed batch must not double any number.
    await sink.insertTraces(rows.slice(0, 30), true);
    await sink.insertFeedback({ feedback_id: 'f1', trace_id: 'chat-4', ts_ms: NOW, score: 1, label: '', comment: '' });
    await sink.insertFeedback({ feedback_id: 'f2', trace_id: 'chat-8', ts_ms: NOW, score: 0, label: '', comment: '' });
    await sink.insertFeedback({ feedback_id: 'f3', trace_id: 'chat-1', ts_ms: NOW, score: 0.5, label: '', comment: '' });
    queries = new DashboardQueries(sink);
  });
  afterAll(async () => {
    await sink.close();
  });

  it('overview: exact totals, sane quantiles, a bucket per minute', async () => {
    const { totals, series } = await queries.overview(window);
    expect(totals).toMatchObject({ requests: 111, errors: 11, inputTokens: 1110, outputTokens: 555, cacheHits: 20 });
    expect(totals.errorRate).toBeCloseTo(11 / 111, 10);
    expect(totals.costUsd).toBeCloseTo(0.101, 10);
    // Latencies are 1..100 (plus eleven 5s and 12.5s): quantiles must land where they should.
    expect(totals.p50).toBeGreaterThan(30);
    expect(totals.p50).toBeLessThan(55);
    expect(totals.p95).toBeGreaterThan(85);
    expect(totals.p95).toBeLessThanOrEqual(100);
    expect(totals.p99!).toBeGreaterThanOrEqual(totals.p95!);
    expect(totals.ttftP95).toBeGreaterThan(40);
    expect(totals.ttftP95).toBeLessThanOrEqual(50);
    expect(series).toHaveLength(15);
    expect(series.reduce((sum, p) => sum + p.requestsPerMin, 0)).toBe(111);
  });

  it('breakdown by route and by target', async () => {
    const { routes, targets } = await queries.breakdown(window);
    expect(routes.map((r) => [r.key, r.requests])).toEqual([['chat', 100], ['embed', 11]]);
    const chat = routes[0]!;
    expect(chat).toMatchObject({ retries: 4, fallbacks: 2, inputTokens: 1000 });
    expect(chat.errorRate).toBeCloseTo(0.1, 10);
    expect(chat.cacheHitRate).toBeCloseTo(0.2, 10);
    expect(chat.share).toBeCloseTo(100 / 111, 10);
    expect(targets.map((t) => [t.key, t.requests])).toEqual([['openai/gpt-4o', 100], ['local/bge', 11]]);
  });

  it('traces: filters, newest first, paging', async () => {
    const all = await queries.traces(window, {}, 10, 0);
    expect(all.total).toBe(111);
    expect(all.rows).toHaveLength(10);
    for (let i = 1; i < all.rows.length; i++) expect(all.rows[i - 1]!.ts_ms).toBeGreaterThanOrEqual(all.rows[i]!.ts_ms);
    const page2 = await queries.traces(window, {}, 10, 10);
    expect(page2.rows.map((r) => r.trace_id)).not.toContain(all.rows[0]!.trace_id);
    expect((await queries.traces(window, { status: '5xx' }, 50, 0)).total).toBe(10);
    expect((await queries.traces(window, { status: '502', route: 'chat' }, 50, 0)).total).toBe(10);
    expect((await queries.traces(window, { cache: 'HIT' }, 50, 0)).total).toBe(20);
    expect((await queries.traces(window, { minLatencyMs: 90 }, 50, 0)).total).toBe(11);
    expect((await queries.traces(window, { variant: 'canary', provider: 'openai', model: 'gpt-4o' }, 50, 0)).total).toBe(25);
    expect((await queries.traces(window, { search: 'chat-42' }, 50, 0)).rows.map((r) => r.trace_id)).toEqual(['chat-42']);
    expect((await queries.traces(window, { search: 'user-3' }, 50, 0)).total).toBe(14);
    expect((await queries.traces(window, { route: "x' OR '1'='1" }, 50, 0)).total).toBe(0);
  });

  it('canaries: baseline against canary, with feedback', async () => {
    const [chat] = await queries.canaries(window);
    expect(chat?.route).toBe('chat');
    const baseline = chat!.variants.find((v) => v.variant === 'baseline')!;
    const canary = chat!.variants.find((v) => v.variant === 'canary')!;
    expect([baseline.requests, canary.requests]).toEqual([75, 25]);
    expect(canary.errorRate).toBeCloseTo(5 / 25, 10);
    expect(baseline.errorRate).toBeCloseTo(5 / 75, 10);
    expect(canary.costPerRequest).toBeCloseTo(0.001, 10);
    expect(canary.feedback).toBeCloseTo(0.5, 10);
    expect(canary.feedbackCount).toBe(2);
    expect(baseline.feedbackCount).toBe(1);
    // Spreads for the guards' confidence bounds: scores 1 and 0; every cost 0.001.
    expect(canary.feedbackStdDev).toBeCloseTo(Math.SQRT1_2, 10);
    expect(baseline.feedbackStdDev).toBe(0);
    expect(canary.costStdDev).toBeCloseTo(0, 10);
    expect(canary.errors).toBe(5);
  });

  it("canary decisions: one canary's, holds left out, newest first", async () => {
    const event = (id: string, route: string, decision: string, ts: number) =>
      sink.insertCanaryEvent({ event_id: id, ts_ms: ts, route, decision, from_weight: 10, to_weight: 50, details: JSON.stringify({ reason: id }) });
    await event('e1', 'chat', 'promote', NOW - 3000);
    await event('e2', 'chat', 'hold', NOW - 2000);
    await event('e3', 'chat', 'rollback', NOW - 1000);
    await event('e4', 'other.v2', 'promote', NOW);
    const decisions = await recentCanaryEvents(sink, 'chat', 10);
    expect(decisions.map((d) => [d.decision, d.ts_ms])).toEqual([['rollback', NOW - 1000], ['promote', NOW - 3000]]);
    expect(JSON.parse(decisions[0]!.details)).toEqual({ reason: 'e3' });
    expect(await recentCanaryEvents(sink, "chat' OR '1'='1", 10)).toEqual([]);
  });

  it('latency samples: the latest requests of a variant, for the ratio tests', async () => {
    const samples = await queries.latencySamples(window, 'chat', 'canary', 10);
    // Canary rows are every 4th; the latest ten are those ending in 0 and in 2.
    expect([...samples.latencyMs].sort((a, b) => a - b)).toEqual([12, 20, 32, 40, 52, 60, 72, 80, 92, 100]);
    expect(samples.ttftMs).toEqual([]);
    const baseline = await queries.latencySamples(window, 'chat', 'baseline', 1000);
    expect(baseline.latencyMs).toHaveLength(75);
    expect(baseline.ttftMs).toHaveLength(50);
    expect(await queries.latencySamples(window, "chat' OR '1'='1", 'canary', 10)).toEqual({ latencyMs: [], ttftMs: [] });
  });
});

describe.each(sinks)('shadow agreement per variant: %s', (_name, make) => {
  it('averages the agreement tags of shadow rows, by the mirrored request’s variant', async () => {
    const sink = make();
    await sink.init();
    const shadow = (id: string, variant: string, rouge: number, bleu: number) =>
      traceRow({ trace_id: id, ts_ms: minutesAgo(1), route: 'r', variant: 'shadow', metadata_keys: ['shadow_of', 'primary_variant', 'agreement_rouge_l', 'agreement_bleu'], metadata_values: ['p', variant, String(rouge), String(bleu)] });
    await sink.insertTraces([
      traceRow({ trace_id: 'p1', ts_ms: minutesAgo(1), route: 'r', variant: 'baseline' }),
      shadow('s1', 'baseline', 0.8, 0.6),
      shadow('s2', 'baseline', 0.6, 0.4),
      shadow('s3', 'canary', 0.2, 0.1),
    ]);
    const [r] = await new DashboardQueries(sink).canaries(windowFor('15m', NOW));
    expect(r?.agreement?.count).toBe(3);
    expect(r?.agreement?.rougeL).toBeCloseTo(1.6 / 3, 10);
    expect(r?.agreementByVariant.baseline).toMatchObject({ count: 2 });
    expect(r?.agreementByVariant.baseline?.rougeL).toBeCloseTo(0.7, 10);
    expect(r?.agreementByVariant.canary?.bleu).toBeCloseTo(0.1, 10);
    expect(r?.agreement?.rougeLStdDev).toBeCloseTo(Math.sqrt(0.28 / 3), 10);
    expect(r?.agreementByVariant.baseline?.rougeLStdDev).toBeCloseTo(Math.sqrt(0.02), 10);
    await sink.close();
  });
});

describe.each(sinks)('canary errors: requests their variant did not answer: %s', (_name, make) => {
  it('counts a canary-assigned request answered by a baseline target (fell back, or skipped the canary) against the canary', async () => {
    const sink = make();
    await sink.init();
    const row = (id: string, variant: string, target: string, more: Partial<Parameters<typeof traceRow>[0]> = {}) => {
      const [provider = '', model = ''] = target.split('/');
      return traceRow({ trace_id: id, ts_ms: minutesAgo(1), route: 'assistant.v2', variant, provider, model, ...more });
    };
    await sink.insertTraces([
      ...[1, 2, 3, 4].map((i) => row(`c${i}`, 'canary', 'up/cand')),
      // The canary's own fallback answered: still the canary.
      row('c5', 'canary', 'up/cand-b', { fallbacks: 1 }),
      // Failed over to the baseline, or skipped the canary's open breaker: not answered by the canary.
      row('c6', 'canary', 'up/stable', { fallbacks: 1, attempts: 2 }),
      row('c7', 'canary', 'up/stable'),
      row('c8', 'canary', 'up/stable-b'),
      row('c9', 'canary', 'up/cand', { status: 502, error_code: 'upstream_error' }),
      row('c10', 'canary', '', { status: 503 }),
      ...[1, 2, 3, 4, 5].map((i) => row(`b${i}`, 'baseline', 'up/stable')),
      row('b6', 'baseline', 'up/stable-b', { fallbacks: 1, attempts: 2 }),
    ]);
    const targets = [{ route: 'assistant.v2', baseline: ['up/stable', 'up/stable-b'], canary: ['up/cand', 'up/cand-b'] }];
    const [comparison] = await new DashboardQueries(sink).canaries(windowFor('15m', NOW), targets);
    expect(comparison?.route).toBe('assistant.v2');
    const variant = (name: string) => comparison!.variants.find((v) => v.variant === name);
    expect(variant('canary')).toMatchObject({ requests: 10, errors: 5 });
    expect(variant('baseline')).toMatchObject({ requests: 6, errors: 0 });
    await sink.close();
  });
});
