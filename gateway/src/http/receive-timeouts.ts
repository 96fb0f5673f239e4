/**
 * Node's HTTP server options that make `server.requestReceiveTimeoutMs` hold on time. Node checks its
 * header and request timeouts only every `connectionsCheckingInterval` (30 s by default), so a head or a
 * body trickled byte by byte was cut 12–90 s late. Checking at an eighth of the timeout (between 100 ms and
 * 1 s) cuts a slow head or body within that much of the configured time; each check walks only the
 * connections still receiving a request.
 */
import type { ServerOptions } from 'node:http';

export function receiveTimeoutOptions(timeoutMs: number): Pick<ServerOptions, 'headersTimeout' | 'requestTimeout' | 'connectionsCheckingInterval'> {
  return {
    headersTimeout: timeoutMs,
    requestTimeout: timeoutMs,
    connectionsCheckingInterval: Math.min(1000, Math.max(100, Math.floor(timeoutMs / 8))),
  };
}
