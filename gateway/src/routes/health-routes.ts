/**
 * /healthz: the process is alive. /readyz: it should receive traffic — false while draining for
 * shutdown, so a load balancer stops sending before connections close.
 */
import type { FastifyInstance } from 'fastify';

export interface Readiness {
  draining: boolean;
}

export function registerHealthRoutes(app: FastifyInstance, readiness: Readiness): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    if (readiness.draining) {
      reply.code(503);
      return { status: 'draining' };
    }
    return { status: 'ready' };
  });
}
