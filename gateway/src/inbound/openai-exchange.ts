/**
 * The exchange of the OpenAI endpoints the gateway's canonical request is made of (chat completions,
 * completions, embeddings): the client's body *is* the canonical request, so nothing is translated
 * inbound and the answer passes back with only its model put back to the one the client asked for.
 */
import { jsonBodyOf, sseBodyOf, type StoredAnswer } from '../cache/stored-answer.js';
import { GatewayError } from '../errors.js';
import type { ValidatedBody } from '../proxy/request-schemas.js';
import type { CanonicalOperation, JsonObject } from '../providers/types.js';
import { ChunkStreamRenderer } from './openai-chunk-stream.js';
import type { InboundExchange, StreamRenderer, StreamTelemetry } from './types.js';

const NONE: readonly string[] = Object.freeze([]);

export class OpenAIExchange implements InboundExchange {
  readonly model: string;
  readonly stream: boolean;
  readonly user: string | undefined;
  readonly droppedTools = NONE;
  readonly logBody: JsonObject;
  readonly cacheBody: JsonObject;
  private readonly includeUsage: boolean;

  constructor(
    private readonly operation: CanonicalOperation,
    readonly canonical: ValidatedBody,
  ) {
    this.model = canonical.model;
    this.stream = operation !== 'embeddings' && canonical.stream === true;
    this.user = typeof canonical.user === 'string' ? canonical.user : undefined;
    this.logBody = canonical;
    this.cacheBody = canonical;
    this.includeUsage = (canonical.stream_options as { include_usage?: unknown } | null | undefined)?.include_usage === true;
  }

  nativeBody(): JsonObject {
    // These dialects are the canonical form: no provider is asked for a native operation on their behalf.
    throw new GatewayError('internal_error', `the ${this.operation} endpoint has no native pass-through`);
  }

  renderJson(answer: JsonObject): JsonObject {
    if ('model' in answer) answer.model = this.model;
    return answer;
  }

  streamRenderer(_native: boolean, telemetry: StreamTelemetry, collect: boolean): StreamRenderer {
    return new ChunkStreamRenderer(this.operation, this.model, this.includeUsage, telemetry, collect);
  }

  replayJson(hit: StoredAnswer): Buffer | string {
    // A hit in the form it is asked for is sent as the stored bytes, nothing parsed.
    return jsonBodyOf(this.operation, hit);
  }

  replaySse(hit: StoredAnswer): { parts: (Buffer | string)[] } {
    return { parts: sseBodyOf(this.operation, hit, this.includeUsage) };
  }
}
