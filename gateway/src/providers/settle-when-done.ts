/** Runs a callback exactly once when a stream of chunks ends, however it ends. */
import type { JsonObject } from './types.js';

/** Passed to `onDone` when the consumer stopped reading early (the client left). */
export const CANCELLED = Symbol('cancelled');

/**
 * Wraps an iterator so `onDone` runs exactly once: on completion, failure (with the error) or cancel.
 * `observe`, when given (an attempt's span), sees every chunk.
 */
export function settleWhenDone(
  iterator: AsyncIterator<JsonObject>,
  onDone: (error: unknown) => void,
  observe?: ((chunk: JsonObject) => void) | undefined,
): AsyncIterator<JsonObject> {
  let settled = false;
  const settle = (error: unknown): void => {
    if (settled) return;
    settled = true;
    onDone(error);
  };
  return {
    async next() {
      try {
        const result = await iterator.next();
        if (result.done) settle(undefined);
        else observe?.(result.value);
        return result;
      } catch (error) {
        settle(error ?? new Error('stream failed'));
        throw error;
      }
    },
    async return(value?: unknown) {
      settle(CANCELLED);
      return (await iterator.return?.(value)) ?? { done: true, value: undefined };
    },
  };
}
