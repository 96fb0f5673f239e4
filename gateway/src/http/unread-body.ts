/**
 * A reply sent before the request body was read — a 413 `body_too_large` refused on its Content-Length,
 * a 401 for a large upload — reaches a client that is still sending. Closing the connection then makes
 * the kernel answer the client's next bytes with a reset, and a client still writing loses the reply
 * (fetch fails with EPIPE, the OpenAI SDK reports a connection error). So the rest of the body is read
 * and discarded, as nginx's lingering close does, but bounded: past `maxBytes` more bytes the connection
 * is cut, and so it is when the request is still arriving at server.requestReceiveTimeoutMs (Node's
 * request timeout keeps running; clientErrorHandler then closes without a second reply). A body that ends
 * within the bounds leaves a usable keep-alive connection.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

const draining = new WeakSet<Socket>();

/** True while a connection is discarding the body of a request it already answered. */
export function isDrainingUnreadBody(socket: Socket): boolean {
  return draining.has(socket);
}

/** Call before the reply is sent: the body is consumed from now on, so Node does not dump it unbounded. */
export function drainUnreadBody(request: IncomingMessage, maxBytes: number): void {
  if (request.complete) return;
  const socket = request.socket;
  draining.add(socket);
  let discarded = 0;
  const count = (chunk: Buffer): void => {
    discarded += chunk.length;
    if (discarded <= maxBytes) return;
    done();
    socket.destroy();
  };
  const done = (): void => {
    draining.delete(socket);
    request.off('data', count).off('end', done).off('close', done);
  };
  request.on('data', count).once('end', done).once('close', done);
  request.resume();
}
