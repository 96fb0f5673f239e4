/**
 * The undici Agent behind one provider: one connection pool per upstream origin, kept alive, with a
 * bound on connections so a slow upstream cannot exhaust file descriptors.
 */
import { Agent } from 'undici';

export interface AgentOptions {
  connectTimeoutMs: number;
  maxConnections: number;
}

export function createUpstreamAgent(options: AgentOptions): Agent {
  return new Agent({
    connections: options.maxConnections,
    connect: { timeout: options.connectTimeoutMs },
    keepAliveTimeout: 30_000,
    keepAliveMaxTimeout: 600_000,
    // Timeouts are set per request (they are per provider); these only apply if a caller forgets.
    headersTimeout: 300_000,
    bodyTimeout: 300_000,
    pipelining: 1,
  });
}
