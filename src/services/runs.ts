import { randomUUID } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import type { Logger } from 'pino';
import { errorMessage, NotFoundError, StateError, ValidationError } from '../domain/errors.ts';
import {
  advancesCursor,
  circuitBreakerReason,
  haltKindOf,
  massDeleteReason,
  type RunHalt,
  resolveStatus,
  retryableEnd,
} from '../domain/status.ts';
import type {
  ExecutionStatus,
  HaltKind,
  RunOptions,
  Side,
  StartedRun,
  SyncExecution,
  SyncJob,
  Trigger,
} from '../domain/types.ts';
import { RunAbort } from '../engine/abort.ts';
import type { Endpoint } from '../engine/endpoint.ts';
import type { RunStore } from '../engine/ports.ts';
import { isTransient, type RunRetryDelays, runRetryDelayMs, type TransientRetryPolicy } from '../engine/retry.ts';
import {
  type Checkpoint,
  executeRun,
  type PreviewItem,
  previewRun,
  type RunInput,
  runHaltOf,
} from '../engine/runner.ts';
import { runTelemetry } from '../engine/telemetry.ts';
import type { ExecutionRow, QueuedRunOptions, RunLauncher } from '../queue/ports.ts';
import type { EnqueueResult, SyncQueue } from '../queue/queue.ts';
import type { Database } from '../store/database.ts';
import { cancelledBeforeStart, countersOf, toExecution } from '../store/repository.ts';
import type { DB } from '../store/schema.ts';
import { ActiveRuns } from './active-runs.ts';
import { ExecutionLog } from './execution-log.ts';
import type { JobService } from './jobs.ts';
import { isUuid } from './paging.ts';

export interface RunDeps {
  database: Database;
  log: Logger;
  store: RunStore;
  jobs: JobService;
  /** The two sides of a job's runs: the provider's endpoint and the local one. */
  endpointsFor(job: SyncJob): Promise<[provider: Endpoint, local: Endpoint]>;
  /** The durable queue, opened on first use. */
  queue(): Promise<SyncQueue>;
  pageSize: number;
  retry: TransientRetryPolicy;
  runRetry: RunRetryDelays;
  cursorOverlapMs: number;
  minuteMs: number;
}

type FinishedListener = (execution: SyncExecution, job: SyncJob) => void;

/**
 * Runs: launching an execution (directly or claimed from the queue), its timeout and cancellation, the
 * run itself (src/engine/runner.ts), finishing it (status, counters, the job's cursor and lastRunAt), and
 * "retry on failure". Implements the queue's RunLauncher port.
 *
 * In order: start (runJob, startJob, insertExecution, runQueued, launch) → execute → finish → retryIfDue;
 * then cancel and trigger (Run Now through the queue).
 */
export class RunService implements RunLauncher {
  readonly database: Database;
  readonly log: Logger;
  readonly minuteMs: number;
  private readonly db: Kysely<DB>;
  private readonly store: RunStore;
  private readonly jobs: JobService;
  private readonly endpointsFor: RunDeps['endpointsFor'];
  private readonly queue: RunDeps['queue'];
  private readonly pageSize: number;
  private readonly retry: TransientRetryPolicy;
  private readonly cursorOverlapMs: number;
  private runRetry: RunRetryDelays;
  private readonly active: ActiveRuns;
  private readonly running = new Set<Promise<unknown>>();
  private readonly finishedListeners = new Set<FinishedListener>();
  private closed = false;

  constructor(deps: RunDeps) {
    this.database = deps.database;
    this.db = deps.database.db;
    this.log = deps.log;
    this.store = deps.store;
    this.jobs = deps.jobs;
    this.endpointsFor = deps.endpointsFor;
    this.queue = deps.queue;
    this.pageSize = deps.pageSize;
    this.retry = deps.retry;
    this.runRetry = deps.runRetry;
    this.cursorOverlapMs = deps.cursorOverlapMs;
    this.minuteMs = deps.minuteMs;
    this.active = new ActiveRuns(this.db);
  }

  setHeartbeatInterval(ms: number): void {
    this.active.setInterval(ms);
  }

  abortLocal(executionId: string, reason: RunAbort): boolean {
    return this.active.abort(executionId, reason);
  }

  activeExecutionIds(): string[] {
    return this.active.ids();
  }

  async runJob(jobId: string, options: RunOptions = {}): Promise<SyncExecution> {
    return (await this.startJob(jobId, options)).done;
  }

  async startJob(jobId: string, options: RunOptions = {}): Promise<StartedRun> {
    if (this.closed) throw new StateError('the engine is closed');
    const job = await this.jobs.get(jobId);
    if (job.archivedAt) throw new StateError(`sync job ${jobId} is archived`);
    const [row] = await this.insertExecutions([{ job, options: { ...options, status: 'running' } }]);
    return this.launch(job, row!, {});
  }

  /**
   * Dry run of a job (saved, or a draft): what the next run would do with up to `limit` records per leg (default 20,
   * at most 200), with field-level changes, writing nothing anywhere (see previewRun).
   */
  async preview(job: SyncJob, limit = 20): Promise<PreviewItem[]> {
    if (!Number.isInteger(limit) || limit < 1 || limit > 200) {
      throw new ValidationError([{ path: 'limit', message: 'must be an integer between 1 and 200' }]);
    }
    const [provider, local] = await this.endpointsFor(job);
    return previewRun(
      this.store,
      { pageSize: this.pageSize, retry: this.retry },
      {
        job,
        provider,
        local,
        since: job.mode === 'incremental' ? job.cursor : null,
        signal: AbortSignal.timeout(60_000),
      },
      limit,
    );
  }

  /**
   * Validates run options and inserts the executions, in one statement: `running` for a direct run, `queued`
   * for the queue. A retry copies the checkpoint and the cursor window of the attempt it resumes.
   */
  async insertExecutions(
    items: { job: SyncJob; options: QueuedRunOptions }[],
    // biome-ignore lint/suspicious/noExplicitAny: a transaction of the caller's, or the engine's database
    db: Kysely<any> = this.db,
  ): Promise<ExecutionRow[]> {
    if (items.length === 0) return [];
    const q = db as Kysely<DB>;
    const values = [];
    for (const { job, options } of items) {
      const recordKeys = options.recordKeys ?? null;
      if (
        recordKeys !== null &&
        (recordKeys.length === 0 || recordKeys.some((k) => typeof k !== 'string' || k === ''))
      ) {
        throw new ValidationError([{ path: 'recordKeys', message: 'must be a non-empty list of record ids' }]);
      }
      let resumed: { checkpoint: unknown; window_start: Date | null; started_at: Date | null } | undefined;
      if (options.resumeFrom !== undefined) {
        resumed = isUuid(options.resumeFrom)
          ? await q
              .selectFrom('sync_executions')
              .select(['checkpoint', 'window_start', 'started_at'])
              .where('id', '=', options.resumeFrom)
              .where('job_id', '=', job.id)
              .executeTakeFirst()
          : undefined;
        if (!resumed) throw new NotFoundError('execution', options.resumeFrom);
      }
      const running = options.status === 'running';
      values.push({
        id: options.id ?? randomUUID(),
        queue_job_id: options.queueJobId ?? null,
        job_id: job.id,
        trigger: options.trigger ?? 'manual',
        attempt: options.attempt ?? 1,
        status: options.status,
        record_keys: recordKeys,
        record_side: recordKeys === null ? null : (options.side ?? 'provider'),
        resumed_from: options.resumeFrom ?? null,
        apply_deletions_of: options.applyDeletionsOf ?? null,
        checkpoint: resumed?.checkpoint == null ? null : JSON.stringify(resumed.checkpoint),
        window_start: resumed ? (resumed.window_start ?? resumed.started_at) : null,
        scheduled_for: options.scheduledFor ?? null,
        started_at: running ? sql<Date>`now()` : null,
        heartbeat_at: running ? sql<Date>`now()` : null,
      });
    }
    let rows: ExecutionRow[];
    try {
      rows = await q.insertInto('sync_executions').values(values).returningAll().execute();
    } catch (err) {
      const running = items.find((i) => i.options.status === 'running');
      if ((err as { code?: string }).code === '23505' && running) {
        throw new StateError(`sync job ${running.job.id} already has a running execution`, { cause: err });
      }
      throw err;
    }
    for (const { options } of items) {
      if (options.resumeFrom === undefined) continue;
      // Deletions the earlier attempt found (tombstones of pages before its checkpoint) go on with this one.
      const row = rows[items.findIndex((i) => i.options === options)]!;
      await q
        .updateTable('run_deletions')
        .set({ execution_id: row.id })
        .where('execution_id', '=', options.resumeFrom)
        .where('status', '=', 'pending')
        .execute();
    }
    // RETURNING gives the rows in the order of VALUES.
    return rows;
  }

  /**
   * Claims a queued execution for this process and runs it. Returns null when it is no longer queued
   * (cancelled, or claimed elsewhere), and 'busy' when another whole run of the job is still running.
   */
  async runQueued(
    executionId: string,
    options: { workerId: string; queueJobId?: string; release?: AbortSignal },
  ): Promise<StartedRun | null | 'busy'> {
    if (this.closed) throw new StateError('the engine is closed');
    let row: ExecutionRow | undefined;
    try {
      row = await this.db
        .updateTable('sync_executions')
        .set({
          status: 'running',
          started_at: sql<Date>`coalesce(started_at, now())`,
          heartbeat_at: sql<Date>`now()`,
          worker_id: options.workerId,
          queue_job_id: options.queueJobId ?? null,
        })
        .where('id', '=', executionId)
        .where('status', '=', 'queued')
        .returningAll()
        .executeTakeFirst();
    } catch (err) {
      if ((err as { code?: string }).code === '23505') return 'busy';
      throw err;
    }
    if (!row) return null;
    const job = await this.jobs.get(row.job_id);
    return this.launch(job, row, options.release ? { release: options.release } : {});
  }

  private launch(job: SyncJob, row: ExecutionRow, options: { release?: AbortSignal }): StartedRun {
    const controller = this.active.add(row.id);
    const timeoutMs = job.timeoutMinutes * this.minuteMs;
    const timer = setTimeout(
      () => controller.abort(new RunAbort('timed_out', `timed out after ${job.timeoutMinutes} min`)),
      timeoutMs,
    );
    timer.unref();
    const done = this.execute(job, row, controller, options.release).finally(() => {
      clearTimeout(timer);
      this.active.delete(row.id);
    });
    this.running.add(done);
    done.finally(() => this.running.delete(done)).catch(() => {});
    return { execution: toExecution(row), done };
  }

  private async execute(
    job: SyncJob,
    row: ExecutionRow,
    controller: AbortController,
    release: AbortSignal | undefined,
  ): Promise<SyncExecution> {
    const recordKeys = row.record_keys;
    const side = (row.record_side ?? 'provider') as Side;
    // A run that applies held deletions reads no stream: it is not a whole run (the cursor stays).
    const applyDeletionsOf = row.apply_deletions_of;
    const whole = recordKeys === null && applyDeletionsOf === null;
    const log = this.log.child({ executionId: row.id, jobId: job.id, connectionId: job.connectionId });
    log.info(
      { trigger: row.trigger, attempt: row.attempt, entityType: job.entityType, direction: job.direction },
      'run started',
    );
    const runLog = new ExecutionLog(this.db, row.id, log);
    const resumeAt = row.checkpoint as Checkpoint | null;
    // Only an execution that already ran (released, resumed) has entries to count against the cap.
    if (resumeAt) await runLog.init();
    if (resumeAt && row.resumed_from === null) {
      runLog.add(
        'info',
        'resumed',
        `resumed at its checkpoint (${resumeAt.leg} leg) by worker ${row.worker_id ?? 'in this process'}`,
        {
          leg: resumeAt.leg,
          workerId: row.worker_id,
        },
      );
    } else {
      runLog.add(
        'info',
        'start',
        `${row.trigger} run started, attempt ${row.attempt}` +
          (recordKeys ? `, ${recordKeys.length} record(s) from the ${side} side` : '') +
          (applyDeletionsOf ? `, applying the deletions held by execution ${applyDeletionsOf}` : '') +
          (whole && job.mode === 'incremental'
            ? `, changes since ${job.cursor?.toISOString() ?? 'the beginning'}`
            : ''),
        {
          trigger: row.trigger,
          attempt: row.attempt,
          mode: job.mode,
          direction: job.direction,
          cursor: whole && job.mode === 'incremental' ? (job.cursor?.toISOString() ?? null) : null,
          ...(resumeAt ? { resumeFrom: row.resumed_from, checkpointLeg: resumeAt.leg } : {}),
          ...(recordKeys ? { recordKeys: recordKeys.slice(0, 20), recordSide: side } : {}),
        },
      );
    }
    let outcome: Awaited<ReturnType<typeof executeRun>>;
    const initial = countersOf(row);
    let endpoints: [Endpoint, Endpoint] | undefined;
    try {
      endpoints = await this.endpointsFor(job);
    } catch (err) {
      // The run could not even start: credentials that do not open, an unregistered provider, no local store,
      // an unknown table. A transient provider fault while connecting may pass; nothing else will by itself.
      const halt = runHaltOf(err);
      outcome = {
        counters: initial,
        halt: halt.kind === 'error' && !isTransient(err) ? { ...halt, retryable: false } : halt,
      };
    }
    if (endpoints) {
      const [provider, local] = endpoints;
      outcome = await runTelemetry.run(runLog, () =>
        executeRun(
          this.store,
          { pageSize: this.pageSize, retry: this.retry },
          {
            job,
            executionId: row.id,
            provider,
            local,
            since: whole && job.mode === 'incremental' ? job.cursor : null,
            records: recordKeys === null ? null : { side, keys: recordKeys },
            ...(applyDeletionsOf ? { applyDeletionsOf } : {}),
            resumeFrom: (row.checkpoint as Checkpoint | null) ?? null,
            initialCounters: initial,
            initialDirections: row.direction_counters as RunInput['initialDirections'],
            signal: controller.signal,
            log: runLog,
            ...(release ? { release } : {}),
          },
        ),
      );
    }
    outcome ??= { counters: initial, halt: null };
    const status = resolveStatus(outcome.counters, outcome.halt);
    const halt = outcome.halt;
    if (status === 'queued') {
      runLog.add('info', 'released', 'released by a stopping worker at its checkpoint; back in the queue', {});
      await runLog.flush(true);
      // Released by a stopping worker at a checkpoint: back to the queue, counters and checkpoint kept.
      const back = await this.db
        .updateTable('sync_executions')
        .set({ status: 'queued', worker_id: null, queue_job_id: null })
        .where('id', '=', row.id)
        .returningAll()
        .executeTakeFirstOrThrow();
      return toExecution(back);
    }
    const haltReason = this.haltReason(job, halt, controller.signal.reason);
    if (halt && haltReason) {
      const kind = halt.kind === 'circuit_breaker' ? 'circuit_breaker' : (haltKindOf(halt) ?? halt.kind);
      runLog.add(halt.kind === 'mass_delete' ? 'warn' : 'error', kind, haltReason, {
        haltKind: haltKindOf(halt),
        ...(halt.kind === 'circuit_breaker' ? { judged: halt.judged } : {}),
      });
    }
    const timing = {
      readMs: outcome.timing?.readMs ?? 0,
      writeMs: outcome.timing?.writeMs ?? 0,
      rateLimitWaitMs: runLog.waits.rateLimitWaitMs,
      retryWaitMs: runLog.waits.retryWaitMs,
    };
    const c = outcome.counters;
    runLog.add(
      status === 'completed' ? 'info' : status === 'completed_with_errors' ? 'warn' : 'error',
      'finished',
      `${status}: processed ${c.processed}, created ${c.created}, updated ${c.updated}, deleted ${c.deleted}, ` +
        `skipped ${c.skipped}, failed ${c.failed}; read ${timing.readMs} ms, wrote ${timing.writeMs} ms, ` +
        `rate limits ${timing.rateLimitWaitMs} ms, retries ${timing.retryWaitMs} ms`,
      { status, counters: c, timing },
    );
    await runLog.flush(true);
    const done = await this.finish(job, row.id, status, haltReason, whole, haltKindOf(halt), timing);
    log[status === 'completed' ? 'info' : 'warn'](
      {
        status: done.status,
        processed: done.processed,
        created: done.created,
        updated: done.updated,
        deleted: done.deleted,
        skipped: done.skipped,
        failed: done.failed,
        conflicts: done.conflicts,
        durationSeconds: done.durationSeconds,
        haltReason: done.haltReason,
        fastPages: outcome.fastPages ?? 0,
      },
      'run finished',
    );
    await this.retryIfDue(done).catch((err: unknown) =>
      log.error({ err: errorMessage(err) }, 'retry of a failed run not queued'),
    );
    return done;
  }

  private haltReason(job: SyncJob, halt: RunHalt | null, abortReason: unknown): string | null {
    if (halt === null) return null;
    switch (halt.kind) {
      case 'circuit_breaker':
        return circuitBreakerReason(halt.judged);
      case 'error':
        return halt.retryable || !job.retryOnFailure
          ? halt.message
          : `${halt.message} (not retried: a configuration problem; fix it, then run the job again)`;
      case 'connection_lost':
        return halt.message;
      case 'mass_delete':
        return massDeleteReason(halt.held, halt.live, halt.thresholdPercent);
      default:
        if (abortReason instanceof RunAbort) return abortReason.message;
        return halt.kind === 'cancelled' ? 'cancelled by request' : halt.kind;
    }
  }

  /** Backoff of whole-run retries; workers started with their own delays set it for this process. */
  setRunRetryDelays(delays: { baseDelayMs?: number; maxDelayMs?: number }): void {
    this.runRetry = { ...this.runRetry, ...delays };
  }

  /**
   * "Retry on failure", whoever ran the execution (a worker, `runJob`, the CLI, a webhook or a dead letter
   * retry): a `failed` or `timed_out` run, or one cancelled because the connection was lost, gets a new
   * execution through the durable queue (trigger `retry`, attempt + 1, up to the job's max retries) after an
   * exponential backoff with jitter, resuming whole runs from their last checkpoint. Runs that failed for a
   * configuration reason are not retried, nor are runs of a disabled job, `completed_with_errors` runs
   * (their failed records are in the retry set) and runs a person cancelled. Returns the queued retry.
   */
  async retryIfDue(execution: SyncExecution): Promise<SyncExecution | null> {
    if (!retryableEnd(execution.status, execution.haltKind)) return null;
    const job = await this.jobs.get(execution.jobId).catch(() => null);
    if (!job?.retryOnFailure || !job.enabled || job.archivedAt || execution.attempt > job.maxRetries) return null;
    const delayMs = runRetryDelayMs(this.runRetry, execution.attempt);
    this.log.info(
      { executionId: execution.id, jobId: job.id, attempt: execution.attempt + 1, delayMs },
      'retry queued',
    );
    const { execution: next } = await (await this.queue()).enqueue(job, {
      trigger: 'retry',
      attempt: execution.attempt + 1,
      resumeFrom: execution.id,
      delayMs,
      ...(execution.recordKeys !== null
        ? { recordKeys: execution.recordKeys, side: execution.recordSide ?? 'provider' }
        : {}),
    });
    return next;
  }

  /**
   * Final status, completedAt, durationSeconds; for whole runs the job's lastRunAt, nextRunAt and (on
   * success) its cursor: the start of the run (of its first attempt), reaching back by the overlap.
   * Only an execution still `running` is finished, so a reaper and a late worker cannot both finish it.
   */
  async finish(
    job: SyncJob,
    executionId: string,
    status: ExecutionStatus,
    haltReason: string | null,
    whole: boolean,
    haltKind: HaltKind | null = null,
    timing?: { readMs: number; writeMs: number; rateLimitWaitMs: number; retryWaitMs: number },
  ): Promise<SyncExecution> {
    let finished = false;
    const execution = await this.db.transaction().execute(async (trx) => {
      const row = await trx
        .updateTable('sync_executions')
        .set({
          status,
          halt_reason: haltReason,
          halt_kind: haltKind,
          ...(timing
            ? {
                read_ms: sql<number>`coalesce(read_ms, 0) + ${timing.readMs}`,
                write_ms: sql<number>`coalesce(write_ms, 0) + ${timing.writeMs}`,
                rate_limit_wait_ms: sql<number>`coalesce(rate_limit_wait_ms, 0) + ${timing.rateLimitWaitMs}`,
                retry_wait_ms: sql<number>`coalesce(retry_wait_ms, 0) + ${timing.retryWaitMs}`,
              }
            : {}),
          completed_at: sql<Date>`now()`,
          duration_seconds: sql<number>`round(extract(epoch from now() - started_at)::numeric, 3)`,
        })
        .where('id', '=', executionId)
        .where('status', '=', 'running')
        .returningAll()
        .executeTakeFirst();
      if (!row) {
        return toExecution(
          await trx.selectFrom('sync_executions').selectAll().where('id', '=', executionId).executeTakeFirstOrThrow(),
        );
      }
      // What the run noted for deletions is done with; staged deletions of a run that did not finish its work stay
      // for the attempt that resumes it (held ones wait for a person).
      // (Only jobs that propagate deletions note anything: the others' runs skip these statements.)
      if (job.deletePolicy !== 'ignore') {
        await trx.deleteFrom('run_seen').where('execution_id', '=', executionId).execute();
      }
      if (job.deletePolicy !== 'ignore' && (status === 'completed' || status === 'completed_with_errors')) {
        await trx
          .deleteFrom('run_deletions')
          .where('execution_id', '=', executionId)
          .where('status', '=', 'pending')
          .execute();
      }
      if (whole) {
        const overlap = this.cursorOverlapMs;
        const windowStart = row.window_start ?? row.started_at!;
        await trx
          .updateTable('sync_jobs')
          .set({
            last_run_at: row.started_at!,
            ...(job.schedule.type === 'cron' ? {} : { next_run_at: null }),
            ...(advancesCursor(status) ? { cursor: new Date(windowStart.getTime() - overlap) } : {}),
          })
          .where('id', '=', job.id)
          .execute();
      }
      finished = true;
      return toExecution(row);
    });
    if (finished) this.notifyFinished(execution, job);
    return execution;
  }

  private notifyFinished(execution: SyncExecution, job: SyncJob): void {
    for (const listener of this.finishedListeners) {
      try {
        listener(execution, job);
      } catch (err) {
        this.log.error({ err: errorMessage(err) }, 'execution listener failed');
      }
    }
  }

  /**
   * An execution a reaper ended (its worker stopped sending heartbeats, or it ran past its timeout without
   * stopping): its run log says so, and the finished-run listeners (metrics, alerts) hear of it like any other end.
   */
  async reaped(execution: SyncExecution): Promise<void> {
    const runLog = new ExecutionLog(this.db, execution.id, this.log);
    runLog.add('error', execution.haltKind ?? 'worker_lost', execution.haltReason ?? 'ended by the reaper', {
      haltKind: execution.haltKind,
    });
    await runLog.flush(true);
    const job = await this.jobs.get(execution.jobId).catch(() => null);
    if (job) this.notifyFinished(execution, job);
  }

  onExecutionFinished(listener: (execution: SyncExecution, job: SyncJob) => void): () => void {
    this.finishedListeners.add(listener);
    return () => this.finishedListeners.delete(listener);
  }

  async cancel(executionId: string): Promise<SyncExecution> {
    if (!isUuid(executionId)) throw new NotFoundError('execution', executionId);
    // A queued execution is cancelled on the spot; a running one is asked to stop, which its worker
    // (in any process) notices at the next page or heartbeat.
    const queued = await this.db
      .updateTable('sync_executions')
      .set(cancelledBeforeStart('cancelled before it started'))
      .where('id', '=', executionId)
      .where('status', '=', 'queued')
      .returningAll()
      .executeTakeFirst();
    if (queued) {
      if (queued.queue_job_id) {
        await (await this.queue()).withdraw(queued.queue_job_id, queued.record_keys !== null).catch((err: unknown) =>
          // A worker that claims it later finds the execution cancelled and drops it.
          this.log.warn({ executionId, err: errorMessage(err) }, 'queue job of a cancelled execution not withdrawn'),
        );
      }
      return toExecution(queued);
    }
    const row = await this.db
      .updateTable('sync_executions')
      .set({ cancel_requested_at: sql<Date>`coalesce(cancel_requested_at, now())` })
      .where('id', '=', executionId)
      .returningAll()
      .executeTakeFirst();
    if (!row) throw new NotFoundError('execution', executionId);
    this.active.abort(executionId, new RunAbort('cancelled', 'cancelled by request'));
    return toExecution(row);
  }

  async trigger(jobId: string, options: { trigger?: Trigger } = {}): Promise<EnqueueResult> {
    const job = await this.jobs.get(jobId);
    const trigger = options.trigger ?? 'manual';
    if (job.archivedAt) throw new StateError(`sync job ${jobId} is archived`);
    // Disabling a job stops its scheduled and webhook runs; a manual run is an explicit act and still runs.
    if (!job.enabled && trigger !== 'manual') throw new StateError(`sync job ${jobId} is disabled`);
    return (await this.queue()).enqueue(job, { trigger });
  }

  /** Stops taking runs, aborts this process's runs and waits for them to record their end. */
  async close(): Promise<void> {
    this.closed = true;
    this.active.stop();
    this.active.abortAll(new RunAbort('cancelled', 'engine closed'));
    await Promise.allSettled([...this.running]);
  }
}
