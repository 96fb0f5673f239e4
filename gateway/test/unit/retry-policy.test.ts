import { describe, expect, it } from 'vitest';
import { retrySchema } from '../../src/config/routing-schema.js';
import { GatewayError, upstreamStatusError } from '../../src/errors.js';
import { isTargetFault, retryDelayMs, shouldMoveToNextTarget, shouldRetrySameTarget } from '../../src/upstream/retry-policy.js';

const config = retrySchema.parse({ initialBackoffMs: 100, maxBackoffMs: 1000, maxRetryAfterMs: 3000 });

describe('retry policy', () => {
  it('retries transient transport failures and the configured statuses only', () => {
    expect(shouldRetrySameTarget(new GatewayError('upstream_timeout', 'x'), config)).toBe(true);
    expect(shouldRetrySameTarget(new GatewayError('upstream_unreachable', 'x'), config)).toBe(true);
    expect(shouldRetrySameTarget(upstreamStatusError(503, {}, undefined, 'p'), config)).toBe(true);
    expect(shouldRetrySameTarget(upstreamStatusError(400, {}, undefined, 'p'), config)).toBe(false);
    expect(shouldRetrySameTarget(new GatewayError('deadline_exceeded', 'x'), config)).toBe(false);
    expect(shouldRetrySameTarget(upstreamStatusError(503, {}, undefined, 'p'), retrySchema.parse({ onStatus: [429] }))).toBe(false);
  });

  it('moves to the next target on retryable failures or listed statuses', () => {
    expect(shouldMoveToNextTarget(upstreamStatusError(500, {}, undefined, 'p'), new Set())).toBe(true);
    expect(shouldMoveToNextTarget(upstreamStatusError(400, {}, undefined, 'p'), new Set())).toBe(false);
    expect(shouldMoveToNextTarget(upstreamStatusError(400, {}, undefined, 'p'), new Set([400]))).toBe(true);
  });

  it('full-jitter exponential backoff stays within its ceiling', () => {
    expect(retryDelayMs(new GatewayError('upstream_timeout', 'x'), 1, config, () => 0.999)).toBe(99);
    expect(retryDelayMs(new GatewayError('upstream_timeout', 'x'), 3, config, () => 0.999)).toBe(399);
    expect(retryDelayMs(new GatewayError('upstream_timeout', 'x'), 10, config, () => 0.999)).toBe(999);
    expect(retryDelayMs(new GatewayError('upstream_timeout', 'x'), 2, config, () => 0)).toBe(0);
  });

  it('honours Retry-After, capped', () => {
    expect(retryDelayMs(upstreamStatusError(429, {}, 1200, 'p'), 1, config, () => 0.5)).toBe(1200);
    expect(retryDelayMs(upstreamStatusError(429, {}, 60_000, 'p'), 1, config, () => 0.5)).toBe(3000);
  });

  it('only upstream-side failures count against a target', () => {
    expect(isTargetFault(upstreamStatusError(502, {}, undefined, 'p'))).toBe(true);
    expect(isTargetFault(upstreamStatusError(429, {}, undefined, 'p'))).toBe(true);
    expect(isTargetFault(upstreamStatusError(400, {}, undefined, 'p'))).toBe(false);
    expect(isTargetFault(new GatewayError('deadline_exceeded', 'x'))).toBe(false);
  });
});
