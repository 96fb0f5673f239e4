/**
 * Where each piece of state lives, said once: one Redis connection setting (`redis.url`, or REDIS_URL) and
 * an explicit store per piece. A piece is in Redis only when its own setting says so — by default, when a
 * Redis URL is given — so a setting for one piece never moves another.
 */
import { z } from 'zod';

/** Every piece of state that can be shared through Redis. */
export const STATE_PIECES = ['cache', 'limits', 'keys', 'canary', 'responses'] as const;
export type StatePiece = (typeof STATE_PIECES)[number];
export type StoreKind = 'memory' | 'redis';

const storeKind = z.enum(['memory', 'redis']).optional();

export const redisSchema = z.strictObject({
  /** The Redis every shared piece uses; also taken from REDIS_URL. */
  url: z.string().regex(/^rediss?:\/\/./, 'a redis:// or rediss:// URL').optional(),
});

export const stateSchema = z.strictObject({
  /** Response cache entries. */
  cache: storeKind,
  /** Rate-limit windows and budget spend per key. */
  limits: storeKind,
  /** Gateway keys created through the admin API. */
  keys: storeKind,
  /** Canary weights and status, and the lease that lets one replica decide. */
  canary: storeKind,
  /** The Responses API's stored responses and conversations (previous_response_id, GET /v1/responses/{id}). */
  responses: storeKind,
});

export type StateConfig = z.infer<typeof stateSchema>;
export type StatePlacement = Readonly<Record<StatePiece, StoreKind>>;

/** Each piece's store: as configured, else Redis when a Redis URL is given, else memory. */
export function placeState(state: StateConfig, redisUrl: string | undefined): StatePlacement {
  const fallback: StoreKind = redisUrl ? 'redis' : 'memory';
  return Object.freeze(Object.fromEntries(STATE_PIECES.map((piece) => [piece, state[piece] ?? fallback])) as Record<StatePiece, StoreKind>);
}

/** Pieces configured for Redis while no Redis URL is given. */
export function piecesMissingRedis(state: StateConfig, redisUrl: string | undefined): StatePiece[] {
  return redisUrl ? [] : STATE_PIECES.filter((piece) => state[piece] === 'redis');
}
