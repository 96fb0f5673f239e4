/**
 * The configuration used when no file is given: the built-in mock provider (so `npm start` works with
 * no keys and no network), plus hosted providers whose usual API key variables are set:
 * OPENAI_API_KEY (OPENAI_BASE_URL optional), ANTHROPIC_API_KEY, GEMINI_API_KEY, AZURE_OPENAI_API_KEY with
 * AZURE_OPENAI_ENDPOINT. GATEWAY_KEY and GATEWAY_ADMIN_KEY add one gateway key and the admin key, which
 * is what a container listening on 0.0.0.0 needs to start without a file.
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
  const auth: Record<string, unknown> = {};
  if (env.GATEWAY_KEY) auth.keys = [{ id: 'default', key: '${GATEWAY_KEY}' }];
  if (env.GATEWAY_ADMIN_KEY) auth.adminKey = '${GATEWAY_ADMIN_KEY}';
  return {
    providers,
    auth,
    routes: {
      'chat-default': { targets: [{ provider: 'mock', model: 'mock-1' }] },
    },
  };
}
