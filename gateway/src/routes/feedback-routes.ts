/**
 * POST /v1/feedback scores a trace; GET /api/traces/:id returns a trace with its feedback. Feedback on
 * an unknown trace id is a 404 once the trace would be visible: ids of requests this process just
 * finished are accepted even before their row reaches the store.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { GatewayError } from '../errors.js';
import { formatParam } from '../proxy/request-schemas.js';
import type { RequestRecorder } from '../telemetry/request-recorder.js';
import type { TraceStore } from '../telemetry/trace-store.js';

const feedbackSchema = z.strictObject({
  trace_id: z.string().min(1).max(128),
  score: z.number().min(-1_000_000).max(1_000_000),
  label: z.string().max(128).optional(),
  comment: z.string().max(4096).optional(),
});

export function registerFeedbackRoutes(app: FastifyInstance, traces: TraceStore | undefined, recorder: RequestRecorder): void {
  const store = (): TraceStore => {
    if (!traces?.ready) throw new GatewayError('trace_store_unavailable', 'the trace store is not available');
    return traces;
  };

  const addFeedback = async (request: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    const parsed = feedbackSchema.safeParse(request.body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new GatewayError('invalid_request', `${formatParam(issue?.path ?? []) ?? 'body'}: ${issue?.message ?? 'invalid'}`, { param: formatParam(issue?.path ?? []) });
    }
    const { trace_id: traceId, score, label, comment } = parsed.data;
    const traceStore = store();
    const known = recorder.recentTraceIds.has(traceId) || (await traceStore.sink.getTrace(traceId)) !== undefined;
    if (!known) throw new GatewayError('trace_not_found', `no trace with id '${traceId}'`, { param: 'trace_id' });
    const row = { feedback_id: randomUUID(), trace_id: traceId, ts_ms: Date.now(), score, label: label ?? '', comment: comment ?? '' };
    try {
      await traceStore.sink.insertFeedback(row);
    } catch (error) {
      throw new GatewayError('trace_store_unavailable', 'feedback could not be stored; try again', { cause: error });
    }
    reply.code(201);
    return { id: row.feedback_id, object: 'feedback', trace_id: traceId, score, label: row.label, comment: row.comment, created_ms: row.ts_ms };
  };
  // Applications score with their gateway key; operators score from the dashboard with the admin key.
  app.post('/v1/feedback', { config: { access: 'client' } }, addFeedback);
  app.post('/api/feedback', { config: { access: 'admin' } }, addFeedback);

  app.get<{ Params: { id: string } }>('/api/traces/:id', { config: { access: 'admin' } }, async (request) => {
    const traceStore = store();
    const trace = await traceStore.sink.getTrace(request.params.id);
    if (!trace) throw new GatewayError('trace_not_found', `no trace with id '${request.params.id}'`);
    return { trace, feedback: await traceStore.sink.listFeedback(request.params.id) };
  });
}
