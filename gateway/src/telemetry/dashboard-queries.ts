/**
 * The dashboard's questions, asked of the trace store with one set of SQL for DuckDB and ClickHouse
 * (only quantiles, FINAL and literal escaping differ — see sql-dialect.ts). An error here is a failed
 * request as request-failure.ts defines it: a 5xx answer or a stream that broke after it started.
 */
import { FAILED_REQUEST_SQL } from './request-failure.js';
import { num } from './sql-dialect.js';
import { toTraceRow, type TraceSink } from './trace-sink.js';
import type { CanaryEventRow, TraceRow } from './trace-row.js';

export const RANGES = { '15m': 15 * 60_000, '1h': 3_600_000, '24h': 86_400_000, '7d': 7 * 86_400_000 } as const;
export type RangeName = keyof typeof RANGES;

/** Buckets per range: about 15–60 points per chart. */
const BUCKETS: Record<RangeName, number> = { '15m': 60_000, '1h': 60_000, '24h': 30 * 60_000, '7d': 3 * 3_600_000 };

export interface TimeWindow {
  fromMs: number;
  toMs: number;
  bucketMs: number;
}

export function windowFor(range: RangeName, now: number): TimeWindow {
  const bucketMs = BUCKETS[range];
  const toMs = Math.ceil(now / bucketMs) * bucketMs;
  return { fromMs: toMs - RANGES[range], toMs, bucketMs };
}

const value = (raw: unknown): number | null => {
  if (raw === null || raw === undefined) return null;
  const n = Number(raw);
  return Number.isFinite(n) ? n : null;
};
const count = (raw: unknown): number => value(raw) ?? 0;

const ERROR = FAILED_REQUEST_SQL;

export interface Totals {
  requests: number;
  errors: number;
  errorRate: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  ttftP95: number | null;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  cacheHits: number;
  cacheHitRate: number;
}

export interface SeriesPoint {
  t: number;
  requestsPerMin: number;
  errorRate: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  ttftP95: number | null;
  tokens: number;
  costUsd: number;
}

export interface BreakdownRow {
  key: string;
  requests: number;
  share: number;
  errorRate: number;
  p95: number | null;
  ttftP95: number | null;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  cacheHitRate: number;
  retries: number;
  fallbacks: number;
}

export interface TraceFilter {
  route?: string | undefined;
  provider?: string | undefined;
  model?: string | undefined;
  /** An exact status, or a class such as "5xx". */
  status?: string | undefined;
  variant?: string | undefined;
  cache?: string | undefined;
  minLatencyMs?: number | undefined;
  /** A trace id or a user. */
  search?: string | undefined;
}

export type TraceSummary = Omit<TraceRow, 'request_body' | 'response_body'>;

export interface Agreement {
  rougeL: number;
  bleu: number;
  count: number;
}

export interface CanaryComparison {
  route: string;
  /** Mean answer agreement of the route's shadow requests with their primaries… */
  agreement: Agreement | null;
  /** …and per variant of the primary request that was mirrored. */
  agreementByVariant: Record<string, Agreement>;
  variants: { variant: string; requests: number; errorRate: number; p95: number | null; ttftP95: number | null; costPerRequest: number; feedback: number | null; feedbackCount: number }[];
}

export class DashboardQueries {
  constructor(private readonly sink: TraceSink) {}

  private get d() {
    return this.sink.dialect;
  }

  private aggregates(): string {
    const q = this.d.quantile.bind(this.d);
    return `count(*) AS requests, sum(CASE WHEN ${ERROR} THEN 1 ELSE 0 END) AS errors,
      ${q('latency_ms', 0.5)} AS p50, ${q('latency_ms', 0.95)} AS p95, ${q('latency_ms', 0.99)} AS p99,
      ${q('ttft_ms', 0.95)} AS ttft_p95, sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
      sum(coalesce(cost_usd, 0)) AS cost, sum(CASE WHEN cache = 'HIT' THEN 1 ELSE 0 END) AS cache_hits,
      sum(retries) AS retries, sum(fallbacks) AS fallbacks`;
  }

  private within(window: TimeWindow): string {
    return `ts_ms >= ${num(window.fromMs)} AND ts_ms < ${num(window.toMs)}`;
  }

  async overview(window: TimeWindow): Promise<{ totals: Totals; series: SeriesPoint[] }> {
    const [totalsRow] = await this.sink.select(`SELECT ${this.aggregates()} FROM ${this.d.requests} WHERE ${this.within(window)}`);
    const rows = await this.sink.select(
      `SELECT floor(ts_ms / ${num(window.bucketMs)}) * ${num(window.bucketMs)} AS t, ${this.aggregates()}
       FROM ${this.d.requests} WHERE ${this.within(window)} GROUP BY t ORDER BY t`,
    );
    const byBucket = new Map(rows.map((row) => [count(row.t), row]));
    const series: SeriesPoint[] = [];
    // Every bucket is present, so a quiet minute shows as zero, not as a line drawn across the gap.
    for (let t = window.fromMs; t < window.toMs; t += window.bucketMs) {
      const row = byBucket.get(t);
      const requests = count(row?.requests);
      series.push({
        t,
        requestsPerMin: requests / (window.bucketMs / 60_000),
        errorRate: requests ? count(row?.errors) / requests : 0,
        p50: value(row?.p50),
        p95: value(row?.p95),
        p99: value(row?.p99),
        ttftP95: value(row?.ttft_p95),
        tokens: count(row?.input_tokens) + count(row?.output_tokens),
        costUsd: count(row?.cost),
      });
    }
    const requests = count(totalsRow?.requests);
    return {
      totals: {
        requests,
        errors: count(totalsRow?.errors),
        errorRate: requests ? count(totalsRow?.errors) / requests : 0,
        p50: value(totalsRow?.p50),
        p95: value(totalsRow?.p95),
        p99: value(totalsRow?.p99),
        ttftP95: value(totalsRow?.ttft_p95),
        inputTokens: count(totalsRow?.input_tokens),
        outputTokens: count(totalsRow?.output_tokens),
        costUsd: count(totalsRow?.cost),
        cacheHits: count(totalsRow?.cache_hits),
        cacheHitRate: requests ? count(totalsRow?.cache_hits) / requests : 0,
      },
      series,
    };
  }

  /** Per route, and per target (provider/model). */
  async breakdown(window: TimeWindow): Promise<{ routes: BreakdownRow[]; targets: BreakdownRow[] }> {
    const run = async (key: string): Promise<BreakdownRow[]> => {
      const rows = await this.sink.select(
        `SELECT ${key} AS k, ${this.aggregates()} FROM ${this.d.requests} WHERE ${this.within(window)} GROUP BY k ORDER BY requests DESC, k`,
      );
      const total = rows.reduce((sum, row) => sum + count(row.requests), 0);
      return rows.map((row) => {
        const requests = count(row.requests);
        return {
          key: String(row.k ?? ''),
          requests,
          share: total ? requests / total : 0,
          errorRate: requests ? count(row.errors) / requests : 0,
          p95: value(row.p95),
          ttftP95: value(row.ttft_p95),
          inputTokens: count(row.input_tokens),
          outputTokens: count(row.output_tokens),
          costUsd: count(row.cost),
          cacheHitRate: requests ? count(row.cache_hits) / requests : 0,
          retries: count(row.retries),
          fallbacks: count(row.fallbacks),
        };
      });
    };
    const [routes, targets] = await Promise.all([
      run('route'),
      // Cache hits and requests refused before routing have no target.
      run(`CASE WHEN provider = '' THEN '(none)' ELSE concat(provider, '/', model) END`),
    ]);
    return { routes, targets };
  }

  async traces(window: TimeWindow, filter: TraceFilter, limit: number, offset: number): Promise<{ total: number; rows: TraceSummary[] }> {
    const where = [this.within(window)];
    const s = this.d.str.bind(this.d);
    if (filter.route) where.push(`route = ${s(filter.route)}`);
    if (filter.provider) where.push(`provider = ${s(filter.provider)}`);
    if (filter.model) where.push(`model = ${s(filter.model)}`);
    if (filter.variant) where.push(`variant = ${s(filter.variant)}`);
    if (filter.cache) where.push(`cache = ${s(filter.cache)}`);
    if (filter.minLatencyMs !== undefined) where.push(`latency_ms >= ${num(filter.minLatencyMs)}`);
    if (filter.status) {
      const statusClass = /^([1-5])xx$/.exec(filter.status);
      if (statusClass) where.push(`status >= ${num(Number(statusClass[1]) * 100)} AND status < ${num(Number(statusClass[1]) * 100 + 100)}`);
      else if (/^\d{3}$/.test(filter.status)) where.push(`status = ${num(Number(filter.status))}`);
    }
    if (filter.search) where.push(`(trace_id = ${s(filter.search)} OR ${this.d.userColumn} = ${s(filter.search)})`);
    const columns = `trace_id, ts_ms, key_id, route, operation, provider, model, requested_model, variant, stream, status, error_code,
      latency_ms, upstream_ms, ttft_ms, attempts, retries, fallbacks, cache, input_tokens, output_tokens, usage_estimated, cost_usd,
      ${this.d.userColumn}, metadata_keys, metadata_values`;
    const [totalRow] = await this.sink.select(`SELECT count(*) AS n FROM ${this.d.requests} WHERE ${where.join(' AND ')}`);
    const rows = await this.sink.select(
      `SELECT ${columns} FROM ${this.d.requests} WHERE ${where.join(' AND ')} ORDER BY ts_ms DESC, trace_id DESC LIMIT ${num(limit)} OFFSET ${num(offset)}`,
    );
    return {
      total: count(totalRow?.n),
      rows: rows.map((row) => {
        const { request_body: _req, response_body: _res, ...summary } = toTraceRow(row);
        return summary;
      }),
    };
  }

  /**
   * Baseline against canary, per canary route. A request counts against its assigned variant; one the
   * variant could not answer by itself (it fell back, e.g. from a failing canary to the baseline) is an
   * error of that variant, so fallbacks cannot hide a bad canary.
   */
  async canaries(window: TimeWindow): Promise<CanaryComparison[]> {
    const q = this.d.quantile.bind(this.d);
    const rows = await this.sink.select(
      `SELECT route, variant, count(*) AS requests, sum(CASE WHEN ${ERROR} OR fallbacks > 0 THEN 1 ELSE 0 END) AS errors,
        ${q('latency_ms', 0.95)} AS p95, ${q('ttft_ms', 0.95)} AS ttft_p95, sum(coalesce(cost_usd, 0)) AS cost
       FROM ${this.d.requests} WHERE ${this.within(window)} AND variant != '' GROUP BY route, variant ORDER BY route, variant`,
    );
    const byRoute = new Map<string, CanaryComparison>();
    for (const row of rows) {
      const route = String(row.route);
      const variant = String(row.variant);
      const requests = count(row.requests);
      const [feedback] = await this.sink.select(
        `SELECT avg(score) AS score, count(*) AS n FROM ${this.d.feedback} WHERE trace_id IN
           (SELECT trace_id FROM ${this.d.requests} WHERE ${this.within(window)} AND route = ${this.d.str(route)} AND variant = ${this.d.str(variant)})`,
      );
      const comparison = byRoute.get(route) ?? { route, agreement: null, agreementByVariant: {}, variants: [] };
      comparison.variants.push({
        variant,
        requests,
        errorRate: requests ? count(row.errors) / requests : 0,
        p95: value(row.p95),
        ttftP95: value(row.ttft_p95),
        costPerRequest: requests ? count(row.cost) / requests : 0,
        feedback: count(feedback?.n) > 0 ? value(feedback?.score) : null,
        feedbackCount: count(feedback?.n),
      });
      byRoute.set(route, comparison);
    }
    for (const comparison of byRoute.values()) {
      const rows = await this.sink.select(
        `SELECT ${this.d.tagString('primary_variant')} AS pv, avg(${this.d.tagNumber('agreement_rouge_l')}) AS rouge,
           avg(${this.d.tagNumber('agreement_bleu')}) AS bleu, count(*) AS n
         FROM ${this.d.requests} WHERE ${this.within(window)} AND route = ${this.d.str(comparison.route)} AND variant = 'shadow' AND status = 200
         GROUP BY pv`,
      );
      let n = 0;
      let rouge = 0;
      let bleuSum = 0;
      for (const row of rows) {
        const rowCount = count(row.n);
        comparison.agreementByVariant[String(row.pv ?? '') || 'unsplit'] = { rougeL: count(row.rouge), bleu: count(row.bleu), count: rowCount };
        n += rowCount;
        rouge += count(row.rouge) * rowCount;
        bleuSum += count(row.bleu) * rowCount;
      }
      if (n > 0) comparison.agreement = { rougeL: rouge / n, bleu: bleuSum / n, count: n };
    }
    return [...byRoute.values()];
  }
}

export type CanaryEventView = Omit<CanaryEventRow, 'event_id'>;

/** The latest canary decisions (holds left out), newest first. */
export async function recentCanaryEvents(sink: TraceSink, limit: number): Promise<CanaryEventView[]> {
  const rows = await sink.select(
    `SELECT ts_ms, route, decision, from_weight, to_weight, details FROM canary_events WHERE decision != 'hold' ORDER BY ts_ms DESC LIMIT ${num(limit)}`,
  );
  return rows.map((row) => ({
    ts_ms: Number(row.ts_ms),
    route: String(row.route),
    decision: String(row.decision),
    from_weight: Number(row.from_weight),
    to_weight: Number(row.to_weight),
    details: String(row.details),
  }));
}
