/**
 * Inbound dialects: what the client speaks. Each dialect is the mirror image of a provider adapter — a
 * plain data transform on the other side of the one pipeline (routing, retries, deadline, breakers,
 * canary, cache, limits, budgets, telemetry), which runs the same for every dialect.
 *
 *   client body ──parse──▶ InboundExchange ──canonical──▶ pipeline ──▶ provider adapter ──▶ upstream
 *   client ◀──render (JSON | SSE)── InboundExchange ◀── canonical answer, or the native one ◀──┘
 *
 * The contract, for someone adding a dialect (see also the README's Architecture section):
 *
 * 1. `parse` validates the client's body in its own dialect and throws a GatewayError (catalogue code,
 *    `param` naming the field as the dialect names it) on bad input; `errorBody` turns every error the
 *    gateway sends on this endpoint (before or after parse, mid-stream too) into the dialect's shape.
 * 2. The exchange carries the **canonical request**: an OpenAI body for `dialect.operation` (a chat body
 *    for every conversational dialect). Translated providers receive it; routing, budgets, token
 *    estimates, spans, shadow traffic and guardrails read it. It is final once parse returns.
 * 3. Where a provider speaks the dialect natively (`dialect.native`, e.g. 'responses' for OpenAI), the
 *    attempt sends `exchange.nativeBody(model)` instead — the client's body with the target's model —
 *    and gets the native answer back. This is decided per attempt (a fallback may cross provider types),
 *    so every render function is told whether the answer it gets is `native` or canonical.
 * 4. Rendering: `renderJson` (one JSON answer) and `streamRenderer` (SSE text per upstream item, the
 *    closing text of a complete stream, and of a broken one — the dialect's stream-failure contract).
 *    Renderers put back the model the client asked for, and report the answer's text and usage to the
 *    `StreamTelemetry` they are given, so cost and token estimates work in every dialect.
 * 5. Cache: `cacheBody` is what the key covers. A JSON answer is stored as the client received it; a
 *    streamed one as `streamRenderer().answer().stored()` gives it (cache/stored-answer.ts forms);
 *    `replayJson`/`replaySse` answer a hit as JSON or as SSE, whichever way it was stored.
 * 6. `completed`, when a dialect has it, runs once the answer is whole, just before the client has it
 *    all (e.g. the Responses dialect keeps state).
 *
 * No Fastify type appears here or in any dialect: JSON in, JSON or SSE text out.
 */
import type { StoredAnswer } from '../cache/stored-answer.js';
import type { GatewayError, OpenAIErrorBody } from '../errors.js';
import type { JsonObject, Operation } from '../providers/types.js';

export type DialectName = 'chat' | 'completions' | 'embeddings' | 'responses' | 'messages';

/** What a dialect may need from the request besides its body. */
export interface InboundContext {
  /** The gateway key's id, or '' when the gateway runs without keys: per-key state is per this id. */
  keyId: string;
  /** The client's request headers (e.g. the API version a native provider should be told). */
  headers: Readonly<Record<string, string | string[] | undefined>>;
}

export interface InboundDialect {
  readonly name: DialectName;
  /** The endpoint, e.g. `/v1/chat/completions`. */
  readonly path: string;
  /** The canonical operation the pipeline runs: what translated providers are asked for. */
  readonly operation: Operation;
  /** The trace row's `operation` and the metrics' and spans' operation (e.g. `responses`). */
  readonly label: string;
  /** The provider operation that speaks this dialect natively, when there is one. */
  readonly native: Operation | undefined;
  /** Validates the client's body; throws a GatewayError naming the bad field. */
  parse(body: unknown, context: InboundContext): InboundExchange | Promise<InboundExchange>;
  /**
   * Every error body on this endpoint, from the catalogue's OpenAI-shaped one (secrets already
   * scrubbed): the same object for OpenAI dialects, the dialect's own error shape for others.
   */
  errorBody(body: OpenAIErrorBody, error: GatewayError, requestId: string): JsonObject;
  /** The HTTP status of an error on this endpoint, when the dialect's API uses other statuses than the catalogue's. */
  errorStatus?(error: GatewayError): number;
  /** The text of a JSON answer as this dialect renders it (token estimates, shadow agreement, guardrails). */
  answerText(answer: JsonObject): string;
}

/** One client request in flight, parsed: the canonical request plus how to answer in the dialect. */
export interface InboundExchange {
  /** The model or route the client named. */
  readonly model: string;
  readonly stream: boolean;
  /** The end user the client named (canary stickiness, per-user traces), if any. */
  readonly user: string | undefined;
  /** An OpenAI body for `dialect.operation`: what translated providers get and what the pipeline reads. */
  readonly canonical: JsonObject & { model: string };
  /**
   * Tool types the canonical request could not carry (hosted tools a translated provider cannot run);
   * a route may drop them (the default; named in `x-gateway-dropped-tools`) or refuse translation.
   */
  readonly droppedTools: readonly string[];
  /** The request as the trace stores it when bodies are logged. */
  readonly logBody: JsonObject;
  /** What the cache key covers: everything that changes the answer. */
  readonly cacheBody: JsonObject;
  /** For a provider speaking this dialect natively: the body to send it, with the target's model. */
  nativeBody(model: string): JsonObject;
  /** Client headers a provider speaking this dialect natively is sent (e.g. anthropic-version). */
  readonly nativeHeaders?: Readonly<Record<string, string>> | undefined;
  /**
   * Set when the canonical request lacks something of the client's that only a native provider can
   * serve (e.g. an Anthropic server tool): translated attempts are refused with this error.
   */
  readonly untranslatable?: GatewayError | undefined;
  /** The client's JSON answer from an attempt's answer (`native`: the provider spoke this dialect). */
  renderJson(answer: JsonObject, native: boolean): JsonObject;
  /** A renderer for one streamed answer; `collect` keeps what `answer()` needs (cache, trace bodies). */
  streamRenderer(native: boolean, telemetry: StreamTelemetry, collect: boolean): StreamRenderer;
  /** A cache hit for a JSON client: the stored bytes as they are, or a fresh object (e.g. with a new id). */
  replayJson(hit: StoredAnswer): Buffer | string | JsonObject;
  /**
   * A cache hit for a streaming client: the whole SSE body in parts, its closing event last, and — for
   * a dialect with `completed` — the answer those events carry.
   */
  replaySse(hit: StoredAnswer): { parts: (Buffer | string)[]; answer?: JsonObject };
  /**
   * Optional. The answer is whole and about to reach the client (the JSON body, or a complete stream's
   * answer just before its closing event): e.g. the Responses dialect stores the conversation here, so a
   * client can continue it the moment it has the answer. Not called for errors or broken streams.
   */
  completed?(answer: JsonObject): void | Promise<void>;
}

/**
 * Where a renderer reports what telemetry needs from a stream: the text it carried (token estimates
 * when the upstream reports no usage) and the usage object when one arrives. The request's outcome
 * record is one, so rendering allocates nothing for it.
 */
export interface StreamTelemetry {
  streamText: string;
  reportedUsage: unknown;
}

export interface StreamRenderer {
  /** SSE text for one upstream item (a canonical chunk, or a native event); '' sends nothing. */
  next(item: JsonObject): string;
  /** The SSE text that closes a complete stream. */
  end(): string;
  /**
   * The SSE text that closes a stream broken after it started, from the scrubbed OpenAI error body;
   * `cause` is the upstream's error when there was one (its code may name the dialect's error type).
   */
  fail(error: OpenAIErrorBody, cause?: GatewayError): string;
  /** After `end()`: the whole answer as the client receives it, when collected (undefined otherwise). */
  answer(): StreamAnswer | undefined;
}

/** A complete streamed answer, in the two forms the pipeline may need (each made only when asked for). */
export interface StreamAnswer {
  /** As one JSON answer in the dialect (trace bodies, state, output guardrails). */
  json(): JsonObject;
  /** In the cache's stored form (cache/stored-answer.ts). */
  stored(): Buffer;
}
