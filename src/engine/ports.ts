import type { Kysely } from 'kysely';
import type { ExecutionCounters, FailurePhase, Side } from '../domain/types.ts';
import type { LocalTableShape } from './endpoint.ts';

/** One record of a fast inbound page: provider id, mapped local content and its hashes. */
export interface FastRow {
  externalId: string;
  data: Record<string, unknown>;
  hash: string;
  reverseHash: string | null;
}

/** The columns of an ExternalReference a run reads. */
export interface RefRow {
  local_id: string;
  external_id: string;
  inbound_hash: string | null;
  outbound_hash: string | null;
  /** Set when the target record was soft-deleted by a run (the reference is kept, marked). */
  deleted_at?: Date | string | null;
}

/**
 * A conflict left for a person (strategy `manual`): both sides' content in the local entity's field names (the
 * provider's mapped inbound), the fields that differ, and whether a side deleted the record.
 */
export interface ConflictRecord {
  localId: string;
  externalId: string;
  localContent: Record<string, unknown> | null;
  providerContent: Record<string, unknown> | null;
  fields: string[];
  localDeleted: boolean;
  providerDeleted: boolean;
  /** Of both contents: a conflict a person resolved is not raised again for the same content. */
  contentHash: string;
}

/** A deletion a run found: the record's id on the side it was deleted on, and when (if known). */
export interface StagedDeletion {
  recordKey: string;
  deletedAt: string | null;
}

/** An ExternalReference to create or update after a successful write. Null hashes keep the stored value. */
export interface RefUpsert {
  localId: string;
  externalId: string;
  inboundHash: string | null;
  outboundHash: string | null;
  localVersion: string | null;
  externalVersion: string | null;
}

export interface FailureRow {
  recordKey: string;
  side: Side;
  phase: FailurePhase;
  errorKind: string;
  message: string;
  /**
   * Whether the record joins the retry set (and, after failing in 3 executions, the dead letter queue).
   * False for conflicts (recorded for review), for jobs without "retry on failure", and for parked records.
   */
  retry: boolean;
  /** Hash of the source record's content as read (null when nothing was read): a parked record waits for it to change. */
  sourceHash: string | null;
  /** The record has a dead letter (open or discarded): its failure updates that, never the retry set. */
  parked?: 'open' | 'discarded';
}

/** A record of the job's retry set, or a parked one (a dead letter, open or discarded). */
export interface TrackedRecord {
  side: Side;
  recordKey: string;
  /** null: in the retry set. */
  parked: 'open' | 'discarded' | null;
  /** Hash of its source content when it last failed. */
  sourceHash: string | null;
}

/** What one committed page changes, written in one transaction. */
export interface PageCommit {
  /** Which id the upserted references are keyed on: the side the records were read from. */
  refKey: 'local_id' | 'external_id';
  refs: RefUpsert[];
  failures: FailureRow[];
  /** Records read from `side` that succeeded and were in the retry set or the dead letter queue: they leave it. */
  recovered: { side: Side; keys: string[] };
  counters: ExecutionCounters;
  /** Bidirectional runs: each direction's counters after this commit (absolute, not a delta). */
  directions?: { inbound: ExecutionCounters; outbound: ExecutionCounters };
  /** Present on the last chunk of a page: where the source stream stands now. */
  checkpoint?: unknown;
  /**
   * Deletions applied by this commit: their references (keyed on `refKey`, the source side's ids) are removed
   * (`soft: false`) or marked deleted (`soft: true`), and their staged rows leave `run_deletions` (`unstaged`:
   * every staged key this commit dealt with, applied, skipped or failed).
   */
  deletions?: { side: Side; deletedKeys: string[]; soft: boolean; unstaged: string[] };
  /** Conflicts left for a person: an open conflict of the same record is updated (a new edit), else inserted. */
  conflicts?: ConflictRecord[];
  /** What this commit did to each record it changed or could not (the inspector's history); skips are left out. */
  events?: { side: Side; keys: string[]; outcomes: RecordOutcome[] };
}

/** Creates are not events: the reference keeps the execution that created it. */
export type RecordOutcome = 'updated' | 'deleted' | 'failed' | 'conflict';

type RunScope = { executionId: string; jobId: string; connectionId: string; entityType: string };

/** The storage a run needs. Implemented by src/store over Kysely; the engine never writes SQL. */
export interface RunStore {
  lookupRefs(
    connectionId: string,
    entityType: string,
    by: 'local_id' | 'external_id',
    ids: string[],
  ): Promise<Map<string, RefRow>>;
  /**
   * One transaction: `inside` runs first with the transaction (colocated writes) and returns the page's
   * changes; then references, failures, retry set, dead letters, counters and checkpoint are written.
   * Returns whether someone asked for this execution to be cancelled. Page commits may be asynchronous (see
   * Database.pageDb); `durable` makes this one wait for its WAL flush (synchronous_commit on).
   */
  commitPage(
    scope: { executionId: string; jobId: string; connectionId: string; entityType: string },
    // biome-ignore lint/suspicious/noExplicitAny: the transaction also reaches the application's tables
    inside: (transaction: Kysely<any>) => Promise<PageCommit>,
    options?: { durable?: boolean },
  ): Promise<{ cancelRequested: boolean }>;
  /** The job's retry set (records that failed before) and its parked records (open or discarded dead letters). */
  loadRetrySet(jobId: string): Promise<TrackedRecord[]>;
  /**
   * The fast path for a clean inbound page into a colocated table: one statement compares each record's
   * hash with its reference, upserts the changed rows and their references, and adds the counters and the
   * checkpoint (a single statement is its own transaction). Throws on any database error; the caller then
   * takes the general path, which isolates bad records.
   */
  fastInboundPage?(
    scope: { executionId: string; jobId: string; connectionId: string; entityType: string },
    table: LocalTableShape,
    rows: FastRow[],
    checkpoint: unknown,
  ): Promise<{ created: number; updated: number; skipped: number; cancelRequested: boolean }>;
  /** Removes records from the retry set (e.g. deleted at the source, nothing left to sync). */
  dropRetryItems(jobId: string, side: Side, keys: string[]): Promise<void>;

  // ── deletions (jobs whose delete policy is not `ignore`) ──
  /**
   * Remembers source ids a whole run read, for the sweep. `fromStart` marks that this execution read the
   * side's stream from its first page (only then may it sweep).
   */
  markSeen(executionId: string, side: Side, keys: string[], fromStart: boolean): Promise<void>;
  /** Stages deletions found while reading (tombstones, ids gone); repeating one is a no-op. */
  stageDeletions(scope: RunScope, side: Side, items: StagedDeletion[]): Promise<void>;
  /**
   * The sweep of a full run: stages the references (not soft-deleted, not created by this execution) whose source
   * id was not seen. Does nothing unless the stream was read from its start by this execution. Returns how many.
   */
  sweep(scope: RunScope, side: Side, sourceKey: 'local_id' | 'external_id'): Promise<number>;
  /**
   * Mass-delete protection's figures: `doomed`, staged deletions with a live reference; `live`, references of
   * the connection's entity type that are not soft-deleted.
   */
  deletionCounts(
    scope: RunScope,
    side: Side,
    sourceKey: 'local_id' | 'external_id',
  ): Promise<{ doomed: number; live: number }>;
  /** Holds the execution's staged deletions back for a person; returns how many. */
  holdDeletions(executionId: string): Promise<number>;
  /** A page of the execution's staged deletions of one side, in key order after `afterKey`. */
  stagedDeletions(executionId: string, side: Side, afterKey: string | null, limit: number): Promise<StagedDeletion[]>;
  /** Takes over the deletions another execution held back (Apply deletions); returns how many. */
  adoptHeldDeletions(fromExecutionId: string, toExecutionId: string): Promise<number>;
}
