import { describe, expect, expectTypeOf, it } from 'vitest';
import { ValidationError } from './errors.ts';
import type { SyncJobFields, SyncJobInput } from './job.ts';
import {
  connectionInputSchema,
  mergeJobPatch,
  scheduleSchema,
  syncJobInputSchema,
  syncJobPatchSchema,
  validateEntityType,
} from './job.ts';
import type { Schedule, SyncJob } from './types.ts';
import { parseInput } from './validate.ts';

const base = { connectionId: 'conn_1', name: 'Stripe Customer Sync', entityType: 'customer', direction: 'inbound' };

const parseJob = (input: unknown) => parseInput(syncJobInputSchema, input);

function issuesOf(fn: () => unknown) {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    return (err as ValidationError).issues;
  }
  throw new Error('expected a ValidationError');
}

const jobIssues = (input: unknown) => issuesOf(() => parseJob(input));
const pathsOf = (input: unknown) => jobIssues(input).map((i) => i.path);

describe('syncJobInputSchema: defaults', () => {
  it('applies every default from the spec', () => {
    expect(parseJob(base)).toEqual({
      connectionId: 'conn_1',
      name: 'Stripe Customer Sync',
      entityType: 'customer',
      localEntity: null,
      direction: 'inbound',
      mode: 'full',
      schedule: { type: 'manual' },
      retryOnFailure: true,
      maxRetries: 3,
      timeoutMinutes: 60,
      conflictStrategy: null,
      deletePolicy: 'ignore',
      massDeleteThreshold: 20,
      enabled: true,
      fieldMappings: [],
    });
  });

  it('keeps given values and trims the name', () => {
    const job = parseJob({
      ...base,
      name: '  Nightly invoices  ',
      mode: 'incremental',
      retryOnFailure: false,
      maxRetries: 7,
      timeoutMinutes: 15,
      enabled: false,
      schedule: { type: 'cron', cron: '0 2 * * *', timezone: 'Europe/Berlin' },
    });
    expect(job.name).toBe('Nightly invoices');
    expect(job.mode).toBe('incremental');
    expect(job.retryOnFailure).toBe(false);
    expect(job.maxRetries).toBe(7);
    expect(job.timeoutMinutes).toBe(15);
    expect(job.enabled).toBe(false);
    expect(job.schedule).toEqual({ type: 'cron', cron: '0 2 * * *', timezone: 'Europe/Berlin' });
  });

  it('defaults a cron schedule time zone to UTC and trims the expression', () => {
    expect(parseJob({ ...base, schedule: { type: 'cron', cron: ' */15 * * * * ' } }).schedule).toEqual({
      type: 'cron',
      cron: '*/15 * * * *',
      timezone: 'UTC',
    });
  });

  it('does not share default objects between parses', () => {
    const a = parseJob(base);
    const b = parseJob(base);
    expect(a.fieldMappings).not.toBe(b.fieldMappings);
    expect(a.schedule).not.toBe(b.schedule);
  });

  it('requires connectionId, name, entityType and direction', () => {
    expect(jobIssues({})).toEqual([
      { path: 'connectionId', message: 'is required' },
      { path: 'name', message: 'is required' },
      { path: 'entityType', message: 'is required' },
      { path: 'direction', message: 'is required' },
    ]);
  });

  it('refuses a non-object', () => {
    expect(jobIssues(null)).toEqual([{ path: '', message: 'must be an object' }]);
    expect(jobIssues([base])).toEqual([{ path: '', message: 'must be an object' }]);
  });
});

describe('syncJobInputSchema: fields', () => {
  it.each([
    [0, [{ path: 'maxRetries', message: 'must be between 1 and 10' }]],
    [1, []],
    [10, []],
    [11, [{ path: 'maxRetries', message: 'must be between 1 and 10' }]],
    [-3, [{ path: 'maxRetries', message: 'must be between 1 and 10' }]],
    [2.5, [{ path: 'maxRetries', message: 'must be an integer' }]],
    ['3', [{ path: 'maxRetries', message: 'must be an integer' }]],
    [Number.NaN, [{ path: 'maxRetries', message: 'must be a finite number' }]],
  ])('maxRetries %s', (maxRetries, expected) => {
    const result = syncJobInputSchema.safeParse({ ...base, maxRetries });
    if (expected.length === 0) expect(parseJob({ ...base, maxRetries }).maxRetries).toBe(maxRetries);
    else expect(jobIssues({ ...base, maxRetries })).toEqual(expected);
    expect(result.success).toBe(expected.length === 0);
  });

  it.each([
    [0, [{ path: 'timeoutMinutes', message: 'must be between 1 and 1440 minutes' }]],
    [1, []],
    [1440, []],
    [1441, [{ path: 'timeoutMinutes', message: 'must be between 1 and 1440 minutes' }]],
    [30.5, [{ path: 'timeoutMinutes', message: 'must be an integer' }]],
    [Number.POSITIVE_INFINITY, [{ path: 'timeoutMinutes', message: 'must be a finite number' }]],
  ])('timeoutMinutes %s', (timeoutMinutes, expected) => {
    if (expected.length === 0) expect(parseJob({ ...base, timeoutMinutes }).timeoutMinutes).toBe(timeoutMinutes);
    else expect(jobIssues({ ...base, timeoutMinutes })).toEqual(expected);
  });

  it('checks name length after trimming', () => {
    expect(jobIssues({ ...base, name: '   ' })).toEqual([{ path: 'name', message: 'must not be empty' }]);
    expect(parseJob({ ...base, name: 'x'.repeat(200) }).name).toHaveLength(200);
    expect(jobIssues({ ...base, name: 'x'.repeat(201) })).toEqual([
      { path: 'name', message: 'must be at most 200 characters' },
    ]);
  });

  it('names the allowed values of enums', () => {
    expect(jobIssues({ ...base, direction: 'sideways' })).toEqual([
      { path: 'direction', message: 'must be one of inbound, outbound, bidirectional' },
    ]);
    expect(jobIssues({ ...base, mode: 'delta' })).toEqual([
      { path: 'mode', message: 'must be one of full, incremental' },
    ]);
    expect(jobIssues({ ...base, direction: 'bidirectional', conflictStrategy: 'coin_flip' })).toEqual([
      { path: 'conflictStrategy', message: 'must be one of provider_wins, local_wins, newest_wins, manual' },
    ]);
  });

  it('refuses wrong types with a readable message', () => {
    expect(jobIssues({ ...base, retryOnFailure: 'yes', enabled: 1, entityType: 42 })).toEqual([
      { path: 'entityType', message: 'must be a string' },
      { path: 'retryOnFailure', message: 'must be true or false' },
      { path: 'enabled', message: 'must be true or false' },
    ]);
  });

  it('refuses unknown keys, naming each', () => {
    expect(jobIssues({ ...base, lastRunAt: '2026-01-01', priority: 1 })).toEqual([
      { path: 'lastRunAt', message: 'is not a recognized field' },
      { path: 'priority', message: 'is not a recognized field' },
    ]);
    expect(jobIssues({ ...base, schedule: { type: 'manual', cron: '* * * * *' } })).toEqual([
      { path: 'schedule.cron', message: 'is not a recognized field' },
    ]);
  });
});

describe('syncJobInputSchema: schedule', () => {
  it('reports a bad cron expression at schedule.cron', () => {
    expect(jobIssues({ ...base, schedule: { type: 'cron', cron: '61 * * * *' } })).toEqual([
      { path: 'schedule.cron', message: 'is not a valid cron expression: Invalid value for minute: 61' },
    ]);
    expect(jobIssues({ ...base, schedule: { type: 'cron', cron: '0 0 30 2 *' } })).toEqual([
      { path: 'schedule.cron', message: 'never fires: no future date matches "0 0 30 2 *"' },
    ]);
    expect(jobIssues({ ...base, schedule: { type: 'cron' } })).toEqual([
      { path: 'schedule.cron', message: 'is required' },
    ]);
    expect(jobIssues({ ...base, schedule: { type: 'cron', cron: '' } })).toEqual([
      { path: 'schedule.cron', message: 'must not be empty' },
    ]);
  });

  it('reports a bad time zone at schedule.timezone', () => {
    expect(jobIssues({ ...base, schedule: { type: 'cron', cron: '0 0 * * *', timezone: 'Moon/Tranquility' } })).toEqual(
      [
        {
          path: 'schedule.timezone',
          message:
            'must be a valid IANA time zone such as UTC, Europe/Berlin or America/New_York (got "Moon/Tranquility")',
        },
      ],
    );
  });

  it('reports a bad cron and a bad time zone together', () => {
    expect(pathsOf({ ...base, schedule: { type: 'cron', cron: '0 0 * *', timezone: 'Moon/Tranquility' } })).toEqual([
      'schedule.timezone',
      'schedule.cron',
    ]);
  });

  it('reports a wrong cron type alongside a bad time zone', () => {
    expect(jobIssues({ ...base, schedule: { type: 'cron', cron: 15, timezone: 'Nope' } })).toEqual([
      { path: 'schedule.cron', message: 'must be a string' },
      {
        path: 'schedule.timezone',
        message: 'must be a valid IANA time zone such as UTC, Europe/Berlin or America/New_York (got "Nope")',
      },
    ]);
  });

  it('reports an unknown or missing schedule type at schedule.type', () => {
    expect(jobIssues({ ...base, schedule: { type: 'hourly' } })).toEqual([
      { path: 'schedule.type', message: 'must be one of manual, cron' },
    ]);
    expect(jobIssues({ ...base, schedule: {} })).toEqual([{ path: 'schedule.type', message: 'is required' }]);
    expect(jobIssues({ ...base, schedule: '0 0 * * *' })).toEqual([{ path: 'schedule', message: 'must be an object' }]);
  });

  it('scheduleSchema on its own reports paths relative to the schedule', () => {
    expect(issuesOf(() => parseInput(scheduleSchema, { type: 'cron', cron: '* * *', timezone: 'UTC' }))).toEqual([
      {
        path: 'cron',
        message: 'must have 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first (got 3)',
      },
    ]);
    expect(parseInput(scheduleSchema, { type: 'cron', cron: '*/5 * * * * *' })).toEqual({
      type: 'cron',
      cron: '*/5 * * * * *',
      timezone: 'UTC',
    });
  });
});

describe('syncJobInputSchema: conflictStrategy', () => {
  it('is required for bidirectional jobs', () => {
    expect(jobIssues({ ...base, direction: 'bidirectional' })).toEqual([
      { path: 'conflictStrategy', message: 'is required for bidirectional jobs' },
    ]);
    expect(jobIssues({ ...base, direction: 'bidirectional', conflictStrategy: null })).toEqual([
      { path: 'conflictStrategy', message: 'is required for bidirectional jobs' },
    ]);
    expect(parseJob({ ...base, direction: 'bidirectional', conflictStrategy: 'newest_wins' }).conflictStrategy).toBe(
      'newest_wins',
    );
  });

  it('is refused for inbound and outbound jobs', () => {
    expect(jobIssues({ ...base, direction: 'inbound', conflictStrategy: 'local_wins' })).toEqual([
      { path: 'conflictStrategy', message: 'is only allowed for bidirectional jobs' },
    ]);
    expect(jobIssues({ ...base, direction: 'outbound', conflictStrategy: 'manual' })).toEqual([
      { path: 'conflictStrategy', message: 'is only allowed for bidirectional jobs' },
    ]);
    expect(parseJob({ ...base, direction: 'outbound', conflictStrategy: null }).conflictStrategy).toBeNull();
  });
});

describe('syncJobInputSchema: field mappings', () => {
  it('accepts valid rules and reports bad ones by index', () => {
    const rules = [
      { sourceField: 'email', targetField: 'contact.email', direction: 'inbound' },
      { sourceField: 'name', targetField: 'fullName', direction: 'outbound', transform: { name: 'trim' } },
    ];
    expect(parseJob({ ...base, fieldMappings: rules }).fieldMappings).toEqual(rules);
    expect(
      pathsOf({
        ...base,
        fieldMappings: [...rules, { sourceField: 'a', targetField: 'b', direction: 'sideways' }],
      }),
    ).toEqual(['fieldMappings.2.direction']);
  });
});

describe('syncJobInputSchema: every problem at once', () => {
  it('lists every issue with its path in one ValidationError', () => {
    const input = {
      connectionId: '',
      name: '',
      direction: 'bidirectional',
      mode: 'sometimes',
      schedule: { type: 'cron', cron: '99 * * * *', timezone: 'Atlantis/Capital' },
      retryOnFailure: 'yes',
      maxRetries: 0,
      timeoutMinutes: 1441,
      fieldMappings: [{ sourceField: 'a', targetField: 'b', direction: 'inbound' }, { sourceField: 'a' }],
      color: 'blue',
    };
    let error: unknown;
    try {
      parseJob(input);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ValidationError);
    const ve = error as ValidationError;
    expect(ve.code).toBe('validation_failed');
    expect(ve.issues.map((i) => i.path)).toEqual([
      'connectionId',
      'name',
      'entityType',
      'mode',
      'schedule.timezone',
      'schedule.cron',
      'retryOnFailure',
      'maxRetries',
      'timeoutMinutes',
      'fieldMappings.1.targetField',
      'fieldMappings.1.direction',
      'color',
      'conflictStrategy',
    ]);
    expect(ve.issues.find((i) => i.path === 'conflictStrategy')?.message).toBe('is required for bidirectional jobs');
    expect(ve.message).toMatch(/^Invalid input: connectionId: must not be empty; name: must not be empty; /);
  });
});

describe('syncJobPatchSchema', () => {
  it('makes every field optional and applies no defaults', () => {
    expect(parseInput(syncJobPatchSchema, {})).toEqual({});
    expect(parseInput(syncJobPatchSchema, { maxRetries: 5 })).toEqual({ maxRetries: 5 });
  });

  it('refuses connectionId and unknown keys, and validates the fields it gets', () => {
    expect(issuesOf(() => parseInput(syncJobPatchSchema, { connectionId: 'conn_2', maxRetries: 11, id: 'x' }))).toEqual(
      [
        { path: 'connectionId', message: 'cannot be changed; create a new job for another connection' },
        { path: 'maxRetries', message: 'must be between 1 and 10' },
        { path: 'id', message: 'is not a recognized field' },
      ],
    );
  });
});

describe('mergeJobPatch', () => {
  const current = parseJob({ ...base, maxRetries: 5, timeoutMinutes: 30, mode: 'incremental' });
  const bidi = parseJob({ ...base, direction: 'bidirectional', conflictStrategy: 'newest_wins' });

  it('changes only the patched fields (no defaults reapplied)', () => {
    expect(mergeJobPatch(current, { name: 'Renamed' })).toEqual({ ...current, name: 'Renamed' });
    expect(mergeJobPatch(current, {})).toEqual(current);
  });

  it('replaces the schedule whole and re-validates it', () => {
    expect(mergeJobPatch(current, { schedule: { type: 'cron', cron: '0 6 * * *' } }).schedule).toEqual({
      type: 'cron',
      cron: '0 6 * * *',
      timezone: 'UTC',
    });
    expect(issuesOf(() => mergeJobPatch(current, { schedule: { type: 'cron', cron: 'nope' } }))).toEqual([
      {
        path: 'schedule.cron',
        message: 'must have 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first (got 1)',
      },
    ]);
  });

  it('switching to bidirectional without a strategy fails; with one it passes', () => {
    expect(issuesOf(() => mergeJobPatch(current, { direction: 'bidirectional' }))).toEqual([
      { path: 'conflictStrategy', message: 'is required for bidirectional jobs' },
    ]);
    const merged = mergeJobPatch(current, { direction: 'bidirectional', conflictStrategy: 'provider_wins' });
    expect(merged.direction).toBe('bidirectional');
    expect(merged.conflictStrategy).toBe('provider_wins');
  });

  it('removing the strategy of a bidirectional job fails', () => {
    expect(issuesOf(() => mergeJobPatch(bidi, { conflictStrategy: null }))).toEqual([
      { path: 'conflictStrategy', message: 'is required for bidirectional jobs' },
    ]);
  });

  it('switching away from bidirectional drops the strategy, unless the patch sets one', () => {
    const merged = mergeJobPatch(bidi, { direction: 'outbound' });
    expect(merged.direction).toBe('outbound');
    expect(merged.conflictStrategy).toBeNull();
    expect(issuesOf(() => mergeJobPatch(bidi, { direction: 'inbound', conflictStrategy: 'local_wins' }))).toEqual([
      { path: 'conflictStrategy', message: 'is only allowed for bidirectional jobs' },
    ]);
  });

  it('adding a strategy to an inbound job fails', () => {
    expect(issuesOf(() => mergeJobPatch(current, { conflictStrategy: 'manual' }))).toEqual([
      { path: 'conflictStrategy', message: 'is only allowed for bidirectional jobs' },
    ]);
  });

  it('reports every problem of the patch itself, before merging', () => {
    expect(
      issuesOf(() => mergeJobPatch(current, { connectionId: 'conn_2', timeoutMinutes: 0, direction: 'bidirectional' })),
    ).toEqual([
      { path: 'connectionId', message: 'cannot be changed; create a new job for another connection' },
      { path: 'timeoutMinutes', message: 'must be between 1 and 1440 minutes' },
    ]);
  });

  it('accepts a stored SyncJob as the current value, ignoring its non-input fields', () => {
    const now = new Date('2026-01-01T00:00:00Z');
    const stored: SyncJob = {
      ...bidi,
      id: 'job_1',
      cursor: null,
      lastRunAt: now,
      nextRunAt: null,
      archivedAt: null,
      createdAt: now,
      updatedAt: now,
    };
    expect(mergeJobPatch(stored, { enabled: false })).toEqual({ ...bidi, enabled: false });
  });
});

describe('connectionInputSchema', () => {
  it('defaults config and credentials to empty objects', () => {
    expect(parseInput(connectionInputSchema, { name: ' Stripe (prod) ', provider: 'stripe' })).toEqual({
      name: 'Stripe (prod)',
      provider: 'stripe',
      config: {},
      credentials: {},
    });
  });

  it('keeps config and credentials', () => {
    const input = {
      name: 'Sheets',
      provider: 'google-sheets',
      config: { baseUrl: 'https://sheets.example', pageSize: 50 },
      credentials: { apiKey: 'k' },
    };
    expect(parseInput(connectionInputSchema, input)).toEqual(input);
  });

  it('reports a bad provider, non-string credentials, long names and unknown keys', () => {
    expect(
      issuesOf(() =>
        parseInput(connectionInputSchema, {
          name: 'n'.repeat(201),
          provider: 'Stripe Live',
          credentials: { apiKey: 123 },
          secret: 'x',
        }),
      ),
    ).toEqual([
      { path: 'name', message: 'must be at most 200 characters' },
      { path: 'provider', message: 'must be a lowercase slug such as stripe or google-sheets (a-z, 0-9, - and _)' },
      { path: 'credentials.apiKey', message: 'must be a string' },
      { path: 'secret', message: 'is not a recognized field' },
    ]);
    expect(issuesOf(() => parseInput(connectionInputSchema, { name: 'x', provider: '' }))).toEqual([
      { path: 'provider', message: 'must not be empty' },
    ]);
    expect(issuesOf(() => parseInput(connectionInputSchema, { name: 'x' }))).toEqual([
      { path: 'provider', message: 'is required' },
    ]);
  });
});

describe('validateEntityType', () => {
  it('accepts a declared entity type', () => {
    expect(validateEntityType('invoice', ['customer', 'invoice'], 'stripe')).toBeNull();
  });

  it('names the declared types and the provider', () => {
    expect(validateEntityType('product', ['customer', 'invoice'], 'stripe')).toEqual({
      path: 'entityType',
      message: 'must be one of customer, invoice (declared by provider stripe)',
    });
    expect(validateEntityType('customer', [], 'noop')).toEqual({
      path: 'entityType',
      message: 'cannot be used: provider noop declares no entity types',
    });
  });
});

describe('types', () => {
  it('a validated input fits the SyncJob fields, and schedules fit Schedule', () => {
    expectTypeOf<SyncJobInput>().toExtend<SyncJobFields>();
    expectTypeOf<SyncJobInput['schedule']>().toExtend<Schedule>();
    expectTypeOf<SyncJobInput['conflictStrategy']>().toEqualTypeOf<SyncJob['conflictStrategy']>();
  });
});
