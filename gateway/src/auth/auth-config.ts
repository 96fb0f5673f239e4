/** The auth section of the config file: gateway keys, the admin key, budgets' estimates, CORS. */
import { z } from 'zod';
import { hashKey } from './key-hash.js';
import { Secret } from './secret.js';

const SHA256_HEX = /^[0-9a-f]{64}$/;

export const limitsSchema = z.strictObject({
  requestsPerMinute: z.number().int().positive().optional(),
  tokensPerMinute: z.number().int().positive().optional(),
});

export const budgetSchema = z.strictObject({
  dailyUsd: z.number().positive().optional(),
  monthlyUsd: z.number().positive().optional(),
});

export const keySchema = z
  .strictObject({
    id: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'key ids use letters, digits, _ . - (at most 64)'),
    /** SHA-256 of the key, hex: keys are stored as hashes, never in plain text. */
    hash: z.string().regex(SHA256_HEX, 'a lowercase hex SHA-256').optional(),
    /** Or the key itself, normally from ${ENV}: hashed at load, the plain text is not kept. */
    key: z.string().min(16, 'at least 16 characters').optional(),
    /** Routes or models this key may call; `*` matches anything, `openai/*` every direct openai model. */
    routes: z.array(z.string().min(1)).default(['*']),
    limits: limitsSchema.prefault({}),
    budget: budgetSchema.prefault({}),
    /** Tags stored on every trace of this key. */
    metadata: z.record(z.string(), z.string()).default({}),
  })
  .refine((key) => (key.hash === undefined) !== (key.key === undefined), { message: 'give exactly one of hash or key' })
  // Keys are looked up by hash; a plain key is kept only as a Secret (never serialised), so the secret
  // scrubber can remove it from upstream text.
  .transform(({ key, hash, ...rest }) => ({
    ...rest,
    hash: hash ?? hashKey(key as string),
    ...(key === undefined ? {} : { key: new Secret(key) }),
  }));

export const authSchema = z
  .strictObject({
  /**
   * `keys`: requests need a gateway key. `none`: open, explicitly. Unset: keys when any are configured;
   * otherwise open — allowed only when listening on loopback.
   */
  mode: z.enum(['keys', 'none']).optional(),
  /** Admin key (for /admin and /api): a SHA-256 hex hash, or the key itself from ${ENV}. */
  adminKeyHash: z.string().regex(SHA256_HEX).optional(),
  adminKey: z.string().min(16).optional(),
  /**
   * Signs dashboard session cookies; give every replica the same one (from ${ENV}). Unset: a random
   * secret per process, so sessions end on restart and other replicas do not accept them.
   */
  sessionSecret: z
    .string()
    .min(32, 'at least 32 characters')
    .transform((text) => new Secret(text))
    .optional(),
  keys: z.array(keySchema).default([]),
  /** Output tokens assumed for a budget reservation when the request sets no max_tokens. */
  reserveOutputTokens: z.number().int().positive().default(1024),
  /** Allow browsers from these origins (CORS); off when empty. */
  corsOrigins: z.array(z.string().min(1)).default([]),
})
  .transform(({ adminKey, adminKeyHash, ...rest }) => ({
    ...rest,
    adminKeyHash: adminKeyHash ?? (adminKey ? hashKey(adminKey) : undefined),
    adminKey: adminKey === undefined ? undefined : new Secret(adminKey),
  }));

export type AuthConfig = z.infer<typeof authSchema>;
export type KeyConfig = z.infer<typeof keySchema>;
export type KeyLimits = z.infer<typeof limitsSchema>;
export type KeyBudget = z.infer<typeof budgetSchema>;
