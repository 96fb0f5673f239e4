/**
 * Reading a provider's own Responses API stream (native pass-through): events pass as they are; the
 * stream is whole at response.completed or response.incomplete (OpenAI sends no [DONE]; a server that
 * does, as openai-node's own test fixtures frame streams, is understood); an error event or
 * response.failed fails the attempt with the upstream's code, retryable when the code says so.
 */
import { describe, expect, it } from 'vitest';
import { isGatewayError } from '../../src/errors.js';
import { createResponsesStreamDecoder } from '../../src/providers/openai-responses-stream.js';

const decoder = () => createResponsesStreamDecoder('oai');
const event = (data: unknown, name?: string) => ({ event: name, data: typeof data === 'string' ? data : JSON.stringify(data) });

describe('Responses stream decoder', () => {
  it('passes events through and is done at response.completed; a stream cut before it is not whole', () => {
    const d = decoder();
    expect(d.decode(event({ type: 'response.created', sequence_number: 0 }, 'response.created'))).toEqual({ chunks: [{ type: 'response.created', sequence_number: 0 }], done: false });
    expect(d.finishWithoutMarker().complete).toBe(false);
    expect(d.decode(event({ type: 'response.completed', sequence_number: 1 }))).toMatchObject({ done: true });
    expect(d.finishWithoutMarker().complete).toBe(true);
  });

  it('response.incomplete is a whole answer too; a trailing [DONE] ends the stream', () => {
    const d = decoder();
    expect(d.decode(event({ type: 'response.incomplete', sequence_number: 0 })).done).toBe(true);
    expect(decoder().decode(event('[DONE]'))).toEqual({ chunks: [], done: true });
  });

  it.each([
    [{ type: 'error', code: 'rate_limit_exceeded', message: 'slow down', sequence_number: 2 }, 429, true],
    [{ type: 'error', code: 'server_error', message: 'oops', sequence_number: 2 }, 500, true],
    [{ type: 'response.failed', sequence_number: 3, response: { error: { code: 'invalid_prompt', message: 'no' } } }, 400, false],
  ])('%o fails the attempt (status %i, retryable %s)', (data, status, retryable) => {
    let thrown: unknown;
    try {
      decoder().decode(event(data));
    } catch (error) {
      thrown = error;
    }
    expect(isGatewayError(thrown)).toBe(true);
    expect(thrown).toMatchObject({ status, retryable });
  });
});
