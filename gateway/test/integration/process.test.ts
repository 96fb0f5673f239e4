/**
 * The compiled gateway as a process: start on the default config, refuse an invalid config with every
 * problem listed, and drain gracefully on SIGTERM.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DuckDbSink } from '../../src/telemetry/duckdb-sink.js';
import { waitFor } from '../helpers/gateway.js';
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
  vllm: { type: openai-compatible, apiKey: "\${VLLM_KEY}" }
  sim: { type: mock, latencyMs: -5 }
routes:
  chat: { targets: [{ provider: ghost, model: x }] }
`);
    const { code, output } = await runGatewayToExit({ GATEWAY_CONFIG: path });
    expect(code).not.toBe(0);
    expect(output).toContain('providers.vllm.apiKey');
    expect(output).toContain('providers.vllm.baseUrl');
    expect(output).toContain('providers.sim.latencyMs');
    expect(output).toContain('routes.chat.targets.0.provider');
    expect(output).not.toContain('listening');
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

  it('a shadow call that never answers is abandoned on SIGTERM: exit within the grace period, traces flushed', async () => {
    const upstream = await startMockUpstream();
    try {
      const path = writeConfig('shadow.yaml', `
server: { shutdownGraceMs: 3000 }
providers:
  up: { type: openai-compatible, baseUrl: "${upstream.url}" }
routes:
  chat:
    targets: [{ provider: up, model: primary }]
    # The shadow's own deadline is long here: shutdown must not wait for it.
    shadow: { target: { provider: up, model: stall }, fraction: 1, timeoutMs: 120000 }
`);
      const gateway = await startGatewayProcess({ GATEWAY_CONFIG: path });
      const response = await fetch(`${gateway.origin}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', connection: 'close' },
        body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'mirror me' }] }),
      });
      expect(response.status).toBe(200);
      await response.arrayBuffer();
      // The mirror is in flight at the shadow target, which will never answer.
      await waitFor(() => upstream.requests.some((r) => r.body.model === 'stall') && upstream.openRequests() === 1, 5000);
      const started = Date.now();
      gateway.child.kill('SIGTERM');
      expect(await gateway.exited).toBe(0);
      expect(Date.now() - started).toBeLessThan(3000);
      expect(upstream.abortedRequests()).toBe(1);
      // The primary's trace was flushed before exit.
      const sink = new DuckDbSink(join(gateway.cwd, 'data', 'traces.duckdb'));
      await sink.init();
      expect((await sink.getTrace(response.headers.get('x-request-id')!))?.status).toBe(200);
      await sink.close();
    } finally {
      await upstream.close();
    }
  });
});
