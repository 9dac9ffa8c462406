import { afterEach, describe, expect, it } from 'vitest';
import { createHubSpotProvider } from '../src/connectors/hubspot/index.ts';
import { type HubSpotSandbox, type HubSpotSandboxOptions, startHubSpotSandbox } from '../src/sandbox/hubspot/server.ts';
import { counters, createHarness, type Harness } from './helpers/db.ts';

/** HubSpot's own cases beyond the shared contract: the 10,000 search cap and batch 207 partial failures. */
const TOKEN = 'pat-hubspot-test-not-real';
const RETRY = { attempts: 4, baseDelayMs: 5, maxDelayMs: 200 };
const RULES = [
  { sourceField: 'firstname', targetField: 'name', direction: 'inbound' as const },
  { sourceField: 'email', targetField: 'email', direction: 'inbound' as const },
  { sourceField: 'name', targetField: 'firstname', direction: 'outbound' as const },
  { sourceField: 'email', targetField: 'email', direction: 'outbound' as const },
];

describe('HubSpot connector (PGlite, sandbox over HTTP)', () => {
  let h: Harness | undefined;
  let sandbox: HubSpotSandbox | undefined;
  afterEach(async () => {
    await h?.close();
    await sandbox?.close();
    h = undefined;
    sandbox = undefined;
  });

  async function setup(
    sandboxOptions: HubSpotSandboxOptions,
    job: { direction: 'inbound' | 'outbound'; mode?: 'full' | 'incremental' },
    providerOptions: { searchResultCap?: number } = {},
    config: Record<string, unknown> = {},
  ) {
    sandbox = await startHubSpotSandbox({
      accessToken: TOKEN,
      ...sandboxOptions,
      rateLimit: { max: 1_000_000, searchPerSecond: 1000, ...sandboxOptions.rateLimit },
    });
    h = await createHarness({ name: 'pglite' }, `hubspot-${job.direction}-${job.mode ?? 'full'}`, {
      providers: [createHubSpotProvider({ retry: RETRY, ...providerOptions })],
      entities: { contact: { table: 'customers', primaryKey: 'id', updatedAtColumn: 'updated_at' } },
    });
    const conn = await h.engine.connections.create({
      name: 'HubSpot sandbox',
      provider: 'hubspot',
      config: { apiBase: sandbox.url, requestsPer10Seconds: 10_000, searchRequestsPerSecond: 1000, ...config },
      credentials: { accessToken: TOKEN },
    });
    const created = await h.engine.jobs.create({
      connectionId: conn.id,
      name: 'Contacts',
      entityType: 'contact',
      direction: job.direction,
      mode: job.mode ?? 'full',
      fieldMappings: RULES,
    });
    return { h, sandbox, job: created };
  }

  it('an incremental run over more than 10,000 changed records steps past the search cap', async () => {
    const { h, sandbox, job } = await setup(
      { records: { contacts: 10_050 } },
      { direction: 'inbound', mode: 'incremental' },
    );
    // Every seeded contact changed in 2024: a cursor before that makes all 10,050 "changed since".
    await h.query("UPDATE sync_jobs SET cursor = '2023-12-01T00:00:00Z' WHERE id = $1", [job.id]);
    const e = await h.engine.runJob(job.id);
    expect(e.haltReason).toBeNull();
    expect(e.status).toBe('completed');
    expect(counters(e)).toEqual({ processed: 10_050, created: 10_050, updated: 0, skipped: 0, failed: 0 });
    // Searched, never listed; never paged into the cap's 400.
    expect(sandbox.requests.byOperation.list).toBeUndefined();
    expect(sandbox.requests.byOperation.search).toBeGreaterThanOrEqual(101);
    expect(sandbox.requests.byStatus[400]).toBeUndefined();
    const n = await h.query<{ n: number }>('SELECT count(DISTINCT email)::int AS n FROM customers');
    expect(n[0]!.n).toBe(10_050);
  });

  it('search windows restart at the last modified time seen and drop the ids already delivered there', async () => {
    // Groups of 30 contacts share one last-modified time, so windows (cap 150) restart in the middle of a group.
    const clock = { t: Date.UTC(2025, 0, 1) };
    const { h, sandbox, job } = await setup(
      { now: () => clock.t, searchLimits: { maxResults: 150 } },
      { direction: 'inbound', mode: 'incremental' },
      { searchResultCap: 150 },
    );
    for (let i = 0; i < 400; i++) {
      clock.t = Date.UTC(2025, 0, 1) + Math.floor(i / 30) * 1000;
      sandbox.store.put('contacts', { email: `group${i}@example.com`, firstname: `G${Math.floor(i / 30)}` });
    }
    clock.t += 1000;
    await h.query("UPDATE sync_jobs SET cursor = '2024-12-31T00:00:00Z' WHERE id = $1", [job.id]);
    const e = await h.engine.runJob(job.id);
    expect(e.status).toBe('completed');
    expect(counters(e)).toEqual({ processed: 400, created: 400, updated: 0, skipped: 0, failed: 0 });
    expect(sandbox.requests.byStatus[400]).toBeUndefined();
    // Windows: [0, 200) restarts at group 6 (ids 180–209, 180–199 delivered), [180, 380) at group 12, then
    // [360, 400): 2 + 2 + 1 searches, each page of 100.
    expect(sandbox.requests.byOperation.search).toBe(5);
  });

  it('a batch create answered 207 fails only the rejected records; the rest are created', async () => {
    const { h, sandbox, job } = await setup({ records: { contacts: 5 } }, { direction: 'outbound' });
    // Ids in insertion order (the local stream reads by updated_at, then id): the bad rows are the 10th, 20th, 30th.
    await h.query(
      "INSERT INTO customers (id, name, email) SELECT ('00000000-0000-0000-0000-' || lpad(i::text, 12, '0'))::uuid, 'Batch ' || i, CASE WHEN i % 10 = 0 THEN 'not-an-email-' || i ELSE 'batch' || i || '@example.com' END FROM generate_series(1, 30) i",
    );
    const e = await h.engine.runJob(job.id);
    expect(e.haltReason).toBeNull();
    expect(counters(e)).toEqual({ processed: 30, created: 27, updated: 0, skipped: 0, failed: 3 });
    expect(e.status).not.toBe('completed');
    // The engine writes in chunks that end where the circuit breaker could first trip: the first 10 records
    // (its minimum), then 9 (1 failed: 8 more failures could not trip it, a 9th could), then the last 11.
    expect(sandbox.requests.byOperation['batch/create']).toBe(3);
    expect(sandbox.requests.byStatus[207]).toBeGreaterThanOrEqual(1);
    expect(sandbox.store.count('contacts')).toBe(5 + 27);
    const failures = await h.engine.executions.failures(e.id);
    expect(failures).toHaveLength(3);
    for (const f of failures) {
      expect(f).toMatchObject({ side: 'provider', phase: 'write', errorKind: 'record' });
      expect(f.message).toMatch(/^hubspot: VALIDATION_ERROR .*INVALID_EMAIL/);
    }
    // Each created contact carries its Otesse id in the external-id property.
    const local = await h.query<{ id: string; email: string }>(
      "SELECT id, email FROM customers WHERE email = 'batch7@example.com'",
    );
    const remote = sandbox.store.list('contacts').find((c) => c.properties.email === 'batch7@example.com');
    expect(remote?.properties.otesse_id).toBe(local[0]!.id);

    // Updates: one batch; a 207 rejects the bad one, the others are written.
    await h.query(
      "UPDATE customers SET name = name || ' v2', email = CASE WHEN email = 'batch1@example.com' THEN 'broken' ELSE email END, updated_at = clock_timestamp() + interval '1 second' WHERE email IN ('batch1@example.com', 'batch2@example.com', 'batch3@example.com')",
    );
    const u = await h.engine.runJob(job.id);
    // The three rejected creates are retried first (still invalid), then the three changed rows.
    expect(counters(u)).toEqual({ processed: 30, created: 0, updated: 2, skipped: 24, failed: 4 });
    // One batch update per engine chunk that holds changed rows (chunks end where the breaker could first
    // trip: 10, 11, then the rest of the page): one to three calls.
    expect(sandbox.requests.byOperation['batch/update']).toBeGreaterThanOrEqual(1);
    expect(sandbox.requests.byOperation['batch/update']).toBeLessThanOrEqual(3);
    const names = sandbox.store
      .list('contacts')
      .filter((c) => c.properties.firstname?.endsWith(' v2'))
      .map((c) => c.properties.email)
      .sort();
    expect(names).toEqual(['batch2@example.com', 'batch3@example.com']);
  });

  it('a request that outlives the per-request timeout is retried, then fails the run as transient', async () => {
    const { h, job } = await setup(
      { records: { contacts: 5 }, faults: { latencyMs: 400 } },
      { direction: 'inbound' },
      {},
      { timeoutMs: 100 },
    );
    const e = await h.engine.runJob(job.id);
    expect(e.status).toBe('failed');
    expect(e.haltReason).toBe('transient error: hubspot: no response within 100 ms');
    expect(e.processed).toBe(0);
  });

  it('a cancelled run stops its request in flight', async () => {
    const { h, sandbox, job } = await setup(
      { records: { contacts: 5 }, faults: { latencyMs: 5_000 } },
      { direction: 'inbound' },
    );
    const started = await h.engine.startJob(job.id);
    const t0 = performance.now();
    // Wait until the listing request is in flight at the sandbox, then cancel.
    const deadline = Date.now() + 10_000;
    while ((await h.engine.executions.get(started.execution.id)).status !== 'running' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    await h.engine.cancel(started.execution.id);
    const e = await started.done;
    expect(e.status).toBe('cancelled');
    expect(performance.now() - t0).toBeLessThan(4_000);
    expect(sandbox.requests.byOperation.list ?? 0).toBe(0); // the sandbox never answered it
  });

  it('deals and companies: full listing, then incremental search on hs_lastmodifieddate', async () => {
    sandbox = await startHubSpotSandbox({
      accessToken: TOKEN,
      records: { companies: 40, deals: 120 },
      rateLimit: { max: 1_000_000, searchPerSecond: 1000 },
    });
    h = await createHarness({ name: 'pglite' }, 'hubspot-deals', {
      providers: [createHubSpotProvider({ retry: RETRY })],
      ddl: `CREATE TABLE deals (id uuid PRIMARY KEY, name text, amount numeric(12,2), stage text,
              updated_at timestamptz NOT NULL DEFAULT clock_timestamp());
            CREATE TABLE companies (id uuid PRIMARY KEY, name text, domain text,
              updated_at timestamptz NOT NULL DEFAULT clock_timestamp());`,
      entities: {
        deal: { table: 'deals', primaryKey: 'id', updatedAtColumn: 'updated_at' },
        company: { table: 'companies', primaryKey: 'id', updatedAtColumn: 'updated_at' },
      },
    });
    const conn = await h.engine.connections.create({
      name: 'HubSpot sandbox',
      provider: 'hubspot',
      config: { apiBase: sandbox.url, requestsPer10Seconds: 10_000, searchRequestsPerSecond: 1000 },
      credentials: { accessToken: TOKEN },
    });
    const deals = await h.engine.jobs.create({
      connectionId: conn.id,
      name: 'Deals',
      entityType: 'deal',
      direction: 'inbound',
      mode: 'incremental',
      fieldMappings: [
        { sourceField: 'dealname', targetField: 'name', direction: 'inbound' },
        { sourceField: 'amount', targetField: 'amount', direction: 'inbound' },
        { sourceField: 'dealstage', targetField: 'stage', direction: 'inbound' },
      ],
    });
    const companies = await h.engine.jobs.create({
      connectionId: conn.id,
      name: 'Companies',
      entityType: 'company',
      direction: 'inbound',
      fieldMappings: [
        { sourceField: 'name', targetField: 'name', direction: 'inbound' },
        { sourceField: 'domain', targetField: 'domain', direction: 'inbound' },
      ],
    });
    expect(counters(await h.engine.runJob(companies.id))).toMatchObject({ processed: 40, created: 40, failed: 0 });
    expect(counters(await h.engine.runJob(deals.id))).toMatchObject({ processed: 120, created: 120, failed: 0 });
    const [first] = sandbox.store.list('deals');
    sandbox.store.update('deals', first!.id, { amount: '12345.5', dealstage: 'closedwon' });
    const searches = sandbox.requests.byOperation.search ?? 0;
    const e = await h.engine.runJob(deals.id);
    expect(counters(e)).toEqual({ processed: 1, created: 0, updated: 1, skipped: 0, failed: 0 });
    expect(sandbox.requests.byOperation.search).toBe(searches + 1);
    const rows = await h.query<{ amount: string; stage: string }>(
      "SELECT amount::text, stage FROM deals WHERE stage = 'closedwon' AND amount = 12345.5",
    );
    expect(rows).toHaveLength(1);
  });
});
