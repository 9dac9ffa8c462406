/**
 * The execution run (DESIGN.md, "The run, as data flows through it"). The file follows the run's steps:
 *
 *   executeRun → Run.execute          how the run ends (RunOutcome: counters, halt)
 *   1 legs, runLegs                   which streams (inbound, outbound, both); the retry set first, then the stream
 *   2 processByIds, processStream     fetch source records: by id, or page by page read ahead (PageReader)
 *     processPages                    several clean pages in one commit (fast path), else page by page
 *   3 processRecords                  chunks that end where the circuit breaker could first trip
 *     processChunk                    per chunk: one reference lookup, plan each record (parked? map, hash,
 *                                     skip | create | update), detectConflicts (bidirectional), write
 *     tryFastInbound                  a clean inbound chunk into a colocated table: one SQL statement
 *   4 commitWith                      one transaction: references, failures, retry set, counters, checkpoint
 *     writeWithRetry, call            endpoint calls: transient errors retried, abort honoured
 *   helpers                           conflictWinner, runHaltOf, sourceContentHash
 */
import { errorKindOf, errorMessage, ProviderError } from '../domain/errors.ts';
import { applyMapping, type CompiledMapping, compileMapping } from '../domain/mapping.ts';
import { circuitBreakerTripped, massDeleteTripped, type RunHalt, recordsBeforeBreakerCheck } from '../domain/status.ts';
import type { ConflictStrategy, ExecutionCounters, FailurePhase, Side, SyncJob } from '../domain/types.ts';
import { RunAbort, raceAbort } from './abort.ts';
import type { Endpoint, EndpointRecord, ReadPage, WriteOp, WriteResult } from './endpoint.ts';
import { contentHash, idempotencyKey } from './hash.ts';
import { PageReader } from './page-reader.ts';
import type {
  ConflictRecord,
  FailureRow,
  FastRow,
  PageCommit,
  RecordOutcome,
  RefRow,
  RefUpsert,
  RunStore,
  StagedDeletion,
  TrackedRecord,
} from './ports.ts';
import { isTransient, type TransientRetryPolicy, waitToRetry, withTransientRetry } from './retry.ts';

/** Where a run stands in its source streams; saved per page so a later attempt can resume. */
export interface Checkpoint {
  leg: 'inbound' | 'outbound';
  /** The source's cursor after the last committed page; null = that leg finished. */
  cursor: string | null;
}

export interface RunnerOptions {
  /** Records per provider page and per local batch. Default: 100. */
  pageSize: number;
  retry: TransientRetryPolicy;
  /**
   * Most records per commit on the one-statement fast path. Pages are read ahead while the previous commit
   * runs; the clean pages already read (whole pages, up to this many records) go in one statement: one
   * transaction, whose checkpoint is the cursor after its last page, so a crash loses at most that commit and
   * the resumed run reads its pages again. A page never waits for a later one to be read. Default: 1,000.
   * 0 or anything up to `pageSize` = one page per commit.
   */
  batchRecords?: number;
}

/** See RunnerOptions.batchRecords. */
export const DEFAULT_BATCH_RECORDS = 1000;

export interface RunInput {
  job: SyncJob;
  executionId: string;
  provider: Endpoint;
  local: Endpoint;
  /** Incremental runs: read changes since this time (the job's cursor); null reads everything. */
  since: Date | null;
  /** Single-record run: only these records, read from this side. */
  records: { side: Side; keys: string[] } | null;
  resumeFrom: Checkpoint | null;
  /** Counters already committed by this execution (it resumes after a worker released it). */
  initialCounters?: ExecutionCounters;
  /** Per-direction counters already committed (bidirectional jobs). */
  initialDirections?: { inbound: ExecutionCounters; outbound: ExecutionCounters } | null;
  signal: AbortSignal;
  /**
   * Graceful stop: when it fires, the run finishes the page in hand, commits it, and returns with
   * halt `released` so another worker can resume from the checkpoint.
   */
  release?: AbortSignal;
  /**
   * Apply deletions: this run reads no stream; it takes over the deletions that execution held back (mass-delete
   * protection) and applies them, without the protection.
   */
  applyDeletionsOf?: string;
  /** The execution's run log: each committed page (records, counts, duration) and the deletion phase. */
  log?: RunLogSink;
}

/** Where a run writes its log (bounded and stored by the caller; see services/execution-log.ts). */
export interface RunLogSink {
  add(level: 'info' | 'warn' | 'error', event: string, message: string, data?: Record<string, unknown>): void;
}

/** Where a run's time went: reading the source, writing (endpoint writes and page commits). */
export interface RunTiming {
  readMs: number;
  writeMs: number;
}

export interface RunOutcome {
  counters: ExecutionCounters;
  directions?: { inbound: ExecutionCounters; outbound: ExecutionCounters } | null;
  halt: RunHalt | null;
  /** How many chunks went through the one-statement fast path. */
  fastPages?: number;
  timing?: RunTiming;
}

/**
 * A run-level fault found by the run itself (an endpoint breaking its contract, a job that cannot read the
 * records asked for): the whole run fails instead of every record, and no retry can fix it.
 */
class RunLevelError extends Error {}

interface Leg {
  dir: 'inbound' | 'outbound';
  source: Endpoint;
  target: Endpoint;
  sourceSide: Side;
  targetSide: Side;
  forward: CompiledMapping;
  /** Maps the target's content back to the source's: used for echo hashes and conflict checks. */
  reverse: CompiledMapping | null;
  /** The reference column holding the source's id, and the target's. */
  sourceKey: 'local_id' | 'external_id';
  targetKey: 'local_id' | 'external_id';
  forwardHash: 'inbound_hash' | 'outbound_hash';
  reverseHash: 'inbound_hash' | 'outbound_hash';
}

type Plan =
  /** `parked`: a dead-lettered record left alone (unchanged since it failed): not a recovery. */
  | { kind: 'skip'; record: EndpointRecord; parked?: true }
  | { kind: 'fail'; record: EndpointRecord; phase: FailurePhase; error: unknown; side: Side; sourceHash?: string }
  | { kind: 'conflict'; record: EndpointRecord; message: string; stored?: ConflictRecord }
  | {
      kind: 'write';
      record: EndpointRecord;
      op: WriteOp;
      /** `forward` writes the source's content to the target; `reverse` writes the target's back (conflict lost). */
      way: 'forward' | 'reverse';
      forwardHash: string;
      reverseHash: string | null;
      /** The id on the other side of the record being written (target id for forward, source id for reverse). */
      otherId: string | null;
    }
  /**
   * A deletion: `forward` deletes (or marks) the target record of a record deleted at the source; `reverse`
   * deletes the source record, when a deletion at the target won a conflict with its update at the source.
   */
  | { kind: 'delete'; record: EndpointRecord; op: WriteOp; way: 'forward' | 'reverse' };

const zero = (): ExecutionCounters => ({
  processed: 0,
  created: 0,
  updated: 0,
  deleted: 0,
  skipped: 0,
  failed: 0,
  conflicts: 0,
});

function addCounters(to: ExecutionCounters, delta: ExecutionCounters): ExecutionCounters {
  return {
    processed: to.processed + delta.processed,
    created: to.created + delta.created,
    updated: to.updated + delta.updated,
    deleted: to.deleted + delta.deleted,
    skipped: to.skipped + delta.skipped,
    failed: to.failed + delta.failed,
    conflicts: to.conflicts + delta.conflicts,
  };
}

/**
 * The execution run: reads the source page by page, plans every record of a page against one batched
 * reference lookup, writes the page in one call per side, and commits references, failures, counters
 * and checkpoint in one transaction. See DESIGN.md, "The run, as data flows through it".
 */
export async function executeRun(store: RunStore, options: RunnerOptions, input: RunInput): Promise<RunOutcome> {
  const run = new Run(store, options, input);
  return run.execute();
}

/** One record of a dry run: what the next run would do with it, and the field changes it would make. */
export interface PreviewItem {
  leg: 'inbound' | 'outbound';
  /** The record's id on the side it is read from. */
  recordKey: string;
  action: 'create' | 'update' | 'skip' | 'conflict' | 'fail' | 'delete';
  /** The side that would be written (for a conflict the strategy settles, the side that loses). */
  writes: Side | null;
  /** The written record's id there (null for a create). */
  targetId: string | null;
  /** Field changes: the target's current value → the new value (creates: from null). */
  diff: { field: string; from: unknown; to: unknown }[];
  /** Why: a skip's reason, a failure's or conflict's message. */
  reason: string | null;
}

/**
 * Dry run: reads up to `limit` source records per leg, as the next run would (from the job's cursor), and plans
 * them exactly as a run does (references, mapping, hashes, parked records, conflicts), writing nothing anywhere:
 * no endpoint write, no reference, no cursor, no execution.
 */
export async function previewRun(
  store: RunStore,
  options: RunnerOptions,
  input: Omit<RunInput, 'executionId' | 'records' | 'resumeFrom'>,
  limit: number,
): Promise<PreviewItem[]> {
  const run = new Run(store, options, { ...input, executionId: '', records: null, resumeFrom: null });
  return run.preview(limit);
}

/** Thrown between pages when the worker releases the run. */
class Released extends Error {}

class Run {
  counters: ExecutionCounters;
  private readonly job: SyncJob;
  private readonly signal: AbortSignal;
  /** Records that failed before, per side they are read from: retried first, by id. */
  private readonly retrySet = new Map<Side, Set<string>>();
  /** Retry set plus parked records: a success of any of these is recorded as a recovery. */
  private readonly tracked = new Map<Side, Set<string>>();
  /** Dead-lettered records (open or discarded), per side: skipped while their source content is unchanged. */
  private readonly parked = new Map<Side, Map<string, TrackedRecord>>();
  /**
   * What the circuit breaker judges: the records of the source streams. Records retried from the retry set
   * are known to have failed before; they are counted in the execution but can never halt the run.
   */
  private readonly judged = { processed: 0, failed: 0 };
  /** Whether records being processed now are judged by the breaker (false while the retry set is retried). */
  private judging = true;
  /** Bidirectional jobs: counters per direction. */
  private directions: { inbound: ExecutionCounters; outbound: ExecutionCounters } | null;
  private fastFailures = 0;
  /** Pages written by the one-statement fast path (reported with the outcome). */
  fastPages = 0;
  private fastDisabled = false;
  /** Local ids of records left in conflict (manual) by an earlier leg of this run: the later leg leaves them be. */
  private readonly conflicted = new Set<string>();
  /** The job propagates deletions (its delete policy is not `ignore`). */
  private readonly deleting: boolean;
  /** Sides whose stream this run must not sweep (a page left records out). */
  private readonly noSweep = new Set<Side>();
  readonly timing: RunTiming = { readMs: 0, writeMs: 0 };
  /** When the chunk being processed started (for its log entry's duration). */
  private chunkStarted = 0;

  constructor(
    private readonly store: RunStore,
    private readonly options: RunnerOptions,
    private readonly input: RunInput,
  ) {
    this.job = input.job;
    this.signal = input.signal;
    this.deleting = input.job.deletePolicy !== 'ignore';
    this.counters = { ...zero(), ...input.initialCounters };
    this.directions =
      this.job.direction === 'bidirectional'
        ? {
            inbound: { ...zero(), ...input.initialDirections?.inbound },
            outbound: { ...zero(), ...input.initialDirections?.outbound },
          }
        : null;
  }

  async execute(): Promise<RunOutcome> {
    const outcome = (halt: RunHalt | null): RunOutcome => ({
      counters: this.counters,
      directions: this.directions,
      halt,
      fastPages: this.fastPages,
      timing: { readMs: Math.round(this.timing.readMs), writeMs: Math.round(this.timing.writeMs) },
    });
    try {
      const halted = await this.runLegs();
      if (halted) return outcome({ kind: 'circuit_breaker', judged: { ...this.judged } });
      return outcome(this.deleting ? await this.deletionPhase() : null);
    } catch (err) {
      if (err instanceof Released) return outcome({ kind: 'released' });
      // A cancel noticed in the database at a page commit (asked from another process).
      if (err instanceof RunAbort) return outcome({ kind: err.status });
      if (this.signal.aborted) {
        const reason = this.signal.reason;
        return outcome(
          reason instanceof RunAbort && reason.status === 'timed_out' ? { kind: 'timed_out' } : { kind: 'cancelled' },
        );
      }
      return outcome(runHaltOf(err));
    }
  }

  async preview(limit: number): Promise<PreviewItem[]> {
    await this.loadTracked();
    const out: PreviewItem[] = [];
    for (const leg of this.legs()) {
      const records: EndpointRecord[] = [];
      let cursor: string | null = null;
      do {
        const from: string | null = cursor;
        const page: ReadPage = await this.read(() =>
          leg.source.readPage({
            entityType: this.job.entityType,
            since: this.input.since,
            cursor: from,
            pageSize: Math.min(this.options.pageSize, limit),
            signal: this.signal,
            ...(this.deleting ? { deletions: true } : {}),
          }),
        );
        records.push(...page.records);
        cursor = page.nextCursor;
      } while (cursor !== null && records.length < limit);
      const batch = records.slice(0, limit);
      const live = batch.filter((r) => r.deleted !== true);
      const plans = await this.planChunk(leg, live);
      const targetIds = plans.flatMap((p) =>
        p.kind === 'write' && p.way === 'forward' && p.op.targetId ? [p.op.targetId] : [],
      );
      const current =
        targetIds.length === 0
          ? new Map<string, EndpointRecord>()
          : new Map(
              (
                await this.read(() =>
                  leg.target.fetch({ entityType: this.job.entityType, ids: targetIds, signal: this.signal }),
                )
              ).map((r) => [r.id, r]),
            );
      for (const plan of plans) out.push(previewItem(leg, plan, current));
      const tombstones = batch.filter((r) => r.deleted === true);
      if (tombstones.length > 0) {
        const refs = await this.store.lookupRefs(
          this.job.connectionId,
          this.job.entityType,
          leg.sourceKey,
          tombstones.map((r) => r.id),
        );
        for (const t of tombstones) {
          const ref = refs.get(t.id);
          const live = ref && ref.deleted_at == null;
          out.push({
            leg: leg.dir,
            recordKey: t.id,
            action: live ? 'delete' : 'skip',
            writes: live ? leg.targetSide : null,
            targetId: live ? ref[leg.targetKey] : null,
            diff: [],
            reason: live
              ? `deleted at the ${leg.sourceSide} side (${this.job.deletePolicy})`
              : 'deleted at the source, never synced or already deleted',
          });
        }
      }
    }
    return out;
  }

  /** The job's retry set and parked records (dead letters), as a run loads them first. */
  private async loadTracked(): Promise<void> {
    for (const item of await this.store.loadRetrySet(this.job.id)) {
      addTo(this.tracked, item.side, item.recordKey);
      if (item.parked === null) addTo(this.retrySet, item.side, item.recordKey);
      else {
        const bySide = this.parked.get(item.side) ?? new Map<string, TrackedRecord>();
        this.parked.set(item.side, bySide);
        bySide.set(item.recordKey, item);
      }
    }
  }

  private legs(): Leg[] {
    const { job } = this;
    const rules = job.fieldMappings;
    const has = (d: 'inbound' | 'outbound') => rules.some((r) => r.direction === d);
    const inbound = compileMapping(rules, 'inbound');
    const outbound = compileMapping(rules, 'outbound');
    const both = job.direction === 'bidirectional';
    const inLeg: Leg = {
      dir: 'inbound',
      source: this.input.provider,
      target: this.input.local,
      sourceSide: 'provider',
      targetSide: 'local',
      forward: inbound,
      reverse: both || has('outbound') ? outbound : null,
      sourceKey: 'external_id',
      targetKey: 'local_id',
      forwardHash: 'inbound_hash',
      reverseHash: 'outbound_hash',
    };
    const outLeg: Leg = {
      dir: 'outbound',
      source: this.input.local,
      target: this.input.provider,
      sourceSide: 'local',
      targetSide: 'provider',
      forward: outbound,
      reverse: both || has('inbound') ? inbound : null,
      sourceKey: 'local_id',
      targetKey: 'external_id',
      forwardHash: 'outbound_hash',
      reverseHash: 'inbound_hash',
    };
    if (job.direction === 'inbound') return [inLeg];
    if (job.direction === 'outbound') return [outLeg];
    return [inLeg, outLeg];
  }

  /** Returns true when the circuit breaker halted the run. */
  private async runLegs(): Promise<boolean> {
    const legs = this.legs();
    const { records } = this.input;
    await this.loadTracked();
    if (this.input.applyDeletionsOf) {
      await this.store.adoptHeldDeletions(this.input.applyDeletionsOf, this.input.executionId);
      return false;
    }
    if (records) {
      const leg = legs.find((l) => l.sourceSide === records.side);
      if (!leg)
        throw new RunLevelError(`a ${this.job.direction} job does not read records from the ${records.side} side`);
      // A single-record run (a webhook said the record changed, or a person retries a dead letter) always
      // attempts its records, parked or not.
      return this.processByIds(leg, records.keys, new Set());
    }
    const resume = this.input.resumeFrom;
    let started = resume === null;
    for (const leg of legs) {
      if (!started) {
        if (leg.dir !== resume!.leg) continue;
        started = true;
        if (resume!.cursor === null) continue;
      }
      // Records that failed before are retried first, fetched by id (they may be outside the incremental window).
      // They are judged apart from the stream: a known-bad record can never trip the breaker.
      const seen = new Set<string>();
      const retryKeys = [...(this.retrySet.get(leg.sourceSide) ?? [])];
      this.judging = false;
      try {
        await this.processByIds(leg, retryKeys, seen);
      } finally {
        this.judging = true;
      }
      if (await this.processStream(leg, leg.dir === resume?.leg ? resume.cursor : null, seen)) return true;
    }
    return false;
  }

  private async processByIds(leg: Leg, keys: string[], seen: Set<string>): Promise<boolean> {
    const size = this.options.pageSize;
    for (let i = 0; i < keys.length; i += size) {
      const ids = keys.slice(i, i + size);
      const fetched = await this.read(() =>
        leg.source.fetch({ entityType: this.job.entityType, ids, signal: this.signal }),
      );
      const found = fetched.filter((r) => r.deleted !== true);
      const foundIds = new Set(found.map((r) => r.id));
      const gone = ids.filter((id) => !foundIds.has(id));
      if (gone.length > 0) {
        if (this.deleting) {
          // Deleted at the source: a deletion, applied after the streams (it leaves the retry set when applied).
          const when = new Map(fetched.filter((r) => r.deleted === true).map((r) => [r.id, r.updatedAt ?? null]));
          await this.store.stageDeletions(
            this.scope(),
            leg.sourceSide,
            gone.map((id) => ({ recordKey: id, deletedAt: when.get(id) ?? null })),
          );
        } else {
          // Gone at the source: nothing left to sync, so it leaves the retry set.
          await this.store.dropRetryItems(this.job.id, leg.sourceSide, gone);
        }
      }
      for (const r of found) seen.add(r.id);
      if (await this.processRecords(leg, found, undefined)) return true;
    }
    return false;
  }

  private scope() {
    return {
      executionId: this.input.executionId,
      jobId: this.job.id,
      connectionId: this.job.connectionId,
      entityType: this.job.entityType,
    };
  }

  /** Whether this run sweeps the leg's side: a full whole run of a job that propagates deletions. */
  private sweeps(): boolean {
    return this.deleting && this.input.since === null && this.input.records === null;
  }

  private async processStream(leg: Leg, startCursor: string | null, seen: Set<string>): Promise<boolean> {
    const deletions = this.deleting;
    const read = async (cursor: string | null) => {
      const page = await this.read(() =>
        leg.source.readPage({
          entityType: this.job.entityType,
          since: this.input.since,
          cursor,
          pageSize: this.options.pageSize,
          signal: this.signal,
          ...(deletions ? { deletions: true } : {}),
        }),
      );
      return deletions ? this.trackPage(leg, page) : page;
    };
    // A full run reads the whole stream from here: it may sweep what it did not see (marked for a resume).
    if (this.sweeps() && startCursor === null)
      await this.store.markSeen(this.input.executionId, leg.sourceSide, [], true);
    // Pages are read ahead while the ones before them are written: the provider and the database work at once.
    // Several clean pages may go in one commit (see RunnerOptions.batchRecords); otherwise one page per commit.
    const batch = this.batchFor(leg);
    // Pages bound for the fast path are mapped and hashed as they arrive, while the previous commit runs.
    const prepare = batch > 0 ? (page: ReadPage) => this.prepareFast(leg, page.records) : null;
    const reader = new PageReader(read, startCursor, batch > 0 ? batch * 2 : this.options.pageSize, prepare);
    try {
      for (;;) {
        const pages = await reader.take(batch);
        const last = pages.at(-1)!;
        if (await this.processPages(leg, pages, seen)) return true;
        if (last.nextCursor === null) return false;
        if (this.input.release?.aborted) throw new Released();
        // PGlite answers without ever yielding to the event loop: give timers (timeout, heartbeat), signals
        // and I/O a turn between commits.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } finally {
      reader.stop();
    }
  }

  /**
   * Jobs that propagate deletions: a page's tombstones are staged (applied after the streams), its ids noted for
   * the sweep of a full run; the page goes on with its live records. Staging is idempotent, so a page read again
   * after a crash stages nothing twice.
   */
  private async trackPage(leg: Leg, page: ReadPage): Promise<ReadPage> {
    if (page.incomplete) this.noSweep.add(leg.sourceSide);
    const tombstones = page.records.filter((r) => r.deleted === true);
    const live = tombstones.length === 0 ? page.records : page.records.filter((r) => r.deleted !== true);
    if (tombstones.length > 0) {
      await this.store.stageDeletions(
        this.scope(),
        leg.sourceSide,
        tombstones.map((r) => ({ recordKey: r.id, deletedAt: r.updatedAt ?? null })),
      );
    }
    if (this.sweeps() && live.length > 0) {
      await this.store.markSeen(
        this.input.executionId,
        leg.sourceSide,
        live.map((r) => r.id),
        false,
      );
    }
    return tombstones.length === 0 ? page : { ...page, records: live };
  }

  /**
   * After the streams: the sweep of a full run (references not seen are deletions), the mass-delete protection,
   * then the staged deletions applied page by page through the normal write and commit path (failures join the
   * retry set and the dead letter queue like any write). A halted run never gets here, so it never sweeps.
   */
  private async deletionPhase(): Promise<RunHalt | null> {
    const legs = this.legs();
    const { records } = this.input;
    const active = records ? legs.filter((l) => l.sourceSide === records.side) : legs;
    const scope = this.scope();
    if (!this.input.applyDeletionsOf && records === null) {
      if (this.sweeps()) {
        for (const leg of active) {
          if (!this.noSweep.has(leg.sourceSide)) await this.store.sweep(scope, leg.sourceSide, leg.sourceKey);
        }
      }
      // Mass-delete protection: judged over the whole run's deletions, before any is applied.
      let doomed = 0;
      let live = 0;
      for (const leg of active) {
        const c = await this.store.deletionCounts(scope, leg.sourceSide, leg.sourceKey);
        doomed += c.doomed;
        live = Math.max(live, c.live);
      }
      if (massDeleteTripped(doomed, live, this.job.massDeleteThreshold)) {
        const held = await this.store.holdDeletions(this.input.executionId);
        return { kind: 'mass_delete', held, live, thresholdPercent: this.job.massDeleteThreshold };
      }
    }
    this.judging = false;
    for (const leg of active) {
      let after: string | null = null;
      for (;;) {
        if (this.signal.aborted) throw this.signal.reason;
        const page = await this.store.stagedDeletions(
          this.input.executionId,
          leg.sourceSide,
          after,
          this.options.pageSize,
        );
        if (page.length === 0) break;
        after = page.at(-1)!.recordKey;
        await this.processDeletions(leg, page);
        if (this.input.release?.aborted) throw new Released();
      }
    }
    return null;
  }

  /** One page of staged deletions: checked at the source again, then written and committed like a page. */
  private async processDeletions(leg: Leg, staged: StagedDeletion[]): Promise<void> {
    const { job } = this;
    this.chunkStarted = performance.now();
    const keys = staged.map((d) => d.recordKey);
    // A record that exists at the source after all (it came back, or a read missed it) is not deleted.
    const present = new Set(
      (await this.read(() => leg.source.fetch({ entityType: job.entityType, ids: keys, signal: this.signal })))
        .filter((r) => r.deleted !== true)
        .map((r) => r.id),
    );
    const gone = staged.filter((d) => !present.has(d.recordKey));
    const refs = await this.store.lookupRefs(
      job.connectionId,
      job.entityType,
      leg.sourceKey,
      gone.map((d) => d.recordKey),
    );
    const soft = job.deletePolicy === 'soft_delete';
    const plans: Plan[] = gone.map((d) => {
      const record: EndpointRecord = { id: d.recordKey, data: {}, updatedAt: d.deletedAt, deleted: true };
      const ref = refs.get(d.recordKey);
      // Never synced, already deleted (marked) on the target, or left in conflict by a leg of this run (a
      // deletion against an update, strategy manual): nothing to do.
      if (!ref || ref.deleted_at != null || this.conflicted.has(ref.local_id)) return { kind: 'skip', record };
      return {
        kind: 'delete',
        record,
        way: 'forward',
        op: {
          action: 'delete',
          targetId: ref[leg.targetKey],
          data: {},
          soft,
          deletedAt: d.deletedAt,
          idempotencyKey: idempotencyKey(job.id, d.recordKey, 'delete'),
          sourceId: d.recordKey,
        },
      };
    });
    const idx = plans.flatMap((p, i) => (p.kind === 'delete' ? [i] : []));
    const results = new Map<number, WriteResult>();
    const writeTo = async (transaction?: unknown) => {
      if (idx.length === 0) return;
      const ops = idx.map((i) => (plans[i] as Extract<Plan, { kind: 'delete' }>).op);
      const res = await this.writeWithRetry(leg.target, ops, transaction);
      for (const [k, planIndex] of idx.entries()) results.set(planIndex, res[k]!);
    };
    if (!leg.target.colocated) await writeTo();
    await this.commitWith(
      leg,
      plans,
      results,
      undefined,
      async (transaction) => {
        if (leg.target.colocated) await writeTo(transaction);
      },
      keys,
    );
  }

  /** How many records one commit may gather from several pages: only when the fast path applies. */
  private batchFor(leg: Leg): number {
    const wanted = this.options.batchRecords ?? DEFAULT_BATCH_RECORDS;
    if (wanted <= this.options.pageSize || !this.fastEligible(leg)) return 0;
    return wanted;
  }

  /**
   * Pages read together: one fast-path statement for all of them when they are clean, else page by page as
   * before (a page that fails the fast path takes the general path on its own, which isolates bad records).
   */
  private async processPages(leg: Leg, pages: ReadPage[], seen: Set<string>): Promise<boolean> {
    const recordsOf = (page: ReadPage) =>
      seen.size === 0 ? page.records : page.records.filter((r) => !seen.has(r.id));
    const checkpointOf = (page: ReadPage): Checkpoint => ({ leg: leg.dir, cursor: page.nextCursor });
    if (pages.length > 1 && this.judged.processed >= 10 && this.fastEligible(leg)) {
      const records = pages.flatMap(recordsOf);
      // A record twice in one batch (it changed while the list was paged) would be written twice in one
      // statement: page by page instead.
      const ids = new Set(records.map((r) => r.id));
      if (ids.size === records.length && (await this.tryFastInbound(leg, records, checkpointOf(pages.at(-1)!), true))) {
        return false;
      }
    }
    for (const page of pages) {
      if (this.input.release?.aborted && page !== pages[0]) throw new Released();
      if (await this.processRecords(leg, recordsOf(page), checkpointOf(page))) return true;
    }
    return false;
  }

  /**
   * Processes records in chunks that end where the circuit breaker could first trip (see
   * recordsBeforeBreakerCheck): the breaker is checked as if per record, once 10 are processed, while a
   * healthy run still goes a page at a time. Records not judged by the breaker (the retry set) go a page at
   * a time. Returns true when the breaker tripped.
   */
  private async processRecords(leg: Leg, records: EndpointRecord[], checkpoint: Checkpoint | undefined) {
    let i = 0;
    if (records.length === 0 && checkpoint) {
      await this.commitWith(leg, [], new Map(), checkpoint, async () => {});
      return false;
    }
    while (i < records.length) {
      const rest = records.length - i;
      const n = this.judging ? recordsBeforeBreakerCheck(this.judged, rest) : rest;
      const chunk = records.slice(i, i + n);
      i += chunk.length;
      await this.processChunk(leg, chunk, i >= records.length ? checkpoint : undefined);
      if (this.judging && circuitBreakerTripped(this.judged)) return true;
    }
    return false;
  }

  private async processChunk(leg: Leg, records: EndpointRecord[], checkpoint: Checkpoint | undefined) {
    if (this.signal.aborted) throw this.signal.reason;
    this.chunkStarted = performance.now();
    if (await this.tryFastInbound(leg, records, checkpoint)) return;
    const plans = await this.planChunk(leg, records);

    // Writes to non-colocated endpoints (providers) happen before the transaction; colocated ones inside it.
    const writes = (way: 'forward' | 'reverse') =>
      plans.flatMap((p, i) => ((p.kind === 'write' || p.kind === 'delete') && p.way === way ? [i] : []));
    const forward = writes('forward');
    const reverse = writes('reverse');
    const results = new Map<number, WriteResult>();
    const writeTo = async (endpoint: Endpoint, idx: number[], transaction?: unknown) => {
      if (idx.length === 0) return;
      const ops = idx.map((i) => (plans[i] as Extract<Plan, { kind: 'write' | 'delete' }>).op);
      const res = await this.writeWithRetry(endpoint, ops, transaction);
      for (const [k, planIndex] of idx.entries()) results.set(planIndex, res[k]!);
    };
    if (!leg.target.colocated) await writeTo(leg.target, forward);
    if (!leg.source.colocated) await writeTo(leg.source, reverse);

    await this.commitWith(leg, plans, results, checkpoint, async (transaction) => {
      if (leg.target.colocated) await writeTo(leg.target, forward, transaction);
      if (leg.source.colocated) await writeTo(leg.source, reverse, transaction);
    });
  }

  /**
   * Plans a chunk: one reference lookup, then per record skip (unchanged, echo, parked) | create | update | fail
   * (fetch or mapping error), and for bidirectional jobs the conflict check against the target. Reads only.
   */
  private async planChunk(leg: Leg, records: EndpointRecord[]): Promise<Plan[]> {
    const { job } = this;
    const refs = await this.store.lookupRefs(
      job.connectionId,
      job.entityType,
      leg.sourceKey,
      records.map((r) => r.id),
    );
    const plans: Plan[] = [];
    const toCheck: { index: number; ref: RefRow }[] = [];
    const parked = this.parked.get(leg.sourceSide);
    for (const record of records) {
      // A parked record (dead letter) waits until its source content changes, or a person retries it
      // (a single-record run, which always attempts its records).
      const park = this.input.records === null ? parked?.get(record.id) : undefined;
      const sourceHash = park ? sourceContentHash(record) : undefined;
      if (park && sourceHash === park.sourceHash) {
        plans.push({ kind: 'skip', record, parked: true });
        continue;
      }
      if (record.error !== undefined) {
        plans.push({ kind: 'fail', record, phase: 'fetch', error: record.error, side: leg.sourceSide, sourceHash });
        continue;
      }
      let mapped: Record<string, unknown>;
      try {
        mapped = applyMapping(leg.forward, record.data);
      } catch (error) {
        plans.push({ kind: 'fail', record, phase: 'map', error, side: leg.sourceSide, sourceHash });
        continue;
      }
      const hash = contentHash(mapped);
      const ref = refs.get(record.id);
      if (ref && (ref[leg.forwardHash] === hash || this.conflicted.has(ref.local_id))) {
        plans.push({ kind: 'skip', record });
        continue;
      }
      const targetId = ref ? ref[leg.targetKey] : null;
      plans.push({
        kind: 'write',
        record,
        way: 'forward',
        op: {
          action: ref ? 'update' : 'create',
          targetId,
          data: mapped,
          idempotencyKey: idempotencyKey(job.id, record.id, hash),
          sourceId: record.id,
        },
        forwardHash: hash,
        reverseHash: this.echoHash(leg.reverse, mapped),
        otherId: targetId,
      });
      if (ref && job.direction === 'bidirectional') toCheck.push({ index: plans.length - 1, ref });
    }
    if (toCheck.length > 0) await this.detectConflicts(leg, plans, toCheck);
    return plans;
  }

  /**
   * A clean page of an inbound job into a colocated table goes in one statement (see RunStore.fastInboundPage):
   * no reference lookup round trip, no transaction round trips. Any record that needs more care (a mapping
   * error, a record in the retry set or the dead letter queue) or any database error sends the page down the
   * general path instead, which isolates bad records. Returns whether the page was handled.
   */
  /** Mapped content and hashes of records read ahead for the fast path; null = the mapping failed. */
  private readonly fastRows = new WeakMap<EndpointRecord, FastRow | null>();

  private prepareFast(leg: Leg, records: EndpointRecord[]): void {
    for (const record of records) this.fastRows.set(record, this.fastRow(leg, record));
  }

  private fastRow(leg: Leg, record: EndpointRecord): FastRow | null {
    if (record.error !== undefined) return null;
    let mapped: Record<string, unknown>;
    try {
      mapped = applyMapping(leg.forward, record.data);
    } catch {
      return null;
    }
    return {
      externalId: record.id,
      data: mapped,
      hash: contentHash(mapped),
      reverseHash: this.echoHash(leg.reverse, mapped),
    };
  }

  private fastEligible(leg: Leg): boolean {
    return (
      this.job.direction === 'inbound' &&
      leg.target.colocated === true &&
      leg.target.colocatedTable !== undefined &&
      this.store.fastInboundPage !== undefined &&
      !this.fastDisabled
    );
  }

  private async tryFastInbound(
    leg: Leg,
    records: EndpointRecord[],
    checkpoint: Checkpoint | undefined,
    batched = false,
  ) {
    const table = leg.target.colocatedTable;
    if (!this.fastEligible(leg) || !table || !this.store.fastInboundPage || records.length === 0) return false;
    const tracked = this.tracked.get(leg.sourceSide);
    const rows: FastRow[] = [];
    for (const record of records) {
      if (tracked?.has(record.id)) return false;
      let row = this.fastRows.get(record);
      if (row === undefined) row = this.fastRow(leg, record);
      if (row === null) return false;
      rows.push(row);
    }
    const shape = table.call(leg.target, this.job.entityType);
    const fastStarted = performance.now();
    let result: Awaited<ReturnType<NonNullable<RunStore['fastInboundPage']>>>;
    try {
      result = await this.store.fastInboundPage(
        {
          executionId: this.input.executionId,
          jobId: this.job.id,
          connectionId: this.job.connectionId,
          entityType: this.job.entityType,
        },
        shape,
        rows,
        checkpoint,
      );
    } catch (err) {
      if (err instanceof ProviderError && err.kind === 'config') throw new RunLevelError(err.message);
      // A row the database rejects: the general path finds it. After a few such pages, stop trying.
      // (A batch of pages that fails is tried again page by page; only pages count.)
      if (!batched && ++this.fastFailures >= 3) this.fastDisabled = true;
      return false;
    }
    this.timing.writeMs += performance.now() - fastStarted;
    this.fastPages++;
    this.logPage(
      leg,
      {
        ...zero(),
        processed: records.length,
        created: result.created,
        updated: result.updated,
        skipped: result.skipped,
      },
      fastStarted,
      { fastPath: true },
    );
    this.counters.processed += records.length;
    this.counters.created += result.created;
    this.counters.updated += result.updated;
    this.counters.skipped += result.skipped;
    if (this.judging) this.judged.processed += records.length;
    if (result.cancelRequested && !this.signal.aborted) throw new RunAbort('cancelled', 'cancelled by request');
    return true;
  }

  /** Both sides changed since the last sync of a record: apply the job's conflict strategy. */
  private async detectConflicts(leg: Leg, plans: Plan[], toCheck: { index: number; ref: RefRow }[]) {
    const { job } = this;
    const targets = await this.read(() =>
      leg.target.fetch({
        entityType: job.entityType,
        ids: toCheck.map((c) => c.ref[leg.targetKey]),
        signal: this.signal,
      }),
    );
    const byId = new Map(targets.map((t) => [t.id, t]));
    for (const { index, ref } of toCheck) {
      const plan = plans[index] as Extract<Plan, { kind: 'write' }>;
      const found = byId.get(ref[leg.targetKey]);
      // Deleted at the target while updated at the source: a conflict when the job propagates deletions.
      if ((!found || found.deleted === true) && this.deleting && ref.deleted_at == null) {
        this.deleteAgainstUpdate(leg, plans, index, ref, found ?? null);
        continue;
      }
      const target = found?.deleted === true ? undefined : found;
      if (target && target.error === undefined) {
        // The echo the other leg will see is the target after this update: an update sets the mapped fields
        // and leaves the rest, so its current content with the payload on top (not the payload alone, which
        // would miss fields mapped one way only and make the next run write them back).
        plan.reverseHash = this.echoHash(leg.reverse, { ...target.data, ...plan.op.data }) ?? plan.reverseHash;
      }
      const lastReverse = ref[leg.reverseHash];
      if (!target || lastReverse === null || !leg.reverse) continue;
      if (target.error !== undefined) {
        plans[index] = {
          kind: 'fail',
          record: plan.record,
          phase: 'conflict',
          error: target.error,
          side: leg.targetSide,
        };
        continue;
      }
      let theirs: Record<string, unknown>;
      try {
        theirs = applyMapping(leg.reverse, target.data);
      } catch (error) {
        plans[index] = { kind: 'fail', record: plan.record, phase: 'conflict', error, side: leg.targetSide };
        continue;
      }
      const theirHash = contentHash(theirs);
      if (theirHash === lastReverse) continue; // only the source changed: a plain update
      const winner = conflictWinner(job.conflictStrategy!, leg.sourceSide, plan.record, target);
      if (winner === 'source') continue;
      if (winner === 'manual') {
        this.conflicted.add(ref.local_id);
        // Both sides in the local entity's field names: the provider's content mapped inbound.
        const [local, provider] = leg.dir === 'inbound' ? [target.data, plan.op.data] : [plan.record.data, theirs];
        plans[index] = {
          kind: 'conflict',
          record: plan.record,
          message: `both sides changed since the last sync (${leg.sourceSide} ${plan.record.id}, ${leg.targetSide} ${target.id}); strategy manual leaves it for review`,
          stored: this.conflictRecord(ref, local, provider),
        };
        continue;
      }
      // The target's version wins: write it back to the source.
      plans[index] = {
        kind: 'write',
        record: plan.record,
        way: 'reverse',
        op: {
          action: 'update',
          targetId: plan.record.id,
          data: theirs,
          idempotencyKey: idempotencyKey(job.id, target.id, theirHash),
          sourceId: target.id,
        },
        // The source after the write back: its content with the winner's fields on top (see above).
        forwardHash: this.echoHash(leg.forward, { ...plan.record.data, ...theirs }) ?? plan.forwardHash,
        reverseHash: theirHash,
        otherId: target.id,
      };
    }
  }

  /**
   * A record updated at the source whose target record was deleted (bidirectional jobs that propagate deletions):
   * the job's strategy decides. The update wins: the record is written to the target again (a create at a
   * provider; an upsert of the same row locally). The deletion wins: the source record is deleted too. Manual:
   * left in conflict for review. `newest_wins` compares the update time with the deletion time (unknown for a
   * row deleted outright: the update wins).
   */
  private deleteAgainstUpdate(leg: Leg, plans: Plan[], index: number, ref: RefRow, tombstone: EndpointRecord | null) {
    const { job } = this;
    const plan = plans[index] as Extract<Plan, { kind: 'write' }>;
    const deletedAt = tombstone?.updatedAt ?? null;
    const deletion: EndpointRecord = { id: ref[leg.targetKey], data: {}, updatedAt: deletedAt, deleted: true };
    const winner = conflictWinner(job.conflictStrategy!, leg.sourceSide, plan.record, deletion);
    if (winner === 'source') {
      if (!leg.target.colocated) {
        plan.op = { ...plan.op, action: 'create', targetId: null };
        plan.otherId = null;
      }
      return;
    }
    if (winner === 'manual') {
      this.conflicted.add(ref.local_id);
      const updated = leg.dir === 'inbound' ? plan.op.data : plan.record.data;
      plans[index] = {
        kind: 'conflict',
        record: plan.record,
        message: `${leg.sourceSide} ${plan.record.id} changed while ${leg.targetSide} ${deletion.id} was deleted; strategy manual leaves it for review`,
        stored:
          leg.dir === 'inbound' ? this.conflictRecord(ref, null, updated) : this.conflictRecord(ref, updated, null),
      };
      return;
    }
    plans[index] = {
      kind: 'delete',
      record: plan.record,
      way: 'reverse',
      op: {
        action: 'delete',
        targetId: plan.record.id,
        data: {},
        soft: job.deletePolicy === 'soft_delete',
        deletedAt,
        idempotencyKey: idempotencyKey(job.id, deletion.id, 'delete'),
        sourceId: deletion.id,
      },
    };
  }

  /**
   * A conflict as stored for a person: both contents restricted to the local fields the job maps (null for a side
   * that deleted the record), and the fields whose values differ.
   */
  private conflictRecord(
    ref: RefRow,
    local: Record<string, unknown> | null,
    provider: Record<string, unknown> | null,
  ): ConflictRecord {
    const names = new Set<string>();
    for (const r of this.job.fieldMappings) {
      names.add((r.direction === 'inbound' ? r.targetField : r.sourceField).split('.')[0]!);
    }
    const pick = (data: Record<string, unknown> | null) =>
      data === null ? null : Object.fromEntries([...names].filter((n) => n in data).map((n) => [n, data[n]]));
    const l = pick(local);
    const p = pick(provider);
    const fields = [...names].filter(
      (n) => l === null || p === null || JSON.stringify(l[n] ?? null) !== JSON.stringify(p[n] ?? null),
    );
    return {
      localId: ref.local_id,
      externalId: ref.external_id,
      localContent: l,
      providerContent: p,
      fields: fields.sort(),
      localDeleted: l === null,
      providerDeleted: p === null,
      contentHash: contentHash({ local: l, provider: p }),
    };
  }

  /** The hash the other direction will compute for content we just wrote; null if it cannot be mapped. */
  private echoHash(mapping: CompiledMapping | null, content: Record<string, unknown>): string | null {
    if (!mapping) return null;
    try {
      return contentHash(applyMapping(mapping, content));
    } catch {
      return null;
    }
  }

  private async commitWith(
    leg: Leg,
    plans: Plan[],
    results: Map<number, WriteResult>,
    checkpoint: Checkpoint | undefined,
    inside: (transaction: unknown) => Promise<void>,
    /** Staged deletions this commit deals with (a page of the deletion phase). */
    unstaged?: string[],
  ) {
    const { job } = this;
    const tracked = this.tracked.get(leg.sourceSide);
    const parked = this.parked.get(leg.sourceSide);
    const inbound = leg.dir === 'inbound';
    let delta = zero();
    let recovered: string[] = [];
    /** A result saying the whole run cannot go on (401/403, configuration): the run halts after this commit. */
    let runLevel: unknown;
    const committing = performance.now();
    // A create at an endpoint that cannot recognise it again (Endpoint.dedupesCreates) is remembered only by the
    // reference this commit writes: the commit must survive a database crash, or the next attempt creates the record
    // a second time. Updates and deletes sent again change nothing: their commits keep the fast setting.
    const durable =
      !leg.target.colocated &&
      leg.target.dedupesCreates?.(job.entityType) !== true &&
      plans.some((p) => p.kind === 'write' && p.op.action === 'create');
    const { cancelRequested } = await this.store.commitPage(
      {
        executionId: this.input.executionId,
        jobId: job.id,
        connectionId: job.connectionId,
        entityType: job.entityType,
      },
      async (transaction) => {
        await inside(transaction);
        // Built inside: a transaction retried by the store starts from scratch.
        delta = zero();
        recovered = [];
        runLevel = undefined;
        const refs: RefUpsert[] = [];
        const failures: FailureRow[] = [];
        const deletedKeys: string[] = [];
        const conflicts: ConflictRecord[] = [];
        const events: { keys: string[]; outcomes: RecordOutcome[] } = { keys: [], outcomes: [] };
        const event = (key: string, outcome: RecordOutcome) => {
          events.keys.push(key);
          events.outcomes.push(outcome);
        };
        const fail = (key: string, side: Side, phase: FailurePhase, error: unknown, sourceHash?: string) => {
          const park = parked?.get(key);
          failures.push({
            recordKey: key,
            side,
            phase,
            errorKind: errorKindOf(error),
            message: errorMessage(error),
            // Without "retry on failure" a failed record is only reported; a parked one updates its dead letter.
            retry: job.retryOnFailure && park === undefined,
            sourceHash: sourceHash ?? null,
            ...(park ? { parked: park.parked! } : {}),
          });
        };
        plans.forEach((plan, i) => {
          const key = plan.record.id;
          let ok = false;
          switch (plan.kind) {
            case 'skip':
              delta.skipped++;
              ok = plan.parked !== true;
              break;
            case 'conflict':
              delta.skipped++;
              delta.conflicts++;
              event(key, 'conflict');
              if (plan.stored) conflicts.push(plan.stored);
              failures.push({
                recordKey: key,
                side: leg.sourceSide,
                phase: 'conflict',
                errorKind: 'conflict',
                message: plan.message,
                retry: false,
                sourceHash: null,
              });
              break;
            case 'fail':
              delta.failed++;
              event(key, 'failed');
              fail(key, plan.side, plan.phase, plan.error, plan.sourceHash ?? sourceContentHash(plan.record));
              break;
            case 'delete': {
              const result = results.get(i)!;
              if (!result.ok) {
                const kind = errorKindOf(result.error);
                if (kind === 'auth' || kind === 'config') {
                  runLevel ??= result.error;
                  return;
                }
                delta.failed++;
                event(key, 'failed');
                fail(
                  key,
                  plan.way === 'forward' ? leg.targetSide : leg.sourceSide,
                  'write',
                  result.error,
                  sourceContentHash(plan.record),
                );
                break;
              }
              ok = true;
              delta.deleted++;
              event(key, 'deleted');
              deletedKeys.push(key);
              break;
            }
            case 'write': {
              const result = results.get(i)!;
              const writtenSide = plan.way === 'forward' ? leg.targetSide : leg.sourceSide;
              if (!result.ok) {
                const kind = errorKindOf(result.error);
                if (kind === 'auth' || kind === 'config') {
                  // Not written, and not this record's fault: not counted; the next run attempts it again.
                  runLevel ??= result.error;
                  return;
                }
                delta.failed++;
                event(key, 'failed');
                fail(key, writtenSide, 'write', result.error, sourceContentHash(plan.record));
                break;
              }
              ok = true;
              if (plan.way === 'forward' && plan.op.action === 'create') {
                delta.created++;
              } else {
                delta.updated++;
                event(key, 'updated');
              }
              const targetId = plan.way === 'forward' ? result.id : (plan.otherId ?? result.id);
              const [inHash, outHash] = inbound
                ? [plan.forwardHash, plan.reverseHash]
                : [plan.reverseHash, plan.forwardHash];
              refs.push({
                localId: inbound ? targetId : key,
                externalId: inbound ? key : targetId,
                inboundHash: inHash,
                outboundHash: outHash,
                localVersion: null,
                externalVersion: null,
              });
              break;
            }
          }
          delta.processed++;
          if (ok && tracked?.has(key)) recovered.push(key);
        });
        const commit: PageCommit = {
          refKey: leg.sourceKey,
          refs,
          failures,
          recovered: { side: leg.sourceSide, keys: recovered },
          counters: delta,
        };
        if (this.directions) {
          commit.directions = { ...this.directions, [leg.dir]: addCounters(this.directions[leg.dir], delta) };
        }
        if (conflicts.length > 0) commit.conflicts = conflicts;
        if (events.keys.length > 0) commit.events = { side: leg.sourceSide, ...events };
        if (unstaged || deletedKeys.length > 0) {
          commit.deletions = {
            side: leg.sourceSide,
            deletedKeys,
            soft: job.deletePolicy === 'soft_delete',
            // A deletion the run could not apply for a run-level reason stays staged.
            unstaged: !unstaged
              ? []
              : runLevel === undefined
                ? unstaged
                : unstaged.filter((k) => deletedKeys.includes(k)),
          };
        }
        // Records of this page were left unwritten by a run-level fault: the checkpoint stays before it.
        if (checkpoint && runLevel === undefined) commit.checkpoint = checkpoint;
        return commit;
      },
      { durable },
    );
    this.timing.writeMs += performance.now() - committing;
    this.logPage(leg, delta, this.chunkStarted);
    this.counters = addCounters(this.counters, delta);
    if (this.directions) this.directions[leg.dir] = addCounters(this.directions[leg.dir], delta);
    if (this.judging) {
      this.judged.processed += delta.processed;
      this.judged.failed += delta.failed;
    }
    for (const key of recovered) {
      tracked?.delete(key);
      this.retrySet.get(leg.sourceSide)?.delete(key);
      parked?.delete(key);
    }
    if (runLevel !== undefined) throw runLevel;
    if (cancelRequested && !this.signal.aborted) {
      throw new RunAbort('cancelled', 'cancelled by request');
    }
  }

  /**
   * One write call for the batch. Records the target rejected as transient (429, 5xx) are sent again
   * after a backoff, up to the policy's attempts; what is left counts as failed.
   */
  private async writeWithRetry(endpoint: Endpoint, ops: WriteOp[], transaction?: unknown): Promise<WriteResult[]> {
    // A colocated write runs inside the page commit, whose time is counted there.
    if (endpoint.colocated) return this.writeCalls(endpoint, ops, transaction);
    const t0 = performance.now();
    try {
      return await this.writeCalls(endpoint, ops, transaction);
    } finally {
      this.timing.writeMs += performance.now() - t0;
    }
  }

  private async writeCalls(endpoint: Endpoint, ops: WriteOp[], transaction?: unknown): Promise<WriteResult[]> {
    const policy = this.options.retry;
    const results: WriteResult[] = new Array(ops.length);
    let pending = ops.map((_, i) => i);
    for (let attempt = 1; ; attempt++) {
      const batch = pending.map((i) => ops[i]!);
      const request = {
        entityType: this.job.entityType,
        ops: batch,
        signal: this.signal,
        // biome-ignore lint/suspicious/noExplicitAny: handed through to colocated endpoints
        ...(transaction ? { transaction: transaction as any } : {}),
      };
      let res: WriteResult[];
      try {
        res = endpoint.colocated ? await endpoint.write(request) : await this.call(() => endpoint.write(request));
      } catch (err) {
        // A re-send that fails as a whole: what the earlier calls wrote stands (it must keep its references);
        // the records re-sent fail with this error (a run-level kind halts the run after the commit).
        if (attempt === 1 || this.signal.aborted) throw err;
        for (const i of pending) results[i] = { ok: false, error: err };
        return results;
      }
      if (res.length !== batch.length) {
        throw new RunLevelError(`endpoint returned ${res.length} results for ${batch.length} writes`);
      }
      const again: number[] = [];
      let lastError: unknown;
      res.forEach((r, k) => {
        const i = pending[k]!;
        results[i] = r;
        if (!r.ok && isTransient(r.error)) {
          again.push(i);
          lastError = r.error;
        }
      });
      if (again.length === 0 || attempt >= policy.attempts) return results;
      await waitToRetry('endpoint', policy, attempt, lastError, this.signal);
      pending = again;
    }
  }

  /** An endpoint call: transient errors retried with backoff, abort honoured even if the call hangs. */
  private call<T>(fn: () => Promise<T>): Promise<T> {
    return withTransientRetry(this.options.retry, this.signal, () => raceAbort(fn(), this.signal));
  }

  /** A read (page or records by id) through `call`, its time counted as reading. */
  private async read<T>(fn: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    try {
      return await this.call(fn);
    } finally {
      this.timing.readMs += performance.now() - t0;
    }
  }

  /** Logs a committed chunk of a page: its records, outcomes and how long it took from plan to commit. */
  private logPage(leg: Leg, delta: ExecutionCounters, startedMs: number, extra: Record<string, unknown> = {}) {
    this.input.log?.add('info', 'page', `${leg.dir} page committed: ${delta.processed} records`, {
      leg: leg.dir,
      records: delta.processed,
      created: delta.created,
      updated: delta.updated,
      deleted: delta.deleted,
      skipped: delta.skipped,
      failed: delta.failed,
      durationMs: Math.round(performance.now() - startedMs),
      ...extra,
    });
  }
}

/** A planned record as the preview shows it: the action, the side written, the field changes. */
function previewItem(leg: Leg, plan: Plan, current: Map<string, EndpointRecord>): PreviewItem {
  const base = { leg: leg.dir, recordKey: plan.record.id };
  switch (plan.kind) {
    case 'skip':
      return {
        ...base,
        action: 'skip',
        writes: null,
        targetId: null,
        diff: [],
        reason: plan.parked
          ? 'parked in the dead letter queue, unchanged since it failed'
          : 'unchanged since the last sync',
      };
    case 'fail':
      return {
        ...base,
        action: 'fail',
        writes: null,
        targetId: null,
        diff: [],
        reason: `${plan.phase}: ${errorMessage(plan.error)}`,
      };
    case 'conflict':
      return { ...base, action: 'conflict', writes: null, targetId: null, diff: [], reason: plan.message };
    case 'delete':
      return {
        ...base,
        action: 'delete',
        writes: plan.way === 'forward' ? leg.targetSide : leg.sourceSide,
        targetId: plan.op.targetId,
        diff: [],
        reason: 'a deletion wins a conflict with an update',
      };
    case 'write': {
      const before =
        plan.way === 'forward' && plan.op.targetId
          ? current.get(plan.op.targetId)?.data
          : plan.way === 'reverse'
            ? plan.record.data
            : undefined;
      const diff = Object.entries(plan.op.data).flatMap(([field, to]) => {
        const from = before?.[field] ?? null;
        return sameValue(from, to ?? null) ? [] : [{ field, from, to }];
      });
      return {
        ...base,
        action: plan.op.action === 'create' ? 'create' : 'update',
        writes: plan.way === 'forward' ? leg.targetSide : leg.sourceSide,
        targetId: plan.op.targetId,
        diff,
        reason: plan.way === 'reverse' ? `conflict: the ${leg.targetSide} side wins (strategy)` : null,
      };
    }
  }
}

/**
 * Whether a target's stored value and a new value are the same for a preview's diff: equal as JSON, or the same
 * number where the database hands a numeric column back as a string ("42.50" and 42.5).
 */
function sameValue(a: unknown, b: unknown): boolean {
  if (JSON.stringify(a) === JSON.stringify(b)) return true;
  const num = (v: unknown) =>
    typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : Number.NaN;
  const [x, y] = [num(a), num(b)];
  return (typeof a === 'number' || typeof b === 'number') && !Number.isNaN(x) && x === y;
}

function addTo(map: Map<Side, Set<string>>, side: Side, key: string): void {
  let set = map.get(side);
  if (!set) {
    set = new Set();
    map.set(side, set);
  }
  set.add(key);
}

function conflictWinner(
  strategy: ConflictStrategy,
  sourceSide: Side,
  source: EndpointRecord,
  target: EndpointRecord,
): 'source' | 'target' | 'manual' {
  const providerIs = sourceSide === 'provider' ? 'source' : 'target';
  const localIs = sourceSide === 'local' ? 'source' : 'target';
  switch (strategy) {
    case 'provider_wins':
      return providerIs;
    case 'local_wins':
      return localIs;
    case 'manual':
      return 'manual';
    case 'newest_wins': {
      const s = Date.parse(source.updatedAt ?? '');
      const t = Date.parse(target.updatedAt ?? '');
      if (Number.isNaN(s) && Number.isNaN(t)) return providerIs;
      if (Number.isNaN(t) || s > t) return 'source';
      if (Number.isNaN(s) || t > s) return 'target';
      return providerIs; // a tie goes to the provider, the system of record for its own objects
    }
  }
}

function describeRunError(err: unknown): string {
  if (err instanceof ProviderError) return `${err.kind} error: ${err.message}`;
  return errorMessage(err);
}

/**
 * How a run-level fault ends the run: a provider that could not be reached at all through the retries is
 * "connection lost" (cancelled by the system); bad credentials, configuration and broken contracts are
 * failures no retry can fix; anything else (a provider answering 5xx, a database error) may pass.
 */
export function runHaltOf(err: unknown): RunHalt {
  if (err instanceof ProviderError && err.unreachable) {
    return { kind: 'connection_lost', message: `connection lost: ${err.message}` };
  }
  const retryable =
    !(err instanceof RunLevelError) &&
    !(err instanceof ProviderError && (err.kind === 'auth' || err.kind === 'config'));
  return { kind: 'error', message: describeRunError(err), retryable };
}

/** Hash of a source record's content as read: a parked record is attempted again when it changes. */
function sourceContentHash(record: EndpointRecord): string {
  return contentHash(record.data ?? {});
}
