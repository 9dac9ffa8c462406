import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { buildServer } from '../src/api/server.ts';
import { createHarness, type Harness, TEST_DATABASES } from './helpers/db.ts';
import { seedConnections, seedExecution, seededJobName, seedJobs } from './helpers/fleet-seed.ts';

/**
 * The console at fleet size, through the real server (Fastify `inject`, the whole request pipeline) on PGlite and
 * PostgreSQL: the jobs and connections lists a page at a time (keyset cursors: every row once, in order, whatever
 * the page size, ties of creation time included) with a name search, and the fleet overview's figures against
 * executions, jobs and dead letters written straight into the database.
 */

// biome-ignore lint/suspicious/noExplicitAny: JSON responses
type Json = any;

describe.each(TEST_DATABASES)('the console at fleet size ($name)', (db) => {
  let h: Harness | undefined;
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    await h?.close();
    app = undefined;
    h = undefined;
  });

  async function start(name: string) {
    h = await createHarness(db, `fleet-console-${name}-${db.name}`);
    app = await buildServer({ engine: h.engine, token: null });
    return h;
  }
  const get = async (path: string): Promise<{ status: number; body: Json }> => {
    const res = await app!.inject({ method: 'GET', url: `/api/v1${path}` });
    return { status: res.statusCode, body: res.json() };
  };
  /** Every page of a list, following the cursors; the pages as they came. */
  const allPages = async (path: string): Promise<Json[]> => {
    const pages: Json[] = [];
    let cursor: string | null = null;
    do {
      const sep = path.includes('?') ? '&' : '?';
      const res = await get(`${path}${cursor ? `${sep}cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(res.status).toBe(200);
      pages.push(res.body);
      cursor = res.body.nextCursor;
      if (pages.length > 1000) throw new Error('the cursors never end');
    } while (cursor);
    return pages;
  };

  it('pages through a connection’s 130 jobs, every one once and in creation order, and searches them by name', async () => {
    const { engine, query } = await start('jobs');
    const a = await engine.connections.create({ name: 'Fleet A', provider: 'memory' });
    const b = await engine.connections.create({ name: 'Fleet B', provider: 'memory' });
    await seedJobs(query, a.id, 100);
    // Thirty created in one instant: the keyset's tie-break on id must neither skip nor repeat them.
    await seedJobs(query, a.id, 30, { prefix: 'Tie', sameInstant: true });
    await seedJobs(query, b.id, 5, { prefix: 'Other' });
    const [archived] = await seedJobs(query, a.id, 1, { prefix: 'Archived' });
    await query('UPDATE sync_jobs SET archived_at = now() WHERE id = $1', [archived!.id]);
    const expected = (
      await query<{ id: string }>(
        'SELECT id FROM sync_jobs WHERE connection_id = $1 AND archived_at IS NULL ORDER BY created_at, id',
        [a.id],
      )
    ).map((r) => r.id);
    expect(expected).toHaveLength(130);

    // Last runs come with the page: a whole run, and a newer single-record run that does not stand for the job.
    const job5 = expected[4]!;
    const run = await seedExecution(query, job5, 'failed', 2, { haltReason: 'bad credentials' });
    await seedExecution(query, job5, 'completed', 0.5, { recordKeys: ['cus_1'] });

    for (const limit of [7, 130, 500]) {
      const pages = await allPages(`/sync-jobs?connectionId=${a.id}&limit=${limit}`);
      expect(pages).toHaveLength(Math.ceil(130 / limit));
      expect(pages.flatMap((p) => p.items.map((j: Json) => j.id))).toEqual(expected);
      for (const p of pages) expect(p.total).toBe(130);
      expect(pages.at(-1).nextCursor).toBeNull();
    }
    const page = await get(`/sync-jobs?connectionId=${a.id}&limit=10`);
    const listed = page.body.items.find((j: Json) => j.id === job5);
    expect(listed.lastRun).toMatchObject({ id: run, status: 'failed' });
    expect(listed.openConflicts).toBe(0);
    expect(page.body.items[0]).toMatchObject({ name: seededJobName('Job', 1), connectionId: a.id, lastRun: null });

    // The default page is 50, like every list of the API.
    const byDefault = await get(`/sync-jobs?connectionId=${a.id}`);
    expect(byDefault.body.items).toHaveLength(50);
    expect(byDefault.body.nextCursor).toEqual(expect.any(String));

    // Search: any case, a substring, literal % and _, with paging; all jobs or one connection's.
    const names = async (path: string) =>
      (await allPages(path)).flatMap((p) => p.items.map((j: Json) => j.name as string));
    expect(await names(`/sync-jobs?connectionId=${a.id}&q=JOB%200042`)).toEqual(['Job 0042']);
    expect(await names(`/sync-jobs?connectionId=${a.id}&q=ob%20004`)).toEqual(
      Array.from({ length: 10 }, (_, i) => seededJobName('Job', 40 + i)),
    );
    const ties = await allPages(`/sync-jobs?connectionId=${a.id}&q=%20ie%2000%20&limit=8`); // trimmed: "ie 00"
    expect(ties.flatMap((p) => p.items.map((j: Json) => j.name)).sort()).toEqual(
      Array.from({ length: 30 }, (_, i) => seededJobName('Tie', i + 1)),
    );
    expect(ties.map((p) => [p.items.length, p.total])).toEqual([
      [8, 30],
      [8, 30],
      [8, 30],
      [6, 30],
    ]);
    expect(await names(`/sync-jobs?q=%25`)).toEqual([]);
    expect(await names(`/sync-jobs?q=_`)).toEqual([]);
    expect(await names(`/sync-jobs?connectionId=${a.id}&q=other`)).toEqual([]);
    expect(await names('/sync-jobs?q=other')).toEqual([1, 2, 3, 4, 5].map((i) => seededJobName('Other', i)));
    expect(await names('/sync-jobs?q=archived')).toEqual([]);
    expect((await get('/sync-jobs?q=%20%20')).body.total).toBe(135); // blank: no search
    expect((await get(`/sync-jobs?connectionId=${randomUUID()}`)).body).toEqual({
      items: [],
      nextCursor: null,
      total: 0,
    });
  }, 60_000);

  it('pages through the connections and searches them; each carries its job count and newest whole run', async () => {
    const { engine, query } = await start('connections');
    const ids = await seedConnections(query, 12);
    const [jobA, jobB, jobC] = await seedJobs(query, ids[0]!, 3);
    await seedJobs(query, ids[1]!, 2);
    const [gone] = await seedJobs(query, ids[1]!, 1, { prefix: 'Gone' });
    await query('UPDATE sync_jobs SET archived_at = now() WHERE id = $1', [gone!.id]);
    await seedExecution(query, jobA!.id, 'completed', 3);
    const newest = await seedExecution(query, jobB!.id, 'failed', 1);
    await seedExecution(query, jobC!.id, 'completed', 0.2, { recordKeys: ['r1'] }); // not a whole run

    const pages = await allPages('/connections?limit=5');
    expect(pages).toHaveLength(3);
    expect(pages.flatMap((p) => p.items.map((c: Json) => c.id))).toEqual(ids);
    expect(pages[0].total).toBe(12);
    const [first, second] = pages[0].items;
    expect(first).toMatchObject({ name: 'App 001', jobCount: 3, lastRun: { id: newest, status: 'failed' } });
    expect(second).toMatchObject({ name: 'App 002', jobCount: 2, lastRun: null });
    expect((await get(`/connections/${ids[0]}`)).body).toMatchObject({ jobCount: 3, lastRun: { id: newest } });

    const found = await get('/connections?q=APP%2001');
    expect(found.body.items.map((c: Json) => c.name)).toEqual(['App 010', 'App 011', 'App 012']);
    expect(found.body).toMatchObject({ total: 3, nextCursor: null });
    expect((await get('/connections?q=nothing')).body).toEqual({ items: [], nextCursor: null, total: 0 });
    await engine.connections.create({ name: '100% real', provider: 'memory' });
    expect((await get('/connections?q=0%25')).body.items.map((c: Json) => c.name)).toEqual(['100% real']);
  });

  it('refuses bad list and overview parameters with a 400 naming the parameter', async () => {
    await start('params');
    const cases: [string, string][] = [
      ['/sync-jobs?limit=0', 'limit'],
      ['/sync-jobs?limit=501', 'limit'],
      ['/sync-jobs?limit=ten', 'limit'],
      ['/sync-jobs?cursor=nonsense', 'cursor'],
      [`/sync-jobs?q=${'x'.repeat(201)}`, 'q'],
      ['/sync-jobs?q=a&q=b', 'q'],
      ['/sync-jobs?q=%00', 'q'],
      ['/sync-jobs?colour=red', 'colour'],
      ['/connections?limit=-1', 'limit'],
      ['/connections?cursor=WyIiLCIxIl0', 'cursor'], // a serial cursor (another list's) for a list by time
      [`/connections?q=${'y'.repeat(201)}`, 'q'],
      ['/connections?connectionId=x', 'connectionId'],
      ['/fleet/overview?hours=48', 'hours'],
    ];
    for (const [path, param] of cases) {
      const res = await get(path);
      expect({ path, status: res.status }).toEqual({ path, status: 400 });
      expect(res.body.error.code).toBe('validation_failed');
      expect(res.body.error.details.map((d: Json) => d.path)).toContain(param);
    }
  });

  it('sums the last 24 hours of runs by status, lists the jobs failing now, counts dead letters and totals', async () => {
    const { engine, query } = await start('overview');
    const empty = await get('/fleet/overview');
    expect(empty.status).toBe(200);
    expect(empty.body.hours).toHaveLength(24);
    expect(empty.body.hours.every((b: Json) => b.total === 0)).toBe(true);
    expect(empty.body).toMatchObject({
      failingJobs: { total: 0, items: [] },
      deadLetters: { open: 0, jobs: 0, byJob: [] },
      totals: { connections: 0, jobs: 0, enabledJobs: 0, runningNow: 0, queuedNow: 0 },
    });

    const alpha = await engine.connections.create({ name: 'Alpha', provider: 'memory' });
    const beta = await engine.connections.create({ name: 'Beta', provider: 'memory' });
    const jobs = [
      ...(await seedJobs(query, alpha.id, 6)),
      ...(await seedJobs(query, beta.id, 2, { prefix: 'Beta job', enabled: (i) => i !== 2 })),
    ];
    const [j1, j2, j3, j4, j5, j6, j7, j8] = jobs.map((j) => j.id) as [
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    await query('UPDATE sync_jobs SET archived_at = now() WHERE id = $1', [j7]);
    // j1 fails twice in a row after a success (and an older failure): failing, 2 in a row.
    await seedExecution(query, j1, 'failed', 9.5);
    await seedExecution(query, j1, 'completed', 8.5);
    await seedExecution(query, j1, 'failed', 5.5);
    const j1Failed = await seedExecution(query, j1, 'failed', 2.5, { haltReason: 'circuit breaker' });
    await seedExecution(query, j1, 'completed', 30); // before the 24 hours
    // j2 recovered; j6's newest finished run was cancelled: neither is failing.
    await seedExecution(query, j2, 'failed', 3.5);
    await seedExecution(query, j2, 'completed', 1.5);
    await seedExecution(query, j6, 'failed', 4.5);
    await seedExecution(query, j6, 'cancelled', 1.2);
    // j3 timed out and runs again now: still failing (its newest *finished* run timed out).
    const j3Timeout = await seedExecution(query, j3, 'timed_out', 0.5, { haltReason: 'timed out after 60 min' });
    await seedExecution(query, j3, 'running', 0.1);
    // j4's newer failure is a single-record run (a webhook's record): the job is not failing.
    await seedExecution(query, j4, 'completed', 2.5);
    await seedExecution(query, j4, 'failed', 0.2, { recordKeys: ['cus_9'] });
    await seedExecution(query, j5, 'queued', 0.05);
    // Archived j7 is not listed; disabled j8 is, marked disabled.
    await seedExecution(query, j7, 'failed', 1);
    const j8Failed = await seedExecution(query, j8, 'failed', 6.5);

    const letter = (job: string, key: string, status = 'open') =>
      query(
        `INSERT INTO dead_letters (job_id, side, record_key, failure_count, last_error, last_execution_id, status)
         VALUES ($1, 'provider', $2, 3, 'boom', $3, $4)`,
        [job, key, randomUUID(), status],
      );
    for (const key of ['a', 'b', 'c']) await letter(j1, key);
    await letter(j2, 'a');
    await letter(j2, 'b', 'discarded');
    await letter(j7, 'a');

    const res = await get('/fleet/overview');
    expect(res.status).toBe(200);
    const o = res.body;

    expect(o.failingJobs.total).toBe(3);
    expect(o.failingJobs.items).toEqual([
      {
        jobId: j3,
        jobName: seededJobName('Job', 3),
        enabled: true,
        connectionId: alpha.id,
        connectionName: 'Alpha',
        executionId: j3Timeout,
        lastStatus: 'timed_out',
        lastRunAt: expect.any(String),
        haltReason: 'timed out after 60 min',
        consecutiveFailures: 1,
      },
      expect.objectContaining({ jobId: j1, executionId: j1Failed, lastStatus: 'failed', consecutiveFailures: 2 }),
      expect.objectContaining({
        jobId: j8,
        jobName: seededJobName('Beta job', 2),
        enabled: false,
        connectionName: 'Beta',
        executionId: j8Failed,
        consecutiveFailures: 1,
      }),
    ]);
    expect(o.deadLetters).toEqual({
      open: 4,
      jobs: 2,
      byJob: [
        { jobId: j1, jobName: seededJobName('Job', 1), connectionName: 'Alpha', open: 3 },
        { jobId: j2, jobName: seededJobName('Job', 2), connectionName: 'Alpha', open: 1 },
      ],
    });
    expect(o.totals).toEqual({ connections: 2, jobs: 7, enabledJobs: 6, runningNow: 1, queuedNow: 1 });

    // The hours: 24 consecutive UTC hours ending with the current one; each counts the runs created in it.
    expect(o.hours).toHaveLength(24);
    const starts = o.hours.map((b: Json) => Date.parse(b.hour));
    for (let i = 1; i < 24; i++) expect(starts[i] - starts[i - 1]).toBe(3_600_000);
    expect(starts[0] % 3_600_000).toBe(0);
    expect(Date.parse(o.at) - starts[23]).toBeGreaterThanOrEqual(0);
    expect(Date.parse(o.at) - starts[23]).toBeLessThan(3_600_000);
    const runs = await query<{ status: string; created_at: Date }>('SELECT status, created_at FROM sync_executions');
    const expected = new Map<number, Record<string, number>>();
    for (const r of runs) {
      const hour = Math.floor(new Date(r.created_at).getTime() / 3_600_000) * 3_600_000;
      const counts = expected.get(hour) ?? {};
      counts[r.status] = (counts[r.status] ?? 0) + 1;
      expected.set(hour, counts);
    }
    let counted = 0;
    for (const bucket of o.hours) {
      const want = expected.get(Date.parse(bucket.hour)) ?? {};
      expect(Object.keys(bucket.statuses).sort()).toEqual([
        'cancelled',
        'completed',
        'completed_with_errors',
        'failed',
        'queued',
        'running',
        'timed_out',
      ]);
      for (const [status, n] of Object.entries(bucket.statuses)) expect(n).toBe(want[status] ?? 0);
      expect(bucket.total).toBe(Object.values(want).reduce((x, y) => x + y, 0));
      counted += bucket.total;
    }
    expect(counted).toBe(runs.length - 1); // all but the run of 30 hours ago
  });
});
