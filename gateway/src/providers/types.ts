/**
 * What a provider is to the rest of the gateway. Nothing here knows about Fastify: a provider takes
 * plain data (an OpenAI-shaped request body) and gives plain data back (an OpenAI-shaped response, or
 * an async stream of OpenAI chat/completion chunks). Failures are thrown as GatewayError.
 */
import type { GatewayError } from '../errors.js';
import type { SseEvent } from './sse.js';

/**
 * What a provider is asked to do. `chat`, `completions` and `embeddings` take and return OpenAI's shapes
 * (the gateway's canonical form); a dialect's native operation (`responses`: OpenAI's Responses API;
 * `messages` and its `count_tokens`: Anthropic's Messages API) takes the client's own body and returns
 * the native answer or native stream events, untranslated.
 */
export type Operation = CanonicalOperation | 'responses' | 'messages' | 'count_tokens';

/** The operations whose requests and answers are OpenAI's chat, completions and embeddings shapes. */
export type CanonicalOperation = 'chat' | 'completions' | 'embeddings';

export function isCanonicalOperation(operation: Operation): operation is CanonicalOperation {
  return operation === 'chat' || operation === 'completions' || operation === 'embeddings';
}

export type JsonObject = Record<string, unknown>;

export interface ProviderCall {
  operation: Operation;
  /** The target's model name (what the upstream should run). */
  model: string;
  /** The client's request body, with `model` already set to the target's model. */
  body: JsonObject;
  stream: boolean;
  requestId: string;
  /** Aborted when the client goes away or the attempt must stop; the upstream request is cancelled. */
  signal: AbortSignal;
  /** Trace-context headers to send upstream (this attempt's span, or the client's own traceparent). */
  traceHeaders?: Record<string, string> | undefined;
  /** Client headers a provider honours on a native pass-through (e.g. anthropic-version, anthropic-beta). */
  clientHeaders?: Readonly<Record<string, string>> | undefined;
  /** Epoch ms of the request's deadline (a replica pool's queue never holds a request past it). */
  deadlineAt?: number | undefined;
  /** Priority class index, 0 the highest (who waits first in a replica pool's queue). */
  priority?: number | undefined;
  /** A replica pool reports here which replica it chose for this attempt, and why. */
  onPlacement?: ((placement: ReplicaPlacement) => void) | undefined;
}

/** Which replica of a pool served an attempt, and why: kept on the trace row. */
export interface ReplicaPlacement {
  /** `host:port` of the replica. */
  replica: string;
  /** round-robin, least-busy, least-loaded, prefix, prefix-overloaded or forced. */
  reason: string;
  /** The scheduler's score of the replica when it was chosen. */
  score: number;
  /** Characters of the prompt prefix the replica already held (prefix-affinity). */
  prefixMatchChars: number;
  /** Time the attempt waited in the pool's queue for a replica. */
  queuedMs: number;
}

export type ProviderReply =
  | { kind: 'json'; body: JsonObject }
  | {
      kind: 'stream';
      /** OpenAI-shaped chunks (or a native operation's events) as they arrive; throws a GatewayError if the stream breaks. */
      chunks: AsyncIterator<JsonObject>;
    };

export interface Provider {
  readonly name: string;
  readonly type: string;
  /** Models advertised by GET /v1/models as `<provider>/<model>`. */
  readonly models: readonly string[];
  /** Where an HTTP provider sends requests (spans report its host and port); absent for in-process ones. */
  readonly baseUrl?: string | undefined;
  supports(operation: Operation): boolean;
  send(call: ProviderCall): Promise<ProviderReply>;
  /** Background work (replica discovery, engine scrapes, health checks), started when the app is ready. */
  start?(): Promise<void>;
  close(): Promise<void>;
}

/** An HTTP request an adapter wants sent, relative to the provider's base URL. */
export interface UpstreamRequestSpec {
  /** Appended to the base URL's path, e.g. "/chat/completions". */
  path: string;
  /** Query string without '?', or empty. */
  query?: string;
  headers: Record<string, string>;
  body: string;
}

/** Turns upstream SSE events into OpenAI chunks, keeping whatever state a provider's protocol needs. */
export interface StreamDecoder {
  /** `done` means the upstream signalled a complete answer. */
  decode(event: SseEvent): { chunks: JsonObject[]; done: boolean };
  /**
   * The body ended with no end marker. `complete` says whether the answer was whole anyway (e.g. it
   * carried a finish reason; some APIs, like Gemini's, have no end marker at all); `chunks` are any
   * last chunks to send (such as a usage chunk).
   */
  finishWithoutMarker(): { complete: boolean; chunks: JsonObject[] };
}

/**
 * The pure translation half of an HTTP provider: OpenAI-shaped request in, native request out; native
 * response/stream/error in, OpenAI-shaped out. Adapters are data transforms; transport lives elsewhere.
 */
export interface ProviderAdapter {
  supports(operation: Operation): boolean;
  buildRequest(call: Omit<ProviderCall, 'signal' | 'requestId'>): UpstreamRequestSpec;
  parseResponse(operation: Operation, body: unknown, model: string): JsonObject;
  createStreamDecoder(call: Omit<ProviderCall, 'signal' | 'requestId'>): StreamDecoder;
  parseError(status: number, body: unknown, retryAfterMs: number | undefined): GatewayError;
}
