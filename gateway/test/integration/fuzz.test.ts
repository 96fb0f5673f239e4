/**
 * Thousands of random and malformed requests — bodies, headers, paths, methods — against a gateway in
 * front of a healthy upstream: never a 5xx (the upstream never fails, so any 5xx would be the gateway's
 * own), never a crash, memory flat, and the provider key never shows up in a reply, a log line or a
 * trace row.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startMockUpstream, type MockUpstream } from '../helpers/mock-upstream.js';
import { seededRandom } from '../helpers/seeded-random.js';

const PROVIDER_KEY = 'sk-provider-fuzz-SECRET-0123456789';
const CLIENT_KEY = 'sk-gw-fuzz-client-0123456789';

let upstream: MockUpstream;
let gateway: RunningGateway;
const logs: string[] = [];

beforeAll(async () => {
  upstream = await startMockUpstream();
  gateway = await startGateway(
    {
      providers: { up: { type: 'openai-compatible', baseUrl: upstream.url, apiKey: PROVIDER_KEY, timeoutMs: 2000 } },
      routes: { chat: { targets: [{ provider: 'up', model: 'answer' }], cache: { enabled: true } } },
      auth: { keys: [{ id: 'fuzz', key: CLIENT_KEY }], adminKey: 'sk-gw-fuzz-admin-0123456789' },
      telemetry: { sink: 'duckdb', dataDir: mkdtempSync(join(tmpdir(), 'gateway-fuzz-')), logBodies: true, logRequests: true },
      logging: { level: 'info' },
      server: { bodyLimitBytes: 256 * 1024 },
    },
    { logStream: { write: (line: string) => void logs.push(line) } },
  );
});

afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
});

const random = seededRandom(20261126);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
const int = (max: number): number => Math.floor(random() * max);

function randomString(max: number): string {
  const alphabet = ['a', 'Z', '0', ' ', '"', '\\', '{', '}', '[', ']', ':', ',', 'é', '🌍', '\u0000', '\n', '%', '/', '.', '<'];
  let out = '';
  const length = int(max);
  for (let i = 0; i < length; i++) out += pick(alphabet);
  return out;
}

function randomJson(depth: number): unknown {
  switch (depth > 4 ? int(4) : int(7)) {
    case 0:
      return randomString(20);
    case 1:
      return pick([0, -1, 1.5, 1e308, -1e-308, Number.MAX_SAFE_INTEGER]);
    case 2:
      return pick([true, false, null]);
    case 3:
      return randomString(200);
    case 4:
      return Array.from({ length: int(4) }, () => randomJson(depth + 1));
    default:
      return Object.fromEntries(Array.from({ length: int(5) }, () => [pick(['model', 'messages', 'role', 'content', 'stream', 'tools', 'n', '__proto__', 'constructor', randomString(8)]), randomJson(depth + 1)]));
  }
}

const validChat = (): Record<string, unknown> => ({ model: 'chat', messages: [{ role: 'user', content: 'hello' }] });

function randomBody(): string | Buffer | undefined {
  switch (int(10)) {
    case 0:
      return undefined;
    case 1:
      return Buffer.from(Array.from({ length: int(300) }, () => int(256)));
    case 2:
      return JSON.stringify(validChat()).slice(0, int(40));
    case 3:
      return '['.repeat(200 + int(2000)) + ']'.repeat(10);
    case 4: {
      const body = validChat();
      body[pick(['model', 'messages', 'stream', 'temperature', 'n', 'max_tokens', 'tools', 'stream_options', 'user'])] = randomJson(0);
      return JSON.stringify(body);
    }
    case 5: {
      const body = validChat();
      (body.messages as unknown[]).push(randomJson(0));
      return JSON.stringify(body);
    }
    case 6:
      return JSON.stringify({ ...validChat(), stream: random() < 0.5, messages: [{ role: 'user', content: randomString(400) }] });
    case 7:
      return JSON.stringify({ model: pick(['up/answer', 'nope/x', '', 'chat', randomString(30)]), input: randomJson(0), prompt: randomJson(0) });
    case 8:
      return JSON.stringify({ ...validChat(), messages: [{ role: 'user', content: 'x'.repeat(300 * 1024) }] });
    default:
      return JSON.stringify(randomJson(0));
  }
}

const PATHS = ['/v1/chat/completions', '/v1/completions', '/v1/embeddings', '/v1/messages', '/v1/messages/count_tokens?beta=true', '/v1/responses', '/v1/responses/resp_x', '/v1/responses/resp_x/input_items', '/v1/models', '/v1/feedback', '/admin/keys', '/admin/keys/x', '/api/export', '/api/traces/abc', '/healthz', '/readyz', '/metrics'];

/** Raw paths may hold any printable ASCII; everything else is percent-encoded (Node refuses it otherwise). */
function randomPath(): string {
  return rawPath().replace(/[^\x21-\x7e]/gu, (c) => encodeURIComponent(c));
}

function rawPath(): string {
  switch (int(6)) {
    case 0:
      return `/${randomString(30).replace(/[\s\u0000#?]/g, '')}`;
    case 1:
      return `${pick(PATHS)}?${encodeURIComponent(randomString(20))}=${encodeURIComponent(randomString(20))}`;
    case 2:
      return `/v1/${'a'.repeat(int(5000))}`;
    case 3:
      return `${pick(PATHS)}/%2e%2e/%00${int(10)}`;
    default:
      return pick(PATHS);
  }
}

function randomHeaders(body: string | Buffer | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  if (random() < 0.8) headers.authorization = `Bearer ${pick([CLIENT_KEY, CLIENT_KEY, 'wrong', '', randomString(40).replace(/[^\x21-\x7e]/g, 'x')])}`;
  if (random() < 0.7) headers['content-type'] = pick(['application/json', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=latin1', 'garbage']);
  if (random() < 0.2) headers['x-gateway-metadata'] = pick(['{"a":"b"}', '[1]', '{', JSON.stringify({ a: 1 }), randomString(30).replace(/[^\x20-\x7e]/g, '')]);
  if (random() < 0.2) headers['x-gateway-timeout-ms'] = pick(['-1', '0', '1', 'abc', '99999999999', '500']);
  if (random() < 0.2) headers['x-request-id'] = pick(['ok-id', 'a'.repeat(500), 'bad id with spaces', '../../etc']);
  if (random() < 0.2) headers['x-gateway-cache'] = pick(['no-store', 'refresh', 'weird']);
  if (random() < 0.05) headers['x-huge'] = 'h'.repeat(40 * 1024);
  if (random() < 0.1) headers.traceparent = pick(['00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', 'garbage', '00-zz-yy-01']);
  if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
  return headers;
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function send(method: string, path: string, headers: Record<string, string>, body: string | Buffer | undefined): Promise<Reply> {
  const url = new URL(gateway.origin);
  return new Promise((resolve) => {
    const req = httpRequest({ host: url.hostname, port: url.port, method, path, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      res.on('error', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    // A refused request head (e.g. headers over the limit) may end in a reset: that is not a gateway failure.
    req.on('error', () => resolve({ status: -1, headers: {}, body: '' }));
    if (body !== undefined) req.write(body);
    req.end();
  });
}

function heapAfterGc(): number {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

describe('fuzz', () => {
  it('survives thousands of random and malformed requests without a 5xx, a crash or a leak', async () => {
    const replies: Reply[] = [];
    const round = async (count: number): Promise<void> => {
      for (let i = 0; i < count; i += 20) {
        const batch = Array.from({ length: 20 }, () => {
          const body = random() < 0.85 ? randomBody() : undefined;
          return send(pick(['POST', 'POST', 'POST', 'GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD']), randomPath(), randomHeaders(body), body);
        });
        replies.push(...(await Promise.all(batch)));
      }
    };
    await round(1000); // warm up allocations and caches
    const before = heapAfterGc();
    await round(3000);
    const after = heapAfterGc();

    const serverErrors = replies.filter((reply) => reply.status >= 500);
    expect(serverErrors.map((r) => `${r.status} ${r.body.slice(0, 200)}`)).toEqual([]);
    const answered = replies.filter((reply) => reply.status > 0);
    expect(answered.length).toBeGreaterThan(3900);
    for (const reply of answered) {
      if (reply.status >= 400 && String(reply.headers['content-type'] ?? '').includes('json') && reply.body) {
        const error = (JSON.parse(reply.body) as { error?: { code?: unknown; message?: unknown; type?: unknown } }).error;
        expect(typeof error?.message).toBe('string');
        expect(typeof error?.type).toBe('string');
      }
    }
    const statuses = new Set(answered.map((reply) => reply.status));
    // The mix proves the fuzz reaches past validation: successes, client errors of several kinds.
    for (const status of [200, 400, 401, 404, 413]) expect(statuses).toContain(status);
    // Flat: the heap after 3,000 more requests is within 15 MB of where it was.
    expect(after - before).toBeLessThan(15 * 1024 * 1024);

    // Still alive and serving.
    expect((await fetch(`${gateway.origin}/healthz`)).status).toBe(200);

    // The provider key is nowhere: replies, log lines, trace rows.
    await gateway.app.traces!.flush();
    const everything = [
      ...replies.map((r) => r.body + JSON.stringify(r.headers)),
      ...logs,
      JSON.stringify(await gateway.app.traces!.sink.select('SELECT * FROM requests')),
    ].join('\n');
    expect(everything).not.toContain(PROVIDER_KEY);
    expect(everything).not.toContain(CLIENT_KEY);
    expect(logs.length).toBeGreaterThan(100);
  }, 120_000);
});
