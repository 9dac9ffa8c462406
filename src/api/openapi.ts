/**
 * JSON Schemas of the API's resources, for the OpenAPI document (`/api/openapi.json`). Requests are
 * validated by the zod schemas in `shapes.ts`; these describe the same shapes for readers and client
 * generators.
 */
import {
  CONFLICT_STRATEGIES,
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
const uuid = { type: 'string', format: 'uuid' } as const;

const summary = {
  type: ['object', 'null'],
  properties: {
    id: uuid,
    status: { enum: EXECUTION_STATUSES },
    trigger: { enum: TRIGGERS },
    startedAt: nullableDateTime,
    completedAt: nullableDateTime,
  },
};

const rule = {
  type: 'object',
  required: ['sourceField', 'targetField'],
  additionalProperties: false,
  properties: {
    sourceField: { ...str, description: 'Dot path in the source record, e.g. address.city' },
    targetField: { ...str, description: 'Dot path in the target record' },
    transform: { type: ['string', 'null'], description: 'A transform name from GET /transforms' },
    transformArgs: { type: 'object', description: 'Arguments of map_values, concat and template' },
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
  enabled: { type: 'boolean', default: true },
  fieldMappings: { type: 'array', items: rule },
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
    config: { type: 'object', description: 'Non-secret settings (the provider’s `config` settings)' },
    credentials: {
      type: 'object',
      additionalProperties: str,
      description: 'Secrets (the provider’s `credentials` settings); encrypted at rest, never returned',
    },
  },
};

export const connectionPatchBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    name: str,
    config: { type: 'object' },
    credentials: { type: 'object', additionalProperties: str, description: 'Merged by key into the stored ones' },
  },
};

export const schemas = {
  Error: {
    type: 'object',
    properties: {
      error: {
        type: 'object',
        required: ['code', 'message'],
        properties: {
          code: { ...str, examples: ['validation_failed', 'not_found', 'conflict', 'unauthorized'] },
          message: str,
          details: {
            type: 'array',
            items: { type: 'object', properties: { path: str, message: str } },
          },
        },
      },
    },
  },
  Execution: {
    type: 'object',
    properties: {
      id: uuid,
      jobId: uuid,
      status: { enum: EXECUTION_STATUSES },
      trigger: { enum: TRIGGERS },
      attempt: int,
      processed: int,
      created: int,
      updated: int,
      skipped: int,
      failed: int,
      conflicts: { ...int, description: 'Records left in conflict for review (manual strategy); counted in skipped' },
      directions: {
        type: ['object', 'null'],
        description: 'Bidirectional runs: the counters of each direction (their sums are the totals)',
        properties: { inbound: { type: 'object' }, outbound: { type: 'object' } },
      },
      startedAt: nullableDateTime,
      completedAt: nullableDateTime,
      durationSeconds: { type: ['number', 'null'] },
      haltReason: nullableStr,
      haltKind: {
        enum: [...HALT_KINDS, null],
        description:
          'configuration: not retried; connection_lost: the provider could not be reached (status cancelled); worker_lost: its worker stopped',
      },
      error: nullableStr,
      recordKeys: { type: ['array', 'null'], items: str },
      recordSide: { enum: ['local', 'provider', null] },
      createdAt: dateTime,
    },
  },
  Job: {
    type: 'object',
    properties: {
      id: uuid,
      ...jobFields,
      lastRunAt: nullableDateTime,
      nextRunAt: nullableDateTime,
      lastRun: summary,
      createdAt: dateTime,
      updatedAt: dateTime,
    },
  },
  Connection: {
    type: 'object',
    properties: {
      id: uuid,
      name: str,
      provider: str,
      config: { type: 'object' },
      status: { enum: ['connected', 'error', 'untested'] },
      statusMessage: nullableStr,
      lastTestedAt: nullableDateTime,
      jobCount: int,
      lastRun: summary,
      webhookUrl: { ...str, description: 'Where the provider should send webhooks for this connection' },
      createdAt: dateTime,
      updatedAt: dateTime,
    },
  },
  Failure: {
    type: 'object',
    properties: {
      id: str,
      executionId: uuid,
      jobId: uuid,
      recordKey: str,
      side: { enum: ['local', 'provider'] },
      phase: { enum: ['fetch', 'map', 'conflict', 'write'] },
      errorKind: str,
      message: str,
      createdAt: dateTime,
    },
  },
  DeadLetter: {
    type: 'object',
    properties: {
      id: uuid,
      jobId: uuid,
      recordKey: str,
      side: { enum: ['local', 'provider'] },
      failureCount: int,
      lastError: str,
      lastExecutionId: uuid,
      status: { enum: ['open', 'retried', 'resolved', 'discarded'] },
      firstFailedAt: dateTime,
      lastFailedAt: dateTime,
      createdAt: dateTime,
      updatedAt: dateTime,
    },
  },
  Provider: {
    type: 'object',
    properties: {
      name: str,
      displayName: str,
      description: str,
      config: { type: 'array', items: { type: 'object' } },
      credentials: { type: 'array', items: { type: 'object' } },
      entityTypes: {
        type: 'array',
        items: {
          type: 'object',
          properties: {
            name: str,
            label: str,
            fields: { type: 'array', items: { type: 'object', properties: { name: str, type: str } } },
            supports: {
              type: 'object',
              properties: {
                inbound: { type: 'boolean' },
                outbound: { type: 'boolean' },
                incremental: { type: 'boolean' },
                webhooks: { type: 'boolean' },
              },
            },
          },
        },
      },
    },
  },
} as const;

export const ref = (name: keyof typeof schemas) => ({ $ref: `${name}#` });
export const listOf = (name: keyof typeof schemas, paginated = false) => ({
  type: 'object',
  properties: {
    items: { type: 'array', items: ref(name) },
    ...(paginated ? { nextCursor: nullableStr } : {}),
  },
});
