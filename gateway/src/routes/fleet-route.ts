/** GET /api/fleet: every replica pool with each replica's load, health and scheduling state (the dashboard's Fleet tab). */
import type { FastifyInstance } from 'fastify';
import type { ReplicaPoolProvider } from '../providers/replica-pool-provider.js';

export function registerFleetRoute(app: FastifyInstance, pools: readonly ReplicaPoolProvider[]): void {
  app.get('/api/fleet', { config: { access: 'admin' } }, async () => ({ object: 'list', data: pools.map((pool) => pool.snapshot()) }));
}
