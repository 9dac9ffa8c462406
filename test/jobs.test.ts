import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FieldIssue } from '../src/domain/errors.ts';
import { NotFoundError, StateError, ValidationError } from '../src/domain/errors.ts';
import type { Connection, FieldMappingRule, SyncJob } from '../src/domain/types.ts';
import { createHarness, type Harness, TEST_DATABASES } from './helpers/db.ts';

/** An obviously fake secret: it must never come back from the API nor sit in the database in plaintext. */
const FAKE_SECRET = 'test-secret-not-real';

/** A valid rule, so a job that was wrongly written would also leave a row in field_mapping_rules. */
const ONE_RULE: FieldMappingRule[] = [{ sourceField: 'email', targetField: 'email', direction: 'inbound' }];

/** The ValidationError a promise rejects with; fails the test if it resolves or rejects with anything else. */
async function validationError(promise: Promise<unknown>): Promise<ValidationError> {
  const outcome = await promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  if (outcome.ok) throw new Error(`expected a ValidationError, got a result: ${JSON.stringify(outcome.value)}`);
  expect(outcome.error).toBeInstanceOf(ValidationError);
  return outcome.error as ValidationError;
}

/** The sorted, de-duplicated issue paths of the ValidationError a promise rejects with. */
async function issuePaths(promise: Promise<unknown>): Promise<string[]> {
  const err = await validationError(promise);
  expect(err.issues.length).toBeGreaterThan(0);
  for (const issue of err.issues) expect(issue.message).toEqual(expect.any(String));
  return [...new Set(err.issues.map((i: FieldIssue) => i.path))].sort();
}

/** The NotFoundError a promise rejects with (never a database error). */
async function notFound(promise: Promise<unknown>): Promise<NotFoundError> {
  const outcome = await promise.then(
    () => ({ ok: true as const }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  if (outcome.ok) throw new Error('expected a NotFoundError, but the call succeeded');
  expect(outcome.error).toBeInstanceOf(NotFoundError);
  return outcome.error as NotFoundError;
}

const MALFORMED_IDS = ['not-a-uuid', '', '12345', "'; DROP TABLE sync_jobs; --", `${randomUUID()}x`];

interface BadJobCase {
  label: string;
  input: Record<string, unknown>;
  /** Exact issue paths (sorted). */
  paths?: string[];
  /** Or: every issue path starts with this prefix. */
  pathPrefix?: string;
}

const BAD_JOBS: BadJobCase[] = [
  { label: 'maxRetries 0', input: { maxRetries: 0 }, paths: ['maxRetries'] },
  { label: 'maxRetries 11', input: { maxRetries: 11 }, paths: ['maxRetries'] },
  { label: 'maxRetries -1', input: { maxRetries: -1 }, paths: ['maxRetries'] },
  { label: 'maxRetries non-integer 2.5', input: { maxRetries: 2.5 }, paths: ['maxRetries'] },
  { label: 'maxRetries as a string', input: { maxRetries: '3' }, paths: ['maxRetries'] },
  { label: 'timeoutMinutes 0', input: { timeoutMinutes: 0 }, paths: ['timeoutMinutes'] },
  { label: 'timeoutMinutes 1441', input: { timeoutMinutes: 1441 }, paths: ['timeoutMinutes'] },
  { label: 'timeoutMinutes non-integer 30.5', input: { timeoutMinutes: 30.5 }, paths: ['timeoutMinutes'] },
  { label: 'timeoutMinutes NaN', input: { timeoutMinutes: Number.NaN }, paths: ['timeoutMinutes'] },
  { label: 'bad direction', input: { direction: 'sideways' }, paths: ['direction'] },
  { label: 'bad mode', input: { mode: 'partial' }, paths: ['mode'] },
  { label: 'retryOnFailure not a boolean', input: { retryOnFailure: 'yes' }, paths: ['retryOnFailure'] },
  { label: 'empty name', input: { name: '   ' }, paths: ['name'] },
  { label: 'unknown key', input: { colour: 'blue' }, paths: ['colour'] },
  {
    label: 'cron that does not parse',
    input: { schedule: { type: 'cron', cron: 'every fifteen minutes' } },
    paths: ['schedule.cron'],
  },
  {
    label: 'cron with an out-of-range minute',
    input: { schedule: { type: 'cron', cron: '61 * * * *' } },
    paths: ['schedule.cron'],
  },
  {
    label: 'cron that is a date, not a schedule',
    input: { schedule: { type: 'cron', cron: '2030-01-01T00:00' } },
    paths: ['schedule.cron'],
  },
  {
    label: 'bad timezone',
    input: { schedule: { type: 'cron', cron: '0 * * * *', timezone: 'Mars/Olympus_Mons' } },
    paths: ['schedule.timezone'],
  },
  { label: 'unknown schedule type', input: { schedule: { type: 'hourly' } }, paths: ['schedule.type'] },
  {
    label: 'bidirectional without conflictStrategy',
    input: { direction: 'bidirectional' },
    paths: ['conflictStrategy'],
  },
  {
    label: 'bidirectional with an unknown conflictStrategy',
    input: { direction: 'bidirectional', conflictStrategy: 'coin_flip' },
    paths: ['conflictStrategy'],
  },
  {
    label: 'inbound with a conflictStrategy',
    input: { direction: 'inbound', conflictStrategy: 'provider_wins' },
    paths: ['conflictStrategy'],
  },
  {
    label: 'outbound with a conflictStrategy',
    input: { direction: 'outbound', conflictStrategy: 'local_wins' },
    paths: ['conflictStrategy'],
  },
  { label: 'entityType declared by nobody', input: { entityType: 'product' }, paths: ['entityType'] },
  {
    label: 'entityType declared by the provider but not by the local store (invoice)',
    input: { entityType: 'invoice' },
    paths: ['entityType'],
  },
  { label: 'unknown connectionId', input: { connectionId: randomUUID() }, paths: ['connectionId'] },
  { label: 'malformed connectionId', input: { connectionId: 'not-a-uuid' }, paths: ['connectionId'] },
  {
    label: 'mapping rule with an unknown transform',
    input: {
      fieldMappings: [
        { sourceField: 'email', targetField: 'email', direction: 'inbound', transform: { name: 'rot13' } },
      ],
    },
    pathPrefix: 'fieldMappings.0.transform',
  },
  {
    label: 'mapping rule with bad transform args',
    input: {
      fieldMappings: [
        { sourceField: 'a', targetField: 'name', direction: 'inbound', transform: { name: 'concat', args: {} } },
      ],
    },
    pathPrefix: 'fieldMappings.0.transform',
  },
  {
    label: 'duplicate target fields',
    input: {
      fieldMappings: [
        { sourceField: 'email', targetField: 'email', direction: 'inbound' },
        { sourceField: 'contact.email', targetField: 'email', direction: 'inbound' },
      ],
    },
    paths: ['fieldMappings.1.targetField'],
  },
];

describe.each(TEST_DATABASES)('connections and sync jobs on $name', (db) => {
  let h: Harness;
  beforeEach(async (ctx) => {
    h = await createHarness(db, ctx.task.name);
  });
  afterEach(async () => {
    await h?.close();
  });

  const count = async (table: string) =>
    (await h.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`))[0]!.n;

  async function connection(extra: Record<string, unknown> = {}): Promise<Connection> {
    return h.engine.connections.create({ name: 'Memory', provider: 'memory', ...extra });
  }

  function baseJob(connectionId: string): Record<string, unknown> {
    return { connectionId, name: 'Customers in', entityType: 'customer', direction: 'inbound' };
  }

  // ── connections ────────────────────────────────────────────────────────────────────────────────────────────

  describe('connections', () => {
    it('creates a connection and returns it without credentials', async () => {
      const conn = await connection({
        config: { baseUrl: 'https://example.invalid' },
        credentials: { apiKey: FAKE_SECRET },
      });
      expect(conn).toEqual({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        name: 'Memory',
        provider: 'memory',
        config: { baseUrl: 'https://example.invalid' },
        lastTest: null,
        createdAt: expect.any(Date),
        updatedAt: expect.any(Date),
      });
      expect(Object.hasOwn(conn, 'credentials')).toBe(false);

      const got = await h.engine.connections.get(conn.id);
      expect(got).toEqual(conn);
      expect(Object.hasOwn(got, 'credentials')).toBe(false);
      expect(JSON.stringify(got)).not.toContain(FAKE_SECRET);

      const listed = await h.engine.connections.list();
      expect(listed).toEqual([conn]);
      expect(Object.hasOwn(listed[0]!, 'credentials')).toBe(false);
      expect(JSON.stringify(listed)).not.toContain(FAKE_SECRET);
    });

    it('stores credentials encrypted, never in plaintext', async () => {
      await connection({ credentials: { apiKey: FAKE_SECRET } });
      const rows = await h.query<{ credentials: string | null }>('SELECT credentials FROM connections');
      expect(rows).toHaveLength(1);
      const stored = rows[0]!.credentials;
      expect(typeof stored).toBe('string');
      expect(stored).not.toContain(FAKE_SECRET);
      expect(stored).not.toContain(Buffer.from(FAKE_SECRET).toString('base64'));
      expect(stored).not.toContain(Buffer.from(FAKE_SECRET).toString('hex'));
      expect(stored).not.toContain('apiKey');
      // Two connections with the same secret get different ciphertexts (fresh IV per value).
      await connection({ name: 'Memory 2', credentials: { apiKey: FAKE_SECRET } });
      const both = await h.query<{ credentials: string }>('SELECT credentials FROM connections');
      expect(both).toHaveLength(2);
      expect(both[0]!.credentials).not.toBe(both[1]!.credentials);
    });

    it('refuses an unknown provider (path provider) and writes nothing', async () => {
      const err = await validationError(connection({ provider: 'nope', credentials: { apiKey: FAKE_SECRET } }));
      expect(err.issues.map((i) => i.path)).toEqual(['provider']);
      expect(err.message).not.toContain(FAKE_SECRET);
      expect(await count('connections')).toBe(0);
    });

    it('refuses a provider that is not a slug (path provider)', async () => {
      expect(await issuePaths(connection({ provider: 'Not A Slug' }))).toEqual(['provider']);
      expect(await count('connections')).toBe(0);
    });

    it('refuses an empty name (path name)', async () => {
      expect(await issuePaths(connection({ name: '' }))).toEqual(['name']);
      expect(await issuePaths(connection({ name: '   ' }))).toEqual(['name']);
      expect(await count('connections')).toBe(0);
    });

    it('refuses an unknown key (path = the key)', async () => {
      expect(await issuePaths(connection({ apiKey: FAKE_SECRET }))).toEqual(['apiKey']);
      expect(await count('connections')).toBe(0);
    });

    it('refuses non-string credential values (path credentials.<key>)', async () => {
      expect(await issuePaths(connection({ credentials: { apiKey: 42 } }))).toEqual(['credentials.apiKey']);
      expect(await count('connections')).toBe(0);
    });

    it('lists every bad field at once', async () => {
      const paths = await issuePaths(h.engine.connections.create({ name: '', provider: 'memory', extra: true }));
      expect(paths).toEqual(['extra', 'name']);
      expect(await count('connections')).toBe(0);
    });

    it('refuses input that is not an object', async () => {
      await validationError(h.engine.connections.create(null));
      await validationError(h.engine.connections.create('memory'));
      expect(await count('connections')).toBe(0);
    });

    it('get/delete with an unknown or malformed id throw NotFoundError', async () => {
      const conn = await connection();
      for (const id of [randomUUID(), ...MALFORMED_IDS]) {
        const err = await notFound(h.engine.connections.get(id));
        expect(err.id).toBe(id);
        await notFound(h.engine.connections.delete(id));
      }
      expect(await h.engine.connections.list()).toEqual([conn]);
    });

    it('delete removes the connection and its jobs', async () => {
      const conn = await connection();
      const job = await h.engine.jobs.create({ ...baseJob(conn.id), fieldMappings: ONE_RULE });
      await h.engine.connections.delete(conn.id);
      await notFound(h.engine.connections.get(conn.id));
      await notFound(h.engine.jobs.get(job.id));
      expect(await h.engine.connections.list()).toEqual([]);
      expect(await count('sync_jobs')).toBe(0);
      expect(await count('field_mapping_rules')).toBe(0);
    });
  });

  // ── creating jobs ──────────────────────────────────────────────────────────────────────────────────────────

  describe('jobs.create', () => {
    it('applies the SPEC defaults', async () => {
      const conn = await connection();
      const job = await h.engine.jobs.create(baseJob(conn.id));
      expect(job).toEqual({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        connectionId: conn.id,
        name: 'Customers in',
        entityType: 'customer',
        direction: 'inbound',
        mode: 'full',
        localEntity: null,
        schedule: { type: 'manual' },
        retryOnFailure: true,
        maxRetries: 3,
        timeoutMinutes: 60,
        conflictStrategy: null,
        deletePolicy: 'ignore',
        massDeleteThreshold: 20,
        enabled: true,
        fieldMappings: [],
        cursor: null,
        lastRunAt: null,
        nextRunAt: null,
        archivedAt: null,
        createdAt: expect.any(Date),
        updatedAt: expect.any(Date),
      } satisfies Record<keyof SyncJob, unknown>);
      expect(await h.engine.jobs.get(job.id)).toEqual(job);
      expect(await h.engine.jobs.list()).toEqual([job]);
      expect(await h.engine.jobs.list({ connectionId: conn.id })).toEqual([job]);
      expect(await h.engine.jobs.list({ connectionId: randomUUID() })).toEqual([]);
    });

    it('keeps explicit values and trims the name', async () => {
      const conn = await connection();
      const job = await h.engine.jobs.create({
        ...baseJob(conn.id),
        name: '  Customer Sync  ',
        direction: 'bidirectional',
        conflictStrategy: 'newest_wins',
        mode: 'incremental',
        retryOnFailure: false,
        maxRetries: 5,
        timeoutMinutes: 15,
        enabled: false,
      });
      expect(job).toMatchObject({
        name: 'Customer Sync',
        direction: 'bidirectional',
        conflictStrategy: 'newest_wins',
        mode: 'incremental',
        retryOnFailure: false,
        maxRetries: 5,
        timeoutMinutes: 15,
        enabled: false,
      });
      expect(await h.engine.jobs.get(job.id)).toEqual(job);
    });

    it.each([
      { maxRetries: 1, timeoutMinutes: 1 },
      { maxRetries: 10, timeoutMinutes: 1440 },
    ])('accepts the bounds maxRetries $maxRetries, timeoutMinutes $timeoutMinutes', async (bounds) => {
      const conn = await connection();
      const job = await h.engine.jobs.create({ ...baseJob(conn.id), ...bounds });
      expect(job.maxRetries).toBe(bounds.maxRetries);
      expect(job.timeoutMinutes).toBe(bounds.timeoutMinutes);
      const stored = await h.query<{ max_retries: number; timeout_minutes: number }>(
        'SELECT max_retries, timeout_minutes FROM sync_jobs',
      );
      expect(stored).toEqual([{ max_retries: bounds.maxRetries, timeout_minutes: bounds.timeoutMinutes }]);
    });

    it.each(BAD_JOBS)('refuses $label and writes nothing', async ({ input, paths, pathPrefix }) => {
      const conn = await connection();
      const promise = h.engine.jobs.create({ ...baseJob(conn.id), fieldMappings: ONE_RULE, ...input });
      const got = await issuePaths(promise);
      if (paths) expect(got).toEqual(paths);
      if (pathPrefix) {
        expect(got.length).toBeGreaterThan(0);
        for (const p of got) expect(p.startsWith(pathPrefix), `${p} starts with ${pathPrefix}`).toBe(true);
      }
      expect(await count('sync_jobs')).toBe(0);
      expect(await count('field_mapping_rules')).toBe(0);
      expect(await h.engine.jobs.list()).toEqual([]);
    });

    it('refuses a missing required field with its path', async () => {
      const conn = await connection();
      const { direction: _dropped, ...rest } = baseJob(conn.id);
      expect(await issuePaths(h.engine.jobs.create(rest))).toEqual(['direction']);
      expect(await issuePaths(h.engine.jobs.create({}))).toEqual(['connectionId', 'direction', 'entityType', 'name']);
      await validationError(h.engine.jobs.create(null));
      expect(await count('sync_jobs')).toBe(0);
    });

    it('lists several bad fields at once', async () => {
      const conn = await connection();
      const paths = await issuePaths(
        h.engine.jobs.create({
          ...baseJob(conn.id),
          direction: 'bidirectional',
          mode: 'sometimes',
          maxRetries: 0,
          timeoutMinutes: 1441,
          schedule: { type: 'cron', cron: 'not a cron', timezone: 'Nowhere/Special' },
          fieldMappings: [
            { sourceField: 'a', targetField: 'x', direction: 'inbound' },
            { sourceField: 'b', targetField: 'x', direction: 'inbound' },
          ],
          colour: 'blue',
        }),
      );
      expect(paths).toEqual([
        'colour',
        'conflictStrategy',
        'fieldMappings.1.targetField',
        'maxRetries',
        'mode',
        'schedule.cron',
        'schedule.timezone',
        'timeoutMinutes',
      ]);
      expect(await count('sync_jobs')).toBe(0);
      expect(await count('field_mapping_rules')).toBe(0);
    });

    it('lists a bad transform together with the other bad fields', async () => {
      const conn = await connection();
      const paths = await issuePaths(
        h.engine.jobs.create({
          ...baseJob(conn.id),
          maxRetries: 11,
          fieldMappings: [{ sourceField: 'a', targetField: 'x', direction: 'inbound', transform: { name: 'rot13' } }],
        }),
      );
      expect(paths.filter((p) => !p.startsWith('fieldMappings.0.transform'))).toEqual(['maxRetries']);
      expect(paths.filter((p) => p.startsWith('fieldMappings.0.transform'))).toHaveLength(1);
      expect(await count('sync_jobs')).toBe(0);
    });

    it('lists duplicate targets together with a bad transform in another rule', async () => {
      const conn = await connection();
      const paths = await issuePaths(
        h.engine.jobs.create({
          ...baseJob(conn.id),
          fieldMappings: [
            { sourceField: 'a', targetField: 'x', direction: 'inbound', transform: { name: 'rot13' } },
            { sourceField: 'b', targetField: 'x', direction: 'inbound' },
          ],
        }),
      );
      expect(paths).toContain('fieldMappings.1.targetField');
    });

    it('lists an unknown connection and an undeclared entity type together', async () => {
      const paths = await issuePaths(
        h.engine.jobs.create({ ...baseJob(randomUUID()), entityType: 'product', fieldMappings: ONE_RULE }),
      );
      expect(paths).toEqual(['connectionId', 'entityType']);
      expect(await count('sync_jobs')).toBe(0);
    });

    it('lists schema problems and reference problems (entityType) together', async () => {
      const conn = await connection();
      const paths = await issuePaths(
        h.engine.jobs.create({ ...baseJob(conn.id), entityType: 'product', maxRetries: 0 }),
      );
      expect(paths).toEqual(['entityType', 'maxRetries']);
    });
  });

  // ── schedules ──────────────────────────────────────────────────────────────────────────────────────────────

  describe('schedules', () => {
    it('a cron job gets nextRunAt = its next fire time', async () => {
      const conn = await connection();
      const before = Date.now();
      const job = await h.engine.jobs.create({
        ...baseJob(conn.id),
        schedule: { type: 'cron', cron: '*/15 * * * *' },
      });
      const after = Date.now();
      expect(job.schedule).toEqual({ type: 'cron', cron: '*/15 * * * *', timezone: 'UTC' });
      expect(job.nextRunAt).toBeInstanceOf(Date);
      const next = job.nextRunAt!;
      expect(next.getTime()).toBeGreaterThan(before);
      expect(next.getTime()).toBeLessThanOrEqual(after + 15 * 60_000);
      expect(next.getUTCMinutes() % 15).toBe(0);
      expect(next.getUTCSeconds()).toBe(0);
      expect(next.getUTCMilliseconds()).toBe(0);
      expect((await h.engine.jobs.get(job.id)).nextRunAt).toEqual(next);
    });

    it('computes nextRunAt in the job time zone', async () => {
      const conn = await connection();
      const before = Date.now();
      const job = await h.engine.jobs.create({
        ...baseJob(conn.id),
        // Asia/Tokyo is UTC+9 all year: 09:00 there is 00:00 UTC.
        schedule: { type: 'cron', cron: '0 9 * * *', timezone: 'Asia/Tokyo' },
      });
      expect(job.schedule).toEqual({ type: 'cron', cron: '0 9 * * *', timezone: 'Asia/Tokyo' });
      const next = job.nextRunAt!;
      expect(next).toBeInstanceOf(Date);
      expect(next.getTime()).toBeGreaterThan(before);
      expect(next.getTime()).toBeLessThanOrEqual(Date.now() + 24 * 3_600_000);
      expect([next.getUTCHours(), next.getUTCMinutes(), next.getUTCSeconds()]).toEqual([0, 0, 0]);
    });

    it('a manual job and a disabled cron job have nextRunAt null', async () => {
      const conn = await connection();
      const manual = await h.engine.jobs.create({ ...baseJob(conn.id), schedule: { type: 'manual' } });
      expect(manual.nextRunAt).toBeNull();
      const disabled = await h.engine.jobs.create({
        ...baseJob(conn.id),
        name: 'Disabled',
        enabled: false,
        schedule: { type: 'cron', cron: '*/15 * * * *' },
      });
      expect(disabled.nextRunAt).toBeNull();
    });

    it('changing the schedule sets and clears nextRunAt', async () => {
      const conn = await connection();
      const job = await h.engine.jobs.create(baseJob(conn.id));
      expect(job.nextRunAt).toBeNull();
      const cron = await h.engine.jobs.update(job.id, { schedule: { type: 'cron', cron: '0 * * * *' } });
      expect(cron.nextRunAt).toBeInstanceOf(Date);
      expect(cron.nextRunAt!.getTime()).toBeGreaterThan(Date.now() - 1000);
      expect([cron.nextRunAt!.getUTCMinutes(), cron.nextRunAt!.getUTCSeconds()]).toEqual([0, 0]);
      const manual = await h.engine.jobs.update(job.id, { schedule: { type: 'manual' } });
      expect(manual.schedule).toEqual({ type: 'manual' });
      expect(manual.nextRunAt).toBeNull();
    });
  });

  // ── field mapping rules ────────────────────────────────────────────────────────────────────────────────────

  describe('field mapping rules', () => {
    const RULES: FieldMappingRule[] = [
      { sourceField: 'name', targetField: 'name', direction: 'inbound', transform: { name: 'trim' } },
      {
        sourceField: 'status',
        targetField: 'meta.status',
        direction: 'inbound',
        transform: { name: 'map_values', args: { values: { A: 'active', I: 'inactive' }, default: 'unknown' } },
        defaultValue: 'I',
      },
      {
        sourceField: 'first',
        targetField: 'fullName',
        direction: 'inbound',
        transform: { name: 'concat', args: { fields: ['first', 'last'], separator: ' ' } },
      },
      {
        sourceField: 'balance_cents',
        targetField: 'balance',
        direction: 'inbound',
        transform: { name: 'cents_to_decimal' },
        defaultValue: 0,
      },
      { sourceField: 'tags', targetField: 'tags', direction: 'inbound', defaultValue: { list: [1, 'two', true] } },
      // Same target as an inbound rule, but another direction: allowed.
      {
        sourceField: 'email',
        targetField: 'name',
        direction: 'outbound',
        transform: { name: 'template', args: { template: '{{email}}' } },
      },
      { sourceField: 'balance', targetField: 'balance_cents', direction: 'outbound', defaultValue: false },
    ];

    it('round-trip in order with transforms, args and default values', async () => {
      const conn = await connection();
      const job = await h.engine.jobs.create({ ...baseJob(conn.id), fieldMappings: RULES });
      expect(job.fieldMappings).toEqual(RULES);
      expect((await h.engine.jobs.get(job.id)).fieldMappings).toEqual(RULES);
      expect((await h.engine.jobs.list())[0]!.fieldMappings).toEqual(RULES);
      expect(await count('field_mapping_rules')).toBe(RULES.length);
    });

    it('keep each job its own rules', async () => {
      const conn = await connection();
      const a = await h.engine.jobs.create({ ...baseJob(conn.id), name: 'A', fieldMappings: RULES });
      const b = await h.engine.jobs.create({ ...baseJob(conn.id), name: 'B', fieldMappings: ONE_RULE });
      expect((await h.engine.jobs.get(a.id)).fieldMappings).toEqual(RULES);
      expect((await h.engine.jobs.get(b.id)).fieldMappings).toEqual(ONE_RULE);
      const listed = await h.engine.jobs.list();
      expect(listed.map((j) => [j.name, j.fieldMappings])).toEqual([
        ['A', RULES],
        ['B', ONE_RULE],
      ]);
    });

    it('are replaced whole by an update', async () => {
      const conn = await connection();
      const job = await h.engine.jobs.create({ ...baseJob(conn.id), fieldMappings: RULES });
      const updated = await h.engine.jobs.update(job.id, { fieldMappings: ONE_RULE });
      expect(updated.fieldMappings).toEqual(ONE_RULE);
      expect(await count('field_mapping_rules')).toBe(1);
      const cleared = await h.engine.jobs.update(job.id, { fieldMappings: [] });
      expect(cleared.fieldMappings).toEqual([]);
      expect(await count('field_mapping_rules')).toBe(0);
    });
  });

  // ── updating jobs ──────────────────────────────────────────────────────────────────────────────────────────

  describe('jobs.update', () => {
    async function existing(): Promise<{ conn: Connection; job: SyncJob }> {
      const conn = await connection();
      const job = await h.engine.jobs.create({ ...baseJob(conn.id), fieldMappings: ONE_RULE });
      return { conn, job };
    }

    it('patches name and maxRetries, leaving the rest', async () => {
      const { job } = await existing();
      const updated = await h.engine.jobs.update(job.id, { name: 'Renamed', maxRetries: 7 });
      expect(updated).toEqual({ ...job, name: 'Renamed', maxRetries: 7, updatedAt: expect.any(Date) });
      expect(updated.updatedAt.getTime()).toBeGreaterThanOrEqual(job.updatedAt.getTime());
      expect(await h.engine.jobs.get(job.id)).toEqual(updated);
    });

    it('an empty patch changes nothing', async () => {
      const { job } = await existing();
      const updated = await h.engine.jobs.update(job.id, {});
      expect(updated).toEqual({ ...job, updatedAt: expect.any(Date) });
    });

    it('refuses bidirectional without a strategy and changes nothing', async () => {
      const { job } = await existing();
      expect(await issuePaths(h.engine.jobs.update(job.id, { direction: 'bidirectional' }))).toEqual([
        'conflictStrategy',
      ]);
      expect(await h.engine.jobs.get(job.id)).toEqual(job);
    });

    it('switches to bidirectional with a strategy, and back drops the strategy', async () => {
      const { job } = await existing();
      const bi = await h.engine.jobs.update(job.id, { direction: 'bidirectional', conflictStrategy: 'local_wins' });
      expect([bi.direction, bi.conflictStrategy]).toEqual(['bidirectional', 'local_wins']);
      const back = await h.engine.jobs.update(job.id, { direction: 'inbound' });
      expect([back.direction, back.conflictStrategy]).toEqual(['inbound', null]);
    });

    it('refuses removing the strategy of a bidirectional job', async () => {
      const { job } = await existing();
      const bi = await h.engine.jobs.update(job.id, { direction: 'bidirectional', conflictStrategy: 'manual' });
      expect(await issuePaths(h.engine.jobs.update(job.id, { conflictStrategy: null }))).toEqual(['conflictStrategy']);
      expect(await h.engine.jobs.get(job.id)).toEqual(bi);
    });

    it('refuses a patch with connectionId, even the same one, and changes nothing', async () => {
      const { conn, job } = await existing();
      const other = await connection({ name: 'Other' });
      expect(await issuePaths(h.engine.jobs.update(job.id, { connectionId: other.id }))).toEqual(['connectionId']);
      expect(await issuePaths(h.engine.jobs.update(job.id, { connectionId: conn.id, name: 'X' }))).toEqual([
        'connectionId',
      ]);
      expect(await h.engine.jobs.get(job.id)).toEqual(job);
    });

    it.each([
      { label: 'maxRetries 11', patch: { maxRetries: 11 }, paths: ['maxRetries'] },
      { label: 'timeoutMinutes 0', patch: { timeoutMinutes: 0 }, paths: ['timeoutMinutes'] },
      { label: 'empty name', patch: { name: '' }, paths: ['name'] },
      { label: 'unknown key', patch: { colour: 'blue' }, paths: ['colour'] },
      { label: 'entityType invoice', patch: { entityType: 'invoice' }, paths: ['entityType'] },
      {
        label: 'bad cron',
        patch: { schedule: { type: 'cron', cron: '* * *' } },
        paths: ['schedule.cron'],
      },
      {
        label: 'duplicate targets',
        patch: { fieldMappings: [...ONE_RULE, ...ONE_RULE] },
        paths: ['fieldMappings.1.targetField'],
      },
    ])('refuses a patch with $label and changes nothing', async ({ patch, paths }) => {
      const { job } = await existing();
      expect(await issuePaths(h.engine.jobs.update(job.id, patch))).toEqual(paths);
      expect(await h.engine.jobs.get(job.id)).toEqual(job);
      expect(await count('field_mapping_rules')).toBe(1);
    });

    it('of an unknown or malformed id throws NotFoundError', async () => {
      const { job } = await existing();
      for (const id of [randomUUID(), ...MALFORMED_IDS]) {
        const err = await notFound(h.engine.jobs.update(id, { name: 'Nope' }));
        expect(err.id).toBe(id);
      }
      expect(await h.engine.jobs.list()).toEqual([job]);
    });
  });

  // ── get / delete ───────────────────────────────────────────────────────────────────────────────────────────

  describe('jobs.get and jobs.delete', () => {
    it('with an unknown or malformed id throw NotFoundError', async () => {
      const conn = await connection();
      const job = await h.engine.jobs.create(baseJob(conn.id));
      for (const id of [randomUUID(), ...MALFORMED_IDS]) {
        const got = await notFound(h.engine.jobs.get(id));
        expect(got.id).toBe(id);
        const deleted = await notFound(h.engine.jobs.delete(id));
        expect(deleted.id).toBe(id);
      }
      expect(await h.engine.jobs.list()).toEqual([job]);
    });

    it('list with a malformed connectionId filter is not a database error', async () => {
      const conn = await connection();
      await h.engine.jobs.create(baseJob(conn.id));
      const outcome = await h.engine.jobs.list({ connectionId: 'not-a-uuid' }).then(
        (jobs) => jobs,
        (error: unknown) => error,
      );
      if (Array.isArray(outcome)) expect(outcome).toEqual([]);
      else expect(outcome).toBeInstanceOf(ValidationError);
    });

    it('delete archives the job (kept, unlisted, frozen); purge removes it and its rules', async () => {
      const conn = await connection();
      const job = await h.engine.jobs.create({ ...baseJob(conn.id), fieldMappings: ONE_RULE });
      const keep = await h.engine.jobs.create({ ...baseJob(conn.id), name: 'Keep', fieldMappings: ONE_RULE });
      await h.engine.jobs.delete(job.id);
      const archived = await h.engine.jobs.get(job.id);
      expect(archived).toMatchObject({ id: job.id, fieldMappings: job.fieldMappings, nextRunAt: null });
      expect(archived.archivedAt).toBeInstanceOf(Date);
      expect(await h.engine.jobs.list()).toEqual([keep]);
      expect((await h.engine.jobs.list({ includeArchived: true })).map((j) => j.id)).toEqual([job.id, keep.id]);
      await expect(h.engine.jobs.update(job.id, { name: 'Back' })).rejects.toBeInstanceOf(StateError);
      await expect(h.engine.trigger(job.id)).rejects.toBeInstanceOf(StateError);
      await h.engine.jobs.delete(job.id); // again: stays archived
      expect((await h.engine.jobs.get(job.id)).archivedAt).toEqual(archived.archivedAt);
      expect(await count('sync_jobs')).toBe(2);

      await h.engine.jobs.delete(job.id, { purge: true });
      await notFound(h.engine.jobs.get(job.id));
      await notFound(h.engine.jobs.delete(job.id, { purge: true }));
      expect(await h.engine.jobs.list({ includeArchived: true })).toEqual([keep]);
      expect(await count('sync_jobs')).toBe(1);
      expect(await count('field_mapping_rules')).toBe(1);
      expect(await h.engine.connections.get(conn.id)).toEqual(conn);
    });
  });
});
