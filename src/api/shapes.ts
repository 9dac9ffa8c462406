/**
 * The REST API's shapes: request bodies (validated with zod, unknown fields refused) and their translation to
 * the library's types, and the JSON the API returns. The API is flat where the library is structured
 * (`schedule` + `timezone` instead of `{ type, cron, timezone }`, `transform` + `transformArgs` instead of
 * `{ name, args }`), so validation issues from the library are mapped back to the request's own field paths.
 */
import * as z from 'zod';
import { type FieldIssue, ValidationError } from '../domain/errors.ts';
import type { Connection, DeadLetter, FieldMappingRule, SyncExecution, SyncJob } from '../domain/types.ts';
import { EXECUTION_STATUSES, TRIGGERS } from '../domain/types.ts';
import { parseInput } from '../domain/validate.ts';

// ── requests ────────────────────────────────────────────────────────────────

const apiRuleSchema = z.strictObject({
  sourceField: z.unknown(),
  targetField: z.unknown(),
  transform: z.unknown().optional(),
  transformArgs: z.unknown().optional(),
  defaultValue: z.unknown().optional(),
  direction: z.unknown().optional(),
});

/** Job fields the API accepts; values are checked by the library's schema after translation. */
const apiJobKeys = {
  connectionId: z.unknown().optional(),
  name: z.unknown().optional(),
  entityType: z.unknown().optional(),
  localEntity: z.unknown().optional(),
  direction: z.unknown().optional(),
  mode: z.unknown().optional(),
  schedule: z.union([z.string(), z.null()], { error: 'must be a cron expression, or null for manual only' }).optional(),
  timezone: z.string({ error: 'must be an IANA time zone such as Europe/Berlin' }).optional(),
  retryOnFailure: z.unknown().optional(),
  maxRetries: z.unknown().optional(),
  timeoutMinutes: z.unknown().optional(),
  conflictStrategy: z.unknown().optional(),
  deletePolicy: z.unknown().optional(),
  massDeleteThreshold: z.unknown().optional(),
  enabled: z.unknown().optional(),
  fieldMappings: z.array(apiRuleSchema, { error: 'must be a list of field mapping rules' }).optional(),
};
export const apiJobBodySchema = z.strictObject(apiJobKeys);
export type ApiJobBody = z.output<typeof apiJobBodySchema>;

function toRule(rule: z.output<typeof apiRuleSchema>): Record<string, unknown> {
  const out: Record<string, unknown> = {
    sourceField: rule.sourceField,
    targetField: rule.targetField,
    direction: rule.direction ?? 'inbound',
  };
  if (rule.transform !== undefined && rule.transform !== null && rule.transform !== '') {
    out.transform =
      typeof rule.transform === 'string'
        ? { name: rule.transform, ...(rule.transformArgs === undefined ? {} : { args: rule.transformArgs }) }
        : rule.transform;
  }
  if (rule.defaultValue !== undefined) out.defaultValue = rule.defaultValue;
  return out;
}

function toSchedule(cron: string | null | undefined, timezone: string | undefined): unknown {
  if (cron === null || cron === undefined || cron.trim() === '' || cron.trim() === 'manual') return { type: 'manual' };
  return { type: 'cron', cron, timezone: timezone ?? 'UTC' };
}

/**
 * A create body in the library's shape. Only keys that were sent are set, so the library's defaults apply.
 * `current` (for PATCH) supplies the other half of schedule/timezone when only one is sent.
 */
export function toLibraryJob(body: unknown, current?: SyncJob): Record<string, unknown> {
  const parsed = parseInput(apiJobBodySchema, body);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (value === undefined || key === 'schedule' || key === 'timezone' || key === 'fieldMappings') continue;
    out[key] = value;
  }
  if (parsed.schedule !== undefined || parsed.timezone !== undefined) {
    const cron =
      parsed.schedule !== undefined
        ? parsed.schedule
        : current?.schedule.type === 'cron'
          ? current.schedule.cron
          : null;
    const zone = parsed.timezone ?? (current?.schedule.type === 'cron' ? current.schedule.timezone : undefined);
    if (cron !== null || parsed.schedule !== undefined || current === undefined) out.schedule = toSchedule(cron, zone);
  }
  if (parsed.fieldMappings !== undefined) out.fieldMappings = parsed.fieldMappings.map(toRule);
  return out;
}

/** Library issue paths → the API request's paths. */
export function toApiIssues(issues: readonly FieldIssue[]): FieldIssue[] {
  return issues.map((issue) => {
    let path = issue.path;
    if (path === 'schedule.cron' || path === 'schedule.type') path = 'schedule';
    else if (path === 'schedule.timezone') path = 'timezone';
    else
      path = path.replace(/^(fieldMappings\.\d+)\.transform\.(name|args)(\..*)?$/, (_m, p, k) =>
        k === 'name' ? `${p}.transform` : `${p}.transformArgs`,
      );
    return { ...issue, path };
  });
}

/** Runs `fn`, re-throwing validation errors with the API's field paths. */
export async function withApiPaths<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ValidationError) throw new ValidationError(toApiIssues(err.issues), { cause: err });
    throw err;
  }
}

const listOf = <T extends string>(values: readonly T[], name: string) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return undefined;
      const items = v.split(',').map((s) => s.trim());
      for (const item of items) {
        if (!values.includes(item as T)) {
          ctx.addIssue({ code: 'custom', message: `unknown ${name} "${item}"; one of ${values.join(', ')}` });
          return z.NEVER;
        }
      }
      return items as T[];
    });

const limitSchema = z.coerce
  .number({ error: 'must be a number' })
  .int({ error: 'must be an integer' })
  .min(1, { error: 'must be between 1 and 500' })
  .max(500, { error: 'must be between 1 and 500' })
  .optional();

export const executionListQuery = z.strictObject({
  status: listOf(EXECUTION_STATUSES, 'status'),
  trigger: listOf(TRIGGERS, 'trigger'),
  limit: limitSchema,
  cursor: z.string().optional(),
});

export const pageQuery = z.strictObject({ limit: limitSchema, cursor: z.string().optional() });

export const deadLetterListQuery = z.strictObject({
  status: z.enum(['open', 'retried', 'resolved', 'discarded']).optional(),
  limit: limitSchema,
  cursor: z.string().optional(),
});

export const conflictListQuery = z.strictObject({
  status: z.enum(['open', 'resolved']).optional(),
  limit: limitSchema,
  cursor: z.string().optional(),
});

export const recordQuery = z.strictObject({
  side: z.enum(['local', 'provider'], { error: 'must be local or provider' }).optional(),
});

/** A name search of a list: contains this text, any case (trimmed; blank: no search). */
const nameSearch = z
  .string({ error: 'must be text' })
  .max(200, { error: 'must be at most 200 characters (names are)' })
  .optional();

export const jobListQuery = z.strictObject({
  connectionId: z.string().optional(),
  q: nameSearch,
  limit: limitSchema,
  cursor: z.string().optional(),
});

export const connectionListQuery = z.strictObject({ q: nameSearch, limit: limitSchema, cursor: z.string().optional() });

/** DELETE /sync-jobs/{id}: archives; `purge=true&confirm=<the job's id>` deletes it with its history. */
export const jobDeleteQuery = z.strictObject({
  purge: z.enum(['true', 'false'], { error: 'must be true or false' }).optional(),
  confirm: z.string().optional(),
});

// ── responses ───────────────────────────────────────────────────────────────

export interface ExecutionSummary {
  id: string;
  status: SyncExecution['status'];
  trigger: SyncExecution['trigger'];
  startedAt: Date | null;
  completedAt: Date | null;
}

export function toSummary(e: SyncExecution | null | undefined): ExecutionSummary | null {
  if (!e) return null;
  return { id: e.id, status: e.status, trigger: e.trigger, startedAt: e.startedAt, completedAt: e.completedAt };
}

export function apiRule(rule: FieldMappingRule) {
  return {
    sourceField: rule.sourceField,
    targetField: rule.targetField,
    transform: rule.transform?.name ?? null,
    ...(rule.transform?.args === undefined ? {} : { transformArgs: rule.transform.args }),
    ...(rule.defaultValue === undefined ? {} : { defaultValue: rule.defaultValue }),
    direction: rule.direction,
  };
}

export function apiJob(job: SyncJob, lastRun: SyncExecution | null, openConflicts = 0) {
  return {
    id: job.id,
    connectionId: job.connectionId,
    name: job.name,
    entityType: job.entityType,
    localEntity: job.localEntity ?? job.entityType,
    direction: job.direction,
    mode: job.mode,
    schedule: job.schedule.type === 'cron' ? job.schedule.cron : null,
    timezone: job.schedule.type === 'cron' ? job.schedule.timezone : 'UTC',
    retryOnFailure: job.retryOnFailure,
    maxRetries: job.maxRetries,
    timeoutMinutes: job.timeoutMinutes,
    conflictStrategy: job.conflictStrategy,
    deletePolicy: job.deletePolicy,
    massDeleteThreshold: job.massDeleteThreshold,
    enabled: job.enabled,
    fieldMappings: job.fieldMappings.map(apiRule),
    lastRunAt: job.lastRunAt,
    nextRunAt: job.nextRunAt,
    archivedAt: job.archivedAt,
    lastRun: toSummary(lastRun),
    openConflicts,
    createdAt: job.createdAt,
    updatedAt: job.updatedAt,
  };
}

/** A connection's status: the result of its last Test connection. */
function connectionStatus(test: Connection['lastTest']): 'connected' | 'error' | 'untested' {
  return test === null ? 'untested' : test.ok ? 'connected' : 'error';
}

export function apiConnection(
  conn: Connection,
  extra: { jobCount: number; lastRun: SyncExecution | null; webhookUrl: string },
) {
  return {
    id: conn.id,
    name: conn.name,
    provider: conn.provider,
    config: conn.config,
    status: connectionStatus(conn.lastTest),
    statusMessage: conn.lastTest?.message ?? null,
    lastTestedAt: conn.lastTest?.testedAt ?? null,
    jobCount: extra.jobCount,
    lastRun: toSummary(extra.lastRun),
    webhookUrl: extra.webhookUrl,
    createdAt: conn.createdAt,
    updatedAt: conn.updatedAt,
  };
}

const RUN_ERROR_STATUSES = new Set(['failed', 'timed_out', 'cancelled']);

export function apiExecution(e: SyncExecution) {
  return {
    id: e.id,
    jobId: e.jobId,
    status: e.status,
    trigger: e.trigger,
    attempt: e.attempt,
    processed: e.processed,
    created: e.created,
    updated: e.updated,
    deleted: e.deleted,
    skipped: e.skipped,
    failed: e.failed,
    conflicts: e.conflicts,
    directions: e.directions,
    startedAt: e.startedAt,
    completedAt: e.completedAt,
    durationSeconds: e.durationSeconds,
    haltReason: e.haltReason,
    haltKind: e.haltKind,
    heldDeletions: e.heldDeletions,
    timing: e.timing,
    error: RUN_ERROR_STATUSES.has(e.status) ? (e.haltReason ?? e.status) : null,
    recordKeys: e.recordKeys,
    recordSide: e.recordSide,
    createdAt: e.createdAt,
  };
}

export function apiDeadLetter(d: DeadLetter) {
  return { ...d, lastFailedAt: d.updatedAt };
}
