/** CORS, off unless origins are configured: allowed origins get the headers and a preflight answer. */
import type { FastifyInstance } from 'fastify';

export function installCors(app: FastifyInstance, origins: readonly string[]): void {
  if (origins.length === 0) return;
  const allowed = new Set(origins);
  const allowAll = allowed.has('*');
  const allow = (origin: string | undefined): string | undefined => (origin && (allowAll || allowed.has(origin)) ? origin : undefined);
  app.addHook('onRequest', async (request, reply) => {
    const origin = allow(request.headers.origin);
    if (!origin) return;
    reply.header('access-control-allow-origin', origin).header('vary', 'Origin');
    reply.header('access-control-expose-headers', 'x-request-id, x-gateway-trace-id, x-gateway-provider, x-gateway-model, x-gateway-attempts, x-gateway-cache, x-gateway-variant, x-gateway-branch, x-gateway-guardrails');
  });
  app.options('*', async (request, reply) => {
    if (!allow(request.headers.origin)) return reply.code(404).send();
    reply
      .header('access-control-allow-methods', 'GET, POST, DELETE, OPTIONS')
      .header('access-control-allow-headers', 'authorization, content-type, x-api-key, x-request-id, x-gateway-cache, x-gateway-cache-namespace, x-gateway-metadata, x-gateway-timeout-ms')
      .header('access-control-max-age', '600')
      .code(204)
      .send();
  });
}
