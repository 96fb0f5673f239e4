/** Builds every configured provider once, at start. */
import type { GatewayConfig, ProviderConfig } from '../config/schema.js';
import { createHttpProvider } from './http-provider.js';
import { createMockProvider } from './mock-provider.js';
import { createAnthropicAdapter } from './anthropic-adapter.js';
import { createAzureAdapter } from './azure-adapter.js';
import { createGeminiAdapter } from './gemini-adapter.js';
import { createOpenAIAdapter } from './openai-adapter.js';
import type { Provider } from './types.js';

export type ProviderRegistry = ReadonlyMap<string, Provider>;

export function createProvider(name: string, config: ProviderConfig): Provider {
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
    case 'openai-compatible':
      return createHttpProvider(name, config, createOpenAIAdapter({
        providerName: name,
        apiKey: config.apiKey,
        extraHeaders: config.headers,
        responses: config.responses === 'native',
      }));
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

export function createProviderRegistry(config: GatewayConfig): ProviderRegistry {
  const providers = new Map<string, Provider>();
  for (const [name, providerConfig] of Object.entries(config.providers)) {
    providers.set(name, createProvider(name, providerConfig));
  }
  return providers;
}

export async function closeProviders(providers: ProviderRegistry): Promise<void> {
  await Promise.allSettled([...providers.values()].map((provider) => provider.close()));
}
