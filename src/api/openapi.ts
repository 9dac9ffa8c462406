/**
 * JSON Schemas of the API's resources, for the OpenAPI document (`/api/openapi.json`). Requests are
 * validated by the zod schemas in `shapes.ts`; these describe the same shapes for readers and client
 * generators. The web UI's types are generated from this document (`npm run api:types` →
 * web/src/api-schema.ts), so a response property the UI reads must be declared here, and required when the
 * server always sends it.
 *
 * The server serializes responses with JSON.stringify (server.ts): these schemas never strip a field, so a
 * field the server sends but the schema omits is invisible to the UI's types only.
 */
import {
  CONFLICT_STRATEGIES,
  DELETE_POLICIES,
  DIRECTIONS,
  EXECUTION_STATUSES,
  HALT_KINDS,
  SYNC_MODES,
  TRIGGERS,
} from '../domain/types.ts';

const str = { type: 'string' } as const;
const nullableStr = { type: ['string', 'null'] } as const;
const dateTime = { type: 'string', format: 'date-time' } as const;
const nullableDateTime = { type: ['string', 'null'], format: 'date-time' } as const;
const int = { type: 'integer' } as const;
const bool = { type: 'boolean' } as const;
const uuid = { type: 'string', format: 'uuid' } as const;
/** An object with any properties (provider config, transform arguments). */
const openObject = { type: 'object', additionalProperties: true } as const;
const arrayOf = (items: object) => ({ type: 'array', items }) as const;
/** A reference to one of `schemas` by its `$id` (the OpenAPI document turns it into `#/components/schemas/…`). */
const $ref = (name: string) => ({ $ref: `${name}#` });
const nullable = (schema: object) => ({ anyOf: [schema, { type: 'null' }] });

/** An object schema whose properties are all required, except `optional` ones (sent only when set). */
function object(properties: Record<string, object>, optional: readonly string[] = []) {
  return {
    type: 'object',
    required: Object.keys(properties).filter((k) => !optional.includes(k)),
    properties,
  } as const;
}

const side = { enum: ['local', 'provider'] } as const;
const deadLetterStatus = { enum: ['open', 'retried', 'resolved', 'discarded'] } as const;

/** A field mapping rule in a request: only the two paths are required. */
const rule = {
  type: 'object',
  required: ['sourceField', 'targetField'],
  additionalProperties: false,
  properties: {
    sourceField: { ...str, description: 'Dot path in the source record, e.g. address.city' },
    targetField: { ...str, description: 'Dot path in the target record' },
    transform: { type: ['string', 'null'], description: 'A transform name from GET /transforms' },
    transformArgs: { ...openObject, description: 'Arguments of map_values, concat and template' },
    defaultValue: { description: 'Used when the source value is null or missing' },
    direction: { enum: ['inbound', 'outbound'], default: 'inbound' },
  },
};

const jobFields = {
  connectionId: uuid,
  name: { ...str, minLength: 1, maxLength: 200 },
  entityType: { ...str, description: 'An entity type of the connection’s provider' },
  localEntity: { ...str, description: 'A local entity from GET /local-entities; default: the entity type' },
  direction: { enum: DIRECTIONS },
  mode: { enum: SYNC_MODES, default: 'full' },
  schedule: { type: ['string', 'null'], description: 'Cron expression (5 or 6 fields); null: manual only' },
  timezone: { ...str, default: 'UTC', description: 'IANA time zone of the cron schedule' },
  retryOnFailure: { type: 'boolean', default: true },
  maxRetries: { ...int, minimum: 1, maximum: 10, default: 3 },
  timeoutMinutes: { ...int, minimum: 1, maximum: 1440, default: 60 },
  conflictStrategy: {
    enum: [...CONFLICT_STRATEGIES, null],
    description: 'Required for bidirectional jobs, refused for the others',
  },
  deletePolicy: {
    enum: DELETE_POLICIES,
    default: 'ignore',
    description:
      'A record deleted at the source: ignore (the target keeps it), soft_delete (the target keeps it, marked ' +
      'deleted: a local entity needs its deletedAt column), hard_delete (the target record is deleted)',
  },
  massDeleteThreshold: {
    type: 'number',
    exclusiveMinimum: 0,
    maximum: 100,
    default: 20,
    description:
      'Mass-delete protection: a run that would delete more than this percentage of the synced records deletes ' +
      'nothing and holds its deletions for POST /executions/{id}/apply-deletions',
  },
  enabled: { type: 'boolean', default: true },
  fieldMappings: arrayOf(rule),
};

export const jobCreateBody = {
  type: 'object',
  additionalProperties: false,
  required: ['connectionId', 'name', 'entityType', 'direction'],
  properties: jobFields,
};

export const jobPatchBody = {
  type: 'object',
  additionalProperties: false,
  properties: Object.fromEntries(Object.entries(jobFields).filter(([k]) => k !== 'connectionId')),
};

export const connectionCreateBody = {
  type: 'object',
  additionalProperties: false,
  required: ['provider', 'name'],
  properties: {
    provider: { ...str, description: 'A provider name from GET /providers' },
    name: str,
    config: { ...openObject, description: 'Non-secret settings (the provider’s `config` settings)' },
    credentials: {
      type: 'object',
      additionalProperties: str,
      description: 'Secrets (the provider’s `credentials` settings); encrypted at rest, never returned',
    },
  },
};

export const conflictResolveBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    winner: { enum: ['local', 'provider'], description: 'One side wins whole' },
    fields: {
      type: 'object',
      additionalProperties: { enum: ['local', 'provider'] },
      description: 'Or a side per differing field (not for a deletion against an update)',
    },
    resolvedBy: { ...str, maxLength: 200, description: 'Who resolved it (recorded)' },
  },
};

export const connectionPatchBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    name: str,
    config: openObject,
    credentials: {
      type: 'object',
      additionalProperties: str,
      description:
        'Merged by key into the stored ones. Required (the full set, replacing the stored ones) when `config` ' +
        'changes a setting with `credentialTarget` (where credentials are sent); the full set also replaces ' +
        'stored credentials that cannot be opened',
    },
  },
};

const counterProperties = {
  processed: int,
  created: int,
  updated: int,
  deleted: { ...int, description: 'Records deleted (or marked deleted) on the target: deleted at the source' },
  skipped: int,
  failed: int,
  conflicts: { ...int, description: 'Records left in conflict for review (manual strategy); counted in skipped' },
};

const setting = object(
  {
    name: { ...str, description: 'Key in `config` or `credentials`' },
    label: str,
    type: { enum: ['string', 'url', 'number', 'boolean', 'json'] },
    required: bool,
    secret: { ...bool, description: 'Entered in a password field, never returned' },
    credentialTarget: {
      ...bool,
      description:
        'A config setting that decides where credentials are sent (an API base URL): changing it needs the ' +
        'credentials again in the same request. When absent: true for settings of type `url`',
    },
    help: str,
    placeholder: str,
  },
  ['credentialTarget', 'help', 'placeholder'],
);

export const schemas = {
  Error: object({
    error: object(
      {
        code: { ...str, examples: ['validation_failed', 'not_found', 'conflict', 'unauthorized'] },
        message: str,
        details: {
          ...arrayOf(
            object({
              path: { ...str, description: 'The request field, e.g. fieldMappings.0.transform' },
              message: str,
            }),
          ),
          description: 'validation_failed: one entry per refused field',
        },
      },
      ['details'],
    ),
  }),
  Counters: {
    ...object(counterProperties),
    description: 'Record counters of a run, or of one direction of a bidirectional run',
  },
  ExecutionSummary: {
    ...object({
      id: uuid,
      status: { enum: EXECUTION_STATUSES },
      trigger: { enum: TRIGGERS },
      startedAt: nullableDateTime,
      completedAt: nullableDateTime,
    }),
    description: 'The last run of a job (or of any job of a connection)',
  },
  Execution: object({
    id: uuid,
    jobId: uuid,
    status: { enum: EXECUTION_STATUSES },
    trigger: { enum: TRIGGERS },
    attempt: int,
    ...counterProperties,
    directions: {
      ...nullable(object({ inbound: $ref('Counters'), outbound: $ref('Counters') })),
      description:
        'Bidirectional runs: the counters of each direction (a record synced both ways counts once in each, so ' +
        'the totals are their sums); null for one-way jobs',
    },
    startedAt: nullableDateTime,
    completedAt: nullableDateTime,
    durationSeconds: { type: ['number', 'null'] },
    haltReason: { ...nullableStr, description: 'Why the run stopped early, or null' },
    haltKind: {
      enum: [...HALT_KINDS, null],
      description:
        'configuration: not retried; connection_lost: the provider could not be reached (status cancelled); worker_lost: its worker stopped',
    },
    heldDeletions: {
      type: ['integer', 'null'],
      description: 'haltKind mass_delete: the deletions held back for a person (POST /executions/{id}/apply-deletions)',
    },
    error: { ...nullableStr, description: 'For failed, timed out and cancelled runs: the halt reason or the status' },
    recordKeys: {
      type: ['array', 'null'],
      items: str,
      description: 'The records a single-record run (webhook, dead letter retry) was limited to; null: a whole run',
    },
    recordSide: { enum: ['local', 'provider', null], description: 'The side a single-record run read from' },
    createdAt: dateTime,
  }),
  FieldMapping: object(
    {
      sourceField: { ...str, description: 'Dot path in the source record, e.g. address.city' },
      targetField: { ...str, description: 'Dot path in the target record' },
      transform: { ...nullableStr, description: 'A transform name from GET /transforms' },
      transformArgs: { ...openObject, description: 'Arguments of map_values, concat and template' },
      defaultValue: { description: 'Used when the source value is null or missing' },
      direction: { enum: ['inbound', 'outbound'] },
    },
    ['transformArgs', 'defaultValue'],
  ),
  Job: object({
    id: uuid,
    ...jobFields,
    fieldMappings: arrayOf($ref('FieldMapping')),
    lastRunAt: nullableDateTime,
    nextRunAt: nullableDateTime,
    archivedAt: {
      ...nullableDateTime,
      description: 'Set once the job was deleted (archived): it no longer runs; its history stays readable',
    },
    lastRun: nullable($ref('ExecutionSummary')),
    openConflicts: { ...int, description: 'Conflicts the manual strategy left open for a person' },
    createdAt: dateTime,
    updatedAt: dateTime,
  }),
  Connection: object({
    id: uuid,
    name: str,
    provider: str,
    config: { ...openObject, description: 'Non-secret settings; credentials are never returned' },
    status: { enum: ['connected', 'error', 'untested'], description: 'The result of the last Test connection' },
    statusMessage: nullableStr,
    lastTestedAt: nullableDateTime,
    jobCount: int,
    lastRun: nullable($ref('ExecutionSummary')),
    webhookUrl: { ...str, description: 'Where the provider should send webhooks for this connection' },
    createdAt: dateTime,
    updatedAt: dateTime,
  }),
  ConnectionTest: object({ ok: bool, message: str }),
  Failure: object({
    id: str,
    executionId: uuid,
    jobId: uuid,
    recordKey: str,
    side,
    phase: { enum: ['fetch', 'map', 'conflict', 'write'] },
    errorKind: str,
    message: str,
    createdAt: dateTime,
  }),
  DeadLetter: object({
    id: uuid,
    jobId: uuid,
    recordKey: str,
    side,
    failureCount: int,
    lastError: str,
    lastExecutionId: uuid,
    status: deadLetterStatus,
    firstFailedAt: { ...dateTime, description: 'The record’s first failure (in the first execution that failed it)' },
    lastFailedAt: dateTime,
    createdAt: { ...dateTime, description: 'When it entered the queue (parked)' },
    updatedAt: dateTime,
  }),
  RunStarted: object({
    executionId: uuid,
    coalesced: { ...bool, description: 'True when the run joined one already queued' },
  }),
  RetryStarted: object({ executionId: uuid }),
  Conflict: object({
    id: uuid,
    jobId: uuid,
    executionId: { ...nullable(uuid), description: 'The execution that raised it (last raised while open)' },
    localId: str,
    externalId: str,
    localContent: {
      ...nullable(openObject),
      description: 'The local record’s mapped fields (local field names); null when deleted locally',
    },
    providerContent: {
      ...nullable(openObject),
      description: 'The provider record mapped inbound (local field names); null when deleted at the provider',
    },
    fields: { ...arrayOf(str), description: 'The fields whose values differ' },
    localDeleted: bool,
    providerDeleted: bool,
    status: { enum: ['open', 'resolved'] },
    resolution: {
      ...nullable(openObject),
      description: '{"winner": "local"|"provider"} or {"fields": {"email": "local", …}}',
    },
    resolvedBy: nullableStr,
    resolvedAt: nullableDateTime,
    createdAt: dateTime,
    updatedAt: dateTime,
  }),
  Setting: setting,
  EntityType: object({
    name: str,
    label: str,
    fields: arrayOf(
      object(
        {
          name: { ...str, description: 'Dot path in the record, e.g. email or address.city' },
          type: { enum: ['string', 'number', 'boolean', 'datetime', 'object', 'array'] },
          label: str,
        },
        ['label'],
      ),
    ),
    supports: object(
      {
        inbound: bool,
        outbound: bool,
        incremental: bool,
        webhooks: bool,
        deletes: { ...bool, description: 'Reports deletions (incremental reads, webhooks) and can delete outbound' },
        softDeletes: { ...bool, description: 'False: can only delete outright (no soft_delete outbound)' },
      },
      ['deletes', 'softDeletes'],
    ),
  }),
  Provider: object(
    {
      name: str,
      displayName: str,
      description: str,
      config: { ...arrayOf($ref('Setting')), description: 'Non-secret settings (a connection’s `config`)' },
      credentials: { ...arrayOf($ref('Setting')), description: 'Secrets (a connection’s `credentials`)' },
      entityTypes: arrayOf($ref('EntityType')),
    },
    ['description'],
  ),
  Transform: object({ name: str, description: str }),
  LocalEntity: object({
    name: str,
    table: str,
    primaryKey: str,
    updatedAt: { ...nullableStr, description: 'The column incremental outbound runs read changes by' },
    deletedAt: {
      ...nullableStr,
      description: 'The soft-delete column (soft_delete jobs mark rows there); null: soft_delete is not possible',
    },
    fields: {
      ...nullable(arrayOf(object({ name: str, type: str }))),
      description: 'The table’s columns; null when the table does not exist (yet)',
    },
  }),
} as const;

export type SchemaName = keyof typeof schemas;
export const ref = (name: SchemaName) => $ref(name);
export const listOf = (name: SchemaName, paginated = false) =>
  object({
    items: arrayOf(ref(name)),
    ...(paginated ? { nextCursor: { ...nullableStr, description: 'The next page’s `cursor`; null: last page' } } : {}),
  });

/** The error responses every API route may answer (see server.ts). */
export const errors = {
  '4xx': {
    description: 'Refused: validation_failed (400), unauthorized (401), not_found (404), conflict (409), …',
    ...ref('Error'),
  },
  '5xx': { description: 'Internal error (see the server log)', ...ref('Error') },
} as const;

/** A response without a body. */
export const noContent = { type: 'null', description: 'No content' } as const;
