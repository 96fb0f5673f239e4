/**
 * Maps the `model` a client sends to what the gateway will call: a route declared in config, or
 * `<provider>/<model>` addressing one provider directly. Routes are compiled once, at start.
 */
import { cachePolicy, type CachePolicy } from '../cache/cache-config.js';
import type { GatewayConfig } from '../config/schema.js';
import type { GuardrailSet, RoutePolicy } from '../policy/compile-guardrails.js';
import type { ProviderRegistry } from '../providers/registry.js';
import type { Provider } from '../providers/types.js';
import { compileNode, hasConditions, stickyHeadersOf, targetOf, type CanarySplit, type CompiledRoute } from './route-tree.js';

export class ModelResolver {
  private readonly routes = new Map<string, CompiledRoute>();
  /** Every canary split by id (the route name for a route whose root is a canary). */
  readonly canarySplits = new Map<string, CanarySplit>();
  /** Cache policy for `<provider>/<model>` requests: the global default. */
  private readonly directCache: CachePolicy;
  /** Guardrails for `<provider>/<model>` requests: the global ones. */
  private readonly directPolicy: RoutePolicy | undefined;

  constructor(config: GatewayConfig, private readonly providers: ProviderRegistry, guardrails?: GuardrailSet) {
    const lookup = (name: string): Provider => {
      const provider = providers.get(name);
      if (!provider) throw new Error(`unknown provider '${name}'`);
      return provider;
    };
    this.directCache = cachePolicy(config.cache, undefined);
    this.directPolicy = guardrails?.policyFor(config.routing.guardrails, undefined);
    for (const [name, route] of Object.entries(config.routes)) {
      const root = compileNode(route, lookup, this.canarySplits, name);
      this.routes.set(name, Object.freeze({
        name,
        root,
        timeoutMs: route.timeoutMs,
        retry: route.retry,
        cache: cachePolicy(config.cache, route.cache),
        shadow: route.shadow && {
          target: targetOf(lookup(route.shadow.target.provider), route.shadow.target.model),
          fraction: route.shadow.fraction,
          maxConcurrent: route.shadow.maxConcurrent,
          timeoutMs: route.shadow.timeoutMs,
        },
        stickyHeaders: stickyHeadersOf(root),
        hostedTools: route.hostedTools,
        conditional: hasConditions(root),
        policy: guardrails?.policyFor(config.routing.guardrails, route.guardrails),
      }));
    }
  }

  resolve(model: string): CompiledRoute | undefined {
    const route = this.routes.get(model);
    if (route) return route;
    const slash = model.indexOf('/');
    if (slash <= 0 || slash === model.length - 1) return undefined;
    const provider = this.providers.get(model.slice(0, slash));
    if (!provider) return undefined;
    return {
      name: model,
      root: { kind: 'target', target: targetOf(provider, model.slice(slash + 1)) },
      timeoutMs: undefined,
      retry: undefined,
      cache: this.directCache,
      shadow: undefined,
      stickyHeaders: [],
      hostedTools: 'drop',
      policy: this.directPolicy,
    };
  }

  /** Everything GET /v1/models advertises: route names, then each provider's listed models. */
  listModels(): { id: string; ownedBy: string }[] {
    const models = [...this.routes.keys()].map((id) => ({ id, ownedBy: 'gateway' }));
    for (const provider of this.providers.values()) {
      for (const model of provider.models) models.push({ id: `${provider.name}/${model}`, ownedBy: provider.name });
    }
    return models;
  }
}
