/**
 * Shadow traffic: mirrored in the background, never returned, never waited for by the primary, dropped past
 * its concurrency bound; scored with ROUGE-L/BLEU, traced and linked; agreement usable as a canary guard.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TraceRow } from '../../src/telemetry/trace-row.js';
import { startGateway, waitFor, type RunningGateway } from '../helpers/gateway.js';
import { recorded } from '../helpers/canary-traffic.js';
import { metricValue } from '../helpers/metrics.js';
import { startMockUpstream, type MockUpstream } from '../helpers/mock-upstream.js';

let upstream: MockUpstream;
/** A shadow target that never answers (model `stall`), apart, so its open calls do not hold up `upstream`. */
let silent: MockUpstream;
let gateway: RunningGateway;

beforeAll(async () => {
  upstream = await startMockUpstream();
  silent = await startMockUpstream();
  gateway = await startGateway({
    providers: { up: { type: 'openai-compatible', baseUrl: upstream.url }, silent: { type: 'openai-compatible', baseUrl: silent.url } },
    routing: { retry: { maxAttempts: 1 } },
    routes: {
      plain: { targets: [{ provider: 'up', model: 'primary-plain' }] },
      mirrored: { targets: [{ provider: 'up', model: 'primary' }], shadow: { target: { provider: 'up', model: 'shadow-slow-400' }, fraction: 1, maxConcurrent: 2 } },
      // Shadow targets that never answer within a test (their own deadline is a minute away).
      unhurried: { targets: [{ provider: 'up', model: 'primary-u' }], shadow: { target: { provider: 'silent', model: 'stall' }, fraction: 1, maxConcurrent: 10, timeoutMs: 60_000 } },
      bounded: { targets: [{ provider: 'up', model: 'primary-b' }], shadow: { target: { provider: 'silent', model: 'stall' }, fraction: 1, maxConcurrent: 2, timeoutMs: 60_000 } },
      // The shadow target never answers; the shadow call's own deadline is short.
      hanging: { targets: [{ provider: 'up', model: 'primary-h' }], shadow: { target: { provider: 'up', model: 'stall' }, fraction: 1, maxConcurrent: 1, timeoutMs: 300 } },
      judged: {
        strategy: 'canary',
        canaryWeight: 10,
        plan: { steps: [10, 100], minStepDurationMs: 1, minStepRequests: 1, intervalMs: 3_600_000, guards: { minAgreement: 0.5, minSamples: 5 } },
        baseline: { provider: 'up', model: 'judged-base' },
        canary: { provider: 'up', model: 'judged-canary' },
        // The candidate answers with a tool call instead of text: it disagrees with every primary answer.
        shadow: { target: { provider: 'up', model: 'tool-call' }, fraction: 1, maxConcurrent: 50 },
      },
    },
    telemetry: { sink: 'duckdb', dataDir: mkdtempSync(join(tmpdir(), 'gateway-shadow-')), logRequests: false, flushIntervalMs: 50 },
  });
});
afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
  await silent?.close();
});

async function ask(route: string, content = 'hello'): Promise<{ id: string; text: string }> {
  const response = await fetch(`${gateway.baseURL}/chat/completions`, { method: 'POST', body: JSON.stringify({ model: route, messages: [{ role: 'user', content }] }) });
  const text = await response.text();
  return { id: response.headers.get('x-request-id')!, text };
}

const shadowCalls = (model: string) => upstream.requests.filter((r) => r.body.model === model).length;

describe('shadow traffic', () => {
  it('is never returned, and the primary never waits for it', async () => {
    for (let i = 0; i < 10; i++) {
      const reply = await ask('unhurried');
      expect(JSON.parse(reply.text).choices[0].message.content).toBe('Hello from the mock upstream');
    }
    // Every mirror reached the shadow target and is still waiting there: each primary was answered
    // while its shadow call was open (had a primary waited, it would have waited a minute).
    await waitFor(() => silent.openRequests() === 10, 5000);
    for (const result of ['completed', 'failed']) {
      expect(await metricValue(gateway.origin, 'gateway_shadow_requests_total', { route: 'unhurried', result }).catch(() => 0)).toBe(0);
    }
  });

  it('drops mirrors past its concurrency bound, and counts them', async () => {
    const calls = silent.requests.length;
    // Ten at once against a bound of two whose calls never finish: exactly two are sent, eight dropped.
    await Promise.all(Array.from({ length: 10 }, () => ask('bounded')));
    await waitFor(() => silent.requests.length === calls + 2, 5000);
    expect(await metricValue(gateway.origin, 'gateway_shadow_requests_total', { route: 'bounded', result: 'dropped' })).toBe(8);
    await ask('bounded');
    expect(await metricValue(gateway.origin, 'gateway_shadow_requests_total', { route: 'bounded', result: 'dropped' })).toBe(9);
    expect(silent.requests.length).toBe(calls + 2);
  });

  it('traces the shadow answer, linked to its primary, with agreement scores', async () => {
    await waitFor(() => upstream.openRequests() === 0, 3000);
    const primary = await ask('mirrored', 'link me');
    let linked: TraceRow | undefined;
    for (let i = 0; i < 50 && !linked; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      await gateway.app.traces!.flush();
      const rows = (await gateway.app.traces!.sink.select("SELECT * FROM requests WHERE variant = 'shadow' AND route = 'mirrored'")) as unknown as TraceRow[];
      linked = rows.find((row) => row.metadata_values.includes(primary.id));
    }
    expect(linked).toBeDefined();
    const tags = Object.fromEntries(linked!.metadata_keys.map((k, i) => [k, linked!.metadata_values[i]]));
    expect(tags).toMatchObject({ shadow_of: primary.id, agreement_rouge_l: '1.000000' });
    expect(Number(tags.agreement_bleu)).toBeCloseTo(1, 6);
    expect(linked).toMatchObject({ model: 'shadow-slow-400', status: 200 });
    // The Traces tab's variant filter finds shadow rows too.
    const response = await fetch(`${gateway.origin}/api/traces?range=15m&variant=shadow&route=mirrored`);
    expect(response.status).toBe(200);
    const listed = (await response.json()) as { total: number; rows: TraceRow[] };
    expect(listed.total).toBeGreaterThan(0);
    expect(listed.rows.every((row) => row.variant === 'shadow')).toBe(true);
    expect(listed.rows.map((row) => row.trace_id)).toContain(linked!.trace_id);
  });

  it('a shadow call that never answers is cut at its own deadline, traced as failed, and frees its slot', async () => {
    const aborted = upstream.abortedRequests();
    await ask('hanging');
    let row: TraceRow | undefined;
    for (const deadline = Date.now() + 5000; !row && Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 50))) {
      await gateway.app.traces!.flush();
      [row] = (await gateway.app.traces!.sink.select("SELECT * FROM requests WHERE variant = 'shadow' AND route = 'hanging'")) as unknown as TraceRow[];
    }
    // Cut after its 300 ms (the route deadline would have been the 300 s default).
    expect(row).toMatchObject({ model: 'stall' });
    expect(row!.status).toBeGreaterThanOrEqual(500);
    expect(row!.latency_ms).toBeGreaterThanOrEqual(290);
    expect(row!.latency_ms).toBeLessThan(5000);
    await waitFor(() => upstream.abortedRequests() > aborted, 3000);
    expect(await metricValue(gateway.origin, 'gateway_shadow_requests_total', { route: 'hanging', result: 'failed' })).toBe(1);
    // The slot is free again: the next mirror is sent, not dropped.
    const calls = shadowCalls('stall');
    await ask('hanging');
    await waitFor(() => shadowCalls('stall') === calls + 1, 3000);
  });

  it('agreement works as a canary guard: a disagreeing candidate is rolled back', async () => {
    for (let i = 0; i < 30; i++) await ask('judged', `question ${i}`);
    // Every primary and every shadow answer recorded (the shadows finish after their primaries were answered).
    await recorded(gateway, 'judged', 30);
    await waitFor(async () => (await metricValue(gateway.origin, 'gateway_shadow_requests_total', { route: 'judged', result: 'completed' }).catch(() => 0)) === 30, 5000);
    await gateway.app.canaries.tick();
    const [state] = (await gateway.app.canaries.list()).filter((view) => view.id === 'judged');
    expect(state?.state).toMatchObject({ status: 'rolled_back', weight: 0 });
    expect(state?.lastEvaluation?.checks.find((c) => c.guard === 'agreement')).toMatchObject({ breached: true });
  });
});
