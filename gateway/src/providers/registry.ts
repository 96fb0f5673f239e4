/** Builds every configured provider once, at start. */
import type { GatewayConfig, ProviderConfig } from '../config/schema.js';
import { createHttpProvider } from './http-provider.js';
import { createMockProvider } from './mock-provider.js';
import { createAnthropicAdapter } from './anthropic-adapter.js';
import { createAzureAdapter } from './azure-adapter.js';
import { createGeminiAdapter } from './gemini-adapter.js';
import { createOpenAIAdapter } from './openai-adapter.js';
import { isPool } from '../routing/provider-health.js';
import { createReplicaPool, type PoolDeps, type ReplicaPoolProvider } from './replica-pool-provider.js';
import type { Provider } from './types.js';

export type ProviderRegistry = ReadonlyMap<string, Provider>;

/** What replica pools need besides their own config (the rest of the providers need nothing). */
export type RegistryOptions = Omit<PoolDeps, 'breaker' | 'priorityClasses'>;

export function createProvider(name: string, config: ProviderConfig, pool?: PoolDeps): Provider {
  switch (config.type) {
    case 'mock':
      return createMockProvider(name, config);
    case 'openai':
      return createHttpProvider(name, config, createOpenAIAdapter({
        providerName: name,
        apiKey: config.apiKey,
        organization: config.organization,
        project: config.project,
        extraHeaders: config.headers,
        responses: true,
      }));
    case 'openai-compatible': {
      const adapter = createOpenAIAdapter({ providerName: name, apiKey: config.apiKey, extraHeaders: config.headers, responses: config.responses === 'native' });
      if (isPool(config)) {
        if (!pool) throw new Error(`provider '${name}' is a replica pool: build it through the registry`);
        return createReplicaPool(name, config, adapter, pool);
      }
      return createHttpProvider(name, config, adapter);
    }
    case 'anthropic':
      return createHttpProvider(name, config, createAnthropicAdapter({
        providerName: name,
        apiKey: config.apiKey,
        defaultMaxTokens: config.defaultMaxTokens,
        extraHeaders: config.headers,
      }));
    case 'azure':
      return createHttpProvider(name, config, createAzureAdapter({
        providerName: name,
        apiKey: config.apiKey,
        apiVersion: config.apiVersion,
        deployments: config.deployments,
        extraHeaders: config.headers,
        responses: config.responses === 'native',
      }));
    case 'gemini':
      return createHttpProvider(name, config, createGeminiAdapter({
        providerName: name,
        apiKey: config.apiKey,
        apiVersion: config.apiVersion,
        extraHeaders: config.headers,
      }));
  }
}

export function createProviderRegistry(config: GatewayConfig, options: RegistryOptions = {}): ProviderRegistry {
  const pool: PoolDeps = { ...options, breaker: config.routing.breaker, priorityClasses: config.routing.priority.classes.length };
  const providers = new Map<string, Provider>();
  for (const [name, providerConfig] of Object.entries(config.providers)) {
    providers.set(name, createProvider(name, providerConfig, pool));
  }
  return providers;
}

/** The replica pools among the providers (for metrics and the fleet view). */
export function replicaPools(providers: ProviderRegistry): ReplicaPoolProvider[] {
  return [...providers.values()].filter((provider): provider is ReplicaPoolProvider => 'snapshot' in provider);
}

export async function startProviders(providers: ProviderRegistry): Promise<void> {
  await Promise.all([...providers.values()].map((provider) => provider.start?.()));
}

export async function closeProviders(providers: ProviderRegistry): Promise<void> {
  await Promise.allSettled([...providers.values()].map((provider) => provider.close()));
}
