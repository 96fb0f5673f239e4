/**
 * Streams in OpenAI's chunk format (chat.completion.chunk, text_completion): each upstream chunk is sent
 * as one `data:` event with the client's model, a complete stream ends with `data: [DONE]`, a broken one
 * with a last event carrying the error and no `[DONE]`, so a truncated answer is visible as one. The
 * gateway asks upstreams for usage on every stream; the usage chunk reaches the client only if it asked.
 */
import { answerFromStream } from '../cache/cached-answer.js';
import { encodeStreamAnswer } from '../cache/stored-answer.js';
import type { OpenAIErrorBody } from '../errors.js';
import { SSE_DONE, sseData } from '../providers/sse.js';
import type { JsonObject, Operation } from '../providers/types.js';
import { chunkText, isUsageOnlyChunk } from '../telemetry/usage.js';
import type { StreamAnswer, StreamRenderer, StreamTelemetry } from './types.js';

export class ChunkStreamRenderer implements StreamRenderer {
  private readonly collected: JsonObject[] | undefined;

  constructor(
    private readonly operation: Operation,
    private readonly model: string,
    private readonly includeUsage: boolean,
    private readonly telemetry: StreamTelemetry,
    collect: boolean,
  ) {
    this.collected = collect ? [] : undefined;
  }

  next(chunk: JsonObject): string {
    if ('model' in chunk) chunk.model = this.model;
    this.collected?.push(chunk);
    if (chunk.usage) this.telemetry.reportedUsage = chunk.usage;
    else this.telemetry.streamText += chunkText(chunk);
    if (!this.includeUsage && isUsageOnlyChunk(chunk)) return '';
    return sseData(JSON.stringify(chunk));
  }

  end(): string {
    return SSE_DONE;
  }

  fail(error: OpenAIErrorBody): string {
    return sseData(JSON.stringify(error));
  }

  answer(): StreamAnswer | undefined {
    const chunks = this.collected;
    if (!chunks) return undefined;
    const operation = this.operation;
    return { json: () => answerFromStream(operation, chunks).json, stored: () => encodeStreamAnswer(chunks) };
  }
}
