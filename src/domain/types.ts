/**
 * The words of otesse-sync, used the same way in code, API, UI and docs.
 *
 * | term              | meaning                                                                                   |
 * | ----------------- | ----------------------------------------------------------------------------------------- |
 * | Connection        | a connected app: provider + encrypted credentials + non-secret config (e.g. API base URL) |
 * | SyncJob           | what to sync: connection, entityType, direction, mode, schedule, retry/timeout policy,    |
 * |                   | conflictStrategy, field mappings                                                          |
 * | FieldMappingRule  | sourceField (dot path) → targetField, optional transform, default for null, per direction |
 * | ExternalReference | link localId ↔ externalId for (connection, entityType), with the content hash last synced |
 * |                   | on each side                                                                              |
 * | SyncExecution     | one run: trigger, attempt, status, counters, startedAt, completedAt, durationSeconds      |
 * | RecordFailure     | one record that failed in one execution: record key, side, phase, error kind, message     |
 * | DeadLetter        | a record that failed in 3+ executions: kept out of automatic retries until a person acts   |
 * | Endpoint          | one side of a sync; provider connectors and the local store implement the same interface |
 *
 * These are API types (camelCase). Database row types (snake_case) live in `src/store/`.
 */

export const Direction = { inbound: 'inbound', outbound: 'outbound', bidirectional: 'bidirectional' } as const;
export type Direction = (typeof Direction)[keyof typeof Direction];
export const DIRECTIONS = Object.values(Direction);

export const SyncMode = { full: 'full', incremental: 'incremental' } as const;
export type SyncMode = (typeof SyncMode)[keyof typeof SyncMode];
export const SYNC_MODES = Object.values(SyncMode);

export const ConflictStrategy = {
  provider_wins: 'provider_wins',
  local_wins: 'local_wins',
  newest_wins: 'newest_wins',
  manual: 'manual',
} as const;
export type ConflictStrategy = (typeof ConflictStrategy)[keyof typeof ConflictStrategy];
export const CONFLICT_STRATEGIES = Object.values(ConflictStrategy);

export const ExecutionStatus = {
  queued: 'queued',
  running: 'running',
  completed: 'completed',
  completed_with_errors: 'completed_with_errors',
  failed: 'failed',
  timed_out: 'timed_out',
  cancelled: 'cancelled',
} as const;
export type ExecutionStatus = (typeof ExecutionStatus)[keyof typeof ExecutionStatus];
export const EXECUTION_STATUSES = Object.values(ExecutionStatus);
export const FINAL_STATUSES: readonly ExecutionStatus[] = [
  'completed',
  'completed_with_errors',
  'failed',
  'timed_out',
  'cancelled',
];

/**
 * Why an execution ended early, as stored (`sync_executions.halt_kind`): what decides whether it is retried.
 * `configuration` failures (bad credentials, missing key, unknown table) are never retried automatically;
 * `worker_lost` is a run whose worker stopped renewing its lease (crash); `connection_lost` is a cancel by
 * the system when the provider could not be reached.
 */
export const HALT_KINDS = [
  'circuit_breaker',
  'error',
  'configuration',
  'timed_out',
  'cancelled',
  'connection_lost',
  'worker_lost',
  'mass_delete',
] as const;
export type HaltKind = (typeof HALT_KINDS)[number];

export const Trigger = { manual: 'manual', scheduled: 'scheduled', webhook: 'webhook', retry: 'retry' } as const;
export type Trigger = (typeof Trigger)[keyof typeof Trigger];
export const TRIGGERS = Object.values(Trigger);

/** The two sides of a sync. `local` is the application's own database (Otesse). */
export const Side = { local: 'local', provider: 'provider' } as const;
export type Side = (typeof Side)[keyof typeof Side];

/** Where in the processing of one record a failure happened. */
export const FailurePhase = { fetch: 'fetch', map: 'map', conflict: 'conflict', write: 'write' } as const;
export type FailurePhase = (typeof FailurePhase)[keyof typeof FailurePhase];

/** The direction a FieldMappingRule applies to. `both` rules are used as written for inbound and reversed for outbound. */
export const RuleDirection = { inbound: 'inbound', outbound: 'outbound' } as const;
export type RuleDirection = (typeof RuleDirection)[keyof typeof RuleDirection];

/** A transform applied to a value while mapping, by name from the registry, with its arguments. */
export interface TransformSpec {
  name: string;
  /** Arguments for transforms that take them (map_values: `{ values, default? }`, concat: `{ fields, separator }`, template: `{ template }`). */
  args?: Record<string, unknown>;
}

export interface FieldMappingRule {
  /** Dot path in the source record, e.g. `address.city`. */
  sourceField: string;
  /** Dot path in the target record. */
  targetField: string;
  transform?: TransformSpec | undefined;
  /** Used when the value is null or missing after the transform; written as it is (not transformed). */
  defaultValue?: unknown;
  /** Which run direction this rule serves: inbound (provider → local) or outbound (local → provider). */
  direction: RuleDirection;
}

export type Schedule = { type: 'manual' } | { type: 'cron'; cron: string; timezone: string };

export interface SyncJob {
  id: string;
  connectionId: string;
  name: string;
  entityType: string;
  /** The local entity (table) this job syncs with; null: the one named like `entityType`. */
  localEntity: string | null;
  direction: Direction;
  mode: SyncMode;
  schedule: Schedule;
  retryOnFailure: boolean;
  maxRetries: number;
  timeoutMinutes: number;
  conflictStrategy: ConflictStrategy | null;
  /** What the job does with a record deleted at its source (see DeletePolicy). Default `ignore`. */
  deletePolicy: DeletePolicy;
  /**
   * Mass-delete protection: a run whose deletions would remove more than this percentage of the target's synced
   * records deletes nothing and waits for a person ("Apply deletions"). Default 20.
   */
  massDeleteThreshold: number;
  enabled: boolean;
  fieldMappings: FieldMappingRule[];
  /** Start of the last successful run minus the overlap; incremental runs read changes since then. */
  cursor: Date | null;
  lastRunAt: Date | null;
  nextRunAt: Date | null;
  /** Set when the job was deleted (archived): it no longer runs, its history stays readable. */
  archivedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface Connection {
  id: string;
  name: string;
  provider: string;
  config: Record<string, unknown>;
  /** The last credential check ("Test connection"), or null when never tested. */
  lastTest: { ok: boolean; message: string | null; testedAt: Date } | null;
  createdAt: Date;
  updatedAt: Date;
}

/**
 * What a job does with a record deleted at its source: `ignore` (the target keeps it, as if nothing happened),
 * `soft_delete` (the target keeps the record and marks it deleted: a local `deletedAt` column, a HubSpot archive),
 * `hard_delete` (the target's record is deleted).
 */
export const DELETE_POLICIES = ['ignore', 'soft_delete', 'hard_delete'] as const;
export type DeletePolicy = (typeof DELETE_POLICIES)[number];

/** processed = created + updated + deleted + skipped + failed. */
export interface ExecutionCounters {
  processed: number;
  created: number;
  updated: number;
  /** Records deleted (or marked deleted) on the target because they were deleted at the source. */
  deleted: number;
  skipped: number;
  failed: number;
  /** Records left in conflict for review (`manual` strategy); they are counted among `skipped`. */
  conflicts: number;
}

export interface SyncExecution extends ExecutionCounters {
  id: string;
  jobId: string;
  trigger: Trigger;
  attempt: number;
  status: ExecutionStatus;
  /** Why a run stopped early (circuit breaker, run-level error, timeout, cancel), or null. */
  haltReason: string | null;
  /**
   * The kind of early end, or null: `configuration` (bad credentials, missing key, unknown table: never
   * retried automatically), `error`, `circuit_breaker`, `timed_out`, `cancelled` (by a person),
   * `connection_lost` (the provider could not be reached at all; status cancelled), `worker_lost`.
   */
  haltKind: HaltKind | null;
  /**
   * Mass-delete protection held this many deletions back (haltKind `mass_delete`): a person may apply them
   * (`executions.applyDeletions`). Null otherwise.
   */
  heldDeletions: number | null;
  /**
   * Where a finished execution's time went (ms): reading the source, writing (endpoint writes and page commits),
   * waiting on rate limits (429s), waiting to retry other transient failures. Null until it finishes.
   */
  timing: { readMs: number; writeMs: number; rateLimitWaitMs: number; retryWaitMs: number } | null;
  /** Ids that a single-record run (webhook, dead-letter retry) was limited to, or null for a whole run. */
  recordKeys: string[] | null;
  /** The side a single-record run read its records from; null for a whole run. */
  recordSide: Side | null;
  /**
   * Bidirectional runs: the counters of each direction (a record seen by both legs counts once in each, so
   * the totals above are their sums). Null for one-way jobs.
   */
  directions: { inbound: ExecutionCounters; outbound: ExecutionCounters } | null;
  startedAt: Date | null;
  completedAt: Date | null;
  durationSeconds: number | null;
  createdAt: Date;
}

export interface RecordFailure {
  id: string;
  executionId: string;
  jobId: string;
  recordKey: string;
  side: Side;
  phase: FailurePhase;
  errorKind: string;
  message: string;
  createdAt: Date;
}

export interface DeadLetter {
  id: string;
  jobId: string;
  recordKey: string;
  side: Side;
  failureCount: number;
  lastError: string;
  lastExecutionId: string;
  status: 'open' | 'retried' | 'resolved' | 'discarded';
  /** When the record first failed (in the first of the executions that failed it). */
  firstFailedAt: Date;
  /** When it entered the dead letter queue (parked). */
  createdAt: Date;
  updatedAt: Date;
}

/**
 * A conflict the `manual` strategy left for a person: both sides' content as the job maps it (in the local
 * entity's field names; null for a side that deleted the record), the fields that differ, and its resolution.
 */
export interface Conflict {
  id: string;
  jobId: string;
  /** The execution that raised it (last raised, for an open conflict edited again). */
  executionId: string | null;
  localId: string;
  externalId: string;
  localContent: Record<string, unknown> | null;
  providerContent: Record<string, unknown> | null;
  fields: string[];
  localDeleted: boolean;
  providerDeleted: boolean;
  status: 'open' | 'resolved';
  resolution: { winner: 'local' | 'provider' } | { fields: Record<string, 'local' | 'provider'> } | null;
  resolvedBy: string | null;
  resolvedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

/** One entry of an execution's run log. */
export interface RunLogEntry {
  id: string;
  at: Date;
  level: 'info' | 'warn' | 'error';
  /**
   * `start`, `resumed`, `page`, `retry`, `rate_limited`, `released`, a halt kind (`circuit_breaker`, `timed_out`,
   * `cancelled`, `connection_lost`, `error`, `configuration`, `mass_delete`), `log_truncated`, `finished`.
   */
  event: string;
  message: string;
  data: Record<string, unknown> | null;
}

/** How to run a job (library `runJob`/`startJob`, and what the queue records for a queued run). */
export interface RunOptions {
  trigger?: Trigger;
  /** Attempt number shown on the execution (retries count up). Default: 1. */
  attempt?: number;
  /** Single-record run: sync only these record ids, read from `side` (default `provider`). */
  recordKeys?: string[];
  side?: Side;
  /** Resume a previous attempt from its last committed page. */
  resumeFrom?: string;
  /**
   * Apply the deletions this execution's mass-delete protection held back: the run reads no stream, deletes what
   * is still gone at the source, and leaves the job's cursor where it is.
   */
  applyDeletionsOf?: string;
}

export interface StartedRun {
  execution: SyncExecution;
  /** Settles with the execution in its final status. */
  done: Promise<SyncExecution>;
}
