/** `POST /v1/embeddings`: OpenAI embeddings (JSON only), passed to providers as they are. */
import { openAIDialect } from './openai-dialect.js';

export const embeddingsDialect = openAIDialect('embeddings', '/v1/embeddings');
