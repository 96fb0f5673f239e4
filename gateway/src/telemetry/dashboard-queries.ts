/**
 * The dashboard's questions, asked of the trace store with one set of SQL for DuckDB and ClickHouse
 * (only quantiles, FINAL and literal escaping differ — see sql-dialect.ts). An error here is a failed
 * request as request-failure.ts defines it: a 5xx answer or a stream that broke after it started.
 */
import type { VariantTargets } from '../routing/route-tree.js';
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
/** Sample standard deviation from what any engine can sum: n, Σx and Σx². */
const stdDev = (n: number, sum: number, sumOfSquares: number): number =>
  n > 1 ? Math.sqrt(Math.max(0, (sumOfSquares - (sum * sum) / n) / (n - 1))) : 0;

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
  rougeLStdDev: number;
  bleu: number;
  count: number;
}

/** One variant of a canary route over a window. */
export interface CanaryVariant {
  variant: string;
  requests: number;
  /** Failed, or not answered by the variant itself. */
  errors: number;
  errorRate: number;
  p95: number | null;
  ttftP95: number | null;
  costPerRequest: number;
  costStdDev: number;
  feedback: number | null;
  feedbackStdDev: number;
  feedbackCount: number;
  /** Requests the variant answered itself whose answer tripped an output guardrail (flag, redact, deny, retry, fallback). */
  guardrailTrips: number;
}

/** The most recent latencies of one variant, for the canary's ratio tests. */
export interface LatencySamples {
  latencyMs: number[];
  ttftMs: number[];
}

export interface CanaryComparison {
  route: string;
  /** Mean answer agreement of the route's shadow requests with their primaries… */
  agreement: Agreement | null;
  /** …and per variant of the primary request that was mirrored. */
  agreementByVariant: Record<string, Agreement>;
  variants: CanaryVariant[];
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
    if (filter.search) {
      const value = s(filter.search);
      where.push(`(trace_id = ${value} OR client_request_id = ${value} OR ${this.d.userColumn} = ${value})`);
    }
    const columns = `trace_id, client_request_id, ts_ms, key_id, route, operation, provider, model, requested_model, variant, stream, status, error_code,
      latency_ms, upstream_ms, ttft_ms, attempts, retries, fallbacks, cache, input_tokens, output_tokens, usage_estimated, cost_usd,
      ${this.d.userColumn}, metadata_keys, metadata_values, branch, guardrail_names, guardrail_stages, guardrail_verdicts, guardrail_findings, guardrail_trips`;
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
   * A row of a canary route that its assigned variant did not answer: the target that answered (or
   * failed last) is not one of that variant's targets. Whatever the reason — the variant failed and the
   * other one answered, or it was skipped for an open breaker or a failed health check — the request is
   * a failure of the variant it was assigned to, so neither fallbacks nor breakers can hide a bad canary.
   */
  private unanswered(targets: readonly VariantTargets[]): string {
    const s = this.d.str.bind(this.d);
    const clauses = targets.flatMap((entry) =>
      (['baseline', 'canary'] as const)
        .filter((variant) => entry[variant].length > 0)
        .map((variant) => `(route = ${s(entry.route)} AND variant = ${s(variant)} AND concat(provider, '/', model) NOT IN (${entry[variant].map(s).join(', ')}))`),
    );
    return clauses.length > 0 ? clauses.join(' OR ') : '1 = 0';
  }

  /**
   * Baseline against canary, per canary route. A request counts against its assigned variant, and is
   * an error of that variant when it failed or when the variant did not answer it (`targets` says which
   * targets each route's variants answer from).
   */
  async canaries(window: TimeWindow, targets: readonly VariantTargets[] = []): Promise<CanaryComparison[]> {
    const q = this.d.quantile.bind(this.d);
    const rows = await this.sink.select(
      `SELECT route, variant, count(*) AS requests, sum(CASE WHEN ${ERROR} OR ${this.unanswered(targets)} THEN 1 ELSE 0 END) AS errors,
        ${q('latency_ms', 0.95)} AS p95, ${q('ttft_ms', 0.95)} AS ttft_p95, sum(coalesce(cost_usd, 0)) AS cost,
        sum(coalesce(cost_usd, 0) * coalesce(cost_usd, 0)) AS cost_sq,
        sum(CASE WHEN guardrail_trips > 0 AND NOT (${this.unanswered(targets)}) THEN 1 ELSE 0 END) AS trips
       FROM ${this.d.requests} WHERE ${this.within(window)} AND variant != '' GROUP BY route, variant ORDER BY route, variant`,
    );
    const byRoute = new Map<string, CanaryComparison>();
    for (const row of rows) {
      const route = String(row.route);
      const variant = String(row.variant);
      const requests = count(row.requests);
      const [feedback] = await this.sink.select(
        `SELECT sum(score) AS score_sum, sum(score * score) AS score_sq, count(*) AS n FROM ${this.d.feedback} WHERE trace_id IN
           (SELECT trace_id FROM ${this.d.requests} WHERE ${this.within(window)} AND route = ${this.d.str(route)} AND variant = ${this.d.str(variant)})`,
      );
      const comparison = byRoute.get(route) ?? { route, agreement: null, agreementByVariant: {}, variants: [] };
      const scores = count(feedback?.n);
      comparison.variants.push({
        variant,
        requests,
        errors: count(row.errors),
        errorRate: requests ? count(row.errors) / requests : 0,
        p95: value(row.p95),
        ttftP95: value(row.ttft_p95),
        costPerRequest: requests ? count(row.cost) / requests : 0,
        costStdDev: stdDev(requests, count(row.cost), count(row.cost_sq)),
        feedback: scores > 0 ? count(feedback?.score_sum) / scores : null,
        feedbackStdDev: stdDev(scores, count(feedback?.score_sum), count(feedback?.score_sq)),
        feedbackCount: scores,
        guardrailTrips: count(row.trips),
      });
      byRoute.set(route, comparison);
    }
    for (const comparison of byRoute.values()) {
      const rows = await this.sink.select(
        `SELECT ${this.d.tagString('primary_variant')} AS pv, sum(${this.d.tagNumber('agreement_rouge_l')}) AS rouge,
           sum(${this.d.tagNumber('agreement_rouge_l')} * ${this.d.tagNumber('agreement_rouge_l')}) AS rouge_sq,
           sum(${this.d.tagNumber('agreement_bleu')}) AS bleu, count(*) AS n
         FROM ${this.d.requests} WHERE ${this.within(window)} AND route = ${this.d.str(comparison.route)} AND variant = 'shadow' AND status = 200
         GROUP BY pv`,
      );
      const agreement = (n: number, rouge: number, rougeSq: number, bleu: number): Agreement => ({
        rougeL: rouge / n,
        rougeLStdDev: stdDev(n, rouge, rougeSq),
        bleu: bleu / n,
        count: n,
      });
      const total = { n: 0, rouge: 0, rougeSq: 0, bleu: 0 };
      for (const row of rows) {
        const n = count(row.n);
        comparison.agreementByVariant[String(row.pv ?? '') || 'unsplit'] = agreement(n, count(row.rouge), count(row.rouge_sq), count(row.bleu));
        total.n += n;
        total.rouge += count(row.rouge);
        total.rougeSq += count(row.rouge_sq);
        total.bleu += count(row.bleu);
      }
      if (total.n > 0) comparison.agreement = agreement(total.n, total.rouge, total.rougeSq, total.bleu);
    }
    return [...byRoute.values()];
  }

  /** The latencies (and TTFTs, for streams) of a variant's latest `limit` requests in the window. */
  async latencySamples(window: TimeWindow, route: string, variant: string, limit: number): Promise<LatencySamples> {
    const rows = await this.sink.select(
      `SELECT latency_ms, ttft_ms FROM ${this.d.requests}
       WHERE ${this.within(window)} AND route = ${this.d.str(route)} AND variant = ${this.d.str(variant)}
       ORDER BY ts_ms DESC LIMIT ${num(limit)}`,
    );
    const latencyMs: number[] = [];
    const ttftMs: number[] = [];
    for (const row of rows) {
      const latency = value(row.latency_ms);
      const ttft = value(row.ttft_ms);
      if (latency !== null) latencyMs.push(latency);
      if (ttft !== null) ttftMs.push(ttft);
    }
    return { latencyMs, ttftMs };
  }
}

export type CanaryEventView = Omit<CanaryEventRow, 'event_id'>;

/** A canary's latest decisions (holds left out), newest first. */
export async function recentCanaryEvents(sink: TraceSink, id: string, limit: number): Promise<CanaryEventView[]> {
  const rows = await sink.select(
    `SELECT ts_ms, route, decision, from_weight, to_weight, details FROM canary_events
     WHERE decision != 'hold' AND route = ${sink.dialect.str(id)} ORDER BY ts_ms DESC LIMIT ${num(limit)}`,
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
