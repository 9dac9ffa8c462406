import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createStripeProvider } from '../src/connectors/stripe/index.ts';
import { type StripeSandbox, startStripeSandbox } from '../src/sandbox/stripe/server.ts';
import { counters, createHarness, type Harness } from './helpers/db.ts';

/** The Stripe connector over the official SDK, against the in-repo Stripe-compatible sandbox, over HTTP. */
const KEY = 'sk_test_sandbox_not_real';
const RULES = ['name', 'email'].flatMap((f) => [
  { sourceField: f, targetField: f, direction: 'inbound' as const },
  { sourceField: f, targetField: f, direction: 'outbound' as const },
]);

describe('Stripe connector (PGlite, sandbox over HTTP)', () => {
  let h: Harness;
  let sandbox: StripeSandbox;
  beforeEach(async () => {
    sandbox = await startStripeSandbox({ apiKey: KEY, records: { customers: 250 } });
  });
  afterEach(async () => {
    await h?.close();
    await sandbox.close();
  });

  async function setup(direction: string, mode = 'full', apiKey = KEY) {
    h = await createHarness({ name: 'pglite' }, `stripe-${direction}-${mode}`, {
      providers: [createStripeProvider({ retry: { attempts: 4, baseDelayMs: 5, maxDelayMs: 200 } })],
    });
    const conn = await h.engine.connections.create({
      name: 'Stripe sandbox',
      provider: 'stripe',
      config: { apiBase: sandbox.url, requestsPerSecond: 1000 },
      credentials: { apiKey },
    });
    return h.engine.jobs.create({
      connectionId: conn.id,
      name: 'Customers',
      entityType: 'customer',
      direction,
      mode,
      fieldMappings: RULES,
    });
  }

  it('full sync pages with limit 100 and starting_after; a second run skips everything', async () => {
    const job = await setup('inbound');
    const e = await h.engine.runJob(job.id);
    expect(e.status).toBe('completed');
    expect(counters(e)).toEqual({ processed: 250, created: 250, updated: 0, skipped: 0, failed: 0 });
    expect(sandbox.requests.byRoute['GET /v1/customers']).toBe(3);
    const again = await h.engine.runJob(job.id);
    expect(counters(again)).toEqual({ processed: 250, created: 0, updated: 0, skipped: 250, failed: 0 });
  });

  it('incremental sync reads customer events since the cursor and re-fetches each object', async () => {
    const job = await setup('inbound', 'incremental');
    await h.engine.runJob(job.id); // no cursor yet: a full sync
    const [first, second] = sandbox.store.ids('customer');
    sandbox.store.update('customer', first!, { name: 'Changed One' });
    sandbox.store.update('customer', second!, { name: 'Changed Two' });
    const before = sandbox.requests.byRoute['GET /v1/customers'] ?? 0;
    const e = await h.engine.runJob(job.id);
    expect(counters(e)).toEqual({ processed: 2, created: 0, updated: 2, skipped: 0, failed: 0 });
    expect(sandbox.requests.byRoute['GET /v1/customers']).toBe(before); // no full listing
    expect(sandbox.requests.byRoute['GET /v1/events']).toBeGreaterThanOrEqual(1);
    const names = await h.query<{ name: string }>(
      "SELECT name FROM customers WHERE name LIKE 'Changed%' ORDER BY name",
    );
    expect(names.map((r) => r.name)).toEqual(['Changed One', 'Changed Two']);
  });

  it('outbound creates carry idempotency keys: a create whose response was lost is never duplicated', async () => {
    const job = await setup('outbound');
    await h.query(
      "INSERT INTO customers (id, name, email) SELECT gen_random_uuid(), 'L' || i, 'l' || i || '@x.test' FROM generate_series(1, 30) i",
    );
    // The first create happens at Stripe, but its response is lost (a 500 saved for the idempotency key).
    sandbox.faults = { serverErrors: { nextN: 1, afterWrite: true } };
    const e = await h.engine.runJob(job.id);
    expect(e.failed).toBe(1);
    expect(sandbox.store.count('customer')).toBe(250 + 30);
    sandbox.faults = {};
    const again = await h.engine.runJob(job.id);
    // The retry set sends the same content with the same key: Stripe replays its first answer (the 500),
    // so the record fails again, but no 31st customer is ever created.
    expect(sandbox.store.count('customer')).toBe(250 + 30);
    expect(counters(again)).toEqual({ processed: 30, created: 0, updated: 0, skipped: 29, failed: 1 });
    const [f] = await h.engine.executions.failures(again.id);
    expect(f!.message).toMatch(/^stripe: 500/);
  });

  it('a 429 storm is retried; a bad key fails the run once, clearly', async () => {
    const job = await setup('inbound');
    sandbox.faults = { rateLimit: { everyNth: 2, retryAfterSeconds: 0 } };
    const e = await h.engine.runJob(job.id);
    expect(e.status).toBe('completed');
    expect(sandbox.requests.byStatus[429]).toBeGreaterThan(0);
    await h.close();
    sandbox.faults = {};
    const bad = await setup('inbound', 'full', 'sk_test_wrong_key');
    const f = await h.engine.runJob(bad.id);
    expect(f.status).toBe('failed');
    expect(f.processed).toBe(0);
    expect(f.haltReason).toMatch(/^auth error: stripe: 401/);
    expect(f.haltReason).not.toContain('sk_test_wrong_key');
  });

  it('a cursor older than the 30-day event retention falls back to a full listing', async () => {
    const job = await setup('inbound', 'incremental');
    await h.engine.runJob(job.id);
    await h.query("UPDATE sync_jobs SET cursor = now() - interval '40 days' WHERE id = $1", [job.id]);
    const eventsBefore = sandbox.requests.byRoute['GET /v1/events'] ?? 0;
    const listsBefore = sandbox.requests.byRoute['GET /v1/customers'] ?? 0;
    const e = await h.engine.runJob(job.id);
    expect(counters(e)).toEqual({ processed: 250, created: 0, updated: 0, skipped: 250, failed: 0 });
    expect(sandbox.requests.byRoute['GET /v1/events'] ?? 0).toBe(eventsBefore);
    expect(sandbox.requests.byRoute['GET /v1/customers']).toBe(listsBefore + 3);
  });
});
