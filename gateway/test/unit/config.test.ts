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

  it('lists every problem with its path, not just the first', () => {
    const problems = problemsOf(() =>
      parseConfigText(
        `
server: { port: "eighty" }
providers:
  vllm: { type: openai-compatible, apiKey: "\${MISSING_KEY}" }
  openai: { type: openai }
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
    expect(joined).toContain('providers.vllm.apiKey: environment variable MISSING_KEY is not set');
    expect(joined).toMatch(/server\.port: /);
    expect(joined).toMatch(/providers\.vllm\.baseUrl: /);
    expect(joined).toMatch(/providers\.openai\.apiKey: /);
    expect(joined).toMatch(/providers\.weird\.type: /);
    expect(joined).toContain("routes.chat.targets.0.provider: unknown provider 'nowhere'");
    expect(joined).toMatch(/routes\.empty\.targets: /);
    expect(joined).toMatch(/unknownTopLevel/);
    expect(problems.length).toBeGreaterThanOrEqual(8);
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
});
