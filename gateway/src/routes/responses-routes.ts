/**
 * The Responses API's stored objects: `GET /v1/responses/{id}` (JSON, or with `stream=true` the events
 * that stream it, from `starting_after` on, as OpenAI serves a finished background response: the gateway
 * stores only finished responses), `DELETE /v1/responses/{id}` and `GET /v1/responses/{id}/input_items`
 * (paged like OpenAI's: `limit` 1–100, default 20; `order` desc by default; `after` an item id). A response
 * another gateway key created does not exist for this one.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { GatewayError } from '../errors.js';
import { flatName, type ToolNames } from '../inbound/responses-to-chat.js';
import { replayFrames } from '../inbound/responses-stream.js';
import type { JsonObject } from '../providers/types.js';
import { formatParam } from '../proxy/request-schemas.js';
import type { ConversationStore, StoredResponse } from '../state/conversation-store.js';

const flag = z.enum(['true', 'false']).transform((value) => value === 'true');

const retrieveQuery = z.object({
  stream: flag.optional(),
  starting_after: z.coerce.number().int().min(0).optional(),
  include: z.union([z.string(), z.array(z.string())]).optional(),
  include_obfuscation: flag.optional(),
});

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

  app.get<{ Params: { id: string } }>('/v1/responses/:id', { config }, async (request, reply) => {
    const { stream, starting_after: after } = parseQuery(retrieveQuery, request.query);
    const { response } = await find(request);
    if (!stream) return response;
    const events = replayFrames(response, storedToolNames(response), true).frames.flatMap((frame) => frame.split(/(?<=\n\n)/));
    const sent = after === undefined ? events : events.filter((event) => sequenceNumber(event) > after);
    return reply.type('text/event-stream; charset=utf-8').header('cache-control', 'no-cache').send(sent.join(''));
  });

  app.delete<{ Params: { id: string } }>('/v1/responses/:id', { config }, async (request) => {
    const { id } = request.params;
    if (!(await store.delete(id, request.gatewayKey?.id ?? ''))) throw notFound(id);
    return { id, object: 'response', deleted: true };
  });

  app.get<{ Params: { id: string } }>('/v1/responses/:id/input_items', { config }, async (request) => {
    const { limit, order, after } = parseQuery(listQuery, request.query);
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

function parseQuery<T extends z.ZodType>(schema: T, query: unknown): z.output<T> {
  const parsed = schema.safeParse(query);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const param = formatParam(issue?.path ?? []);
  throw new GatewayError('invalid_request', `${param ?? 'query'}: ${issue?.message ?? 'invalid'}`, { param });
}

/** The namespaced tools a stored response's calls name (replayed events name them as the client declared them). */
function storedToolNames(response: JsonObject): ToolNames {
  const names = new Map<string, { name: string; namespace: string }>();
  for (const item of (response.output as JsonObject[] | undefined) ?? []) {
    if (item.type === 'function_call' && typeof item.namespace === 'string') names.set(flatName(item.namespace, String(item.name)), { name: String(item.name), namespace: item.namespace });
  }
  return names;
}

/** An event frame's `sequence_number` (the last field frame() writes). */
function sequenceNumber(event: string): number {
  return Number(/"sequence_number":(\d+)\}\n\n$/.exec(event)?.[1] ?? -1);
}

function notFound(id: string): GatewayError {
  return new GatewayError('response_not_found', `No response found with id '${id}'.`, { param: 'response_id' });
}
