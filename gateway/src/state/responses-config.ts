/** The `responses` section of the config file: where the Responses API's conversation state lives, for how long, how much. */
import { z } from 'zod';

const MiB = 1024 * 1024;

export const responsesSchema = z.strictObject({
  /** memory (this process) or redis (shared by replicas); redis is the default when a Redis URL is set. */
  store: z.enum(['memory', 'redis']).optional(),
  /** How long a stored response can be retrieved or continued (default 30 days, as OpenAI keeps them). */
  ttlSeconds: z.number().int().positive().default(30 * 24 * 3600),
  /** Memory store: total size of stored conversations (least recently used go first). */
  maxBytes: z.number().int().positive().default(256 * MiB),
  /** One stored response with its whole conversation; a larger one is not stored. */
  maxEntryBytes: z.number().int().positive().default(8 * MiB),
  redis: z
    .strictObject({
      keyPrefix: z.string().default('gateway:responses:'),
      /** A slower command fails the request that needs it (state is not optional, unlike the cache). */
      timeoutMs: z.number().int().positive().default(2000),
    })
    .prefault({}),
});

export type ResponsesConfig = z.infer<typeof responsesSchema>;
