/**
 * Metric label values come from the configuration: a client allowed `<provider>/*` that invents model
 * names adds no time series — its requests are counted under `other` — and no lasting state: circuit
 * breakers are kept by name only for configured targets.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_UNLISTED_BREAKERS } from '../../src/routing/circuit-breaker.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startMockUpstream, type MockUpstream } from '../helpers/mock-upstream.js';

let upstream: MockUpstream;
let gateway: RunningGateway;

beforeAll(async () => {
  upstream = await startMockUpstream();
  gateway = await startGateway({
    providers: { up: { type: 'openai-compatible', baseUrl: upstream.url, models: ['listed-model'] } },
    routing: { retry: { maxAttempts: 1 }, breaker: { consecutiveFailures: 2 } },
    routes: { chat: { targets: [{ provider: 'up', model: 'answer' }] } },
    telemetry: { pricing: { 'invented-priced': { input: 1, output: 1 } } },
  });
});
afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
});

async function ask(model: string): Promise<void> {
  const response = await fetch(`${gateway.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
  });
  await response.text();
}

/** Every `gateway_*` series in /metrics (histogram buckets folded into their series). */
async function gatewaySeries(): Promise<string[]> {
  const text = await (await fetch(`${gateway.origin}/metrics`)).text();
  return [...new Set(text.split('\n').filter((line) => line.startsWith('gateway_')).map((line) => line.slice(0, line.lastIndexOf(' ')).replace(/,?le="[^"]*"/, '')))];
}

/** The values one label takes across the gateway's series. */
function labelValues(series: string[], label: string): string[] {
  return [...new Set(series.flatMap((s) => [...s.matchAll(new RegExp(`[{,]${label}="([^"]*)"`, 'g'))].map((m) => m[1] as string)))].sort();
}

describe('metric labels', () => {
  it('carry configured routes, models and targets only; invented model names fall into one `other`', async () => {
    await ask('chat');
    await ask('up/listed-model');
    for (let i = 0; i < 10; i++) await ask(`up/invented-${i}`);
    // A model with a price (cost is counted per model) but not configured as a target.
    await ask('up/invented-priced');
    // Failing invented models open a breaker: its state is reported without naming the model either.
    for (let i = 0; i < 3; i++) await ask('up/fail-500');
    const before = await gatewaySeries();

    expect(labelValues(before, 'route')).toEqual(['chat', 'other', 'up/listed-model']);
    expect(labelValues(before, 'model')).toEqual(['answer', 'listed-model', 'other']);
    expect(labelValues(before, 'target')).toEqual(['other']);
    expect(before.join('\n')).not.toContain('invented');

    // More invented names: not one more series.
    for (let i = 10; i < 40; i++) await ask(`up/invented-${i}`);
    const after = await gatewaySeries();
    expect(after.filter((s) => !before.includes(s))).toEqual([]);
  });
});

describe('circuit breakers', () => {
  it('invented model names do not pile up breakers; a configured target keeps its breaker through the flood', async () => {
    upstream.fail('listed-model', 500);
    for (let i = 0; i < 2; i++) await ask('up/listed-model');
    const breakers = gateway.app.gatewayRouting.breakers;
    expect(breakers.for('up/listed-model').current()).toBe('open');

    const flood = Array.from({ length: MAX_UNLISTED_BREAKERS + 200 }, (_, i) => `up/flood-${i}`);
    for (let i = 0; i < flood.length; i += 50) await Promise.all(flood.slice(i, i + 50).map(ask));
    // The configured targets (up/answer, up/listed-model) plus at most the bound of unlisted ones.
    expect(breakers.states().size).toBeLessThanOrEqual(2 + MAX_UNLISTED_BREAKERS);
    expect(breakers.for('up/listed-model').current()).toBe('open');
  });
});
