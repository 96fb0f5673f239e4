/**
 * Gateway keys, the admin key, rate limits and budgets — in memory and on real Redis shared by two
 * gateway instances.
 */
import OpenAI, { APIError } from 'openai';
import { createHmac } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashKey } from '../../src/auth/key-hash.js';
import { startGateway, waitFor, type RunningGateway } from '../helpers/gateway.js';
import { metricValue } from '../helpers/metrics.js';
import { startMockUpstream, type MockUpstream } from '../helpers/mock-upstream.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { runGatewayToExit, startGatewayProcess } from '../helpers/gateway-process.js';

const SEARCH_KEY = 'sk-gw-search-team-0123456789';
const LIMITED_KEY = 'sk-gw-limited-team-0123456789';
const TOKENS_KEY = 'sk-gw-tokens-team-0123456789';
const BUDGET_KEY = 'sk-gw-budget-team-0123456789';
const ADMIN_KEY = 'sk-gw-admin-0123456789abcdef';

let upstream: MockUpstream;
const gateways: RunningGateway[] = [];

beforeAll(async () => {
  upstream = await startMockUpstream();
});
afterAll(async () => {
  await Promise.all(gateways.map((g) => g.close()));
  await upstream?.close();
});

function document(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    providers: { up: { type: 'openai-compatible', baseUrl: upstream.url } },
    routes: {
      chat: { targets: [{ provider: 'up', model: 'answer' }] },
      secret: { targets: [{ provider: 'up', model: 'answer' }] },
      // Priced at $1 per token in and out, so a request's cost is easy to reason about.
      pricey: { targets: [{ provider: 'up', model: 'pricey-slow-50' }] },
    },
    telemetry: { pricing: { 'pricey-slow-50': { input: 1_000_000, output: 1_000_000 } } },
    auth: {
      adminKeyHash: hashKey(ADMIN_KEY),
      keys: [
        { id: 'search', hash: hashKey(SEARCH_KEY), routes: ['chat', 'cached', 'up/*'], metadata: { team: 'search' } },
        { id: 'limited', key: LIMITED_KEY, limits: { requestsPerMinute: 3 } },
        { id: 'tokens', key: TOKENS_KEY, limits: { tokensPerMinute: 20 } },
        // Each request reserves (input ≈ 8 + max_tokens 10) × $1 = $18 and really costs 17 × $1.
        { id: 'budget', key: BUDGET_KEY, budget: { dailyUsd: 200 } },
      ],
    },
    ...extra,
  };
}

async function gatewayWith(extra: Record<string, unknown> = {}): Promise<RunningGateway> {
  const gateway = await startGateway(document(extra));
  gateways.push(gateway);
  return gateway;
}

async function chat(gateway: RunningGateway, key: string | undefined, model = 'chat', extraBody: Record<string, unknown> = {}) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (key) headers.authorization = `Bearer ${key}`;
  const response = await fetch(`${gateway.baseURL}/chat/completions`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], ...extraBody }),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, code: response.status >= 400 ? (JSON.parse(text) as { error: { code: string } }).error.code : undefined };
}

describe('gateway keys', () => {
  let gateway: RunningGateway;
  beforeAll(async () => {
    gateway = await gatewayWith();
  });

  it('requires a key, accepts the right one (Bearer or x-api-key), refuses a wrong one', async () => {
    expect(await chat(gateway, undefined)).toMatchObject({ status: 401, code: 'missing_api_key' });
    expect(await chat(gateway, 'sk-not-a-real-key-000000')).toMatchObject({ status: 401, code: 'invalid_api_key' });
    expect((await chat(gateway, SEARCH_KEY)).status).toBe(200);
    const viaHeader = await fetch(`${gateway.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'x-api-key': SEARCH_KEY },
      body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(viaHeader.status).toBe(200);
    const sdk = new OpenAI({ baseURL: gateway.baseURL, apiKey: SEARCH_KEY, maxRetries: 0 });
    expect((await sdk.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] })).choices).toHaveLength(1);
    const models = await fetch(`${gateway.baseURL}/models`);
    expect(models.status).toBe(401);
  });

  it('limits a key to its routes', async () => {
    expect((await chat(gateway, SEARCH_KEY, 'up/anything')).status).toBe(200);
    expect(await chat(gateway, SEARCH_KEY, 'secret')).toMatchObject({ status: 403, code: 'model_not_allowed' });
    const sdk = new OpenAI({ baseURL: gateway.baseURL, apiKey: SEARCH_KEY, maxRetries: 0 });
    const error = (await sdk.chat.completions.create({ model: 'secret', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e)) as APIError;
    expect(error.status).toBe(403);
    expect(error.code).toBe('model_not_allowed');
  });

  it('enforces requests per minute with Retry-After and x-ratelimit headers', async () => {
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await chat(gateway, LIMITED_KEY));
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 429]);
    expect(results[0]!.headers.get('x-ratelimit-limit-requests')).toBe('3');
    expect(results[1]!.headers.get('x-ratelimit-remaining-requests')).toBe('1');
    const limited = results[3]!;
    expect(limited.code).toBe('rate_limit_exceeded');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(Number(limited.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    expect(limited.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    // Other keys are not affected.
    expect((await chat(gateway, SEARCH_KEY)).status).toBe(200);
  });

  it('enforces tokens per minute on real usage', async () => {
    // The mock upstream reports 17 tokens per answer: the first two pass (0 and 17 < 20 used), then 34 ≥ 20.
    // Usage is counted when the request is recorded, after the reply: wait for that before the next one.
    const recorded = () => metricValue(gateway.origin, 'gateway_requests_total', { route: 'chat' }).catch(() => 0);
    const statuses = [];
    for (let i = 0; i < 3; i++) {
      const before = await recorded();
      const { status } = await chat(gateway, TOKENS_KEY);
      statuses.push(status);
      if (status === 200) await waitFor(async () => (await recorded()) > before);
    }
    expect(statuses).toEqual([200, 200, 429]);
  });

  it('the admin API needs the admin key; keys it creates work and can be revoked', async () => {
    expect((await fetch(`${gateway.origin}/admin/keys`)).status).toBe(401);
    expect((await fetch(`${gateway.origin}/admin/keys`, { headers: { authorization: `Bearer ${SEARCH_KEY}` } })).status).toBe(401);
    const admin = { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' };
    const listed = await fetch(`${gateway.origin}/admin/keys`, { headers: admin });
    expect(listed.headers.get('x-content-type-options')).toBe('nosniff');
    expect(listed.headers.get('x-frame-options')).toBe('DENY');
    expect(listed.headers.get('cache-control')).toBe('no-store');
    const list = (await listed.json()) as { data: Record<string, unknown>[] };
    expect(list.data.map((k) => k.id).sort()).toEqual(['budget', 'limited', 'search', 'tokens']);
    expect(JSON.stringify(list)).not.toContain(hashKey(SEARCH_KEY));

    const created = await fetch(`${gateway.origin}/admin/keys`, { method: 'POST', headers: admin, body: JSON.stringify({ id: 'ci-bot', routes: ['chat'] }) });
    expect(created.status).toBe(201);
    const { key } = (await created.json()) as { key: string };
    expect(key).toMatch(/^gwk-/);
    expect((await chat(gateway, key)).status).toBe(200);
    expect((await chat(gateway, key, 'secret')).status).toBe(403);
    const duplicate = await fetch(`${gateway.origin}/admin/keys`, { method: 'POST', headers: admin, body: JSON.stringify({ id: 'ci-bot' }) });
    expect(duplicate.status).toBe(409);
    expect((await fetch(`${gateway.origin}/admin/keys/ci-bot`, { method: 'DELETE', headers: admin })).status).toBe(204);
    expect(await chat(gateway, key)).toMatchObject({ status: 401, code: 'invalid_api_key' });
    expect((await fetch(`${gateway.origin}/api/export`)).status).toBe(401);
  });
});

describe('dashboard sessions', () => {
  const SESSION_SECRET = 'a-session-secret-shared-by-replicas-0123456789';

  async function signIn(gateway: RunningGateway): Promise<string> {
    const response = await fetch(`${gateway.origin}/dashboard/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: ADMIN_KEY }) });
    expect(response.status).toBe(204);
    return response.headers.get('set-cookie')!.split(';')[0]!;
  }
  const statusWith = async (gateway: RunningGateway, path: string, cookie: string) => (await fetch(`${gateway.origin}${path}`, { headers: { cookie } })).status;

  it('cannot be minted from the adminKeyHash a config file may hold', async () => {
    const gateway = await gatewayWith();
    const expiry = Date.now() + 3_600_000;
    for (const message of [String(expiry), `gateway-dashboard-session-v1\n${hashKey(ADMIN_KEY)}\n${expiry}`]) {
      const forged = `gw_dashboard=${expiry}.${createHmac('sha256', hashKey(ADMIN_KEY)).update(message).digest('base64url')}`;
      expect(await statusWith(gateway, '/admin/canaries', forged)).toBe(401);
    }
    expect(await statusWith(gateway, '/admin/canaries', await signIn(gateway))).toBe(200);
  });

  it('opens the dashboard API and canary actions, never key management', async () => {
    const gateway = await gatewayWith();
    const cookie = await signIn(gateway);
    expect(await statusWith(gateway, '/admin/canaries', cookie)).toBe(200);
    expect(await statusWith(gateway, '/api/overview', cookie)).toBe(503); // past auth: this gateway keeps no trace store
    const keys = await fetch(`${gateway.origin}/admin/keys`, { headers: { cookie } });
    expect(keys.status).toBe(401);
    expect(((await keys.json()) as { error: { code: string } }).error.code).toBe('admin_key_required');
    const create = await fetch(`${gateway.origin}/admin/keys`, { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: JSON.stringify({ id: 'via-cookie' }) });
    expect(create.status).toBe(401);
  });

  it('replicas sharing auth.sessionSecret accept each other’s sessions; without one a session stays with its process', async () => {
    const shared = { auth: { ...(document().auth as object), sessionSecret: SESSION_SECRET } };
    const a = await gatewayWith(shared);
    const b = await gatewayWith(shared);
    const other = await gatewayWith({ auth: { ...(document().auth as object), sessionSecret: `${SESSION_SECRET}-other` } });
    const cookie = await signIn(a);
    expect(await statusWith(b, '/admin/canaries', cookie)).toBe(200);
    expect(await statusWith(other, '/admin/canaries', cookie)).toBe(401);

    const lines: string[] = [];
    const first = await startGateway({ ...document(), logging: { level: 'info' } }, { logStream: { write: (line: string) => void lines.push(line) } });
    gateways.push(first);
    const second = await gatewayWith();
    expect(lines.join('')).toContain('auth.sessionSecret is not set');
    const own = await signIn(first);
    expect(await statusWith(first, '/admin/canaries', own)).toBe(200);
    expect(await statusWith(second, '/admin/canaries', own)).toBe(401);
  });
});

describe('the dashboard session cookie', () => {
  async function setCookie(gateway: RunningGateway, headers: Record<string, string> = {}): Promise<string> {
    const response = await fetch(`${gateway.origin}/dashboard/session`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ key: ADMIN_KEY }) });
    expect(response.status).toBe(204);
    return response.headers.get('set-cookie')!;
  }
  const attributes = (cookie: string) => cookie.split(';').slice(1).map((part) => part.trim().split('=')[0]!.toLowerCase());

  it('over plain http it is not Secure, so a browser on http://localhost keeps it; a proxy nobody trusts cannot change that', async () => {
    const direct = await gatewayWith();
    expect(attributes(await setCookie(direct))).toEqual(['path', 'max-age', 'httponly', 'samesite']);
    // Without server.trustProxy, anyone reaching the gateway could send the header.
    expect(attributes(await setCookie(direct, { 'x-forwarded-proto': 'https' }))).not.toContain('secure');
    // Trusting some other address: this peer's header is ignored.
    const elsewhere = await gatewayWith({ server: { trustProxy: ['192.0.2.1'] } });
    expect(attributes(await setCookie(elsewhere, { 'x-forwarded-proto': 'https' }))).not.toContain('secure');
  });

  it('is Secure when a trusted proxy says the browser came over https', async () => {
    for (const trustProxy of [['127.0.0.1'], ['loopback'], ['127.0.0.0/8'], true]) {
      const proxied = await gatewayWith({ server: { trustProxy } });
      expect(attributes(await setCookie(proxied, { 'x-forwarded-proto': 'https' }))).toContain('secure');
      expect(attributes(await setCookie(proxied, { 'x-forwarded-proto': 'http' }))).not.toContain('secure');
      expect(attributes(await setCookie(proxied))).not.toContain('secure');
    }
  });
});

describe('budgets', () => {
  it('50 concurrent requests never overspend by more than one request’s estimate; cost is reconciled', async () => {
    const gateway = await gatewayWith();
    const results = await Promise.all(Array.from({ length: 50 }, () => chat(gateway, BUDGET_KEY, 'pricey', { max_tokens: 10 })));
    const ok = results.filter((r) => r.status === 200).length;
    const refused = results.filter((r) => r.code === 'budget_exceeded').length;
    expect(ok + refused).toBe(50);
    expect(ok).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0);
    const spent = async () =>
      ((await (await fetch(`${gateway.origin}/admin/keys/budget/usage`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).json()) as { spent: { dayUsd: number } }).spent.dayUsd;
    // Every admitted request really cost 17 (the mock's usage); each reserved 18, so 11 fit at once. The
    // reservations are settled when each request is recorded, after its reply: wait until they all are.
    await waitFor(async () => Math.abs((await spent()) - ok * 17) < 1e-6);
    const usage = { spent: { dayUsd: await spent() } };
    const estimate = 18;
    expect(usage.spent.dayUsd).toBeLessThanOrEqual(200 + estimate);
    expect(ok).toBeLessThanOrEqual(Math.floor(200 / 17) + 1);
  });
});

describe('limits and budgets on the Responses and Messages endpoints', () => {
  it('both spend from the key’s budget, reconciled to their reported usage, and are refused in their own shape', async () => {
    const gateway = await gatewayWith();
    const responses = () =>
      fetch(`${gateway.baseURL}/responses`, {
        method: 'POST',
        headers: { authorization: `Bearer ${BUDGET_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'pricey', input: 'hi', max_output_tokens: 10 }),
      });
    const messages = () =>
      fetch(`${gateway.origin}/v1/messages`, {
        method: 'POST',
        headers: { 'x-api-key': BUDGET_KEY, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'pricey', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }),
      });
    const refusals: Record<string, unknown>[] = [];
    let ok = 0;
    // Each answer really costs 17 (the mock's usage at $1 a token) against a budget of 200.
    for (let i = 0; i < 14; i++) {
      const response = await (i % 2 === 0 ? responses() : messages());
      if (response.status === 200) ok++;
      else refusals.push({ status: response.status, ...((await response.json()) as Record<string, unknown>) });
      await response.text().catch(() => undefined);
    }
    expect(ok).toBe(11);
    // The twelfth request (Messages) is the first refused, then one of each.
    expect(refusals).toEqual([
      expect.objectContaining({ status: 429, type: 'error', error: expect.objectContaining({ type: 'rate_limit_error' }) }),
      expect.objectContaining({ status: 429, error: expect.objectContaining({ code: 'budget_exceeded' }) }),
      expect.objectContaining({ status: 429, type: 'error' }),
    ]);
    const spent = async () =>
      ((await (await fetch(`${gateway.origin}/admin/keys/budget/usage`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).json()) as { spent: { dayUsd: number } }).spent.dayUsd;
    await waitFor(async () => Math.abs((await spent()) - ok * 17) < 1e-6);
  });

  it('requests per minute count Responses and Messages requests, with Retry-After on each', async () => {
    const gateway = await gatewayWith();
    const statuses: number[] = [];
    let messagesLimited: Response | undefined;
    for (let i = 0; i < 4; i++) {
      const response =
        i < 2
          ? await fetch(`${gateway.baseURL}/responses`, { method: 'POST', headers: { authorization: `Bearer ${LIMITED_KEY}` }, body: JSON.stringify({ model: 'chat', input: 'hi' }) })
          : await fetch(`${gateway.origin}/v1/messages`, {
              method: 'POST',
              headers: { 'x-api-key': LIMITED_KEY, 'anthropic-version': '2023-06-01' },
              body: JSON.stringify({ model: 'chat', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }),
            });
      statuses.push(response.status);
      if (response.status === 429) messagesLimited = response;
      await response.text();
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
    expect(Number(messagesLimited!.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});

describe('count_tokens and the key’s limits', () => {
  const count = (gateway: RunningGateway, key: string, model = 'chat') =>
    fetch(`${gateway.origin}/v1/messages/count_tokens`, {
      method: 'POST',
      headers: { 'x-api-key': key, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'how many?' }] }),
    });

  it('a count is a request: it counts against requests per minute and is refused in Anthropic’s shape past it', async () => {
    const gateway = await gatewayWith();
    const answers = [];
    for (let i = 0; i < 4; i++) {
      const response = await count(gateway, LIMITED_KEY);
      answers.push({ status: response.status, remaining: response.headers.get('x-ratelimit-remaining-requests'), body: (await response.json()) as Record<string, unknown> });
    }
    expect(answers.map((a) => [a.status, a.remaining])).toEqual([[200, '2'], [200, '1'], [200, '0'], [429, '0']]);
    expect(answers[3]!.body).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
    // And it shares the window with generation: the next message is refused too.
    const message = await fetch(`${gateway.origin}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': LIMITED_KEY, 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'chat', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(message.status).toBe(429);
  });

  it('a count costs no budget', async () => {
    const gateway = await gatewayWith();
    for (let i = 0; i < 5; i++) expect((await count(gateway, BUDGET_KEY, 'pricey')).status).toBe(200);
    const usage = (await (await fetch(`${gateway.origin}/admin/keys/budget/usage`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).json()) as { spent: { dayUsd: number } };
    expect(usage.spent.dayUsd).toBe(0);
  });
});

describe('limits on real Redis, shared by two gateway instances', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    await Promise.all(gateways.splice(0).map((g) => g.close()));
    await redis?.stop();
  });

  it('one requests-per-minute limit across both instances, and keys created on one work on the other', async () => {
    const extra = { redis: { url: redis.url } };
    const a = await gatewayWith(extra);
    const b = await gatewayWith(extra);
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await chat(i % 2 ? b : a, LIMITED_KEY)).status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(3);
    expect(statuses.slice(3)).toEqual([429, 429, 429]);

    const admin = { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' };
    const { key } = (await (await fetch(`${a.origin}/admin/keys`, { method: 'POST', headers: admin, body: JSON.stringify({ id: 'shared-key' }) })).json()) as { key: string };
    let accepted = false;
    for (let i = 0; i < 70 && !accepted; i++) {
      accepted = (await chat(b, key)).status === 200;
      if (!accepted) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(accepted).toBe(true);
  }, 20_000);

  it('budgets hold across instances under concurrency', async () => {
    const extra = { redis: { url: redis.url } };
    const a = await gatewayWith(extra);
    const b = await gatewayWith(extra);
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => chat(i % 2 ? a : b, BUDGET_KEY, 'pricey', { max_tokens: 10 })));
    const ok = results.filter((r) => r.status === 200).length;
    expect(ok).toBeGreaterThan(0);
    expect(ok).toBeLessThanOrEqual(Math.floor(200 / 17) + 1);
  });
});

describe('cache per key', () => {
  it('one key never gets another key’s cached answer', async () => {
    const gateway = await gatewayWith({
      routes: { ...(document().routes as object), cached: { targets: [{ provider: 'up', model: 'answer' }], cache: { enabled: true } } },
    });
    const ask = async (key: string) =>
      (await fetch(`${gateway.baseURL}/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}` },
        body: JSON.stringify({ model: 'cached', messages: [{ role: 'user', content: 'same question' }] }),
      })).headers.get('x-gateway-cache');
    expect(await ask(SEARCH_KEY)).toBe('MISS');
    expect(await ask(SEARCH_KEY)).toBe('HIT');
    expect(await ask(LIMITED_KEY)).toBe('MISS');
  });
});

describe('metadata and CORS', () => {
  it("key metadata lands on the trace; a client adds tags but cannot overwrite its key's", async () => {
    const gateway = await gatewayWith({ telemetry: { sink: 'duckdb', dataDir: mkdtempSync(join(tmpdir(), 'gateway-keys-')), logRequests: false } });
    const response = await fetch(`${gateway.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${SEARCH_KEY}`, 'x-gateway-metadata': '{"feature":"autocomplete","team":"billing"}' },
      body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }),
    });
    await gateway.app.traces!.flush();
    const row = await gateway.app.traces!.sink.getTrace(response.headers.get('x-gateway-trace-id')!);
    expect(row).toMatchObject({ key_id: 'search', metadata_keys: ['team', 'feature'], metadata_values: ['search', 'autocomplete'] });
  });

  it('CORS is off by default and answers only configured origins', async () => {
    const closed = await gatewayWith();
    const plain = await fetch(`${closed.baseURL}/chat/completions`, { method: 'POST', headers: { origin: 'https://app.example', authorization: `Bearer ${SEARCH_KEY}` }, body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'x' }] }) });
    expect(plain.headers.get('access-control-allow-origin')).toBeNull();
    const open = await gatewayWith({ auth: { ...(document().auth as object), corsOrigins: ['https://app.example'] } });
    const preflight = await fetch(`${open.baseURL}/chat/completions`, { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-headers')).toContain('authorization');
    const other = await fetch(`${open.baseURL}/chat/completions`, { method: 'OPTIONS', headers: { origin: 'https://evil.example' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('exposure', () => {
  it('refuses to start open on a public address', async () => {
    const { code, output } = await runGatewayToExit({ HOST: '0.0.0.0', PORT: '0' });
    expect(code).not.toBe(0);
    expect(output).toContain('auth: listening on 0.0.0.0 with no gateway keys');
    expect(output).not.toContain('gateway listening');
  });

  it('starts on a public address with no file when GATEWAY_KEY is set (how the image runs bare), and requires that key', async () => {
    const key = 'container-key-0123456789';
    const gateway = await startGatewayProcess({ HOST: '0.0.0.0', GATEWAY_KEY: key, GATEWAY_ADMIN_KEY: 'container-admin-0123456789' });
    try {
      const origin = gateway.origin.replace('0.0.0.0', '127.0.0.1');
      const ask = (headers: Record<string, string>) =>
        fetch(`${origin}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify({ model: 'chat-default', messages: [{ role: 'user', content: 'hi' }] }),
        });
      expect(((await (await ask({})).json()) as { error: { code: string } }).error.code).toBe('missing_api_key');
      expect((await ask({ authorization: `Bearer ${key}` })).status).toBe(200);
      expect((await fetch(`${origin}/admin/keys`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(401);
    } finally {
      gateway.child.kill('SIGTERM');
      await gateway.exited;
    }
  });
});
