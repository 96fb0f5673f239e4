/**
 * `server.trustProxy`: whose X-Forwarded-* headers the gateway believes (Fastify's `trustProxy`). It
 * decides whether a request came over https — the dashboard's session cookie is `Secure` only then — so
 * a client that reaches the gateway directly cannot claim to be behind a TLS proxy. Addresses are checked
 * here, at load, rather than failing inside Fastify at start.
 */
import { isIP } from 'node:net';
import { z } from 'zod';

/** proxy-addr's named ranges, which Fastify accepts beside addresses. */
const NAMED_RANGES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/** An address, a CIDR range (`10.0.0.0/8`, `fd00::/8`), an IPv4 range with a netmask, or a named range. */
function isProxyAddress(text: string): boolean {
  if (NAMED_RANGES.has(text)) return true;
  const [address = '', range, ...rest] = text.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (range === undefined) return true;
  if (/^\d{1,3}$/.test(range)) return Number(range) <= (family === 4 ? 32 : 128);
  return family === 4 && isIP(range) === 4;
}

export const trustProxySchema = z
  .union([
    /** true: every peer (only when nothing but the proxy can reach the gateway); false: none. */
    z.boolean(),
    /** Trust peers at these addresses or ranges. */
    z.array(z.string().refine(isProxyAddress, 'an IP address, a CIDR range (10.0.0.0/8) or one of loopback, linklocal, uniquelocal')).min(1),
  ])
  .default(false);

export type TrustProxy = z.infer<typeof trustProxySchema>;
