/** `POST /v1/completions`: OpenAI's legacy completions, passed to providers as they are. */
import { openAIDialect } from './openai-dialect.js';

export const completionsDialect = openAIDialect('completions', '/v1/completions');
