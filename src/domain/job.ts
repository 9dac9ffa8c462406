/**
 * Input schemas for connections and sync jobs (SPEC "Creating a Sync Job"), with the rules that span fields:
 * a bidirectional job needs a conflict strategy and only a bidirectional job may have one, a cron schedule
 * must parse and fire at least once more in a valid IANA time zone, and a job's connection never changes.
 *
 * Parse with `parseInput(schema, input)` from `./validate.ts` to get a `ValidationError` listing every issue.
 */
import * as z from 'zod';
import { validateCron, validateTimezone } from './cron.ts';
import type { FieldIssue } from './errors.ts';
import { fieldMappingRulesSchema } from './mapping.ts';
import type { SyncJob } from './types.ts';
import { CONFLICT_STRATEGIES, DELETE_POLICIES, DIRECTIONS, SYNC_MODES } from './types.ts';
import { parseInput } from './validate.ts';

// ---------------------------------------------------------------------------------------------------------
// Connections
// ---------------------------------------------------------------------------------------------------------

/** Provider ids are lowercase slugs: `stripe`, `google-sheets`, `quickbooks_online`. */
const PROVIDER_SLUG = /^[a-z0-9]+(?:[-_][a-z0-9]+)*$/;

export const connectionInputSchema = z.strictObject({
  name: z.string().trim().min(1).max(200),
  provider: z
    .string()
    .min(1, { abort: true })
    .max(100)
    .regex(PROVIDER_SLUG, { error: 'must be a lowercase slug such as stripe or google-sheets (a-z, 0-9, - and _)' }),
  /** Non-secret settings, e.g. an API base URL. */
  config: z.record(z.string(), z.unknown()).default(() => ({})),
  /** Secrets, encrypted before they are stored. */
  credentials: z.record(z.string(), z.string()).default(() => ({})),
});
export type ConnectionInput = z.output<typeof connectionInputSchema>;

/** Changing a connection: its provider stays; `credentials` are merged by key into the stored ones. */
export const connectionPatchSchema = z.strictObject({
  provider: z.never({ error: 'cannot be changed; create a new connection for another provider' }).optional(),
  name: connectionInputSchema.shape.name.optional(),
  config: z.record(z.string(), z.unknown()).optional(),
  credentials: z.record(z.string(), z.string()).optional(),
});

// ---------------------------------------------------------------------------------------------------------
// Schedules
// ---------------------------------------------------------------------------------------------------------

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const manualScheduleSchema = z.strictObject({ type: z.literal('manual') });

const cronScheduleSchema = z
  .strictObject({
    type: z.literal('cron'),
    cron: z.string().trim().min(1),
    timezone: z.string().trim().min(1).default('UTC'),
  })
  .superRefine(
    (schedule, ctx) => {
      // Runs even when another field failed, so a bad cron and a bad zone are both reported.
      const { cron, timezone } = schedule as Record<string, unknown>;
      let zone = 'UTC';
      if (typeof timezone === 'string' && timezone !== '') {
        const problem = validateTimezone(timezone);
        if (problem === null) zone = timezone;
        else ctx.addIssue({ code: 'custom', path: ['timezone'], message: problem, input: timezone });
      }
      if (typeof cron === 'string' && cron !== '') {
        const problem = validateCron(cron, zone);
        if (problem !== null) ctx.addIssue({ code: 'custom', path: ['cron'], message: problem, input: cron });
      }
    },
    { when: (payload) => isRecord(payload.value) },
  );

/** `{ type: 'manual' }` or `{ type: 'cron', cron, timezone = 'UTC' }`. */
export const scheduleSchema = z.discriminatedUnion('type', [manualScheduleSchema, cronScheduleSchema]);
export type ScheduleInput = z.output<typeof scheduleSchema>;

// ---------------------------------------------------------------------------------------------------------
// Sync jobs
// ---------------------------------------------------------------------------------------------------------

const between = (min: number, max: number, unit = '') => ({ error: `must be between ${min} and ${max}${unit}` });

/** The fields of a job without defaults: shared by the create schema (which adds defaults) and the patch schema. */
const jobFields = {
  connectionId: z.string().trim().min(1),
  name: z.string().trim().min(1).max(200),
  entityType: z.string().trim().min(1),
  localEntity: z.string().trim().min(1).max(200).nullable(),
  direction: z.enum(DIRECTIONS),
  mode: z.enum(SYNC_MODES),
  schedule: scheduleSchema,
  retryOnFailure: z.boolean(),
  maxRetries: z.int().min(1, between(1, 10)).max(10, between(1, 10)),
  timeoutMinutes: z
    .int()
    .min(1, between(1, 1440, ' minutes'))
    .max(1440, between(1, 1440, ' minutes')),
  conflictStrategy: z.enum(CONFLICT_STRATEGIES).nullable(),
  deletePolicy: z.enum(DELETE_POLICIES, { error: 'must be one of ignore, soft_delete, hard_delete' }),
  massDeleteThreshold: z
    .number({ error: 'must be a percentage between 0 and 100' })
    .gt(0, 'must be a percentage greater than 0 and at most 100')
    .max(100, 'must be a percentage greater than 0 and at most 100'),
  enabled: z.boolean(),
  fieldMappings: fieldMappingRulesSchema,
};

/** Bidirectional jobs need a conflict strategy; inbound and outbound jobs must not have one. */
function checkConflictStrategy(job: unknown, ctx: z.core.$RefinementCtx): void {
  if (!isRecord(job)) return;
  const { direction, conflictStrategy } = job;
  const hasStrategy = conflictStrategy !== undefined && conflictStrategy !== null;
  if (direction === 'bidirectional' && !hasStrategy) {
    ctx.addIssue({ code: 'custom', path: ['conflictStrategy'], message: 'is required for bidirectional jobs' });
  } else if ((direction === 'inbound' || direction === 'outbound') && hasStrategy) {
    ctx.addIssue({
      code: 'custom',
      path: ['conflictStrategy'],
      message: 'is only allowed for bidirectional jobs',
      input: conflictStrategy,
    });
  }
}

/** Creating a job: the SPEC table, with its defaults. Unknown keys are refused. */
export const syncJobInputSchema = z
  .strictObject({
    connectionId: jobFields.connectionId,
    name: jobFields.name,
    entityType: jobFields.entityType,
    localEntity: jobFields.localEntity.default(null),
    direction: jobFields.direction,
    mode: jobFields.mode.default('full'),
    schedule: jobFields.schedule.default(() => ({ type: 'manual' as const })),
    retryOnFailure: jobFields.retryOnFailure.default(true),
    maxRetries: jobFields.maxRetries.default(3),
    timeoutMinutes: jobFields.timeoutMinutes.default(60),
    conflictStrategy: jobFields.conflictStrategy.default(null),
    deletePolicy: jobFields.deletePolicy.default('ignore'),
    massDeleteThreshold: jobFields.massDeleteThreshold.default(20),
    enabled: jobFields.enabled.default(true),
    fieldMappings: fieldMappingRulesSchema.default(() => []),
  })
  // Runs even when other fields failed, so every problem is reported at once.
  .superRefine(checkConflictStrategy, { when: (payload) => isRecord(payload.value) });

/** A validated job input, defaults applied. */
export type SyncJobInput = z.output<typeof syncJobInputSchema>;

/**
 * Updating a job: any field but `connectionId` (a job stays on its connection), no defaults.
 * `schedule` and `fieldMappings` are replaced whole; `conflictStrategy: null` removes the strategy.
 * Rules that span fields are checked by `mergeJobPatch` on the merged result.
 */
export const syncJobPatchSchema = z.strictObject({
  connectionId: z.never({ error: 'cannot be changed; create a new job for another connection' }).optional(),
  name: jobFields.name.optional(),
  entityType: jobFields.entityType.optional(),
  localEntity: jobFields.localEntity.optional(),
  direction: jobFields.direction.optional(),
  mode: jobFields.mode.optional(),
  schedule: jobFields.schedule.optional(),
  retryOnFailure: jobFields.retryOnFailure.optional(),
  maxRetries: jobFields.maxRetries.optional(),
  timeoutMinutes: jobFields.timeoutMinutes.optional(),
  conflictStrategy: jobFields.conflictStrategy.optional(),
  deletePolicy: jobFields.deletePolicy.optional(),
  massDeleteThreshold: jobFields.massDeleteThreshold.optional(),
  enabled: jobFields.enabled.optional(),
  fieldMappings: jobFields.fieldMappings.optional(),
});
export type SyncJobPatch = z.output<typeof syncJobPatchSchema>;

type JobFieldKey = keyof SyncJobInput;
const JOB_FIELD_KEYS = Object.keys(syncJobInputSchema.shape) as JobFieldKey[];

/** The editable fields of a stored job (a `SyncJob` or a `SyncJobInput` both fit). */
export type SyncJobFields = Pick<SyncJob, JobFieldKey>;

/**
 * Applies `patch` (validated with `syncJobPatchSchema`) to the job fields `current` and re-validates the
 * result with `syncJobInputSchema`, so the cross-field rules hold: switching to bidirectional without a
 * strategy fails. Switching away from bidirectional drops the strategy unless the patch sets one.
 * Throws a `ValidationError` listing every issue (of the patch, else of the merged job).
 */
export function mergeJobPatch(current: SyncJobFields | SyncJobInput, patch: unknown): SyncJobInput {
  const changes = parseInput(syncJobPatchSchema, patch);
  const merged: Record<string, unknown> = {};
  for (const key of JOB_FIELD_KEYS) merged[key] = current[key];
  for (const [key, value] of Object.entries(changes)) {
    if (value !== undefined) merged[key] = value;
  }
  if (
    changes.direction !== undefined &&
    changes.direction !== 'bidirectional' &&
    changes.conflictStrategy === undefined
  ) {
    merged.conflictStrategy = null;
  }
  return parseInput(syncJobInputSchema, merged);
}

/**
 * Checks a job's entity type against the ones its provider declares.
 * `entityType: must be one of customer, invoice (declared by provider stripe)`.
 */
export function validateEntityType(
  entityType: string,
  declared: readonly string[],
  provider: string,
): FieldIssue | null {
  if (declared.includes(entityType)) return null;
  if (declared.length === 0) {
    return { path: 'entityType', message: `cannot be used: provider ${provider} declares no entity types` };
  }
  return { path: 'entityType', message: `must be one of ${declared.join(', ')} (declared by provider ${provider})` };
}
