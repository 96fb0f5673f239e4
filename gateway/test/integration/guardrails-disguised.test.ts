/**
 * Text guardrails against text shaped to slip past them, over real sockets (an echoing upstream, so a test
 * controls what comes back): a match padded with invisible characters in a stream checked as it passes,
 * matches that overlap, and matches near the edges of the windows operator patterns are scanned in.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startMockUpstream, type MockUpstream } from '../helpers/mock-upstream.js';
import { REGEX_WINDOW } from '../../src/policy/text-guardrails.js';

const GITHUB_TOKEN = `ghp_${'Zx9'.repeat(12)}`;
const EMAIL = 'jane.doe@example.com';

let upstream: MockUpstream;
let gateway: RunningGateway;

const echo = (name: string) => ({ targets: [{ provider: 'up', model: `echo-3~${name.replace(/\W/g, '')}` }], retry: { maxAttempts: 1 } });

beforeAll(async () => {
  upstream = await startMockUpstream();
  gateway = await startGateway({
    providers: { up: { type: 'openai-compatible', baseUrl: upstream.url } },
    guardrails: {
      secrets: { kind: 'secrets', action: 'redact' },
      pii: { kind: 'pii', detectors: ['email'], action: 'redact' },
      words: { kind: 'words', words: ['chargeback'], action: 'redact' },
      codes: { kind: 'regex', patterns: ['PRJ-\\d{4}'], maxMatchChars: 16, action: 'redact' },
      pairs: { kind: 'regex', patterns: ['user=\\w+;', ';token=\\w+'], action: 'redact' },
      pins: { kind: 'regex', patterns: ['\\d{4}'], action: 'redact' },
      after: { kind: 'regex', patterns: ['(?<=key=)\\w+'], action: 'redact' },
      start: { kind: 'regex', patterns: ['^secret'], action: 'redact' },
      bounded: { kind: 'regex', patterns: ['\\bPRJ-\\d{4}\\b'], action: 'redact' },
    },
    routes: Object.fromEntries([
      ...['secrets', 'pii', 'words', 'codes', 'pairs', 'pins'].map((name) => [`out-${name}`, { ...echo(`out-${name}`), guardrails: { output: [name] } }]),
      ...['pairs', 'pins', 'after', 'start', 'bounded'].map((name) => [`in-${name}`, { ...echo(`in-${name}`), guardrails: { input: [name] } }]),
    ]),
  });
});

afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
});

/** The answer's text as the client received it, JSON or streamed (each delta joined). */
async function answer(model: string, content: string, stream: boolean): Promise<string> {
  const response = await fetch(`${gateway.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, stream, messages: [{ role: 'user', content }] }),
  });
  const body = await response.text();
  expect(response.status).toBe(200);
  if (!stream) return (JSON.parse(body) as { choices: { message: { content: string } }[] }).choices[0]!.message.content;
  expect(body.trimEnd().endsWith('data: [DONE]')).toBe(true);
  let text = '';
  for (const event of body.split('\n\n')) {
    if (!event.startsWith('data: {')) continue;
    for (const choice of (JSON.parse(event.slice(6)) as { choices: { delta?: { content?: string } }[] }).choices) text += choice.delta?.content ?? '';
  }
  return text;
}

/** What the upstream was sent as the last message. */
function lastSent(): string {
  return (upstream.requests.at(-1)!.body.messages as { content: string }[]).at(-1)!.content;
}

describe('a match padded with invisible characters', () => {
  const cases = [
    { kind: 'secrets', secret: GITHUB_TOKEN, replaced: '[GITHUB_TOKEN]' },
    { kind: 'pii', secret: EMAIL, replaced: '[EMAIL]' },
    { kind: 'words', secret: 'chargeback', replaced: '[REDACTED]' },
    { kind: 'codes', secret: 'PRJ-1234', replaced: '[REDACTED]' },
  ];

  it('is redacted whole in a stream checked as it passes, however many invisible characters sit between its characters', async () => {
    for (const { kind, secret, replaced } of cases) {
      for (const pad of ['\u200b', '\u200b'.repeat(4), '\u2060\u00ad'.repeat(8)]) {
        const disguised = [...secret].join(pad);
        const content = `key: ${disguised} end. ${'More words after it. '.repeat(8)}`;
        const expected = content.replace(disguised, replaced);
        expect({ kind, pad: pad.length, seen: await answer(`out-${kind}`, content, true) }).toEqual({ kind, pad: pad.length, seen: expected });
        expect({ kind, pad: pad.length, seen: await answer(`out-${kind}`, content, false) }).toEqual({ kind, pad: pad.length, seen: expected });
      }
    }
  });
});

describe('overlapping matches', () => {
  it('are redacted as one span: neither leaves any of itself, on input, JSON answers and streams', async () => {
    const texts = [
      // Two patterns sharing the `;`.
      ['pairs', 'user=bob;token=SUPERSECRET end', '[REDACTED] end'],
      // ⑫ folds to `12`: `1231` and `2345` in the folded text share the ⑫.
      ['pins', 'pin 123⑫3456 end', 'pin [REDACTED]6 end'],
    ] as const;
    for (const [name, content, expected] of texts) {
      expect(await answer(`out-${name}`, content, false)).toBe(expected);
      expect(await answer(`out-${name}`, content, true)).toBe(expected);
      await answer(`in-${name}`, content, false);
      expect(lastSent()).toBe(expected);
    }
  });
});

describe('operator patterns near the edge of a scanning window', () => {
  it('see the text before the window: a look-behind still finds its value, ^ and \\b do not match inside a word', async () => {
    const tail = ' z'.repeat(1000);
    // `key=` ends exactly where a window starts.
    const keyed = `${'a '.repeat(REGEX_WINDOW / 2 - 2)}key=SECRETVALUE more${tail}`;
    await answer('in-after', keyed, false);
    expect(lastSent()).toBe(keyed.replace('SECRETVALUE', '[REDACTED]'));
    for (const [route, text] of [
      ['in-start', `${'x'.repeat(REGEX_WINDOW)}secret${tail}`],
      ['in-bounded', `${'x'.repeat(REGEX_WINDOW)}PRJ-1234${tail}`],
    ] as const) {
      await answer(route, text, false);
      expect(lastSent()).toBe(text);
    }
  });
});
