import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/store/database.ts';
import { describeSchema } from '../src/store/describe.ts';
import { listMigrations, migrate } from '../src/store/migrate.ts';
import { createHarness, type Harness, TEST_DATABASES } from './helpers/db.ts';

describe('schema', () => {
  it('the checked-in schema.sql matches what the migrations build (run `npm run schema:dump`)', async () => {
    const database = await openDatabase({ database: 'memory://' });
    try {
      await migrate(database);
      const expected = readFileSync(new URL('../src/store/schema.sql', import.meta.url), 'utf8');
      expect(await describeSchema(database)).toBe(expected);
    } finally {
      await database.close();
    }
  });
});

describe.each(TEST_DATABASES)('migrations on $name', (db) => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
  });

  it('apply once; a second run applies nothing', async (ctx) => {
    h = await createHarness(db, ctx.task.name);
    const again = await migrate(h.engine.database);
    expect(again).toEqual(listMigrations().map((m) => ({ name: m.name, status: 'already_applied' })));
  });

  it('constraints refuse wrong states', async (ctx) => {
    h = await createHarness(db, ctx.task.name);
    const conn = await h.engine.connections.create({ name: 'c', provider: 'memory' });
    const job = await h.engine.jobs.create({
      connectionId: conn.id,
      name: 'j',
      entityType: 'customer',
      direction: 'inbound',
    });
    const refs =
      'INSERT INTO external_references (connection_id, entity_type, local_id, external_id) VALUES ($1, $2, $3, $4)';
    await h.query(refs, [conn.id, 'customer', 'L1', 'X1']);
    // One reference per (connection, entity type, local id) and per (…, external id).
    await expect(h.query(refs, [conn.id, 'customer', 'L1', 'X2'])).rejects.toThrow(/external_references_local_key/);
    await expect(h.query(refs, [conn.id, 'customer', 'L2', 'X1'])).rejects.toThrow(/external_references_external_key/);
    await h.query(refs, [conn.id, 'invoice', 'L1', 'X1']);
    // Counters are non-negative and add up; statuses and directions are checked values.
    const exec = `INSERT INTO sync_executions (job_id, trigger, status, started_at, processed, failed)
                  VALUES ($1, 'manual', $2, now(), $3, $4)`;
    await expect(h.query(exec, [job.id, 'running', -1, 0])).rejects.toThrow(/check/i);
    await expect(h.query(exec, [job.id, 'running', 1, 2])).rejects.toThrow(/check/i);
    await expect(h.query(exec, [job.id, 'exploded', 0, 0])).rejects.toThrow(/check/i);
    await expect(h.query("UPDATE sync_jobs SET direction = 'sideways'")).rejects.toThrow(/check/i);
    await expect(h.query('UPDATE sync_jobs SET max_retries = 11')).rejects.toThrow(/check/i);
    await expect(h.query("UPDATE sync_jobs SET direction = 'bidirectional'")).rejects.toThrow(/check/i);
    // A final status needs completedAt; one whole run per job at a time.
    await expect(h.query(exec, [job.id, 'completed', 0, 0])).rejects.toThrow(/check/i);
    await h.query(exec, [job.id, 'running', 0, 0]);
    await expect(h.query(exec, [job.id, 'running', 0, 0])).rejects.toThrow(/sync_executions_one_running_idx/);
  });
});
