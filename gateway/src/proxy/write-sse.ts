/**
 * Writes an OpenAI chunk stream to the client as SSE, chunk by chunk as they arrive, honouring
 * backpressure. If the upstream breaks after bytes went out, the client gets one final event with an
 * OpenAI-shaped error (code `stream_interrupted`) and no `[DONE]`, so a truncated answer is visible.
 */
import type { ServerResponse } from 'node:http';
import { GatewayError, isGatewayError, type OpenAIErrorBody } from '../errors.js';
import { isUsageOnlyChunk } from '../telemetry/usage.js';
import type { JsonObject } from '../providers/types.js';
import { SSE_DONE, sseData } from '../providers/sse.js';

/** `denied`: a guardrail ended the stream (its error was the last event). */
export type StreamOutcome = 'complete' | 'interrupted' | 'client_gone' | 'denied';

export interface SseWriteOptions {
  /** The gateway asks upstreams for usage on every stream; the usage chunk reaches the client only if it asked. */
  includeUsage: boolean;
  /** Receives every chunk (usage included), e.g. to cache the answer once complete. */
  collect?: JsonObject[] | undefined;
  /** Sees every chunk (usage included) as it passes, for telemetry. */
  observe?: ((chunk: JsonObject) => void) | undefined;
  /** The error event's body as the client may see it (secrets scrubbed): see http/client-error.ts. */
  errorBody: (error: GatewayError) => OpenAIErrorBody;
}

export async function writeSseStream(
  res: ServerResponse,
  first: JsonObject | undefined,
  rest: AsyncIterator<JsonObject>,
  clientModel: string,
  options: SseWriteOptions,
): Promise<StreamOutcome> {
  const forward = async (chunk: JsonObject): Promise<boolean> => {
    if ('model' in chunk) chunk.model = clientModel;
    options.collect?.push(chunk);
    options.observe?.(chunk);
    if (!options.includeUsage && isUsageOnlyChunk(chunk)) return !res.destroyed;
    return writeChunk(res, chunk);
  };
  try {
    if (first && !(await forward(first))) return closeIterator(rest);
    for (;;) {
      const next = await rest.next();
      if (next.done) break;
      if (!(await forward(next.value))) return closeIterator(rest);
    }
  } catch (error) {
    if (res.destroyed || res.writableEnded) return 'client_gone';
    if (isGatewayError(error) && error.endsStream) {
      endStream(res, sseData(JSON.stringify(options.errorBody(error))));
      return 'denied';
    }
    const cause = isGatewayError(error) ? error : undefined;
    const interrupted = new GatewayError(
      'stream_interrupted',
      `the upstream stream broke after it had started${cause ? `: ${cause.message}` : ''}`,
    );
    endStream(res, sseData(JSON.stringify(options.errorBody(interrupted))));
    return 'interrupted';
  }
  if (res.destroyed) return 'client_gone';
  endStream(res, SSE_DONE);
  return 'complete';
}

/** Writes an already-complete SSE body (a cached answer, [DONE] included, in parts) and ends the stream. */
export async function writeSseBody(res: ServerResponse, parts: readonly (Buffer | string)[]): Promise<StreamOutcome> {
  if (res.destroyed) return 'client_gone';
  res.cork();
  for (let i = 0; i < parts.length - 1; i++) res.write(parts[i] as Buffer | string);
  // Uncorked before end(): Node 24.21's end() on a corked response drops what the cork still holds.
  res.uncork();
  await new Promise<void>((resolve) => {
    res.once('close', resolve);
    res.end(parts.at(-1), () => {
      res.off('close', resolve);
      resolve();
    });
  });
  return res.writableFinished ? 'complete' : 'client_gone';
}


/**
 * Chunks decoded from one upstream read arrive within one turn of the event loop: corking until the
 * turn ends sends them in one socket write instead of one syscall each.
 */
function corkForThisTurn(res: ServerResponse): void {
  if (res.writableCorked > 0) return;
  res.cork();
  process.nextTick(() => {
    if (res.writableCorked > 0) res.uncork();
  });
}

/**
 * Ends the stream with its last event. Uncorked first: on Node 24 `end(data)` on a corked response
 * drops `data` (the final [DONE] or error event never arrived).
 */
function endStream(res: ServerResponse, last: string): void {
  while (res.writableCorked > 0) res.uncork();
  res.end(last);
}

/** Writes one chunk; resolves false when the client has gone away. */
async function writeChunk(res: ServerResponse, chunk: JsonObject): Promise<boolean> {
  if (res.destroyed) return false;
  corkForThisTurn(res);
  if (res.write(sseData(JSON.stringify(chunk)))) return true;
  await drainOrClose(res);
  return !res.destroyed;
}

function drainOrClose(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

async function closeIterator(iterator: AsyncIterator<JsonObject>): Promise<StreamOutcome> {
  await iterator.return?.().catch(() => undefined);
  return 'client_gone';
}
