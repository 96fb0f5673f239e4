/**
 * The configuration used when no file is given: the built-in mock provider (so `npm start` works with
 * no keys and no network), plus hosted providers whose usual API key variables are set.
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
  return {
    providers,
    routes: {
      'chat-default': { targets: [{ provider: 'mock', model: 'mock-1' }] },
    },
  };
}
