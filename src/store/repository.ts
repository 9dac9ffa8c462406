import { type Kysely, type Selectable, sql } from 'kysely';
import type { SyncJobInput } from '../domain/job.ts';
import type {
  Connection,
  DeadLetter,
  ExecutionCounters,
  ExecutionStatus,
  FieldMappingRule,
  HaltKind,
  RecordFailure,
  Side,
  SyncExecution,
  SyncJob,
  Trigger,
} from '../domain/types.ts';
import type { DB, SyncExecutionsTable, SyncJobsTable } from './schema.ts';

/** Row ↔ API type conversions and the queries outside the run's hot path. */

export function toConnection(row: Selectable<DB['connections']>): Connection {
  return {
    id: row.id,
    name: row.name,
    provider: row.provider,
    config: row.config,
    lastTest:
      row.last_tested_at === null || row.last_test_ok === null
        ? null
        : { ok: row.last_test_ok, message: row.last_test_message, testedAt: row.last_tested_at },
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function toJob(row: Selectable<SyncJobsTable>, rules: FieldMappingRule[]): SyncJob {
  return {
    id: row.id,
    connectionId: row.connection_id,
    name: row.name,
    entityType: row.entity_type,
    localEntity: row.local_entity,
    direction: row.direction as SyncJob['direction'],
    mode: row.mode as SyncJob['mode'],
    schedule:
      row.schedule_cron === null
        ? { type: 'manual' }
        : { type: 'cron', cron: row.schedule_cron, timezone: row.schedule_timezone ?? 'UTC' },
    retryOnFailure: row.retry_on_failure,
    maxRetries: row.max_retries,
    timeoutMinutes: row.timeout_minutes,
    conflictStrategy: row.conflict_strategy as SyncJob['conflictStrategy'],
    deletePolicy: row.delete_policy as SyncJob['deletePolicy'],
    massDeleteThreshold: Number(row.mass_delete_threshold),
    enabled: row.enabled,
    fieldMappings: rules,
    cursor: row.cursor,
    lastRunAt: row.last_run_at,
    nextRunAt: row.next_run_at,
    archivedAt: row.archived_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function jobColumns(input: SyncJobInput) {
  return {
    name: input.name,
    entity_type: input.entityType,
    local_entity: input.localEntity ?? null,
    direction: input.direction,
    mode: input.mode,
    schedule_cron: input.schedule.type === 'cron' ? input.schedule.cron : null,
    schedule_timezone: input.schedule.type === 'cron' ? input.schedule.timezone : null,
    retry_on_failure: input.retryOnFailure,
    max_retries: input.maxRetries,
    timeout_minutes: input.timeoutMinutes,
    conflict_strategy: input.conflictStrategy ?? null,
    delete_policy: input.deletePolicy,
    mass_delete_threshold: input.massDeleteThreshold,
    enabled: input.enabled,
  };
}

export async function loadRules(db: Kysely<DB>, jobIds: string[]): Promise<Map<string, FieldMappingRule[]>> {
  const out = new Map<string, FieldMappingRule[]>();
  if (jobIds.length === 0) return out;
  const rows = await db
    .selectFrom('field_mapping_rules')
    .selectAll()
    .where('job_id', 'in', jobIds)
    .orderBy('job_id')
    .orderBy('position')
    .execute();
  for (const r of rows) {
    const rule: FieldMappingRule = {
      sourceField: r.source_field,
      targetField: r.target_field,
      direction: r.direction as FieldMappingRule['direction'],
    };
    if (r.transform !== null) rule.transform = r.transform as NonNullable<FieldMappingRule['transform']>;
    // Stored wrapped, so that a default of JSON null survives the round trip.
    if (r.default_value !== null) rule.defaultValue = (r.default_value as { value: unknown }).value;
    const list = out.get(r.job_id);
    if (list) list.push(rule);
    else out.set(r.job_id, [rule]);
  }
  return out;
}

export async function replaceRules(db: Kysely<DB>, jobId: string, rules: FieldMappingRule[]): Promise<void> {
  await db.deleteFrom('field_mapping_rules').where('job_id', '=', jobId).execute();
  if (rules.length === 0) return;
  await db
    .insertInto('field_mapping_rules')
    .values(
      rules.map((r, position) => ({
        job_id: jobId,
        position,
        direction: r.direction,
        source_field: r.sourceField,
        target_field: r.targetField,
        transform: r.transform === undefined ? null : JSON.stringify(r.transform),
        default_value: r.defaultValue === undefined ? null : JSON.stringify({ value: r.defaultValue }),
      })),
    )
    .execute();
}

/** An execution's counters as stored. */
export function countersOf(row: Selectable<SyncExecutionsTable>): ExecutionCounters {
  return {
    processed: row.processed,
    created: row.created,
    updated: row.updated,
    deleted: row.deleted,
    skipped: row.skipped,
    failed: row.failed,
    conflicts: row.conflicts,
  };
}

export function toExecution(row: Selectable<SyncExecutionsTable>): SyncExecution {
  return {
    id: row.id,
    jobId: row.job_id,
    trigger: row.trigger as Trigger,
    attempt: row.attempt,
    status: row.status as ExecutionStatus,
    ...countersOf(row),
    haltReason: row.halt_reason,
    haltKind: row.halt_kind as HaltKind | null,
    heldDeletions: row.held_deletions,
    timing:
      row.read_ms === null
        ? null
        : {
            readMs: Number(row.read_ms),
            writeMs: Number(row.write_ms ?? 0),
            rateLimitWaitMs: Number(row.rate_limit_wait_ms ?? 0),
            retryWaitMs: Number(row.retry_wait_ms ?? 0),
          },
    recordKeys: row.record_keys,
    recordSide: row.record_side as Side | null,
    directions: (row.direction_counters as SyncExecution['directions'] | null) ?? null,
    startedAt: row.started_at,
    completedAt: row.completed_at,
    durationSeconds: row.duration_seconds === null ? null : Number(row.duration_seconds),
    createdAt: row.created_at,
  };
}

export function toFailure(row: Selectable<DB['record_failures']>): RecordFailure {
  return {
    id: String(row.id),
    executionId: row.execution_id,
    jobId: row.job_id,
    recordKey: row.record_key,
    side: row.side as Side,
    phase: row.phase as RecordFailure['phase'],
    errorKind: row.error_kind,
    message: row.message,
    createdAt: row.created_at,
  };
}

export function toDeadLetter(row: Selectable<DB['dead_letters']>): DeadLetter {
  return {
    id: row.id,
    jobId: row.job_id,
    recordKey: row.record_key,
    side: row.side as Side,
    failureCount: row.failure_count,
    lastError: row.last_error,
    lastExecutionId: row.last_execution_id,
    status: row.status as DeadLetter['status'],
    firstFailedAt: row.first_failed_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** The columns of a queued execution cancelled before any worker started it (it is final at once). */
export function cancelledBeforeStart(reason: string) {
  return {
    status: 'cancelled',
    halt_reason: reason,
    halt_kind: 'cancelled',
    cancel_requested_at: sql<Date>`now()`,
    started_at: sql<Date>`coalesce(started_at, now())`,
    completed_at: sql<Date>`now()`,
    duration_seconds: 0,
  } as const;
}
