/**
 * /admin/keys: list, create and delete gateway keys — the admin key itself is required (a dashboard
 * session cookie is not enough). A created key is shown once, in the creation reply; only its hash is kept.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { budgetSchema, limitsSchema } from '../auth/auth-config.js';
import { hashKey, newKey } from '../auth/key-hash.js';
import type { GatewayKey, KeyRegistry } from '../auth/key-registry.js';
import type { SecretScrubber } from '../auth/secret-scrubber.js';
import { GatewayError } from '../errors.js';
import type { BudgetGuard } from '../limits/budget.js';
import { formatParam } from '../proxy/request-schemas.js';

const createSchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/),
  routes: z.array(z.string().min(1)).default(['*']),
  limits: limitsSchema.prefault({}),
  budget: budgetSchema.prefault({}),
  metadata: z.record(z.string(), z.string()).default({}),
});

/** A key as the API shows it: everything but its hash. */
function publicView(key: GatewayKey): Omit<GatewayKey, 'hash'> {
  const { hash: _hash, ...rest } = key;
  return rest;
}

export function registerAdminRoutes(app: FastifyInstance, registry: KeyRegistry, budgets: BudgetGuard, scrubber: SecretScrubber): void {
  const admin = { config: { access: 'admin-key' } };

  app.get('/admin/keys', admin, async () => ({ object: 'list', data: registry.all().map(publicView) }));

  app.post('/admin/keys', admin, async (request, reply) => {
    const parsed = createSchema.safeParse(request.body);
    if (!parsed.success) {
      const param = formatParam(parsed.error.issues[0]?.path ?? []);
      throw new GatewayError('invalid_request', `${param ?? 'body'}: ${parsed.error.issues[0]?.message ?? 'invalid'}`, { param });
    }
    if (registry.all().some((key) => key.id === parsed.data.id)) {
      throw new GatewayError('key_exists', `a key with id '${parsed.data.id}' exists`, { param: 'id' });
    }
    const secret = newKey();
    // This replica knows the plain key from now on; replicas that learn the key from Redis see only its hash.
    scrubber.add(secret);
    const key: GatewayKey = { ...parsed.data, hash: hashKey(secret), source: 'api' };
    await registry.store.put(key);
    await registry.refresh();
    reply.code(201);
    return { ...publicView(key), key: secret };
  });

  app.delete<{ Params: { id: string } }>('/admin/keys/:id', admin, async (request, reply) => {
    if (registry.isConfigKey(request.params.id)) {
      throw new GatewayError('invalid_request', 'keys from the config file are removed by editing the config', { param: 'id' });
    }
    if (!(await registry.store.remove(request.params.id))) throw new GatewayError('key_not_found', `no key '${request.params.id}'`);
    await registry.refresh();
    reply.code(204);
    return undefined;
  });

  app.get<{ Params: { id: string } }>('/admin/keys/:id/usage', admin, async (request) => {
    const key = registry.all().find((candidate) => candidate.id === request.params.id);
    if (!key) throw new GatewayError('key_not_found', `no key '${request.params.id}'`);
    return { id: key.id, budget: key.budget, spent: await budgets.spent(key) };
  });
}
