import { type Kysely, type Selectable, sql } from 'kysely';
import { NotFoundError, StateError } from '../domain/errors.ts';
import type { DeadLetter, RunOptions, Side, StartedRun, SyncExecution } from '../domain/types.ts';
import { toDeadLetter } from '../store/repository.ts';
import type { DB } from '../store/schema.ts';
import { checkPage, isUuid, type ListOptions, type Page, type PageOptions, pageByCreation } from './paging.ts';

export interface DeadLetterDeps {
  db: Kysely<DB>;
  /** Starts a single-record run (a person's retry of a dead letter). */
  startJob(jobId: string, options: RunOptions): Promise<StartedRun>;
}

/**
 * The dead letter queue: records that failed in 3+ executions, parked until a person retries them (a
 * single-record run) or discards them, or their source content changes. Also the job's retry set.
 */
export function deadLetterService({ db, startJob }: DeadLetterDeps) {
  async function settleDeadLetter(
    dl: Selectable<DB['dead_letters']>,
    execution: SyncExecution,
  ): Promise<SyncExecution> {
    const id = dl.id;
    const failed = await db
      .selectFrom('record_failures')
      .select('message')
      .where('execution_id', '=', execution.id)
      .where('record_key', '=', dl.record_key)
      .executeTakeFirst();
    // Success closes the dead letter. Failure keeps it open (it failed once more) and keeps the
    // record out of the automatic retry set: a person parked it, a person decides. (A record failure was
    // already counted on the dead letter by the run's page commit; a run-level failure is counted here.)
    await db.transaction().execute(async (trx) => {
      if (failed || (execution.status !== 'completed' && execution.status !== 'completed_with_errors')) {
        await trx
          .updateTable('dead_letters')
          .set({
            failure_count: sql<number>`failure_count + 1`,
            last_error: failed?.message ?? execution.haltReason ?? execution.status,
            last_execution_id: execution.id,
            updated_at: sql<Date>`now()`,
          })
          .where('id', '=', id)
          .where('status', '=', 'open')
          .where('last_execution_id', '!=', execution.id)
          .execute();
      } else {
        // The run's commit resolved it as a recovered record; it was a person's retry.
        await trx
          .updateTable('dead_letters')
          .set({ status: 'retried', last_execution_id: execution.id, updated_at: sql<Date>`now()` })
          .where('id', '=', id)
          .where('status', 'in', ['open', 'resolved'])
          .execute();
      }
      await trx
        .deleteFrom('retry_items')
        .where('job_id', '=', dl.job_id)
        .where('side', '=', dl.side)
        .where('record_key', '=', dl.record_key)
        .execute();
    });
    return execution;
  }

  async function deadLetterRow(id: string) {
    const row = isUuid(id)
      ? await db.selectFrom('dead_letters').selectAll().where('id', '=', id).executeTakeFirst()
      : undefined;
    if (!row) throw new NotFoundError('dead letter', id);
    return row;
  }

  async function retrySet(jobId: string) {
    const rows = await db
      .selectFrom('retry_items')
      .select(['side', 'record_key', 'failure_count'])
      .where('job_id', '=', jobId)
      .orderBy('record_key')
      .execute();
    return rows.map((r) => ({ side: r.side as Side, recordKey: r.record_key, failureCount: r.failure_count }));
  }

  const api = {
    list: async (jobId: string, options: ListOptions & { status?: DeadLetter['status'] } = {}) =>
      (
        await api.page(jobId, {
          limit: options.limit ?? 100,
          ...(options.status === undefined ? {} : { status: options.status }),
        })
      ).items,
    page: async (
      jobId: string,
      options: PageOptions & { status?: DeadLetter['status'] } = {},
    ): Promise<Page<DeadLetter>> => {
      const page = checkPage(options);
      if (!isUuid(jobId)) return { items: [], nextCursor: null };
      const q = db
        .selectFrom('dead_letters')
        .where('job_id', '=', jobId)
        .where('status', '=', options.status ?? 'open');
      return pageByCreation(q, page, 'desc', toDeadLetter);
    },
    get: async (id: string): Promise<DeadLetter> => toDeadLetter(await deadLetterRow(id)),
    retry: async (id: string): Promise<SyncExecution> => (await api.startRetry(id)).done,
    startRetry: async (id: string): Promise<StartedRun> => {
      const dl = await deadLetterRow(id);
      if (dl.status !== 'open') throw new StateError(`dead letter ${id} is ${dl.status}, not open`);
      const started = await startJob(dl.job_id, {
        trigger: 'manual',
        recordKeys: [dl.record_key],
        side: dl.side as Side,
      });
      return { execution: started.execution, done: started.done.then((e) => settleDeadLetter(dl, e)) };
    },
    discard: async (id: string): Promise<DeadLetter> => {
      const dl = await deadLetterRow(id);
      if (dl.status !== 'open') throw new StateError(`dead letter ${id} is ${dl.status}, not open`);
      const row = await db
        .updateTable('dead_letters')
        .set({ status: 'discarded', updated_at: sql<Date>`now()` })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirstOrThrow();
      return toDeadLetter(row);
    },
    /** The records a job will retry on its next run (failed before, not dead-lettered). */
    retrySet,
  };
  return api;
}

export type DeadLetterService = ReturnType<typeof deadLetterService>;
