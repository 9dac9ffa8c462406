import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, serve } from '../src/api/serve.ts';
import { buildServer } from '../src/api/server.ts';
import { schemaFor, TEST_DATABASES, waitFor } from './helpers/db.ts';

/**
 * The REST API against the real server (`serve --demo`: Stripe sandbox, demo connection, jobs and tables) on a
 * random port, on PGlite and on PostgreSQL: every endpoint, each error shape, auth, webhooks.
 */

const FINAL = ['completed', 'completed_with_errors', 'failed', 'timed_out', 'cancelled'];
// biome-ignore lint/suspicious/noExplicitAny: JSON responses
type Json = any;

describe.each(TEST_DATABASES)('REST API ($name)', (db) => {
  let server: RunningServer;
  let base: string;
  let dir: string | null = null;
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await res.text();
    return {
      status: res.status,
      body: text && res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text,
    };
  };
  const api = (method: string, path: string, body?: unknown) => call(method, `/api/v1${path}`, body);
  const finalExecution = (id: string) =>
    waitFor<Json>(
      async () => {
        const r = await api('GET', `/executions/${id}`);
        return FINAL.includes(r.body.status) ? r.body : null;
      },
      `execution ${id} to finish`,
      20_000,
    );
  const jobNamed = async (name: string): Promise<Json> =>
    (await api('GET', '/sync-jobs')).body.items.find((j: Json) => j.name === name);

  beforeAll(async () => {
    if (db.name === 'pglite') dir = mkdtempSync(join(tmpdir(), 'otesse-api-'));
    server = await serve({
      database: dir ?? db.url!,
      schema: schemaFor(`api-${db.name}`),
      host: '127.0.0.1',
      port: 0,
      demo: true,
      demoRecords: 60,
      token: null,
      logger: pino({ enabled: false }),
      encryptionKeys: [randomBytes(32).toString('hex')],
    });
    base = server.url;
    server.demo!.sandbox.webhookEndpoints = []; // the webhook test sends its deliveries itself
  }, 120_000);
  afterAll(async () => {
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('describes providers, transforms and local entities', async () => {
    const providers = await api('GET', '/providers');
    expect(providers.status).toBe(200);
    const stripe = providers.body.items.find((p: Json) => p.name === 'stripe');
    expect(stripe.displayName).toBe('Stripe');
    expect(stripe.credentials.find((c: Json) => c.name === 'apiKey')).toMatchObject({ secret: true, required: true });
    const customer = stripe.entityTypes.find((e: Json) => e.name === 'customer');
    expect(customer.supports).toMatchObject({ inbound: true, outbound: true, incremental: true, webhooks: true });
    expect(customer.fields.map((f: Json) => f.name)).toContain('email');
    expect(providers.body.items.map((p: Json) => p.name)).toEqual(
      expect.arrayContaining(['stripe', 'hubspot', 'rest']),
    );

    const transforms = await api('GET', '/transforms');
    expect(transforms.body.items.map((t: Json) => t.name)).toContain('cents_to_decimal');

    const local = await api('GET', '/local-entities');
    const customers = local.body.items.find((e: Json) => e.name === 'customers');
    expect(customers).toMatchObject({ table: 'demo_customers', primaryKey: 'id', updatedAt: 'updated_at' });
    expect(customers.fields.map((f: Json) => f.name)).toEqual(
      expect.arrayContaining(['id', 'name', 'email', 'balance', 'updated_at']),
    );
  });

  it('creates, reads, updates, tests and deletes connections; never returns credentials', async () => {
    const listed = await api('GET', '/connections');
    expect(listed.body.items).toHaveLength(1);
    expect(listed.body.items[0]).toMatchObject({ name: 'Stripe (demo)', provider: 'stripe', jobCount: 3 });

    const bad = await api('POST', '/connections', { provider: 'stripe', name: '', colour: 'red' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('validation_failed');
    expect(bad.body.error.details.map((d: Json) => d.path).sort()).toEqual(['colour', 'name']);
    const badConfig = await api('POST', '/connections', {
      provider: 'stripe',
      name: 'x',
      config: { apiBase: 'not a url' },
      credentials: { apiKey: 'k' },
    });
    expect(badConfig.status).toBe(400);
    expect(badConfig.body.error.details[0].path).toBe('config.apiBase');
    const unknownProvider = await api('POST', '/connections', { provider: 'nope', name: 'x' });
    expect(unknownProvider.body.error.details[0].path).toBe('provider');

    const secret = `sk_test_${randomBytes(8).toString('hex')}`;
    const created = await api('POST', '/connections', {
      provider: 'stripe',
      name: 'Second Stripe',
      config: { apiBase: server.demo!.sandbox.url },
      credentials: { apiKey: secret },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'Second Stripe', status: 'untested', jobCount: 0, lastRun: null });
    expect(JSON.stringify(created.body)).not.toContain(secret);
    expect(created.body.webhookUrl).toBe(`/webhooks/${created.body.id}`);
    const id = created.body.id;

    // The sandbox accepts only the demo key: the test reports the failure and stores it.
    const failedTest = await api('POST', `/connections/${id}/test`);
    expect(failedTest.status).toBe(200);
    expect(failedTest.body.ok).toBe(false);
    expect(failedTest.body.message).toMatch(/key|auth|401/i);
    expect((await api('GET', `/connections/${id}`)).body).toMatchObject({ status: 'error' });

    const demoId = listed.body.items[0].id;
    const ok = await api('POST', `/connections/${demoId}/test`);
    expect(ok.body).toMatchObject({ ok: true });
    expect((await api('GET', `/connections/${demoId}`)).body.status).toBe('connected');

    const renamed = await api('PATCH', `/connections/${id}`, { name: 'Renamed', credentials: { apiKey: secret } });
    expect(renamed.status).toBe(200);
    expect(renamed.body.name).toBe('Renamed');
    expect(renamed.body.status).toBe('untested');
    expect(JSON.stringify(renamed.body)).not.toContain(secret);
    expect((await api('PATCH', `/connections/${id}`, { provider: 'hubspot' })).body.error.details[0].path).toBe(
      'provider',
    );

    expect((await api('GET', `/connections/${randomUUID()}`)).status).toBe(404);
    const notFound = await api('GET', '/connections/not-a-uuid');
    expect(notFound.status).toBe(404);
    expect(notFound.body.error.code).toBe('not_found');

    const inUse = await api('DELETE', `/connections/${demoId}`);
    expect(inUse.status).toBe(409);
    expect(inUse.body.error.code).toBe('conflict');
    expect((await api('DELETE', `/connections/${id}`)).status).toBe(204);
    expect((await api('GET', `/connections/${id}`)).status).toBe(404);
  });

  it('validates sync jobs field by field and fills in the spec defaults', async () => {
    const connectionId = (await api('GET', '/connections')).body.items[0].id;
    const bad = await api('POST', '/sync-jobs', {
      connectionId,
      name: 'Bad',
      entityType: 'customer',
      localEntity: 'customers',
      direction: 'bidirectional',
      schedule: 'every tuesday',
      timezone: 'Mars/Olympus',
      maxRetries: 99,
      colour: 'red',
      fieldMappings: [{ sourceField: 'email', targetField: 'email', transform: 'rot13' }],
    });
    expect(bad.status).toBe(400);
    const paths = bad.body.error.details.map((d: Json) => d.path);
    expect(paths).toEqual(expect.arrayContaining(['colour']));
    const bad2 = await api('POST', '/sync-jobs', {
      connectionId,
      name: 'Bad',
      entityType: 'customer',
      localEntity: 'customers',
      direction: 'bidirectional',
      schedule: 'every tuesday',
      timezone: 'Mars/Olympus',
      maxRetries: 99,
      fieldMappings: [{ sourceField: 'email', targetField: 'email', transform: 'rot13' }],
    });
    expect(bad2.body.error.details.map((d: Json) => d.path).sort()).toEqual(
      ['conflictStrategy', 'fieldMappings.0.transform', 'maxRetries', 'schedule', 'timezone'].sort(),
    );
    const unknownEntity = await api('POST', '/sync-jobs', {
      connectionId,
      name: 'x',
      entityType: 'spaceship',
      localEntity: 'nope',
      direction: 'inbound',
    });
    expect(unknownEntity.body.error.details.map((d: Json) => d.path).sort()).toEqual(['entityType', 'localEntity']);
    const unknownLocal = await api('POST', '/sync-jobs', {
      connectionId,
      name: 'x',
      entityType: 'customer',
      localEntity: 'nope',
      direction: 'inbound',
    });
    expect(unknownLocal.body.error.details.map((d: Json) => d.path)).toEqual(['localEntity']);

    const created = await api('POST', '/sync-jobs', {
      connectionId,
      name: 'API customers',
      entityType: 'customer',
      localEntity: 'customers',
      direction: 'inbound',
      fieldMappings: [{ sourceField: 'email', targetField: 'email', transform: 'lowercase', direction: 'inbound' }],
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      mode: 'full',
      schedule: null,
      timezone: 'UTC',
      retryOnFailure: true,
      maxRetries: 3,
      timeoutMinutes: 60,
      conflictStrategy: null,
      enabled: true,
      nextRunAt: null,
      lastRunAt: null,
      lastRun: null,
      fieldMappings: [{ sourceField: 'email', targetField: 'email', transform: 'lowercase', direction: 'inbound' }],
    });
    const id = created.body.id;
    const scheduled = await api('PATCH', `/sync-jobs/${id}`, { schedule: '0 6 * * *', timezone: 'Europe/Berlin' });
    expect(scheduled.status).toBe(200);
    expect(scheduled.body).toMatchObject({ schedule: '0 6 * * *', timezone: 'Europe/Berlin' });
    expect(new Date(scheduled.body.nextRunAt).getTime()).toBeGreaterThan(Date.now());
    const badPatch = await api('PATCH', `/sync-jobs/${id}`, { timeoutMinutes: 0, connectionId: randomUUID() });
    expect(badPatch.body.error.details.map((d: Json) => d.path).sort()).toEqual(['connectionId', 'timeoutMinutes']);
    const manual = await api('PATCH', `/sync-jobs/${id}`, { schedule: null });
    expect(manual.body).toMatchObject({ schedule: null, nextRunAt: null });

    expect((await api('GET', `/sync-jobs/${id}`)).body.name).toBe('API customers');
    expect((await api('GET', `/sync-jobs?connectionId=${connectionId}`)).body.items).toHaveLength(4);
    expect((await api('GET', `/sync-jobs?connectionId=${randomUUID()}`)).body.items).toHaveLength(0);
    expect((await api('GET', '/sync-jobs?colour=red')).status).toBe(400);
    expect((await api('DELETE', `/sync-jobs/${id}`)).status).toBe(204);
    expect((await api('GET', `/sync-jobs?connectionId=${connectionId}`)).body.items).toHaveLength(3);
    expect((await api('GET', `/sync-jobs/${id}`)).body.archivedAt).not.toBeNull();
  });

  it('runs a job through the queue, streams progress, lists executions with filters and cursors', async () => {
    const job = await jobNamed('Customers');
    const run = await api('POST', `/sync-jobs/${job.id}/run`);
    expect(run.status).toBe(202);
    const { executionId } = run.body;

    // SSE: progress events, then the final one.
    const res = await fetch(`${base}/api/v1/executions/${executionId}/events`);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const text = await res.text();
    const events = [...text.matchAll(/event: (\w+)\nid: [^\n]+\ndata: ([^\n]+)/g)].map((m) => ({
      event: m[1],
      data: JSON.parse(m[2]!),
    }));
    expect(events.at(-1)!.event).toBe('done');
    expect(events.at(-1)!.data).toMatchObject({ status: 'completed', processed: 60, created: 60 });

    const e = await finalExecution(executionId);
    expect(e).toMatchObject({
      status: 'completed',
      trigger: 'manual',
      attempt: 1,
      failed: 0,
      haltReason: null,
      error: null,
    });
    expect(e.durationSeconds).toBeGreaterThanOrEqual(0);

    const second = await api('POST', `/sync-jobs/${job.id}/run`);
    expect((await finalExecution(second.body.executionId)).status).toBe('completed');
    const page1 = await api('GET', `/sync-jobs/${job.id}/executions?limit=1`);
    expect(page1.body.items).toHaveLength(1);
    expect(page1.body.items[0].id).toBe(second.body.executionId);
    const page2 = await api('GET', `/sync-jobs/${job.id}/executions?limit=1&cursor=${page1.body.nextCursor}`);
    expect(page2.body.items[0].id).toBe(executionId);
    expect(page2.body.nextCursor).toBeNull();
    expect((await api('GET', `/sync-jobs/${job.id}/executions?status=failed`)).body.items).toHaveLength(0);
    expect((await api('GET', `/sync-jobs/${job.id}/executions?trigger=manual,webhook`)).body.items).toHaveLength(2);
    const badStatus = await api('GET', `/sync-jobs/${job.id}/executions?status=exploded`);
    expect(badStatus.status).toBe(400);
    expect(badStatus.body.error.details[0].path).toBe('status');
    expect((await api('GET', `/sync-jobs/${job.id}/executions?cursor=garbage`)).body.error.details[0].path).toBe(
      'cursor',
    );
    expect((await api('GET', `/sync-jobs/${randomUUID()}/executions`)).status).toBe(404);
    expect((await api('POST', `/executions/${executionId}/cancel`)).status).toBe(409);
    expect((await api('GET', `/sync-jobs/${job.id}`)).body.lastRun).toMatchObject({ status: 'completed' });

    // Disabling stops scheduled and webhook runs; Run Now still runs the job (the UI keeps the button).
    expect((await api('PATCH', `/sync-jobs/${job.id}`, { enabled: false })).body.enabled).toBe(false);
    const manual = await api('POST', `/sync-jobs/${job.id}/run`);
    expect(manual.status).toBe(202);
    expect((await finalExecution(manual.body.executionId)).status).toBe('completed');
    await api('PATCH', `/sync-jobs/${job.id}`, { enabled: true });
  });

  it('reports record failures; three failing runs make dead letters that can be retried and discarded', async () => {
    const job = await jobNamed('Invoices (demo failures)');
    let last: Json;
    for (let i = 0; i < 3; i++) {
      const run = await api('POST', `/sync-jobs/${job.id}/run`);
      last = await finalExecution(run.body.executionId);
      expect(last).toMatchObject({ status: 'completed_with_errors', failed: 3 });
    }
    const failures = await api('GET', `/executions/${last.id}/failures?limit=2`);
    expect(failures.body.items).toHaveLength(2);
    expect(failures.body.items[0]).toMatchObject({
      side: 'provider',
      phase: 'fetch',
      errorKind: 'record',
      executionId: last.id,
    });
    expect(failures.body.items[0].message).toMatch(/^stripe: invoice .* is malformed/);
    const rest = await api('GET', `/executions/${last.id}/failures?cursor=${failures.body.nextCursor}`);
    expect(rest.body.items).toHaveLength(1);
    expect(rest.body.nextCursor).toBeNull();

    const dlq = await api('GET', `/sync-jobs/${job.id}/dead-letters`);
    expect(dlq.body.items).toHaveLength(3);
    const [first, second] = dlq.body.items;
    expect(first).toMatchObject({ status: 'open', failureCount: 3, side: 'provider' });
    // The first failure is the first run's; the record entered the queue in the third.
    expect(Date.parse(first.firstFailedAt)).toBeLessThan(Date.parse(first.createdAt));

    const retry = await api('POST', `/dead-letters/${first.id}/retry`);
    expect(retry.status).toBe(202);
    const retried = await finalExecution(retry.body.executionId);
    expect(retried.recordKeys).toEqual([first.recordKey]);
    // Still malformed: it stays in the queue with one more failure.
    await waitFor(
      async () => {
        const items = (await api('GET', `/sync-jobs/${job.id}/dead-letters`)).body.items;
        return items.find((d: Json) => d.id === first.id)?.failureCount === 4;
      },
      'the retry to be counted',
      20_000,
    );

    const discarded = await api('POST', `/dead-letters/${second.id}/discard`);
    expect(discarded.body.status).toBe('discarded');
    expect((await api('POST', `/dead-letters/${second.id}/discard`)).status).toBe(409);
    expect((await api('GET', `/sync-jobs/${job.id}/dead-letters`)).body.items).toHaveLength(2);
    expect((await api('GET', `/sync-jobs/${job.id}/dead-letters?status=discarded`)).body.items).toHaveLength(1);
    expect((await api('POST', `/dead-letters/${randomUUID()}/retry`)).status).toBe(404);
  });

  it('deleting a job archives it and keeps its history; only a confirmed purge erases it', async () => {
    const source = await jobNamed('Invoices (demo failures)');
    const created = await api('POST', '/sync-jobs', {
      connectionId: source.connectionId,
      name: 'Archived invoices',
      entityType: source.entityType,
      localEntity: source.localEntity,
      direction: source.direction,
      mode: source.mode,
      schedule: '*/5 * * * *',
      fieldMappings: source.fieldMappings,
    });
    expect(created.status).toBe(201);
    const id = created.body.id;
    const run = await api('POST', `/sync-jobs/${id}/run`);
    const past = await finalExecution(run.body.executionId);
    expect(past).toMatchObject({ status: 'completed_with_errors', failed: 3 });

    // Delete = archive: gone from lists and schedules, history kept.
    expect((await api('DELETE', `/sync-jobs/${id}`)).status).toBe(204);
    expect((await api('GET', '/sync-jobs')).body.items.map((j: Json) => j.id)).not.toContain(id);
    expect(
      (await api('GET', `/sync-jobs?connectionId=${source.connectionId}`)).body.items.map((j: Json) => j.id),
    ).not.toContain(id);
    const archived = await api('GET', `/sync-jobs/${id}`);
    expect(archived.status).toBe(200);
    expect(archived.body).toMatchObject({ id, nextRunAt: null });
    expect(Date.parse(archived.body.archivedAt)).toBeGreaterThan(0);
    expect((await api('GET', `/executions/${past.id}`)).body).toMatchObject({ id: past.id, jobId: id });
    expect((await api('GET', `/executions/${past.id}/failures`)).body.items).toHaveLength(3);
    expect((await api('GET', `/sync-jobs/${id}/executions`)).body.items.map((e: Json) => e.id)).toEqual([past.id]);
    // Deleting again keeps it archived.
    expect((await api('DELETE', `/sync-jobs/${id}`)).status).toBe(204);

    // Never run again: not triggered, not edited, not scheduled, skipped by webhooks.
    const trigger = await api('POST', `/sync-jobs/${id}/run`);
    expect(trigger.status).toBe(409);
    expect(trigger.body.error.message).toMatch(/archived/);
    expect((await api('PATCH', `/sync-jobs/${id}`, { name: 'Back' })).status).toBe(409);
    await server.engine.database.db
      .updateTable('sync_jobs')
      .set({ next_run_at: new Date(Date.now() - 60_000) })
      .where('id', '=', id)
      .execute();
    await server.worker.schedule();
    const invoiceId = server.demo!.sandbox.store.ids('invoice')[0]!;
    const queued = await server.engine.webhook(source.connectionId, 'invoice', [invoiceId]);
    expect(queued.map((r) => r.execution.jobId)).not.toContain(id);
    expect((await api('GET', `/sync-jobs/${id}/executions`)).body.items.map((e: Json) => e.id)).toEqual([past.id]);

    // Purge needs an explicit confirmation naming the job.
    const unconfirmed = await api('DELETE', `/sync-jobs/${id}?purge=true`);
    expect(unconfirmed.status).toBe(400);
    expect(unconfirmed.body.error.details.map((d: Json) => d.path)).toEqual(['confirm']);
    const wrong = await api('DELETE', `/sync-jobs/${id}?purge=true&confirm=${randomUUID()}`);
    expect(wrong.status).toBe(400);
    expect(wrong.body.error.details.map((d: Json) => d.path)).toEqual(['confirm']);
    expect((await api('GET', `/sync-jobs/${id}`)).status).toBe(200);
    expect((await api('DELETE', `/sync-jobs/${id}?purge=true&confirm=${id}`)).status).toBe(204);
    expect((await api('GET', `/sync-jobs/${id}`)).status).toBe(404);
    expect((await api('GET', `/executions/${past.id}`)).status).toBe(404);
  });

  it('cancels a long run; a running job cannot be deleted', async () => {
    const job = await jobNamed('Products');
    const sandbox = server.demo!.sandbox;
    sandbox.faults.latencyMs = 400;
    try {
      const run = await api('POST', `/sync-jobs/${job.id}/run`);
      await waitFor(
        async () => (await api('GET', `/executions/${run.body.executionId}`)).body.status === 'running',
        'the run to start',
        20_000,
      );
      const del = await api('DELETE', `/sync-jobs/${job.id}`);
      expect(del.status).toBe(409);
      expect(del.body.error.message).toMatch(/running/);
      expect((await api('POST', `/executions/${run.body.executionId}/cancel`)).status).toBe(200);
      expect((await finalExecution(run.body.executionId)).status).toBe('cancelled');
    } finally {
      sandbox.faults.latencyMs = 0;
    }
  });

  it('accepts signed webhooks once, ignores replays, refuses bad signatures without storing anything', async () => {
    const sandbox = server.demo!.sandbox;
    const connectionId = (await api('GET', '/connections')).body.items[0].id;
    const customers = await jobNamed('Customers');
    const id = sandbox.store.ids('customer')[0]!;
    sandbox.store.update('customer', id, { name: 'Changed by webhook' });
    const event = sandbox.store.events()[0]!;
    const url = `${base}/webhooks/${connectionId}`;

    const stored = async () =>
      Number(
        (
          await server.engine.database.db
            .selectFrom('webhook_events')
            .select((eb) => eb.fn.countAll().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
    const before = await stored();
    const forged = await sandbox.sendWebhook(url, event, { secret: 'whsec_wrong' });
    expect(forged.status).toBe(401);
    expect(JSON.parse(forged.body).error.code).toBe('invalid_signature');
    const stale = await sandbox.sendWebhook(url, event, { timestamp: Math.floor(Date.now() / 1000) - 3600 });
    expect(stale.status).toBe(401);
    expect(await stored()).toBe(before);

    const accepted = await sandbox.sendWebhook(url, event);
    expect(accepted.status).toBe(200);
    expect(JSON.parse(accepted.body)).toEqual({ accepted: 1, duplicates: 0 });
    const replay = await sandbox.sendWebhook(url, event);
    expect(JSON.parse(replay.body)).toEqual({ accepted: 0, duplicates: 1 });
    expect(await stored()).toBe(before + 1);

    const webhookRun = await waitFor<Json>(
      async () => {
        const items = (await api('GET', `/sync-jobs/${customers.id}/executions?trigger=webhook`)).body.items;
        return items.length > 0 && FINAL.includes(items[0].status) ? items[0] : null;
      },
      'the webhook run',
      20_000,
    );
    expect(webhookRun).toMatchObject({ status: 'completed', recordKeys: [id], processed: 1, updated: 1 });
    expect((await call('POST', `/webhooks/${randomUUID()}`, '{}')).status).toBe(404);
  });

  it('a delivery whose runs cannot be queued is refused and stored nowhere; the provider retries it and the run happens', async () => {
    const sandbox = server.demo!.sandbox;
    const connectionId = (await api('GET', '/connections')).body.items[0].id;
    const customers = await jobNamed('Customers');
    const id = sandbox.store.ids('customer')[1]!;
    sandbox.store.update('customer', id, { name: 'Changed while the queue was failing' });
    const event = sandbox.store.events()[0]!; // newest first
    expect(event.data.object.id).toBe(id);
    const url = `${base}/webhooks/${connectionId}`;
    const db = server.engine.database;
    const webhookRuns = async () =>
      (await api('GET', `/sync-jobs/${customers.id}/executions?trigger=webhook`)).body.items.filter(
        (e: Json) => e.recordKeys?.[0] === id,
      );
    // A fault between storing the event and queueing its run (here: the execution insert is refused).
    await db.exec(`ALTER TABLE sync_executions ADD CONSTRAINT no_webhook_runs CHECK (trigger <> 'webhook') NOT VALID`);
    try {
      const refused = await sandbox.sendWebhook(url, event);
      expect(refused.status).toBeGreaterThanOrEqual(500);
      const [row] = await db.db
        .selectFrom('webhook_events')
        .select('event_id')
        .where('event_id', '=', event.id)
        .execute();
      // Stored, it would make the provider's retry a "duplicate" that starts nothing: the change would be lost.
      expect(row).toBeUndefined();
    } finally {
      await db.exec('ALTER TABLE sync_executions DROP CONSTRAINT no_webhook_runs');
    }
    const retried = await sandbox.sendWebhook(url, event);
    expect(JSON.parse(retried.body)).toEqual({ accepted: 1, duplicates: 0 });
    const run = await waitFor<Json>(
      async () => {
        const [e] = await webhookRuns();
        return e && FINAL.includes(e.status) ? e : null;
      },
      'the webhook run of the retried delivery',
      20_000,
    );
    expect(run).toMatchObject({ status: 'completed', recordKeys: [id], processed: 1 });
  });

  it('serves health, readiness, metrics, OpenAPI and docs; refuses oversized and malformed bodies', async () => {
    expect((await call('GET', '/healthz')).body).toEqual({ status: 'ok' });
    const ready = await call('GET', '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ status: 'ready', database: true, pendingMigrations: [] });
    const metrics = await call('GET', '/metrics');
    expect(metrics.body).toMatch(/otesse_sync_executions\{status="completed",trigger="manual"\} [1-9]/);
    expect(metrics.body).toMatch(/otesse_sync_records\{outcome="failed"\} [1-9]/);
    expect(metrics.body).toContain('otesse_sync_run_duration_seconds_bucket');
    expect(metrics.body).toContain('otesse_sync_queue_depth');
    expect(metrics.body).toMatch(/otesse_sync_provider_http_requests_total\{provider="stripe",status="200"\} [1-9]/);

    const openapi = await call('GET', '/api/openapi.json');
    expect(openapi.body.openapi).toBe('3.1.0');
    expect(Object.keys(openapi.body.paths)).toEqual(
      expect.arrayContaining(['/api/v1/sync-jobs', '/api/v1/executions/{id}/events', '/webhooks/{connectionId}']),
    );
    expect((await call('GET', '/api/docs')).status).toBeLessThan(400);

    const huge = await api('POST', '/connections', { provider: 'stripe', name: 'x'.repeat(300_000) });
    expect(huge.status).toBe(413);
    expect(huge.body.error.code).toBe('payload_too_large');
    const malformed = await call('POST', '/api/v1/connections', '{"name":', { 'content-type': 'application/json' });
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.code).toBe('bad_request');
    const unknown = await api('GET', '/nothing-here');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('not_found');
  });

  it('with a token, every /api/v1 call needs it; health and webhooks stay open', async () => {
    const token = randomBytes(16).toString('hex');
    const app = await buildServer({ engine: server.engine, token });
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const none = await fetch(`${url}/api/v1/connections`);
      expect(none.status).toBe(401);
      expect(((await none.json()) as Json).error.code).toBe('unauthorized');
      const wrong = await fetch(`${url}/api/v1/connections`, { headers: { authorization: 'Bearer nope' } });
      expect(wrong.status).toBe(401);
      const right = await fetch(`${url}/api/v1/connections`, { headers: { authorization: `Bearer ${token}` } });
      expect(right.status).toBe(200);
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      const execution = (await api('GET', `/sync-jobs/${(await jobNamed('Customers')).id}/executions`)).body.items[0];
      const sse = await fetch(`${url}/api/v1/executions/${execution.id}/events?access_token=${token}`);
      expect(sse.status).toBe(200);
      expect(await sse.text()).toContain('event: done');
    } finally {
      await app.close();
    }
  });
});

describe('serve refuses an open API off loopback', () => {
  it('needs OTESSE_SYNC_API_TOKEN on a non-loopback address', async () => {
    await expect(
      serve({ database: 'memory://', host: '0.0.0.0', port: 0, token: null, logger: pino({ enabled: false }) }),
    ).rejects.toThrow(/OTESSE_SYNC_API_TOKEN/);
  });
});
