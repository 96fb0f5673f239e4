/**
 * What happened to one client request, filled in as it is served and recorded exactly once when it
 * ends: metrics, the trace row, the log line and the span are all built from this record.
 */
import type { CacheResult } from '../cache/response-cache.js';
import type { JsonObject, ReplicaPlacement } from '../providers/types.js';
import type { GuardrailVerdict } from '../policy/verdict.js';
import type { Variant } from '../routing/route-tree.js';
import type { RequestSpan } from './otel.js';
import type { Usage } from './usage.js';

export type StreamResult = 'complete' | 'interrupted' | 'client_gone' | 'denied';

export interface RequestOutcome {
  /** Made by the gateway, unique per request. */
  traceId: string;
  /** The client's own x-request-id, or '' when it sent none. */
  clientRequestId: string;
  /** Wall-clock start (epoch ms) and the monotonic clock at the same moment. */
  startedAtMs: number;
  startedAt: number;
  operation: string;
  route: string | undefined;
  requestedModel: string | undefined;
  provider: string | undefined;
  providerType: string | undefined;
  model: string | undefined;
  variant: Variant | undefined;
  stream: boolean;
  status: number;
  errorCode: string | undefined;
  attempts: number;
  retries: number;
  fallbacks: number;
  /** The replica of a pool that served the last attempt, and why it was chosen. */
  placement: ReplicaPlacement | undefined;
  streamResult: StreamResult | undefined;
  cache: CacheResult;
  keyId: string;
  user: string;
  metadata: Record<string, string> | undefined;
  /** The request as its dialect logs it (serialised only when bodies are logged). */
  requestBody: JsonObject | undefined;
  /** The canonical request (an OpenAI body): token estimates count its prompt. */
  canonicalBody: JsonObject | undefined;
  /** A JSON answer as sent; for a complete stream, when bodies are logged, the assembled answer. */
  responseBody: JsonObject | undefined;
  /** The text of a JSON answer in the request's dialect (set by the endpoint; token estimates). */
  textOf: ((answer: JsonObject) => string) | undefined;
  /** Streams: the text streamed so far, for token estimates when the upstream reports no usage. */
  streamText: string;
  /** The upstream's usage object, when it sent one. */
  reportedUsage: unknown;
  /** performance.now() marks: first upstream call, upstream answer complete, first chunk to the client. */
  upstreamStartedAt: number | undefined;
  upstreamEndedAt: number | undefined;
  firstChunkAt: number | undefined;
  /** performance.now() when the request ended (recording may happen later). */
  finishedAt: number | undefined;
  /** The client's W3C traceparent (passed upstream as is when tracing is off), and the request span when it is on. */
  traceparent: string | undefined;
  span: RequestSpan | undefined;
  /** The handler took over the socket (SSE) and records the outcome itself when the stream ends. */
  hijacked: boolean;
  /** Called once usage and cost are known (budgets and token limits settle here). */
  onRecorded: ((usage: Usage | undefined, costUsd: number | null) => void) | undefined;
  /** Set once recorded, so no path can record a request twice. */
  recorded: boolean;
  /** The conditional branch the answering target was planned through. */
  branch: string | undefined;
  /** Every guardrail verdict, in the order the checks ran (undefined when the route has none). */
  guardrails: GuardrailVerdict[] | undefined;
}

export function newOutcome(traceId: string, operation: string, startedAt: number, startedAtMs: number): RequestOutcome {
  return {
    traceId,
    clientRequestId: '',
    startedAtMs,
    startedAt,
    operation,
    route: undefined,
    requestedModel: undefined,
    provider: undefined,
    providerType: undefined,
    model: undefined,
    variant: undefined,
    stream: false,
    status: 0,
    errorCode: undefined,
    attempts: 0,
    retries: 0,
    fallbacks: 0,
    placement: undefined,
    streamResult: undefined,
    cache: 'BYPASS',
    keyId: '',
    user: '',
    metadata: undefined,
    requestBody: undefined,
    canonicalBody: undefined,
    responseBody: undefined,
    textOf: undefined,
    streamText: '',
    reportedUsage: undefined,
    upstreamStartedAt: undefined,
    upstreamEndedAt: undefined,
    firstChunkAt: undefined,
    finishedAt: undefined,
    traceparent: undefined,
    span: undefined,
    hijacked: false,
    onRecorded: undefined,
    recorded: false,
    branch: undefined,
    guardrails: undefined,
  };
}
