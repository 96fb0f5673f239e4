/** Traffic for canary tests: users on a chosen side of a sticky split, sent through a gateway, then stored. */
import { stickyBucket } from '../../src/routing/sticky-hash.js';
import type { RunningGateway } from './gateway.js';
import { metricValue } from './metrics.js';

/** Users the sticky hash puts on each side of a 50% split of `route`. */
export function usersOf(route: string, side: 'baseline' | 'canary', count: number, from = 0): string[] {
  const users: string[] = [];
  for (let i = 0; users.length < from + count; i++) {
    const user = `user-${i}`;
    if (stickyBucket(route, user) < 5000 === (side === 'canary')) users.push(user);
  }
  return users.slice(from);
}

/** One chat request per user, 20 at a time; what each reply said about who answered. */
export async function send(gateway: RunningGateway, route: string, users: string[]): Promise<{ status: number; variant: string | null; model: string | null }[]> {
  const out: { status: number; variant: string | null; model: string | null }[] = [];
  for (let i = 0; i < users.length; i += 20) {
    const batch = users.slice(i, i + 20).map(async (user) => {
      const response = await fetch(`${gateway.baseURL}/chat/completions`, {
        method: 'POST',
        body: JSON.stringify({ model: route, user, messages: [{ role: 'user', content: 'hello' }] }),
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
  await gateway.app.traces!.pipeline.flush();
}
