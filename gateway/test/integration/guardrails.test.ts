/**
 * Guardrails over real sockets, with the official OpenAI SDK as the client and an echoing upstream
 * (gateway/test/helpers/mock-upstream.ts `echo-<n>`, `turns`) so a test controls what comes back: every
 * kind and action, on requests and on answers, JSON and streams (buffered and incremental), the
 * webhook's timeout and failure modes against a real HTTP service that is slow, down or answers garbage,
 * every dialect (chat, completions, embeddings, Responses), and what each verdict leaves behind:
 * /metrics, the trace row (never the sensitive text), x-gateway-guardrails.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI, { APIError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/free-port.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { metricValue } from '../helpers/metrics.js';
import { startMockUpstream, type MockUpstream } from '../helpers/mock-upstream.js';
import { storedTrace } from '../helpers/trace-rows.js';
import { startWebhookServer, type WebhookServer } from '../helpers/webhook-server.js';

const EMAIL = 'jane.doe@example.com';
const CARD = '4111 1111 1111 1111';
const GITHUB_TOKEN = `ghp_${'Zx9'.repeat(12)}`;
const SCHEMA = { type: 'object', required: ['answer'], properties: { answer: { type: 'number' } } };

let upstream: MockUpstream;
let hooks: WebhookServer;
let gateway: RunningGateway;
let client: OpenAI;

const echo = (name: string, chunk = 4) => ({ provider: 'up', model: `echo-${chunk}~${name.replace(/\W/g, '')}` });
const route = (targets: unknown[], guardrails: { input?: string[]; output?: string[] }) => ({ targets, guardrails, retry: { maxAttempts: 1 } });

beforeAll(async () => {
  upstream = await startMockUpstream();
  hooks = await startWebhookServer();
  const downPort = await freePort();
  gateway = await startGateway({
    providers: { up: { type: 'openai-compatible', baseUrl: upstream.url } },
    telemetry: { sink: 'duckdb', dataDir: mkdtempSync(join(tmpdir(), 'gateway-guardrails-')), flushIntervalMs: 50, logBodies: true },
    guardrails: {
      'mask-pii': { kind: 'pii', action: 'redact' },
      'no-secrets': { kind: 'secrets', action: 'deny' },
      'flag-words': { kind: 'words', words: ['refund', 'chargeback'], action: 'flag' },
      'no-codenames': { kind: 'regex', patterns: ['\\bPRJ-\\d{4}\\b'], action: 'redact', replacement: '[codename]' },
      'prompt-size': { kind: 'size', maxPromptTokens: 200, action: 'deny' },
      'deny-pii': { kind: 'pii', detectors: ['email', 'payment_card'], action: 'deny' },
      'buffer-pii': { kind: 'pii', detectors: ['email'], action: 'redact', stream: 'buffer' },
      'buffer-deny': { kind: 'pii', detectors: ['email'], action: 'deny', stream: 'buffer' },
      'answer-retry': { kind: 'json_schema', schema: SCHEMA, action: 'retry', maxRetries: 2 },
      'answer-fallback': { kind: 'json_schema', schema: SCHEMA, action: 'fallback' },
      'answer-asked': { kind: 'json_schema', schema: 'request', action: 'deny' },
      'hook-open': { kind: 'webhook', url: hooks.url, timeoutMs: 300, failMode: 'open', headers: { authorization: 'Bearer hook-secret-123456' } },
      'hook-closed': { kind: 'webhook', url: hooks.url, timeoutMs: 300, failMode: 'closed' },
      'hook-down': { kind: 'webhook', url: `http://127.0.0.1:${downPort}/check`, timeoutMs: 300, failMode: 'closed' },
      'hook-down-open': { kind: 'webhook', url: `http://127.0.0.1:${downPort}/check`, timeoutMs: 300, failMode: 'open' },
      'hook-patient': { kind: 'webhook', url: hooks.url, timeoutMs: 10_000, failMode: 'open' },
    },
    routes: {
      'in-redact': route([echo('in-redact')], { input: ['mask-pii', 'no-codenames'] }),
      'in-deny': route([echo('in-deny')], { input: ['no-secrets'] }),
      'in-flag': route([echo('in-flag')], { input: ['flag-words'] }),
      'in-size': route([echo('in-size')], { input: ['prompt-size'] }),
      'out-redact': route([echo('out-redact', 3)], { output: ['mask-pii', 'no-codenames'] }),
      'out-deny': route([echo('out-deny', 3)], { output: ['deny-pii'] }),
      'out-buffer': route([echo('out-buffer', 3)], { output: ['buffer-pii'] }),
      'out-buffer-deny': route([echo('out-buffer-deny', 3)], { output: ['buffer-deny'] }),
      'schema-retry': route([{ provider: 'up', model: 'turns~retry' }], { output: ['answer-retry'] }),
      'schema-retry-exhausted': route([{ provider: 'up', model: 'turns~exhausted' }], { output: ['answer-retry'] }),
      'schema-retry-stream': route([{ provider: 'up', model: 'turns~retrystream' }], { output: ['answer-retry'] }),
      'schema-fallback': route([{ provider: 'up', model: 'turns~fallback' }, echo('schema-fallback')], { output: ['answer-fallback'] }),
      'schema-asked': route([echo('schema-asked')], { output: ['answer-asked'] }),
      'hook-open': route([echo('hook-open')], { input: ['hook-open'] }),
      'hook-closed': route([echo('hook-closed')], { input: ['hook-closed'] }),
      'hook-down': route([echo('hook-down')], { input: ['hook-down'] }),
      'hook-down-open': route([echo('hook-down-open')], { input: ['hook-down-open'] }),
      'hook-output': route([echo('hook-output', 3)], { output: ['hook-closed'] }),
      'hook-patient': route([echo('hook-patient')], { input: ['hook-patient'] }),
      'call-redact': route([{ provider: 'up', model: 'call-echo-3~callredact' }], { output: ['mask-pii'] }),
      'call-deny': route([{ provider: 'up', model: 'call-echo-3~calldeny' }], { output: ['no-secrets'] }),
      'call-buffer': route([{ provider: 'up', model: 'call-echo-3~callbuffer' }], { output: ['buffer-pii'] }),
    },
  });
  client = new OpenAI({ baseURL: gateway.baseURL, apiKey: 'client', maxRetries: 0 });
});

afterAll(async () => {
  await gateway?.close();
  await Promise.all([upstream?.close(), hooks?.close()]);
});

async function chat(model: string, content: string | string[], extra: Record<string, unknown> = {}) {
  const messages = (Array.isArray(content) ? content : [content]).map((text) => ({ role: 'user' as const, content: text }));
  const { data, response } = await client.chat.completions.create({ model, messages, ...extra } as OpenAI.ChatCompletionCreateParamsNonStreaming).withResponse();
  return { text: data.choices[0]?.message.content ?? '', headers: response.headers, traceId: response.headers.get('x-gateway-trace-id')! };
}

async function refusal(promise: Promise<unknown>): Promise<APIError> {
  const error = await promise.catch((e: unknown) => e);
  if (!(error instanceof APIError)) throw new Error(`expected an API error, got ${String(error)}`);
  return error;
}

/** A raw streamed chat request: every SSE data payload, in order. */
async function rawStream(model: string, content: string): Promise<{ status: number; events: string[]; headers: Headers }> {
  const response = await fetch(`${gateway.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, stream: true, messages: [{ role: 'user', content }] }),
  });
  const text = await response.text();
  const events = response.headers.get('content-type')?.includes('event-stream') ? text.split('\n\n').filter(Boolean).map((e) => e.replace(/^data: /, '')) : [text];
  return { status: response.status, events, headers: response.headers };
}

function streamedText(events: readonly string[]): string {
  return events
    .filter((e) => e !== '[DONE]')
    .map((e) => JSON.parse(e) as { choices?: { delta?: { content?: string } }[] })
    .map((e) => e.choices?.[0]?.delta?.content ?? '')
    .join('');
}

function lastUpstreamText(): string {
  const messages = upstream.requests.at(-1)!.body.messages as { content: string }[];
  return messages.map((m) => m.content).join('\n');
}

describe('input guardrails', () => {
  it('redact: the upstream, the trace and the answer see the redacted prompt; the trace says what was found, never the text', async () => {
    const answer = await chat('in-redact', `I am ${EMAIL}, card ${CARD}, on PRJ-0042`);
    expect(lastUpstreamText()).toBe('I am [EMAIL], card [PAYMENT_CARD], on [codename]');
    expect(answer.text).toBe('I am [EMAIL], card [PAYMENT_CARD], on [codename]');
    expect(answer.headers.get('x-gateway-guardrails')).toBe('mask-pii:redact, no-codenames:redact');
    const row = await storedTrace(gateway.app, answer.traceId);
    expect([row.guardrail_names, row.guardrail_stages, row.guardrail_verdicts, row.guardrail_findings]).toEqual([
      ['mask-pii', 'no-codenames'],
      ['input', 'input'],
      ['redact', 'redact'],
      ['email:1,payment_card:1', 'pattern_0:1'],
    ]);
    expect(row.guardrail_trips).toBe(0);
    expect(JSON.stringify(row)).not.toContain(EMAIL);
    expect(JSON.stringify(row)).not.toContain('4111');
  });

  it('deny: 400 with a code naming the guardrail and the field; the upstream is never called', async () => {
    const before = upstream.requests.length;
    const error = await refusal(chat('in-deny', ['fine', `my token is ${GITHUB_TOKEN}`]));
    expect([error.status, error.code, error.param, error.type]).toEqual([400, 'guardrail_denied:no-secrets', 'messages[1].content', 'invalid_request_error']);
    expect(error.message).not.toContain(GITHUB_TOKEN);
    expect(upstream.requests.length).toBe(before);
    // Bodies are logged: the trace keeps the refused request, not the secret it was refused for.
    const row = await storedTrace(gateway.app, error.headers!.get('x-gateway-trace-id')!);
    expect(row.guardrail_verdicts).toEqual(['deny']);
    expect(row.request_body).toContain('my token is [GITHUB_TOKEN]');
    expect(JSON.stringify(row)).not.toContain(GITHUB_TOKEN);
  });

  it('deny sees through disguises: a zero-width space inside a token, full-width digits and ＠', async () => {
    const before = upstream.requests.length;
    const token = `${GITHUB_TOKEN.slice(0, 12)}\u200b${GITHUB_TOKEN.slice(12)}`;
    expect((await refusal(chat('in-deny', `my token is ${token}`))).code).toBe('guardrail_denied:no-secrets');
    const card = '４１１１ １１１１ １１１１ １１１１';
    expect((await refusal(chat('out-deny', `card ${card}`))).code).toBe('guardrail_denied:deny-pii');
    expect((await refusal(chat('out-deny', 'mail jane.doe＠example.com'))).code).toBe('guardrail_denied:deny-pii');
    expect(upstream.requests.length).toBe(before + 2);
  });

  it('flag: the request goes through unchanged, tagged on the trace and in the reply header', async () => {
    const answer = await chat('in-flag', 'I want a Refund, or a chargeback');
    expect(lastUpstreamText()).toBe('I want a Refund, or a chargeback');
    expect(answer.headers.get('x-gateway-guardrails')).toBe('flag-words:flag');
    expect((await storedTrace(gateway.app, answer.traceId)).guardrail_findings).toEqual(['word:2']);
  });

  it('size: a prompt over the limit is refused before any upstream call', async () => {
    const error = await refusal(chat('in-size', 'word '.repeat(400)));
    expect(error.code).toBe('guardrail_denied:prompt-size');
    expect((await chat('in-size', 'short')).text).toBe('short');
  });

  it('checks the prompt of completions and the input of embeddings too', async () => {
    const completion = await refusal(client.completions.create({ model: 'in-deny', prompt: `key ${GITHUB_TOKEN}` }));
    expect(completion.code).toBe('guardrail_denied:no-secrets');
    expect(completion.param).toBe('prompt');
    const embedding = await refusal(client.embeddings.create({ model: 'in-deny', input: ['ok', `key ${GITHUB_TOKEN}`] }));
    expect([embedding.code, embedding.param]).toEqual(['guardrail_denied:no-secrets', 'input[1]']);
    await client.embeddings.create({ model: 'in-redact', input: `mail ${EMAIL}` });
    expect(upstream.requests.at(-1)!.body.input).toBe('mail [EMAIL]');
  });
});

describe('output guardrails on JSON answers', () => {
  it('redact rewrites the answer', async () => {
    const answer = await chat('out-redact', `Reach me at ${EMAIL} about PRJ-1234.`);
    expect(answer.text).toBe('Reach me at [EMAIL] about [codename].');
    expect(answer.headers.get('x-gateway-guardrails')).toBe('mask-pii:redact, no-codenames:redact');
  });

  it('deny refuses the answer with the guardrail-named code, and the answer text never leaves', async () => {
    const error = await refusal(chat('out-deny', `Sure: ${CARD}`));
    expect([error.status, error.code, error.param]).toEqual([400, 'guardrail_denied:deny-pii', null]);
    expect(JSON.stringify(error.error)).not.toContain('4111');
  });

  it('json_schema retry: an invalid answer is asked for again on the same target until one fits', async () => {
    const answer = await chat('schema-retry', ['not json at all', '{"answer": "seven"}', '{"answer": 7}']);
    expect(answer.text).toBe('{"answer": 7}');
    expect(answer.headers.get('x-gateway-attempts')).toBe('3');
    expect(answer.headers.get('x-gateway-guardrails')).toBe('answer-retry:retry, answer-retry:retry');
    const row = await storedTrace(gateway.app, answer.traceId);
    expect([row.guardrail_verdicts, row.retries, row.guardrail_trips]).toEqual([['retry', 'retry', 'pass'], 2, 2]);
  });

  it('json_schema retry gives up after maxRetries with a deny', async () => {
    const error = await refusal(chat('schema-retry-exhausted', ['nope', 'still no', 'never', '{"answer": 1}']));
    expect(error.code).toBe('guardrail_denied:answer-retry');
  });

  it('json_schema fallback: an invalid answer moves on to the next target', async () => {
    const answer = await chat('schema-fallback', ['{"answer": []}', '{"answer": 3}']);
    expect(answer.text).toBe('{"answer": 3}');
    expect([answer.headers.get('x-gateway-model'), answer.headers.get('x-gateway-attempts')]).toEqual(['echo-4~schemafallback', '2']);
  });

  it('json_schema from the request: the answer must match the response_format the client asked for', async () => {
    const responseFormat = { type: 'json_schema', json_schema: { name: 'answer', schema: SCHEMA } };
    expect((await chat('schema-asked', '{"answer": 1}', { response_format: responseFormat })).text).toBe('{"answer": 1}');
    const error = await refusal(chat('schema-asked', '{"answer": "one"}', { response_format: responseFormat }));
    expect(error.code).toBe('guardrail_denied:answer-asked');
    // Without a schema in the request there is nothing to hold the answer to.
    expect((await chat('schema-asked', 'free text')).text).toBe('free text');
  });
});

describe('output guardrails on streams', () => {
  it('incremental redact: text flows while it is checked, a match split across chunks never leaves in part', async () => {
    const content = `Mail ${EMAIL} now. ${'Then a long tail of ordinary words. '.repeat(40)}`;
    const { status, events, headers } = await rawStream('out-redact', content);
    expect(status).toBe(200);
    expect(events.at(-1)).toBe('[DONE]');
    expect(streamedText(events)).toBe(content.replace(EMAIL, '[EMAIL]'));
    for (const event of events) expect(event).not.toMatch(/jane|example\.com/);
    // The upstream sent 3-character chunks; the client got text on its way (in batches past the route's
    // 256-character holdback, the longest its regex guardrail may match), not all at the end.
    const withText = events.filter((e) => e !== '[DONE]' && streamedText([e]).length > 0);
    expect(withText.length).toBeGreaterThan(10);
    expect(headers.get('content-type')).toContain('text/event-stream');
  });

  it('incremental deny: the stream ends with the documented error event and no [DONE]; the SDK raises its code', async () => {
    const before = `Here it is, after a long preamble that the client reads while it streams. ${'More words. '.repeat(10)}`;
    const { status, events } = await rawStream('out-deny', `${before}${CARD} and the rest`);
    expect(status).toBe(200);
    expect(events).not.toContain('[DONE]');
    const last = JSON.parse(events.at(-1)!) as { error: { code: string; type: string } };
    expect(last.error).toMatchObject({ code: 'guardrail_denied:deny-pii', type: 'invalid_request_error' });
    // What was sent is the text before the match (all but the held-back tail), never any of the card.
    const sent = streamedText(events.slice(0, -1));
    expect(sent.length).toBeGreaterThan(before.length - 80);
    expect(before.startsWith(sent)).toBe(true);
    const stream = await client.chat.completions.create({ model: 'out-deny', stream: true, messages: [{ role: 'user', content: `mail ${EMAIL}` }] });
    const failure = await (async () => {
      for await (const _chunk of stream) {
        // read until the deny
      }
    })().catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(APIError);
    expect((failure as APIError).code).toBe('guardrail_denied:deny-pii');
  });

  it('a denied stream is on the trace with its code and verdict, and is never cached as complete', async () => {
    const response = await fetch(`${gateway.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'out-deny', stream: true, messages: [{ role: 'user', content: `x ${EMAIL}` }] }),
    });
    await response.text();
    const row = await storedTrace(gateway.app, response.headers.get('x-gateway-trace-id')!);
    expect([row.status, row.error_code, row.guardrail_verdicts, row.guardrail_trips]).toEqual([200, 'guardrail_denied:deny-pii', ['deny'], 1]);
  });

  it('buffer: the whole answer is checked before a byte is sent (redact keeps the chunking; deny is an ordinary 400)', async () => {
    const { status, events, headers } = await rawStream('out-buffer', `to ${EMAIL} ok`);
    expect(status).toBe(200);
    expect(streamedText(events)).toBe('to [EMAIL] ok');
    expect(headers.get('x-gateway-guardrails')).toBe('buffer-pii:redact');
    const denied = await rawStream('out-buffer-deny', `to ${EMAIL} ok`);
    expect(denied.status).toBe(400);
    expect((JSON.parse(denied.events[0]!) as { error: { code: string } }).error.code).toBe('guardrail_denied:buffer-deny');
  });

  it('json_schema on a stream buffers it: an invalid streamed answer is retried before the client sees anything', async () => {
    const stream = await client.chat.completions
      .create({ model: 'schema-retry-stream', stream: true, messages: ['{"wrong": 1}', '{"answer": 5}'].map((content) => ({ role: 'user' as const, content })) })
      .withResponse();
    let text = '';
    for await (const chunk of stream.data) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('{"answer": 5}');
    expect(stream.response.headers.get('x-gateway-attempts')).toBe('2');
  });
});

describe("output guardrails on an answer's tool calls", () => {
  const calls = (events: readonly string[]) => {
    const byIndex = new Map<number, { id?: string; name?: string; args: string }>();
    for (const event of events.filter((e) => e !== '[DONE]')) {
      const parsed = JSON.parse(event) as { choices?: { delta?: { tool_calls?: { index: number; id?: string; function?: { name?: string; arguments?: string } }[] } }[] };
      for (const call of parsed.choices?.[0]?.delta?.tool_calls ?? []) {
        const entry = byIndex.get(call.index) ?? { args: '' };
        entry.id ??= call.id;
        entry.name ??= call.function?.name;
        entry.args += call.function?.arguments ?? '';
        byIndex.set(call.index, entry);
      }
    }
    return [...byIndex.values()];
  };

  it('JSON: the arguments are redacted (still JSON) or denied like any text', async () => {
    const { data } = await client.chat.completions.create({ model: 'call-redact', messages: [{ role: 'user', content: `write to ${EMAIL} about PRJ-0042` }] }).withResponse();
    const call = data.choices[0]!.message.tool_calls![0]! as { function: { name: string; arguments: string } };
    expect(JSON.parse(call.function.arguments)).toEqual({ note: 'write to [EMAIL] about PRJ-0042' });
    const denied = await refusal(chat('call-deny', `use ${GITHUB_TOKEN}`));
    expect(denied.code).toBe('guardrail_denied:no-secrets');
    expect(denied.message).not.toContain('ghp_');
  });

  it('incremental stream: the call is named at once, its arguments are held and released redacted; a deny ends the stream before any of the secret', async () => {
    const { status, events } = await rawStream('call-redact', `write to ${EMAIL} please, then ${'carry on '.repeat(30)}`);
    expect(status).toBe(200);
    expect(events.at(-1)).toBe('[DONE]');
    for (const event of events) expect(event).not.toMatch(/jane|example\.com/);
    const [call] = calls(events);
    expect(call).toMatchObject({ id: 'call_note', name: 'send_note' });
    expect(JSON.parse(call!.args)).toEqual({ note: `write to [EMAIL] please, then ${'carry on '.repeat(30)}` });
    // Released on the way, not all at the end.
    expect(events.filter((e) => e.includes('"arguments":"') && !e.includes('"arguments":""')).length).toBeGreaterThan(3);

    const denied = await rawStream('call-deny', `here: ${GITHUB_TOKEN} and more`);
    expect(denied.events.join('')).not.toContain('ghp_');
    expect(JSON.parse(denied.events.at(-1)!)).toMatchObject({ error: { code: 'guardrail_denied:no-secrets' } });
  });

  it('buffered stream: the arguments are checked with the rest of the answer, their chunking kept', async () => {
    const { events } = await rawStream('call-buffer', `mail ${EMAIL} now`);
    const [call] = calls(events);
    expect(JSON.parse(call!.args)).toEqual({ note: 'mail [EMAIL] now' });
    expect(events.filter((e) => e.includes('tool_calls')).length).toBeGreaterThan(3);
  });
});

describe('webhook guardrails', () => {
  it('sends the texts with the request’s context and its configured headers; pass, flag, redact and deny come from the service', async () => {
    expect((await chat('hook-open', 'all good')).text).toBe('all good');
    const sent = hooks.received.at(-1)!;
    expect(sent.body).toMatchObject({ guardrail: 'hook-open', stage: 'input', route: 'hook-open', texts: ['all good'] });
    expect(sent.headers.authorization).toBe('Bearer hook-secret-123456');
    expect((await chat('hook-open', 'please FLAG me')).headers.get('x-gateway-guardrails')).toBe('hook-open:flag');
    expect((await chat('hook-open', 'please REDACT this')).text).toBe('please [X] this');
    const denied = await refusal(chat('hook-open', 'DENY me'));
    expect(denied.code).toBe('guardrail_denied:hook-open');
  });

  it("the service's reason reaches the client and the trace bounded, on one line, without secrets or credentials", async () => {
    const denied = await refusal(chat('hook-open', 'ECHO this'));
    expect(denied.code).toBe('guardrail_denied:hook-open');
    expect(denied.message).toContain('refused (called with [redacted]; found [GITHUB_TOKEN]) and more detail.');
    const row = await storedTrace(gateway.app, denied.headers!.get('x-gateway-trace-id')!);
    const findings = row.guardrail_findings[0]!;
    expect(findings).toMatch(/^webhook: refused \(called with \[redacted\]; found \[GITHUB_TOKEN\]\) and more detail\./);
    expect(findings.length).toBeLessThanOrEqual('webhook: '.length + 200);
    for (const text of [denied.message, JSON.stringify(row)]) {
      expect(text).not.toContain('hook-secret-123456');
      expect(text).not.toContain('ghp_');
      expect(text).not.toContain('\n');
    }
    // A credential behind line breaks that collapse to one space is recognised whole, not cut before it is read.
    const padded = await refusal(chat('hook-open', 'PADDED this'));
    expect(padded.message).toContain('(webhook: dump: [GITHUB_TOKEN])');
    expect(padded.message).not.toMatch(/ghp_|Zx9/);
    // …and one with invisible characters between its characters is recognised as the checks read it: folded.
    const invisible = await refusal(chat('hook-open', 'INVISIBLE this'));
    expect(invisible.message).toContain('(webhook: dump: [GITHUB_TOKEN])');
    expect(invisible.message.replace(/[\u200b]/g, '')).not.toMatch(/ghp_|Zx9/);
  });

  it('fail-open: a slow service (past its timeout), one that answers garbage, a 500, a reset or a port nobody listens on let the request through', async () => {
    for (const text of ['SLOW please', 'GARBAGE please', 'WRONG please', 'FAIL500 please', 'RESET please']) {
      const started = performance.now();
      const answer = await chat('hook-open', text);
      expect(answer.text).toBe(text);
      if (text.startsWith('SLOW')) expect(performance.now() - started).toBeLessThan(1900);
      const row = await storedTrace(gateway.app, answer.traceId);
      expect([text, row.guardrail_verdicts]).toEqual([text, ['error']]);
    }
    expect((await chat('hook-down-open', 'hello')).text).toBe('hello');
    const findings = (await storedTrace(gateway.app, (await chat('hook-open', 'SLOW again')).traceId)).guardrail_findings[0];
    expect(findings).toBe('webhook: timeout (fail open)');
  });

  it('fail-closed: the same failures refuse the request with 503 guardrail_unavailable, naming the guardrail', async () => {
    for (const text of ['SLOW please', 'GARBAGE please', 'FAIL500 please', 'RESET please']) {
      const error = await refusal(chat('hook-closed', text));
      expect([text, error.status, error.code]).toEqual([text, 503, 'guardrail_unavailable:hook-closed']);
    }
    const down = await refusal(chat('hook-down', 'hello'));
    expect([down.status, down.code]).toEqual([503, 'guardrail_unavailable:hook-down']);
  });

  it('a client that leaves during the input check cancels the call to the service, and the request ends there', async () => {
    const text = 'SLOW and then gone';
    const leaving = new AbortController();
    const sent = fetch(`${gateway.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'hook-patient', messages: [{ role: 'user', content: text }] }),
      signal: leaving.signal,
    }).catch(() => undefined);
    await expect.poll(() => hooks.received.some((r) => r.body.texts.includes(text))).toBe(true);
    leaving.abort();
    await sent;
    // The service's answer would have come (a pass, after its 2 s) and let the request through to the upstream.
    await expect.poll(() => hooks.abandoned.includes(text)).toBe(true);
    // A request sent after it went through whole (the one that left would have reached the upstream first).
    expect((await chat('hook-patient', 'after the one that left')).text).toBe('after the one that left');
    expect(upstream.requests.some((r) => JSON.stringify(r.body).includes(text))).toBe(false);
  });

  it('checks answers too (a stream is read whole for it)', async () => {
    const error = await refusal(chat('hook-output', 'the answer says DENY'));
    expect(error.code).toBe('guardrail_denied:hook-closed');
    expect(hooks.received.at(-1)!.body).toMatchObject({ stage: 'output', texts: ['the answer says DENY'] });
    const streamed = await rawStream('hook-output', 'streamed and REDACT here');
    expect(streamedText(streamed.events)).toBe('streamed and [X] here');
  });
});

describe('every verdict is counted', () => {
  it('gateway_guardrail_verdicts_total{guardrail,verdict}', async () => {
    // A series appears with its first sample.
    const value = (guardrail: string, verdict: string) => metricValue(gateway.origin, 'gateway_guardrail_verdicts_total', { guardrail, verdict }).catch(() => 0);
    const before = await value('flag-words', 'flag');
    await chat('in-flag', 'refund please');
    expect(await value('flag-words', 'flag')).toBe(before + 1);
    const passes = await value('flag-words', 'pass');
    await chat('in-flag', 'hello');
    expect(await value('flag-words', 'pass')).toBe(passes + 1);
    expect(await value('no-secrets', 'deny')).toBeGreaterThanOrEqual(3);
    expect(await value('hook-closed', 'error')).toBeGreaterThanOrEqual(4);
    expect(await value('answer-retry', 'retry')).toBeGreaterThanOrEqual(2);
  });
});
