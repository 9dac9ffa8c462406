/**
 * Provider HTTP telemetry: connectors report each HTTP response (or failure to get one) and each retry; the
 * server's metrics count them. Listeners are process-wide; with none registered a report costs a set lookup.
 *
 * A run also sees the retries made on its behalf (connectors retry 429/5xx themselves): the run's code executes
 * inside `runTelemetry` (AsyncLocalStorage), whose store gets each retry with its wait; the run log and the run's
 * timing summary come from there.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

/** A retry made on behalf of the run in progress. */
export interface RetryReport {
  provider: string;
  /** The failure's HTTP status, or `network`. */
  status: number | 'network';
  /** Which try failed (1 = the first). */
  attempt: number;
  /** How long the retry waits before trying again. */
  waitMs: number;
  /** The Retry-After the provider asked for, when it did. */
  retryAfterMs?: number;
  message: string;
}

/** What a run listens to while its code runs (see RunService). */
export interface RunTelemetry {
  retry(report: RetryReport): void;
}

export const runTelemetry = new AsyncLocalStorage<RunTelemetry>();

export interface ProviderCall {
  provider: string;
  /** HTTP status, or `network` when no response came (connection error, timeout). */
  status: number | 'network';
  /** `request`: one HTTP call made; `retry`: a failed call (with that status) is about to be retried. */
  kind: 'request' | 'retry';
}

const listeners = new Set<(call: ProviderCall) => void>();

export function reportProviderCall(call: ProviderCall): void {
  for (const listener of listeners) listener(call);
}

/** Subscribes to provider calls; returns the unsubscribe function. */
export function onProviderCall(listener: (call: ProviderCall) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** A fetch that reports every response's status (or `network`) for `provider`. */
export function observedFetch(provider: string, fetchFn: typeof fetch = fetch): typeof fetch {
  return async (input, init) => {
    try {
      const res = await fetchFn(input, init);
      reportProviderCall({ provider, status: res.status, kind: 'request' });
      return res;
    } catch (err) {
      reportProviderCall({ provider, status: 'network', kind: 'request' });
      throw err;
    }
  };
}

/** Reports that a failed call is retried; `status` is the failure's HTTP status when it had one. */
export function reportRetry(provider: string, status: number | undefined): void {
  reportProviderCall({ provider, status: status ?? 'network', kind: 'retry' });
}
