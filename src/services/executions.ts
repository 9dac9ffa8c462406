import type { Kysely } from 'kysely';
import { NotFoundError, StateError } from '../domain/errors.ts';
import type {
  ExecutionStatus,
  RecordFailure,
  RunLogEntry,
  RunOptions,
  StartedRun,
  SyncExecution,
  Trigger,
} from '../domain/types.ts';
import { toExecution, toFailure } from '../store/repository.ts';
import type { DB } from '../store/schema.ts';
import {
  checkPage,
  decodeCursor,
  isUuid,
  type ListOptions,
  type Page,
  type PageOptions,
  pageByCreation,
  pageLimit,
  toPage,
} from './paging.ts';

/** Executions (runs) as recorded: one, a job's history newest first, the latest per job, record failures. */
export function executionService({
  db,
  startJob,
}: {
  db: Kysely<DB>;
  /** Starts a run (Apply deletions). */
  startJob(jobId: string, options: RunOptions): Promise<StartedRun>;
}) {
  const api = {
    get: async (id: string): Promise<SyncExecution> => {
      const row = isUuid(id)
        ? await db.selectFrom('sync_executions').selectAll().where('id', '=', id).executeTakeFirst()
        : undefined;
      if (!row) throw new NotFoundError('execution', id);
      return toExecution(row);
    },
    list: async (jobId: string, options: ListOptions = {}): Promise<SyncExecution[]> =>
      (await api.page(jobId, options.limit === undefined ? {} : { limit: options.limit })).items,
    page: async (
      jobId: string,
      options: PageOptions & { status?: ExecutionStatus[]; trigger?: Trigger[] } = {},
    ): Promise<Page<SyncExecution>> => {
      const page = checkPage(options);
      if (!isUuid(jobId)) return { items: [], nextCursor: null };
      let q = db.selectFrom('sync_executions').where('job_id', '=', jobId);
      if (options.status?.length) q = q.where('status', 'in', options.status);
      if (options.trigger?.length) q = q.where('trigger', 'in', options.trigger);
      return pageByCreation(q, page, 'desc', toExecution);
    },
    /**
     * Apply deletions: applies the deletions an execution's mass-delete protection held back, in a new execution
     * (trigger manual) that reads no stream; records that exist at the source again are left alone.
     */
    startApplyDeletions: async (id: string): Promise<StartedRun> => {
      const e = await api.get(id);
      if (e.haltKind !== 'mass_delete' || !e.heldDeletions) {
        throw new StateError(
          `execution ${id} holds no deletions back (only a run stopped by mass-delete protection does)`,
        );
      }
      return startJob(e.jobId, { trigger: 'manual', applyDeletionsOf: id });
    },
    applyDeletions: async (id: string): Promise<SyncExecution> => (await api.startApplyDeletions(id)).done,
    latest: async (jobIds: readonly string[]): Promise<Map<string, SyncExecution>> => {
      const ids = jobIds.filter(isUuid);
      if (ids.length === 0) return new Map();
      const rows = await db
        .selectFrom('sync_executions')
        .distinctOn('job_id')
        .selectAll()
        .where('job_id', 'in', ids)
        // Whole runs, like the job's lastRunAt: a webhook's single-record run does not stand for the job.
        .where('record_keys', 'is', null)
        .orderBy('job_id')
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .execute();
      return new Map(rows.map((r) => [r.job_id, toExecution(r)]));
    },
    /** The execution's run log, oldest first, in pages (keyset on the entry id). */
    logPage: async (executionId: string, options: PageOptions = {}): Promise<Page<RunLogEntry>> => {
      const limit = pageLimit(options.limit);
      const after = decodeCursor(options.cursor, 'serial');
      if (!isUuid(executionId)) return { items: [], nextCursor: null };
      let q = db.selectFrom('execution_log').selectAll().where('execution_id', '=', executionId);
      if (after) q = q.where('id', '>', Number(after.id));
      const rows = await q
        .orderBy('id', 'asc')
        .limit(limit + 1)
        .execute();
      return toPage(
        rows,
        limit,
        (r) => ({
          id: String(r.id),
          at: r.at,
          level: r.level as RunLogEntry['level'],
          event: r.event,
          message: r.message,
          data: (r.data as Record<string, unknown> | null) ?? null,
        }),
        (r) => ({ at: '', id: String(r.id) }),
      );
    },
    failuresPage: async (executionId: string, options: PageOptions = {}): Promise<Page<RecordFailure>> => {
      const limit = pageLimit(options.limit);
      const after = decodeCursor(options.cursor, 'serial');
      if (!isUuid(executionId)) return { items: [], nextCursor: null };
      let q = db.selectFrom('record_failures').selectAll().where('execution_id', '=', executionId);
      if (after) q = q.where('id', '>', after.id);
      const rows = await q
        .orderBy('id')
        .limit(limit + 1)
        .execute();
      return toPage(rows, limit, toFailure, (r) => ({ at: '', id: String(r.id) }));
    },
    failures: async (executionId: string, options: ListOptions = {}): Promise<RecordFailure[]> => {
      const rows = await db
        .selectFrom('record_failures')
        .selectAll()
        .where('execution_id', '=', executionId)
        .orderBy('id')
        .limit(options.limit ?? 1000)
        .execute();
      return rows.map(toFailure);
    },
  };
  return api;
}

export type ExecutionService = ReturnType<typeof executionService>;
