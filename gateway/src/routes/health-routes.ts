/**
 * /healthz: the process is alive. /readyz: it should receive traffic — false while draining for
 * shutdown, so a load balancer stops sending before connections close. A trace store that is down does
 * not make the gateway unready (rows spool to disk), but readyz reports it.
 */
import type { FastifyInstance } from 'fastify';
import type { TraceStore, TraceStoreStatus } from '../telemetry/trace-store.js';

export interface Readiness {
  draining: boolean;
  /**
   * While draining: when the whole stop must be done (epoch ms), taken once at the signal, so the trace
   * store's close gets what the HTTP drain left of the grace period, not a grace period of its own.
   */
  stopBy?: number;
}

function pick({ state, up, spooledBytes, queued }: TraceStoreStatus): Pick<TraceStoreStatus, 'state' | 'up' | 'spooledBytes' | 'queued'> {
  return { state, up, spooledBytes, queued };
}

export function registerHealthRoutes(app: FastifyInstance, readiness: Readiness, traces: TraceStore | undefined): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const traceSink = traces
      ? { kind: traces.kind, ...pick(traces.status()) }
      : { kind: 'none' };
    if (readiness.draining) {
      reply.code(503);
      return { status: 'draining', traceSink };
    }
    return { status: 'ready', traceSink };
  });
}
