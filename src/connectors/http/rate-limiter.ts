import { delay } from '../../engine/abort.ts';

/** Anything that makes a request wait for its turn. */
export interface RequestLimiter {
  acquire(signal?: AbortSignal): Promise<void>;
}

/** Waiters in arrival order; `take` waits until this caller may go. */
abstract class FifoLimiter implements RequestLimiter {
  private queue: Promise<void> = Promise.resolve();

  /** Waits for a turn (in arrival order); rejects when the signal aborts first. */
  acquire(signal?: AbortSignal): Promise<void> {
    const next = this.queue.then(() => this.take(signal));
    // A caller that gave up must not block the ones behind it.
    this.queue = next.catch(() => {});
    return next;
  }

  protected abstract take(signal?: AbortSignal): Promise<void>;
}

/**
 * A token bucket: at most `requests` calls per `perMs`, refilled continuously, shared by every request of
 * one connection (providers limit per account, not per process call site).
 */
export class RateLimiter extends FifoLimiter {
  private tokens: number;
  private last: number;

  constructor(
    private readonly requests: number,
    private readonly perMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    super();
    if (!(requests > 0) || !(perMs > 0)) throw new RangeError('rate limit needs requests > 0 and perMs > 0');
    this.tokens = requests;
    this.last = now();
  }

  protected async take(signal?: AbortSignal): Promise<void> {
    for (;;) {
      const t = this.now();
      this.tokens = Math.min(this.requests, this.tokens + ((t - this.last) * this.requests) / this.perMs);
      this.last = t;
      if (this.tokens >= 1) {
        this.tokens -= 1;
        return;
      }
      await delay(Math.ceil(((1 - this.tokens) * this.perMs) / this.requests), signal);
    }
  }
}

/**
 * At most `requests` calls in any window of `windowMs` (a rolling window, as HubSpot counts: 100 per 10 s
 * means no 10-second span holds more than 100 requests, unlike a token bucket, which allows a burst on
 * top of its refill). Waiters go in arrival order.
 */
export class SlidingWindowLimiter extends FifoLimiter {
  private readonly times: number[] = [];
  private head = 0;

  constructor(
    private readonly requests: number,
    private readonly windowMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    super();
    if (!(requests >= 1) || !(windowMs > 0)) throw new RangeError('rate limit needs requests >= 1 and windowMs > 0');
  }

  protected async take(signal?: AbortSignal): Promise<void> {
    for (;;) {
      const t = this.now();
      while (this.head < this.times.length && this.times[this.head]! <= t - this.windowMs) this.head++;
      if (this.head > 1024 && this.head * 2 > this.times.length) {
        this.times.splice(0, this.head);
        this.head = 0;
      }
      if (this.times.length - this.head < this.requests) {
        this.times.push(t);
        return;
      }
      await delay(Math.max(1, Math.ceil(this.times[this.head]! + this.windowMs - t)), signal);
    }
  }
}
