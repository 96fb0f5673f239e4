/**
 * Maps what undici (or the socket under it) throws onto the error catalogue: timeouts become 504
 * `upstream_timeout`, everything that means "could not talk to it" becomes 502 `upstream_unreachable`.
 */
import { GatewayError, isGatewayError } from '../errors.js';

const TIMEOUT_CODES = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ETIMEDOUT',
]);

export function mapTransportError(error: unknown, providerName: string): GatewayError {
  if (isGatewayError(error)) return error;
  const code = transportErrorCode(error);
  if (code !== undefined && TIMEOUT_CODES.has(code)) {
    const phase =
      code === 'UND_ERR_CONNECT_TIMEOUT' ? 'connecting' : code === 'UND_ERR_BODY_TIMEOUT' ? 'waiting for more of the body' : 'waiting for a response';
    return new GatewayError('upstream_timeout', `provider '${providerName}' timed out ${phase}`, { cause: error });
  }
  return new GatewayError(
    'upstream_unreachable',
    `provider '${providerName}' could not be reached${code ? ` (${code})` : ''}`,
    { cause: error },
  );
}

/** The error's code (`ECONNREFUSED`, `UND_ERR_…`), looked for on it and on its causes. */
export function transportErrorCode(error: unknown): string | undefined {
  let current: unknown = error;
  // undici wraps socket errors; the interesting code may sit on the cause.
  for (let depth = 0; depth < 3 && current && typeof current === 'object'; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}
