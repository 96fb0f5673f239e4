/**
 * Writes a streamed answer to the client as SSE, item by item as they arrive, honouring backpressure.
 * What each item becomes on the wire is the inbound dialect's business (its StreamRenderer); this file
 * owns the delivery: corked writes per event-loop turn, and the stream-failure contract's timing — if
 * the upstream breaks after bytes went out, the dialect's failure text closes the stream, so a truncated
 * answer is visible as one.
 */
import type { ServerResponse } from 'node:http';
import { GatewayError, isGatewayError, type OpenAIErrorBody } from '../errors.js';
import type { StreamRenderer } from '../inbound/types.js';
import type { JsonObject } from '../providers/types.js';

/** `denied`: a guardrail ended the stream (its error was the last event). */
export type StreamOutcome = 'complete' | 'interrupted' | 'client_gone' | 'denied';

export interface SseWriteOptions {
  /** Called for every upstream item before it is rendered (telemetry timing). */
  observe?: (() => void) | undefined;
  /** The error body as the client may see it (secrets scrubbed): see http/client-error.ts. */
  errorBody: (error: GatewayError) => OpenAIErrorBody;
  /**
   * Runs once the upstream completed, before the closing event goes out: whatever must hold by the time
   * the client has the whole answer (e.g. a stored conversation it may continue at once) is done here.
   * If it throws, the stream closes with the dialect's failure text for that error instead.
   */
  beforeEnd?: (() => Promise<void> | void) | undefined;
}

export async function writeSseStream(
  res: ServerResponse,
  first: JsonObject | undefined,
  rest: AsyncIterator<JsonObject>,
  renderer: StreamRenderer,
  options: SseWriteOptions,
): Promise<StreamOutcome> {
  const forward = async (item: JsonObject): Promise<boolean> => {
    options.observe?.();
    const text = renderer.next(item);
    if (text === '') return !res.destroyed;
    return writeText(res, text);
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
    // A guardrail's deny ends the stream as itself, in the dialect's stream-failure form.
    if (isGatewayError(error) && error.endsStream) {
      endStream(res, renderer.fail(options.errorBody(error), error));
      return 'denied';
    }
    const cause = isGatewayError(error) ? error : undefined;
    const interrupted = new GatewayError(
      'stream_interrupted',
      `the upstream stream broke after it had started${cause ? `: ${cause.message}` : ''}`,
    );
    endStream(res, renderer.fail(options.errorBody(interrupted), cause));
    return 'interrupted';
  }
  if (res.destroyed) return 'client_gone';
  const last = renderer.end();
  try {
    const ready = options.beforeEnd?.();
    if (ready) await ready;
  } catch (error) {
    if (res.destroyed) return 'client_gone';
    const failure = isGatewayError(error) ? error : new GatewayError('internal_error', 'the answer could not be completed');
    endStream(res, renderer.fail(options.errorBody(failure), failure));
    return 'interrupted';
  }
  if (res.destroyed) return 'client_gone';
  endStream(res, last);
  return 'complete';
}

/** Writes an already-complete SSE body (a cached answer, its closing event included, in parts) and ends the stream. */
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
 * Events decoded from one upstream read arrive within one turn of the event loop: corking until the
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

/** Writes one rendered event; resolves false when the client has gone away. */
async function writeText(res: ServerResponse, text: string): Promise<boolean> {
  if (res.destroyed) return false;
  corkForThisTurn(res);
  if (res.write(text)) return true;
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
