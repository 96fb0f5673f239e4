/**
 * The JSON the dashboard reads (admin key required when keys exist): overview numbers and series,
 * per-route and per-target tables, the trace list, and canary comparisons, over a time range.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { GatewayError } from '../errors.js';
import { formatParam } from '../proxy/request-schemas.js';
import type { CanaryController } from '../canary/canary-controller.js';
import { variantTargetsOf, type CanarySplit } from '../routing/route-tree.js';
import { DashboardQueries, RANGES, windowFor, type RangeName } from '../telemetry/dashboard-queries.js';
import type { TraceStore } from '../telemetry/trace-store.js';

const rangeSchema = z.object({ range: z.enum(Object.keys(RANGES) as [RangeName, ...RangeName[]]).default('1h') });

const tracesSchema = rangeSchema.extend({
  route: z.string().max(200).optional(),
  provider: z.string().max(200).optional(),
  model: z.string().max(300).optional(),
  status: z.string().regex(/^([1-5]xx|\d{3})$/).optional(),
  // Shadow rows (mirrored requests) carry their own variant.
  variant: z.enum(['baseline', 'canary', 'shadow']).optional(),
  cache: z.enum(['HIT', 'MISS', 'BYPASS']).optional(),
  min_latency_ms: z.coerce.number().nonnegative().optional(),
  q: z.string().min(1).max(200).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  offset: z.coerce.number().int().min(0).max(100_000).default(0),
});

function parseQuery<T extends z.ZodType>(schema: T, request: FastifyRequest): z.infer<T> {
  const parsed = schema.safeParse(request.query);
  if (!parsed.success) {
    const param = formatParam(parsed.error.issues[0]?.path ?? []);
    throw new GatewayError('invalid_request', `${param ?? 'query'}: ${parsed.error.issues[0]?.message ?? 'invalid'}`, { param });
  }
  return parsed.data;
}

export function registerDashboardApi(
  app: FastifyInstance,
  traces: TraceStore | undefined,
  canaries: CanaryController,
  splits: ReadonlyMap<string, CanarySplit>,
  now: () => number = Date.now,
): void {
  const admin = { config: { access: 'admin' } };
  // Decided once: which targets answer for each variant of each canary route.
  const variantTargets = variantTargetsOf(splits.values());
  const queries = (): DashboardQueries => {
    if (!traces?.ready) throw new GatewayError('trace_store_unavailable', 'the trace store is not available');
    return new DashboardQueries(traces.sink);
  };

  app.get('/api/overview', admin, async (request) => {
    const { range } = parseQuery(rangeSchema, request);
    const window = windowFor(range, now());
    return { range, ...window, ...(await queries().overview(window)) };
  });

  app.get('/api/breakdown', admin, async (request) => {
    const { range } = parseQuery(rangeSchema, request);
    const window = windowFor(range, now());
    return { range, ...window, ...(await queries().breakdown(window)) };
  });

  app.get('/api/traces', admin, async (request) => {
    const query = parseQuery(tracesSchema, request);
    const window = windowFor(query.range, now());
    const filter = {
      route: query.route,
      provider: query.provider,
      model: query.model,
      status: query.status,
      variant: query.variant,
      cache: query.cache,
      minLatencyMs: query.min_latency_ms,
      search: query.q,
    };
    return { range: query.range, limit: query.limit, offset: query.offset, ...(await queries().traces(window, filter, query.limit, query.offset)) };
  });

  app.get('/api/canaries', admin, async (request) => {
    const { range } = parseQuery(rangeSchema, request);
    return {
      range,
      canaries: await queries().canaries(windowFor(range, now()), variantTargets),
      // Progressive canaries: state, step, weight, the last evaluation's guard values, and decisions.
      controller: await canaries.list(),
    };
  });
}
