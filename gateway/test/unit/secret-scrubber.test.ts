import { describe, expect, it } from 'vitest';
import { hashKey } from '../../src/auth/key-hash.js';
import { SecretScrubber } from '../../src/auth/secret-scrubber.js';
import { validateConfig } from '../../src/config/load.js';

describe('SecretScrubber', () => {
  it('finds every secret a validated config holds, and nothing that is not one', () => {
    const config = validateConfig(
      {
        providers: {
          a: { type: 'openai', apiKey: 'sk-provider-a-0123456789', headers: { authorization: 'Bearer proxy-token-0123456789', 'x-team': 'machine-learning' } },
          b: { type: 'openai-compatible', baseUrl: 'http://user:url-password-0123@10.0.0.5:8000/v1', apiKey: 'vllm-key-without-prefix' },
          c: { type: 'azure', baseUrl: 'https://r.openai.azure.com', apiKey: 'azure-key-0123456789', headers: { 'x-api-key': 'extra-header-key-0123' } },
          short: { type: 'openai-compatible', baseUrl: 'http://127.0.0.1:1/v1', apiKey: 'unset' },
        },
        telemetry: { sink: 'none', clickhouse: { url: 'http://127.0.0.1:8123', password: 'clickhouse-pass-0123' } },
        redis: { url: 'redis://:redis-pass-0123@127.0.0.1:6379' },
        auth: {
          adminKey: 'admin-key-0123456789abcdef',
          sessionSecret: 'session-secret-0123456789abcdef0123456789',
          keys: [{ id: 'p', key: 'gateway-key-plain-0123456789' }, { id: 'h', hash: hashKey('gateway-key-hashed-0123456789') }],
        },
      },
      {},
      'test',
    );
    const scrubber = SecretScrubber.fromConfig(config);
    const secrets = [
      'sk-provider-a-0123456789', 'Bearer proxy-token-0123456789', 'proxy-token-0123456789', 'url-password-0123', 'vllm-key-without-prefix', 'azure-key-0123456789',
      'extra-header-key-0123', 'clickhouse-pass-0123', 'redis-pass-0123', 'admin-key-0123456789abcdef',
      'session-secret-0123456789abcdef0123456789', 'gateway-key-plain-0123456789',
    ];
    for (const secret of secrets) expect(scrubber.text(`<${secret}>`)).toBe('<[redacted]>');
    // Not secrets: ordinary header values, a key too short to match safely, a key known only by its hash, hashes.
    for (const text of ['machine-learning', 'unset', 'gateway-key-hashed-0123456789', hashKey('gateway-key-hashed-0123456789')]) {
      expect(scrubber.text(text)).toBe(text);
    }
    expect(scrubber.shortSecrets).toEqual([{ path: 'providers.short.apiKey', scrubbed: 'never' }]);
  });

  it('a secret of 6 or 7 characters is removed where it stands alone, and named by its config path', () => {
    const config = validateConfig(
      {
        providers: {
          tiny: { type: 'openai-compatible', baseUrl: 'http://127.0.0.1:1/v1', apiKey: 'short1', headers: { 'x-api-key': 'k-7_abc' } },
          none: { type: 'openai-compatible', baseUrl: 'http://127.0.0.1:1/v1', apiKey: 'none' },
        },
        telemetry: { sink: 'none' },
        redis: { url: 'redis://:pw12ab@127.0.0.1:6379' },
      },
      {},
      'test',
    );
    const scrubber = SecretScrubber.fromConfig(config);
    expect(scrubber.text('Incorrect API key provided: short1. See https://x.test/?key=short1&k=k-7_abc')).toBe(
      'Incorrect API key provided: [redacted]. See https://x.test/?key=[redacted]&k=[redacted]',
    );
    expect(scrubber.text('"short1" (k-7_abc) pw12ab')).toBe('"[redacted]" ([redacted]) [redacted]');
    // Inside a longer word it is not the key; and a 4-character placeholder is an ordinary word.
    for (const text of ['short12', 'ashort1', 'short1_x', 'k-7_abcd', 'tool_choice is none']) expect(scrubber.text(text)).toBe(text);
    expect(scrubber.shortSecrets).toEqual([
      { path: 'providers.tiny.apiKey', scrubbed: 'token' },
      { path: 'providers.tiny.headers.x-api-key', scrubbed: 'token' },
      { path: 'providers.none.apiKey', scrubbed: 'never' },
      { path: 'redis.url', scrubbed: 'token' },
    ]);
  });

  it('scrubs every string of a value, property names, the percent-encoded form, and an extra key', () => {
    const scrubber = new SecretScrubber(['key/with+odd=chars', 'sk-short-one', 'sk-short-one-longer']);
    expect(scrubber.value({ error: { message: 'a sk-short-one-longer b sk-short-one', param: 'key%2Fwith%2Bodd%3Dchars', n: 3, ok: true, none: null, list: [{ 'key/with+odd=chars': 'x' }] } })).toEqual({
      error: { message: 'a [redacted] b [redacted]', param: '[redacted]', n: 3, ok: true, none: null, list: [{ '[redacted]': 'x' }] },
    });
    expect(scrubber.text('client-key-0123456789 said hi', 'client-key-0123456789')).toBe('[redacted] said hi');
    scrubber.add('added-later-0123456789');
    expect(scrubber.text('added-later-0123456789')).toBe('[redacted]');
  });
});
