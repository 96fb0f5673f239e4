/**
 * What a keyed request must pass before the upstream is called: the key may use this route, it is
 * within its rate limits (x-ratelimit-* headers on the reply), and — for requests that will reach an
 * upstream — a budget reservation for its estimated cost.
 */
import type { FastifyReply } from 'fastify';
import type { GatewayKey } from '../auth/key-registry.js';
import { keyAllows } from '../auth/key-registry.js';
import { GatewayError } from '../errors.js';
import type { BudgetGuard, Reservation } from '../limits/budget.js';
import type { RateLimiter } from '../limits/rate-limiter.js';
import type { JsonObject } from '../providers/types.js';
import { targetsOfNode, type CompiledRoute } from '../routing/route-tree.js';
import type { PriceTable } from '../telemetry/pricing.js';

export interface AdmissionDeps {
  limiter: RateLimiter;
  budgets: BudgetGuard;
  prices: PriceTable;
  /** Output tokens assumed when the request sets no max_tokens. */
  reserveOutputTokens: number;
}

/** Route access and rate limits. Throws 403 `model_not_allowed` or 429 `rate_limit_exceeded`. */
export async function admitKey(deps: AdmissionDeps, key: GatewayKey, route: CompiledRoute, reply: FastifyReply): Promise<void> {
  if (!keyAllows(key, route.name)) {
    throw new GatewayError('model_not_allowed', `key '${key.id}' may not use '${route.name}'`, { param: 'model' });
  }
  const { headers } = await deps.limiter.admit(key);
  for (const [name, value] of Object.entries(headers)) reply.header(name, value);
}

/** Reserves the request's estimated cost against the key's budgets. Throws 429 `budget_exceeded`. */
export function reserveBudget(deps: AdmissionDeps, key: GatewayKey, route: CompiledRoute, body: JsonObject): Promise<Reservation> {
  const price = highestPrice(deps.prices, route);
  const inputTokens = Math.ceil(JSON.stringify(body.messages ?? body.prompt ?? body.input ?? '').length / 4);
  const maxTokens = body.max_completion_tokens ?? body.max_tokens;
  const outputTokens = typeof maxTokens === 'number' ? maxTokens : deps.reserveOutputTokens;
  const estimate = (inputTokens * price.input + outputTokens * price.output) / 1_000_000;
  return deps.budgets.reserve(key, estimate);
}

const routePrices = new WeakMap<CompiledRoute, { input: number; output: number }>();

/** The dearest price among a route's targets: a reservation must cover whichever one answers. */
function highestPrice(prices: PriceTable, route: CompiledRoute): { input: number; output: number } {
  let found = routePrices.get(route);
  if (!found) {
    found = { input: 0, output: 0 };
    for (const target of targetsOfNode(route.root)) {
      const price = prices.priceOf(target.model);
      if (price) found = { input: Math.max(found.input, price.input), output: Math.max(found.output, price.output) };
    }
    routePrices.set(route, found);
  }
  return found;
}
