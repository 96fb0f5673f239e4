/**
 * The configuration used when no file is given: the built-in mock provider (so `npm start` works with
 * no keys and no network), plus hosted providers whose usual API key variables are set:
 * OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY, AZURE_OPENAI_API_KEY with AZURE_OPENAI_ENDPOINT.
 */
export function defaultConfigDocument(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const providers: Record<string, unknown> = { mock: { type: 'mock' } };
  if (env.OPENAI_API_KEY) {
    providers.openai = {
      type: 'openai',
      apiKey: '${OPENAI_API_KEY}',
      ...(env.OPENAI_BASE_URL ? { baseUrl: '${OPENAI_BASE_URL}' } : {}),
      models: ['gpt-4o', 'gpt-4o-mini'],
    };
  }
  if (env.ANTHROPIC_API_KEY) {
    providers.anthropic = { type: 'anthropic', apiKey: '${ANTHROPIC_API_KEY}', models: ['claude-sonnet-4-5', 'claude-haiku-4-5'] };
  }
  if (env.GEMINI_API_KEY) {
    providers.gemini = { type: 'gemini', apiKey: '${GEMINI_API_KEY}', models: ['gemini-2.5-flash', 'gemini-2.5-pro'] };
  }
  if (env.AZURE_OPENAI_API_KEY && env.AZURE_OPENAI_ENDPOINT) {
    providers.azure = { type: 'azure', apiKey: '${AZURE_OPENAI_API_KEY}', baseUrl: '${AZURE_OPENAI_ENDPOINT}' };
  }
  return {
    providers,
    routes: {
      'chat-default': { targets: [{ provider: 'mock', model: 'mock-1' }] },
    },
  };
}
