/**
 * No secret the gateway holds reaches a client, even when an upstream echoes it: provider keys (with
 * and without the `sk-` prefix) in 401 and 400 bodies, in `param`, in a mid-stream error event and in
 * response headers; gateway keys and the admin key quoted back by an upstream. Over real sockets, with
 * the official SDK as one of the clients, and the gateway's log lines checked too.
 */
import OpenAI, { APIError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashKey } from '../../src/auth/key-hash.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startSecretEchoUpstream, type SecretEchoUpstream } from '../helpers/secret-echo-upstream.js';

const PROVIDER_KEYS = {
  openai: 'sk-proj-EchoTest-0123456789abcdefXYZ',
  vllm: 'vllm_8f3Kq29xLmPz0aQwZZ',
  claude: 'sk-ant-api03-echo-test-key-00112233',
  gemini: 'gemini.key+with/odd=chars-12345',
  // Shorter than 8: removed only where it stands alone as a token (an upstream echoes a key whole).
  short: 'k3y_s6',
};
const PLAIN_CLIENT_KEY = 'client-plain-key-0123456789';
const HASHED_CLIENT_KEY = 'client-hashed-key-0123456789';
const ADMIN_KEY = 'admin-key-echo-0123456789abc';

let upstream: SecretEchoUpstream;
let gateway: RunningGateway;
const logLines: string[] = [];

beforeAll(async () => {
  upstream = await startSecretEchoUpstream();
  gateway = await startGateway(
    {
      providers: {
        openai: { type: 'openai-compatible', baseUrl: `${upstream.url}/v1`, apiKey: PROVIDER_KEYS.openai },
        vllm: { type: 'openai-compatible', baseUrl: `${upstream.url}/v1`, apiKey: PROVIDER_KEYS.vllm },
        claude: { type: 'anthropic', baseUrl: upstream.url, apiKey: PROVIDER_KEYS.claude },
        gemini: { type: 'gemini', baseUrl: upstream.url, apiKey: PROVIDER_KEYS.gemini },
        short: { type: 'openai-compatible', baseUrl: `${upstream.url}/v1`, apiKey: PROVIDER_KEYS.short },
        placeholder: { type: 'openai-compatible', baseUrl: `${upstream.url}/v1`, apiKey: 'none' },
      },
      routing: { retry: { maxAttempts: 1 } },
      auth: {
        adminKey: ADMIN_KEY,
        keys: [
          { id: 'plain', key: PLAIN_CLIENT_KEY },
          { id: 'hashed', hash: hashKey(HASHED_CLIENT_KEY) },
        ],
      },
      logging: { level: 'info' },
      telemetry: { logRequests: true },
    },
    { logStream: { write: (line: string) => void logLines.push(line) } },
  );
});

afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
});

const ENCODED = (secret: string) => [secret, encodeURIComponent(secret)];

function expectNoSecret(text: string, secret: string): void {
  for (const form of ENCODED(secret)) expect(text).not.toContain(form);
}

async function post(model: string, init: { stream?: boolean; content?: string; key?: string } = {}) {
  const response = await fetch(`${gateway.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${init.key ?? PLAIN_CLIENT_KEY}` },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: init.content ?? 'hi' }], ...(init.stream ? { stream: true } : {}) }),
  });
  const text = await response.text();
  const headers = [...response.headers].map(([name, value]) => `${name}: ${value}`).join('\n');
  return { status: response.status, text, headers };
}

const providers = Object.entries(PROVIDER_KEYS) as [keyof typeof PROVIDER_KEYS, string][];
const UPSTREAM_CODES = { openai: 'invalid_api_key', vllm: 'invalid_api_key', claude: 'authentication_error', gemini: 'unauthenticated', short: 'invalid_api_key' };

describe.each(providers)('an upstream that echoes the %s key', (provider, secret) => {
  it('a 401 echoing it: the JSON error keeps the status and code, the key is gone from body and headers', async () => {
    const { status, text, headers } = await post(`${provider}/echo-401`);
    expect(status).toBe(401);
    const body = JSON.parse(text) as { error: { code: string; message: string } };
    expect(body.error.code).toBe(UPSTREAM_CODES[provider]);
    expect(body.error.message).toContain('[redacted]');
    expectNoSecret(text, secret);
    expectNoSecret(headers, secret);
  });

  it('a 400 echoing it in message, param and details, raw and percent-encoded', async () => {
    const { status, text } = await post(`${provider}/echo-400`);
    expect(status).toBe(400);
    expectNoSecret(text, secret);
    if (provider === 'openai' || provider === 'vllm' || provider === 'short') expect((JSON.parse(text) as { error: { param: string } }).error.param).toBe('[redacted]');
  });

  it('the official SDK’s error message does not carry it', async () => {
    const client = new OpenAI({ baseURL: gateway.baseURL, apiKey: PLAIN_CLIENT_KEY, maxRetries: 0 });
    const error = (await client.chat.completions.create({ model: `${provider}/echo-401`, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e)) as APIError;
    expect(error).toBeInstanceOf(APIError);
    expect(error.status).toBe(401);
    expectNoSecret(error.message, secret);
    expectNoSecret(JSON.stringify(error.error), secret);
  });

  it('an error event mid-stream: the stream_interrupted event carries no key', async () => {
    const { status, text, headers } = await post(`${provider}/echo-stream`, { stream: true });
    expect(status).toBe(200);
    const events = text.split('\n\n').filter(Boolean);
    const last = JSON.parse(events.at(-1)!.replace(/^data: /, '')) as { error: { code: string; message: string } };
    expect(last.error.code).toBe('stream_interrupted');
    expect(last.error.message).toContain('[redacted]');
    expectNoSecret(text, secret);
    expectNoSecret(headers, secret);

    const client = new OpenAI({ baseURL: gateway.baseURL, apiKey: PLAIN_CLIENT_KEY, maxRetries: 0 });
    const stream = await client.chat.completions.create({ model: `${provider}/echo-stream`, messages: [{ role: 'user', content: 'x' }], stream: true });
    const consumed = (async () => {
      for await (const _chunk of stream) {
        // read until the error event
      }
    })();
    const error = (await consumed.catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(Error);
    expectNoSecret(error.message, secret);
  });
});

describe('keys a client sent, quoted back by an upstream', () => {
  it('the gateway keys (from the config, hash-only, created by the admin API) and the admin key are scrubbed', async () => {
    const created = await fetch(`${gateway.origin}/admin/keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'from-api' }),
    });
    const { key: apiKey } = (await created.json()) as { key: string };
    // A hash-only key is known in plain text only while its own client is asking.
    for (const [caller, quoted] of [
      [PLAIN_CLIENT_KEY, PLAIN_CLIENT_KEY],
      [HASHED_CLIENT_KEY, HASHED_CLIENT_KEY],
      [apiKey, apiKey],
      [PLAIN_CLIENT_KEY, ADMIN_KEY],
      [PLAIN_CLIENT_KEY, apiKey],
    ]) {
      const { status, text } = await post('openai/echo-body', { key: caller, content: `my key is ${quoted}, thanks` });
      expect(status).toBe(400);
      expect(text).toContain('my key is [redacted], thanks');
      expectNoSecret(text, quoted!);
    }
  });
});

describe('secrets too short to remove wherever they appear', () => {
  it('are named at start by their config path, never by their value', () => {
    const warnings = logLines.map((line) => JSON.parse(line) as { level: number; msg: string; path?: string }).filter((line) => line.level === 40 && line.path);
    expect(warnings.map((line) => line.path).sort()).toEqual(['providers.placeholder.apiKey', 'providers.short.apiKey']);
    const startLog = warnings.map((line) => JSON.stringify(line)).join('\n');
    expect(startLog).not.toContain(PROVIDER_KEYS.short);
    expect(startLog).not.toContain('"none"');
  });
});

describe('log lines', () => {
  it('carry none of the echoed secrets, server errors (which are logged with their cause) included', async () => {
    for (const provider of Object.keys(PROVIDER_KEYS)) {
      expect((await post(`${provider}/echo-500`)).status).toBe(500);
      expect((await post(`${provider}/echo-500`, { key: HASHED_CLIENT_KEY, content: `${HASHED_CLIENT_KEY} ${ADMIN_KEY}` })).status).toBe(500);
    }
    const logs = logLines.join('\n');
    expect(logs).toContain('"msg":"request failed"');
    for (const secret of [...Object.values(PROVIDER_KEYS), PLAIN_CLIENT_KEY, HASHED_CLIENT_KEY, ADMIN_KEY]) expectNoSecret(logs, secret);
  });
});
