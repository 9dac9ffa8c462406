import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRestProvider } from '../src/connectors/rest/index.ts';
import { type RestPeopleServer, restPeopleConfig, startRestPeopleServer } from './contract/rest-server.ts';
import { counters, createHarness, type Harness, TEST_DATABASES } from './helpers/db.ts';

/**
 * Page commits go through sessions with `synchronous_commit = off` on PostgreSQL (Database.pageDb): a crash of the
 * server may lose the last fraction of a second of committed pages, and the next attempt redoes them. For a create
 * at a provider that cannot recognise it again (no idempotency key, no lookup by source id), the reference that
 * commit writes is the only record that the create happened: losing it turns into a second create. Those commits
 * must be durable.
 *
 * What is observed: the `synchronous_commit` in effect in the transaction that wrote each reference, noted by a
 * trigger on the engine's `external_references` (the setting a transaction commits with is its value at commit;
 * nothing is written after the references). Real PostgreSQL, a real HTTP REST API. PostgreSQL only: on PGlite
 * there is one session and every commit is synchronous.
 */
const postgres = TEST_DATABASES.find((d) => d.name === 'postgres');

describe.skipIf(!postgres)('durable page commits for creates a provider cannot dedupe (PostgreSQL)', () => {
  let h: Harness;
  let server: RestPeopleServer;
  beforeEach(async ({ task }) => {
    h = await createHarness(postgres!, task.name, {
      providers: [createRestProvider({ retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 10 } })],
      entities: { person: { table: 'customers', primaryKey: 'id', updatedAtColumn: 'updated_at' } },
      // Two records a page: several page commits per run.
      pageSize: 2,
    });
    server = await startRestPeopleServer();
    await h.query(`
      CREATE TABLE "${h.schema}".commit_settings (external_id text NOT NULL, op text NOT NULL, setting text NOT NULL);
      CREATE FUNCTION "${h.schema}".note_commit_setting() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO "${h.schema}".commit_settings VALUES (NEW.external_id, TG_OP, current_setting('synchronous_commit'));
        RETURN NULL;
      END $$;
      CREATE TRIGGER note_commit_setting AFTER INSERT OR UPDATE ON "${h.schema}".external_references
        FOR EACH ROW EXECUTE FUNCTION "${h.schema}".note_commit_setting();`);
    await h.query(
      "INSERT INTO customers (id, name, email) SELECT gen_random_uuid(), 'Person ' || i, 'p' || i || '@x.test' FROM generate_series(1, 5) i",
    );
  });
  afterEach(async () => {
    await server?.close();
    await h?.close();
  });

  async function outboundJob(config: { idempotencyHeader?: boolean; lookup?: boolean }) {
    const conn = await h.engine.connections.create({
      name: 'People',
      provider: 'rest',
      config: restPeopleConfig(server.url, config),
      credentials: { token: server.token },
    });
    return h.engine.jobs.create({
      connectionId: conn.id,
      name: 'People out',
      entityType: 'person',
      direction: 'outbound',
      mode: 'full',
      fieldMappings: [
        { sourceField: 'name', targetField: 'name', direction: 'outbound' },
        { sourceField: 'email', targetField: 'email', direction: 'outbound' },
      ],
    });
  }

  /** The setting each reference was written with, per operation (INSERT, UPDATE). */
  const settings = async () =>
    h.query<{ op: string; setting: string; n: number }>(
      `SELECT op, setting, count(*)::int AS n FROM "${h.schema}".commit_settings GROUP BY op, setting ORDER BY op, setting`,
    );

  it('without an idempotency key or lookup, the commits recording creates are synchronous; updates stay fast', async () => {
    const job = await outboundJob({ idempotencyHeader: false, lookup: false });
    const first = await h.engine.runJob(job.id);
    expect(counters(first)).toEqual({ processed: 5, created: 5, updated: 0, skipped: 0, failed: 0 });
    expect(server.requests.created).toHaveLength(5);
    expect(await settings()).toEqual([{ op: 'INSERT', setting: 'on', n: 5 }]);

    // An update sent again after a lost commit changes nothing: its commit keeps the fast setting.
    await h.query(`DELETE FROM "${h.schema}".commit_settings`);
    await h.query("UPDATE customers SET name = 'Renamed', updated_at = clock_timestamp() WHERE email = 'p1@x.test'");
    const second = await h.engine.runJob(job.id);
    expect(counters(second)).toEqual({ processed: 5, created: 0, updated: 1, skipped: 4, failed: 0 });
    expect(await settings()).toEqual([{ op: 'UPDATE', setting: 'off', n: 1 }]);
  });

  it('with an idempotency key, or with lookup-before-create, the commits stay asynchronous', async () => {
    const keyed = await outboundJob({ idempotencyHeader: true });
    expect(counters(await h.engine.runJob(keyed.id))).toMatchObject({ created: 5, failed: 0 });
    expect(await settings()).toEqual([{ op: 'INSERT', setting: 'off', n: 5 }]);

    await h.query(`DELETE FROM "${h.schema}".commit_settings`);
    const looked = await outboundJob({ idempotencyHeader: false, lookup: true });
    expect(counters(await h.engine.runJob(looked.id))).toMatchObject({ created: 5, failed: 0 });
    expect(await settings()).toEqual([{ op: 'INSERT', setting: 'off', n: 5 }]);
  });
});
