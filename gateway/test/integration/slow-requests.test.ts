/**
 * `server.requestReceiveTimeoutMs` holds on time, over raw sockets: a head trickled byte by byte, a body
 * trickled after a complete head, and a body that never comes are each cut with a 408 `request_timeout`
 * within about the configured time — not at Node's next 30-second connection check.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { exchangeUntilClosed, type Exchange } from '../helpers/raw-socket.js';

const TIMEOUT_MS = 1500;
let gateway: RunningGateway;

beforeAll(async () => {
  gateway = await startGateway({
    providers: { sim: { type: 'mock' } },
    routes: { chat: { targets: [{ provider: 'sim', model: 'mock-1' }] } },
    server: { requestReceiveTimeoutMs: TIMEOUT_MS },
  });
});

afterAll(async () => {
  await gateway?.close();
});

/** Sends `head`, then one byte of `trickle` every `everyMs` (none when empty), until the gateway closes. */
function sendSlowly(head: string, trickle: string, everyMs = 100): Promise<Exchange> {
  return exchangeUntilClosed(gateway.origin, (socket) => {
    socket.write(head);
    let sent = 0;
    if (!trickle) return undefined;
    const timer = setInterval(() => {
      if (!socket.destroyed && sent < trickle.length) socket.write(trickle[sent++]!);
    }, everyMs);
    return () => clearInterval(timer);
  });
}

const BODY = JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'x'.repeat(200) }] });
const HEAD = `POST /v1/chat/completions HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\nContent-Length: ${BODY.length}\r\n\r\n`;

function expect408InTime(ended: Exchange): void {
  expect(ended.received).toMatch(/^HTTP\/1\.1 408 /);
  expect(JSON.parse(ended.received.slice(ended.received.indexOf('\r\n\r\n') + 4))).toMatchObject({ error: { code: 'request_timeout', type: 'invalid_request_error' } });
  // Not before the configured time, and within about it (the check runs every TIMEOUT_MS / 8; the
  // rest is slack for a loaded machine — Node's default check would take up to 30 s).
  expect(ended.elapsedMs).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
  expect(ended.elapsedMs).toBeLessThan(TIMEOUT_MS + 1500);
}

describe('requestReceiveTimeoutMs', () => {
  it('cuts a head that arrives one byte at a time', async () => {
    expect408InTime(await sendSlowly('POST /v1/chat/completions HTTP/1.1\r\n', 'x-slow-header: trickling-forever\r\n'.repeat(10)));
  });

  it('cuts a body trickled after a complete head', async () => {
    expect408InTime(await sendSlowly(HEAD, BODY));
  });

  it('cuts a body that never comes', async () => {
    expect408InTime(await sendSlowly(HEAD, ''));
  });

  it('answers a request that is slow but arrives within the time', async () => {
    const chunks = [BODY.slice(0, 40), BODY.slice(40, 120), BODY.slice(120)];
    const ended = await exchangeUntilClosed(gateway.origin, (socket) => {
      socket.write(HEAD.replace('Host: gateway', 'Host: gateway\r\nConnection: close'));
      const timers = chunks.map((chunk, i) => setTimeout(() => socket.write(chunk), (i + 1) * 200));
      return () => timers.forEach(clearTimeout);
    });
    expect(ended.received).toMatch(/^HTTP\/1\.1 200 /);
    expect(ended.received).toContain('"object":"chat.completion"');
  });
});
