/**
 * What the benchmarks send and the gateway they send it to: the ~1 KB requests of every scenario and the
 * gateway's config file (the bench upstream, a route per scenario), shared by run.ts and memory-growth.ts.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The same ~1 KB request in the Responses API's terms (instructions, input, max_output_tokens), so
 * translation is measured against chat in the same run. `store: false`: a benchmark keeps no state.
 */
export const RESPONSES_BODY = (model: string, stream = false): string =>
  JSON.stringify({
    model,
    instructions: 'You are a helpful assistant that answers concisely and accurately. '.repeat(4),
    input: 'Summarise the following paragraph in one sentence. '.repeat(12),
    temperature: 0.2,
    max_output_tokens: 128,
    store: false,
    ...(stream ? { stream: true } : {}),
  });

/** A ~1 KB chat request, as the scenarios ask. */
export const CHAT_BODY = (model: string, stream = false): string =>
  JSON.stringify({
    model,
    messages: [
      { role: 'system', content: 'You are a helpful assistant that answers concisely and accurately. '.repeat(4) },
      { role: 'user', content: 'Summarise the following paragraph in one sentence. '.repeat(12) },
    ],
    temperature: 0.2,
    max_tokens: 128,
    ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
  });

/**
 * A gateway config file: the bench upstream and routes, plus `overrides` of the defaults (none for the
 * default configuration: DuckDB traces under `dataDir`, request log lines at the default info level).
 */
export function gatewayConfig(dir: string, name: string, upstreamPort: number, overrides: { telemetry?: Record<string, unknown>; logging?: Record<string, unknown> }): string {
  const file = join(dir, `${name}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      ...(overrides.logging ? { logging: overrides.logging } : {}),
      providers: {
        up: { type: 'openai-compatible', baseUrl: `http://127.0.0.1:${upstreamPort}/v1`, maxConnections: 256 },
        // The same upstream serving the Responses API itself: native pass-through.
        'up-native': { type: 'openai-compatible', baseUrl: `http://127.0.0.1:${upstreamPort}/v1`, maxConnections: 256, responses: 'native' },
      },
      routing: { retry: { maxAttempts: 1 } },
      telemetry: { dataDir: join(dir, `data-${name}`), ...overrides.telemetry },
      routes: {
        bench: { targets: [{ provider: 'up', model: 'bench-model' }] },
        'bench-native': { targets: [{ provider: 'up-native', model: 'bench-model' }] },
        cached: { targets: [{ provider: 'up', model: 'bench-model' }], cache: { enabled: true, ttlSeconds: 3600 } },
        fallback: { strategy: 'fallback', targets: [{ provider: 'up', model: 'fail-500' }, { provider: 'up', model: 'bench-model' }] },
        // Policies on: a conditional route (by tag and prompt size) with input and output guardrails.
        policy: {
          strategy: 'conditional',
          branches: [{ name: 'long', when: { or: [{ 'metadata.tier': 'bulk' }, { prompt_tokens: { gt: 4000 } }] }, target: { provider: 'up', model: 'bench-model' } }],
          default: { provider: 'up', model: 'bench-model' },
          guardrails: { input: ['pii', 'secrets'], output: ['pii'] },
        },
      },
      guardrails: { pii: { kind: 'pii', action: 'redact' }, secrets: { kind: 'secrets', action: 'deny' } },
    }),
  );
  return file;
}

