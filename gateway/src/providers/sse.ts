/**
 * Incremental Server-Sent Events parser, shared by every adapter (OpenAI-style `data:` streams, and
 * providers such as Anthropic that name their events). Follows the WHATWG event-stream grammar:
 * CRLF, LF or CR line ends; `field: value` lines; repeated `data:` lines joined by "\n"; comments
 * ignored; an empty line dispatches the event.
 */
import { GatewayError } from '../errors.js';

export interface SseEvent {
  /** The `event:` field, or undefined for the default "message" event. */
  event: string | undefined;
  data: string;
}

export class SseParser {
  private readonly decoder = new TextDecoder();
  private buffer = '';
  private eventName: string | undefined;
  private data: string[] = [];
  /** A chunk that ended on CR: if the next starts with LF, that LF belongs to the same line end. */
  private skipLeadingLf = false;

  /** Feeds raw bytes; returns the events completed by them. */
  push(chunk: Uint8Array | string): SseEvent[] {
    let text = typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    if (this.skipLeadingLf && text.startsWith('\n')) text = text.slice(1);
    this.skipLeadingLf = false;
    this.buffer += text;
    const events: SseEvent[] = [];
    let start = 0;
    for (;;) {
      const lineEnd = findLineEnd(this.buffer, start);
      if (lineEnd === -1) break;
      const line = this.buffer.slice(start, lineEnd);
      const char = this.buffer.charCodeAt(lineEnd);
      start = lineEnd + 1;
      if (char === 13 /* CR */) {
        if (start === this.buffer.length) this.skipLeadingLf = true;
        else if (this.buffer.charCodeAt(start) === 10) start += 1;
      }
      const event = this.processLine(line);
      if (event) events.push(event);
    }
    this.buffer = start === 0 ? this.buffer : this.buffer.slice(start);
    return events;
  }

  /** Dispatches an event left open when the stream ended without a trailing blank line. */
  end(): SseEvent[] {
    const tail = this.buffer + this.decoder.decode();
    this.buffer = '';
    const events: SseEvent[] = [];
    if (tail.length > 0) {
      const event = this.processLine(tail);
      if (event) events.push(event);
    }
    const last = this.processLine('');
    if (last) events.push(last);
    return events;
  }

  private processLine(line: string): SseEvent | undefined {
    if (line.length === 0) {
      if (this.data.length === 0) {
        this.eventName = undefined;
        return undefined;
      }
      const event: SseEvent = { event: this.eventName, data: this.data.join('\n') };
      this.data = [];
      this.eventName = undefined;
      return event;
    }
    if (line.charCodeAt(0) === 58 /* ':' comment */) return undefined;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.eventName = value;
    return undefined;
  }
}

function findLineEnd(text: string, from: number): number {
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10 || c === 13) return i;
  }
  return -1;
}

/** Parses an event's JSON data; a provider sending anything else is an invalid upstream response. */
export function parseEventJson(event: SseEvent, providerName: string): unknown {
  try {
    return JSON.parse(event.data);
  } catch {
    throw new GatewayError('upstream_invalid_response', `provider '${providerName}' sent a stream event that is not JSON`);
  }
}

/** Serialises one SSE data event the way OpenAI streams do. */
export function sseData(payload: string): string {
  return `data: ${payload}\n\n`;
}

export const SSE_DONE = 'data: [DONE]\n\n';
