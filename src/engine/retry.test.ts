import { describe, expect, it } from 'vitest';
import { ProviderError } from '../domain/errors.ts';
import { backoffMs, runRetryDelayMs } from './retry.ts';

describe('whole-run retry delays', () => {
  const delays = { baseDelayMs: 1000, maxDelayMs: 10_000 };

  it('double with each attempt, between half and all of the ceiling', () => {
    const low = [1, 2, 3, 4].map((a) => runRetryDelayMs(delays, a, 0));
    const high = [1, 2, 3, 4].map((a) => runRetryDelayMs(delays, a, 0.999_999));
    expect(low).toEqual([500, 1000, 2000, 4000]);
    expect(high).toEqual([1000, 2000, 4000, 8000]);
    // Whatever the jitter, a later attempt never waits less than an earlier one could.
    for (let a = 1; a < 4; a++) expect(runRetryDelayMs(delays, a + 1, 0)).toBeGreaterThanOrEqual(high[a - 1]!);
  });

  it('stop growing at the cap', () => {
    expect(runRetryDelayMs(delays, 5, 0)).toBe(5000);
    expect(runRetryDelayMs(delays, 9, 0.999_999)).toBe(10_000);
  });
});

describe('transient retries inside a run', () => {
  const policy = { attempts: 4, baseDelayMs: 100, maxDelayMs: 1000 };

  it('grow from attempt to attempt, with jitter in the upper half', () => {
    for (let i = 0; i < 50; i++) {
      const [a, b, c] = [1, 2, 3].map((n) => backoffMs(policy, n));
      expect(a).toBeGreaterThanOrEqual(50);
      expect(a).toBeLessThanOrEqual(100);
      expect(b).toBeGreaterThanOrEqual(100);
      expect(b).toBeLessThanOrEqual(200);
      expect(c).toBeGreaterThanOrEqual(200);
      expect(c).toBeLessThanOrEqual(400);
    }
  });

  it('honour Retry-After, capped', () => {
    const err = (ms: number) => new ProviderError('transient', '429', { retryAfterMs: ms });
    expect(backoffMs(policy, 1, err(700))).toBe(700);
    expect(backoffMs(policy, 1, err(60_000))).toBe(1000);
  });
});
