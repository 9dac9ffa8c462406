import { type Kysely, sql } from 'kysely';
import { errorMessage, ValidationError } from '../domain/errors.ts';
import { applyMapping, compileMapping } from '../domain/mapping.ts';
import type { Side, SyncJob } from '../domain/types.ts';
import type { Endpoint, EndpointRecord } from '../engine/endpoint.ts';
import type { DB } from '../store/schema.ts';
import type { JobService } from './jobs.ts';

export interface RecordDeps {
  db: Kysely<DB>;
  jobs: JobService;
  endpointsFor(job: SyncJob): Promise<[provider: Endpoint, local: Endpoint]>;
}

/** One side of an inspected record: its live content and what the job maps it to. */
export interface InspectedSide {
  id: string | null;
  /** `found`, `deleted` (a tombstone: marked deleted there), `missing`, or `unavailable` (the side could not be read). */
  state: 'found' | 'deleted' | 'missing' | 'unavailable';
  content: Record<string, unknown> | null;
  updatedAt: string | null;
  /** The content mapped for the other side (local → outbound rules, provider → inbound rules). */
  mapped: Record<string, unknown> | null;
  /** Why the side could not be read, or its content mapped. */
  problem: string | null;
}

export interface RecordInspection {
  jobId: string;
  side: Side;
  key: string;
  reference: {
    localId: string;
    externalId: string;
    inboundHash: string | null;
    outboundHash: string | null;
    lastSyncedAt: Date;
    createdAt: Date;
    deletedAt: Date | null;
  } | null;
  local: InspectedSide;
  provider: InspectedSide;
  /** What executions did to the record, newest first (changes and failures; unchanged runs are not listed). */
  history: {
    executionId: string;
    at: Date;
    outcome: string;
    side: Side;
    status: string;
    trigger: string;
    startedAt: Date | null;
  }[];
  failures: { executionId: string; side: Side; phase: string; errorKind: string; message: string; createdAt: Date }[];
  deadLetter: { id: string; status: string; failureCount: number; lastError: string; updatedAt: Date } | null;
  retry: { failureCount: number; lastError: string; lastFailedAt: Date } | null;
  openConflictId: string | null;
}

/**
 * The record inspector: everything about one record of a job, from either side's id — the reference, both sides'
 * live content (read now, credentials never shown) and what the job maps each to, the executions that touched it,
 * its failures, retry and dead-letter state.
 */
export function recordService({ db, jobs, endpointsFor }: RecordDeps) {
  async function read(endpoint: Endpoint, job: SyncJob, id: string | null): Promise<EndpointRecord | null | Error> {
    if (id === null) return null;
    try {
      const [r] = await endpoint.fetch({ entityType: job.entityType, ids: [id], signal: AbortSignal.timeout(15_000) });
      return r ?? null;
    } catch (err) {
      return err instanceof Error ? err : new Error(String(err));
    }
  }

  function inspected(
    id: string | null,
    found: EndpointRecord | null | Error,
    map: (content: Record<string, unknown>) => Record<string, unknown>,
  ): InspectedSide {
    if (found instanceof Error) {
      return { id, state: 'unavailable', content: null, updatedAt: null, mapped: null, problem: errorMessage(found) };
    }
    if (found === null) return { id, state: 'missing', content: null, updatedAt: null, mapped: null, problem: null };
    if (found.deleted) {
      return { id, state: 'deleted', content: null, updatedAt: found.updatedAt ?? null, mapped: null, problem: null };
    }
    let mapped: Record<string, unknown> | null = null;
    let problem: string | null = found.error === undefined ? null : errorMessage(found.error);
    if (problem === null) {
      try {
        mapped = map(found.data);
      } catch (err) {
        problem = `mapping: ${errorMessage(err)}`;
      }
    }
    return { id, state: 'found', content: found.data, updatedAt: found.updatedAt ?? null, mapped, problem };
  }

  return {
    inspect: async (jobId: string, key: string, side: Side = 'provider'): Promise<RecordInspection> => {
      if (key === '' || key.length > 500) {
        throw new ValidationError([{ path: 'key', message: 'must be a record id of 1 to 500 characters' }]);
      }
      const job = await jobs.get(jobId);
      const ref = await db
        .selectFrom('external_references')
        .selectAll()
        .where('connection_id', '=', job.connectionId)
        .where('entity_type', '=', job.entityType)
        .where(side === 'provider' ? 'external_id' : 'local_id', '=', key)
        .executeTakeFirst();
      const localId = ref ? ref.local_id : side === 'local' ? key : null;
      const externalId = ref ? ref.external_id : side === 'provider' ? key : null;
      const [provider, local] = await endpointsFor(job);
      const [p, l] = await Promise.all([read(provider, job, externalId), read(local, job, localId)]);
      const inbound = compileMapping(job.fieldMappings, 'inbound');
      const outbound = compileMapping(job.fieldMappings, 'outbound');
      const keys = [localId, externalId].filter((k): k is string => k !== null);
      const history = await db
        .selectFrom('record_events as e')
        .innerJoin('sync_executions as x', 'x.id', 'e.execution_id')
        .select(['e.execution_id', 'e.at', 'e.outcome', 'e.side', 'x.status', 'x.trigger', 'x.started_at'])
        .where('e.job_id', '=', job.id)
        .where('e.record_key', 'in', keys)
        .orderBy('e.at', 'desc')
        .limit(50)
        .execute();
      const failures = await db
        .selectFrom('record_failures')
        .select(['execution_id', 'side', 'phase', 'error_kind', 'message', 'created_at'])
        .where('job_id', '=', job.id)
        .where('record_key', 'in', keys)
        .orderBy('created_at', 'desc')
        .limit(50)
        .execute();
      const dead = await db
        .selectFrom('dead_letters')
        .select(['id', 'status', 'failure_count', 'last_error', 'updated_at'])
        .where('job_id', '=', job.id)
        .where('record_key', 'in', keys)
        .orderBy(sql`status = 'open'`, 'desc')
        .orderBy('updated_at', 'desc')
        .executeTakeFirst();
      const retry = await db
        .selectFrom('retry_items')
        .select(['failure_count', 'last_error', 'last_failed_at'])
        .where('job_id', '=', job.id)
        .where('record_key', 'in', keys)
        .executeTakeFirst();
      const conflict = localId
        ? await db
            .selectFrom('conflicts')
            .select('id')
            .where('job_id', '=', job.id)
            .where('local_id', '=', localId)
            .where('status', '=', 'open')
            .executeTakeFirst()
        : undefined;
      // The execution that created the reference is the first line of the history.
      const created = ref?.created_execution_id
        ? await db
            .selectFrom('sync_executions')
            .select(['id', 'status', 'trigger', 'started_at'])
            .where('id', '=', ref.created_execution_id)
            .executeTakeFirst()
        : undefined;
      const events = history.map((h) => ({
        executionId: h.execution_id,
        at: h.at,
        outcome: h.outcome,
        side: h.side as Side,
        status: h.status,
        trigger: h.trigger,
        startedAt: h.started_at,
      }));
      if (created && ref) {
        events.push({
          executionId: created.id,
          at: ref.created_at,
          outcome: 'created',
          side: (job.direction === 'outbound' ? 'local' : 'provider') as Side,
          status: created.status,
          trigger: created.trigger,
          startedAt: created.started_at,
        });
      }
      return {
        jobId: job.id,
        side,
        key,
        reference: ref
          ? {
              localId: ref.local_id,
              externalId: ref.external_id,
              inboundHash: ref.inbound_hash,
              outboundHash: ref.outbound_hash,
              lastSyncedAt: ref.last_synced_at,
              createdAt: ref.created_at,
              deletedAt: ref.deleted_at,
            }
          : null,
        local: inspected(localId, l, (c) => applyMapping(outbound, c)),
        provider: inspected(externalId, p, (c) => applyMapping(inbound, c)),
        history: events,
        failures: failures.map((f) => ({
          executionId: f.execution_id,
          side: f.side as Side,
          phase: f.phase,
          errorKind: f.error_kind,
          message: f.message,
          createdAt: f.created_at,
        })),
        deadLetter: dead
          ? {
              id: dead.id,
              status: dead.status,
              failureCount: dead.failure_count,
              lastError: dead.last_error,
              updatedAt: dead.updated_at,
            }
          : null,
        retry: retry
          ? { failureCount: retry.failure_count, lastError: retry.last_error, lastFailedAt: retry.last_failed_at }
          : null,
        openConflictId: conflict?.id ?? null,
      };
    },
  };
}
