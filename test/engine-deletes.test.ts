import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ValidationError } from '../src/domain/errors.ts';
import type { SyncExecution } from '../src/domain/types.ts';
import { cid, createHarness, customerJobs, type Harness, IN_RULES, OUT_RULES, TEST_DATABASES } from './helpers/db.ts';

/**
 * Deletes (issue "Deletes and conflicts"): a job's delete policy decides what a record deleted at its source does
 * to the target: `ignore` (nothing), `soft_delete` (the row is kept and marked), `hard_delete` (the row goes).
 * Deletions are found by a full run's sweep (references not seen), by tombstones in incremental reads, and by
 * single-record runs (webhooks); a run that would delete more than the job's threshold deletes nothing and
 * waits for a person. Everything through the real engine on PGlite and PostgreSQL.
 */
const SOFT_DDL = `
  CREATE TABLE customers (
    id uuid PRIMARY KEY,
    name text,
    email text NOT NULL,
    balance numeric(12,2),
    deleted_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
  );`;

const sum = (e: SyncExecution) => e.created + e.updated + e.deleted + e.skipped + e.failed;

describe.each(TEST_DATABASES)('deletes ($name)', (db) => {
  let h: Harness;
  const jobs = customerJobs(() => h);
  afterEach(async () => h?.close());

  describe('into a table without a soft-delete column', () => {
    beforeEach(async () => {
      h = await createHarness(db, `deletes-${db.name}`);
    });

    it('ignore (the default) leaves the local rows of records deleted at the provider', async () => {
      jobs.seed(10);
      const job = await jobs.job();
      expect(job.deletePolicy).toBe('ignore');
      expect(job.massDeleteThreshold).toBe(20);
      await h.engine.runJob(job.id);
      h.provider.remove('customer', cid(3));
      const e = await h.engine.runJob(job.id);
      expect(e).toMatchObject({ status: 'completed', processed: 9, deleted: 0, skipped: 9 });
      expect(await jobs.localCount()).toBe(10);
    });

    it('hard_delete: a full run sweeps the records it did not see; counters add up', async () => {
      jobs.seed(20);
      const job = await jobs.job({ deletePolicy: 'hard_delete' });
      await h.engine.runJob(job.id);
      h.provider.remove('customer', cid(4));
      h.provider.remove('customer', cid(11));
      const e = await h.engine.runJob(job.id);
      expect(e).toMatchObject({ status: 'completed', processed: 20, skipped: 18, deleted: 2, failed: 0 });
      expect(sum(e)).toBe(e.processed);
      expect(await jobs.localCount()).toBe(18);
      expect(await jobs.refCount()).toBe(18);
      const left = await h.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM external_references WHERE external_id IN ($1, $2)`,
        [cid(4), cid(11)],
      );
      expect(left[0]!.n).toBe(0);
      // Nothing left over from the run's bookkeeping.
      expect(await h.query('SELECT * FROM run_seen')).toEqual([]);
      expect(await h.query('SELECT * FROM run_deletions')).toEqual([]);
      // Deleting is idempotent: the next run finds nothing more to delete.
      const again = await h.engine.runJob(job.id);
      expect(again).toMatchObject({ status: 'completed', processed: 18, skipped: 18, deleted: 0 });
      // A record that comes back (same id) is created again.
      h.provider.put('customer', { name: 'back', email: 'back@x.test' }, cid(4));
      const back = await h.engine.runJob(job.id);
      expect(back).toMatchObject({ created: 1, deleted: 0 });
      expect(await jobs.localCount()).toBe(19);
    });

    it('hard_delete, incremental: tombstones of deletions since the cursor', async () => {
      jobs.seed(20);
      const job = await jobs.job({ deletePolicy: 'hard_delete', mode: 'incremental' });
      await h.engine.runJob(job.id);
      h.provider.remove('customer', cid(7));
      const e = await h.engine.runJob(job.id);
      // (A record changed within the cursor's millisecond may be read again, and skipped: processed is not exact.)
      expect(e).toMatchObject({ status: 'completed', deleted: 1, created: 0, updated: 0 });
      expect(await jobs.localCount()).toBe(19);
    });

    it('mass-delete protection holds every deletion back; Apply deletions applies what is still gone', async () => {
      jobs.seed(20);
      const job = await jobs.job({ deletePolicy: 'hard_delete' });
      await h.engine.runJob(job.id);
      for (const i of [1, 2, 3, 4, 5]) h.provider.remove('customer', cid(i));
      const held = await h.engine.runJob(job.id);
      expect(held).toMatchObject({
        status: 'completed_with_errors',
        haltKind: 'mass_delete',
        heldDeletions: 5,
        deleted: 0,
        processed: 15,
      });
      expect(held.haltReason).toContain('5 of 20 synced records (25%)');
      expect(held.haltReason).toContain('20% threshold');
      expect(await jobs.localCount()).toBe(20);

      // One came back meanwhile: it is not deleted.
      h.provider.put('customer', { name: 'N3', email: 'e3@x.test' }, cid(3));
      const applied = await h.engine.executions.applyDeletions(held.id);
      expect(applied).toMatchObject({ status: 'completed', deleted: 4, processed: 4, trigger: 'manual' });
      expect(await jobs.localCount()).toBe(16);
      expect((await h.engine.executions.get(held.id)).heldDeletions).toBe(0);
      await expect(h.engine.executions.applyDeletions(held.id)).rejects.toThrow(/holds no deletions/);
    });

    it('a threshold of 100% lets a run delete everything it swept', async () => {
      jobs.seed(4);
      const job = await jobs.job({ deletePolicy: 'hard_delete', massDeleteThreshold: 100 });
      await h.engine.runJob(job.id);
      for (const i of [0, 1, 2]) h.provider.remove('customer', cid(i));
      const e = await h.engine.runJob(job.id);
      expect(e).toMatchObject({ status: 'completed', deleted: 3 });
      expect(await jobs.localCount()).toBe(1);
    });

    it('never sweeps after a run that failed: what it did not read may still exist', async () => {
      jobs.seed(150); // two pages of 100
      const job = await jobs.job({ deletePolicy: 'hard_delete', retryOnFailure: false });
      await h.engine.runJob(job.id);
      h.provider.remove('customer', cid(149));
      // The provider fails mid-stream (after the first page) beyond the in-run retries: the run fails.
      let reads = 0;
      h.provider.faults.beforeRead = () => {
        if (++reads > 1) throw new Error('boom: provider broke mid-stream');
      };
      const failed = await h.engine.runJob(job.id, {});
      expect(failed.status).toBe('failed');
      expect(await jobs.localCount()).toBe(150);
      h.provider.faults.beforeRead = undefined;
      const ok = await h.engine.runJob(job.id);
      expect(ok).toMatchObject({ deleted: 1 });
    });

    it('a single-record run (a webhook) deletes the record it finds gone, without the protection', async () => {
      jobs.seed(3);
      const job = await jobs.job({ deletePolicy: 'hard_delete' });
      await h.engine.runJob(job.id);
      h.provider.remove('customer', cid(0));
      const e = await h.engine.runJob(job.id, { trigger: 'webhook', recordKeys: [cid(0)], side: 'provider' });
      expect(e).toMatchObject({ status: 'completed', processed: 1, deleted: 1 });
      expect(await jobs.localCount()).toBe(2);
    });

    it('a deletion the target refuses goes to the retry set, and is applied by a later run', async () => {
      jobs.seed(2);
      // Outbound: local rows deleted by the application are deleted at the provider.
      const job = await jobs.job({
        direction: 'outbound',
        deletePolicy: 'hard_delete',
        massDeleteThreshold: 100,
        fieldMappings: OUT_RULES,
      });
      await jobs.insertLocal(3);
      await h.engine.runJob(job.id);
      expect(h.provider.count('customer')).toBe(5);
      await h.query(`DELETE FROM customers WHERE name = 'L1'`);
      const target = (await h.query<{ external_id: string }>('SELECT external_id FROM external_references')).map(
        (r) => r.external_id,
      );
      h.provider.faults.rejectWrite = (op) =>
        op.action === 'delete' ? 'cannot delete: it has open invoices' : undefined;
      const refused = await h.engine.runJob(job.id);
      expect(refused).toMatchObject({ status: 'completed_with_errors', failed: 1, deleted: 0 });
      expect((await h.engine.retrySet(job.id)).map((r) => r.side)).toEqual(['local']);
      h.provider.faults.rejectWrite = undefined;
      const retried = await h.engine.runJob(job.id);
      expect(retried).toMatchObject({ status: 'completed', deleted: 1, failed: 0 });
      expect(await h.engine.retrySet(job.id)).toEqual([]);
      expect(h.provider.count('customer')).toBe(4);
      expect(target.length).toBe(3);
    });

    it('soft_delete into a local entity without a deletedAt column is refused, naming both', async () => {
      const conn = await h.engine.connections.create({ name: 'Mem', provider: 'memory' });
      const err = await h.engine.jobs
        .create({
          connectionId: conn.id,
          name: 'Soft',
          entityType: 'customer',
          direction: 'inbound',
          deletePolicy: 'soft_delete',
        })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ValidationError);
      const issue = (err as ValidationError).issues.find((i) => i.path === 'deletePolicy');
      expect(issue?.message).toContain('soft_delete');
      expect(issue?.message).toContain('"customer"');
      expect(issue?.message).toContain('deletedAt');
      const bad = await h.engine.jobs
        .create({
          connectionId: conn.id,
          name: 'x',
          entityType: 'customer',
          direction: 'inbound',
          deletePolicy: 'drop',
        })
        .catch((e: unknown) => e as ValidationError);
      expect((bad as ValidationError).issues.map((i) => i.path)).toContain('deletePolicy');
    });
  });

  describe('providers that cannot delete', () => {
    beforeEach(async () => {
      const fixed = {
        name: 'fixed',
        entityTypes: ['customer', 'price'],
        info: {
          displayName: 'Fixed',
          config: [],
          credentials: [],
          entityTypes: [
            {
              name: 'customer',
              label: 'Customers',
              fields: [],
              supports: {
                inbound: true,
                outbound: true,
                incremental: true,
                webhooks: false,
                deletes: true,
                softDeletes: false,
              },
            },
            {
              name: 'price',
              label: 'Prices',
              fields: [],
              supports: { inbound: true, outbound: true, incremental: true, webhooks: false, deletes: false },
            },
          ],
        },
        createEndpoint: () => {
          throw new Error('not used');
        },
      };
      h = await createHarness(db, `deletes-fixed-${db.name}`, {
        providers: [fixed],
        entities: { customer: { table: 'customers' }, price: { table: 'customers' } },
      });
    });

    it('refuses deleting at a provider where its entity type cannot be deleted, or not softly', async () => {
      const conn = await h.engine.connections.create({ name: 'F', provider: 'fixed' });
      const attempt = (entityType: string, deletePolicy: string) =>
        h.engine.jobs
          .create({ connectionId: conn.id, name: 'x', entityType, direction: 'outbound', deletePolicy })
          .then(
            () => null,
            (e: unknown) => (e as ValidationError).issues?.find((i) => i.path === 'deletePolicy')?.message,
          );
      expect(await attempt('price', 'hard_delete')).toBe(
        'fixed cannot delete "price" records: choose ignore for this job',
      );
      expect(await attempt('customer', 'soft_delete')).toContain('cannot keep a "customer" record marked deleted');
      expect(await attempt('customer', 'hard_delete')).toBeNull();
      expect(await attempt('price', 'ignore')).toBeNull();
    });
  });

  describe('bidirectional: a deletion on one side against an update on the other', () => {
    beforeEach(async () => {
      h = await createHarness(db, `deletes-both-${db.name}`);
    });
    const both = (conflictStrategy: string) =>
      jobs.job({
        direction: 'bidirectional',
        conflictStrategy,
        deletePolicy: 'hard_delete',
        massDeleteThreshold: 100,
        fieldMappings: [...IN_RULES, ...OUT_RULES],
      });
    const localIdOf = async (externalId: string) =>
      (
        await h.query<{ local_id: string }>('SELECT local_id FROM external_references WHERE external_id = $1', [
          externalId,
        ])
      )[0]!.local_id;

    it('deleted at the provider, edited locally: local_wins keeps the record and creates it at the provider again', async () => {
      jobs.seed(3);
      const job = await both('local_wins');
      await h.engine.runJob(job.id);
      const local = await localIdOf(cid(0));
      h.provider.remove('customer', cid(0));
      await h.query(`UPDATE customers SET name = 'edited', updated_at = clock_timestamp() WHERE id = $1`, [local]);
      const e = await h.engine.runJob(job.id);
      expect(e).toMatchObject({ status: 'completed', deleted: 0, failed: 0 });
      expect(await jobs.localCount()).toBe(3);
      expect(h.provider.count('customer')).toBe(3);
      expect(h.provider.all('customer').map((r) => r.data.name)).toContain('edited');
      const ref = await h.query<{ external_id: string }>(
        'SELECT external_id FROM external_references WHERE local_id = $1',
        [local],
      );
      expect(ref[0]!.external_id).not.toBe(cid(0));
    });

    it('deleted at the provider, edited locally: provider_wins deletes the local row too', async () => {
      jobs.seed(3);
      const job = await both('provider_wins');
      await h.engine.runJob(job.id);
      const local = await localIdOf(cid(0));
      h.provider.remove('customer', cid(0));
      await h.query(`UPDATE customers SET name = 'edited', updated_at = clock_timestamp() WHERE id = $1`, [local]);
      const e = await h.engine.runJob(job.id);
      expect(e).toMatchObject({ status: 'completed', deleted: 1, failed: 0 });
      expect(await jobs.localCount()).toBe(2);
      expect(await jobs.refCount()).toBe(2);
    });

    it('deleted locally, edited at the provider: provider_wins restores the row, local_wins deletes at the provider', async () => {
      jobs.seed(3);
      const job = await both('provider_wins');
      await h.engine.runJob(job.id);
      await h.query('DELETE FROM customers WHERE id = $1', [await localIdOf(cid(1))]);
      h.provider.patch('customer', cid(1), { name: 'provider edit' });
      const restored = await h.engine.runJob(job.id);
      expect(restored).toMatchObject({ status: 'completed', failed: 0, deleted: 0 });
      expect(await h.query(`SELECT name FROM customers WHERE name = 'provider edit'`)).toHaveLength(1);

      await h.engine.jobs.update(job.id, { conflictStrategy: 'local_wins' });
      await h.query('DELETE FROM customers WHERE id = $1', [await localIdOf(cid(2))]);
      h.provider.patch('customer', cid(2), { name: 'provider edit 2' });
      const deleted = await h.engine.runJob(job.id);
      expect(deleted).toMatchObject({ status: 'completed', failed: 0, deleted: 1 });
      expect(h.provider.get('customer', cid(2))).toBeUndefined();
      expect(await jobs.localCount()).toBe(2);
    });

    it('manual leaves a deletion against an update in conflict: nothing is deleted or written', async () => {
      jobs.seed(3);
      const job = await both('manual');
      await h.engine.runJob(job.id);
      const local = await localIdOf(cid(0));
      h.provider.remove('customer', cid(0));
      await h.query(`UPDATE customers SET name = 'edited', updated_at = clock_timestamp() WHERE id = $1`, [local]);
      const e = await h.engine.runJob(job.id);
      expect(e.conflicts).toBe(1);
      expect(await jobs.localCount()).toBe(3);
      expect(h.provider.count('customer')).toBe(2);
    });
  });

  describe('into a table with a soft-delete column', () => {
    beforeEach(async () => {
      h = await createHarness(db, `deletes-soft-${db.name}`, {
        ddl: SOFT_DDL,
        entities: { customer: { table: 'customers', deletedAtColumn: 'deleted_at' } },
      });
    });

    it('soft_delete marks the rows and keeps their references; a record that comes back is restored', async () => {
      jobs.seed(10);
      const job = await jobs.job({ deletePolicy: 'soft_delete' });
      await h.engine.runJob(job.id);
      h.provider.remove('customer', cid(2));
      const e = await h.engine.runJob(job.id);
      expect(e).toMatchObject({ status: 'completed', deleted: 1, skipped: 9, processed: 10 });
      const rows = await h.query<{ name: string; deleted: boolean }>(
        'SELECT name, deleted_at IS NOT NULL AS deleted FROM customers ORDER BY name',
      );
      expect(rows).toHaveLength(10);
      expect(rows.filter((r) => r.deleted).map((r) => r.name)).toEqual(['N2']);
      const refs = await h.query<{ deleted: boolean }>(
        'SELECT deleted_at IS NOT NULL AS deleted FROM external_references WHERE external_id = $1',
        [cid(2)],
      );
      expect(refs).toEqual([{ deleted: true }]);
      // Already marked: the next run deletes nothing again.
      expect(await h.engine.runJob(job.id)).toMatchObject({ deleted: 0, processed: 9 });

      h.provider.put('customer', { name: 'N2 again', email: 'e2@x.test' }, cid(2));
      const back = await h.engine.runJob(job.id);
      expect(back).toMatchObject({ updated: 1, created: 0, deleted: 0 });
      const restored = await h.query<{ name: string; deleted_at: unknown }>(
        `SELECT name, deleted_at FROM customers WHERE name = 'N2 again'`,
      );
      expect(restored).toEqual([{ name: 'N2 again', deleted_at: null }]);
    });

    it('outbound: rows the application marks deleted are deleted at the provider', async () => {
      const job = await jobs.job({
        direction: 'outbound',
        deletePolicy: 'hard_delete',
        mode: 'incremental',
        massDeleteThreshold: 100,
        fieldMappings: OUT_RULES,
      });
      await jobs.insertLocal(4);
      await h.engine.runJob(job.id);
      expect(h.provider.count('customer')).toBe(4);
      await h.query(`UPDATE customers SET deleted_at = now(), updated_at = clock_timestamp() WHERE name = 'L0'`);
      const e = await h.engine.runJob(job.id);
      expect(e).toMatchObject({ status: 'completed', deleted: 1, created: 0, updated: 0 });
      expect(h.provider.count('customer')).toBe(3);
      expect(h.provider.all('customer').map((r) => r.data.name)).not.toContain('L0');
    });
  });
});
