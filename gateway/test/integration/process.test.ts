/**
 * The compiled gateway as a process: start on the default config, refuse an invalid config with every
 * problem listed (exit status 2), leave out optional fields whose variable is unset, and drain gracefully
 * on SIGTERM.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DuckDbSink } from '../../src/telemetry/duckdb-sink.js';
import { runGatewayToExit, startGatewayProcess } from '../helpers/gateway-process.js';
import { startMockUpstream } from '../helpers/mock-upstream.js';

const dir = mkdtempSync(join(tmpdir(), 'gateway-config-'));

function writeConfig(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('gateway process', () => {
  it('exits non-zero on an invalid config file, listing every problem with its path', async () => {
    const path = writeConfig('bad.yaml', `
providers:
  vllm: { type: openai-compatible }
  openai: { type: openai, apiKey: "\${NO_SUCH_OPENAI_KEY}" }
  sim: { type: mock, latencyMs: -5 }
routes:
  chat: { targets: [{ provider: ghost, model: x }] }
`);
    const { code, output } = await runGatewayToExit({ GATEWAY_CONFIG: path });
    expect(code).toBe(2);
    expect(output).toContain('providers.openai.apiKey: environment variable NO_SUCH_OPENAI_KEY is not set');
    expect(output).toContain('providers.vllm.baseUrl');
    expect(output).toContain('providers.sim.latencyMs');
    expect(output).toContain('routes.chat.targets.0.provider');
    expect(output).not.toContain('listening');
  });

  it('an optional secret whose variable is unset means none: it starts, warns, and sends no key', async () => {
    const upstream = await startMockUpstream();
    try {
      for (const [apiKey, warns] of [['${VLLM_KEY}', true], ['${VLLM_KEY:-}', false]] as const) {
        const path = writeConfig('optional-key.yaml', `
providers:
  vllm: { type: openai-compatible, baseUrl: "${upstream.url}", apiKey: "${apiKey}" }
routes:
  chat: { targets: [{ provider: vllm, model: llama }] }
`);
        const gateway = await startGatewayProcess({ GATEWAY_CONFIG: path });
        try {
          const response = await fetch(`${gateway.origin}/v1/chat/completions`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }),
          });
          expect(response.status).toBe(200);
          expect(upstream.requests.at(-1)?.headers.authorization).toBeUndefined();
          expect(gateway.output().includes('environment variable VLLM_KEY is not set')).toBe(warns);
        } finally {
          gateway.child.kill('SIGTERM');
          await gateway.exited;
        }
      }
    } finally {
      await upstream.close();
    }
  });

  it('a file without providers runs its routes on the default providers', async () => {
    const path = writeConfig('routes-only.yaml', `
routes:
  assistant: { targets: [{ provider: mock, model: mock-1 }] }
`);
    const gateway = await startGatewayProcess({ GATEWAY_CONFIG: path });
    try {
      const response = await fetch(`${gateway.origin}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'assistant', messages: [{ role: 'user', content: 'Hello!' }] }),
      });
      expect(response.status).toBe(200);
      expect(response.headers.get('x-gateway-provider')).toBe('mock');
    } finally {
      gateway.child.kill('SIGTERM');
      await gateway.exited;
    }
  });

  it('starts on the default config and serves the mock model', async () => {
    const gateway = await startGatewayProcess({});
    try {
      expect(gateway.output().match(/listening on/g)).toHaveLength(1);
      const response = await fetch(`${gateway.origin}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'chat-default', messages: [{ role: 'user', content: 'Hello!' }] }),
      });
      expect(response.status).toBe(200);
      const body = (await response.json()) as { choices: { message: { content: string } }[] };
      expect(body.choices[0]?.message.content).toContain('You said: Hello!');
      expect((await fetch(`${gateway.origin}/healthz`)).status).toBe(200);
      expect((await fetch(`${gateway.origin}/readyz`)).status).toBe(200);
    } finally {
      gateway.child.kill('SIGTERM');
      expect(await gateway.exited).toBe(0);
    }
  });

  it('on SIGTERM finishes in-flight requests, refuses new ones, and exits 0', async () => {
    const path = writeConfig('slow.yaml', `
providers:
  slow: { type: mock, latencyMs: 700 }
routes:
  chat: { targets: [{ provider: slow, model: m }] }
`);
    const gateway = await startGatewayProcess({ GATEWAY_CONFIG: path });
    const inFlight = fetch(`${gateway.origin}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', connection: 'close' },
      body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'wait for me' }] }),
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    gateway.child.kill('SIGTERM');
    const response = await inFlight;
    expect(response.status).toBe(200);
    expect(((await response.json()) as { model: string }).model).toBe('chat');
    expect(await gateway.exited).toBe(0);
    await expect(fetch(`${gateway.origin}/healthz`)).rejects.toThrow();
    // The trace of the drained request was flushed to the embedded store before exit.
    const sink = new DuckDbSink(join(gateway.cwd, 'data', 'traces.duckdb'));
    await sink.init();
    expect((await sink.getTrace(response.headers.get('x-request-id')!))?.status).toBe(200);
    await sink.close();
  });

  it('a stuck request does not hold shutdown past the grace period', async () => {
    const path = writeConfig('stuck.yaml', `
server: { shutdownGraceMs: 300 }
providers:
  stuck: { type: mock, latencyMs: 60000 }
`);
    const gateway = await startGatewayProcess({ GATEWAY_CONFIG: path });
    const inFlight = fetch(`${gateway.origin}/v1/chat/completions`, {
      method: 'POST',
      body: JSON.stringify({ model: 'stuck/m', messages: [{ role: 'user', content: 'x' }] }),
    }).catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const started = Date.now();
    gateway.child.kill('SIGTERM');
    expect(await gateway.exited).toBe(0);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(await inFlight).toBeInstanceOf(Error);
  });
});
