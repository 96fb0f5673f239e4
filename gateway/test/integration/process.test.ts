/**
 * The compiled gateway as a process: `npm start` as the README runs it, start on the default config,
 * refuse an invalid config with every problem listed (exit status 2), leave out optional fields whose
 * variable is unset, and drain gracefully on SIGTERM.
 */
import { spawn } from 'node:child_process';
import { appendFileSync, cpSync, mkdtempSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
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

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Runs `npm start` in `cwd` until the gateway listens; returns what it printed and the Node it runs on. */
async function npmStart(cwd: string): Promise<{ output: string; nodeVersion: string }> {
  const child = spawn('npm', ['start'], {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmpdir(), PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
    // npm runs the gateway as its own child: stop the whole group.
    detached: true,
  });
  let output = '';
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  try {
    const origin = await new Promise<string>((resolve, reject) => {
      const onData = (data: Buffer): void => {
        output += data.toString();
        const match = /gateway listening on (http:\/\/[\d.:]+)/.exec(output);
        if (match) resolve(match[1] as string);
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      void exited.then(() => reject(new Error(`npm start exited:\n${output}`)));
    });
    const metrics = await (await fetch(`${origin}/metrics`)).text();
    return { output, nodeVersion: /nodejs_version_info\{version="(v[\d.]+)"/.exec(metrics)?.[1] ?? 'unknown' };
  } finally {
    process.kill(-child.pid!, 'SIGTERM');
    await exited;
  }
}

describe('npm start', () => {
  it('builds once, then starts without rebuilding or rewriting dist/, on the Node the project pins; a changed source rebuilds', async () => {
    // A copy of the checkout (sharing node_modules), so building here never disturbs the dist/ other tests run.
    const checkout = mkdtempSync(join(tmpdir(), 'gateway-checkout-'));
    for (const path of ['gateway/src', 'scripts', 'dashboard', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json']) {
      cpSync(join(ROOT, path), join(checkout, path), { recursive: true });
    }
    symlinkSync(join(ROOT, 'node_modules'), join(checkout, 'node_modules'), 'dir');
    const main = join(checkout, 'dist', 'main.js');
    const pinned = `v${readFileSync(join(ROOT, '.nvmrc'), 'utf8').trim()}`;

    const first = await npmStart(checkout);
    expect(first.output).not.toContain('up to date');
    expect(first.nodeVersion).toBe(pinned);
    const built = statSync(main).mtimeMs;

    const second = await npmStart(checkout);
    expect(second.output).toContain('dist/ is up to date');
    expect(statSync(main).mtimeMs).toBe(built);

    appendFileSync(join(checkout, 'gateway', 'src', 'main.ts'), '\n// changed\n');
    const third = await npmStart(checkout);
    expect(third.output).not.toContain('up to date');
    expect(statSync(main).mtimeMs).toBeGreaterThan(built);
  }, 120_000);
});

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

  it('loads the trace store (DuckDB) with the first request, not at start', async () => {
    const gateway = await startGatewayProcess({});
    const duckdbMapped = (): boolean => readFileSync(`/proc/${gateway.child.pid}/maps`, 'utf8').includes('libduckdb');
    try {
      expect(duckdbMapped()).toBe(false);
      const response = await fetch(`${gateway.origin}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'chat-default', messages: [{ role: 'user', content: 'Hello!' }] }),
      });
      expect(response.status).toBe(200);
      await expect.poll(duckdbMapped).toBe(true);
    } finally {
      gateway.child.kill('SIGTERM');
      expect(await gateway.exited).toBe(0);
    }
  });

  it('writes one whole JSON line per request to stdout, among its own lines, none torn; all out before exit', async () => {
    // Half the requests fail upstream, so the gateway logs its own warnings while request lines flow.
    const deadPort = (await import('../helpers/free-port.js')).freePort;
    const path = writeConfig('lines.yaml', `
providers:
  sim: { type: mock }
  dead: { type: openai-compatible, baseUrl: "http://127.0.0.1:${await deadPort()}/v1" }
routing: { retry: { maxAttempts: 1 }, breaker: { enabled: false } }
routes:
  ok: { targets: [{ provider: sim, model: m }] }
  down: { targets: [{ provider: dead, model: m }] }
`);
    const gateway = await startGatewayProcess({ GATEWAY_CONFIG: path });
    const requests = 400;
    const statuses = await Promise.all(
      Array.from({ length: requests }, async (_, i) => {
        const response = await fetch(`${gateway.origin}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-request-id': `line-${i}` },
          body: JSON.stringify({ model: i % 2 ? 'down' : 'ok', messages: [{ role: 'user', content: `line ${i} ${'x'.repeat(200)}` }] }),
        });
        await response.arrayBuffer();
        return response.status;
      }),
    );
    expect(statuses.filter((status) => status === 200)).toHaveLength(requests / 2);
    gateway.child.kill('SIGTERM');
    expect(await gateway.exited).toBe(0);
    const lines = gateway.output().trimEnd().split('\n');
    const parsed = lines.map((line) => JSON.parse(line) as { msg: string; clientRequestId?: string; status?: number });
    const requestLines = parsed.filter((line) => line.msg === 'request');
    expect(new Set(requestLines.map((line) => line.clientRequestId))).toEqual(new Set(Array.from({ length: requests }, (_, i) => `line-${i}`)));
    expect(requestLines).toHaveLength(requests);
    expect(parsed.filter((line) => line.msg === 'request failed')).toHaveLength(requests / 2);
    expect(parsed.at(-1)?.msg).toBe('stopped');
  });

  it('on SIGTERM finishes in-flight requests, refuses new ones, and exits 0', async () => {
    const upstream = await startMockUpstream();
    const release = upstream.hold('held');
    try {
      const path = writeConfig('slow.yaml', `
providers:
  up: { type: openai-compatible, baseUrl: "${upstream.url}" }
routes:
  chat: { targets: [{ provider: up, model: held }] }
`);
      const gateway = await startGatewayProcess({ GATEWAY_CONFIG: path });
      const inFlight = fetch(`${gateway.origin}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', connection: 'close' },
        body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'wait for me' }] }),
      });
      await waitFor(() => upstream.openRequests() === 1, 10_000);
      gateway.child.kill('SIGTERM');
      // Draining: a new request is refused (503 on an open connection, or no connection at all)…
      await waitFor(() => fetch(`${gateway.origin}/readyz`).then((r) => r.status === 503, () => true), 10_000);
      // …while the one in flight is answered once its upstream is.
      release();
      const response = await inFlight;
      expect(response.status).toBe(200);
      expect(((await response.json()) as { choices: unknown[] }).choices).toHaveLength(1);
      expect(await gateway.exited).toBe(0);
      await expect(fetch(`${gateway.origin}/healthz`)).rejects.toThrow();
      // The trace of the drained request was flushed to the embedded store before exit.
      const sink = new DuckDbSink(join(gateway.cwd, 'data', 'traces.duckdb'));
      await sink.init();
      expect((await sink.getTrace(response.headers.get('x-request-id')!))?.status).toBe(200);
      await sink.close();
    } finally {
      release();
      await upstream.close();
    }
  });

  it('a stuck request does not hold shutdown past the grace period', async () => {
    const upstream = await startMockUpstream();
    try {
      const path = writeConfig('stuck.yaml', `
server: { shutdownGraceMs: 300 }
providers:
  up: { type: openai-compatible, baseUrl: "${upstream.url}" }
`);
      const gateway = await startGatewayProcess({ GATEWAY_CONFIG: path });
      const inFlight = fetch(`${gateway.origin}/v1/chat/completions`, {
        method: 'POST',
        body: JSON.stringify({ model: 'up/stall', messages: [{ role: 'user', content: 'x' }] }),
      }).catch((error: unknown) => error);
      await waitFor(() => upstream.openRequests() === 1, 10_000);
      const started = Date.now();
      gateway.child.kill('SIGTERM');
      expect(await gateway.exited).toBe(0);
      expect(Date.now() - started).toBeLessThan(3000);
      expect(await inFlight).toBeInstanceOf(Error);
    } finally {
      await upstream.close();
    }
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
