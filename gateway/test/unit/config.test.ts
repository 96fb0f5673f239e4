import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfigText, validateConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/problems.js';

function problemsOf(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems.map((p) => `${p.path.map(String).join('.')}: ${p.message}`);
  }
  throw new Error('expected a ConfigError');
}

describe('config loading', () => {
  it('interpolates ${VAR}, ${VAR:-default} and $${ escapes', () => {
    const config = parseConfigText(
      `
providers:
  vllm: { type: openai-compatible, baseUrl: "http://\${VLLM_HOST:-localhost}:8000/v1", apiKey: "\${VLLM_KEY}", headers: { x-literal: "$\${NOT_A_VAR}" } }
routes:
  chat: { targets: [{ provider: vllm, model: llama }] }
`,
      'test.yaml',
      { VLLM_KEY: 'secret-123' },
    );
    const vllm = config.providers.vllm;
    expect(vllm?.type).toBe('openai-compatible');
    if (vllm?.type !== 'openai-compatible') return;
    expect(vllm.apiKey).toBe('secret-123');
    expect(vllm.baseUrl).toBe('http://localhost:8000/v1');
    expect(vllm.headers['x-literal']).toBe('${NOT_A_VAR}');
    expect(vllm.timeoutMs).toBe(120_000);
  });

  it('reads JSON as well as YAML', () => {
    const config = parseConfigText('{"providers":{"m":{"type":"mock"}}}', 'c.json');
    expect(config.providers.m?.type).toBe('mock');
    expect(config.server).toMatchObject({ host: '127.0.0.1', port: 8787, bodyLimitBytes: 10 * 1024 * 1024 });
  });

  it('refuses a maxQueueBytes too small for one row (two bodies and a kilobyte)', () => {
    const base = { providers: { m: { type: 'mock' } } };
    expect(problemsOf(() => validateConfig({ ...base, telemetry: { maxQueueBytes: 1000 } }, {}, 'test.json'))).toEqual([expect.stringMatching(/^telemetry\.maxQueueBytes: /)]);
    expect(problemsOf(() => validateConfig({ ...base, telemetry: { maxBodyBytes: 65_536, maxQueueBytes: 2 * 65_536 + 1023 } }, {}, 'test.json'))).toEqual([expect.stringMatching(/^telemetry\.maxQueueBytes: /)]);
    expect(validateConfig({ ...base, telemetry: { maxBodyBytes: 65_536, maxQueueBytes: 2 * 65_536 + 1024 } }, {}, 'test.json').telemetry.maxQueueBytes).toBe(2 * 65_536 + 1024);
  });

  it('refuses a shutdown grace past an hour (a timer past 2^31 ms fires at once)', () => {
    const base = { providers: { m: { type: 'mock' } } };
    expect(problemsOf(() => validateConfig({ ...base, server: { shutdownGraceMs: 3_000_000_000 } }, {}, 'test.json'))).toEqual([expect.stringMatching(/^server\.shutdownGraceMs: /)]);
    expect(validateConfig({ ...base, server: { shutdownGraceMs: 3_600_000 } }, {}, 'test.json').server.shutdownGraceMs).toBe(3_600_000);
  });

  it('lists every problem with its path, not just the first', () => {
    const problems = problemsOf(() =>
      parseConfigText(
        `
server: { port: "eighty" }
providers:
  vllm: { type: openai-compatible }
  openai: { type: openai, apiKey: "\${MISSING_KEY}" }
  weird: { type: carrier-pigeon }
routes:
  chat: { targets: [{ provider: nowhere, model: x }] }
  empty: { targets: [] }
unknownTopLevel: 1
`,
        'bad.yaml',
        {},
      ),
    );
    const joined = problems.join('\n');
    expect(joined).toContain('providers.openai.apiKey: environment variable MISSING_KEY is not set');
    expect(joined).toMatch(/server\.port: /);
    expect(joined).toMatch(/providers\.vllm\.baseUrl: /);
    expect(joined).toMatch(/providers\.weird\.type: /);
    expect(joined).toContain("routes.chat.targets.0.provider: unknown provider 'nowhere'");
    expect(joined).toMatch(/routes\.empty\.targets: /);
    expect(joined).toMatch(/unknownTopLevel/);
    expect(problems.length).toBeGreaterThanOrEqual(7);
  });

  it('server.trustProxy: off by default; addresses, CIDR ranges and named ranges are checked at load', () => {
    const config = (trustProxy?: unknown) => validateConfig({ server: trustProxy === undefined ? {} : { trustProxy } }, {}, 'test');
    expect(config().server.trustProxy).toBe(false);
    for (const good of [true, ['10.0.0.1'], ['10.0.0.0/8', 'fd00::/8', '::1', 'loopback', 'uniquelocal'], ['192.168.0.0/255.255.0.0']]) {
      expect(config(good).server.trustProxy).toEqual(good);
    }
    for (const bad of [['proxy.internal'], ['10.0.0.0/33'], ['::/129'], ['10.0.0.1/8/8'], [], 'yes', 2]) {
      expect(problemsOf(() => config(bad)).some((problem) => problem.startsWith('server.trustProxy'))).toBe(true);
    }
  });

  it('reports a file that is not YAML/JSON', () => {
    expect(problemsOf(() => parseConfigText('providers: [unclosed', 'x.yaml'))[0]).toMatch(/not valid YAML/);
  });

  it('freezes the result', () => {
    const config = validateConfig({ providers: { m: { type: 'mock' } } }, {}, 'test');
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.providers.m)).toBe(true);
    expect(() => {
      (config.server as { port: number }).port = 1;
    }).toThrow(TypeError);
  });

  it('HOST and PORT override the file', () => {
    const config = validateConfig({ providers: {}, server: { port: 1000 }, auth: { mode: 'none' } }, { HOST: '0.0.0.0', PORT: '9999' }, 'test');
    expect(config.server).toMatchObject({ host: '0.0.0.0', port: 9999 });
    expect(problemsOf(() => validateConfig({ providers: {} }, { PORT: 'abc' }, 'test'))[0]).toMatch(/^env\.PORT/);
  });

  it('refuses to listen open on a public address unless auth.mode is none', () => {
    const problems = problemsOf(() => validateConfig({ providers: {}, server: { host: '0.0.0.0' } }, {}, 'test'));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^auth: /);
    expect(() => validateConfig({ providers: {}, server: { host: '0.0.0.0' }, auth: { keys: [{ id: 'a', key: 'k'.repeat(20) }] } }, {}, 'test')).not.toThrow();
    expect(() => validateConfig({ providers: {}, server: { host: '127.0.0.2' } }, {}, 'test')).not.toThrow();
  });

  it('keeps only hashes of gateway keys and the admin key; the session secret never serialises', () => {
    const sessionSecret = 'session-secret-0123456789abcdef0123456789';
    const config = validateConfig({ providers: {}, auth: { adminKey: 'admin-secret-1234567890', sessionSecret, keys: [{ id: 'a', key: 'plain-secret-1234567890' }] } }, {}, 'test');
    const text = JSON.stringify(config);
    expect(text).not.toContain('plain-secret-1234567890');
    expect(text).not.toContain('admin-secret-1234567890');
    expect(text).not.toContain(sessionSecret);
    expect(inspect(config, { depth: 10 })).not.toContain(sessionSecret);
    expect(config.auth.sessionSecret?.reveal()).toBe(sessionSecret);
    expect(problemsOf(() => validateConfig({ providers: {}, auth: { sessionSecret: 'too-short' } }, {}, 'test'))[0]).toMatch(/^auth\.sessionSecret: /);
    expect(config.auth.keys[0]?.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(config.auth.adminKeyHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('default config: mock always, openai only when its key is set', () => {
    const bare = loadConfig({});
    expect(Object.keys(bare.providers)).toEqual(['mock']);
    expect((bare.routes['chat-default'] as { targets: unknown[] }).targets[0]).toEqual({ provider: 'mock', model: 'mock-1' });
    expect(bare.server).toMatchObject({ host: '127.0.0.1', port: 8787 });
    const withKey = loadConfig({ OPENAI_API_KEY: 'sk-test' });
    const openai = withKey.providers.openai;
    expect(openai?.type === 'openai' && openai.apiKey).toBe('sk-test');
  });

  it('a missing config file is a ConfigError', () => {
    expect(problemsOf(() => loadConfig({ GATEWAY_CONFIG: '/nonexistent/gateway.yaml' }))[0]).toMatch(/cannot read file/);
  });

  it('a field whose whole value is an unset variable is left out: optional ones take their default, with a notice', () => {
    const text = `
server: { host: "\${LISTEN_HOST}" }
providers:
  vllm: { type: openai-compatible, baseUrl: "http://10.0.0.5:8000/v1", apiKey: "\${VLLM_KEY}" }
  quiet: { type: openai-compatible, baseUrl: "http://10.0.0.6:8000/v1", apiKey: "\${QUIET_KEY:-}" }
  literal: { type: openai-compatible, baseUrl: "http://10.0.0.7:8000/v1", apiKey: "" }
`;
    const notices: { path: readonly PropertyKey[]; message: string }[] = [];
    const config = parseConfigText(text, 'optional.yaml', { VLLM_KEY: '' }, notices);
    for (const name of ['vllm', 'quiet', 'literal']) {
      const provider = config.providers[name];
      expect(provider?.type === 'openai-compatible' && provider.apiKey).toBeUndefined();
    }
    expect(config.server.host).toBe('127.0.0.1');
    // `${VAR:-}` says empty is fine; a bare `${VAR}` may be a typo, so it is worth a warning.
    expect(notices.map((n) => n.path.join('.')).sort()).toEqual(['providers.vllm.apiKey', 'server.host']);
    const set = parseConfigText(text, 'optional.yaml', { VLLM_KEY: 'k-1', QUIET_KEY: 'k-2' });
    expect(set.providers.vllm?.type === 'openai-compatible' && set.providers.vllm.apiKey).toBe('k-1');
    expect(set.providers.quiet?.type === 'openai-compatible' && set.providers.quiet.apiKey).toBe('k-2');
  });

  it('a required field whose variable is unset names the variable; a partial string or array item cannot be left out', () => {
    const problems = problemsOf(() =>
      parseConfigText(
        `
providers:
  openai: { type: openai, apiKey: "\${OPENAI_KEY:-}" }
  vllm: { type: openai-compatible, baseUrl: "http://\${VLLM_HOST}:8000/v1", models: ["\${EXTRA_MODEL}"] }
auth:
  keys: [{ id: app, key: "\${APP_KEY}" }]
`,
        'required.yaml',
        {},
      ),
    );
    expect(problems).toContain('providers.openai.apiKey: environment variable OPENAI_KEY is not set');
    expect(problems).toContain('providers.vllm.baseUrl: environment variable VLLM_HOST is not set');
    expect(problems).toContain('providers.vllm.models.0: environment variable EXTRA_MODEL is not set');
    expect(problems.find((p) => p.startsWith('auth.keys.0'))).toMatch(/environment variable APP_KEY is not set/);
  });

  it('a file without providers gets the default ones (and the default route when it has no routes either)', () => {
    const routesOnly = parseConfigText('routes:\n  assistant: { targets: [{ provider: mock, model: mock-1 }] }\n', 'r.yaml', {});
    expect(Object.keys(routesOnly.providers)).toEqual(['mock']);
    expect(Object.keys(routesOnly.routes)).toEqual(['assistant']);
    const serverOnly = parseConfigText('server: { port: 9000 }\n', 's.yaml', { OPENAI_API_KEY: 'sk-test', ANTHROPIC_API_KEY: 'ak' });
    expect(Object.keys(serverOnly.providers)).toEqual(['mock', 'openai', 'anthropic']);
    expect(Object.keys(serverOnly.routes)).toEqual(['chat-default']);
    const empty = parseConfigText('', 'empty.yaml', {});
    expect(Object.keys(empty.providers)).toEqual(['mock']);
    // Declared providers are never mixed with the defaults.
    const declared = parseConfigText('providers: { sim: { type: mock } }\n', 'd.yaml', { OPENAI_API_KEY: 'sk-test' });
    expect(Object.keys(declared.providers)).toEqual(['sim']);
    expect(declared.routes).toEqual({});
  });

  it('default config: hosted providers from their usual variables, gateway and admin keys from GATEWAY_KEY / GATEWAY_ADMIN_KEY', () => {
    const config = loadConfig({
      OPENAI_API_KEY: 'sk-test',
      OPENAI_BASE_URL: 'http://proxy.internal/v1',
      ANTHROPIC_API_KEY: 'ak',
      GEMINI_API_KEY: 'gk',
      AZURE_OPENAI_API_KEY: 'azk',
      AZURE_OPENAI_ENDPOINT: 'https://r.openai.azure.com',
    });
    expect(Object.keys(config.providers)).toEqual(['mock', 'openai', 'anthropic', 'gemini', 'azure']);
    expect(config.providers.openai?.type === 'openai' && config.providers.openai.baseUrl).toBe('http://proxy.internal/v1');
    expect(config.providers.azure?.type === 'azure' && config.providers.azure.baseUrl).toBe('https://r.openai.azure.com');
    // Azure needs its endpoint as well as its key.
    expect(Object.keys(loadConfig({ AZURE_OPENAI_API_KEY: 'azk' }).providers)).toEqual(['mock']);

    expect(problemsOf(() => loadConfig({ HOST: '0.0.0.0' }))[0]).toMatch(/^auth: /);
    const keyed = loadConfig({ HOST: '0.0.0.0', GATEWAY_KEY: 'k'.repeat(32), GATEWAY_ADMIN_KEY: 'a'.repeat(32) });
    expect(keyed.auth.keys.map((k) => k.id)).toEqual(['default']);
    expect(keyed.auth.adminKeyHash).toMatch(/^[0-9a-f]{64}$/);
    // Gateway keys and the admin key are at least 16 characters.
    expect(problemsOf(() => loadConfig({ GATEWAY_KEY: 'short', GATEWAY_ADMIN_KEY: 'short' })).map((p) => p.split(':')[0]).sort()).toEqual([
      'auth.adminKey',
      'auth.keys.0.key',
    ]);
  });

  it('places each piece of state: memory without a Redis URL, Redis with one, and exactly as told per piece', () => {
    const base = { providers: { m: { type: 'mock' } } };
    expect(validateConfig(base, {}, 'test').state).toEqual({ cache: 'memory', limits: 'memory', keys: 'memory', canary: 'memory', responses: 'memory' });
    const shared = validateConfig(base, { REDIS_URL: 'redis://redis:6379' }, 'test');
    expect(shared.redis.url).toBe('redis://redis:6379');
    expect(shared.state).toEqual({ cache: 'redis', limits: 'redis', keys: 'redis', canary: 'redis', responses: 'redis' });
    const mixed = validateConfig({ ...base, redis: { url: 'redis://a:6379' }, state: { cache: 'memory' } }, { REDIS_URL: 'redis://b:6379' }, 'test');
    expect(mixed.redis.url).toBe('redis://a:6379');
    expect(mixed.state).toEqual({ cache: 'memory', limits: 'redis', keys: 'redis', canary: 'redis', responses: 'redis' });
    expect(problemsOf(() => validateConfig({ ...base, state: { limits: 'redis', canary: 'redis' } }, {}, 'test'))).toEqual([
      'state.limits: redis, but no redis.url or REDIS_URL is set',
      'state.canary: redis, but no redis.url or REDIS_URL is set',
    ]);
    expect(problemsOf(() => validateConfig({ ...base, redis: { url: 'http://x' } }, {}, 'test'))[0]).toMatch(/^redis\.url: /);
  });

  it('settings that moved say where to', () => {
    const problems = problemsOf(() =>
      validateConfig(
        { providers: { m: { type: 'mock' } }, cache: { store: 'memory', redis: { url: 'redis://x:6379' } }, auth: { limitStore: 'redis' } },
        {},
        'test',
      ),
    );
    expect(problems.sort()).toEqual([
      'auth.limitStore: moved: set state.limits instead (see "Where state lives" in the README)',
      'cache.redis.url: moved: set redis.url instead (see "Where state lives" in the README)',
      'cache.store: moved: set state.cache instead (see "Where state lives" in the README)',
    ]);
  });
});
