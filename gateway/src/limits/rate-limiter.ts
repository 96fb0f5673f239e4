/**
 * Per-key rate limits in fixed one-minute windows: requests are counted when they arrive; tokens are
 * counted when a request finishes (its real usage) and checked when the next one arrives, as OpenAI
 * does for tokens per minute. Over a limit: 429 `rate_limit_exceeded` with Retry-After and OpenAI's
 * x-ratelimit-* headers.
 */
import type { GatewayKey } from '../auth/key-registry.js';
import { GatewayError } from '../errors.js';
import type { LimitStore } from './limit-store.js';

const MINUTE = 60_000;

export interface RateDecision {
  headers: Record<string, string>;
}

export class RateLimiter {
  constructor(private readonly store: LimitStore, private readonly now: () => number = Date.now) {}

  private window(): { minute: number; resetMs: number } {
    const now = this.now();
    const minute = Math.floor(now / MINUTE);
    return { minute, resetMs: (minute + 1) * MINUTE - now };
  }

  /** Counts the request; throws 429 when a limit is exceeded. Returns the x-ratelimit-* headers. */
  async admit(key: GatewayKey): Promise<RateDecision> {
    const { requestsPerMinute, tokensPerMinute } = key.limits;
    const headers: Record<string, string> = {};
    if (requestsPerMinute === undefined && tokensPerMinute === undefined) return { headers };
    const { minute, resetMs } = this.window();
    const reset = `${Math.ceil(resetMs / 1000)}s`;
    if (requestsPerMinute !== undefined) {
      const count = await this.store.add(`${key.id}:req:${minute}`, 1, 2 * MINUTE);
      headers['x-ratelimit-limit-requests'] = String(requestsPerMinute);
      headers['x-ratelimit-remaining-requests'] = String(Math.max(0, requestsPerMinute - count));
      headers['x-ratelimit-reset-requests'] = reset;
      if (count > requestsPerMinute) throw limited(`key '${key.id}' is over ${requestsPerMinute} requests per minute`, resetMs, headers);
    }
    if (tokensPerMinute !== undefined) {
      const used = await this.store.get(`${key.id}:tok:${minute}`);
      headers['x-ratelimit-limit-tokens'] = String(tokensPerMinute);
      headers['x-ratelimit-remaining-tokens'] = String(Math.max(0, Math.floor(tokensPerMinute - used)));
      headers['x-ratelimit-reset-tokens'] = reset;
      if (used >= tokensPerMinute) throw limited(`key '${key.id}' is over ${tokensPerMinute} tokens per minute`, resetMs, headers);
    }
    return { headers };
  }

  /** Counts a finished request's tokens against its key's window. */
  async countTokens(key: GatewayKey, tokens: number): Promise<void> {
    if (key.limits.tokensPerMinute === undefined || tokens <= 0) return;
    await this.store.add(`${key.id}:tok:${this.window().minute}`, tokens, 2 * MINUTE);
  }
}

function limited(message: string, resetMs: number, headers: Record<string, string>): GatewayError {
  return new GatewayError('rate_limit_exceeded', message, { retryAfterMs: resetMs, headers });
}
