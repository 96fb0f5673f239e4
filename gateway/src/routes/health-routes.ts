/**
 * /healthz: the process is alive. /readyz: it should receive traffic — false while draining for
 * shutdown, so a load balancer stops sending before connections close. A trace store that is down does
 * not make the gateway unready (rows spool to disk), but readyz reports it.
 */
import type { FastifyInstance } from 'fastify';
import type { TraceStore } from '../telemetry/trace-store.js';

export interface Readiness {
  draining: boolean;
}

export function registerHealthRoutes(app: FastifyInstance, readiness: Readiness, traces: TraceStore | undefined): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const traceSink = traces
      ? { kind: traces.kind, up: traces.status().up, spooledBytes: traces.status().spooledBytes, queued: traces.status().queued }
      : { kind: 'none' };
    if (readiness.draining) {
      reply.code(503);
      return { status: 'draining', traceSink };
    }
    return { status: 'ready', traceSink };
  });
}
