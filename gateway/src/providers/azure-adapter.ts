/**
 * Adapter for Azure OpenAI: deployment URLs ({endpoint}/openai/deployments/{deployment}/…?api-version=…)
 * and the `api-key` header. Bodies and errors are OpenAI's, so the OpenAI adapter does the rest, except
 * that chat answers are made whole where Azure's content filter leaves OpenAI's format
 * (azure-content-filter.ts). The model a route names is looked up in `deployments` (falling back to the
 * model name itself). The Responses API is Azure's v1 endpoint, `{endpoint}/openai/v1/responses`, where
 * the body's `model` names the deployment (no api-version).
 */
import { completeAzureResponse, createAzureStreamDecoder } from './azure-content-filter.js';
import { createOpenAIAdapter } from './openai-adapter.js';
import type { ProviderAdapter } from './types.js';

export interface AzureAdapterOptions {
  providerName: string;
  apiKey: string;
  apiVersion: string;
  deployments: Readonly<Record<string, string>>;
  extraHeaders?: Readonly<Record<string, string>>;
  /** Whether `/v1/responses` requests go to Azure's own Responses endpoint (otherwise: translated to chat). */
  responses?: boolean | undefined;
}

export function createAzureAdapter(options: AzureAdapterOptions): ProviderAdapter {
  const openai = createOpenAIAdapter({
    providerName: options.providerName,
    extraHeaders: { 'api-key': options.apiKey, ...options.extraHeaders },
    responses: options.responses,
  });
  const query = `api-version=${encodeURIComponent(options.apiVersion)}`;
  return {
    ...openai,
    buildRequest(call) {
      const deploymentName = options.deployments[call.model] ?? call.model;
      if (call.operation === 'responses') {
        const spec = openai.buildRequest({ ...call, body: { ...call.body, model: deploymentName } });
        return { ...spec, path: `/openai/v1${spec.path}` };
      }
      const spec = openai.buildRequest(call);
      return { ...spec, path: `/openai/deployments/${encodeURIComponent(deploymentName)}${spec.path}`, query };
    },
    parseResponse(operation, body, model) {
      const parsed = openai.parseResponse(operation, body, model);
      return operation === 'chat' ? completeAzureResponse(parsed) : parsed;
    },
    createStreamDecoder(call) {
      const decoder = openai.createStreamDecoder(call);
      return call.operation === 'chat' ? createAzureStreamDecoder(decoder, call.model) : decoder;
    },
  };
}
