/**
 * What the OpenAI endpoints whose bodies are the gateway's canonical requests (chat completions, legacy
 * completions, embeddings) have in common: validation against the operation's schema, OpenAI's error
 * shape (the catalogue's own), and an exchange that passes the answer back with only its model restored.
 */
import type { OpenAIErrorBody } from '../errors.js';
import { validateRequestBody } from '../proxy/request-schemas.js';
import type { CanonicalOperation, JsonObject } from '../providers/types.js';
import { answerText } from '../telemetry/usage.js';
import { OpenAIExchange } from './openai-exchange.js';
import type { DialectName, InboundDialect } from './types.js';

export function openAIDialect(name: DialectName & CanonicalOperation, path: string): InboundDialect {
  return {
    name,
    path,
    operation: name,
    label: name,
    native: undefined,
    parse: (body) => new OpenAIExchange(name, validateRequestBody(name, body)),
    errorBody: (body: OpenAIErrorBody) => body as unknown as JsonObject,
    answerText,
  };
}
