import { ProviderError } from '../domain/errors.ts';
import { delay } from './abort.ts';
import { reportRetry, runTelemetry } from './telemetry.ts';

/** How transient endpoint errors are retried inside a run. */
export interface TransientRetryPolicy {
  /** Tries in all, the first included. Default: 4. */
  attempts: number;
  /** First backoff, doubled each time, with full jitter. Default: 250 ms. */
  baseDelayMs: number;
  /** Longest single wait, Retry-After included. Default: 30 s. */
  maxDelayMs: number;
}

export const DEFAULT_TRANSIENT_RETRY: TransientRetryPolicy = { attempts: 4, baseDelayMs: 250, maxDelayMs: 30_000 };

export function isTransient(err: unknown): boolean {
  return err instanceof ProviderError && err.kind === 'transient';
}

/** Backoff before try number `attempt` (1-based, the first retry is attempt 1), honouring Retry-After. */
export function backoffMs(policy: TransientRetryPolicy, attempt: number, err?: unknown): number {
  const retryAfter = err instanceof ProviderError ? err.retryAfterMs : undefined;
  if (retryAfter !== undefined) return Math.min(policy.maxDelayMs, Math.max(0, retryAfter));
  return runRetryDelayMs(policy, attempt);
}

/** Runs `fn`, retrying while it throws a transient ProviderError, up to the policy's attempts. */
export async function withTransientRetry<T>(
  policy: TransientRetryPolicy,
  signal: AbortSignal,
  fn: () => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isTransient(err) || attempt >= policy.attempts || signal.aborted) throw err;
      await waitToRetry('endpoint', policy, attempt, err, signal);
    }
  }
}

/** Backoff of whole-run retries ("retry on failure"). */
export interface RunRetryDelays {
  /** Before the first retry: half of it to all of it (jitter), doubled for each later attempt. */
  baseDelayMs: number;
  /** Ceiling of the doubling. */
  maxDelayMs: number;
}

/**
 * The delay before retry number `attempt` (1 = after the first try): between half and all of
 * base × 2^(attempt-1), capped at the maximum ("equal jitter": a retry never fires at once). Used for whole-run
 * retries and, without Retry-After, for transient retries inside a run. `random` is in [0, 1).
 */
export function runRetryDelayMs(delays: RunRetryDelays, attempt: number, random = Math.random()): number {
  const ceiling = Math.min(delays.maxDelayMs, delays.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + random * (ceiling / 2));
}

/**
 * Before retrying a transient failure: reports the retry (metrics, and the run in progress with the wait) and waits
 * the backoff, Retry-After honoured. The one way every retry loop waits, so every retry is seen.
 */
export async function waitToRetry(
  provider: string,
  policy: TransientRetryPolicy,
  attempt: number,
  error: unknown,
  signal: AbortSignal,
): Promise<void> {
  const e = error as { status?: number; retryAfterMs?: number; message?: string };
  reportRetry(provider, e.status);
  const waitMs = backoffMs(policy, attempt, error);
  runTelemetry.getStore()?.retry({
    provider,
    status: e.status ?? 'network',
    attempt,
    waitMs,
    ...(e.retryAfterMs !== undefined ? { retryAfterMs: e.retryAfterMs } : {}),
    message: String(e.message ?? error).slice(0, 300),
  });
  await delay(waitMs, signal);
}
