/** `POST /v1/chat/completions`: OpenAI Chat Completions, the gateway's canonical request itself. */
import { openAIDialect } from './openai-dialect.js';

export const chatDialect = openAIDialect('chat', '/v1/chat/completions');
