import { describe, expect, it } from 'vitest';
import { breakerSchema } from '../../src/config/routing-schema.js';
import { CircuitBreaker } from '../../src/routing/circuit-breaker.js';

function breaker(overrides: Record<string, unknown> = {}) {
  const clock = { now: 1_000_000 };
  const config = breakerSchema.parse({ consecutiveFailures: 3, minRequests: 10, failureRate: 0.5, windowMs: 10_000, cooldownMs: 5_000, ...overrides });
  const changes: string[] = [];
  return { clock, changes, breaker: new CircuitBreaker(config, () => clock.now, (s) => changes.push(s)) };
}

describe('CircuitBreaker', () => {
  it('opens after consecutive failures and skips its target', () => {
    const { breaker: b } = breaker();
    b.recordFailure();
    b.recordFailure();
    expect(b.tryAcquire()).toBe(true);
    b.recordFailure();
    expect(b.current()).toBe('open');
    expect(b.tryAcquire()).toBe(false);
  });

  it('a success resets the consecutive count', () => {
    const { breaker: b } = breaker();
    b.recordFailure();
    b.recordFailure();
    b.recordSuccess();
    b.recordFailure();
    b.recordFailure();
    expect(b.current()).toBe('closed');
  });

  it('opens on failure rate over the window once it holds enough requests', () => {
    const { breaker: b, clock } = breaker({ consecutiveFailures: 100 });
    for (let i = 0; i < 4; i++) {
      b.recordFailure();
      b.recordSuccess();
      clock.now += 100;
    }
    expect(b.current()).toBe('closed'); // 8 requests < minRequests
    b.recordFailure();
    b.recordSuccess();
    expect(b.current()).toBe('closed'); // 10 requests, 50% — but the last one was a success
    b.recordFailure();
    expect(b.current()).toBe('open');
  });

  it('forgets outcomes older than the window', () => {
    const { breaker: b, clock } = breaker({ consecutiveFailures: 100 });
    for (let i = 0; i < 9; i++) b.recordFailure();
    b.recordSuccess();
    clock.now += 20_000;
    b.recordFailure();
    expect(b.current()).toBe('closed');
  });

  it('half-opens after the cooldown, lets one probe through, closes on its success', () => {
    const { breaker: b, clock, changes } = breaker();
    for (let i = 0; i < 3; i++) b.recordFailure();
    clock.now += 4_999;
    expect(b.tryAcquire()).toBe(false);
    expect(b.msUntilRetry()).toBe(1);
    clock.now += 1;
    expect(b.tryAcquire()).toBe(true);
    expect(b.current()).toBe('half_open');
    expect(b.tryAcquire()).toBe(false); // one probe at a time
    b.recordSuccess();
    expect(b.current()).toBe('closed');
    expect(changes).toEqual(['open', 'half_open', 'closed']);
  });

  it('a failed probe opens it again for a new cooldown', () => {
    const { breaker: b, clock } = breaker();
    for (let i = 0; i < 3; i++) b.recordFailure();
    clock.now += 5_000;
    expect(b.tryAcquire()).toBe(true);
    b.recordFailure();
    expect(b.current()).toBe('open');
    clock.now += 4_000;
    expect(b.tryAcquire()).toBe(false);
  });

  it('a probe released without an outcome lets the next one through', () => {
    const { breaker: b, clock } = breaker();
    for (let i = 0; i < 3; i++) b.recordFailure();
    clock.now += 5_000;
    expect(b.tryAcquire()).toBe(true);
    b.release();
    expect(b.tryAcquire()).toBe(true);
  });
});
