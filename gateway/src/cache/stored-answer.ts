/**
 * The one form in which a cached answer is kept: the bytes to send, in the form the answer arrived. A
 * JSON answer is its response body; a streamed answer is its SSE events (the usage event apart, so it is
 * sent only to clients that ask for usage). A hit in the same form sends views of the stored bytes —
 * nothing is parsed, decoded or re-serialised, and no other copy outlives the request — so what the
 * memory store counts is what the cache costs. A hit in the other form (a JSON client, a streamed answer)
 * converts on the way out.
 *
 * Layout: a header line `a2 <json|sse> <usage event bytes>`, then for `json` the body, for `sse` the usage
 * event (possibly empty) followed by the content events.
 */
import { SSE_DONE, sseData } from '../providers/sse.js';
import type { JsonObject, Operation } from '../providers/types.js';
import { isUsageOnlyChunk } from '../telemetry/usage.js';
import { answerFromStream, replayChunks } from './cached-answer.js';

const VERSION = 'a2';
const NEWLINE = 0x0a;
/** Header lines are a few bytes long; a longer first line is not ours. */
const MAX_HEADER = 32;

export interface StoredAnswer {
  form: 'json' | 'sse';
  /** JSON: the response body. SSE: the content events, each `data: …\n\n`, without [DONE]. */
  body: Buffer;
  /** SSE: the usage event; empty when the upstream reported none. */
  usageEvent: Buffer;
}

export function encodeJsonAnswer(json: JsonObject): Buffer {
  return bytesOf([`${VERSION} json 0\n`, JSON.stringify(json)]);
}

/**
 * A complete stream's chunks, as they were sent (the usage chunk included, wherever it came). Each event
 * is written into the buffer on its own: joining them first would make one answer-sized string, garbage
 * that only a full collection frees.
 */
export function encodeStreamAnswer(chunks: readonly JsonObject[]): Buffer {
  let usageEvent = '';
  const parts = [''];
  for (const chunk of chunks) {
    if (isUsageOnlyChunk(chunk)) usageEvent = sseData(JSON.stringify(chunk));
    else parts.push(sseData(JSON.stringify(chunk)));
  }
  parts[0] = `${VERSION} sse ${Buffer.byteLength(usageEvent)}\n${usageEvent}`;
  return bytesOf(parts);
}

/** Undefined for bytes that are not a stored answer of this version (they are then treated as a miss). */
export function decodeAnswer(stored: Buffer): StoredAnswer | undefined {
  const newline = stored.indexOf(NEWLINE);
  if (newline < 0 || newline > MAX_HEADER) return undefined;
  const [version, form, usage] = stored.toString('latin1', 0, newline).split(' ');
  const usageLength = Number(usage);
  if (version !== VERSION || (form !== 'json' && form !== 'sse') || !Number.isInteger(usageLength) || usageLength < 0) return undefined;
  const start = newline + 1;
  if (start + usageLength > stored.length) return undefined;
  return { form, usageEvent: stored.subarray(start, start + usageLength), body: stored.subarray(start + usageLength) };
}

/** The response body for a JSON client. */
export function jsonBodyOf(operation: Operation, answer: StoredAnswer): Buffer | string {
  if (answer.form === 'json') return answer.body;
  return JSON.stringify(answerFromStream(operation, parseEvents(`${answer.usageEvent.toString()}${answer.body.toString()}`)).json);
}

/** The whole SSE body for a streaming client, [DONE] included, in parts; usage only when the client asked for it. */
export function sseBodyOf(operation: Operation, answer: StoredAnswer, includeUsage: boolean): (Buffer | string)[] {
  if (answer.form === 'sse') return includeUsage && answer.usageEvent.length > 0 ? [answer.body, answer.usageEvent, SSE_DONE] : [answer.body, SSE_DONE];
  let events = '';
  for (const chunk of replayChunks(operation, { json: JSON.parse(answer.body.toString()) as JsonObject }, includeUsage)) {
    events += sseData(JSON.stringify(chunk));
  }
  return [events, SSE_DONE];
}

function parseEvents(events: string): JsonObject[] {
  const chunks: JsonObject[] = [];
  // JSON escapes line breaks inside strings, so a blank line only ever separates events.
  for (const event of events.split('\n\n')) {
    if (event.startsWith('data: ')) chunks.push(JSON.parse(event.slice(6)) as JsonObject);
  }
  return chunks;
}

/** One buffer of its own (never a slice of Node's shared pool), so it holds exactly these bytes. */
function bytesOf(parts: readonly string[]): Buffer {
  let length = 0;
  for (const part of parts) length += Buffer.byteLength(part);
  const bytes = Buffer.allocUnsafeSlow(length);
  let at = 0;
  for (const part of parts) at += bytes.write(part, at);
  return bytes;
}
