/**
 * Provider HTTP telemetry: connectors report each HTTP call they make (and each retry), the server's
 * metrics count them. Listeners are process-wide; with none registered a report costs a set lookup.
 */

export interface ProviderCall {
  provider: string;
  /** HTTP status, or `network` / `timeout` when no response came. */
  status: number | 'network' | 'timeout';
  /** This call is a retry of an earlier failed one. */
  retry: boolean;
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
