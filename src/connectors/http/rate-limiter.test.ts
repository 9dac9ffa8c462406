import { describe, expect, it } from 'vitest';
import { SlidingWindowLimiter } from './rate-limiter.ts';

describe('SlidingWindowLimiter', () => {
  it('never lets more than N requests into any window, in arrival order', async () => {
    const limiter = new SlidingWindowLimiter(3, 150);
    const t0 = performance.now();
    const times: number[] = [];
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 7 }, (_, i) =>
        limiter.acquire().then(() => {
          times.push(performance.now() - t0);
          order.push(i);
        }),
      ),
    );
    expect(order).toEqual([0, 1, 2, 3, 4, 5, 6]);
    // Requests 4–6 wait for the first window to pass, request 7 for the second.
    for (let i = 3; i < times.length; i++) expect(times[i]! - times[i - 3]!).toBeGreaterThanOrEqual(149);
    expect(times[6]!).toBeGreaterThanOrEqual(299);
  });

  it('a waiter whose signal aborts gives up without blocking the ones behind it', async () => {
    const limiter = new SlidingWindowLimiter(1, 10_000);
    await limiter.acquire();
    const controller = new AbortController();
    const waiting = limiter.acquire(controller.signal);
    controller.abort(new Error('cancelled'));
    await expect(waiting).rejects.toThrow('cancelled');
  });
});
