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
import { ALERT_EVENTS, CHANNEL_TYPES } from '../domain/alerts.ts';
import {
  CONFLICT_STRATEGIES,
  DELETE_POLICIES,
  DIRECTIONS,
  EXECUTION_STATUSES,
  HALT_KINDS,
  SYNC_MODES,
  TRIGGERS,
} from '../domain/types.ts';
import { restBuilderSchemas } from './rest-builder-schemas.ts';

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

const previewLimit = {
  ...int,
  minimum: 1,
  maximum: 200,
  default: 20,
  description: 'Source records to read per leg',
};

export const previewBody = {
  type: 'object',
  additionalProperties: false,
  properties: { limit: previewLimit },
};

export const draftPreviewBody = {
  type: 'object',
  additionalProperties: false,
  required: ['job'],
  properties: {
    job: { ...jobCreateBody, description: 'A job as POST /sync-jobs takes it (not saved)' },
    limit: previewLimit,
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

const channelFields = {
  name: { ...str, minLength: 1, maxLength: 200 },
  url: {
    ...str,
    format: 'uri',
    maxLength: 2048,
    description:
      'http(s), without credentials (user:password@) or fragment; subject to the outbound request policy (a URL ' +
      'it refuses is a 400 at `url`)',
  },
  events: {
    type: 'array',
    minItems: 1,
    items: { enum: ALERT_EVENTS },
    description: 'The events this channel receives',
  },
  jobId: { type: ['string', 'null'], format: 'uuid', description: 'Only this sync job’s alerts; null: every job' },
  enabled: { type: 'boolean', default: true },
};

export const channelCreateBody = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'type', 'url', 'events'],
  properties: {
    ...channelFields,
    type: {
      enum: CHANNEL_TYPES,
      description: 'webhook: a signed JSON POST (Otesse-Signature); slack: a Slack incoming webhook message',
    },
  },
};

export const channelPatchBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ...channelFields,
    rotateSecret: {
      type: 'boolean',
      description:
        'Webhook channels: a new signing secret, returned in the response this once; the old one stops working',
    },
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
    timing: {
      ...nullable(
        object({
          readMs: { ...int, description: 'Reading the source (pages and records by id), retries included' },
          writeMs: { ...int, description: 'Writing: endpoint writes and page commits' },
          rateLimitWaitMs: { ...int, description: 'Waiting after 429 answers (Retry-After honoured)' },
          retryWaitMs: { ...int, description: 'Waiting to retry other transient failures (5xx, network)' },
        }),
      ),
      description: 'Where a finished execution’s time went; null until it finishes',
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
  RecordInspection: (() => {
    const inspectedSide = object({
      id: nullableStr,
      state: { enum: ['found', 'deleted', 'missing', 'unavailable'] },
      content: { ...nullable(openObject), description: 'The record as this side has it now (read live)' },
      updatedAt: nullableStr,
      mapped: { ...nullable(openObject), description: 'What the job maps it to for the other side' },
      problem: nullableStr,
    });
    return object({
      jobId: uuid,
      side,
      key: str,
      reference: nullable(
        object({
          localId: str,
          externalId: str,
          inboundHash: nullableStr,
          outboundHash: nullableStr,
          lastSyncedAt: dateTime,
          createdAt: dateTime,
          deletedAt: nullableDateTime,
        }),
      ),
      local: inspectedSide,
      provider: inspectedSide,
      history: {
        ...arrayOf(
          object({
            executionId: uuid,
            at: dateTime,
            outcome: { enum: ['created', 'updated', 'deleted', 'failed', 'conflict'] },
            side,
            status: { enum: EXECUTION_STATUSES },
            trigger: { enum: TRIGGERS },
            startedAt: nullableDateTime,
          }),
        ),
        description:
          'The executions that changed the record or failed it, newest first (unchanged runs are not listed)',
      },
      failures: arrayOf(
        object({ executionId: uuid, side, phase: str, errorKind: str, message: str, createdAt: dateTime }),
      ),
      deadLetter: nullable(
        object({ id: uuid, status: deadLetterStatus, failureCount: int, lastError: str, updatedAt: dateTime }),
      ),
      retry: nullable(object({ failureCount: int, lastError: str, lastFailedAt: dateTime })),
      openConflictId: { ...nullable(uuid) },
    });
  })(),
  PreviewItem: object({
    leg: { enum: ['inbound', 'outbound'] },
    recordKey: { ...str, description: 'The record’s id on the side it is read from' },
    action: { enum: ['create', 'update', 'skip', 'conflict', 'fail', 'delete'] },
    writes: { enum: ['local', 'provider', null], description: 'The side the next run would write' },
    targetId: { ...nullableStr, description: 'The written record’s id there (null for a create)' },
    diff: {
      ...arrayOf(object({ field: str, from: {}, to: {} })),
      description: 'Field changes: the target’s current value → the new value',
    },
    reason: { ...nullableStr, description: 'Why: a skip’s reason, a failure’s or conflict’s message' },
  }),
  Preview: object({
    items: arrayOf($ref('PreviewItem')),
    summary: {
      ...object({ create: int, update: int, skip: int, conflict: int, fail: int, delete: int }),
      description: 'How many records per planned action',
    },
  }),
  LogEntry: object({
    id: str,
    at: dateTime,
    level: { enum: ['info', 'warn', 'error'] },
    event: {
      ...str,
      description:
        'start, resumed, page, retry, rate_limited, released, a halt kind (circuit_breaker, timed_out, cancelled, ' +
        'connection_lost, error, configuration, mass_delete), log_truncated, finished',
    },
    message: str,
    data: { ...nullable(openObject), description: 'Figures and ids (never credentials or record content)' },
  }),
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
  NotificationChannel: object({
    id: uuid,
    name: str,
    type: { enum: CHANNEL_TYPES },
    url: { ...str, description: 'As given, except that query values and a Slack URL’s token are masked' },
    events: arrayOf({ enum: ALERT_EVENTS }),
    jobId: { ...nullable(uuid), description: 'Only this sync job’s alerts; null: every job' },
    enabled: bool,
    lastDelivery: {
      ...nullable(
        object({
          outcome: { enum: ['delivered', 'retrying', 'failed'] },
          statusCode: { type: ['integer', 'null'] },
          at: dateTime,
        }),
      ),
      description: 'The newest delivery attempt, or null',
    },
    createdAt: dateTime,
    updatedAt: dateTime,
  }),
  NotificationChannelWithSecret: object({
    id: uuid,
    name: str,
    type: { enum: CHANNEL_TYPES },
    url: str,
    events: arrayOf({ enum: ALERT_EVENTS }),
    jobId: nullable(uuid),
    enabled: bool,
    lastDelivery: nullable(
      object({
        outcome: { enum: ['delivered', 'retrying', 'failed'] },
        statusCode: { type: ['integer', 'null'] },
        at: dateTime,
      }),
    ),
    createdAt: dateTime,
    updatedAt: dateTime,
    signingSecret: {
      ...nullableStr,
      description:
        'Webhook channels: the key of the Otesse-Signature HMAC, shown on creation (and on rotateSecret) only; ' +
        'null otherwise',
    },
  }),
  AlertDelivery: object({
    id: uuid,
    channelId: uuid,
    eventId: { ...uuid, description: 'The alert’s id (the body’s `id`), the same for each attempt' },
    event: { enum: [...ALERT_EVENTS, 'test'] },
    jobId: nullable(uuid),
    executionId: nullable(uuid),
    summary: str,
    attempt: { ...int, description: '1 for the first attempt; retries count up' },
    outcome: {
      enum: ['delivered', 'retrying', 'failed'],
      description: 'delivered: 2xx; retrying: tried again later (backoff); failed: given up',
    },
    statusCode: { type: ['integer', 'null'], description: 'The receiver’s HTTP status; null when it did not answer' },
    error: nullableStr,
    responseExcerpt: { ...nullableStr, description: 'The start of the answer, sanitized (at most 200 characters)' },
    durationMs: { type: ['integer', 'null'] },
    createdAt: dateTime,
  }),
  FleetOverview: object({
    at: { ...dateTime, description: 'When the figures were read (the database’s clock)' },
    hours: {
      ...arrayOf(
        object({
          hour: { ...dateTime, description: 'The hour’s start (UTC)' },
          total: int,
          statuses: {
            ...object(Object.fromEntries(EXECUTION_STATUSES.map((s) => [s, int]))),
            description: 'Executions created in the hour, by their status now',
          },
        }),
      ),
      description: 'The last 24 hours, oldest first (the current hour last); hours without runs are zeros',
    },
    failingJobs: {
      ...object({
        total: { ...int, description: 'Every failing job (items lists the newest 50)' },
        items: arrayOf(
          object({
            jobId: uuid,
            jobName: str,
            enabled: bool,
            connectionId: uuid,
            connectionName: str,
            executionId: { ...uuid, description: 'The failed run' },
            lastStatus: { enum: ['failed', 'timed_out'] },
            lastRunAt: { ...nullableDateTime, description: 'When the failed run ended' },
            haltReason: nullableStr,
            consecutiveFailures: {
              ...int,
              description: 'Its newest finished runs that failed or timed out, in a row (counted up to 100)',
            },
          }),
        ),
      }),
      description:
        'Jobs (archived ones aside) whose newest finished whole run failed or timed out, the newest failures first',
    },
    deadLetters: object({
      open: { ...int, description: 'Open dead letters of the jobs that are not archived' },
      jobs: { ...int, description: 'The jobs that hold them' },
      byJob: {
        ...arrayOf(object({ jobId: uuid, jobName: str, connectionName: str, open: int })),
        description: 'The 10 jobs holding the most',
      },
    }),
    totals: object({
      connections: int,
      jobs: { ...int, description: 'Sync jobs, archived ones aside' },
      enabledJobs: int,
      runningNow: int,
      queuedNow: int,
    }),
  }),
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
  ...restBuilderSchemas,
} as const;

export type SchemaName = keyof typeof schemas;
export const ref = (name: SchemaName) => $ref(name);
export const listOf = (name: SchemaName, paginated = false) =>
  object({
    items: arrayOf(ref(name)),
    ...(paginated ? { nextCursor: { ...nullableStr, description: 'The next page’s `cursor`; null: last page' } } : {}),
  });

/** A searchable list, a page at a time: `nextCursor`, and `total`, the number of matches over all pages. */
export const searchListOf = (name: SchemaName) => {
  const list = listOf(name, true);
  return {
    ...list,
    required: [...list.required, 'total'],
    properties: { ...list.properties, total: { ...int, description: 'Every item that matches, over all pages' } },
  };
};

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
