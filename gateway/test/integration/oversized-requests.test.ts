/**
 * An oversized body's 413 reaches the client every time: the gateway reads and discards the rest of the
 * upload (bounded in bytes and time) instead of closing on a client that is still sending. The gateway
 * runs as its own process, as in production — in the test's own process the client and server share one
 * event loop and the race never shows.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI, { APIError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatewayProcess, type GatewayProcess } from '../helpers/gateway-process.js';
import { exchangeUntilClosed } from '../helpers/raw-socket.js';

const MiB = 1024 * 1024;
let gateway: GatewayProcess;
let small: GatewayProcess;

function configFile(name: string, server: Record<string, unknown>): string {
  const path = join(mkdtempSync(join(tmpdir(), 'gateway-oversized-')), name);
  writeFileSync(path, JSON.stringify({
    logging: { level: 'info' },
    server,
    providers: { sim: { type: 'mock' } },
    routes: { chat: { targets: [{ provider: 'sim', model: 'mock-1' }] } },
    telemetry: { sink: 'none', logRequests: false },
  }));
  return path;
}

beforeAll(async () => {
  // The default 10 MiB limit; and a small one, to see the discard bounds act.
  gateway = await startGatewayProcess({ GATEWAY_CONFIG: configFile('default.json', {}) });
  small = await startGatewayProcess({ GATEWAY_CONFIG: configFile('small.json', { bodyLimitBytes: 64 * 1024, requestReceiveTimeoutMs: 1500 }) });
}, 30_000);

afterAll(async () => {
  for (const child of [gateway?.child, small?.child]) child?.kill('SIGTERM');
  await Promise.all([gateway?.exited, small?.exited]);
});

const oversized = 'x'.repeat(11 * MiB);
const body = JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: oversized }] });

describe('an 11 MiB body against the default 10 MiB limit', () => {
  it('fetch gets the 413 body_too_large every time (10 tries, Content-Length)', async () => {
    for (let i = 0; i < 10; i++) {
      const response = await fetch(`${gateway.origin}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      expect(response.status).toBe(413);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('body_too_large');
    }
  });

  it('the official SDK gets the 413 body_too_large every time (10 tries)', async () => {
    const client = new OpenAI({ baseURL: `${gateway.origin}/v1`, apiKey: 'unused', maxRetries: 0 });
    for (let i = 0; i < 10; i++) {
      const error = (await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: oversized }] }).catch((e: unknown) => e)) as APIError;
      expect(error).toBeInstanceOf(APIError);
      expect(error.status).toBe(413);
      expect(error.code).toBe('body_too_large');
    }
  });

  it('a chunked upload that outgrows the limit gets its 413 too (5 tries)', async () => {
    for (let i = 0; i < 5; i++) {
      const chunk = new TextEncoder().encode('x'.repeat(MiB));
      let sent = 0;
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent++ < 12) controller.enqueue(chunk);
          else controller.close();
        },
      });
      const response = await fetch(`${gateway.origin}/v1/chat/completions`, { method: 'POST', body: stream, duplex: 'half' } as RequestInit);
      expect(response.status).toBe(413);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('body_too_large');
    }
  });

  it('the connection stays usable once the discarded body is through', async () => {
    const replies = await rawExchange(small, 200 * 1024, (socket) => {
      socket.write(Buffer.alloc(200 * 1024, 0x78));
      socket.write('POST /v1/chat/completions HTTP/1.1\r\nHost: g\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"model":1}');
    });
    expect(replies).toMatch(/^HTTP\/1\.1 413 /);
    expect(replies.match(/HTTP\/1\.1 /g)).toHaveLength(2);
    expect(replies).toContain('HTTP/1.1 400 ');
  });
});

describe('the discard is bounded', () => {
  it('in bytes: an endless upload is cut after four times the body limit', async () => {
    // Past the bound the connection is reset, and a client that is still writing may lose the 413 with
    // it: the bound trades that client's reply for the gateway's work. What must hold is the cut.
    let written = 0;
    await rawExchange(small, 512 * MiB, (socket) => {
      const block = Buffer.alloc(64 * 1024, 0x78);
      const pump = (): void => {
        while (!socket.destroyed && written < 512 * MiB) {
          written += block.length;
          if (!socket.write(block)) return void socket.once('drain', pump);
        }
      };
      pump();
    });
    // Cut long before the 512 MiB were sent (what was written includes both kernels' socket buffers).
    expect(written).toBeLessThan(64 * MiB);
  });

  it('in time: a stalled upload is cut after requestReceiveTimeoutMs, with no second reply', async () => {
    const started = Date.now();
    const replies = await rawExchange(small, MiB, (socket) => socket.write(Buffer.alloc(128 * 1024, 0x78)));
    expect(replies).toMatch(/^HTTP\/1\.1 413 /);
    expect(replies.match(/HTTP\/1\.1 /g)).toHaveLength(1);
    // It lingered (the upload might still have come), then gave up within about the receive timeout.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
    expect(Date.now() - started).toBeLessThan(1500 + 2000);
  });
});

/** Sends a head declaring `declared` body bytes, lets `send` write, and resolves with all it received once the gateway closes. */
async function rawExchange(target: GatewayProcess, declared: number, send: (socket: Socket) => void): Promise<string> {
  const { received } = await exchangeUntilClosed(target.origin, (socket) => {
    socket.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: g\r\nContent-Type: application/json\r\nContent-Length: ${declared}\r\n\r\n`);
    send(socket);
  });
  return received;
}
