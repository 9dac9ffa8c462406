import type { ExecutionCounters, ExecutionStatus, HaltKind } from './types.ts';

/** The circuit breaker: more than 50% of processed records failed, once at least 10 were processed. */
export const CIRCUIT_BREAKER_MIN_RECORDS = 10;

export function circuitBreakerTripped(c: Pick<ExecutionCounters, 'processed' | 'failed'>): boolean {
  return c.processed >= CIRCUIT_BREAKER_MIN_RECORDS && c.failed * 2 > c.processed;
}

export function circuitBreakerReason(c: Pick<ExecutionCounters, 'processed' | 'failed'>): string {
  return `circuit breaker: ${c.failed} of ${c.processed} processed records failed (more than 50% after at least ${CIRCUIT_BREAKER_MIN_RECORDS})`;
}

/**
 * How many more records can be processed before the breaker is next checked, so that it is checked exactly
 * where it could first trip: at most `limit`, and never past the first record at which failing records
 * could make it trip. With margin d = processed - 2 × failed, it cannot trip within the next d records
 * even if all of them fail, and can first trip at the (d+1)th.
 */
export function recordsBeforeBreakerCheck(c: Pick<ExecutionCounters, 'processed' | 'failed'>, limit: number): number {
  if (c.processed < CIRCUIT_BREAKER_MIN_RECORDS)
    return Math.max(1, Math.min(limit, CIRCUIT_BREAKER_MIN_RECORDS - c.processed));
  return Math.max(1, Math.min(limit, c.processed - 2 * c.failed + 1));
}

/** How a run ended before its records ran out, if it did. */
export type RunHalt =
  | {
      kind: 'circuit_breaker';
      /** The records the breaker judged (the source stream's; records retried from the retry set are not). */
      judged: Pick<ExecutionCounters, 'processed' | 'failed'>;
    }
  /** A run-level fault. `retryable: false` for causes a retry cannot fix (credentials, configuration). */
  | { kind: 'error'; message: string; retryable: boolean }
  | { kind: 'timed_out' }
  | { kind: 'cancelled' }
  /** The provider could not be reached at all (no answer) through the run's retries: cancelled by the system. */
  | { kind: 'connection_lost'; message: string }
  /** A worker shutting down handed the run back at a checkpoint; it goes back to the queue. */
  | { kind: 'released' }
  /** Mass-delete protection: the run's deletions were held back (nothing deleted) for a person to apply. */
  | { kind: 'mass_delete'; held: number; live: number; thresholdPercent: number };

/** Whether deleting `doomed` of `live` synced records is more than `thresholdPercent` of them. */
export function massDeleteTripped(doomed: number, live: number, thresholdPercent: number): boolean {
  return doomed > 0 && doomed * 100 > thresholdPercent * live;
}

export function massDeleteReason(held: number, live: number, thresholdPercent: number): string {
  const share = live === 0 ? 100 : Math.round((held * 1000) / live) / 10;
  return (
    `mass-delete protection: ${held} of ${live} synced records (${share}%) would be deleted, more than this job's ` +
    `${thresholdPercent}% threshold; nothing was deleted. Review the source, then apply the deletions if they are right`
  );
}

export function haltKindOf(halt: RunHalt | null): HaltKind | null {
  if (halt === null || halt.kind === 'released') return null;
  if (halt.kind === 'error') return halt.retryable ? 'error' : 'configuration';
  return halt.kind;
}

/** Whether "retry on failure" applies to an execution that ended this way (the job's policy decides the rest). */
export function retryableEnd(status: ExecutionStatus, haltKind: HaltKind | null): boolean {
  if (haltKind === 'configuration') return false;
  return status === 'failed' || status === 'timed_out' || (status === 'cancelled' && haltKind === 'connection_lost');
}

/**
 * The spec's "Execution Status Resolution" table:
 * zero failures → completed; some failed and some succeeded → completed_with_errors; all failed → failed;
 * circuit breaker → failed; timeout → timed_out; cancelled (by a person, or "connection lost": the provider
 * could not be reached at all through the run's retries) → cancelled. A run-level error (bad credentials, a
 * provider that answers with errors) is `failed` too.
 */
export function resolveStatus(c: ExecutionCounters, halt: RunHalt | null): ExecutionStatus {
  if (halt) {
    switch (halt.kind) {
      case 'timed_out':
        return 'timed_out';
      case 'cancelled':
      case 'connection_lost':
        return 'cancelled';
      case 'released':
        return 'queued';
      case 'circuit_breaker':
      case 'error':
        return 'failed';
      case 'mass_delete':
        // Everything else of the run was done; the deletions wait for a person.
        return c.failed > 0 && c.failed >= c.processed ? 'failed' : 'completed_with_errors';
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
