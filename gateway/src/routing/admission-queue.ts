/**
 * The gateway-side queue of a replica pool: requests wait here, in priority order (class 0 first,
 * then arrival), while every replica is saturated — instead of piling onto GPU servers' own queues.
 * Bounded in size and in time: a request leaves with a 429 `overloaded` when its wait (at most
 * `maxWaitMs`, and never past its own deadline) runs out, or when the queue is full — and a full queue
 * makes room for a higher-priority arrival by shedding its newest lowest-priority waiter.
 *
 * The queue does not pick replicas itself: `drain(tryServe)` offers the head waiter to the pool, which
 * answers whether a replica could take it, so waiters are served strictly in order.
 */
import { GatewayError, isGatewayError } from '../errors.js';

/** Reply to a deadline this close before it passes with a 429 rather than let the deadline's 504 win. */
const DEADLINE_MARGIN_MS = 5;
const RETRY_AFTER_MS = 1000;

interface Waiter<T> {
  readonly priority: number;
  readonly payload: T;
  readonly enqueuedAt: number;
  resolve: () => void;
  reject: (error: GatewayError) => void;
  timer: NodeJS.Timeout | undefined;
  signal: AbortSignal;
  onAbort: () => void;
}

export interface QueueOptions {
  maxSize: number;
  maxWaitMs: number;
  classes: number;
  /** Names the pool in error messages. */
  name: string;
  /** A request shed from the queue or refused by it (for the shed counter). */
  onShed?: ((priority: number) => void) | undefined;
}

export class AdmissionQueue<T> {
  private readonly byClass: Waiter<T>[][];
  private count = 0;

  constructor(private readonly options: QueueOptions) {
    this.byClass = Array.from({ length: Math.max(1, options.classes) }, () => []);
  }

  get size(): number {
    return this.count;
  }

  /**
   * Waits until `drain` serves this request. Rejects with 429 `overloaded` when the wait runs out or the
   * request is shed, and with the signal's reason when it is aborted.
   */
  wait(priority: number, payload: T, deadlineAt: number, signal: AbortSignal): Promise<void> {
    const cls = Math.min(Math.max(0, priority), this.byClass.length - 1);
    if (signal.aborted) return Promise.reject(isGatewayError(signal.reason) ? signal.reason : new GatewayError('client_disconnected', 'the request was cancelled'));
    if (this.count >= this.options.maxSize && !this.shedBelow(cls)) {
      this.options.onShed?.(cls);
      return Promise.reject(this.overloaded('its queue is full'));
    }
    const waitMs = Math.min(this.options.maxWaitMs, deadlineAt - Date.now() - DEADLINE_MARGIN_MS);
    if (waitMs <= 0) {
      this.options.onShed?.(cls);
      return Promise.reject(this.overloaded('the request has no time left to wait'));
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter<T> = {
        priority: cls,
        payload,
        enqueuedAt: Date.now(),
        resolve,
        reject,
        timer: undefined,
        signal,
        onAbort: () => {
          this.remove(waiter);
          reject(isGatewayError(signal.reason) ? signal.reason : new GatewayError('client_disconnected', 'the request was cancelled while queued'));
        },
      };
      waiter.timer = setTimeout(() => {
        this.remove(waiter);
        this.options.onShed?.(cls);
        reject(this.overloaded(`no replica could take the request within ${waitMs} ms`));
      }, waitMs);
      signal.addEventListener('abort', waiter.onAbort, { once: true });
      (this.byClass[cls] as Waiter<T>[]).push(waiter);
      this.count++;
    });
  }

  /** Serves waiters in order while `tryServe` accepts the head one's payload. */
  drain(tryServe: (payload: T) => boolean): void {
    for (const queue of this.byClass) {
      while (queue.length > 0) {
        const head = queue[0] as Waiter<T>;
        if (!tryServe(head.payload)) return;
        this.remove(head);
        head.resolve();
      }
    }
  }

  /** Rejects every waiter (the pool is closing). */
  clear(error: GatewayError): void {
    for (const queue of this.byClass) {
      for (const waiter of [...queue]) {
        this.remove(waiter);
        waiter.reject(error);
      }
    }
  }

  /** Sheds the newest waiter of a lower class than `cls`, if there is one. */
  private shedBelow(cls: number): boolean {
    for (let c = this.byClass.length - 1; c > cls; c--) {
      const victim = (this.byClass[c] as Waiter<T>[]).at(-1);
      if (victim) {
        this.remove(victim);
        this.options.onShed?.(c);
        victim.reject(this.overloaded('a higher-priority request took its place in the queue'));
        return true;
      }
    }
    return false;
  }

  private remove(waiter: Waiter<T>): void {
    const queue = this.byClass[waiter.priority] as Waiter<T>[];
    const index = queue.indexOf(waiter);
    if (index === -1) return;
    queue.splice(index, 1);
    this.count--;
    clearTimeout(waiter.timer);
    waiter.signal.removeEventListener('abort', waiter.onAbort);
  }

  private overloaded(why: string): GatewayError {
    // A short Retry-After: capacity frees as soon as any replica finishes a request, and clients that
    // honour it (the OpenAI SDKs do) spread their retries out from here.
    return new GatewayError('overloaded', `every replica of '${this.options.name}' is saturated and ${why}; retry later`, { retryAfterMs: RETRY_AFTER_MS });
  }
}
