/**
 * Anthropic stream events for the Messages tests: the recorded streams parsed into events, and the
 * official SDK's own accumulator (MessageStream) turning an event sequence into the Message an
 * Anthropic client would end up with — the judge of every event sequence the gateway produces.
 */
import { MessageStream } from '@anthropic-ai/sdk/lib/MessageStream';
import type { Message } from '@anthropic-ai/sdk/resources/messages';
import { SseParser } from '../../src/providers/sse.js';
import { recorded } from './recorded-responses.js';

export type Event = Record<string, unknown> & { type: string };

/** A recorded Anthropic stream as its events, in order (ping included). */
export function recordedEvents(name: string): Event[] {
  const response = recorded('anthropic', name);
  if (response.kind !== 'sse') throw new Error(`recording '${name}' is not a stream`);
  const parser = new SseParser();
  const events = [...response.events.flatMap((raw) => parser.push(raw)), ...parser.end()];
  return events.map((event) => JSON.parse(event.data) as Event);
}

/** The Message the official SDK accumulates from these events (what `stream.finalMessage()` resolves to). */
export async function sdkFinalMessage(events: readonly Event[]): Promise<Message> {
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      // The SDK's readable-stream form: one JSON event per line.
      for (const event of events) controller.enqueue(encoder.encode(`${JSON.stringify(event)}\n`));
      controller.close();
    },
  });
  // The SDK adds `parsed_output` (its structured-output helper), which is no part of the wire format.
  const { parsed_output: _parsed, ...message } = (await MessageStream.fromReadableStream(body).finalMessage()) as Message & { parsed_output?: unknown };
  return message as Message;
}

/**
 * Checks the event grammar Anthropic's streams follow: message_start first, message_stop last, every
 * delta and stop aimed at a block that is open, every block stopped before message_delta.
 */
export function assertEventGrammar(events: readonly Event[]): void {
  const types = events.map((event) => event.type);
  if (types[0] !== 'message_start') throw new Error(`first event is ${types[0]}`);
  if (types.at(-1) !== 'message_stop') throw new Error(`last event is ${types.at(-1)}`);
  const open = new Set<number>();
  let next = 0;
  for (const event of events) {
    const index = event.index as number;
    if (event.type === 'content_block_start') {
      if (index !== next++) throw new Error(`block ${index} started out of order`);
      open.add(index);
    } else if (event.type === 'content_block_delta' && !open.has(index)) {
      throw new Error(`delta for block ${index}, which is not open`);
    } else if (event.type === 'content_block_stop') {
      if (!open.delete(index)) throw new Error(`stop for block ${index}, which is not open`);
    } else if (event.type === 'message_delta' && open.size > 0) {
      throw new Error(`message_delta with blocks ${[...open].join(',')} still open`);
    }
  }
}
