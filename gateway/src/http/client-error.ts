/**
 * The one way an error reaches a client — a JSON error reply or the last event of a broken stream: its
 * body and headers with every secret the gateway holds, and the client's own key, scrubbed out. An
 * upstream's error text is forwarded (OpenAI-shaped bodies as they are), and some upstreams echo the key
 * they were sent.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { presentedKey } from '../auth/access-control.js';
import type { SecretScrubber } from '../auth/secret-scrubber.js';
import type { GatewayError, OpenAIErrorBody } from '../errors.js';

export interface ClientError {
  body: OpenAIErrorBody;
  headers: Readonly<Record<string, string>> | undefined;
}

export function clientError(error: GatewayError, scrubber: SecretScrubber, requestHeaders: IncomingHttpHeaders): ClientError {
  const clientKey = presentedKey(requestHeaders);
  return {
    body: scrubber.value(error.toBody(), clientKey),
    headers: error.headers && scrubber.value(error.headers, clientKey),
  };
}
