import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { sql } from 'kysely';
import type { Job } from 'pg-boss';
import { nextRunAt } from '../domain/cron.ts';
import type { SyncExecution } from '../domain/types.ts';
import { RunAbort } from '../engine/abort.ts';
import { loadRules, toExecution, toJob } from '../store/repository.ts';
import { type PruneResult, pruneHistory, type RetentionPolicy, retentionFromEnv } from '../store/retention.ts';
import type { AlertDeliverer, AlertMessage, RunLauncher } from './ports.ts';
import { ALERT_QUEUE, RECORD_QUEUE, RUN_QUEUE, type RunMessage, type SyncQueue } from './queue.ts';

/** Due schedules claimed per transaction (see SyncWorker.schedule). */
const SCHEDULE_BATCH = 100;

export interface WorkerOptions {
  /** Runs at a time in this process. Default: 2. */
  concurrency?: number;
  /** Name of this worker in execution rows. Default: `<host>:<pid>:<random>`. */
  workerId?: string;
  /** How often this worker renews the lease (heartbeat) of its running executions. Default: 5 s. */
  heartbeatSeconds?: number;
  /** A running execution whose heartbeat is older than this is `failed` with reason `worker lost`. Default: 30 s. */
  leaseSeconds?: number;
  /** How often due cron schedules are claimed. Default: 0.5 s (a fire waits at most this long to be queued). */
  schedulerIntervalMs?: number;
  /** How often lost executions are looked for. Default: 5 s. */
  reaperIntervalMs?: number;
  /**
   * Backoff of execution retries ("retry on failure") in this process: first delay, doubled per attempt, with
   * jitter. Default: the engine's `runRetry` (30 s, capped at 30 min). Retries are queued by whoever finishes
   * the failed run (this worker, or `runJob` anywhere), so these set the engine's delays.
   */
  retryBaseDelayMs?: number;
  retryMaxDelayMs?: number;
  /** Run the scheduler, the reaper and the history pruner in this worker. Default: true. */
  maintenance?: boolean;
  /**
   * How history is pruned (see pruneHistory): `days` (default $OTESSE_SYNC_RETENTION_DAYS or 30), `keepPerJob`
   * (50), `batchSize` (500); `false` turns pruning off in this worker.
   */
  retention?: Partial<RetentionPolicy> | false;
  /** How often this worker tries to prune (one worker at a time prunes). Default: 10 min. */
  pruneIntervalMs?: number;
}

/**
 * A worker: claims queued runs (pg-boss), keeps a heartbeat on each, retries failed runs with backoff,
 * fires due cron schedules once per fire time, and fails executions whose worker died. Any number of
 * workers, in any number of processes, can share one PostgreSQL.
 */
export class SyncWorker {
  readonly id: string;
  private readonly opts: Required<
    Omit<WorkerOptions, 'workerId' | 'retryBaseDelayMs' | 'retryMaxDelayMs' | 'retention'>
  >;
  private readonly retention: RetentionPolicy | null;
  private readonly releaseController = new AbortController();
  private timers: NodeJS.Timeout[] = [];
  private stopped = false;
  private ticking = new Set<Promise<unknown>>();

  private readonly runs: RunLauncher;
  private readonly queue: SyncQueue;
  private readonly alerts: AlertDeliverer | null;

  /** With `alerts`, the worker also delivers queued alerts to notification channels. */
  constructor(runs: RunLauncher, queue: SyncQueue, options: WorkerOptions = {}, alerts?: AlertDeliverer) {
    this.runs = runs;
    this.queue = queue;
    this.alerts = alerts ?? null;
    this.id = options.workerId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    this.opts = {
      concurrency: options.concurrency ?? 2,
      heartbeatSeconds: options.heartbeatSeconds ?? 5,
      leaseSeconds: options.leaseSeconds ?? 30,
      schedulerIntervalMs: options.schedulerIntervalMs ?? 500,
      reaperIntervalMs: options.reaperIntervalMs ?? 5000,
      maintenance: options.maintenance ?? true,
      pruneIntervalMs: options.pruneIntervalMs ?? 10 * 60_000,
    };
    this.retention = options.retention === false ? null : { ...retentionFromEnv(), ...options.retention };
    runs.setRunRetryDelays({
      ...(options.retryBaseDelayMs !== undefined ? { baseDelayMs: options.retryBaseDelayMs } : {}),
      ...(options.retryMaxDelayMs !== undefined ? { maxDelayMs: options.retryMaxDelayMs } : {}),
    });
  }

  private get db() {
    return this.runs.database.db;
  }

  async start(): Promise<this> {
    const poll = this.queue.options.pollingIntervalSeconds;
    // NOTIFY wakes workers for new jobs at once; a delayed job (retry backoff) is found by polling, so the
    // polling backstop stays short even with NOTIFY.
    const work = {
      localConcurrency: this.opts.concurrency,
      pollingIntervalSeconds: poll,
      notifyPollingIntervalSeconds: poll,
      // A slot that just finished a run fetches the next one at once while the queue has more than one run
      // ready (pg-boss's cached count, refreshed every few seconds; an empty fetch goes back to polling).
      // Without it each slot waited out the polling interval between two runs of a backlog that no NOTIFY
      // announced again.
      burstWhenReadyExceeds: 1,
    };
    await this.queue.boss.work<RunMessage>(RUN_QUEUE, work, (jobs) => this.handle(jobs));
    await this.queue.boss.work<RunMessage>(RECORD_QUEUE, work, (jobs) => this.handle(jobs));
    const alerts = this.alerts;
    if (alerts) {
      // A delivery that throws is retried by pg-boss with the backoff its message was sent with.
      // One slot: alert deliveries are few and short.
      await this.queue.boss.work<AlertMessage>(ALERT_QUEUE, { ...work, localConcurrency: 1 }, async (jobs) => {
        for (const job of jobs) {
          const number = job.retryCount + 1;
          await alerts.deliver(job.data, { number, final: job.retryCount >= job.data.retryLimit });
        }
      });
    }
    this.runs.setHeartbeatInterval(this.opts.heartbeatSeconds * 1000);
    if (this.opts.maintenance) {
      this.every(this.opts.schedulerIntervalMs, () => this.schedule());
      this.every(this.opts.reaperIntervalMs, () => this.reap());
      if (this.retention) this.every(this.opts.pruneIntervalMs, () => this.prune());
    }
    return this;
  }

  /** Prunes old history, unless another worker is at it (see pruneHistory). */
  async prune(): Promise<PruneResult> {
    const result = await pruneHistory(this.runs.database.db, this.id, this.retention ?? retentionFromEnv());
    if (result.executions + result.webhookEvents + result.deadLetters + result.conflicts > 0) {
      this.runs.log.info({ workerId: this.id, ...result }, 'history pruned');
    }
    return result;
  }

  /** Runs `fn` every `ms`, never overlapping itself; errors are kept from crashing the process. */
  private every(ms: number, fn: () => Promise<unknown>): void {
    let busy = false;
    const timer = setInterval(() => {
      if (busy || this.stopped) return;
      busy = true;
      const p = fn()
        .catch(() => {})
        .finally(() => {
          busy = false;
          this.ticking.delete(p);
        });
      this.ticking.add(p);
    }, ms);
    this.timers.push(timer);
  }

  private async handle(jobs: Job<RunMessage>[]): Promise<void> {
    for (const job of jobs) {
      const started = await this.runs.runQueued(job.data.executionId, {
        workerId: this.id,
        queueJobId: job.id,
        release: this.releaseController.signal,
      });
      if (started === null) continue; // cancelled while queued, or already finished elsewhere
      if (started === 'busy') {
        // Another whole run of this job is still running (e.g. started directly): try again shortly.
        throw new Error('sync job busy: another run is in progress');
      }
      const final = await started.done;
      if (final.status === 'queued') {
        this.runs.log.info(
          { executionId: final.id, jobId: final.jobId, workerId: this.id },
          'run released at a checkpoint',
        );
        // Released at a checkpoint by this worker's shutdown: failing the queue job hands it to
        // pg-boss's retry, and the next worker resumes the same execution.
        throw new Error('released by a stopping worker');
      }
      // A failed run's retry was queued by the engine as it finished the run (whoever runs a job).
    }
  }

  /** See SyncEngine.retryIfDue: a failed run's retry, if the job's policy gives it one. */
  retryIfDue(execution: SyncExecution): Promise<SyncExecution | null> {
    return this.runs.retryIfDue(execution);
  }

  /**
   * Claims due cron schedules. The row lock and the move of `next_run_at` happen in the transaction that
   * queues the run, so each fire time is claimed by one worker only; after downtime, the missed fire times
   * give one catch-up run and `next_run_at` jumps to the next time after now.
   *
   * Everything due is claimed in one tick, in batches of `SCHEDULE_BATCH` (one transaction each, so a batch's
   * locks are short and another worker's scheduler takes the next batch with SKIP LOCKED): a fleet whose fires
   * outnumber one batch per tick would otherwise fall behind a little more every minute. Per batch, the jobs,
   * their rules, the new fire times, the queue jobs and the executions are one statement each.
   */
  async schedule(now = new Date()): Promise<number> {
    let total = 0;
    for (;;) {
      const claimed = await this.db.transaction().execute(async (trx) => {
        const due = await trx
          .selectFrom('sync_jobs')
          .selectAll()
          .where('enabled', '=', true)
          .where('schedule_cron', 'is not', null)
          .where('archived_at', 'is', null)
          .where('next_run_at', '<=', now)
          .orderBy('next_run_at')
          .limit(SCHEDULE_BATCH)
          .forUpdate()
          .skipLocked()
          .execute();
        if (due.length === 0) return 0;
        const next = due.map((d) => nextRunAt(d.schedule_cron!, d.schedule_timezone ?? 'UTC', now));
        await sql`
          UPDATE sync_jobs j SET next_run_at = n.next_run_at
          FROM unnest(${due.map((d) => d.id)}::uuid[], ${next}::timestamptz[]) AS n(id, next_run_at)
          WHERE j.id = n.id`.execute(trx);
        // Read through the transaction: on PGlite (one connection) anything else would wait for it.
        const rules = await loadRules(
          trx,
          due.map((d) => d.id),
        );
        await this.queue.enqueueMany(
          due.map((d) => ({
            job: toJob(d, rules.get(d.id) ?? []),
            options: { trigger: 'scheduled', scheduledFor: d.next_run_at! },
          })),
          trx,
        );
        return due.length;
      });
      total += claimed;
      if (claimed < SCHEDULE_BATCH || this.stopped) return total;
    }
  }

  /**
   * Fails executions whose worker stopped renewing its lease (crash, SIGKILL, lost network) with reason
   * `worker lost`, frees their queue jobs, and retries them from their last checkpoint when the job's
   * policy allows. Also ends runs that outlived their timeout without noticing (a hung worker).
   */
  async reap(): Promise<SyncExecution[]> {
    const lease = this.opts.leaseSeconds;
    const minuteMs = this.runs.minuteMs;
    const { rows } = await sql<{
      id: string;
      queue_job_id: string | null;
      record_keys: string[] | null;
      timed: boolean;
    }>`
      UPDATE sync_executions e SET
        status = CASE WHEN e.heartbeat_at >= now() - make_interval(secs => ${lease}) THEN 'timed_out' ELSE 'failed' END,
        halt_kind = CASE WHEN e.heartbeat_at >= now() - make_interval(secs => ${lease}) THEN 'timed_out' ELSE 'worker_lost' END,
        halt_reason = CASE WHEN e.heartbeat_at >= now() - make_interval(secs => ${lease})
          THEN 'timed out (the run did not stop by itself)'
          ELSE 'worker lost: no heartbeat from ' || coalesce(e.worker_id, 'its worker') || ' for ' || ${lease} || ' s' END,
        completed_at = now(),
        duration_seconds = round(extract(epoch from now() - e.started_at)::numeric, 3)
      FROM sync_jobs j
      WHERE j.id = e.job_id AND e.status = 'running'
        AND (e.heartbeat_at < now() - make_interval(secs => ${lease})
             OR e.started_at < now() - make_interval(secs => (j.timeout_minutes * ${minuteMs} / 1000.0 + ${lease})::float8))
      RETURNING e.id, e.queue_job_id, e.record_keys, e.status = 'timed_out' AS timed`.execute(this.db);
    const out: SyncExecution[] = [];
    for (const r of rows) {
      if (r.queue_job_id) {
        const queue = r.record_keys === null ? RUN_QUEUE : RECORD_QUEUE;
        await this.queue.boss.fail(queue, r.queue_job_id, { reason: 'worker lost' }).catch(() => {});
      }
      const execution = toExecution(
        await this.db.selectFrom('sync_executions').selectAll().where('id', '=', r.id).executeTakeFirstOrThrow(),
      );
      if (r.record_keys === null) {
        await this.db
          .updateTable('sync_jobs')
          .set({ last_run_at: execution.startedAt })
          .where('id', '=', execution.jobId)
          .execute();
      }
      this.runs.log.warn(
        {
          executionId: execution.id,
          jobId: execution.jobId,
          status: execution.status,
          haltReason: execution.haltReason,
        },
        'run reaped',
      );
      out.push(execution);
      await this.runs
        .reaped(execution)
        .catch((err: unknown) =>
          this.runs.log.error({ executionId: execution.id, err: (err as Error).message }, 'reaped run not reported'),
        );
      await this.runs.retryIfDue(execution);
    }
    return out;
  }

  /**
   * Graceful stop: claim nothing more; running executions finish the page in hand and go back to the
   * queue at their checkpoint (another worker resumes them). After `graceMs` they are aborted.
   */
  async stop(graceMs = 30_000): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.releaseController.abort();
    const hard = setTimeout(() => {
      for (const id of this.runs.activeExecutionIds()) {
        this.runs.abortLocal(id, new RunAbort('released', 'worker stopped before the run reached a checkpoint'));
      }
    }, graceMs);
    hard.unref();
    await Promise.all([
      this.queue.boss.offWork(RUN_QUEUE, { wait: true }),
      this.queue.boss.offWork(RECORD_QUEUE, { wait: true }),
      ...(this.alerts ? [this.queue.boss.offWork(ALERT_QUEUE, { wait: true })] : []),
    ]);
    await Promise.allSettled([...this.ticking]);
    clearTimeout(hard);
  }
}
