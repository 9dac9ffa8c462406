import { afterEach, describe, expect, it } from 'vitest';
import type { ProviderDefinition } from '../../src/engine/endpoint.ts';
import { counters, createHarness, type Harness, type TEST_DATABASES } from '../helpers/db.ts';

/**
 * The contract every real connector passes against its sandbox, over HTTP, through the engine: records
 * land in the local `customers` table (name, email), executions say what happened, the sandbox says how
 * many requests it served. A connector joins by writing a `ConnectorAdapter`.
 */
export interface ConnectorAdapter {
  /** Provider name as registered (and as it prefixes its error messages). */
  name: string;
  /** The provider, with short retry waits for tests. */
  provider(): ProviderDefinition;
  entityType: string;
  /** The provider's fields for the local table's `name` and `email` columns. */
  nameField: string;
  emailField: string;
  /** Starts the sandbox with `records` seeded records. */
  start(records: number): Promise<ContractSandbox>;
}

export interface ProviderRecord {
  id: string;
  name: string | null;
  email: string | null;
}

export interface ContractSandbox {
  config: Record<string, unknown>;
  credentials: Record<string, string>;
  /** Credentials the sandbox refuses (401). */
  badCredentials: Record<string, string>;
  /** Records at the provider (of the adapter's entity type). */
  list(): ProviderRecord[];
  /** Changes a record's name (its modification time moves to now). */
  rename(id: string, name: string): void;
  /** Requests served: all, by status, and the listing calls (full list pages). */
  requests(): { total: number; listCalls: number; byStatus: Record<number, number> };
  faults: {
    /** 429s (with Retry-After where the provider sends one) for the next `n` requests. */
    rateLimit(n: number): void;
    /** 5xx for the next `n` requests. */
    serverErrors(n: number): void;
    /** The next write is applied but its response is lost (5xx). */
    loseNextWriteResponse(): void;
    /** This record is served in a broken shape. */
    malformed(id: string): void;
    clear(): void;
  };
  close(): Promise<void>;
}

function fiveXX(sandbox: ContractSandbox): number {
  return Object.entries(sandbox.requests().byStatus)
    .filter(([s]) => Number(s) >= 500)
    .reduce((n, [, c]) => n + c, 0);
}

/** Registers the contract's cases for one connector, on each given database. */
export function connectorContract(adapter: ConnectorAdapter, databases: typeof TEST_DATABASES): void {
  for (const db of databases) {
    describe(`${adapter.name} connector contract (${db.name})`, () => {
      let h: Harness | undefined;
      let sandbox: ContractSandbox | undefined;
      afterEach(async () => {
        await h?.close();
        await sandbox?.close();
        h = undefined;
        sandbox = undefined;
      });

      const rules = [
        { sourceField: adapter.nameField, targetField: 'name', direction: 'inbound' as const },
        { sourceField: adapter.emailField, targetField: 'email', direction: 'inbound' as const },
        { sourceField: 'name', targetField: adapter.nameField, direction: 'outbound' as const },
        { sourceField: 'email', targetField: adapter.emailField, direction: 'outbound' as const },
      ];

      async function setup(
        records: number,
        job: { direction: 'inbound' | 'outbound'; mode?: 'full' | 'incremental' },
        credentials?: 'bad',
      ) {
        sandbox = await adapter.start(records);
        h = await createHarness(db, `contract-${adapter.name}-${job.direction}-${job.mode ?? 'full'}`, {
          providers: [adapter.provider()],
          entities: { [adapter.entityType]: { table: 'customers', primaryKey: 'id', updatedAtColumn: 'updated_at' } },
        });
        const conn = await h.engine.connections.create({
          name: `${adapter.name} sandbox`,
          provider: adapter.name,
          config: sandbox.config,
          credentials: credentials === 'bad' ? sandbox.badCredentials : sandbox.credentials,
        });
        const created = await h.engine.jobs.create({
          connectionId: conn.id,
          name: `${adapter.name} ${adapter.entityType}`,
          entityType: adapter.entityType,
          direction: job.direction,
          mode: job.mode ?? 'full',
          fieldMappings: rules,
        });
        return { h, sandbox, job: created };
      }

      const byEmail = (a: { name: string | null; email: string | null }, b: typeof a) =>
        String(a.email) < String(b.email) ? -1 : String(a.email) > String(b.email) ? 1 : 0;
      const localRows = async (harness: Harness) =>
        (await harness.query<{ name: string | null; email: string }>('SELECT name, email FROM customers')).sort(
          byEmail,
        );

      it('list full: every record once, paged, into the local table', async () => {
        const { h, sandbox, job } = await setup(250, { direction: 'inbound' });
        const e = await h.engine.runJob(job.id);
        expect(e.status).toBe('completed');
        expect(counters(e)).toEqual({ processed: 250, created: 250, updated: 0, skipped: 0, failed: 0 });
        expect(sandbox.requests().listCalls).toBe(3);
        const rows = await localRows(h);
        const expected = sandbox
          .list()
          .map((r) => ({ name: r.name, email: r.email }))
          .sort(byEmail);
        expect(rows).toEqual(expected);
        // A second full run reads everything again and writes nothing.
        const again = await h.engine.runJob(job.id);
        expect(counters(again)).toEqual({ processed: 250, created: 0, updated: 0, skipped: 250, failed: 0 });
      });

      it('list incremental: only records changed since the cursor, without a full listing', async () => {
        const { h, sandbox, job } = await setup(120, { direction: 'inbound', mode: 'incremental' });
        expect((await h.engine.runJob(job.id)).created).toBe(120); // no cursor yet: everything
        const [a, b] = sandbox.list();
        sandbox.rename(a!.id, 'Changed A');
        sandbox.rename(b!.id, 'Changed B');
        const lists = sandbox.requests().listCalls;
        const e = await h.engine.runJob(job.id);
        expect(e.status).toBe('completed');
        expect(counters(e)).toEqual({ processed: 2, created: 0, updated: 2, skipped: 0, failed: 0 });
        expect(sandbox.requests().listCalls).toBe(lists);
        const names = await h.query<{ name: string }>(
          "SELECT name FROM customers WHERE name LIKE 'Changed%' ORDER BY 1",
        );
        expect(names.map((r) => r.name)).toEqual(['Changed A', 'Changed B']);
      });

      it('get by ids: a single-record run fetches just that record', async () => {
        const { h, sandbox, job } = await setup(50, { direction: 'inbound' });
        const target = sandbox.list()[7]!;
        const before = sandbox.requests();
        const e = await h.engine.runJob(job.id, { recordKeys: [target.id], side: 'provider' });
        expect(e.status).toBe('completed');
        expect(counters(e)).toEqual({ processed: 1, created: 1, updated: 0, skipped: 0, failed: 0 });
        expect(await localRows(h)).toEqual([{ name: target.name, email: target.email }]);
        const after = sandbox.requests();
        expect(after.listCalls).toBe(before.listCalls);
        expect(after.total - before.total).toBeLessThanOrEqual(2);
      });

      it('create and update: local rows become provider records, then a change is sent as an update', async () => {
        const { h, sandbox, job } = await setup(10, { direction: 'outbound' });
        await h.query(
          "INSERT INTO customers (id, name, email) SELECT gen_random_uuid(), 'Local ' || i, 'local' || i || '@example.com' FROM generate_series(1, 30) i",
        );
        const e = await h.engine.runJob(job.id);
        expect(e.status).toBe('completed');
        expect(counters(e)).toEqual({ processed: 30, created: 30, updated: 0, skipped: 0, failed: 0 });
        const remote = sandbox.list();
        expect(remote).toHaveLength(40);
        expect(remote.find((r) => r.email === 'local7@example.com')?.name).toBe('Local 7');

        await h.query(
          "UPDATE customers SET name = 'Renamed 7', updated_at = clock_timestamp() + interval '1 second' WHERE email = 'local7@example.com'",
        );
        const u = await h.engine.runJob(job.id);
        expect(counters(u)).toEqual({ processed: 30, created: 0, updated: 1, skipped: 29, failed: 0 });
        const after = sandbox.list();
        expect(after).toHaveLength(40);
        expect(after.find((r) => r.email === 'local7@example.com')?.name).toBe('Renamed 7');
      });

      it('idempotent replay: a create whose response was lost never makes a second record', async () => {
        const { h, sandbox, job } = await setup(5, { direction: 'outbound' });
        await h.query(
          "INSERT INTO customers (id, name, email) SELECT gen_random_uuid(), 'Replay ' || i, 'replay' || i || '@example.com' FROM generate_series(1, 20) i",
        );
        sandbox.faults.loseNextWriteResponse();
        const e = await h.engine.runJob(job.id);
        expect(fiveXX(sandbox)).toBeGreaterThanOrEqual(1); // the fault fired: a write happened, its answer was lost
        expect(e.failed).toBeLessThanOrEqual(1); // providers that replay the lost 5xx (Stripe) fail that one record
        expect(sandbox.list()).toHaveLength(25);
        sandbox.faults.clear();
        const again = await h.engine.runJob(job.id);
        expect(again.created + again.skipped + again.failed).toBe(20);
        const emails = sandbox.list().map((r) => r.email);
        expect(emails).toHaveLength(25);
        expect(new Set(emails).size).toBe(25);
      });

      it('429 storm: the run waits (Retry-After) and completes', async () => {
        const { h, sandbox, job } = await setup(250, { direction: 'inbound' });
        sandbox.faults.rateLimit(5);
        const e = await h.engine.runJob(job.id);
        expect(e.status).toBe('completed');
        expect(counters(e)).toEqual({ processed: 250, created: 250, updated: 0, skipped: 0, failed: 0 });
        expect(sandbox.requests().byStatus[429]).toBe(5);
      });

      it('5xx bursts: retried, the run completes', async () => {
        const { h, sandbox, job } = await setup(250, { direction: 'inbound' });
        sandbox.faults.serverErrors(3);
        const e = await h.engine.runJob(job.id);
        expect(e.status).toBe('completed');
        expect(counters(e)).toEqual({ processed: 250, created: 250, updated: 0, skipped: 0, failed: 0 });
        expect(fiveXX(sandbox)).toBe(3);
      });

      it('auth failure: the run fails once with a clear message and no record failures', async () => {
        const { h, job } = await setup(20, { direction: 'inbound' }, 'bad');
        const e = await h.engine.runJob(job.id);
        expect(e.status).toBe('failed');
        expect(e.processed).toBe(0);
        expect(e.haltReason).toMatch(new RegExp(`^auth error: ${adapter.name}: 401 `));
        expect(await h.engine.executions.failures(e.id)).toEqual([]);
        const all = await h.engine.executions.list(job.id);
        expect(all.map((x) => x.status)).toEqual(['failed']);
        expect(await h.query('SELECT 1 FROM customers')).toEqual([]);
      });

      it('malformed record: exactly one record failure, its neighbours written', async () => {
        const { h, sandbox, job } = await setup(30, { direction: 'inbound' });
        const bad = sandbox.list()[4]!;
        sandbox.faults.malformed(bad.id);
        const e = await h.engine.runJob(job.id);
        expect(counters(e)).toEqual({ processed: 30, created: 29, updated: 0, skipped: 0, failed: 1 });
        const failures = await h.engine.executions.failures(e.id);
        expect(failures).toHaveLength(1);
        expect(failures[0]).toMatchObject({ recordKey: bad.id, side: 'provider', phase: 'fetch', errorKind: 'record' });
        expect(failures[0]!.message).toMatch(new RegExp(`${adapter.name}: .*${bad.id} is malformed`));
        const rows = await localRows(h);
        expect(rows).toHaveLength(29);
        expect(rows.some((r) => r.email === bad.email)).toBe(false);
      });
    });
  }
}
