/**
 * GET /api/export: the fine-tuning loop. Streams JSONL in OpenAI's chat fine-tuning format — one
 * {"messages": [...]} per line, the request's messages followed by the assistant's answer — from traces
 * whose bodies were logged, filtered by route, time range and minimum feedback score. A Responses API
 * trace logs its whole conversation (earlier turns included) and becomes the same chat messages the
 * gateway would send a chat provider, then the response's output as the assistant's turn; an Anthropic
 * Messages trace is read as the chat request and answer it translates to.
 */
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { GatewayError } from '../errors.js';
import { toChatRequest as messagesToChat, validateMessagesRequest } from '../inbound/messages-request.js';
import { toOpenAIResponse } from '../providers/anthropic-mapping.js';
import { formatParam } from '../proxy/request-schemas.js';
import type { TraceStore } from '../telemetry/trace-store.js';
import type { ExportCursor, ExportFilter } from '../telemetry/trace-sink.js';
import { toChatRequest } from '../inbound/responses-to-chat.js';
import type { ResponsesRequest } from '../inbound/responses-request.js';
import type { JsonObject } from '../providers/types.js';

const PAGE = 500;

/** A time as epoch milliseconds or an ISO date. */
const time = z.union([z.coerce.number().int().nonnegative(), z.iso.datetime({ offset: true }).transform((text) => Date.parse(text))]);

const querySchema = z.object({
  route: z.string().min(1).optional(),
  from: time.optional(),
  to: time.optional(),
  min_score: z.coerce.number().optional(),
});

export function registerExportRoute(app: FastifyInstance, traces: TraceStore | undefined): void {
  app.get('/api/export', { config: { access: 'admin' } }, async (request, reply) => {
    const parsed = querySchema.safeParse(request.query);
    if (!parsed.success) {
      const param = formatParam(parsed.error.issues[0]?.path ?? []);
      throw new GatewayError('invalid_request', `${param ?? 'query'}: ${parsed.error.issues[0]?.message ?? 'invalid'}`, { param });
    }
    if (!traces?.ready) throw new GatewayError('trace_store_unavailable', 'the trace store is not available');
    const filter: ExportFilter = { route: parsed.data.route, fromMs: parsed.data.from, toMs: parsed.data.to, minScore: parsed.data.min_score };
    reply.type('application/jsonl; charset=utf-8');
    reply.header('content-disposition', 'attachment; filename="dataset.jsonl"');
    return Readable.from(exportLines(traces, filter));
  });
}

async function* exportLines(traces: TraceStore, filter: ExportFilter): AsyncGenerator<string> {
  let cursor: ExportCursor | undefined;
  for (;;) {
    const page = await traces.sink.exportPage(filter, cursor, PAGE);
    for (const row of page) {
      const example = toFineTuningExample(row.request_body, row.response_body);
      if (example) yield `${JSON.stringify(example)}\n`;
    }
    if (page.length < PAGE) return;
    const last = page[page.length - 1]!;
    cursor = { tsMs: last.ts_ms, traceId: last.trace_id };
  }
}

/** {"messages": [...]} for a chat, Responses or Messages trace; undefined when a body was truncated or is none of them. */
export function toFineTuningExample(requestBody: string, responseBody: string): { messages: unknown[] } | undefined {
  let request: { messages?: unknown; input?: unknown };
  let response: { type?: unknown; object?: unknown; output?: unknown; choices?: { message?: { role?: string; content?: unknown; tool_calls?: unknown } }[] };
  try {
    request = JSON.parse(requestBody) as typeof request;
    response = JSON.parse(responseBody) as typeof response;
    // An Anthropic Message answered /v1/messages: both sides as the OpenAI chat they translate to.
    if (response.type === 'message') {
      request = messagesToChat(validateMessagesRequest(request), () => undefined);
      response = toOpenAIResponse(response as JsonObject, '') as typeof response;
    }
  } catch {
    return undefined;
  }
  if (response.object === 'response') return responsesExample(request as ResponsesRequest, response as JsonObject);
  const message = response.choices?.[0]?.message;
  if (!Array.isArray(request.messages) || !message) return undefined;
  const answer: Record<string, unknown> = { role: 'assistant', content: message.content ?? null };
  if (message.tool_calls) answer.tool_calls = message.tool_calls;
  return { messages: [...request.messages, answer] };
}

/** A Responses conversation and its answer as chat messages (the answer's items become the last turns). */
function responsesExample(request: ResponsesRequest, response: JsonObject): { messages: unknown[] } | undefined {
  if (!Array.isArray(response.output)) return undefined;
  const items = [...(Array.isArray(request.input) ? request.input : []), ...(response.output as JsonObject[])];
  const messages = toChatRequest({ ...request, tools: [] }, items).body.messages as unknown[];
  return messages.length > 0 ? { messages } : undefined;
}
