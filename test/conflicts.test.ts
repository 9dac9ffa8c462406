import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StateError, ValidationError } from '../src/domain/errors.ts';
import { cid, createHarness, customerJobs, type Harness, IN_RULES, OUT_RULES, TEST_DATABASES } from './helpers/db.ts';

/**
 * Manual conflicts (issue "Deletes and conflicts"): under the `manual` strategy a record changed on both sides is
 * stored with both sides' content (in the local field names) and the fields that differ; a person resolves it by
 * side or by field, which writes the chosen content to the other side, updates the reference and records who and
 * when; the next run then sees both sides in step. A new edit raises a new conflict.
 */
describe.each(TEST_DATABASES)('manual conflicts ($name)', (db) => {
  let h: Harness;
  const jobs = customerJobs(() => h);
  beforeEach(async () => {
    h = await createHarness(db, `conflicts-${db.name}`);
  });
  afterEach(async () => h?.close());

  const manualJob = (extra: Record<string, unknown> = {}) =>
    jobs.job({
      direction: 'bidirectional',
      conflictStrategy: 'manual',
      fieldMappings: [...IN_RULES, ...OUT_RULES],
      ...extra,
    });
  const localIdOf = async (externalId: string) =>
    (
      await h.query<{ local_id: string }>('SELECT local_id FROM external_references WHERE external_id = $1', [
        externalId,
      ])
    )[0]!.local_id;
  const editLocal = (id: string, set: string) =>
    h.query(`UPDATE customers SET ${set}, updated_at = clock_timestamp() WHERE id = $1`, [id]);
  const localRow = async (id: string) =>
    (await h.query<{ name: string; email: string }>('SELECT name, email FROM customers WHERE id = $1', [id]))[0];

  it('stores both sides and the differing fields; resolving by side writes the winner and the next run is quiet', async () => {
    jobs.seed(3);
    const job = await manualJob();
    await h.engine.runJob(job.id);
    const local = await localIdOf(cid(0));
    h.provider.patch('customer', cid(0), { name: 'provider name' });
    await editLocal(local, `name = 'local name'`);

    const run = await h.engine.runJob(job.id);
    expect(run.conflicts).toBe(1);
    const open = await h.engine.conflicts.page(job.id, { status: 'open' });
    expect(open.items).toHaveLength(1);
    const c = open.items[0]!;
    expect(c).toMatchObject({
      jobId: job.id,
      executionId: run.id,
      localId: local,
      externalId: cid(0),
      localContent: { name: 'local name', email: 'e0@x.test' },
      providerContent: { name: 'provider name', email: 'e0@x.test' },
      fields: ['name'],
      localDeleted: false,
      providerDeleted: false,
      status: 'open',
    });
    expect((await h.engine.conflicts.countOpen([job.id])).get(job.id)).toBe(1);
    // Still open on the next run (nothing changed): the same conflict, not a second one.
    await h.engine.runJob(job.id);
    expect((await h.engine.conflicts.page(job.id)).items).toHaveLength(1);

    const resolved = await h.engine.conflicts.resolve(c.id, { winner: 'provider', resolvedBy: 'ops@example.test' });
    expect(resolved).toMatchObject({
      status: 'resolved',
      resolution: { winner: 'provider' },
      resolvedBy: 'ops@example.test',
    });
    expect(resolved.resolvedAt).toBeInstanceOf(Date);
    expect(await localRow(local)).toEqual({ name: 'provider name', email: 'e0@x.test' });
    expect(h.provider.get('customer', cid(0))!.data.name).toBe('provider name');

    const after = await h.engine.runJob(job.id);
    expect(after).toMatchObject({ status: 'completed', conflicts: 0, created: 0, updated: 0 });
    expect((await h.engine.conflicts.countOpen([job.id])).get(job.id)).toBeUndefined();
    await expect(h.engine.conflicts.resolve(c.id, { winner: 'local' })).rejects.toBeInstanceOf(StateError);

    // A new edit on both sides raises a new conflict.
    h.provider.patch('customer', cid(0), { name: 'provider again' });
    await editLocal(local, `name = 'local again'`);
    expect((await h.engine.runJob(job.id)).conflicts).toBe(1);
    const all = await h.engine.conflicts.page(job.id);
    expect(all.items.map((x) => x.status).sort()).toEqual(['open', 'resolved']);
  });

  it('resolves field by field: each side gets the chosen values', async () => {
    jobs.seed(2);
    const job = await manualJob();
    await h.engine.runJob(job.id);
    const local = await localIdOf(cid(1));
    h.provider.patch('customer', cid(1), { name: 'P name', email: 'p@x.test' });
    await editLocal(local, `name = 'L name', email = 'l@x.test'`);
    await h.engine.runJob(job.id);
    const [c] = (await h.engine.conflicts.page(job.id, { status: 'open' })).items;
    expect(c!.fields).toEqual(['email', 'name']);

    const missing = await h.engine.conflicts.resolve(c!.id, { fields: { name: 'provider' } }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(ValidationError);
    expect((missing as ValidationError).issues).toEqual([
      { path: 'fields.email', message: 'choose "local" or "provider"' },
    ]);
    const both = await h.engine.conflicts.resolve(c!.id, { winner: 'local', fields: {} }).catch((e: unknown) => e);
    expect(both).toBeInstanceOf(ValidationError);

    await h.engine.conflicts.resolve(c!.id, { fields: { name: 'provider', email: 'local' } });
    expect(await localRow(local)).toEqual({ name: 'P name', email: 'l@x.test' });
    expect(h.provider.get('customer', cid(1))!.data).toMatchObject({ name: 'P name', email: 'l@x.test' });
    const after = await h.engine.runJob(job.id);
    expect(after).toMatchObject({ conflicts: 0, created: 0, updated: 0, failed: 0 });
  });

  it('a deletion against an update: resolved whole; the update winning creates the record again', async () => {
    jobs.seed(2);
    const job = await manualJob({ deletePolicy: 'hard_delete', massDeleteThreshold: 100 });
    await h.engine.runJob(job.id);
    const local = await localIdOf(cid(0));
    h.provider.remove('customer', cid(0));
    await editLocal(local, `name = 'kept locally'`);
    expect((await h.engine.runJob(job.id)).conflicts).toBe(1);
    const [c] = (await h.engine.conflicts.page(job.id, { status: 'open' })).items;
    expect(c).toMatchObject({ providerDeleted: true, localDeleted: false, providerContent: null });
    await expect(h.engine.conflicts.resolve(c!.id, { fields: { name: 'local' } })).rejects.toBeInstanceOf(
      ValidationError,
    );
    await h.engine.conflicts.resolve(c!.id, { winner: 'local' });
    expect(h.provider.all('customer').map((r) => r.data.name)).toContain('kept locally');
    const after = await h.engine.runJob(job.id);
    expect(after).toMatchObject({ status: 'completed', conflicts: 0, deleted: 0, created: 0, failed: 0 });
    expect(await jobs.localCount()).toBe(2);
  });
});
