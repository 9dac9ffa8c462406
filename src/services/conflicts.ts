import { type Kysely, type Selectable, sql } from 'kysely';
import * as z from 'zod';
import { errorMessage, NotFoundError, StateError, ValidationError } from '../domain/errors.ts';
import { applyMapping, type CompiledMapping, compileMapping } from '../domain/mapping.ts';
import type { Conflict, SyncJob } from '../domain/types.ts';
import { parseInput } from '../domain/validate.ts';
import type { Endpoint, WriteOp } from '../engine/endpoint.ts';
import { contentHash, idempotencyKey } from '../engine/hash.ts';
import { DEFAULT_TRANSIENT_RETRY, withTransientRetry } from '../engine/retry.ts';
import type { ConflictsTable, DB } from '../store/schema.ts';
import type { JobService } from './jobs.ts';
import { checkPage, isUuid, type Page, type PageOptions, pageByCreation } from './paging.ts';

export interface ConflictDeps {
  db: Kysely<DB>;
  jobs: JobService;
  /** The job's two sides, as its runs see them. */
  endpointsFor(job: SyncJob): Promise<[provider: Endpoint, local: Endpoint]>;
}

const sideChoice = z.enum(['local', 'provider'], { error: 'must be "local" or "provider"' });

/** How a person resolves a conflict: one side wins whole, or a side per differing field. */
export const conflictResolutionSchema = z
  .strictObject({
    winner: sideChoice.optional(),
    fields: z
      .record(z.string(), sideChoice, { error: 'must map each differing field to "local" or "provider"' })
      .optional(),
    resolvedBy: z.string().trim().min(1).max(200).optional(),
  })
  .refine((r) => (r.winner === undefined) !== (r.fields === undefined), {
    error: 'give either winner or fields (a side per differing field)',
    path: ['winner'],
  });
export type ConflictResolution = z.output<typeof conflictResolutionSchema>;

function toConflict(row: Selectable<ConflictsTable>): Conflict {
  return {
    id: row.id,
    jobId: row.job_id,
    executionId: row.execution_id,
    localId: row.local_id,
    externalId: row.external_id,
    localContent: (row.local_content as Record<string, unknown> | null) ?? null,
    providerContent: (row.provider_content as Record<string, unknown> | null) ?? null,
    fields: row.fields,
    localDeleted: row.local_content === null,
    providerDeleted: row.provider_content === null,
    status: row.status as Conflict['status'],
    resolution: (row.resolution as Conflict['resolution']) ?? null,
    resolvedBy: row.resolved_by,
    resolvedAt: row.resolved_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/**
 * Conflicts left for a person by the `manual` strategy: listed per job, counted, and resolved. Resolving writes the
 * chosen content to the side that lost (the provider first, then the local row, its reference and the conflict in
 * one transaction), so the next run sees both sides in step and raises nothing.
 */
export function conflictService({ db, jobs, endpointsFor }: ConflictDeps) {
  const get = async (id: string): Promise<Conflict> => {
    const row = isUuid(id)
      ? await db.selectFrom('conflicts').selectAll().where('id', '=', id).executeTakeFirst()
      : undefined;
    if (!row) throw new NotFoundError('conflict', id);
    return toConflict(row);
  };

  /** One write, transient errors retried; a refused write keeps the conflict open (409 with the reason). */
  async function write(endpoint: Endpoint, job: SyncJob, op: WriteOp, transaction?: unknown): Promise<string> {
    const signal = AbortSignal.timeout(60_000);
    const request = {
      entityType: job.entityType,
      ops: [op],
      signal,
      // biome-ignore lint/suspicious/noExplicitAny: handed through to the colocated local store
      ...(transaction ? { transaction: transaction as any } : {}),
    };
    const [result] = await withTransientRetry(DEFAULT_TRANSIENT_RETRY, signal, async () => {
      const res = await endpoint.write(request);
      const first = res[0];
      if (first && !first.ok && (first.error as { kind?: string })?.kind === 'transient') throw first.error;
      return res;
    });
    if (!result?.ok) {
      const side = endpoint.colocated ? 'local' : 'provider';
      throw new StateError(
        `the ${side} side refused the resolution (${errorMessage(result?.ok === false ? result.error : 'no result')}); the conflict stays open`,
      );
    }
    return result.id;
  }

  const hashOf = (mapping: CompiledMapping, content: Record<string, unknown>): string | null => {
    try {
      return contentHash(applyMapping(mapping, content));
    } catch {
      return null;
    }
  };

  return {
    get,
    page: async (
      jobId: string,
      options: PageOptions & { status?: Conflict['status'] } = {},
    ): Promise<Page<Conflict>> => {
      const page = checkPage(options);
      if (!isUuid(jobId)) return { items: [], nextCursor: null };
      let q = db.selectFrom('conflicts').where('job_id', '=', jobId);
      if (options.status) q = q.where('status', '=', options.status);
      return pageByCreation(q, page, 'desc', toConflict);
    },
    /** Open conflicts per job, in one query. */
    countOpen: async (jobIds: readonly string[]): Promise<Map<string, number>> => {
      const ids = jobIds.filter(isUuid);
      if (ids.length === 0) return new Map();
      const rows = await db
        .selectFrom('conflicts')
        .select(['job_id', sql<number>`count(*)::int`.as('n')])
        .where('job_id', 'in', ids)
        .where('status', '=', 'open')
        .groupBy('job_id')
        .execute();
      return new Map(rows.map((r) => [r.job_id, r.n]));
    },
    resolve: async (id: string, input: unknown): Promise<Conflict> => {
      const choice = parseInput(conflictResolutionSchema, input);
      const c = await get(id);
      if (c.status !== 'open') throw new StateError(`conflict ${id} is already resolved`);
      const deletion = c.localDeleted || c.providerDeleted;
      if (choice.fields) {
        const issues = [];
        if (deletion) {
          issues.push({
            path: 'fields',
            message: 'a deletion against an update is resolved whole: give winner "local" or "provider"',
          });
        } else {
          for (const f of c.fields) {
            if (!(f in choice.fields)) issues.push({ path: `fields.${f}`, message: 'choose "local" or "provider"' });
          }
          for (const f of Object.keys(choice.fields)) {
            if (!c.fields.includes(f)) {
              issues.push({ path: `fields.${f}`, message: `is not a differing field (${c.fields.join(', ')})` });
            }
          }
        }
        if (issues.length > 0) throw new ValidationError(issues);
      }
      const job = await jobs.get(c.jobId);
      const [provider, local] = await endpointsFor(job);
      const inbound = compileMapping(job.fieldMappings, 'inbound');
      const outbound = compileMapping(job.fieldMappings, 'outbound');
      const soft = job.deletePolicy === 'soft_delete';
      const key = (what: string, content: unknown) =>
        idempotencyKey(job.id, `${c.id}:${what}`, contentHash({ content }));
      const local0 = c.localContent ?? {};
      const provider0 = c.providerContent ?? {};
      const merged: Record<string, unknown> = choice.winner
        ? { ...(choice.winner === 'local' ? local0 : provider0) }
        : {
            ...local0,
            ...Object.fromEntries(
              c.fields.map((f) => [f, choice.fields![f] === 'provider' ? provider0[f] : local0[f]]),
            ),
          };
      const differs = (content: Record<string, unknown>) =>
        c.fields.some((f) => JSON.stringify(content[f] ?? null) !== JSON.stringify(merged[f] ?? null));

      // 1. The provider side (outside the transaction, as in a run's page).
      let externalId = c.externalId;
      let refGone = false;
      if (c.providerDeleted && choice.winner === 'local') {
        externalId = await write(provider, job, {
          action: 'create',
          targetId: null,
          data: applyMapping(outbound, merged),
          idempotencyKey: key('create', merged),
          sourceId: c.localId,
        });
      } else if (c.localDeleted && choice.winner === 'local') {
        await write(provider, job, {
          action: 'delete',
          targetId: c.externalId,
          data: {},
          soft,
          idempotencyKey: key('delete', null),
          sourceId: c.localId,
        });
        refGone = true;
      } else if (!deletion && differs(provider0)) {
        await write(provider, job, {
          action: 'update',
          targetId: c.externalId,
          data: applyMapping(outbound, merged),
          idempotencyKey: key('update', merged),
          sourceId: c.localId,
        });
      }
      const providerNow = refGone
        ? null
        : (
            await provider.fetch({ entityType: job.entityType, ids: [externalId], signal: AbortSignal.timeout(30_000) })
          )[0];

      // 2. The local row, the reference and the conflict, in one transaction.
      const localBefore = (
        await local.fetch({ entityType: job.entityType, ids: [c.localId], signal: AbortSignal.timeout(30_000) })
      )[0];
      return db.transaction().execute(async (trx) => {
        let localAfter: Record<string, unknown> | null = localBefore && !localBefore.deleted ? localBefore.data : null;
        if (c.providerDeleted && choice.winner === 'provider') {
          await write(
            local,
            job,
            {
              action: 'delete',
              targetId: c.localId,
              data: {},
              soft,
              idempotencyKey: key('delete', null),
              sourceId: c.externalId,
            },
            local.colocated ? trx : undefined,
          );
          refGone = true;
        } else if ((c.localDeleted && choice.winner === 'provider') || (!deletion && differs(local0))) {
          await write(
            local,
            job,
            {
              action: 'update',
              targetId: c.localId,
              data: merged,
              idempotencyKey: key('local', merged),
              sourceId: externalId,
            },
            local.colocated ? trx : undefined,
          );
          localAfter = { ...(localAfter ?? {}), ...merged };
        }
        const refs = trx
          .deleteFrom('external_references')
          .where('connection_id', '=', job.connectionId)
          .where('entity_type', '=', job.entityType)
          .where('local_id', '=', c.localId);
        if (refGone) {
          if (soft) {
            await trx
              .updateTable('external_references')
              .set({ deleted_at: sql<Date>`now()`, inbound_hash: null, outbound_hash: null })
              .where('connection_id', '=', job.connectionId)
              .where('entity_type', '=', job.entityType)
              .where('local_id', '=', c.localId)
              .execute();
          } else await refs.execute();
        } else {
          // What each direction will compute next time: both sides in step, nothing to write, no conflict.
          await trx
            .updateTable('external_references')
            .set({
              external_id: externalId,
              inbound_hash: providerNow ? hashOf(inbound, providerNow.data) : null,
              outbound_hash: localAfter ? hashOf(outbound, localAfter) : null,
              deleted_at: null,
              last_synced_at: sql<Date>`now()`,
            })
            .where('connection_id', '=', job.connectionId)
            .where('entity_type', '=', job.entityType)
            .where('local_id', '=', c.localId)
            .execute();
        }
        const row = await trx
          .updateTable('conflicts')
          .set({
            status: 'resolved',
            resolution: JSON.stringify(choice.winner ? { winner: choice.winner } : { fields: choice.fields }),
            resolved_by: choice.resolvedBy ?? null,
            resolved_at: sql<Date>`now()`,
            updated_at: sql<Date>`now()`,
          })
          .where('id', '=', c.id)
          .where('status', '=', 'open')
          .returningAll()
          .executeTakeFirst();
        if (!row) throw new StateError(`conflict ${id} is already resolved`);
        return toConflict(row);
      });
    },
  };
}

export type ConflictService = ReturnType<typeof conflictService>;
