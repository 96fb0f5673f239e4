/** A raw TCP client for tests of what HTTP clients hide: partial heads, trickled bodies, uploads past a reply. */
import { connect, type Socket } from 'node:net';

export interface Exchange {
  /** Everything the server sent, as latin1 text. */
  received: string;
  elapsedMs: number;
}

/**
 * Connects to `origin`, lets `send` write (it may return a cleanup, e.g. clearing its timer), and resolves
 * with everything received once the server closes the connection. Rejects if it is still open after 15 s.
 */
export function exchangeUntilClosed(origin: string, send: (socket: Socket) => (() => void) | void): Promise<Exchange> {
  const { hostname, port } = new URL(origin);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const started = Date.now();
    let received = '';
    let cleanup: (() => void) | void;
    const giveUp = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connection still open after 15 s; received: ${received.slice(0, 200)}`));
    }, 15_000);
    socket.setEncoding('latin1');
    socket.on('data', (data: string) => (received += data));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(giveUp);
      cleanup?.();
      resolve({ received, elapsedMs: Date.now() - started });
    });
    cleanup = send(socket);
  });
}
