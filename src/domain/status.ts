import type { ExecutionCounters, ExecutionStatus } from './types.ts';

/** The circuit breaker: more than 50% of processed records failed, once at least 10 were processed. */
export const CIRCUIT_BREAKER_MIN_RECORDS = 10;

export function circuitBreakerTripped(c: Pick<ExecutionCounters, 'processed' | 'failed'>): boolean {
  return c.processed >= CIRCUIT_BREAKER_MIN_RECORDS && c.failed * 2 > c.processed;
}

export function circuitBreakerReason(c: Pick<ExecutionCounters, 'processed' | 'failed'>): string {
  return `circuit breaker: ${c.failed} of ${c.processed} processed records failed (more than 50% after at least ${CIRCUIT_BREAKER_MIN_RECORDS})`;
}

/** How a run ended before its records ran out, if it did. */
export type RunHalt =
  | { kind: 'circuit_breaker' }
  | { kind: 'error'; message: string }
  | { kind: 'timed_out' }
  | { kind: 'cancelled' }
  /** A worker shutting down handed the run back at a checkpoint; it goes back to the queue. */
  | { kind: 'released' };

/**
 * The spec's "Execution Status Resolution" table:
 * zero failures → completed; some failed and some succeeded → completed_with_errors; all failed → failed;
 * circuit breaker → failed; timeout → timed_out; cancelled → cancelled. A run-level error (bad credentials,
 * provider down) is `failed` too.
 */
export function resolveStatus(c: ExecutionCounters, halt: RunHalt | null): ExecutionStatus {
  if (halt) {
    switch (halt.kind) {
      case 'timed_out':
        return 'timed_out';
      case 'cancelled':
        return 'cancelled';
      case 'released':
        return 'queued';
      case 'circuit_breaker':
      case 'error':
        return 'failed';
    }
  }
  if (c.failed === 0) return 'completed';
  if (c.failed < c.processed) return 'completed_with_errors';
  return 'failed';
}

/** Statuses after which the incremental cursor moves forward (failed records wait in the retry set). */
export function advancesCursor(status: ExecutionStatus): boolean {
  return status === 'completed' || status === 'completed_with_errors';
}
