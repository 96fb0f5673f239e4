/**
 * Maps the `model` a client sends to what the gateway will call: a route declared in config, or
 * `<provider>/<model>` addressing one provider directly. Routes are resolved once, at start.
 */
import type { GatewayConfig } from '../config/schema.js';
import type { ProviderRegistry } from '../providers/registry.js';
import type { Provider } from '../providers/types.js';

export interface ResolvedTarget {
  readonly provider: Provider;
  readonly model: string;
}

export interface ResolvedRoute {
  /** The route name, or `<provider>/<model>` for direct addressing. */
  readonly name: string;
  readonly targets: readonly ResolvedTarget[];
}

export class ModelResolver {
  private readonly routes = new Map<string, ResolvedRoute>();

  constructor(config: GatewayConfig, private readonly providers: ProviderRegistry) {
    for (const [name, route] of Object.entries(config.routes)) {
      const targets = route.targets.map((target) => {
        const provider = providers.get(target.provider);
        if (!provider) throw new Error(`route '${name}' names unknown provider '${target.provider}'`);
        return { provider, model: target.model };
      });
      this.routes.set(name, Object.freeze({ name, targets: Object.freeze(targets) }));
    }
  }

  resolve(model: string): ResolvedRoute | undefined {
    const route = this.routes.get(model);
    if (route) return route;
    const slash = model.indexOf('/');
    if (slash <= 0 || slash === model.length - 1) return undefined;
    const provider = this.providers.get(model.slice(0, slash));
    if (!provider) return undefined;
    return { name: model, targets: [{ provider, model: model.slice(slash + 1) }] };
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
