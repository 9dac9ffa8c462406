import { randomUUID } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import { nextRunAt } from '../domain/cron.ts';
import { type FieldIssue, NotFoundError, StateError, ValidationError } from '../domain/errors.ts';
import { mergeJobPatch, type SyncJobInput, syncJobInputSchema, validateEntityType } from '../domain/job.ts';
import type { SyncJob } from '../domain/types.ts';
import { parseInput } from '../domain/validate.ts';
import type { LocalStoreDefinition } from '../local/postgres.ts';
import { cancelledBeforeStart, jobColumns, loadRules, replaceRules, toJob } from '../store/repository.ts';
import type { DB } from '../store/schema.ts';
import { checkPage, containsPattern, countOf, isUuid, type Page, type PageOptions, pageByCreation } from './paging.ts';
import type { ProviderRegistry } from './providers.ts';

/** A page of jobs: of one connection (`connectionId`), whose name contains `q` (case-insensitive). */
export interface JobPageOptions extends PageOptions {
  connectionId?: string;
  q?: string | null;
}

export interface JobDeps {
  db: Kysely<DB>;
  providers: ProviderRegistry;
  /** The local store: a job's local entity must be one it declares. */
  local: LocalStoreDefinition | undefined;
}

/**
 * Sync jobs: validated exactly as the spec's "Creating a Sync Job" table, plus the checks that need the
 * database (the connection exists, both sides declare the entity type), reported together.
 */
export function jobService(deps: JobDeps) {
  const { db, providers } = deps;

  /** A job with its rules, read through `db` (pass the open transaction when inside one). */
  async function loadJob(id: string, db: Kysely<DB>): Promise<SyncJob> {
    const row = isUuid(id)
      ? await db.selectFrom('sync_jobs').selectAll().where('id', '=', id).executeTakeFirst()
      : undefined;
    if (!row) throw new NotFoundError('sync job', id);
    return toJob(row, (await loadRules(db, [id])).get(id) ?? []);
  }

  function nextRun(data: Pick<SyncJobInput, 'schedule' | 'enabled'>, after = new Date()): Date | null {
    if (data.schedule.type !== 'cron' || !data.enabled) return null;
    return nextRunAt(data.schedule.cron, data.schedule.timezone, after);
  }

  /**
   * Schema validation plus the checks that need the database (the connection exists, both sides declare
   * the entity type), reported together: one error lists every offending field.
   */
  async function validateJob(parse: () => SyncJobInput, raw: unknown, q: Kysely<DB> = db): Promise<SyncJobInput> {
    let data: SyncJobInput | undefined;
    let issues: FieldIssue[] = [];
    try {
      data = parse();
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      issues = [...err.issues];
    }
    const r = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
    const refs =
      data ??
      (typeof r.connectionId === 'string' && typeof r.entityType === 'string'
        ? {
            connectionId: r.connectionId.trim(),
            entityType: r.entityType.trim(),
            localEntity: typeof r.localEntity === 'string' ? r.localEntity.trim() : null,
          }
        : null);
    if (refs) {
      const known = new Set(issues.map((i) => i.path));
      for (const issue of await referenceIssues(refs, q)) if (!known.has(issue.path)) issues.push(issue);
    }
    if (issues.length > 0 || !data) throw new ValidationError(issues);
    return data;
  }

  /** The connection must exist and both sides must declare the entity type (read through `q`). */
  async function referenceIssues(
    data: {
      connectionId: string;
      entityType: string;
      localEntity?: string | null;
      direction?: string;
      deletePolicy?: string;
    },
    q: Kysely<DB>,
  ): Promise<FieldIssue[]> {
    const issues: FieldIssue[] = [];
    const conn = isUuid(data.connectionId)
      ? await q
          .selectFrom('connections')
          .select(['provider', 'config'])
          .where('id', '=', data.connectionId)
          .executeTakeFirst()
      : undefined;
    if (!conn) issues.push({ path: 'connectionId', message: `no connection with id ${data.connectionId}` });
    else {
      const provider = providers.get(conn.provider);
      if (!provider) issues.push({ path: 'connectionId', message: `provider "${conn.provider}" is not registered` });
      else {
        const declared = providers.entityTypesOf(provider, conn.config);
        const issue = validateEntityType(data.entityType, declared, provider.name);
        if (issue) issues.push(issue);
        // Deleting at the provider: only where its entity type can be deleted (or soft-deleted).
        const supports = provider.info?.entityTypes.find((e) => e.name === data.entityType)?.supports;
        const writesProvider = data.direction === 'outbound' || data.direction === 'bidirectional';
        if (!issue && writesProvider && supports && data.deletePolicy && data.deletePolicy !== 'ignore') {
          if (supports.deletes === false) {
            issues.push({
              path: 'deletePolicy',
              message: `${provider.name} cannot delete "${data.entityType}" records: choose ignore for this job`,
            });
          } else if (data.deletePolicy === 'soft_delete' && supports.softDeletes === false) {
            issues.push({
              path: 'deletePolicy',
              message: `${provider.name} cannot keep a "${data.entityType}" record marked deleted: choose hard_delete or ignore`,
            });
          }
        }
      }
    }
    const local = deps.local;
    if (local) {
      const path = data.localEntity ? 'localEntity' : 'entityType';
      const name = data.localEntity || data.entityType;
      if (!issues.some((i) => i.path === path) && !local.entityTypes.includes(name)) {
        issues.push({
          path,
          message: `must be one of ${local.entityTypes.join(', ')} (declared by the local store)`,
        });
      }
      // Marking local rows deleted needs the entity's soft-delete column.
      const writesLocal = data.direction === 'inbound' || data.direction === 'bidirectional';
      if (
        data.deletePolicy === 'soft_delete' &&
        writesLocal &&
        local.entityTypes.includes(name) &&
        (local.softDeleteColumn?.(name) ?? null) === null
      ) {
        issues.push({
          path: 'deletePolicy',
          message:
            `soft_delete marks local rows deleted, and local entity "${name}" declares no soft-delete column: set ` +
            `"deletedAt" in localEntities.${name} of the config file (deletedAtColumn in the library), or choose hard_delete`,
        });
      }
    }
    return issues;
  }

  const get = (id: string): Promise<SyncJob> => loadJob(id, db);

  return {
    /**
     * A job that is not saved (the preview of the Add Sync Job form): validated like a create, references included;
     * it has a throwaway id, no cursor and no history.
     */
    draft: async (input: unknown): Promise<SyncJob> => {
      const data = await validateJob(() => parseInput(syncJobInputSchema, input), input);
      const now = new Date();
      return {
        id: randomUUID(),
        connectionId: data.connectionId,
        name: data.name,
        entityType: data.entityType,
        localEntity: data.localEntity ?? null,
        direction: data.direction,
        mode: data.mode,
        schedule: data.schedule,
        retryOnFailure: data.retryOnFailure,
        maxRetries: data.maxRetries,
        timeoutMinutes: data.timeoutMinutes,
        conflictStrategy: data.conflictStrategy ?? null,
        deletePolicy: data.deletePolicy,
        massDeleteThreshold: data.massDeleteThreshold,
        enabled: data.enabled,
        fieldMappings: data.fieldMappings,
        cursor: null,
        lastRunAt: null,
        nextRunAt: null,
        archivedAt: null,
        createdAt: now,
        updatedAt: now,
      };
    },
    create: async (input: unknown): Promise<SyncJob> => {
      const data = await validateJob(() => parseInput(syncJobInputSchema, input), input);
      const id = await db.transaction().execute(async (trx) => {
        const row = await trx
          .insertInto('sync_jobs')
          .values({ connection_id: data.connectionId, ...jobColumns(data), next_run_at: nextRun(data) })
          .returning('id')
          .executeTakeFirstOrThrow();
        await replaceRules(trx, row.id, data.fieldMappings);
        return row.id;
      });
      return get(id);
    },
    get,
    list: async (filter: { connectionId?: string; includeArchived?: boolean } = {}): Promise<SyncJob[]> => {
      let q = db.selectFrom('sync_jobs').selectAll().orderBy('created_at');
      if (!filter.includeArchived) q = q.where('archived_at', 'is', null);
      if (filter.connectionId !== undefined) {
        if (!isUuid(filter.connectionId)) return [];
        q = q.where('connection_id', '=', filter.connectionId);
      }
      const rows = await q.execute();
      const rules = await loadRules(
        db,
        rows.map((r) => r.id),
      );
      return rows.map((r) => toJob(r, rules.get(r.id) ?? []));
    },
    /**
     * One page of the jobs that are not archived, in creation order (keyset on created_at and id): all of them,
     * or one connection's; `q` keeps those whose name contains it (case-insensitive). `total` counts every job
     * that matches, over all pages. Two queries for the page (rows, their rules) and one for the count, whatever
     * the fleet's size.
     */
    page: async (options: JobPageOptions = {}): Promise<Page<SyncJob> & { total: number }> => {
      const page = checkPage(options);
      const pattern = containsPattern(options.q);
      if (options.connectionId !== undefined && !isUuid(options.connectionId)) {
        return { items: [], nextCursor: null, total: 0 };
      }
      let matching = db.selectFrom('sync_jobs').where('archived_at', 'is', null);
      if (options.connectionId !== undefined) matching = matching.where('connection_id', '=', options.connectionId);
      if (pattern !== null) matching = matching.where(sql<boolean>`name ILIKE ${pattern}`);
      const [rows, total] = await Promise.all([pageByCreation(matching, page, 'asc', (r) => r), countOf(matching)]);
      const rules = await loadRules(
        db,
        rows.items.map((r) => r.id),
      );
      return { items: rows.items.map((r) => toJob(r, rules.get(r.id) ?? [])), nextCursor: rows.nextCursor, total };
    },
    update: async (id: string, patch: unknown): Promise<SyncJob> => {
      // Read, merge and write under the row's lock: concurrent updates of one job apply one after the other,
      // each on the other's result (a merge outside would write back the fields it read before).
      await db.transaction().execute(async (trx) => {
        const locked = isUuid(id)
          ? await trx.selectFrom('sync_jobs').select('id').where('id', '=', id).forUpdate().executeTakeFirst()
          : undefined;
        if (!locked) throw new NotFoundError('sync job', id);
        const current = await loadJob(id, trx);
        if (current.archivedAt) throw new StateError(`sync job ${id} is archived`);
        const data = await validateJob(() => mergeJobPatch(current, patch), { ...current, ...(patch as object) }, trx);
        await trx
          .updateTable('sync_jobs')
          .set({ ...jobColumns(data), next_run_at: nextRun(data), updated_at: sql<Date>`now()` })
          .where('id', '=', id)
          .execute();
        await replaceRules(trx, id, data.fieldMappings);
      });
      return get(id);
    },
    /**
     * Archives the job: it leaves lists, schedules, webhooks and triggers; its queued runs are cancelled;
     * its executions, failures and dead letters stay readable. `purge` deletes it with all its history.
     * Either way, 409 while a run of it is running.
     */
    delete: async (id: string, options: { purge?: boolean } = {}): Promise<void> => {
      await db.transaction().execute(async (trx) => {
        const locked = isUuid(id)
          ? await trx
              .selectFrom('sync_jobs')
              .select(['id', 'archived_at'])
              .where('id', '=', id)
              .forUpdate()
              .executeTakeFirst()
          : undefined;
        if (!locked) throw new NotFoundError('sync job', id);
        const running = await trx
          .selectFrom('sync_executions')
          .select('id')
          .where('job_id', '=', id)
          .where('status', '=', 'running')
          .executeTakeFirst();
        if (running) throw new StateError(`sync job ${id} has a running execution (${running.id}); cancel it first`);
        if (options.purge) {
          await trx.deleteFrom('sync_jobs').where('id', '=', id).execute();
          return;
        }
        if (locked.archived_at) return;
        await trx
          .updateTable('sync_jobs')
          .set({ archived_at: sql<Date>`now()`, next_run_at: null, updated_at: sql<Date>`now()` })
          .where('id', '=', id)
          .execute();
        // A worker that claims a cancelled execution's queue job later finds it cancelled and drops it.
        await trx
          .updateTable('sync_executions')
          .set(cancelledBeforeStart('cancelled before it started: the job was archived'))
          .where('job_id', '=', id)
          .where('status', '=', 'queued')
          .execute();
      });
    },
    /** A job with its rules, read through `db` (pass the open transaction when inside one). */
    loadJob,
  };
}

export type JobService = ReturnType<typeof jobService>;
