/**
 * Canary tests through real sockets: a gateway in front of a mock upstream with DuckDB traces, canary
 * routes split 50/50 that only a rollback can change, and traffic from users on a chosen side.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stickyBucket } from '../../src/routing/sticky-hash.js';
import { startGateway, type RunningGateway } from './gateway.js';
import { metricValue } from './metrics.js';
import type { MockUpstream } from './mock-upstream.js';

/** A gateway with `upstream` as provider `up`, serving `routes`, tracing to a fresh DuckDB file; `extra` adds top-level settings. */
export function startCanaryGateway(upstream: MockUpstream, routes: Record<string, unknown>, routing: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Promise<RunningGateway> {
  return startGateway({
    ...extra,
    providers: { up: { type: 'openai-compatible', baseUrl: upstream.url } },
    routing,
    routes,
    telemetry: { sink: 'duckdb', dataDir: mkdtempSync(join(tmpdir(), 'gateway-canary-')), logRequests: false },
  });
}

/** A canary at 50 % whose step never promotes (minStepRequests is out of reach): only a rollback changes it. */
export function heldCanaryRoute(baseline: string, canary: string, guards: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    strategy: 'canary',
    canaryWeight: 50,
    plan: { steps: [50, 100], minStepDurationMs: 1, minStepRequests: 100_000, intervalMs: 3_600_000, guards },
    baseline: { provider: 'up', model: baseline },
    canary: { provider: 'up', model: canary },
  };
}

/** Users the sticky hash puts on each side of a 50% split of `route`. */
export function usersOf(route: string, side: 'baseline' | 'canary', count: number, from = 0): string[] {
  const users: string[] = [];
  for (let i = 0; users.length < from + count; i++) {
    const user = `user-${i}`;
    if (stickyBucket(route, user) < 5000 === (side === 'canary')) users.push(user);
  }
  return users.slice(from);
}

/** One chat request per user (saying `content`), `concurrency` at a time; what each reply said about who answered. */
export async function send(
  gateway: RunningGateway,
  route: string,
  users: string[],
  concurrency = 20,
  content = 'hello',
): Promise<{ status: number; variant: string | null; model: string | null }[]> {
  const out: { status: number; variant: string | null; model: string | null }[] = [];
  for (let i = 0; i < users.length; i += concurrency) {
    const batch = users.slice(i, i + concurrency).map(async (user) => {
      const response = await fetch(`${gateway.baseURL}/chat/completions`, {
        method: 'POST',
        body: JSON.stringify({ model: route, user, messages: [{ role: 'user', content }] }),
      });
      await response.arrayBuffer();
      return { status: response.status, variant: response.headers.get('x-gateway-variant'), model: response.headers.get('x-gateway-model') };
    });
    out.push(...(await Promise.all(batch)));
  }
  return out;
}

/** Waits until the gateway recorded `total` requests on `route` (a reply can reach the client first), then stores them. */
export async function recorded(gateway: RunningGateway, route: string, total: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while ((await metricValue(gateway.origin, 'gateway_requests_total', { route }).catch(() => 0)) < total) {
    if (Date.now() > deadline) throw new Error(`fewer than ${total} requests recorded on ${route}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await gateway.app.traces!.flush();
}
