import { afterEach, describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/domain/errors.ts';
import type { SyncExecution } from '../../src/domain/types.ts';
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
  /** How the provider deletes (issue 13), as its documentation says: the deletion scenarios check it. */
  deletes: {
    /** Incremental reads report deletions (Stripe `*.deleted` events, HubSpot archived objects); else only a full run's sweep finds them. */
    tombstones: boolean;
    /** What a deleted record is at the provider afterwards: `gone`, or `archived` (kept, marked: HubSpot). */
    deletedState: 'gone' | 'archived';
    /**
     * `soft_delete` towards the provider: `refused` when the job is saved (the message matches `refusal`), or
     * accepted, leaving the record in `ProviderState` (the REST connector sends the entity's delete request, which
     * for the people server is a DELETE: `gone`).
     */
    softOutbound: { refusal: RegExp } | { state: 'gone' | 'archived' };
    /** A removed record brought back at the source keeps its id (HubSpot restore, REST put); Stripe never reuses ids. */
    recreateKeepsId: boolean;
  };
}

/** A record at the provider: live, archived (kept and marked deleted, HubSpot), or gone. */
export type ProviderState = 'live' | 'archived' | 'gone';

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
  /** Changes a record's name and/or email at the provider, as a user of the provider would. */
  edit(id: string, patch: { name?: string; email?: string }): void;
  /** Deletes a record at the provider, as a user would (Stripe delete, HubSpot archive, REST delete). */
  remove(id: string): void;
  /**
   * Brings a removed record back at the source: HubSpot restores it, the REST server puts it again under its id,
   * Stripe (which never reuses ids) gets a new customer with the same name and email. Returns its id.
   */
  recreate(record: ProviderRecord): string;
  /** Whether the record is live, archived (kept, marked deleted) or gone at the provider. */
  state(id: string): ProviderState;
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
  for (const db of databases) deletionContract(adapter, db);
}

/** The local table of the deletion scenarios: `customers` with a soft-delete column, declared as `deletedAtColumn`. */
const SOFT_DDL = `
  CREATE TABLE customers (
    id uuid PRIMARY KEY,
    name text,
    email text NOT NULL,
    balance numeric(12,2),
    deleted_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
  );`;

type DeletePolicy = 'ignore' | 'soft_delete' | 'hard_delete';
type Direction = 'inbound' | 'outbound' | 'bidirectional';
type Counts = Partial<Record<'created' | 'updated' | 'deleted' | 'skipped' | 'failed' | 'conflicts', number>>;

/** The execution's counters are exactly `c` (others 0), and processed = created + updated + deleted + skipped + failed. */
function expectCounters(e: SyncExecution, c: Counts): void {
  const want = { created: 0, updated: 0, deleted: 0, skipped: 0, failed: 0, conflicts: 0, ...c };
  const { created, updated, deleted, skipped, failed, conflicts, processed } = e;
  expect({ created, updated, deleted, skipped, failed, conflicts, processed }).toEqual({
    ...want,
    processed: want.created + want.updated + want.deleted + want.skipped + want.failed,
  });
}

/** A local row with its reference (null columns when it has none). */
interface LocalRow {
  id: string;
  name: string | null;
  email: string;
  /** The row's soft-delete column is set. */
  deleted: boolean;
  externalId: string | null;
  /** Its reference is marked deleted (a soft delete); null without a reference. */
  refDeleted: boolean | null;
}

const rowsOf = (h: Harness) =>
  h.query<LocalRow>(`
    SELECT c.id::text AS id, c.name, c.email, c.deleted_at IS NOT NULL AS deleted, r.external_id AS "externalId",
           CASE WHEN r.local_id IS NULL THEN NULL ELSE r.deleted_at IS NOT NULL END AS "refDeleted"
    FROM customers c LEFT JOIN external_references r ON r.local_id = c.id::text
    ORDER BY c.email, c.id`);
const refsOf = (h: Harness) =>
  h.query<{ localId: string; externalId: string; deleted: boolean }>(
    `SELECT local_id AS "localId", external_id AS "externalId", deleted_at IS NOT NULL AS deleted
     FROM external_references ORDER BY external_id`,
  );
const localIdOf = async (h: Harness, externalId: string) => {
  const rows = await h.query<{ local_id: string }>('SELECT local_id FROM external_references WHERE external_id = $1', [
    externalId,
  ]);
  if (rows.length !== 1) throw new Error(`no reference for ${externalId}`);
  return rows[0]!.local_id;
};
/** An application's edit of a local row (its modification time moves on). */
const editLocal = (h: Harness, id: string, set: string) =>
  h.query(`UPDATE customers SET ${set}, updated_at = clock_timestamp() WHERE id = $1`, [id]);
const deleteLocal = (h: Harness, id: string) => h.query('DELETE FROM customers WHERE id = $1', [id]);
/** The application marks a row deleted through the soft-delete column. */
const markLocal = (h: Harness, id: string) => editLocal(h, id, 'deleted_at = clock_timestamp()');
const sortedEmails = (rows: { email: string | null }[]) => rows.map((r) => String(r.email)).sort();

/**
 * Deletes and conflicts (issue 13) through the engine against the sandbox: each delete policy in each direction
 * (or its refusal when the job is saved), the full run's sweep, tombstones of incremental reads, mass-delete
 * protection and Apply deletions, a deletion against an update, manual conflicts resolved by record and by field,
 * and a deleted record that comes back. Local rows, references, the provider's records and the counters are checked.
 */
function deletionContract(adapter: ConnectorAdapter, db: (typeof TEST_DATABASES)[number]): void {
  describe(`${adapter.name} connector contract: deletes and conflicts (${db.name})`, () => {
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
    const { deletes } = adapter;
    /** What a record deleted at the provider by a job is afterwards (HubSpot archives, soft and hard alike). */
    const deletedAtProvider = (policy: DeletePolicy): ProviderState =>
      policy === 'soft_delete' && 'state' in deletes.softOutbound ? deletes.softOutbound.state : deletes.deletedState;

    /** The sandbox with `records` records, an engine whose `customers` entity has a soft-delete column, a connection. */
    async function open(records: number, label: string) {
      sandbox = await adapter.start(records);
      const harness = await createHarness(db, `contract-deletes-${adapter.name}-${label}`, {
        providers: [adapter.provider()],
        ddl: SOFT_DDL,
        entities: {
          [adapter.entityType]: {
            table: 'customers',
            primaryKey: 'id',
            updatedAtColumn: 'updated_at',
            deletedAtColumn: 'deleted_at',
          },
        },
      });
      h = harness;
      const conn = await harness.engine.connections.create({
        name: `${adapter.name} sandbox`,
        provider: adapter.name,
        config: sandbox.config,
        credentials: sandbox.credentials,
      });
      const createJob = (job: {
        direction: Direction;
        deletePolicy: DeletePolicy;
        mode?: 'full' | 'incremental';
        conflictStrategy?: 'local_wins' | 'provider_wins' | 'newest_wins' | 'manual';
        massDeleteThreshold?: number;
      }) =>
        harness.engine.jobs.create({
          connectionId: conn.id,
          name: `${adapter.name} ${adapter.entityType} ${label}`,
          entityType: adapter.entityType,
          direction: job.direction,
          mode: job.mode ?? 'full',
          fieldMappings: rules,
          deletePolicy: job.deletePolicy,
          ...(job.direction === 'bidirectional' ? { conflictStrategy: job.conflictStrategy ?? 'local_wins' } : {}),
          ...(job.massDeleteThreshold === undefined ? {} : { massDeleteThreshold: job.massDeleteThreshold }),
        });
      return { h: harness, sandbox, createJob };
    }

    const POLICIES: DeletePolicy[] = ['ignore', 'soft_delete', 'hard_delete'];
    for (const policy of POLICIES) {
      // The threshold leaves these runs' few deletions alone (mass-delete protection has its own case).
      const job = { deletePolicy: policy, massDeleteThreshold: 50 };
      const propagates = policy !== 'ignore';
      const soft = policy === 'soft_delete';

      it(`${policy} × inbound: a full run's sweep ${propagates ? (soft ? 'marks' : 'deletes') : 'leaves'} the local row of a record deleted at the provider`, async () => {
        const { h, sandbox, createJob } = await open(8, `inbound-${policy}`);
        const j = await createJob({ ...job, direction: 'inbound' });
        expect(j.deletePolicy).toBe(policy);
        expectCounters(await h.engine.runJob(j.id), { created: 8 });
        const gone = sandbox.list()[2]!;
        sandbox.remove(gone.id);

        const e = await h.engine.runJob(j.id);
        expect(e.status).toBe('completed');
        expectCounters(e, { skipped: 7, deleted: propagates ? 1 : 0 });
        const rows = await rowsOf(h);
        const row = rows.find((r) => r.email === gone.email);
        if (!propagates) expect(row).toMatchObject({ deleted: false, externalId: gone.id, refDeleted: false });
        else if (soft) expect(row).toMatchObject({ deleted: true, externalId: gone.id, refDeleted: true });
        else {
          expect(row).toBeUndefined();
          expect((await refsOf(h)).map((r) => r.externalId)).not.toContain(gone.id);
        }
        expect(rows).toHaveLength(propagates && !soft ? 7 : 8);
        // The provider's live records are the local rows left alone.
        const others = rows.filter((r) => r.externalId !== gone.id);
        expect(others.every((r) => !r.deleted && r.refDeleted === false)).toBe(true);
        expect(sortedEmails(others)).toEqual(sortedEmails(sandbox.list()));

        // Deleting is done once: the next run finds nothing more.
        const again = await h.engine.runJob(j.id);
        expectCounters(again, { skipped: 7 });
        expect(await rowsOf(h)).toEqual(rows);
      });

      const refusedOutbound = soft && 'refusal' in deletes.softOutbound ? deletes.softOutbound.refusal : null;
      for (const direction of ['outbound', 'bidirectional'] as const) {
        if (refusedOutbound) {
          it(`${policy} × ${direction}: refused when the job is saved`, async () => {
            const { h, createJob } = await open(0, `${direction}-${policy}-refused`);
            const err = await createJob({ ...job, direction }).catch((e: unknown) => e);
            expect(err).toBeInstanceOf(ValidationError);
            expect((err as ValidationError).issues).toEqual([
              { path: 'deletePolicy', message: expect.stringMatching(refusedOutbound) },
            ]);
            expect(await h.engine.jobs.list()).toEqual([]);
          });
        }
      }
      if (refusedOutbound) continue;

      it(`${policy} × outbound: local rows deleted outright or marked deleted ${propagates ? 'are deleted at the provider' : 'stay at the provider'}`, async () => {
        const { h, sandbox, createJob } = await open(3, `outbound-${policy}`);
        const j = await createJob({ ...job, direction: 'outbound' });
        await h.query(
          "INSERT INTO customers (id, name, email) SELECT gen_random_uuid(), 'Out ' || i, 'out' || i || '@example.com' FROM generate_series(1, 8) i",
        );
        expectCounters(await h.engine.runJob(j.id), { created: 8 });
        const before = await rowsOf(h);
        const [dropped, marked] = before;
        await deleteLocal(h, dropped!.id);
        await markLocal(h, marked!.id);

        const e = await h.engine.runJob(j.id);
        expect(e.status).toBe('completed');
        // Six rows unchanged; ignoring deletions, the marked row is one more unchanged row.
        expectCounters(e, propagates ? { skipped: 6, deleted: 2 } : { skipped: 7 });
        const want: ProviderState = propagates ? deletedAtProvider(policy) : 'live';
        expect([sandbox.state(dropped!.externalId!), sandbox.state(marked!.externalId!)]).toEqual([want, want]);
        expect(sandbox.list()).toHaveLength(propagates ? 3 + 6 : 3 + 8);
        const refs = await refsOf(h);
        const refOf = (r: LocalRow) => refs.find((x) => x.localId === r.id);
        if (!propagates) expect(refs.every((r) => !r.deleted)).toBe(true);
        else if (soft) expect([refOf(dropped!)?.deleted, refOf(marked!)?.deleted]).toEqual([true, true]);
        else expect([refOf(dropped!), refOf(marked!)]).toEqual([undefined, undefined]);
        expect(refs).toHaveLength(propagates && !soft ? 6 : 8);
        // The engine leaves the application's rows as they are: the marked one stays marked.
        const rows = await rowsOf(h);
        expect(rows.map((r) => [r.email, r.deleted])).toEqual(
          before.slice(1).map((r) => [r.email, r.id === marked!.id]),
        );

        const again = await h.engine.runJob(j.id);
        // The marked row is read as a deletion again: already applied, a skip.
        expectCounters(again, { skipped: 7 });
        expect(sandbox.list()).toHaveLength(propagates ? 3 + 6 : 3 + 8);
      });

      it(`${policy} × bidirectional: deletions on each side ${propagates ? 'reach the other' : 'stay on their side'}`, async () => {
        const { h, sandbox, createJob } = await open(8, `bidirectional-${policy}`);
        const j = await createJob({ ...job, direction: 'bidirectional' });
        // Inbound creates the rows; outbound sees its own echoes.
        expectCounters(await h.engine.runJob(j.id), { created: 8, skipped: 8 });
        const [a, b, c] = sandbox.list();
        const [aLocal, bLocal, cLocal] = [
          await localIdOf(h, a!.id),
          await localIdOf(h, b!.id),
          await localIdOf(h, c!.id),
        ];
        sandbox.remove(a!.id); // deleted at the provider
        await deleteLocal(h, bLocal); // deleted locally outright
        await markLocal(h, cLocal); // marked deleted locally

        const e = await h.engine.runJob(j.id);
        expect(e.status).toBe('completed');
        if (propagates) {
          // Inbound: 7 records unchanged, a deleted locally; outbound: 6 rows unchanged, b and c deleted remotely.
          expectCounters(e, { skipped: 13, deleted: 3 });
          expect(e.directions).toMatchObject({ inbound: { deleted: 1 }, outbound: { deleted: 2 } });
        } else expectCounters(e, { skipped: 14 });
        const rows = await rowsOf(h);
        const aRow = rows.find((r) => r.id === aLocal);
        if (!propagates) expect(aRow).toMatchObject({ deleted: false, refDeleted: false });
        else if (soft) expect(aRow).toMatchObject({ deleted: true, refDeleted: true });
        else expect(aRow).toBeUndefined();
        expect(rows.some((r) => r.id === bLocal)).toBe(false);
        expect(rows.find((r) => r.id === cLocal)?.deleted).toBe(true);
        const want: ProviderState = propagates ? deletedAtProvider(policy) : 'live';
        expect([sandbox.state(b!.id), sandbox.state(c!.id)]).toEqual([want, want]);
        expect(sandbox.state(a!.id)).toBe(deletes.deletedState);
        expect(sandbox.list()).toHaveLength(propagates ? 5 : 7);

        const again = await h.engine.runJob(j.id);
        expect(again.status).toBe('completed');
        expect(again).toMatchObject({ created: 0, updated: 0, deleted: 0, failed: 0, conflicts: 0 });
        expect(again.created + again.updated + again.deleted + again.skipped + again.failed).toBe(again.processed);
        expect(await rowsOf(h)).toEqual(rows);
        expect(sandbox.list()).toHaveLength(propagates ? 5 : 7);
      });
    }

    if (deletes.tombstones) {
      it('incremental: tombstones delete locally without waiting for a full run', async () => {
        const { h, sandbox, createJob } = await open(8, 'incremental');
        const j = await createJob({
          direction: 'inbound',
          mode: 'incremental',
          deletePolicy: 'hard_delete',
          massDeleteThreshold: 50,
        });
        expectCounters(await h.engine.runJob(j.id), { created: 8 }); // no cursor yet: a full read
        const [gone, changed] = sandbox.list();
        sandbox.remove(gone!.id);
        sandbox.rename(changed!.id, 'Changed');
        const e = await h.engine.runJob(j.id);
        expect(e.status).toBe('completed');
        expectCounters(e, { updated: 1, deleted: 1 });
        const rows = await rowsOf(h);
        expect(rows).toHaveLength(7);
        expect(rows.some((r) => r.email === gone!.email)).toBe(false);
        expect(rows.find((r) => r.externalId === changed!.id)?.name).toBe('Changed');
        expect(await h.engine.runJob(j.id)).toMatchObject({ status: 'completed', deleted: 0, failed: 0 });
      });
    } else {
      it('incremental: no tombstones from this provider; the next full run sweeps the deletion', async () => {
        const { h, sandbox, createJob } = await open(8, 'incremental');
        const j = await createJob({
          direction: 'inbound',
          mode: 'incremental',
          deletePolicy: 'hard_delete',
          massDeleteThreshold: 50,
        });
        expectCounters(await h.engine.runJob(j.id), { created: 8 });
        const [gone, changed] = sandbox.list();
        sandbox.remove(gone!.id);
        sandbox.rename(changed!.id, 'Changed');
        expectCounters(await h.engine.runJob(j.id), { updated: 1 });
        expect(await rowsOf(h)).toHaveLength(8);
        await h.engine.jobs.update(j.id, { mode: 'full' });
        const full = await h.engine.runJob(j.id);
        expectCounters(full, { skipped: 7, deleted: 1 });
        expect((await rowsOf(h)).some((r) => r.email === gone!.email)).toBe(false);
      });
    }

    it('incremental outbound: a row marked deleted is deleted at the provider; one deleted outright waits for a full run', async () => {
      const { h, sandbox, createJob } = await open(2, 'incremental-outbound');
      const j = await createJob({
        direction: 'outbound',
        mode: 'incremental',
        deletePolicy: 'hard_delete',
        massDeleteThreshold: 50,
      });
      await h.query(
        "INSERT INTO customers (id, name, email) SELECT gen_random_uuid(), 'Inc ' || i, 'inc' || i || '@example.com' FROM generate_series(1, 6) i",
      );
      expectCounters(await h.engine.runJob(j.id), { created: 6 });
      const [dropped, marked] = await rowsOf(h);
      await deleteLocal(h, dropped!.id);
      await markLocal(h, marked!.id);
      const e = await h.engine.runJob(j.id);
      expect(e).toMatchObject({ status: 'completed', created: 0, updated: 0, deleted: 1, failed: 0, conflicts: 0 });
      // Rows written within the cursor's millisecond (it keeps no microseconds) may be read again, and skipped.
      expect(e.skipped).toBeLessThanOrEqual(4);
      expect(e.created + e.updated + e.deleted + e.skipped + e.failed).toBe(e.processed);
      expect([sandbox.state(dropped!.externalId!), sandbox.state(marked!.externalId!)]).toEqual([
        'live',
        deletes.deletedState,
      ]);
      await h.engine.jobs.update(j.id, { mode: 'full' });
      const full = await h.engine.runJob(j.id);
      // Four rows unchanged, the marked one already applied, the dropped one swept.
      expectCounters(full, { skipped: 5, deleted: 1 });
      expect(sandbox.state(dropped!.externalId!)).toBe(deletes.deletedState);
      expect(sandbox.list()).toHaveLength(2 + 4);
    });

    it('mass-delete protection holds the deletions back; Apply deletions applies those still gone', async () => {
      const { h, sandbox, createJob } = await open(10, 'mass-delete');
      const j = await createJob({ direction: 'inbound', deletePolicy: 'hard_delete' });
      expect(j.massDeleteThreshold).toBe(20);
      expectCounters(await h.engine.runJob(j.id), { created: 10 });
      const doomed = sandbox.list().slice(0, 4);
      for (const r of doomed) sandbox.remove(r.id);

      const held = await h.engine.runJob(j.id);
      expect(held).toMatchObject({ status: 'completed_with_errors', haltKind: 'mass_delete', heldDeletions: 4 });
      expectCounters(held, { skipped: 6 });
      expect(held.haltReason).toContain('4 of 10 synced records (40%)');
      expect(held.haltReason).toContain('20% threshold');
      expect(await rowsOf(h)).toHaveLength(10);

      // One comes back at the source meanwhile: where it keeps its id it is not deleted.
      const backId = sandbox.recreate(doomed[0]!);
      const applied = await h.engine.executions.applyDeletions(held.id);
      expect(applied).toMatchObject({ status: 'completed', trigger: 'manual' });
      expectCounters(applied, { deleted: deletes.recreateKeepsId ? 3 : 4 });
      expect((await h.engine.executions.get(held.id)).heldDeletions).toBe(0);
      await expect(h.engine.executions.applyDeletions(held.id)).rejects.toThrow(/holds no deletions/);
      const rows = await rowsOf(h);
      expect(rows).toHaveLength(deletes.recreateKeepsId ? 7 : 6);
      for (const r of doomed.slice(1)) expect(rows.some((x) => x.externalId === r.id)).toBe(false);

      // The next run is in step with the source (a record back under a new id is created).
      const next = await h.engine.runJob(j.id);
      expectCounters(next, deletes.recreateKeepsId ? { skipped: 7 } : { created: 1, skipped: 6 });
      const final = await rowsOf(h);
      expect(sortedEmails(final)).toEqual(sortedEmails(sandbox.list()));
      expect(final.find((r) => r.email === doomed[0]!.email)?.externalId).toBe(backId);
    });

    it('a deletion against an update (local_wins): the update comes back, the deletion wins the other way', async () => {
      const { h, sandbox, createJob } = await open(6, 'delete-vs-update');
      const j = await createJob({
        direction: 'bidirectional',
        deletePolicy: 'hard_delete',
        conflictStrategy: 'local_wins',
        massDeleteThreshold: 50,
      });
      await h.engine.runJob(j.id);
      const [x, y] = sandbox.list();
      const [xLocal, yLocal] = [await localIdOf(h, x!.id), await localIdOf(h, y!.id)];
      // x: deleted at the provider, edited locally. y: deleted locally, edited at the provider.
      sandbox.remove(x!.id);
      await editLocal(h, xLocal, `name = 'Kept locally'`);
      await deleteLocal(h, yLocal);
      sandbox.edit(y!.id, { name: 'Edited at the provider' });

      const e = await h.engine.runJob(j.id);
      expect(e.status).toBe('completed');
      expect(e).toMatchObject({ created: 1, updated: 0, deleted: 1, failed: 0, conflicts: 0 });
      expect(e.created + e.updated + e.deleted + e.skipped + e.failed).toBe(e.processed);
      // x is created at the provider again from the local row, under a new id; the reference follows.
      const xRow = (await rowsOf(h)).find((r) => r.id === xLocal);
      expect(xRow).toMatchObject({ name: 'Kept locally', email: x!.email, deleted: false, refDeleted: false });
      expect(xRow!.externalId).not.toBe(x!.id);
      expect(sandbox.state(xRow!.externalId!)).toBe('live');
      expect(sandbox.list().find((r) => r.id === xRow!.externalId)).toMatchObject({
        name: 'Kept locally',
        email: x!.email,
      });
      // y is deleted at the provider too.
      expect(sandbox.state(y!.id)).toBe(deletes.deletedState);
      expect((await refsOf(h)).some((r) => r.externalId === y!.id || r.localId === yLocal)).toBe(false);
      expect(sortedEmails(await rowsOf(h))).toEqual(sortedEmails(sandbox.list()));

      const again = await h.engine.runJob(j.id);
      expect(again).toMatchObject({ status: 'completed', created: 0, updated: 0, deleted: 0, failed: 0 });
    });

    it('manual conflicts: both sides stored, resolved by record, by field, and a deletion against an update', async () => {
      const { h, sandbox, createJob } = await open(5, 'manual');
      const j = await createJob({
        direction: 'bidirectional',
        deletePolicy: 'hard_delete',
        conflictStrategy: 'manual',
        massDeleteThreshold: 50,
      });
      await h.engine.runJob(j.id);
      const [p, q, r] = sandbox.list();
      const [pLocal, qLocal, rLocal] = [
        await localIdOf(h, p!.id),
        await localIdOf(h, q!.id),
        await localIdOf(h, r!.id),
      ];
      sandbox.edit(p!.id, { name: 'P at the provider' });
      await editLocal(h, pLocal, `name = 'P locally'`);
      sandbox.edit(q!.id, { name: 'Q at the provider', email: 'q.provider@example.com' });
      await editLocal(h, qLocal, `name = 'Q locally', email = 'q.local@example.com'`);
      sandbox.remove(r!.id);
      await editLocal(h, rLocal, `name = 'R locally'`);

      const run = await h.engine.runJob(j.id);
      // Inbound: 2 unchanged, p and q in conflict. Outbound: 2 unchanged, p and q left be, r in conflict (its
      // provider record is gone). Deletions: r's, left be (in conflict). Conflicts are skips, counted apart too.
      expectCounters(run, { skipped: 10, conflicts: 3 });
      const open_ = (await h.engine.conflicts.page(j.id, { status: 'open' })).items;
      expect(open_).toHaveLength(3);
      const conflictOf = (externalId: string) => open_.find((c) => c.externalId === externalId)!;
      expect(conflictOf(p!.id)).toMatchObject({
        localId: pLocal,
        localContent: { name: 'P locally', email: p!.email },
        providerContent: { name: 'P at the provider', email: p!.email },
        fields: ['name'],
        localDeleted: false,
        providerDeleted: false,
      });
      expect(conflictOf(q!.id)).toMatchObject({
        localId: qLocal,
        localContent: { name: 'Q locally', email: 'q.local@example.com' },
        providerContent: { name: 'Q at the provider', email: 'q.provider@example.com' },
        fields: ['email', 'name'],
      });
      expect(conflictOf(r!.id)).toMatchObject({
        localId: rLocal,
        localContent: { name: 'R locally', email: r!.email },
        providerContent: null,
        localDeleted: false,
        providerDeleted: true,
      });
      // Nothing was written either way.
      expect(sandbox.list().find((x) => x.id === p!.id)?.name).toBe('P at the provider');
      const rows = await rowsOf(h);
      expect(rows.find((x) => x.id === pLocal)?.name).toBe('P locally');
      expect(rows.find((x) => x.id === rLocal)).toMatchObject({ name: 'R locally', deleted: false });

      // By record: the provider's content wins.
      const rp = await h.engine.conflicts.resolve(conflictOf(p!.id).id, {
        winner: 'provider',
        resolvedBy: 'contract@example.test',
      });
      expect(rp).toMatchObject({
        status: 'resolved',
        resolution: { winner: 'provider' },
        resolvedBy: 'contract@example.test',
      });
      expect((await rowsOf(h)).find((x) => x.id === pLocal)).toMatchObject({
        name: 'P at the provider',
        email: p!.email,
      });
      expect(sandbox.list().find((x) => x.id === p!.id)).toMatchObject({ name: 'P at the provider', email: p!.email });
      // By field: the provider's name, the local email, on both sides.
      await h.engine.conflicts.resolve(conflictOf(q!.id).id, { fields: { name: 'provider', email: 'local' } });
      expect((await rowsOf(h)).find((x) => x.id === qLocal)).toMatchObject({
        name: 'Q at the provider',
        email: 'q.local@example.com',
      });
      expect(sandbox.list().find((x) => x.id === q!.id)).toMatchObject({
        name: 'Q at the provider',
        email: 'q.local@example.com',
      });
      // The update against the deletion wins: the record is created at the provider again, the reference follows.
      await h.engine.conflicts.resolve(conflictOf(r!.id).id, { winner: 'local' });
      const rRow = (await rowsOf(h)).find((x) => x.id === rLocal)!;
      expect(rRow).toMatchObject({ name: 'R locally', email: r!.email, deleted: false, refDeleted: false });
      expect(rRow.externalId).not.toBe(r!.id);
      expect(sandbox.list().find((x) => x.id === rRow.externalId)).toMatchObject({
        name: 'R locally',
        email: r!.email,
      });

      const after = await h.engine.runJob(j.id);
      expectCounters(after, { skipped: 10 });
      expect((await h.engine.conflicts.page(j.id, { status: 'open' })).items).toEqual([]);
      expect(sortedEmails(await rowsOf(h))).toEqual(sortedEmails(sandbox.list()));
    });

    for (const policy of ['hard_delete', 'soft_delete'] as const) {
      it(`a record deleted at the source and re-created there comes back (${policy})`, async () => {
        const { h, sandbox, createJob } = await open(5, `comes-back-${policy}`);
        const j = await createJob({ direction: 'inbound', deletePolicy: policy, massDeleteThreshold: 50 });
        await h.engine.runJob(j.id);
        const gone = sandbox.list()[1]!;
        const localBefore = await localIdOf(h, gone.id);
        sandbox.remove(gone.id);
        expectCounters(await h.engine.runJob(j.id), { skipped: 4, deleted: 1 });

        const backId = sandbox.recreate(gone);
        expect(backId === gone.id).toBe(deletes.recreateKeepsId);
        const e = await h.engine.runJob(j.id);
        const rows = await rowsOf(h);
        const back = rows.find((r) => r.externalId === backId);
        expect(back).toMatchObject({ name: gone.name, email: gone.email, deleted: false, refDeleted: false });
        if (policy === 'soft_delete' && deletes.recreateKeepsId) {
          // The marked row is restored: the same row, the mark cleared.
          expectCounters(e, { updated: 1, skipped: 4 });
          expect(back!.id).toBe(localBefore);
          expect(rows).toHaveLength(5);
        } else {
          expectCounters(e, { created: 1, skipped: 4 });
          if (policy === 'soft_delete') {
            // A new id at the source is a new record; the old row stays marked deleted.
            expect(rows).toHaveLength(6);
            expect(rows.find((r) => r.id === localBefore)).toMatchObject({ deleted: true, refDeleted: true });
          } else expect(rows).toHaveLength(5);
        }
        expectCounters(await h.engine.runJob(j.id), { skipped: 5 });
      });
    }
  });
}
