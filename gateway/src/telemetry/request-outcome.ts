/**
 * What happened to one client request, filled in as it is served and recorded exactly once when it
 * ends (metrics now; the trace row is built from the same record).
 */
import type { CacheResult } from '../cache/response-cache.js';
import type { Variant } from '../routing/route-tree.js';

export type StreamResult = 'complete' | 'interrupted' | 'client_gone';

export interface RequestOutcome {
  requestId: string;
  /** performance.now() when the request arrived. */
  startedAt: number;
  operation: string;
  route: string | undefined;
  provider: string | undefined;
  model: string | undefined;
  variant: Variant | undefined;
  stream: boolean;
  status: number;
  errorCode: string | undefined;
  attempts: number;
  retries: number;
  fallbacks: number;
  streamResult: StreamResult | undefined;
  cache: CacheResult;
  /** The handler took over the socket (SSE) and records the outcome itself when the stream ends. */
  hijacked: boolean;
  /** Set once recorded, so no path can record a request twice. */
  recorded: boolean;
}

export function newOutcome(requestId: string, operation: string, startedAt: number): RequestOutcome {
  return {
    requestId,
    startedAt,
    operation,
    route: undefined,
    provider: undefined,
    model: undefined,
    variant: undefined,
    stream: false,
    status: 0,
    errorCode: undefined,
    attempts: 0,
    retries: 0,
    fallbacks: 0,
    streamResult: undefined,
    cache: 'BYPASS',
    hijacked: false,
    recorded: false,
  };
}
