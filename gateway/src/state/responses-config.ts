/**
 * The `responses` section of the config file: how long the Responses API's stored responses live and how
 * much they may take. Where they live is `state.responses` (see state-config.ts).
 */
import { z } from 'zod';

const MiB = 1024 * 1024;

export const responsesSchema = z.strictObject({
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
