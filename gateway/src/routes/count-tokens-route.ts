/**
 * POST /v1/messages/count_tokens: how many input tokens a Messages request would use on the target that
 * would answer it. An `anthropic` target counts exactly (its own endpoint, the client's body passed
 * through); for any other target — or when Anthropic's counter is unreachable — the gateway's tokenizer
 * estimates, and says so in `x-gateway-usage-estimated: true`. Errors are Anthropic-shaped, as on
 * /v1/messages. The target is chosen as /v1/messages would choose it, a conditional route's branches
 * included (by tags, key, end user and the request). A count is a request: it counts against the key's
 * requests per minute. It is no generation: it is not traced, cached or charged to budgets. A route whose
 * guardrails read the request's text sends nothing unchecked to a provider, so it is counted here too.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError, isGatewayError } from '../errors.js';
import { messagesDialect, nativeHeadersOf } from '../inbound/messages-dialect.js';
import { toChatRequest, validateCountTokensRequest } from '../inbound/messages-request.js';
import { admitKey, type AdmissionDeps } from '../proxy/admission.js';
import { isSkipped, type RoutingRuntime } from '../proxy/dispatch.js';
import { parseMetadata, stickyKeyOf, withKeyTags } from '../proxy/request-headers.js';
import type { JsonObject } from '../providers/types.js';
import type { ModelResolver } from '../routing/model-resolver.js';
import { requestFacts, type RequestFacts } from '../routing/request-facts.js';
import { planAttempts, type ResolvedTarget } from '../routing/route-tree.js';
import { estimateInputTokens, estimateOutputTokens, loadTokenizer } from '../telemetry/usage.js';

export interface CountTokensDeps {
  resolver: ModelResolver;
  runtime: RoutingRuntime;
  admission: AdmissionDeps;
  defaultTimeoutMs: number;
}

export const USAGE_ESTIMATED_HEADER = 'x-gateway-usage-estimated';

export function registerCountTokensRoute(app: FastifyInstance, deps: CountTokensDeps): void {
  // `dialect` gives this endpoint's errors Anthropic's shape; no `operation`: nothing is traced.
  app.post('/v1/messages/count_tokens', { config: { access: 'client', dialect: messagesDialect } }, (request, reply) => countTokens(request, reply, deps));
}

async function countTokens(request: FastifyRequest, reply: FastifyReply, deps: CountTokensDeps): Promise<JsonObject> {
  const body = validateCountTokensRequest(request.body);
  const route = deps.resolver.resolve(body.model);
  if (!route) throw new GatewayError('model_not_found', `The model '${body.model}' does not exist on this gateway`, { param: 'model' });
  const key = request.gatewayKey;
  // Route access and requests per minute, as for /v1/messages; no budget reservation (a count costs nothing).
  if (key) await admitKey(deps.admission, key, route, reply);
  const user = typeof body.metadata?.user_id === 'string' && body.metadata.user_id.length > 0 ? body.metadata.user_id : undefined;
  const canonical = toChatRequest({ ...body, max_tokens: body.max_tokens ?? 1 }, () => undefined);
  let facts: RequestFacts | undefined;
  if (route.conditional) {
    const clientTags = parseMetadata(request.headers['x-gateway-metadata']);
    const tags = key && Object.keys(key.metadata).length > 0 ? withKeyTags(key.metadata, clientTags) : clientTags;
    facts = requestFacts(canonical, tags, key?.id ?? '', user ?? '');
  }
  const plan = planAttempts(route.root, {
    random: deps.runtime.random,
    inFlight: deps.runtime.inFlight,
    stickyKey: (header) => stickyKeyOf(request.headers, user, header),
    facts,
  });
  // The target that would answer: the first one not skipped (breaker open, health check failing).
  const target = (plan.find((planned) => !isSkipped(planned.target, deps.runtime)) ?? plan[0])?.target;
  if (target?.provider.supports('count_tokens') && !route.policy?.canonicalOnly) {
    const counted = await countAt(target, body, request, route.timeoutMs ?? deps.defaultTimeoutMs);
    if (counted) {
      reply.header('x-gateway-provider', target.provider.name);
      return counted;
    }
  }
  await loadTokenizer();
  const tools = canonical.tools === undefined ? 0 : estimateOutputTokens(JSON.stringify(canonical.tools));
  reply.header(USAGE_ESTIMATED_HEADER, 'true');
  return { input_tokens: estimateInputTokens(canonical) + tools };
}

/** Anthropic's exact count; undefined when its counter failed in a way a retry might not (the estimate stands in). */
async function countAt(target: ResolvedTarget, body: JsonObject, request: FastifyRequest, timeoutMs: number): Promise<JsonObject | undefined> {
  try {
    const reply = await target.provider.send({
      operation: 'count_tokens',
      model: target.model,
      body: { ...body, model: target.model },
      stream: false,
      requestId: request.clientRequestId ?? request.id,
      signal: AbortSignal.timeout(timeoutMs),
      clientHeaders: nativeHeadersOf(request.headers),
    });
    return reply.kind === 'json' ? reply.body : undefined;
  } catch (error) {
    // Anthropic's verdict on the request itself (400, 404…) is the client's answer; an outage is not.
    if (isGatewayError(error) && !error.retryable) throw error;
    return undefined;
  }
}
