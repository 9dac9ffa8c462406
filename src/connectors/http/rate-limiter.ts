import { delay } from '../../engine/abort.ts';

/**
 * A token bucket: at most `requests` calls per `perMs`, refilled continuously, shared by every request of
 * one connection (providers limit per account, not per process call site).
 */
export class RateLimiter {
  private tokens: number;
  private last: number;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly requests: number,
    private readonly perMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(requests > 0) || !(perMs > 0)) throw new RangeError('rate limit needs requests > 0 and perMs > 0');
    this.tokens = requests;
    this.last = now();
  }

  /** Waits for a token (in arrival order); rejects when the signal aborts first. */
  acquire(signal?: AbortSignal): Promise<void> {
    const next = this.queue.then(() => this.take(signal));
    // A caller that gave up must not block the ones behind it.
    this.queue = next.catch(() => {});
    return next;
  }

  private async take(signal?: AbortSignal): Promise<void> {
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
