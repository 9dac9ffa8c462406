import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { fromKysely, fromPglite, PgBoss } from 'pg-boss';
import type { Side, SyncExecution, SyncJob, Trigger } from '../domain/types.ts';
import { toExecution } from '../store/repository.ts';
import type { DB } from '../store/schema.ts';
import type { AlertMessage, ExecutionRow, RunLauncher } from './ports.ts';

/** Whole runs: at most one queued and one active per sync job (pg-boss `stately`, keyed by job id). */
export const RUN_QUEUE = 'otesse-sync-run';
/** Single-record runs (webhooks): one queued per (job, record) so bursts coalesce; any number active. */
export const RECORD_QUEUE = 'otesse-sync-record';
/** Alert deliveries to notification channels: retried with exponential backoff (each message says how often). */
export const ALERT_QUEUE = 'otesse-sync-alert';

/** Backoff of alert deliveries: pg-boss waits about delay × 2^n (with jitter, capped) before retry n. */
export interface AlertRetryOptions {
  /** Retries after the first attempt. */
  limit: number;
  /** Seconds before the first retry (whole seconds, at least 1). */
  delaySeconds: number;
  /** Longest wait between two attempts, in seconds. */
  maxDelaySeconds: number;
}

export interface RunMessage {
  executionId: string;
}

export interface EnqueueOptions {
  trigger?: Trigger;
  attempt?: number;
  /** The attempt this one resumes from its checkpoint (retries). */
  resumeFrom?: string;
  /** Single-record run. */
  recordKeys?: string[];
  side?: Side;
  /** The cron fire time a scheduled run serves. */
  scheduledFor?: Date;
  /** Start no earlier than this many milliseconds from now (retry backoff). */
  delayMs?: number;
}

export interface EnqueueResult {
  execution: SyncExecution;
  /** True when an equivalent run was already queued: this trigger joined it instead of adding another. */
  coalesced: boolean;
}

export interface QueueOptions {
  /**
   * How often each idle run slot of a worker polls for work. Default: 0.5 s. On PostgreSQL, LISTEN/NOTIFY wakes
   * idle slots the moment runs are queued; polling is what a slot does after finishing a run while more are
   * waiting, and how delayed retries are found, so it bounds how long a queued run waits for a free slot
   * (at 2 s, the slowest 5% of a 2,000-job fleet's fires started 3 s late).
   */
  pollingIntervalSeconds?: number;
}

/**
 * The durable queue: pg-boss on the engine's own database. An execution row (status `queued`) and its
 * queue job are written in one transaction, so a trigger is never half-recorded.
 */
export class SyncQueue {
  readonly boss: PgBoss;
  readonly options: Required<QueueOptions>;
  private readonly runs: RunLauncher;

  private constructor(boss: PgBoss, runs: RunLauncher, options: Required<QueueOptions>) {
    this.boss = boss;
    this.runs = runs;
    this.options = options;
  }

  static async open(runs: RunLauncher, options: QueueOptions = {}): Promise<SyncQueue> {
    const database = runs.database;
    const schema = `${database.schema}_queue`;
    const common = {
      schema,
      // Our own scheduler owns cron (nextRunAt on the job); pg-boss keeps expiry and retention.
      schedule: false,
      superviseIntervalSeconds: 5,
      monitorIntervalSeconds: 5,
      instanceHeartbeatSeconds: 10,
      // How fresh the ready counts are that let a worker's slots fetch back to back through a backlog.
      queueCacheIntervalSeconds: 5,
      openTelemetry: { enabled: false },
    } as const;
    const boss =
      database.kind === 'pglite'
        ? new PgBoss({ ...common, db: fromPglite(database.pglite!), backend: 'pglite' })
        : new PgBoss({
            ...common,
            connectionString: database.url!,
            max: 4,
            useListenNotify: true,
          });
    // pg-boss reports background faults (lost connection, maintenance errors) as events: log, never crash.
    boss.on('error', (err: unknown) => runs.log.error({ err }, 'queue error'));
    boss.on('warning', (warning: unknown) => runs.log.warn({ warning }, 'queue warning'));
    await boss.start();
    const notify = database.kind === 'postgres';
    // A finished queue job is deleted an hour after it completes (pg-boss's default keeps it 7 days): the
    // execution row is the run's record, and nothing reads finished queue jobs. At 2,000 runs a minute the
    // default kept about 20 million rows.
    const kept = { deleteAfterSeconds: 3600, notify };
    await ensureQueue(boss, RUN_QUEUE, { policy: 'stately', retryLimit: 100, retryDelay: 1, ...kept });
    await ensureQueue(boss, RECORD_QUEUE, { policy: 'short', retryLimit: 100, retryDelay: 1, ...kept });
    await ensureQueue(boss, ALERT_QUEUE, { policy: 'standard', retryLimit: 8, retryDelay: 10, ...kept });
    return new SyncQueue(boss, runs, { pollingIntervalSeconds: options.pollingIntervalSeconds ?? 0.5 });
  }

  /**
   * Queues a run of `job`. In one transaction: the queue job, then the `queued` execution. If the queue
   * already holds a run for this job (or this record), the trigger is coalesced into it.
   */
  async enqueue(job: SyncJob, options: EnqueueOptions = {}, trx?: Kysely<DB>): Promise<EnqueueResult> {
    return (await this.enqueueMany([{ job, options }], trx))[0]!;
  }

  /**
   * Queues many runs at once (a scheduler batch, a webhook's fan-out to the jobs that read the record), in one
   * transaction (`trx` when given): one statement for the queue jobs of each queue, one for the executions.
   * Each trigger that finds an equivalent run already queued is coalesced into it, as in `enqueue`.
   */
  async enqueueMany(items: { job: SyncJob; options?: EnqueueOptions }[], trx?: Kysely<DB>): Promise<EnqueueResult[]> {
    if (items.length === 0) return [];
    const planned = items.map(({ job, options = {} }) => {
      const single = options.recordKeys !== undefined;
      return {
        job,
        options,
        queue: single ? RECORD_QUEUE : RUN_QUEUE,
        executionId: randomUUID(),
        queueJobId: randomUUID(),
        key: single ? `${job.id}:${options.side ?? 'provider'}:${options.recordKeys!.join(',')}` : job.id,
      };
    });
    const work = async (tx: Kysely<DB>): Promise<EnqueueResult[]> => {
      const inserted = new Set<string>();
      for (const queue of [RUN_QUEUE, RECORD_QUEUE]) {
        const batch = planned.filter((p) => p.queue === queue);
        if (batch.length === 0) continue;
        const ids = await this.boss.insert(
          queue,
          batch.map((p) => ({
            id: p.queueJobId,
            data: { executionId: p.executionId } satisfies RunMessage,
            singletonKey: p.key,
            expireInSeconds: Math.ceil((p.job.timeoutMinutes * this.runs.minuteMs) / 1000) + 300,
            ...(p.options.delayMs ? { startAfter: new Date(Date.now() + p.options.delayMs).toISOString() } : {}),
          })),
          { db: fromKysely(tx), returnId: true },
        );
        for (const id of ids ?? []) inserted.add(id);
      }
      // A trigger whose queue job was not inserted found its slot taken: an equivalent run is queued already.
      const fresh = planned.filter((p) => inserted.has(p.queueJobId));
      const rows = await this.runs.insertExecutions(
        fresh.map(({ job, options: o, executionId, queueJobId }) => ({
          job,
          options: {
            status: 'queued',
            id: executionId,
            queueJobId,
            ...(o.trigger ? { trigger: o.trigger } : {}),
            ...(o.attempt ? { attempt: o.attempt } : {}),
            ...(o.resumeFrom ? { resumeFrom: o.resumeFrom } : {}),
            ...(o.recordKeys ? { recordKeys: o.recordKeys } : {}),
            ...(o.side ? { side: o.side } : {}),
            ...(o.scheduledFor ? { scheduledFor: o.scheduledFor } : {}),
          },
        })),
        tx,
      );
      const byId = new Map(rows.map((r) => [r.id, r]));
      const coalesced = planned.filter((p) => !inserted.has(p.queueJobId));
      const waiting = new Map<string, ExecutionRow>();
      if (coalesced.length > 0) {
        const found = await tx
          .selectFrom('sync_executions')
          .selectAll()
          .where(
            'job_id',
            'in',
            coalesced.map((p) => p.job.id),
          )
          .where('status', '=', 'queued')
          .orderBy('created_at', 'desc')
          .execute();
        for (const r of found) if (!waiting.has(r.job_id)) waiting.set(r.job_id, r);
      }
      const out: EnqueueResult[] = [];
      for (const p of planned) {
        const row = byId.get(p.executionId);
        if (row) {
          out.push({ execution: toExecution(row), coalesced: false });
          continue;
        }
        // The queued slot is held by a run that is just being claimed: nothing more to add.
        const held = waiting.get(p.job.id);
        out.push({ execution: held ? toExecution(held) : await this.latest(tx, p.job.id), coalesced: true });
      }
      return out;
    };
    return trx ? work(trx) : this.runs.database.db.transaction().execute(work);
  }

  /**
   * Withdraws the queue job of an execution cancelled while queued, so that its slot (one queued run per job)
   * is free for the next trigger at once instead of when a worker gets to the dead job.
   */
  async withdraw(queueJobId: string, single: boolean): Promise<void> {
    await this.boss.cancel(single ? RECORD_QUEUE : RUN_QUEUE, queueJobId);
  }

  /** Queues alert deliveries, in `tx` when given (with the alert state that decided them). */
  async sendAlerts(messages: AlertMessage[], retry: AlertRetryOptions, tx?: Kysely<DB>): Promise<void> {
    for (const message of messages) {
      await this.boss.send(ALERT_QUEUE, message, {
        retryLimit: message.retryLimit,
        retryDelay: Math.max(1, Math.round(retry.delaySeconds)),
        retryBackoff: true,
        retryDelayMax: Math.max(1, Math.round(retry.maxDelaySeconds)),
        expireInSeconds: 120,
        ...(tx ? { db: fromKysely(tx) } : {}),
      });
    }
  }

  private async latest(tx: Kysely<DB>, jobId: string): Promise<SyncExecution> {
    return toExecution(
      await tx
        .selectFrom('sync_executions')
        .selectAll()
        .where('job_id', '=', jobId)
        .orderBy('created_at', 'desc')
        .executeTakeFirstOrThrow(),
    );
  }

  async close(): Promise<void> {
    await this.boss.stop({ graceful: false, close: true, timeout: 5000 });
  }
}

async function ensureQueue(
  boss: PgBoss,
  name: string,
  options: { policy: string; retryLimit: number; retryDelay: number; notify: boolean; deleteAfterSeconds: number },
): Promise<void> {
  const existing = await boss.getQueue(name);
  if (!existing) {
    try {
      await boss.createQueue(name, options);
    } catch (err) {
      // Another process created it between our check and our create.
      if (!(await boss.getQueue(name))) throw err;
    }
  } else if (existing.deleteAfterSeconds !== options.deleteAfterSeconds) {
    // A queue created by an earlier version keeps pg-boss's default (7 days): bring it to today's setting.
    await boss.updateQueue(name, { deleteAfterSeconds: options.deleteAfterSeconds });
  }
}
