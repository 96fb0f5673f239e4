/**
 * The undici dispatchers behind providers: an Agent per provider (one connection pool per upstream
 * origin), or a Pool per replica of a replica pool. Kept alive, with a bound on connections so a slow
 * upstream cannot exhaust file descriptors.
 */
import { Agent, Pool } from 'undici';

export interface AgentOptions {
  connectTimeoutMs: number;
  maxConnections: number;
  /**
   * The name a TLS certificate is checked against (and sent as SNI) when the origin is an address: a
   * discovered replica is dialled by IP, but its certificate names the service.
   */
  tlsServername?: string | undefined;
}

function dispatcherOptions(options: AgentOptions) {
  return {
    connections: options.maxConnections,
    connect: { timeout: options.connectTimeoutMs, ...(options.tlsServername ? { servername: options.tlsServername } : {}) },
    keepAliveTimeout: 30_000,
    keepAliveMaxTimeout: 600_000,
    // Timeouts are set per request (they are per provider); these only apply if a caller forgets.
    headersTimeout: 300_000,
    bodyTimeout: 300_000,
    pipelining: 1,
  };
}

export function createUpstreamAgent(options: AgentOptions): Agent {
  return new Agent(dispatcherOptions(options));
}

/** One replica's own connections: closing it lets its requests in flight finish first. */
export function createUpstreamPool(origin: string, options: AgentOptions): Pool {
  return new Pool(origin, dispatcherOptions(options));
}
