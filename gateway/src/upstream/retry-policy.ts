/**
 * Pure retry decisions: whether a failure is worth another try on the same target, whether it should
 * move on to the next target, and how long to wait first.
 */
import type { RetryConfig } from '../config/schema.js';
import type { GatewayError } from '../errors.js';

/** Failures that say nothing about the request itself, only about the path to the upstream. */
const TRANSIENT_CODES = new Set(['upstream_timeout', 'upstream_unreachable', 'upstream_invalid_response', 'stream_interrupted']);

export function shouldRetrySameTarget(error: GatewayError, config: RetryConfig): boolean {
  if (TRANSIENT_CODES.has(error.code)) return true;
  return error.code === 'upstream_error' && config.onStatus.includes(error.status);
}

export function shouldMoveToNextTarget(error: GatewayError, fallbackOnStatus: ReadonlySet<number>): boolean {
  return error.retryable || fallbackOnStatus.has(error.status);
}

/**
 * Wait before retry number `retry` (1 = the first retry): the upstream's Retry-After when it sent one
 * (capped), otherwise exponential backoff with full jitter.
 */
export function retryDelayMs(error: GatewayError, retry: number, config: RetryConfig, random: () => number): number {
  if (error.retryAfterMs !== undefined) return Math.min(error.retryAfterMs, config.maxRetryAfterMs);
  const ceiling = Math.min(config.maxBackoffMs, config.initialBackoffMs * 2 ** (retry - 1));
  return Math.floor(random() * ceiling);
}

/** Whether a failure counts against the target's health (a bad request does not). */
export function isTargetFault(error: GatewayError): boolean {
  if (TRANSIENT_CODES.has(error.code)) return true;
  return error.code === 'upstream_error' && (error.status >= 500 || error.status === 429);
}
