/** The mutable routing state one app owns: breakers, in-flight counts, health checks, the random source. */
import type { GatewayConfig } from '../config/schema.js';
import type { RoutingRuntime } from '../proxy/dispatch.js';
import { BreakerRegistry, type BreakerState } from './circuit-breaker.js';
import { configuredTargets, targetKey } from './configured-targets.js';
import { InFlightTracker } from './in-flight.js';
import { ProviderHealth } from './provider-health.js';

export function createRoutingRuntime(
  config: GatewayConfig,
  options: { random?: (() => number) | undefined; now?: (() => number) | undefined; onBreakerChange: (target: string, state: BreakerState) => void },
): RoutingRuntime {
  return {
    random: options.random ?? Math.random,
    breakers: new BreakerRegistry(config.routing.breaker, options.now ?? Date.now, options.onBreakerChange, configuredTargets(config).map(targetKey)),
    inFlight: new InFlightTracker(),
    health: new ProviderHealth(config),
    retryDefaults: config.routing.retry,
  };
}
