/** GET /v1/models: every route name and every provider model this gateway serves. */
import type { FastifyInstance } from 'fastify';
import type { ModelResolver } from '../routing/model-resolver.js';

export function registerModelsRoute(app: FastifyInstance, resolver: ModelResolver): void {
  // The list cannot change after start, so it is serialised once.
  const payload = JSON.stringify({
    object: 'list',
    data: resolver.listModels().map(({ id, ownedBy }) => ({ id, object: 'model', created: 0, owned_by: ownedBy })),
  });
  app.get('/v1/models', { config: { access: 'client' } }, async (_request, reply) => {
    reply.type('application/json');
    return payload;
  });
}
