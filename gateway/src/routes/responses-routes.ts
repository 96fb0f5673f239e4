/**
 * The Responses API's stored objects: `GET /v1/responses/{id}`, `DELETE /v1/responses/{id}` and
 * `GET /v1/responses/{id}/input_items` (paged like OpenAI's: `limit` 1–100, default 20; `order` desc by
 * default; `after` an item id). A response another gateway key created does not exist for this one.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { GatewayError } from '../errors.js';
import { formatParam } from '../proxy/request-schemas.js';
import type { ConversationStore, StoredResponse } from '../state/conversation-store.js';

const listQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  order: z.enum(['asc', 'desc']).default('desc'),
  after: z.string().min(1).optional(),
  include: z.union([z.string(), z.array(z.string())]).optional(),
});

export function registerResponsesRoutes(app: FastifyInstance, store: ConversationStore): void {
  const config = { access: 'client' as const };

  async function find(request: FastifyRequest<{ Params: { id: string } }>): Promise<StoredResponse> {
    const record = await store.get(request.params.id, request.gatewayKey?.id ?? '');
    if (!record) throw notFound(request.params.id);
    return record;
  }

  app.get<{ Params: { id: string } }>('/v1/responses/:id', { config }, async (request) => (await find(request)).response);

  app.delete<{ Params: { id: string } }>('/v1/responses/:id', { config }, async (request) => {
    const { id } = request.params;
    if (!(await store.delete(id, request.gatewayKey?.id ?? ''))) throw notFound(id);
    return { id, object: 'response', deleted: true };
  });

  app.get<{ Params: { id: string } }>('/v1/responses/:id/input_items', { config }, async (request) => {
    const parsed = listQuery.safeParse(request.query);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const param = formatParam(issue?.path ?? []);
      throw new GatewayError('invalid_request', `${param ?? 'query'}: ${issue?.message ?? 'invalid'}`, { param });
    }
    const { limit, order, after } = parsed.data;
    const items = (await find(request)).input;
    const ordered = order === 'desc' ? [...items].reverse() : items;
    let start = 0;
    if (after !== undefined) {
      const index = ordered.findIndex((item) => item.id === after);
      if (index < 0) throw new GatewayError('invalid_request', `no input item with id '${after}' in this response`, { param: 'after' });
      start = index + 1;
    }
    const data = ordered.slice(start, start + limit);
    return {
      object: 'list',
      data,
      first_id: (data[0]?.id as string | undefined) ?? null,
      last_id: (data.at(-1)?.id as string | undefined) ?? null,
      has_more: start + limit < ordered.length,
    };
  });
}

function notFound(id: string): GatewayError {
  return new GatewayError('response_not_found', `No response found with id '${id}'.`, { param: 'response_id' });
}
