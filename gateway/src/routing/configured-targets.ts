/**
 * Every `<provider>/<model>` pair the configuration names: route targets (canary sides and conditional
 * branches included), shadow
 * targets and the models providers list. What a client may address beyond these (a key allowed
 * `openai/*` can name any model) is unbounded, so whatever is kept per target — metric labels, circuit
 * breakers — is kept by name only for these.
 */
import type { GatewayConfig, RouteNodeConfig } from '../config/schema.js';

export interface TargetPair {
  provider: string;
  model: string;
}

export function configuredTargets(config: GatewayConfig): TargetPair[] {
  const pairs: TargetPair[] = [];
  const visit = (node: RouteNodeConfig): void => {
    if ('provider' in node) pairs.push({ provider: node.provider, model: node.model });
    else if ('targets' in node) node.targets.forEach(visit);
    else if (node.strategy === 'conditional') {
      node.branches.forEach((branch) => visit(branch.target));
      visit(node.default);
    } else {
      visit(node.baseline);
      visit(node.canary);
    }
  };
  for (const route of Object.values(config.routes)) {
    visit(route as RouteNodeConfig);
    if (route.shadow) pairs.push(route.shadow.target);
  }
  for (const [provider, settings] of Object.entries(config.providers)) {
    for (const model of settings.models) pairs.push({ provider, model });
  }
  return pairs;
}

/** A pair as breakers, in-flight counts and metrics name it. */
export function targetKey(pair: TargetPair): string {
  return `${pair.provider}/${pair.model}`;
}
