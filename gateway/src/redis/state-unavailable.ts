/**
 * A Redis command that holds up a request — a rate-limit count, a budget reservation, an admin change —
 * failed (Redis down, unreachable or too slow). The request that needed it gets a 503
 * `state_store_unavailable` from the catalogue instead of a 500 that says nothing; the cause stays on the
 * error for the log.
 */
import { GatewayError } from '../errors.js';

export async function orStateUnavailable<T>(what: string, command: Promise<T>): Promise<T> {
  try {
    return await command;
  } catch (error) {
    throw new GatewayError('state_store_unavailable', `${what} is kept in Redis, which did not answer; try again`, { cause: error });
  }
}
