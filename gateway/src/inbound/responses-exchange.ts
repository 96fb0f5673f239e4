/**
 * One `POST /v1/responses` request: its conversation (the stored history `previous_response_id` names,
 * then this request's input), the canonical chat request translated providers get, the body native
 * providers get, and how the answer is rendered, cached and stored.
 *
 * State is the gateway's: native providers are sent the whole conversation with `store: false` (and,
 * when reasoning is involved, `include: ["reasoning.encrypted_content"]`, so reasoning items survive
 * from turn to turn without the provider keeping anything), and every response with `store` not false
 * is kept in the conversation store once it is complete.
 */
import type { StoredAnswer } from '../cache/stored-answer.js';
import type { JsonObject } from '../providers/types.js';
import type { ConversationStore } from '../state/conversation-store.js';
import { echoRequest, fromChatCompletion, newId, responseShell } from './responses-object.js';
import type { ResponsesInputItem, ResponsesRequest } from './responses-request.js';
import { NativeResponsesStream, replayFrames, TranslatedResponsesStream } from './responses-stream.js';
import { toChatRequest, type ToolNames } from './responses-to-chat.js';
import type { InboundExchange, StreamRenderer, StreamTelemetry } from './types.js';

export interface ResponsesExchangeDeps {
  store: ConversationStore;
  /** A complete response was not stored: larger than the store's bound. (A store that fails fails the request.) */
  onStoreFailure(responseId: string, error: unknown): void;
}

const ENCRYPTED_REASONING = 'reasoning.encrypted_content';

export class ResponsesExchange implements InboundExchange {
  readonly model: string;
  readonly stream: boolean;
  readonly user: string | undefined;
  readonly canonical: JsonObject & { model: string };
  readonly droppedTools: readonly string[];
  readonly logBody: JsonObject;
  readonly cacheBody: JsonObject;
  private readonly names: ToolNames;
  /** The conversation so far, then this request's input, as stored items (with ids). */
  private readonly context: JsonObject[];
  /** The response's id, whoever answers (every attempt's answer, a native provider's too, carries it). */
  private readonly responseId = newId('resp');

  constructor(
    private readonly request: ResponsesRequest,
    /** Items of the conversation `previous_response_id` continues (empty without one). */
    private readonly history: readonly JsonObject[],
    input: readonly JsonObject[],
    private readonly keyId: string,
    private readonly deps: ResponsesExchangeDeps,
  ) {
    this.model = request.model;
    this.stream = request.stream === true;
    this.user = request.user ?? request.safety_identifier;
    this.context = [...history, ...input];
    const translation = toChatRequest(request, this.context);
    this.canonical = translation.body;
    this.droppedTools = translation.droppedTools;
    this.names = translation.names;
    this.logBody = { ...request, input: this.context };
    const { previous_response_id: _previous, store: _store, ...rest } = this.nativeRequest(request.model);
    this.cacheBody = rest;
  }

  nativeBody(model: string): JsonObject {
    return this.nativeRequest(model);
  }

  renderJson(answer: JsonObject, native: boolean): JsonObject {
    if (native) return echoRequest(answer, this.request, this.responseId);
    return fromChatCompletion(answer, this.shell(), this.names);
  }

  streamRenderer(native: boolean, telemetry: StreamTelemetry): StreamRenderer {
    return native ? new NativeResponsesStream(this.request, this.shell(), telemetry) : new TranslatedResponsesStream(this.shell(), this.names, telemetry);
  }

  replayJson(hit: StoredAnswer): JsonObject {
    return replayFrames(this.fresh(hit), this.names).response;
  }

  replaySse(hit: StoredAnswer): { parts: string[]; answer: JsonObject } {
    const replay = replayFrames(this.fresh(hit), this.names);
    return { parts: replay.frames, answer: replay.response };
  }

  async completed(answer: JsonObject): Promise<void> {
    if (this.request.store === false) return;
    const id = String(answer.id);
    // A store that does not answer throws state_store_unavailable: the request fails (retryable) rather
    // than hand its client a response id that leads nowhere.
    const stored = await this.deps.store.save(id, { keyId: this.keyId, response: answer, input: this.context });
    if (!stored) this.deps.onStoreFailure(id, new Error('the conversation is larger than responses.maxEntryBytes'));
  }

  /** A new response object for this request, before any output. */
  private shell(): JsonObject {
    return responseShell(this.request, this.responseId, Math.floor(Date.now() / 1000), 'in_progress');
  }

  /** A stored answer (always kept as a response object) as this request's own response: a new id and time, this request's echo. */
  private fresh(hit: StoredAnswer): JsonObject {
    const stored = JSON.parse(hit.body.toString()) as JsonObject;
    const shell = this.shell();
    return { ...shell, ...stored, id: shell.id, created_at: shell.created_at, ...echoed(shell) };
  }

  /**
   * The client's body for a provider serving the Responses API: the conversation expanded into `input`
   * (the gateway owns state), `store: false`, the target's model. Unknown fields pass through.
   */
  private nativeRequest(model: string): JsonObject {
    const { previous_response_id: _previous, ...rest } = this.request;
    const body: JsonObject = { ...rest, model, store: false };
    if (this.history.length > 0) body.input = [...this.history.flatMap(replayable), ...inputItems(this.request.input)];
    const reasoning = this.request.reasoning != null || this.history.some((item) => item.type === 'reasoning');
    const include = Array.isArray(this.request.include) ? (this.request.include as string[]) : [];
    if (reasoning && !include.includes(ENCRYPTED_REASONING)) body.include = [...include, ENCRYPTED_REASONING];
    return body;
  }
}

/** The request-specific fields of a response (a replayed answer carries this request's, not the stored one's). */
function echoed(shell: JsonObject): JsonObject {
  const fields: JsonObject = {};
  for (const name of ['metadata', 'store', 'previous_response_id', 'user', 'safety_identifier', 'prompt_cache_key']) {
    if (name in shell) fields[name] = shell[name];
  }
  return fields;
}

/** This request's input as items (a string is one user message). */
function inputItems(input: ResponsesRequest['input']): ResponsesInputItem[] {
  if (input === undefined) return [];
  return typeof input === 'string' ? [{ role: 'user', content: input }] : input;
}

/**
 * A stored item as input to a provider that keeps nothing (`store: false`): without the id (the provider
 * never stored it), and reasoning only with its encrypted content (the provider cannot read it otherwise).
 */
function replayable(item: JsonObject): JsonObject[] {
  if (item.type === 'reasoning') return typeof item.encrypted_content === 'string' ? [item] : [];
  const { id: _id, status: _status, ...rest } = item;
  return [rest];
}

/** This request's input as stored items: typed, with ids, content as parts. */
export function storedInput(input: ResponsesRequest['input']): JsonObject[] {
  return inputItems(input).map((item) => {
    const type = item.type ?? 'message';
    if (type !== 'message') return { id: newId(type === 'function_call' ? 'fc' : 'item'), ...item, type };
    const assistant = item.role === 'assistant';
    const content =
      typeof item.content === 'string'
        ? [assistant ? { type: 'output_text', text: item.content, annotations: [] } : { type: 'input_text', text: item.content }]
        : item.content;
    return { id: newId('msg'), ...item, type, content, ...(assistant ? { status: 'completed' } : {}) };
  });
}
