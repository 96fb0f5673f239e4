/**
 * `server.requestReceiveTimeoutMs` holds on time, over raw sockets: a head trickled byte by byte, a body
 * trickled after a complete head, and a body that never comes are each cut with a 408 `request_timeout`
 * within about the configured time — not at Node's next 30-second connection check.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';

const TIMEOUT_MS = 1500;
let gateway: RunningGateway;
let port: number;

beforeAll(async () => {
  gateway = await startGateway({
    providers: { sim: { type: 'mock' } },
    routes: { chat: { targets: [{ provider: 'sim', model: 'mock-1' }] } },
    server: { requestReceiveTimeoutMs: TIMEOUT_MS },
  });
  port = Number(new URL(gateway.origin).port);
});

afterAll(async () => {
  await gateway?.close();
});

interface Ended {
  elapsedMs: number;
  response: string;
}

/** Sends `head`, then one byte of `trickle` every `everyMs` (none when empty), until the gateway closes. */
function sendSlowly(head: string, trickle: string, everyMs = 100): Promise<Ended> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect(port, '127.0.0.1');
    const started = Date.now();
    let response = '';
    let sent = 0;
    const timer = trickle
      ? setInterval(() => {
          if (!socket.destroyed && sent < trickle.length) socket.write(trickle[sent++]!);
        }, everyMs)
      : undefined;
    const giveUp = setTimeout(() => {
      socket.destroy();
      reject(new Error(`still open after 15 s; received: ${response}`));
    }, 15_000);
    socket.setEncoding('utf8');
    socket.on('data', (data: string) => (response += data));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearInterval(timer);
      clearTimeout(giveUp);
      resolve({ elapsedMs: Date.now() - started, response });
    });
    socket.write(head);
  });
}

const BODY = JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'x'.repeat(200) }] });
const HEAD = `POST /v1/chat/completions HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\nContent-Length: ${BODY.length}\r\n\r\n`;

function expect408InTime(ended: Ended): void {
  expect(ended.response).toMatch(/^HTTP\/1\.1 408 /);
  expect(JSON.parse(ended.response.slice(ended.response.indexOf('\r\n\r\n') + 4))).toMatchObject({ error: { code: 'request_timeout', type: 'invalid_request_error' } });
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
    const ended = await new Promise<Ended>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      const started = Date.now();
      let response = '';
      socket.setEncoding('utf8');
      socket.on('data', (data: string) => {
        response += data;
        if (response.includes('"object":"chat.completion"')) socket.end();
      });
      socket.on('close', () => resolve({ elapsedMs: Date.now() - started, response }));
      socket.write(HEAD);
      chunks.forEach((chunk, i) => setTimeout(() => socket.write(chunk), (i + 1) * 200));
    });
    expect(ended.response).toMatch(/^HTTP\/1\.1 200 /);
  });
});
