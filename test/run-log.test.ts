import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, serve } from '../src/api/serve.ts';
import { type StripeSandbox, startStripeSandbox } from '../src/sandbox/stripe/server.ts';
import { waitFor } from './helpers/db.ts';

/**
 * Operator tools through the real server. The run log: an execution keeps a bounded log of what happened — start,
 * each page committed, provider retries and rate-limit waits with the status, Retry-After and time waited, halt and
 * final status — and a timing summary (reading, writing, waiting on rate limits, retrying). The dry-run preview:
 * what the next run would do per record, with field-level diffs, writing nothing anywhere.
 *
 * The run log (operator tools): an execution keeps a bounded log of what happened — start, each page committed,
 * provider retries and rate-limit waits with the status, Retry-After and time waited, halt and final status — and a
 * timing summary (reading, writing, waiting on rate limits, retrying). Through the real server, against the Stripe
 * sandbox answering 429 with Retry-After.
 */
const KEY = 'sk_test_runlog_sandbox_key';

// biome-ignore lint/suspicious/noExplicitAny: JSON responses
type Json = any;

describe('the run log of a run with 429s', () => {
  let sandbox: StripeSandbox;
  let server: RunningServer;
  let dir: string;
  const api = async (method: string, path: string, body?: unknown): Promise<{ status: number; body: Json }> => {
    const res = await fetch(`${server.url}/api/v1${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: await res.json() };
  };

  beforeAll(async () => {
    sandbox = await startStripeSandbox({ apiKey: KEY, records: { customers: 250 } });
    dir = mkdtempSync(join(tmpdir(), 'otesse-runlog-'));
    const config = join(dir, 'otesse-sync.config.json');
    writeFileSync(config, JSON.stringify({ localEntities: { customers: { table: 'log_customers' } } }));
    server = await serve({
      database: join(dir, 'data'),
      host: '127.0.0.1',
      port: 0,
      token: null,
      configPath: config,
      logger: pino({ enabled: false }),
      encryptionKeys: [randomBytes(32).toString('hex')],
      allowedHosts: '127.0.0.1',
    });
    await server.engine.database.exec(
      'CREATE TABLE public.log_customers (id uuid PRIMARY KEY, name text, email text, updated_at timestamptz NOT NULL DEFAULT now())',
    );
  });
  afterAll(async () => {
    await server?.close();
    await sandbox?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows the start, the pages, each 429 with its Retry-After and wait, and the final status with timings', async () => {
    const conn = await api('POST', '/connections', {
      provider: 'stripe',
      name: 'Sandbox',
      config: { apiBase: sandbox.url, requestsPerSecond: 1000 },
      credentials: { apiKey: KEY },
    });
    expect(conn.status).toBe(201);
    const job = await api('POST', '/sync-jobs', {
      connectionId: conn.body.id,
      name: 'Customers',
      entityType: 'customer',
      localEntity: 'customers',
      direction: 'inbound',
      fieldMappings: [
        { sourceField: 'name', targetField: 'name' },
        { sourceField: 'email', targetField: 'email' },
      ],
    });
    expect(job.status).toBe(201);
    // The next two requests are answered 429 with Retry-After: 1 s.
    sandbox.faults.rateLimit = { nextN: 2, retryAfterSeconds: 1 };
    const run = await api('POST', `/sync-jobs/${job.body.id}/run`);
    const id = run.body.executionId as string;
    const done = await waitFor(
      async () => {
        const e = (await api('GET', `/executions/${id}`)).body;
        return e.status !== 'queued' && e.status !== 'running' ? e : null;
      },
      'the run to finish',
      60_000,
    );
    expect(done).toMatchObject({ status: 'completed', processed: 250, created: 250 });
    // Two waits of about a second each (Retry-After honoured), counted as rate-limit waits.
    expect(done.timing.rateLimitWaitMs).toBeGreaterThanOrEqual(2000);
    expect(done.timing.retryWaitMs).toBe(0);
    expect(done.timing.readMs).toBeGreaterThanOrEqual(done.timing.rateLimitWaitMs);
    expect(done.timing.writeMs).toBeGreaterThan(0);

    const log = await api('GET', `/executions/${id}/log?limit=500`);
    expect(log.status).toBe(200);
    const entries = log.body.items as Json[];
    const events = entries.map((e) => e.event);
    expect(events[0]).toBe('start');
    expect(events.at(-1)).toBe('finished');
    const limited = entries.filter((e) => e.event === 'rate_limited');
    expect(limited).toHaveLength(2);
    for (const e of limited) {
      expect(e.data).toMatchObject({ provider: 'stripe', status: 429, retryAfterMs: 1000, waitMs: 1000 });
      expect(e.message).toContain('Retry-After 1000 ms');
    }
    const pages = entries.filter((e) => e.event === 'page');
    expect(pages.reduce((n, e) => n + e.data.records, 0)).toBe(250);
    for (const p of pages) expect(p.data.durationMs).toBeGreaterThanOrEqual(0);
    expect(entries.at(-1).data).toMatchObject({ status: 'completed', counters: { processed: 250 } });
    // Ids and figures only: no credentials, no record content.
    const text = JSON.stringify(entries);
    expect(text).not.toContain(KEY);
    expect(text).not.toContain('@');

    // Paged oldest first; a bad cursor is a 400.
    const first = await api('GET', `/executions/${id}/log?limit=2`);
    expect(first.body.items.map((e: Json) => e.id)).toEqual(entries.slice(0, 2).map((e) => e.id));
    const second = await api('GET', `/executions/${id}/log?limit=2&cursor=${first.body.nextCursor}`);
    expect(second.body.items[0].id).toBe(entries[2].id);
    expect((await api('GET', `/executions/${id}/log?cursor=nope`)).status).toBe(400);
  }, 90_000);

  it('preview: planned actions with field diffs for a saved job and for a draft, writing nothing anywhere', async () => {
    const conn = (await api('GET', '/connections')).body.items[0];
    const job = (await api('GET', '/sync-jobs')).body.items[0];
    // Change two customers at the provider, and make one unmappable by the job's rule set of the draft below.
    const ids = sandbox.store.ids('customer');
    await fetch(`${sandbox.url}/v1/customers/${ids[0]}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'name=Renamed%20One',
    });
    const counts = async () => {
      const q = async (sql: string) =>
        ((await server.engine.database.pglite!.query<{ n: number }>(sql)).rows[0]!.n as number) ?? 0;
      return {
        local: await q('SELECT count(*)::int AS n FROM public.log_customers'),
        refs: await q('SELECT count(*)::int AS n FROM external_references'),
        executions: await q('SELECT count(*)::int AS n FROM sync_executions'),
        failures: await q('SELECT count(*)::int AS n FROM record_failures'),
        log: await q('SELECT count(*)::int AS n FROM execution_log'),
        cursor: (await api('GET', `/sync-jobs/${job.id}`)).body.lastRunAt,
        providerWrites: Object.entries(sandbox.requests.byRoute)
          .filter(([route]) => route.startsWith('POST') || route.startsWith('DELETE'))
          .reduce((n, [, c]) => n + (c as number), 0),
      };
    };
    const before = await counts();

    const saved = await api('POST', `/sync-jobs/${job.id}/preview`, { limit: 5 });
    expect(saved.status).toBe(200);
    expect(saved.body.items).toHaveLength(5);
    const renamed = saved.body.items.find((i: Json) => i.recordKey === ids[0]);
    expect(renamed).toMatchObject({ action: 'update', writes: 'local', leg: 'inbound' });
    expect(renamed.diff).toEqual([{ field: 'name', from: expect.any(String), to: 'Renamed One' }]);
    expect(saved.body.summary).toMatchObject({ update: 1, skip: 4 });

    const draft = await api('POST', '/sync-jobs/preview', {
      job: {
        connectionId: conn.id,
        name: 'Draft',
        entityType: 'customer',
        localEntity: 'customers',
        direction: 'inbound',
        fieldMappings: [
          { sourceField: 'email', targetField: 'email', transform: 'lowercase' },
          { sourceField: 'name', targetField: 'name', transform: 'to_number' },
        ],
      },
      limit: 3,
    });
    expect(draft.status).toBe(200);
    expect(draft.body.items).toHaveLength(3);
    for (const item of draft.body.items) {
      expect(['update', 'fail', 'skip']).toContain(item.action);
      if (item.action === 'fail') expect(item.reason).toMatch(/^map: /);
    }
    const bad = await api('POST', '/sync-jobs/preview', { job: { name: 'x' }, limit: 500 });
    expect(bad.status).toBe(400);
    const paths = bad.body.error.details.map((d: Json) => d.path);
    expect(paths).toContain('limit');
    const bad2 = await api('POST', '/sync-jobs/preview', { job: { name: 'x' } });
    expect(bad2.body.error.details.map((d: Json) => d.path)).toEqual(
      expect.arrayContaining(['job.connectionId', 'job.entityType', 'job.direction']),
    );
    expect((await api('POST', `/sync-jobs/${job.id}/preview`, { limit: 0 })).status).toBe(400);

    expect(await counts()).toEqual(before);
  });

  it('the record inspector: reference, both sides live and mapped, and the history across three executions', async () => {
    const job = (await api('GET', '/sync-jobs')).body.items[0];
    const id = sandbox.store.ids('customer')[0]!;
    const runToEnd = async () => {
      const { executionId } = (await api('POST', `/sync-jobs/${job.id}/run`)).body;
      return waitFor(
        async () => {
          const e = (await api('GET', `/executions/${executionId}`)).body;
          return e.status !== 'queued' && e.status !== 'running' ? e : null;
        },
        'the run to finish',
        60_000,
      );
    };
    // The first execution created it (test 1); the renamed name is synced now, then renamed once more.
    const second = await runToEnd();
    expect(second).toMatchObject({ status: 'completed', updated: 1 });
    await fetch(`${sandbox.url}/v1/customers/${id}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'name=Renamed%20Twice',
    });
    const third = await runToEnd();
    expect(third).toMatchObject({ status: 'completed', updated: 1 });

    const res = await api('GET', `/sync-jobs/${job.id}/records/${encodeURIComponent(id)}?side=provider`);
    expect(res.status).toBe(200);
    const r = res.body;
    expect(r.reference).toMatchObject({ externalId: id, deletedAt: null });
    expect(r.provider).toMatchObject({ id, state: 'found', mapped: { name: 'Renamed Twice' } });
    expect(r.local).toMatchObject({ id: r.reference.localId, state: 'found', content: { name: 'Renamed Twice' } });
    expect(r.history.map((h: Json) => h.outcome)).toEqual(['updated', 'updated', 'created']);
    expect(r.history[0].executionId).toBe(third.id);
    expect(r.history[1].executionId).toBe(second.id);
    expect(r.failures).toEqual([]);
    expect(r.deadLetter).toBeNull();
    expect(JSON.stringify(r)).not.toContain(KEY);
    // By the local id it is the same record.
    const byLocal = await api('GET', `/sync-jobs/${job.id}/records/${r.reference.localId}?side=local`);
    expect(byLocal.body.reference.externalId).toBe(id);
    // An unknown record: no reference, the side read says missing.
    const unknown = await api('GET', `/sync-jobs/${job.id}/records/cus_nope?side=provider`);
    expect(unknown.status).toBe(200);
    expect(unknown.body).toMatchObject({ reference: null, provider: { state: 'missing' }, history: [] });
    expect((await api('GET', `/sync-jobs/${job.id}/records/x?side=both`)).status).toBe(400);
  }, 120_000);
});
