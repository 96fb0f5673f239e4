/** /admin/canaries: progressive canaries with their state and last evaluation; operator actions. */
import type { FastifyInstance } from 'fastify';
import type { CanaryAction, CanaryController } from '../canary/canary-controller.js';
import { GatewayError } from '../errors.js';

const ACTIONS = new Set<CanaryAction>(['pause', 'resume', 'promote', 'rollback', 'restart']);

export function registerCanaryAdminRoutes(app: FastifyInstance, controller: CanaryController): void {
  const admin = { config: { access: 'admin' } };
  app.get('/admin/canaries', admin, async () => ({ object: 'list', data: await controller.list() }));
  app.post<{ Params: { id: string; action: string } }>('/admin/canaries/:id/:action', admin, async (request) => {
    const action = request.params.action as CanaryAction;
    if (!ACTIONS.has(action)) throw new GatewayError('route_not_found', `unknown canary action '${request.params.action}'`);
    if (!(await controller.list()).some((view) => view.id === request.params.id)) {
      throw new GatewayError('route_not_found', `no progressive canary '${request.params.id}'`);
    }
    return controller.act(request.params.id, action);
  });
}
