/**
 * Azure OpenAI speaks OpenAI's format plus its content filter's frames, which are not OpenAI objects:
 * a stream opens with a frame holding only `prompt_filter_results` (id "", object "", created 0, no
 * choices), the asynchronous filter sends annotation frames whose choices have no `delta` (one of them
 * may carry `finish_reason: "content_filter"`), and chunks say `system_fingerprint: null`. This turns them
 * into what OpenAI's schema allows, keeping Azure's filter results: the prompt's are folded into the
 * first real chunk (where a JSON answer has them too), annotations get the stream's id, created, model
 * and an empty delta.
 */
import type { JsonObject, StreamDecoder } from './types.js';

type Envelope = { id: unknown; created: unknown; model: unknown };

export function createAzureStreamDecoder(inner: StreamDecoder, model: string): StreamDecoder {
  /** id, created and model of the stream's real chunks, once one has arrived. */
  let envelope: Envelope | undefined;
  let promptFilterResults: unknown;
  /** Annotation frames that came before any real chunk, sent just before it. */
  const waiting: JsonObject[] = [];

  const complete = (frame: JsonObject, from: Envelope): JsonObject => {
    const chunk: JsonObject = { ...frame, ...from, object: 'chat.completion.chunk', choices: completeChoices(frame.choices) };
    if (chunk.system_fingerprint === null) delete chunk.system_fingerprint;
    return chunk;
  };

  const normalise = (chunks: JsonObject[]): JsonObject[] => {
    const out: JsonObject[] = [];
    for (const chunk of chunks) {
      const choices = Array.isArray(chunk.choices) ? chunk.choices : [];
      if (chunk.object === 'chat.completion.chunk') {
        envelope ??= { id: chunk.id, created: chunk.created, model: chunk.model };
        const real = complete(chunk, { id: chunk.id, created: chunk.created, model: chunk.model });
        for (const frame of waiting.splice(0)) out.push(complete(frame, envelope));
        if (promptFilterResults !== undefined) {
          real.prompt_filter_results = promptFilterResults;
          promptFilterResults = undefined;
        }
        out.push(real);
      } else if (choices.length === 0) {
        // The prompt's filter results (`prompt_annotations` in older API versions).
        promptFilterResults = chunk.prompt_filter_results ?? chunk.prompt_annotations ?? promptFilterResults;
      } else if (envelope) {
        out.push(complete(chunk, envelope));
      } else {
        waiting.push(chunk);
      }
    }
    return out;
  };

  /** Annotations with no real chunk to take an id from (a completion filtered at once) still go out. */
  const flushWaiting = (): JsonObject[] =>
    waiting.splice(0).map((frame) => complete(frame, { id: '', created: Math.floor(Date.now() / 1000), model }));

  return {
    decode(event) {
      const decoded = inner.decode(event);
      const chunks = normalise(decoded.chunks);
      return { chunks: decoded.done ? [...chunks, ...flushWaiting()] : chunks, done: decoded.done };
    },
    finishWithoutMarker() {
      const last = inner.finishWithoutMarker();
      return { complete: last.complete, chunks: [...normalise(last.chunks), ...flushWaiting()] };
    },
  };
}

/** Every choice gets the `delta` OpenAI's chunk schema requires. */
function completeChoices(choices: unknown): unknown[] {
  if (!Array.isArray(choices)) return [];
  return choices.map((choice: JsonObject) => (choice && typeof choice === 'object' && !('delta' in choice) ? { ...choice, delta: {} } : choice));
}

/** A JSON answer: the fields OpenAI's schema requires that older API versions leave out. */
export function completeAzureResponse(body: JsonObject): JsonObject {
  if (!Array.isArray(body.choices)) return body;
  const completed: JsonObject = {
    ...body,
    choices: body.choices.map((choice: JsonObject) => {
      if (!choice || typeof choice !== 'object') return choice;
      const message = choice.message as JsonObject | undefined;
      return {
        ...choice,
        logprobs: choice.logprobs ?? null,
        ...(message && typeof message === 'object' ? { message: { ...message, refusal: message.refusal ?? null } } : {}),
      };
    }),
  };
  if (completed.system_fingerprint === null) delete completed.system_fingerprint;
  return completed;
}
