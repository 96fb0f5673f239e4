/**
 * Where state lives: each piece (cache, limits and budgets, API-created keys, canary state, stored
 * Responses API conversations) goes to the
 * store `state.<piece>` names — checked by looking into a real Redis — and a setting for one piece never
 * moves another.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { STATE_PIECES, type StatePiece, type StoreKind } from '../../src/state/state-config.js';
import { startGateway, waitFor, type RunningGateway } from '../helpers/gateway.js';
import { freePort } from '../helpers/free-port.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';

const APP_KEY = 'state-test-app-key-0123456789';
const ADMIN_KEY = 'state-test-admin-key-0123456789';

/** The Redis key prefix each piece writes under. */
const PREFIX: Record<StatePiece, string> = {
  cache: 'gateway:cache:',
  limits: 'gateway:limits:',
  keys: 'gateway:keys',
  canary: 'gateway:canary:',
  responses: 'gateway:responses:',
};

let redis: RedisServer;
let inspect: Redis;

beforeAll(async () => {
  redis = await startRedisServer();
  inspect = new Redis(redis.url);
});
afterAll(async () => {
  inspect?.disconnect();
  await redis?.stop();
});
beforeEach(async () => {
  await inspect.flushall();
});

function document(extra: Record<string, unknown>): Record<string, unknown> {
  return {
    providers: { sim: { type: 'mock' } },
    routes: {
      chat: { targets: [{ provider: 'sim', model: 'mock-1' }], cache: { enabled: true } },
      split: {
        strategy: 'canary',
        canaryWeight: 5,
        plan: { steps: [5, 100], intervalMs: 3_600_000 },
        baseline: { provider: 'sim', model: 'mock-1' },
        canary: { provider: 'sim', model: 'mock-2' },
      },
    },
    // Priced, so a budget reservation is counted.
    telemetry: { pricing: { 'mock-1': { input: 1, output: 1 } } },
    // Where state goes is the question here, not how fast Redis answers: on a loaded machine (CI runs two
    // test files at once) a command can take longer than the production defaults (50 ms for the cache, 2 s
    // for conversations), which would read as a bypass or a 503.
    cache: { redis: { timeoutMs: 10_000 } },
    responses: { redis: { timeoutMs: 10_000 } },
    auth: {
      adminKey: ADMIN_KEY,
      keys: [{ id: 'app', key: APP_KEY, limits: { requestsPerMinute: 1000 }, budget: { dailyUsd: 1000 } }],
    },
    ...extra,
  };
}

async function chat(gateway: RunningGateway): Promise<string | null> {
  const response = await fetch(`${gateway.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${APP_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'where does state live?' }] }),
  });
  expect(response.status).toBe(200);
  return response.headers.get('x-gateway-cache');
}

/** Touches every piece of state: a cached answer, a limit window and budget, an API key, canary state. */
async function exercise(gateway: RunningGateway): Promise<void> {
  await chat(gateway);
  // The cache write is in the background: a hit proves it landed, wherever it went.
  await waitFor(async () => (await chat(gateway)) === 'HIT', 15_000);
  const created = await fetch(`${gateway.origin}/admin/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ id: 'made-by-api' }),
  });
  expect(created.status).toBe(201);
  await gateway.app.canaries.tick();
  const stored = await fetch(`${gateway.baseURL}/responses`, {
    method: 'POST',
    headers: { authorization: `Bearer ${APP_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'sim/mock-1', input: 'keep this conversation' }),
  });
  expect(stored.status).toBe(200);
}

async function piecesInRedis(): Promise<StatePiece[]> {
  const keys = await inspect.keys('*');
  return STATE_PIECES.filter((piece) => keys.some((key) => key.startsWith(PREFIX[piece])));
}

describe('where state lives', () => {
  const everywhere = (kind: StoreKind) => Object.fromEntries(STATE_PIECES.map((piece) => [piece, kind]));

  it('with a Redis URL and no state settings, every piece is in Redis', async () => {
    const gateway = await startGateway(document({ redis: { url: redis.url } }));
    try {
      expect(gateway.app.cache?.store.kind).toBe('redis');
      await exercise(gateway);
      expect(await piecesInRedis()).toEqual([...STATE_PIECES]);
    } finally {
      await gateway.close();
    }
  });

  it('the cache kept in memory moves nothing else: limits, keys, canary and responses stay in Redis', async () => {
    const gateway = await startGateway(document({ redis: { url: redis.url }, state: { cache: 'memory' } }));
    try {
      await exercise(gateway);
      expect(await piecesInRedis()).toEqual(['limits', 'keys', 'canary', 'responses']);
    } finally {
      await gateway.close();
    }
  });

  for (const piece of STATE_PIECES) {
    it(`only ${piece} in Redis: nothing else is written there`, async () => {
      const gateway = await startGateway(document({ redis: { url: redis.url }, state: { ...everywhere('memory'), [piece]: 'redis' } }));
      try {
        await exercise(gateway);
        expect(await piecesInRedis()).toEqual([piece]);
      } finally {
        await gateway.close();
      }
    });
  }

  it('every piece in memory: a Redis URL that answers nothing is never dialled, and nothing is logged about it', async () => {
    const lines: string[] = [];
    const deadRedis = `redis://127.0.0.1:${await freePort()}`;
    const gateway = await startGateway(
      document({ redis: { url: deadRedis }, state: everywhere('memory'), logging: { level: 'warn' } }),
      { logStream: { write: (line) => void lines.push(line) } },
    );
    try {
      await exercise(gateway);
      expect(lines.filter((line) => /redis|MaxRetriesPerRequest|ECONNREFUSED/i.test(line))).toEqual([]);
      expect(await piecesInRedis()).toEqual([]);
    } finally {
      await gateway.close();
    }
  });
});

describe('when the Redis that holds limits and keys does not answer', () => {
  it('a keyed request and an admin change get 503 state_store_unavailable, not a 500', async () => {
    const deadRedis = `redis://127.0.0.1:${await freePort()}`;
    const gateway = await startGateway(document({ redis: { url: deadRedis }, state: { ...Object.fromEntries(STATE_PIECES.map((piece) => [piece, 'redis'])), cache: 'memory' } }));
    try {
      const response = await fetch(`${gateway.baseURL}/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${APP_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }),
      });
      expect(response.status).toBe(503);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('state_store_unavailable');
      const created = await fetch(`${gateway.origin}/admin/keys`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ id: 'made-while-down' }),
      });
      expect(created.status).toBe(503);
      expect(((await created.json()) as { error: { code: string } }).error.code).toBe('state_store_unavailable');
    } finally {
      await gateway.close();
    }
  });
});

describe('when the Redis that holds Responses API conversations does not answer', () => {
  let gateway: RunningGateway;
  beforeAll(async () => {
    const deadRedis = `redis://127.0.0.1:${await freePort()}`;
    const memory = Object.fromEntries(STATE_PIECES.map((piece) => [piece, 'memory']));
    gateway = await startGateway(document({ redis: { url: deadRedis }, state: { ...memory, responses: 'redis' }, responses: { redis: { timeoutMs: 200 } } }));
  });
  afterAll(async () => {
    await gateway?.close();
  });

  const headers = { authorization: `Bearer ${APP_KEY}`, 'content-type': 'application/json' };
  const create = (body: Record<string, unknown>) => fetch(`${gateway.baseURL}/responses`, { method: 'POST', headers, body: JSON.stringify({ model: 'chat', input: 'hi', ...body }) });
  async function expectUnavailable(response: Response): Promise<void> {
    expect(response.status).toBe(503);
    expect(((await response.json()) as { error: { code: string; type: string } }).error).toMatchObject({ code: 'state_store_unavailable', type: 'server_error' });
  }

  it('continuing a conversation (previous_response_id) gets 503 state_store_unavailable, not a 500 or a 400 not-found', async () => {
    await expectUnavailable(await create({ previous_response_id: 'resp_0123456789abcdef' }));
  });

  it('GET and DELETE /v1/responses/{id} (and its input items) get 503 state_store_unavailable', async () => {
    for (const [method, path] of [['GET', ''], ['DELETE', ''], ['GET', '/input_items']]) {
      await expectUnavailable(await fetch(`${gateway.baseURL}/responses/resp_0123456789abcdef${path}`, { method, headers: { authorization: `Bearer ${APP_KEY}` } }));
    }
  });

  it('a response that cannot be stored fails with 503 state_store_unavailable (retryable), instead of one its client cannot continue', async () => {
    await expectUnavailable(await create({}));
    // Answered again from the response cache: still not stored, still refused, before any byte is sent.
    await expectUnavailable(await create({ stream: true }));
    // Streamed from the upstream: the closing events carry the error instead of response.completed.
    const streamed = await create({ stream: true, input: 'a question not cached yet' });
    expect(streamed.status).toBe(200);
    const text = await streamed.text();
    expect(text).not.toContain('response.completed');
    const events = text.split('\n\n').filter(Boolean).map((event) => JSON.parse(event.slice(event.indexOf('data: ') + 6)) as { type: string; code?: string });
    expect(events.slice(-2)).toMatchObject([{ type: 'error', code: 'state_store_unavailable' }, { type: 'response.failed' }]);
    // Nothing to store: answered as usual.
    expect((await create({ store: false })).status).toBe(200);
  });
});

describe('closing a gateway', () => {
  it('closes every Redis connection it opened (cache, limits, keys, canary state)', async () => {
    const connections = async () => (await inspect.client('LIST') as string).trim().split('\n').length;
    const before = await connections();
    const gateway = await startGateway(document({ redis: { url: redis.url } }));
    await exercise(gateway);
    expect(await connections()).toBeGreaterThan(before);
    await gateway.close();
    // Disconnects reach the server asynchronously: wait for the count to come back, or time out.
    const deadline = Date.now() + 5000;
    while ((await connections()) > before && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await connections()).toBe(before);
  });
});
