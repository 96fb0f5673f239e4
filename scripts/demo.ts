/**
 * The gateway as `npm start` runs it, under a few minutes of traffic that looks like production, then a
 * screenshot of every dashboard tab (the README's pictures, in docs/screenshots/).
 *
 *   npm run demo                          # six minutes of traffic, screenshots, stop
 *   npm run demo -- --minutes 2 --keep    # then leave it running to look around (Ctrl-C stops it)
 *
 * The upstreams are fake model servers (benchmarks/fake-engine.ts) that batch, queue and decode token by
 * token, so latency moves with load the way a real server's does:
 * - `chat`: a primary model with a backup behind it and the cache on; the primary is down for a while in
 *   the middle of the run (fallbacks, its breaker opening and closing again);
 * - `support`: a progressive canary whose candidate is healthy: it walks up its steps as the run goes on;
 * - `summarize`: a canary whose candidate fails a third of its requests: the controller rolls it back;
 * - `llama`: a self-hosted fleet of three vLLM-like replicas (one half as fast) behind prefix-affinity
 *   scheduling, with a shared system prompt per tenant;
 * - `assistant`: conditional routing and guardrails (PII redacted, flagged words), called through the
 *   Anthropic Messages dialect; `support` is also called through the OpenAI Responses API.
 * Two applications with their own keys and team tags send it; some answers get feedback; a few requests
 * are invalid or name a model nobody serves.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { FakeEngine } from '../benchmarks/fake-engine.js';
import { stopChild, waitForHttp } from '../benchmarks/processes.js';
import { startCommand } from '../benchmarks/start-command.js';
import { freePort } from '../gateway/test/helpers/free-port.js';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '6' },
    rate: { type: 'string', default: '12' },
    keep: { type: 'boolean', default: false },
    out: { type: 'string', default: join(ROOT, 'docs/screenshots') },
  },
});
const RUN_MS = Number(args.minutes) * 60_000;
const MEAN_RATE = Number(args.rate);
const ADMIN_KEY = `sk-gw-demo-admin-${Math.random().toString(36).slice(2, 14)}`;
const KEYS = { search: 'sk-gw-demo-search-0123456789', support: 'sk-gw-demo-support-0123456789' };

const hosted = () => new FakeEngine({ engine: 'vllm', batchCapacity: 64, outputTokens: 48, decodeMsPerToken: 5, tokensPerChunk: 3, prefillMsPerToken: 0.01 });
const engines = {
  primary: hosted(),
  backup: hosted(),
  candidate: new FakeEngine({ engine: 'vllm', batchCapacity: 64, outputTokens: 40, decodeMsPerToken: 4.5, tokensPerChunk: 3 }),
  flaky: hosted(),
  replicas: [1, 1, 0.5].map((speed) => new FakeEngine({ engine: 'vllm', batchCapacity: 4, outputTokens: 160, decodeMsPerToken: 8, prefillMsPerToken: 0.2, tokensPerChunk: 4, kvTokens: 16_384, speed })),
};
const allEngines = [engines.primary, engines.backup, engines.candidate, engines.flaky, ...engines.replicas];

function gatewayConfig(port: number, dataDir: string): unknown {
  const hostedProvider = (engine: FakeEngine) => ({ type: 'openai-compatible', baseUrl: engine.url, connectTimeoutMs: 500 });
  return {
    server: { host: '127.0.0.1', port },
    logging: { level: 'warn' },
    routing: { breaker: { consecutiveFailures: 5, cooldownMs: 10_000 } },
    providers: {
      openai: hostedProvider(engines.primary),
      'openai-eu': hostedProvider(engines.backup),
      candidate: hostedProvider(engines.candidate),
      experimental: hostedProvider(engines.flaky),
      gpus: {
        type: 'openai-compatible',
        replicas: engines.replicas.map((engine) => engine.url),
        engine: 'vllm',
        scheduling: 'prefix-affinity',
        engineMetrics: { intervalMs: 1000 },
      },
    },
    routes: {
      chat: {
        strategy: 'fallback',
        targets: [{ provider: 'openai', model: 'gpt-4o-mini' }, { provider: 'openai-eu', model: 'gpt-4o-mini' }],
        retry: { maxAttempts: 1 },
        cache: { enabled: true, ttlSeconds: 600 },
      },
      support: {
        strategy: 'canary',
        canaryWeight: 5,
        baseline: { provider: 'openai-eu', model: 'gpt-4o' },
        canary: { provider: 'candidate', model: 'gpt-4.1' },
        // Steps long enough that the screenshot finds it part-way: promoted twice, running at 50%.
        plan: { steps: [5, 25, 50, 100], minStepDurationMs: Math.round(RUN_MS * 0.33), minStepRequests: 40, intervalMs: 5000, guards: { maxP95Ratio: 1.5, maxErrorRateIncrease: 0.02 } },
      },
      summarize: {
        strategy: 'canary',
        canaryWeight: 20,
        retry: { maxAttempts: 1 },
        baseline: { provider: 'openai-eu', model: 'gpt-4o-mini' },
        canary: { provider: 'experimental', model: 'gpt-5-mini' },
        plan: { steps: [20, 50, 100], minStepDurationMs: Math.round(RUN_MS * 0.4), minStepRequests: 30, intervalMs: 5000 },
      },
      llama: { targets: [{ provider: 'gpus', model: 'llama-3.1-8b-instruct' }] },
      assistant: {
        strategy: 'conditional',
        branches: [{ name: 'tools', when: { tools: true }, target: { provider: 'openai', model: 'gpt-4o' } }],
        default: { provider: 'openai', model: 'gpt-4o-mini' },
        guardrails: { input: ['mask-pii', 'flag-refunds'], output: ['no-secrets'] },
      },
    },
    guardrails: {
      'mask-pii': { kind: 'pii', action: 'redact' },
      'flag-refunds': { kind: 'words', words: ['refund', 'chargeback'], action: 'flag' },
      'no-secrets': { kind: 'secrets', action: 'deny' },
    },
    auth: {
      adminKey: ADMIN_KEY,
      keys: [
        { id: 'search-app', key: KEYS.search, metadata: { team: 'search' } },
        { id: 'support-app', key: KEYS.support, metadata: { team: 'support' } },
      ],
    },
    telemetry: { sink: 'duckdb', dataDir, logBodies: true },
  };
}

const TENANT_PROMPTS = [
  'You are the assistant of Acme Books. Answer questions about orders, shipping and returns in two sentences. Never promise dates. ',
  'You are a code reviewer for a TypeScript monorepo. Point out bugs first, style last, and quote the line you mean. ',
  'You summarise support tickets for the on-call engineer: the customer, the symptom, what was tried, what to do next. ',
];
const FAQ = ['How do I reset my password?', 'What are your opening hours?', 'Can I change my delivery address?', 'Do you ship to Canada?'];
const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)] as T;

interface Outcome {
  status: number;
  traceId: string | null;
}

async function call(origin: string, path: string, key: string, body: unknown, extraHeaders: Record<string, string> = {}): Promise<Outcome> {
  const response = await fetch(`${origin}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...extraHeaders },
    body: JSON.stringify(body),
  });
  await response.arrayBuffer(); // streams too: read to the end, as a client would
  return { status: response.status, traceId: response.headers.get('x-gateway-trace-id') };
}

/** One request of the mix; returns its kind and outcome. */
async function oneRequest(origin: string): Promise<[string, Outcome]> {
  const roll = Math.random();
  const user = `user-${Math.floor(Math.random() * 40)}`;
  const stream = Math.random() < 0.4;
  if (roll < 0.2) {
    const content = Math.random() < 0.5 ? pick(FAQ) : `Question ${Math.floor(Math.random() * 1e6)}: where is my order?`;
    return ['chat', await call(origin, '/v1/chat/completions', KEYS.search, { model: 'chat', user, stream, messages: [{ role: 'user', content }] })];
  }
  if (roll < 0.42) {
    const messages = [{ role: 'user', content: `Customer ${user} writes: my order ${Math.floor(Math.random() * 1e5)} has not arrived.` }];
    const outcome =
      Math.random() < 0.25
        ? await call(origin, '/v1/responses', KEYS.support, { model: 'support', user, stream, input: messages[0]!.content })
        : await call(origin, '/v1/chat/completions', KEYS.support, { model: 'support', user, stream, messages });
    if (outcome.status === 200 && outcome.traceId && Math.random() < 0.15) {
      await call(origin, '/v1/feedback', KEYS.support, { trace_id: outcome.traceId, score: Math.random() < 0.8 ? 1 : 0, label: 'thumbs' });
    }
    return ['support', outcome];
  }
  if (roll < 0.52) {
    return ['summarize', await call(origin, '/v1/chat/completions', KEYS.support, { model: 'summarize', user, messages: [{ role: 'user', content: `Summarise ticket ${Math.floor(Math.random() * 1e5)}.` }] })];
  }
  if (roll < 0.85) {
    const messages = [
      { role: 'system', content: pick(TENANT_PROMPTS).repeat(6) },
      { role: 'user', content: `Request ${Math.floor(Math.random() * 1e6)}` },
    ];
    return ['llama', await call(origin, '/v1/chat/completions', KEYS.search, { model: 'llama', user, stream: true, messages })];
  }
  if (roll < 0.97) {
    const text = pick([
      'I want a refund for order 4411, my email is jane.doe@example.com',
      'Can you call me back on +1 415 555 0134 about the invoice?',
      'What is the status of my chargeback?',
      'Please translate "good morning" into French.',
    ]);
    const body = { model: 'assistant', max_tokens: 256, stream, messages: [{ role: 'user', content: text }] };
    return ['assistant', await call(origin, '/v1/messages', KEYS.support, body, { 'anthropic-version': '2023-06-01' })];
  }
  if (roll < 0.985) return ['unknown model', await call(origin, '/v1/chat/completions', KEYS.search, { model: 'gpt-7', messages: [{ role: 'user', content: 'hi' }] })];
  return ['invalid', await call(origin, '/v1/chat/completions', KEYS.search, { model: 'chat', messages: 'not a list' })];
}

/**
 * Open-loop traffic whose rate swells and ebbs around the mean, as a day's traffic does, compressed. It
 * runs until `stopped()` says so: the screenshots are taken while it is still going.
 */
async function drive(origin: string, stopped: () => boolean): Promise<Map<string, Map<number, number>>> {
  const counts = new Map<string, Map<number, number>>();
  const inFlight = new Set<Promise<void>>();
  const start = Date.now();
  const outage = [start + RUN_MS * 0.45, start + RUN_MS * 0.6];
  let flakyTimer: NodeJS.Timeout | undefined = setInterval(() => {
    engines.flaky.failStatus = Math.random() < 0.35 ? 500 : undefined;
  }, 500);
  let next = start;
  let lastReport = start;
  while (!stopped()) {
    const elapsed = Date.now() - start;
    const now = Date.now();
    engines.primary.failStatus = now >= outage[0]! && now < outage[1]! ? 503 : undefined;
    const rate = MEAN_RATE * (1 + 0.5 * Math.sin((elapsed / RUN_MS) * 3 * Math.PI)) * (0.85 + Math.random() * 0.3);
    next += 1000 / rate;
    const wait = next - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const request = oneRequest(origin)
      .then(([kind, outcome]) => {
        const byStatus = counts.get(kind) ?? new Map<number, number>();
        byStatus.set(outcome.status, (byStatus.get(outcome.status) ?? 0) + 1);
        counts.set(kind, byStatus);
      })
      .catch((error: unknown) => console.error('request failed:', error))
      .finally(() => inFlight.delete(request));
    inFlight.add(request);
    if (now - lastReport >= 30_000) {
      lastReport = now;
      console.log(`${Math.round(elapsed / 1000)} s: ${[...counts.values()].reduce((n, m) => n + [...m.values()].reduce((a, b) => a + b, 0), 0)} requests answered`);
    }
  }
  clearInterval(flakyTimer);
  flakyTimer = undefined;
  engines.flaky.failStatus = undefined;
  engines.primary.failStatus = undefined;
  await Promise.all(inFlight);
  return counts;
}

async function screenshots(origin: string, out: string): Promise<void> {
  mkdirSync(out, { recursive: true });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1360, height: 900 }, colorScheme: 'light' });
    await page.goto(`${origin}/dashboard`);
    await page.locator('#admin-key').fill(ADMIN_KEY);
    await page.locator('#key-form button[type=submit]').click();
    await page.selectOption('#range', '15m');
    await page.locator('.chart canvas').nth(5).waitFor();
    await page.waitForTimeout(1000);
    await page.screenshot({ path: join(out, 'overview.png'), fullPage: true });

    await page.click('button[data-tab=routes]');
    await page.locator('#routes-table tr[data-key]').first().waitFor();
    await page.screenshot({ path: join(out, 'routes.png'), fullPage: true });

    // A trace that fell back during the outage, and one the guardrails acted on.
    const adminHeaders = { authorization: `Bearer ${ADMIN_KEY}` };
    type TraceRow = { trace_id: string; fallbacks: number; guardrail_verdicts: string[] };
    const find = async (query: string, wanted: (row: TraceRow) => boolean): Promise<TraceRow | undefined> => {
      for (let offset = 0; offset < 5000; offset += 200) {
        const page = await fetch(`${origin}/api/traces?range=15m&limit=200&offset=${offset}&${query}`, { headers: adminHeaders });
        const { rows } = (await page.json()) as { rows: TraceRow[] };
        const found = rows.find(wanted);
        if (found || rows.length < 200) return found;
      }
      return undefined;
    };
    const fallback = await find('route=chat&status=2xx', (row) => row.fallbacks > 0);
    const guarded = await find('route=assistant', (row) => row.guardrail_verdicts.includes('redact') && row.guardrail_verdicts.includes('flag'));
    await page.click('button[data-tab=traces]');
    await page.locator('#traces-table tbody tr[data-trace-id]').first().waitFor();
    await page.screenshot({ path: join(out, 'traces.png') });
    for (const [trace, file] of [
      [fallback, 'trace-fallback.png'],
      [guarded, 'trace-guardrails.png'],
    ] as const) {
      if (!trace) {
        console.error(`no trace found for ${file}`);
        continue;
      }
      await page.fill('#filters input[name=q]', trace.trace_id);
      await page.click('#filters button[type=submit]');
      await page.locator(`#traces-table tbody tr[data-trace-id="${trace.trace_id}"]`).click();
      await page.locator('[data-testid=trace-detail] h3').filter({ hasText: trace.trace_id }).waitFor();
      if (file === 'trace-guardrails.png') await page.locator('[data-testid=trace-guardrails]').scrollIntoViewIfNeeded();
      await page.screenshot({ path: join(out, file) });
    }
    await page.fill('#filters input[name=q]', '');

    await page.click('button[data-tab=canary]');
    await page.locator('.canary[data-route=support]').waitFor();
    await page.waitForTimeout(500);
    await page.screenshot({ path: join(out, 'canary.png'), fullPage: true });

    await page.click('button[data-tab=fleet]');
    await page.locator('[data-testid=fleet-gpus] tr[data-replica]').first().waitFor();
    await page.waitForTimeout(500);
    await page.setViewportSize({ width: 1360, height: 300 }); // a full-page shot as tall as the table, no taller
    await page.screenshot({ path: join(out, 'fleet.png'), fullPage: true });
    await page.setViewportSize({ width: 1360, height: 900 });

    await page.click('button[data-tab=overview]');
    await page.click('#theme');
    await page.waitForTimeout(1000);
    await page.screenshot({ path: join(out, 'overview-dark.png'), fullPage: true });
    await page.click('#theme');
  } finally {
    await browser.close();
  }
}

async function main(): Promise<void> {
  await Promise.all(allEngines.map((engine) => engine.listen()));
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'gateway-demo-'));
  const configFile = join(dataDir, 'gateway.json');
  writeFileSync(configFile, JSON.stringify(gatewayConfig(port, dataDir), null, 2), { mode: 0o600 });
  const start = startCommand(ROOT);
  const gateway = spawn(process.execPath, start.args, {
    cwd: ROOT,
    env: { ...process.env, ...start.env, GATEWAY_CONFIG: configFile },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const origin = `http://127.0.0.1:${port}`;
  const stop = async () => {
    await stopChild(gateway);
    await Promise.all(allEngines.map((engine) => engine.close()));
  };
  process.once('SIGINT', () => void stop().then(() => process.exit(130)));
  try {
    await waitForHttp(`${origin}/healthz`, 30_000, gateway);
    console.log(`gateway on ${origin}; ${args.minutes} minutes of traffic at about ${MEAN_RATE} requests/s`);
    let trafficStopped = false;
    const traffic = drive(origin, () => trafficStopped);
    await new Promise((r) => setTimeout(r, RUN_MS));
    try {
      await screenshots(origin, args.out);
    } finally {
      trafficStopped = true;
    }
    const counts = await traffic;
    for (const [kind, byStatus] of counts) console.log(`${kind.padEnd(14)} ${[...byStatus].map(([status, n]) => `${status}×${n}`).join('  ')}`);
    console.log(`screenshots in ${args.out}`);
    if (args.keep) {
      console.log(`dashboard: ${origin}/dashboard  admin key: ${ADMIN_KEY}  (Ctrl-C stops)`);
      await new Promise(() => {});
    }
  } finally {
    await stop();
  }
}

await main();
