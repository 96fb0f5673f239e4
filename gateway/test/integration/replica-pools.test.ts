/**
 * Replica pools over real sockets: fake GPU servers (benchmarks/fake-engine.ts) that expose each
 * engine's own /metrics format and model batching, queueing and a prefix cache; a gateway pooling
 * them; the official OpenAI SDK as the client.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { getCACertificates, setDefaultCACertificates } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FakeEngine, type FakeEngineKind, type FakeEngineOptions } from '../../../benchmarks/fake-engine.js';
import type { PoolSnapshot } from '../../src/providers/replica-pool-provider.js';
import type { TraceRow } from '../../src/telemetry/trace-row.js';
import { startGateway, waitFor, type RunningGateway } from '../helpers/gateway.js';
import { metricValue } from '../helpers/metrics.js';
import { startDnsServer } from '../helpers/dns-server.js';
import { freePort } from '../helpers/free-port.js';
import type { AppDeps } from '../../src/app.js';
import { discoverySchema } from '../../src/config/pool-schema.js';
import { DnsDiscovery, serverResolver, systemResolver } from '../../src/upstream/replica-discovery.js';

const engines: FakeEngine[] = [];
let gateway: RunningGateway | undefined;

afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
  await Promise.all(engines.splice(0).map((engine) => engine.close()));
});

async function fleet(count: number, options: FakeEngineOptions): Promise<FakeEngine[]> {
  const started = await Promise.all(Array.from({ length: count }, () => new FakeEngine(options).listen()));
  engines.push(...started);
  return started;
}

async function startPool(provider: Record<string, unknown>, extra: Record<string, unknown> = {}, deps: AppDeps = {}): Promise<RunningGateway> {
  gateway = await startGateway(
    {
      providers: { gpus: { type: 'openai-compatible', ...provider }, ...(extra.providers as object | undefined) },
      routing: { retry: { maxAttempts: 1 }, ...(extra.routing as object | undefined) },
      routes: { fleet: { targets: [{ provider: 'gpus', model: 'fake-model' }] }, ...(extra.routes as object | undefined) },
      ...(extra.telemetry ? { telemetry: extra.telemetry } : {}),
      ...(extra.logging ? { logging: extra.logging } : {}),
    },
    deps,
  );
  return gateway;
}

async function fleetView(app: RunningGateway): Promise<PoolSnapshot> {
  const response = await fetch(`${app.origin}/api/fleet`);
  expect(response.status).toBe(200);
  const body = (await response.json()) as { data: PoolSnapshot[] };
  return body.data[0] as PoolSnapshot;
}

function sdk(app: RunningGateway): OpenAI {
  return new OpenAI({ baseURL: app.baseURL, apiKey: 'unused', maxRetries: 0 });
}

const chat = (content: string, system = 'You are terse.') => ({
  model: 'fleet',
  messages: [
    { role: 'system' as const, content: system },
    { role: 'user' as const, content },
  ],
});

describe('engine metrics', () => {
  it.each<FakeEngineKind>(['vllm', 'sglang', 'tgi', 'llamacpp'])('%s: the load its /metrics reports steers requests away from a busy replica', async (engine) => {
    const [busy, idle] = await fleet(2, { engine, outputTokens: 2, decodeMsPerToken: 0 });
    busy!.reported = { running: 8, waiting: 30, kvUsage: 0.95 };
    const app = await startPool({
      replicas: [busy!.url, idle!.url],
      engine: engine === 'tgi' ? 'tgi' : 'auto',
      engineMetrics: { intervalMs: 50 },
    });
    // Wait until the gateway has read both pages.
    let view = await fleetView(app);
    for (let i = 0; i < 100 && !view.replicas.every((r) => r.metricsFresh); i++) {
      await new Promise((r) => setTimeout(r, 20));
      view = await fleetView(app);
    }
    const busyView = view.replicas.find((r) => r.address === new URL(busy!.url).host)!;
    expect(busyView).toMatchObject({ engine, metricsFresh: true, running: 8, waiting: 30 });
    if (engine !== 'tgi') expect(busyView.kvUsage).toBeCloseTo(0.95);

    const client = sdk(app);
    for (let i = 0; i < 6; i++) await client.chat.completions.create(chat(`q${i}`));
    expect(idle!.received).toHaveLength(6);
    expect(busy!.received).toHaveLength(0);

    expect(await metricValue(app.origin, 'gateway_replica_queue_depth', { provider: 'gpus', replica: new URL(busy!.url).host })).toBe(30);
    expect(await metricValue(app.origin, 'gateway_replica_metrics_fresh', { provider: 'gpus', replica: new URL(idle!.url).host })).toBe(1);
    expect(await metricValue(app.origin, 'gateway_replica_picks_total', { provider: 'gpus', replica: new URL(idle!.url).host, reason: 'least-loaded' })).toBe(6);
  });

  it('a replica whose metrics cannot be read is scored by the gateway\'s own in-flight count, not blindly', async () => {
    const [a, b] = await fleet(2, { engine: 'vllm', outputTokens: 40, tokensPerChunk: 1, decodeMsPerToken: 10 });
    a!.metricsStatus = 500;
    b!.metricsStatus = 500;
    const app = await startPool({ replicas: [a!.url, b!.url], engine: 'vllm', engineMetrics: { intervalMs: 50 } });
    await waitFor(() => a!.scrapes > 1 && b!.scrapes > 1, 5000);
    const view = await fleetView(app);
    expect(view.replicas.map((r) => r.metricsFresh)).toEqual([false, false]);
    expect(view.replicas[0]!.scrapeError).toBe('HTTP 500');

    // Four concurrent streams: in-flight counts spread them two and two.
    const client = sdk(app);
    const streams = await Promise.all(Array.from({ length: 4 }, (_, i) => client.chat.completions.create({ ...chat(`s${i}`), stream: true })));
    expect([a!.received.length, b!.received.length]).toEqual([2, 2]);
    for (const stream of streams) for await (const _ of stream) void _;
  });

  it('a /metrics page past 4 MiB is not read, even sent chunked (no Content-Length to refuse it by)', async () => {
    let scrapes = 0;
    const replica = createHttpServer((req, res) => {
      req.resume();
      if (req.url !== '/metrics') return void res.writeHead(404).end();
      scrapes++;
      res.writeHead(200, { 'content-type': 'text/plain' });
      const line = `vllm:num_requests_running{pad="${'x'.repeat(1000)}"} 0\n`;
      for (let written = 0; written <= 5 * 1024 * 1024; written += line.length) res.write(line);
      res.end('vllm:num_requests_waiting 0\n');
    });
    await new Promise<void>((resolve) => replica.listen(0, '127.0.0.1', resolve));
    try {
      const app = await startPool({ replicas: [`http://127.0.0.1:${(replica.address() as AddressInfo).port}/v1`], engine: 'vllm', engineMetrics: { intervalMs: 50, timeoutMs: 5000 } });
      await waitFor(() => scrapes > 1, 10_000);
      const view = await fleetView(app);
      expect(view.replicas[0]).toMatchObject({ metricsFresh: false, scrapeError: 'metrics page too large' });
    } finally {
      replica.closeAllConnections();
      await new Promise((resolve) => replica.close(resolve));
    }
  });

  it('requests sent since the last scrape add to the engine\'s reading, so a burst between scrapes does not pile onto a replica others keep busy', async () => {
    // Streams of 2 s: none ends during the burst, however slowly a loaded machine sends it, so every score
    // the scheduler reads is the burst's own.
    const [shared, b, c] = await fleet(3, { engine: 'sglang', outputTokens: 200, tokensPerChunk: 1, decodeMsPerToken: 10 });
    // Another client keeps 4 requests running on the first replica; this gateway has none there.
    shared!.reported = { running: 4, waiting: 0 };
    // Scrapes far apart (the first within 4 s, the next 16 s or more later): the burst lands between two.
    const app = await startPool({ replicas: [shared!.url, b!.url, c!.url], engine: 'sglang', engineMetrics: { intervalMs: 20_000, staleAfterMs: 120_000 } });
    await waitFor(() => shared!.scrapes > 0 && b!.scrapes > 0 && c!.scrapes > 0, 20_000);
    const client = sdk(app);
    const streams = await Promise.all(Array.from({ length: 12 }, (_, i) => client.chat.completions.create({ ...chat(`b${i}`), stream: true })));
    // 16 requests over 3 replicas: about 5 each, so the shared one takes 1 or 2 (3 at most, as arrival
    // order shifts the scores). Reading only the engine (4) or only this gateway's own count, it takes 4.
    expect(shared!.received.length + b!.received.length + c!.received.length).toBe(12);
    expect(shared!.received.length).toBeLessThanOrEqual(3);
    for (const stream of streams) for await (const _ of stream) void _;
  });
});

describe('prefix affinity', () => {
  const systemA = 'You are the billing assistant of ACME. '.repeat(40);
  const systemB = 'You are the travel planner of Globex. '.repeat(40);

  it('sends requests sharing a prompt prefix to the replica that served it, and records the match on the trace row', async () => {
    const replicas = await fleet(3, { engine: 'vllm', outputTokens: 2, decodeMsPerToken: 0 });
    const app = await startPool(
      { replicas: replicas.map((r) => r.url), engine: 'vllm', scheduling: 'prefix-affinity', engineMetrics: { intervalMs: 50 } },
      { telemetry: { sink: 'duckdb', dataDir: mkdtempSync(join(tmpdir(), 'gateway-pool-')), flushIntervalMs: 50 } },
    );
    const client = sdk(app);
    const ids: string[] = [];
    for (let turn = 0; turn < 4; turn++) {
      for (const system of [systemA, systemB]) {
        const { response } = await client.chat.completions.create(chat(`question ${turn}`, system)).withResponse();
        ids.push(response.headers.get('x-request-id')!);
      }
    }
    // Each system prompt stayed on one replica.
    const holders = (system: string) => replicas.filter((r) => r.received.some((b) => JSON.stringify(b).includes(system.slice(0, 40))));
    expect(holders(systemA)).toHaveLength(1);
    expect(holders(systemB)).toHaveLength(1);
    // The engines saw the cache hits that follow.
    const cached = replicas.reduce((sum, r) => sum + r.stats.cachedTokens, 0);
    expect(cached).toBeGreaterThan(0);

    const rows: TraceRow[] = [];
    for (const id of ids) {
      for (let i = 0; i < 100; i++) {
        await app.app.traces!.flush();
        const row = await app.app.traces!.sink.getTrace(id);
        if (row) {
          rows.push(row);
          break;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    expect(rows).toHaveLength(8);
    const later = rows.slice(2);
    expect(later.every((row) => row.replica_reason === 'prefix')).toBe(true);
    expect(later.every((row) => row.prefix_match_chars >= 1024)).toBe(true);
    expect(rows.every((row) => /^127\.0\.0\.1:\d+$/.test(row.replica))).toBe(true);
  });

  it('bounded load: one hot prefix does not pile every request onto its replica', async () => {
    const replicas = await fleet(4, { engine: 'vllm', outputTokens: 40, tokensPerChunk: 1, decodeMsPerToken: 10 });
    const app = await startPool({ replicas: replicas.map((r) => r.url), scheduling: { strategy: 'prefix-affinity', loadFactor: 1.25 } });
    const client = sdk(app);
    // Warm one replica with the prefix, then a burst of 12 concurrent requests sharing it.
    await client.chat.completions.create(chat('warm', systemA));
    const streams = await Promise.all(Array.from({ length: 12 }, (_, i) => client.chat.completions.create({ ...chat(`hot ${i}`, systemA), stream: true })));
    const counts = replicas.map((r) => r.received.length);
    // Mean load after the burst is 13/4; the bound ⌈1.25 × 13/4⌉ = 5 caps any replica.
    expect(Math.max(...counts)).toBeLessThanOrEqual(5);
    expect(counts.filter((n) => n > 0).length).toBeGreaterThan(1);
    for (const stream of streams) for await (const _ of stream) void _;
    expect(await metricValue(app.origin, 'gateway_replica_picks_total', { provider: 'gpus', replica: new URL(replicas.find((r) => r.received.length === Math.max(...counts))!.url).host, reason: 'prefix' })).toBeGreaterThan(0);
  });
});

describe('admission and shedding', () => {
  it('holds requests while every replica is at maxInFlight, then sheds with 429 overloaded and Retry-After', async () => {
    const replicas = await fleet(2, { engine: 'vllm', outputTokens: 30, tokensPerChunk: 1, decodeMsPerToken: 10 });
    const app = await startPool({
      replicas: replicas.map((r) => r.url),
      admission: { maxInFlight: 1, queueSize: 1, maxQueueWaitMs: 10_000 },
    });
    const client = sdk(app);
    const first = await Promise.all([0, 1].map((i) => client.chat.completions.create({ ...chat(`run ${i}`), stream: true })));
    // Both replicas are full: one request may wait (and is served once a replica frees up)…
    const queued = client.chat.completions.create(chat('queued'));
    await waitForFleet(app, (view) => view.queued === 1);
    // …the next one finds the queue full and is shed at once.
    const shed = await fetch(`${app.baseURL}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(chat('shed')) });
    expect(shed.status).toBe(429);
    expect(shed.headers.get('retry-after')).toBe('1');
    expect(((await shed.json()) as { error: { code: string; type: string } }).error).toMatchObject({ code: 'overloaded', type: 'rate_limit_error' });
    for (const stream of first) for await (const _ of stream) void _;
    const answer = await queued;
    expect(answer.choices[0]!.message.content).toContain('tok');
    expect(await metricValue(app.origin, 'gateway_pool_shed_total', { provider: 'gpus', priority: 'interactive' })).toBe(1);
  });

  it('a request that waits longer than maxQueueWaitMs gets 429 overloaded', async () => {
    const replicas = await fleet(1, { engine: 'vllm', outputTokens: 50, tokensPerChunk: 1, decodeMsPerToken: 10 });
    const app = await startPool({ replicas: replicas.map((r) => r.url), admission: { maxInFlight: 1, maxQueueWaitMs: 100 } });
    const client = sdk(app);
    const running = await client.chat.completions.create({ ...chat('long'), stream: true });
    const started = Date.now();
    const error = await client.chat.completions.create(chat('waits')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect((error as InstanceType<typeof OpenAI.RateLimitError>).code).toBe('overloaded');
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    for await (const _ of running) void _;
  });

  it('an interactive request takes the place of a queued batch request when the queue is full', async () => {
    const replicas = await fleet(1, { engine: 'vllm', outputTokens: 30, tokensPerChunk: 1, decodeMsPerToken: 10 });
    const app = await startPool({ replicas: replicas.map((r) => r.url), admission: { maxInFlight: 1, queueSize: 1, maxQueueWaitMs: 5000 } });
    const client = sdk(app);
    const running = await client.chat.completions.create({ ...chat('long'), stream: true });
    const post = (content: string, priority: string) =>
      fetch(`${app.baseURL}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-gateway-priority': priority }, body: JSON.stringify(chat(content)) });
    const batch = post('batch job', 'batch');
    await waitForFleet(app, (view) => view.queued === 1);
    const interactive = post('user waiting', 'interactive');
    const shed = await batch;
    expect(shed.status).toBe(429);
    for await (const _ of running) void _;
    expect((await interactive).status).toBe(200);
    expect(await metricValue(app.origin, 'gateway_pool_shed_total', { provider: 'gpus', priority: 'batch' })).toBe(1);
  });

  it('an overloaded pool falls back to the route\'s next target', async () => {
    const replicas = await fleet(1, { engine: 'vllm', outputTokens: 30, tokensPerChunk: 1, decodeMsPerToken: 10 });
    const app = await startPool(
      { replicas: replicas.map((r) => r.url), admission: { maxInFlight: 1, queueSize: 0 } },
      {
        providers: { hosted: { type: 'mock' } },
        routes: { spill: { strategy: 'fallback', targets: [{ provider: 'gpus', model: 'fake-model' }, { provider: 'hosted', model: 'mock-1' }] } },
      },
    );
    const client = sdk(app);
    const running = await client.chat.completions.create({ ...chat('long'), model: 'spill', stream: true });
    const { response } = await client.chat.completions.create({ ...chat('spills over'), model: 'spill' }).withResponse();
    expect(response.headers.get('x-gateway-provider')).toBe('hosted');
    expect(response.headers.get('x-gateway-attempts')).toBe('2');
    for await (const _ of running) void _;
  });
});

describe('replica health and breakers', () => {
  it('a replica whose breaker opens is skipped; the pool answers from the others', async () => {
    const [broken, good] = await fleet(2, { engine: 'vllm', outputTokens: 2, decodeMsPerToken: 0 });
    broken!.failStatus = 500;
    const app = await startPool(
      { replicas: [broken!.url, good!.url], scheduling: 'round-robin' },
      { routing: { retry: { maxAttempts: 3, initialBackoffMs: 0, maxBackoffMs: 0 }, breaker: { consecutiveFailures: 2, cooldownMs: 60_000 } } },
    );
    const client = sdk(app);
    for (let i = 0; i < 10; i++) await client.chat.completions.create(chat(`r${i}`));
    // Two failures open the replica's breaker; every request was answered (retries land on the good one).
    expect(broken!.received).toHaveLength(2);
    expect(good!.received).toHaveLength(10);
    const view = await fleetView(app);
    expect(view.replicas.find((r) => r.address === new URL(broken!.url).host)!.breaker).toBe('open');
    expect(await metricValue(app.origin, 'gateway_replica_up', { provider: 'gpus', replica: new URL(broken!.url).host })).toBe(0);
    // The target's own breaker above the pool stayed closed: the pool as a whole is fine.
    expect(app.app.gatewayRouting.breakers.for('gpus/fake-model').current()).toBe('closed');
  });

  it('with every replica breaker open, forced picks still respect maxInFlight: spread over replicas, then queued', async () => {
    const replicas = await fleet(2, { engine: 'vllm', outputTokens: 30, tokensPerChunk: 1, decodeMsPerToken: 10 });
    for (const replica of replicas) replica.failStatus = 500;
    const app = await startPool(
      { replicas: replicas.map((r) => r.url), scheduling: 'round-robin', admission: { maxInFlight: 1, maxQueueWaitMs: 10_000 } },
      { routing: { retry: { maxAttempts: 1 }, breaker: { consecutiveFailures: 1, cooldownMs: 600_000 } } },
    );
    const client = sdk(app);
    for (let i = 0; i < 2; i++) await client.chat.completions.create(chat(`fails ${i}`)).catch(() => undefined);
    expect((await fleetView(app)).replicas.map((r) => r.breaker)).toEqual(['open', 'open']);
    for (const replica of replicas) replica.failStatus = undefined;
    const before = replicas.map((r) => r.received.length);

    // Two at once: one on each replica (both forced), not two on the one closest to recovery.
    const streams = await Promise.all([1, 2].map((i) => client.chat.completions.create({ ...chat(`forced ${i}`), stream: true })));
    expect(replicas.map((r, i) => r.received.length - before[i]!)).toEqual([1, 1]);
    // A third waits for a free slot instead of a third request on a replica at its limit.
    const third = client.chat.completions.create(chat('forced 3'));
    await waitForFleet(app, (view) => view.queued === 1);
    expect((await fleetView(app)).replicas.map((r) => r.inFlight)).toEqual([1, 1]);
    for (const stream of streams) for await (const _ of stream) void _;
    expect((await third).choices[0]!.message.content).toContain('tok');
  });

  it('a replica failing its health check takes no requests until it passes again', async () => {
    const [sick, well] = await fleet(2, { engine: 'vllm', outputTokens: 2, decodeMsPerToken: 0 });
    sick!.healthStatus = 503;
    const app = await startPool({ replicas: [sick!.url, well!.url], scheduling: 'round-robin', healthCheck: { path: '/health', intervalMs: 50, unhealthyAfter: 1 } });
    await waitForFleet(app, (view) => view.replicas.some((r) => !r.healthy));
    const client = sdk(app);
    for (let i = 0; i < 4; i++) await client.chat.completions.create(chat(`h${i}`));
    expect(sick!.received).toHaveLength(0);
    sick!.healthStatus = 200;
    await waitForFleet(app, (view) => view.replicas.every((r) => r.healthy));
    for (let i = 0; i < 4; i++) await client.chat.completions.create(chat(`b${i}`));
    expect(sick!.received).toHaveLength(2);
  });
});

describe('above the pool', () => {
  it('a sticky canary split sends its canary users to the pool and keeps each user on one side', async () => {
    const replicas = await fleet(2, { engine: 'vllm', outputTokens: 2, decodeMsPerToken: 0 });
    const app = await startPool(
      { replicas: replicas.map((r) => r.url), scheduling: 'least-loaded' },
      {
        providers: { hosted: { type: 'mock' } },
        routes: { rollout: { strategy: 'canary', canaryWeight: 50, baseline: { provider: 'hosted', model: 'mock-1' }, canary: { provider: 'gpus', model: 'fake-model' } } },
      },
    );
    const client = sdk(app);
    const sides = new Map<string, string>();
    for (let round = 0; round < 2; round++) {
      for (let u = 0; u < 12; u++) {
        const { response } = await client.chat.completions.create({ ...chat(`hello ${u}`), model: 'rollout', user: `user-${u}` }).withResponse();
        const side = `${response.headers.get('x-gateway-variant')}:${response.headers.get('x-gateway-provider')}`;
        if (round === 0) sides.set(`user-${u}`, side);
        else expect(side).toBe(sides.get(`user-${u}`));
      }
    }
    const values = [...sides.values()];
    expect(values.every((v) => v === 'canary:gpus' || v === 'baseline:hosted')).toBe(true);
    expect(values.filter((v) => v === 'canary:gpus').length).toBeGreaterThan(0);
    expect(replicas.reduce((n, r) => n + r.received.length, 0)).toBe(2 * values.filter((v) => v === 'canary:gpus').length);
  });
});

describe('replicas come and go (DNS discovery)', () => {
  it('follows the answers of a DNS server: replicas join, leave, and a leaving one finishes its stream', async () => {
    const dns = await startDnsServer();
    try {
      const port = await freePort();
      const options: FakeEngineOptions = { engine: 'vllm', outputTokens: 30, tokensPerChunk: 1, decodeMsPerToken: 10 };
      const one = await new FakeEngine(options).listen(port, '127.0.0.1');
      const two = await new FakeEngine(options).listen(port, '127.0.0.2');
      engines.push(one, two);
      dns.records.set('gpus.pool.test', ['127.0.0.1']);
      const app = await startPool({
        baseUrl: `http://gpus.pool.test:${port}/v1`,
        discovery: { type: 'dns', intervalMs: 50, servers: [`127.0.0.1:${dns.port}`] },
        scheduling: 'least-busy',
      });
      const client = sdk(app);
      // The first request waits for the first answer.
      await client.chat.completions.create(chat('first'));
      expect(one.received).toHaveLength(1);
      expect((await fleetView(app)).replicas.map((r) => r.label)).toEqual(['#0']);

      dns.records.set('gpus.pool.test', ['127.0.0.1', '127.0.0.2']);
      await waitForFleet(app, (view) => view.replicas.length === 2);
      const [s1, s2] = await Promise.all([1, 2].map((i) => client.chat.completions.create({ ...chat(`pair ${i}`), stream: true })));
      expect([one.received.length, two.received.length]).toEqual([2, 1]);

      // 127.0.0.1 leaves while it still streams: the stream completes, new work goes to .2 only.
      const onOne = one.received.length;
      dns.records.set('gpus.pool.test', ['127.0.0.2']);
      await waitForFleet(app, (view) => view.replicas.length === 1 && view.replicas[0]!.address === `127.0.0.2:${port}`);
      for (let i = 0; i < 3; i++) await client.chat.completions.create(chat(`after ${i}`));
      expect(one.received.length).toBe(onOne);
      let streamed = 0;
      for (const stream of [s1!, s2!]) {
        for await (const chunk of stream) streamed += chunk.choices[0]?.delta.content ? 1 : 0;
      }
      expect(streamed).toBe(60);
      expect(await metricValue(app.origin, 'gateway_pool_replicas', { provider: 'gpus' })).toBe(1);

      // Scaled to zero (NXDOMAIN): no replicas, a clear 502.
      dns.records.delete('gpus.pool.test');
      await waitForFleet(app, (view) => view.replicas.length === 0);
      const error = await client.chat.completions.create(chat('nobody home')).catch((e: unknown) => e);
      expect((error as { code?: string }).code).toBe('upstream_unreachable');
    } finally {
      await dns.close();
    }
  });

  it('over TLS, a replica dialled by address is checked against the discovered name (requests and scrapes)', async () => {
    const fixture = (name: string) => readFileSync(new URL(`../fixtures/tls/${name}`, import.meta.url));
    const cert = fixture('gpus.pool.test.crt');
    const replica = createHttpsServer({ cert, key: fixture('gpus.pool.test.key') }, (req, res) => {
      req.resume().on('end', () => {
        if (req.url === '/metrics') return void res.end('vllm:num_requests_running 0\nvllm:num_requests_waiting 0\nvllm:kv_cache_usage_perc 0.25\n');
        const answer = { id: 'tls', object: 'chat.completion', created: 1, model: 'fake-model', choices: [{ index: 0, message: { role: 'assistant', content: 'over tls' }, finish_reason: 'stop' }] };
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
      });
    });
    await new Promise<void>((resolve) => replica.listen(0, '127.0.0.1', resolve));
    const dns = await startDnsServer();
    const trusted = getCACertificates('default');
    setDefaultCACertificates([...trusted, cert.toString()]);
    try {
      dns.records.set('gpus.pool.test', ['127.0.0.1']);
      const app = await startPool({
        baseUrl: `https://gpus.pool.test:${(replica.address() as AddressInfo).port}/v1`,
        discovery: { type: 'dns', intervalMs: 1000, servers: [`127.0.0.1:${dns.port}`] },
        engine: 'vllm',
        engineMetrics: { intervalMs: 50 },
      });
      const answer = await sdk(app).chat.completions.create(chat('hello'));
      expect(answer.choices[0]?.message.content).toBe('over tls');
      await waitForFleet(app, (view) => view.replicas[0]?.kvUsage === 0.25);
    } finally {
      setDefaultCACertificates(trusted);
      await dns.close();
      await new Promise((resolve) => replica.close(resolve));
    }
  });

  it('a slow answer that arrives after a newer one does not roll the pool back', async () => {
    const dns = await startDnsServer();
    const applied: string[][] = [];
    const discovery = new DnsDiscovery({
      config: discoverySchema.parse({ type: 'dns', intervalMs: 3_600_000 }),
      template: new URL('http://gpus.pool.test:8000/v1'),
      resolver: serverResolver([`127.0.0.1:${dns.port}`]),
      onChange: (urls) => applied.push(urls),
      onError: (error) => {
        throw error;
      },
    });
    try {
      dns.records.set('gpus.pool.test', ['127.0.0.1']);
      const held = dns.holdNext('gpus.pool.test');
      const slow = discovery.resolveOnce(); // asked while the name pointed at .1; its answer is late
      await held.arrived;
      dns.records.set('gpus.pool.test', ['127.0.0.2']);
      await discovery.resolveOnce(); // asked later, answered at once
      expect(applied).toEqual([['http://127.0.0.2:8000/v1']]);
      held.release();
      await slow;
      expect(applied).toEqual([['http://127.0.0.2:8000/v1']]);
    } finally {
      discovery.stop();
      await dns.close();
    }
  });

  it('lookups never overlap: the next one starts an interval after the last one answered', async () => {
    vi.useFakeTimers();
    const answers: ((addresses: string[]) => void)[] = [];
    const discovery = new DnsDiscovery({
      config: discoverySchema.parse({ type: 'dns', intervalMs: 100 }),
      template: new URL('http://gpus.pool.test:8000/v1'),
      resolver: () => new Promise((resolve) => answers.push(resolve)),
      onChange: () => undefined,
      onError: () => undefined,
    });
    try {
      const started = discovery.start();
      answers[0]!(['127.0.0.1']);
      await started;
      await vi.advanceTimersByTimeAsync(100);
      expect(answers).toHaveLength(2);
      // The second lookup does not answer: however long it takes, no third one is sent meanwhile.
      await vi.advanceTimersByTimeAsync(10_000);
      expect(answers).toHaveLength(2);
      answers[1]!(['127.0.0.2']);
      await vi.advanceTimersByTimeAsync(99);
      expect(answers).toHaveLength(2);
      await vi.advanceTimersByTimeAsync(1);
      expect(answers).toHaveLength(3);
    } finally {
      discovery.stop();
      vi.useRealTimers();
    }
  });

  it('addresses past maxReplicas are left out, and said so: a throttled warning, the fleet API and a metric', async () => {
    const dns = await startDnsServer();
    const lines: string[] = [];
    try {
      dns.records.set('gpus.pool.test', ['127.0.0.5', '127.0.0.4', '127.0.0.3', '127.0.0.2', '127.0.0.1']);
      const app = await startPool(
        { baseUrl: 'http://gpus.pool.test:8000/v1', discovery: { type: 'dns', intervalMs: 20, maxReplicas: 2, servers: [`127.0.0.1:${dns.port}`] } },
        { logging: { level: 'warn' } },
        { logStream: { write: (line) => void lines.push(line) } },
      );
      await waitForFleet(app, (view) => view.replicas.length === 2);
      const view = await fleetView(app);
      expect(view.replicas.map((replica) => replica.address)).toEqual(['127.0.0.1:8000', '127.0.0.2:8000']);
      expect(view.discovery).toEqual({ name: 'gpus.pool.test', found: 5, dropped: 3 });
      expect(await metricValue(app.origin, 'gateway_pool_replicas_dropped', { provider: 'gpus' })).toBe(3);
      // Many more lookups, one warning.
      const asked = dns.queries;
      await waitFor(() => dns.queries >= asked + 10);
      const warnings = lines.filter((line) => line.includes('maxReplicas'));
      expect(warnings).toHaveLength(1);
      expect(JSON.parse(warnings[0]!)).toMatchObject({ level: 40 });

      dns.records.set('gpus.pool.test', ['127.0.0.1']);
      await waitForFleet(app, (view) => view.replicas.length === 1);
      expect((await fleetView(app)).discovery).toEqual({ name: 'gpus.pool.test', found: 1, dropped: 0 });
    } finally {
      await dns.close();
    }
  });

  it('the system resolver reads /etc/hosts through node:dns', async () => {
    expect(await systemResolver('localhost')).toContain('127.0.0.1');
  });
});

async function waitForFleet(app: RunningGateway, check: (view: PoolSnapshot) => boolean): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (check(await fleetView(app))) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('the fleet never reached the expected state');
}
