/** GET /metrics: Prometheus text exposition of the gateway's registry. */
import type { FastifyInstance } from 'fastify';
import type { GatewayMetrics } from '../telemetry/metrics.js';

export function registerMetricsRoute(app: FastifyInstance, metrics: GatewayMetrics): void {
  app.get('/metrics', async (_request, reply) => {
    reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });
}
