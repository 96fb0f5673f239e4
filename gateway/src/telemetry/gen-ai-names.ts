/**
 * The GenAI semantic conventions' names for what the gateway does: gen_ai.operation.name per endpoint
 * and gen_ai.provider.name per provider type (the well-known values where one applies). Kept apart from
 * otel.ts so the recorder can use them without loading the SDK.
 */
/** Provider type → gen_ai.provider.name (the conventions' well-known values where one applies). */
const PROVIDER_NAME: Record<string, string> = {
  openai: 'openai',
  // Self-hosted servers speak OpenAI's API; server.address and the models tell them apart.
  'openai-compatible': 'openai',
  azure: 'azure.ai.openai',
  anthropic: 'anthropic',
  // Gemini's generativelanguage.googleapis.com endpoint.
  gemini: 'gcp.gemini',
};

/** The Responses API is chat in the conventions' terms (a conversation in, a model's turn out). */
const OPERATION_NAME: Record<string, string> = { chat: 'chat', completions: 'text_completion', embeddings: 'embeddings', responses: 'chat' };

export function genAiProviderName(providerType: string): string {
  return PROVIDER_NAME[providerType] ?? providerType;
}

export function genAiOperationName(operation: string): string {
  return OPERATION_NAME[operation] ?? operation;
}
