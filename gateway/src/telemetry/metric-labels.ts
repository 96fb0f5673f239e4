/**
 * The label values metrics may carry, decided once from the configuration: route names (and canary split
 * ids), `<provider>/<model>` for every configured pair, provider names and model names — the models of
 * route targets, shadow targets and providers' `models` lists. A request for anything else is counted
 * under `other`, so a client cannot add time series by inventing model names.
 */
import type { GatewayConfig } from '../config/schema.js';
import { configuredTargets, targetKey } from '../routing/configured-targets.js';
import { LabelGuard } from './label-guard.js';

export interface MetricLabels {
  routes: LabelGuard;
  providers: LabelGuard;
  models: LabelGuard;
  /** `<provider>/<model>`, as circuit breakers name their targets. */
  targets: LabelGuard;
  /** Replicas of pools: listed ones by `host:port`, discovered ones by slot (`#0` … up to maxReplicas). */
  replicas: LabelGuard;
}

export function metricLabels(config: GatewayConfig, canaryIds: Iterable<string> = []): MetricLabels {
  const pairs = configuredTargets(config);
  const targets = pairs.map(targetKey);
  return {
    // A direct request's route is its `<provider>/<model>`.
    routes: new LabelGuard([...Object.keys(config.routes), ...canaryIds, ...targets]),
    providers: new LabelGuard(Object.keys(config.providers)),
    models: new LabelGuard(pairs.map((pair) => pair.model)),
    targets: new LabelGuard(targets),
    replicas: new LabelGuard(replicaLabels(config)),
  };
}

function replicaLabels(config: GatewayConfig): string[] {
  const labels: string[] = [];
  for (const settings of Object.values(config.providers)) {
    if (settings.type !== 'openai-compatible') continue;
    for (const url of settings.replicas ?? []) labels.push(new URL(url).host);
    for (let slot = 0; settings.discovery && slot < settings.discovery.maxReplicas; slot++) labels.push(`#${slot}`);
  }
  return labels;
}
