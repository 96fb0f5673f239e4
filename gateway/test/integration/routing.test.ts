/**
 * Routing and resilience over real sockets, against the fault-injecting mock upstream.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockUpstream, type MockUpstream } from '../helpers/mock-upstream.js';
import { startGateway, waitFor, type RunningGateway } from '../helpers/gateway.js';
import { seededRandom } from '../helpers/seeded-random.js';
import { metricValue } from '../helpers/metrics.js';

let upstream: MockUpstream;
const gateways: RunningGateway[] = [];

beforeAll(async () => {
  upstream = await startMockUpstream();
});
afterAll(async () => {
  await Promise.all(gateways.map((g) => g.close()));
  await upstream?.close();
});

/** A gateway whose providers `up` and `up2` both point at the mock upstream. */
async function gatewayWith(routes: Record<string, unknown>, extra: Record<string, unknown> = {}, deps = {}): Promise<RunningGateway> {
  const provider = { type: 'openai-compatible', baseUrl: upstream.url, timeoutMs: 400, idleTimeoutMs: 400 };
  const gateway = await startGateway(
    {
      providers: { up: provider, up2: provider, ...(extra.providers as object | undefined) },
      routing: { retry: { initialBackoffMs: 10, maxBackoffMs: 50 }, ...(extra.routing as object | undefined) },
      routes,
    },
    deps,
  );
  gateways.push(gateway);
  return gateway;
}

async function chat(gateway: RunningGateway, model: string, options: { stream?: boolean; user?: string; headers?: Record<string, string> } = {}) {
  const started = Date.now();
  const response = await fetch(`${gateway.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...options.headers },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], stream: options.stream ?? false, ...(options.user ? { user: options.user } : {}) }),
  });
  const text = await response.text();
  return {
    status: response.status,
    text,
    json: () => JSON.parse(text) as { error?: { code: string }; model?: string },
    attempts: Number(response.headers.get('x-gateway-attempts')),
    model: response.headers.get('x-gateway-model'),
    provider: response.headers.get('x-gateway-provider'),
    variant: response.headers.get('x-gateway-variant'),
    elapsed: Date.now() - started,
  };
}

function requestsFor(model: string): number {
  return upstream.requests.filter((r) => r.body.model === model).length;
}

describe('retries', () => {
  it('retries 500s on the same target until it answers', async () => {
    const gateway = await gatewayWith({ r: { targets: [{ provider: 'up', model: 'flaky-2~a' }], retry: { maxAttempts: 3, initialBackoffMs: 5 } } });
    const result = await chat(gateway, 'r');
    expect(result.status).toBe(200);
    expect(result.attempts).toBe(3);
    expect(requestsFor('flaky-2~a')).toBe(3);
  });

  it('gives up after maxAttempts and returns the upstream error', async () => {
    const gateway = await gatewayWith({ r: { targets: [{ provider: 'up', model: 'flaky-5~b' }], retry: { maxAttempts: 2, initialBackoffMs: 5 } } });
    const result = await chat(gateway, 'r');
    expect(result.status).toBe(500);
    expect(result.attempts).toBe(2);
  });

  it('does not retry a 400', async () => {
    const gateway = await gatewayWith({ r: { targets: [{ provider: 'up', model: 'fail-400' }, { provider: 'up', model: 'never-reached-400' }] } });
    const result = await chat(gateway, 'r');
    expect(result.status).toBe(400);
    expect(result.attempts).toBe(1);
    expect(requestsFor('never-reached-400')).toBe(0);
  });

  it('honours Retry-After on 429', async () => {
    const gateway = await gatewayWith({ r: { targets: [{ provider: 'up', model: 'limited-1-1~a' }], retry: { maxAttempts: 2, maxRetryAfterMs: 5000 } } });
    const result = await chat(gateway, 'r');
    expect(result.status).toBe(200);
    expect(result.attempts).toBe(2);
    expect(result.elapsed).toBeGreaterThanOrEqual(950);
  });

  it('caps a long Retry-After', async () => {
    const gateway = await gatewayWith({ r: { targets: [{ provider: 'up', model: 'limited-1-30~b' }], retry: { maxAttempts: 2, maxRetryAfterMs: 200 } } });
    const result = await chat(gateway, 'r');
    expect(result.status).toBe(200);
    expect(result.elapsed).toBeGreaterThanOrEqual(190);
    expect(result.elapsed).toBeLessThan(1500);
  });

  it('retries a connection reset', async () => {
    const gateway = await gatewayWith({ r: { targets: [{ provider: 'up', model: 'reset' }, { provider: 'up2', model: 'after-reset' }], retry: { maxAttempts: 2 } } });
    const before = requestsFor('reset');
    const result = await chat(gateway, 'r');
    expect(result.status).toBe(200);
    expect(requestsFor('reset') - before).toBe(2);
    expect(result.attempts).toBe(3);
    expect(result.model).toBe('after-reset');
  });
});

describe('fallback', () => {
  it('walks targets in order on retryable failures', async () => {
    const gateway = await gatewayWith({
      r: { strategy: 'fallback', targets: [{ provider: 'up', model: 'fail-503' }, { provider: 'up2', model: 'fail-500' }, { provider: 'up', model: 'third' }], retry: { maxAttempts: 1 } },
    });
    const result = await chat(gateway, 'r');
    expect(result.status).toBe(200);
    expect(result.attempts).toBe(3);
    expect(result.model).toBe('third');
    expect(result.json().model).toBe('r');
  });

  it('moves on for statuses listed in onStatus, and only then', async () => {
    const listed = await gatewayWith({ r: { strategy: 'fallback', onStatus: [400], targets: [{ provider: 'up', model: 'fail-400' }, { provider: 'up', model: 'bigger-model' }] } });
    expect((await chat(listed, 'r')).model).toBe('bigger-model');
  });

  it('falls back on a hang (timeout) and on a slow first byte', async () => {
    const gateway = await gatewayWith({
      hang: { targets: [{ provider: 'up', model: 'stall' }, { provider: 'up2', model: 'rescue-1' }], retry: { maxAttempts: 1 } },
      slow: { targets: [{ provider: 'up', model: 'slow-1500' }, { provider: 'up2', model: 'rescue-2' }], retry: { maxAttempts: 1 } },
    });
    const hang = await chat(gateway, 'hang');
    expect(hang.status).toBe(200);
    expect(hang.model).toBe('rescue-1');
    expect(hang.elapsed).toBeLessThan(1500);
    const slow = await chat(gateway, 'slow', { stream: true });
    expect(slow.status).toBe(200);
    expect(slow.model).toBe('rescue-2');
    expect(slow.text).toContain('[DONE]');
  });

  it('a stream cut before its first byte falls back; cut after it is never retried', async () => {
    const gateway = await gatewayWith({
      before: { targets: [{ provider: 'up', model: 'cut-after-0' }, { provider: 'up2', model: 'rescue-3' }], retry: { maxAttempts: 1 } },
      after: { targets: [{ provider: 'up', model: 'cut-after-2' }, { provider: 'up2', model: 'never-reached-cut' }], retry: { maxAttempts: 3 } },
    });
    const before = await chat(gateway, 'before', { stream: true });
    expect(before.model).toBe('rescue-3');
    expect(before.text).toContain('[DONE]');

    const countBefore = requestsFor('cut-after-2');
    const after = await chat(gateway, 'after', { stream: true });
    expect(after.status).toBe(200);
    expect(after.attempts).toBe(1);
    expect(after.text).not.toContain('[DONE]');
    expect(after.text).toContain('"code":"stream_interrupted"');
    expect(requestsFor('cut-after-2') - countBefore).toBe(1);
    expect(requestsFor('never-reached-cut')).toBe(0);
  });

  it('a stream that stalls longer than the idle timeout is interrupted', async () => {
    const gateway = await gatewayWith({ r: { targets: [{ provider: 'up', model: 'stall-body' }] } });
    const result = await chat(gateway, 'r', { stream: true });
    expect(result.text).toContain('"content":"Hel"');
    expect(result.text).toContain('"code":"stream_interrupted"');
    expect(result.text).not.toContain('[DONE]');
  });
});

describe('deadline', () => {
  it('is never exceeded by more than a small margin, whatever the retry settings', async () => {
    const gateway = await gatewayWith({
      r: {
        timeoutMs: 600,
        targets: [{ provider: 'up', model: 'stall' }, { provider: 'up2', model: 'stall' }, { provider: 'up', model: 'slow-2000' }],
        retry: { maxAttempts: 10, initialBackoffMs: 100, maxBackoffMs: 300 },
      },
    });
    const result = await chat(gateway, 'r');
    expect(result.status).toBe(504);
    expect(result.json().error?.code).toBe('deadline_exceeded');
    expect(result.elapsed).toBeGreaterThanOrEqual(550);
    expect(result.elapsed).toBeLessThan(800);
  });

  it('a request header shortens it', async () => {
    const gateway = await gatewayWith({ r: { timeoutMs: 5000, targets: [{ provider: 'up', model: 'slow-1000' }] } });
    const result = await chat(gateway, 'r', { headers: { 'x-gateway-timeout-ms': '200' } });
    expect(result.json().error?.code).toBe('deadline_exceeded');
    expect(result.elapsed).toBeLessThan(500);
  });

  it('a long Retry-After that would pass the deadline is not waited for', async () => {
    const gateway = await gatewayWith({ r: { timeoutMs: 800, targets: [{ provider: 'up', model: 'limited-1-5~c' }], retry: { maxAttempts: 2, maxRetryAfterMs: 5000 } } });
    const result = await chat(gateway, 'r');
    expect(result.status).toBe(429);
    expect(result.elapsed).toBeLessThan(500);
  });
});

describe('load balancing', () => {
  it('spreads requests by weight with a fixed seed, and weight 0 gets nothing', async () => {
    const gateway = await gatewayWith(
      { r: { strategy: 'loadbalance', targets: [{ provider: 'up', model: 'lb-a', weight: 1 }, { provider: 'up2', model: 'lb-b', weight: 3 }, { provider: 'up', model: 'lb-drained', weight: 0 }] } },
      {},
      { random: seededRandom(5) },
    );
    const counts: Record<string, number> = {};
    for (let i = 0; i < 400; i++) {
      const result = await chat(gateway, 'r');
      counts[result.model!] = (counts[result.model!] ?? 0) + 1;
    }
    expect(counts['lb-drained']).toBeUndefined();
    // Expected 100 / 300; bounds are about 4.5 standard deviations.
    expect(counts['lb-a']).toBeGreaterThan(60);
    expect(counts['lb-a']).toBeLessThan(140);
    expect(counts['lb-a']! + counts['lb-b']!).toBe(400);
  });

  it('least-busy sends a request to the target with fewer in flight', async () => {
    const gateway = await gatewayWith({ r: { strategy: 'least-busy', targets: [{ provider: 'up', model: 'slow-300' }, { provider: 'up2', model: 'slow-301' }] } });
    const first = chat(gateway, 'r');
    await waitFor(() => upstream.openRequests() > 0);
    const second = await chat(gateway, 'r');
    expect(second.model).toBe('slow-301');
    expect((await first).model).toBe('slow-300');
  });
});

describe('canary', () => {
  it('is sticky per user and moves only the users needed when the weight changes', async () => {
    const gateway = await gatewayWith({
      r: { strategy: 'canary', canaryWeight: 10, baseline: { provider: 'up', model: 'stable' }, canary: { provider: 'up2', model: 'candidate' } },
    });
    const users = Array.from({ length: 100 }, (_, i) => `user-${i}`);
    const variants = async () => {
      const out = new Map<string, string>();
      for (const user of users) {
        const result = await chat(gateway, 'r', { user });
        expect(result.model).toBe(result.variant === 'canary' ? 'candidate' : 'stable');
        out.set(user, result.variant!);
      }
      return out;
    };
    const at10 = await variants();
    expect(await variants()).toEqual(at10);
    gateway.app.gatewayRouting.canarySplits.get('r')!.weight = 20;
    const at20 = await variants();
    for (const user of users) if (at10.get(user) === 'canary') expect(at20.get(user)).toBe('canary');
    const moved = users.filter((u) => at10.get(u) !== at20.get(u)).length;
    expect(moved).toBeGreaterThan(2);
    expect(moved).toBeLessThan(25);
  });

  it('uses a configured header when the body names no user', async () => {
    const gateway = await gatewayWith({
      r: { strategy: 'canary', canaryWeight: 50, stickyHeader: 'X-Session', baseline: { provider: 'up', model: 'stable' }, canary: { provider: 'up2', model: 'candidate' } },
    });
    for (let s = 0; s < 10; s++) {
      const first = await chat(gateway, 'r', { headers: { 'x-session': `s-${s}` } });
      for (let i = 0; i < 3; i++) expect((await chat(gateway, 'r', { headers: { 'x-session': `s-${s}` } })).variant).toBe(first.variant);
    }
  });
});

describe('circuit breaker', () => {
  it('opens after failures, skips the target, half-opens after the cooldown and closes on success', async () => {
    const clock = { now: 1_000_000 };
    const gateway = await gatewayWith(
      { r: { targets: [{ provider: 'up', model: 'flaky-3~breaker' }, { provider: 'up2', model: 'backup' }], retry: { maxAttempts: 1 } } },
      { routing: { breaker: { consecutiveFailures: 3, cooldownMs: 10_000 }, retry: { initialBackoffMs: 1, maxBackoffMs: 1 } } },
      { now: () => clock.now },
    );
    for (let i = 0; i < 3; i++) expect((await chat(gateway, 'r')).attempts).toBe(2);
    expect(requestsFor('flaky-3~breaker')).toBe(3);
    // Open: the failing target is skipped entirely.
    const skipped = await chat(gateway, 'r');
    expect(skipped.attempts).toBe(1);
    expect(skipped.model).toBe('backup');
    expect(requestsFor('flaky-3~breaker')).toBe(3);
    // After the cooldown one probe goes through; the upstream has recovered, so the breaker closes.
    clock.now += 10_000;
    const probe = await chat(gateway, 'r');
    expect(probe.model).toBe('flaky-3~breaker');
    expect(gateway.app.gatewayRouting.breakers.for('up/flaky-3~breaker').current()).toBe('closed');
  });

  it('when every target is open it still tries the one closest to recovery', async () => {
    const gateway = await gatewayWith(
      { r: { targets: [{ provider: 'up', model: 'fail-502' }], retry: { maxAttempts: 1 } } },
      { routing: { breaker: { consecutiveFailures: 2, cooldownMs: 60_000 } } },
    );
    await chat(gateway, 'r');
    await chat(gateway, 'r');
    expect(gateway.app.gatewayRouting.breakers.for('up/fail-502').current()).toBe('open');
    const before = requestsFor('fail-502');
    const result = await chat(gateway, 'r');
    expect(result.status).toBe(502);
    expect(result.attempts).toBe(1);
    expect(requestsFor('fail-502') - before).toBe(1);
  });
});

describe('active health checks', () => {
  it('skips a provider whose health check fails while another target is available', async () => {
    const gateway = await gatewayWith(
      { r: { targets: [{ provider: 'sick', model: 'hc-sick' }, { provider: 'up2', model: 'hc-well' }] } },
      {
        providers: {
          sick: { type: 'openai-compatible', baseUrl: upstream.url, healthCheck: { path: '/unhealthy', intervalMs: 60_000, unhealthyAfter: 1 } },
        },
      },
    );
    await gateway.app.gatewayRouting.health.checkAll();
    expect(gateway.app.gatewayRouting.health.isHealthy('sick')).toBe(false);
    const result = await chat(gateway, 'r');
    expect(result.model).toBe('hc-well');
    expect(requestsFor('hc-sick')).toBe(0);
  });
});

describe('counters', () => {
  it('counts retries, fallbacks, interrupted streams and breaker state in /metrics', async () => {
    const gateway = await gatewayWith(
      {
        retried: { targets: [{ provider: 'up', model: 'flaky-1~metrics' }], retry: { maxAttempts: 2 } },
        fellback: { targets: [{ provider: 'up', model: 'fail-503' }, { provider: 'up2', model: 'metrics-ok' }], retry: { maxAttempts: 1 } },
        cut: { targets: [{ provider: 'up', model: 'cut-after-2' }] },
        broken: { targets: [{ provider: 'up', model: 'fail-500' }], retry: { maxAttempts: 1 } },
      },
      { routing: { breaker: { consecutiveFailures: 2 } } },
    );
    await chat(gateway, 'retried');
    await chat(gateway, 'fellback');
    await chat(gateway, 'cut', { stream: true });
    await chat(gateway, 'broken');
    await chat(gateway, 'broken');
    expect(await metricValue(gateway.origin, 'gateway_retries_total', { route: 'retried' })).toBe(1);
    expect(await metricValue(gateway.origin, 'gateway_fallbacks_total', { route: 'fellback' })).toBe(1);
    expect(await metricValue(gateway.origin, 'gateway_stream_interruptions_total', { route: 'cut', provider: 'up' })).toBe(1);
    expect(await metricValue(gateway.origin, 'gateway_circuit_state', { target: 'up/fail-500' })).toBe(2);
    expect(await metricValue(gateway.origin, 'gateway_requests_total', { route: 'broken', status_class: '5xx' })).toBe(2);
    expect(await metricValue(gateway.origin, 'gateway_requests_total', { route: 'cut', stream: 'true', status_class: '2xx' })).toBe(1);
  });
});
