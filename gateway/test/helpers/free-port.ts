/**
 * A loopback port that is free now, for a server a test or benchmark starts — often a child process
 * that binds it a while later, or a "dead" address that must stay dead. Picked below the kernel's
 * ephemeral range (32768 and up on Linux): whatever binds port 0 meanwhile (every in-process test
 * server, running beside this one) can never take it. Random within the range, so parallel test workers
 * rarely pick the same one, and never twice in one process.
 */
import { createServer } from 'node:net';

const LOW = 20_000;
const HIGH = 32_000;
const picked = new Set<number>();

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

export async function freePort(): Promise<number> {
  for (;;) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW));
    if (picked.has(port)) continue;
    picked.add(port);
    if (await bindable(port)) return port;
  }
}
