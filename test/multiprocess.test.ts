import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createPostgresLocalStore } from '../src/local/postgres.ts';
import { createTableProvider, createTableProviderStore } from '../src/sandbox/table-provider.ts';
import { createSyncEngine, type SyncEngine } from '../src/sync-engine.ts';
import { CUSTOMERS_DDL, schemaFor, waitFor } from './helpers/db.ts';

/**
 * Real worker processes (`otesse-sync worker`) against one PostgreSQL: cron with two workers, SIGKILL in
 * the middle of a run, SIGTERM handover, cancel from another process. PostgreSQL only: PGlite is one
 * process's embedded database.
 */
const url = process.env.TEST_DATABASE_URL;
const FINAL = ['completed', 'completed_with_errors', 'failed', 'timed_out', 'cancelled'];
const RULES = ['name', 'email'].flatMap((f) => [
  { sourceField: f, targetField: f, direction: 'inbound' as const },
  { sourceField: f, targetField: f, direction: 'outbound' as const },
]);
/** Seconds a SIGTERMed worker lets its runs reach a checkpoint (`worker --grace`). */
const GRACE_S = 20;

/**
 * Deadlines of the waits (ms): several times what they take on this 2-core machine under load. Each test's own
 * time limit is the sum of the deadlines it waits on plus SETUP_MS (seeding, creating jobs, the final checks).
 */
const SETUP_MS = 15_000;
/** A worker process starting (≈ 1 s idle, 5.5 s beside four CPU hogs). Workers started together count once. */
const READY_MS = 20_000;
/** Cron: jobs (as many as the two workers' run slots), their fire interval, and the finished fires waited for. */
const CRON_JOBS = 4;
const CRON_EVERY_MS = 2000;
const CRON_FIRES = 4;
const CRON_FIRES_MS = CRON_FIRES * CRON_EVERY_MS + 12_000;
/** Cron: the runs claimed before the jobs were disabled, finishing (one ≈ 0.5 s run per job). */
const CRON_SETTLE_MS = 10_000;
/** SIGKILL: 25,000 records each side; the run reaching the outbound leg (≈ 7–10 s, idle or loaded). */
const KILL_RECORDS = 25_000;
const KILL_OUTBOUND_MS = 45_000;
/** SIGKILL: a reaper failing the run as `worker lost` (≈ 4 s: lease 4 s, reaper every 1 s, see the worker fixture). */
const KILL_LOST_MS = 20_000;
/** SIGKILL: the retry (backoff ≤ 0.3 s) finishing the outbound leg (≈ 10–12 s, idle or loaded). */
const KILL_RETRY_MS = 45_000;
/** SIGTERM: 3,000 records at 100 per page, 250 ms a page (≈ 7.5 s of reading). The first three pages read; */
const TERM_PAGES_MS = 15_000;
/** … the worker exiting after SIGTERM (its grace, then a hard abort and exit); the other one finishing the run. */
const TERM_EXIT_MS = GRACE_S * 1000 + 10_000;
const TERM_HANDOVER_MS = 30_000;
/** Cancel: 5,000 records, 200 ms a page. The first page read; the cancelled run ending (≈ 0.2 s). */
const CANCEL_FIRST_PAGE_MS = 10_000;
const CANCEL_MS = 10_000;

describe.skipIf(!url)('worker processes on PostgreSQL', () => {
  let schema: string;
  let engine: SyncEngine;
  let pool: pg.Pool;
  let key: string;
  const children: ChildProcess[] = [];

  beforeEach(async (ctx) => {
    schema = schemaFor(ctx.task.name);
    key = randomBytes(32).toString('hex');
    pool = new pg.Pool({ connectionString: url, max: 2 });
    // The test process is a control plane only: it creates jobs, triggers and cancels; workers run.
    engine = await createSyncEngine({
      database: url!,
      schema,
      encryptionKeys: [key],
      providers: [createTableProvider()],
      local: createPostgresLocalStore({ entities: { customer: { table: 'customers' } } }),
    });
    await engine.database.exec(CUSTOMERS_DDL);
    await createTableProviderStore(pool, `${schema}_provider`);
  });

  afterEach(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await Promise.all(children.map((c) => (c.exitCode === null && c.signalCode === null ? once(c) : null)));
    children.length = 0;
    await engine.close();
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE; DROP SCHEMA IF EXISTS "${schema}_provider" CASCADE;
      DROP SCHEMA IF EXISTS "${schema}_queue" CASCADE`);
    await pool.end();
  });

  function once(child: ChildProcess): Promise<number | null> {
    return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  /** The exit code of `child`, or a failure when it has not exited within `ms`. */
  function exitWithin(child: ChildProcess, ms: number): Promise<number | null> {
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([
      once(child),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`worker ${child.pid} did not exit within ${ms} ms`)), ms);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  /** A worker process; `id` is the worker id it writes into the executions it runs (`<host>:<pid>:<random>`). */
  async function startWorker(): Promise<{ child: ChildProcess; pid: number; id: string; output: () => string }> {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/main.ts',
        'worker',
        '--config',
        'test/fixtures/worker.config.ts',
        '--concurrency',
        '2',
        '--grace',
        String(GRACE_S),
      ],
      {
        env: { ...process.env, DATABASE_URL: url, OTESSE_TEST_SCHEMA: schema, OTESSE_SYNC_ENCRYPTION_KEY: key },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    children.push(child);
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
    });
    child.stderr!.on('data', (d) => {
      out += d;
    });
    const ready = await waitFor(async () => /^worker (\S+) ready$/m.exec(out), 'worker ready', READY_MS).catch(
      (err) => {
        throw new Error(`${(err as Error).message} (output: ${out})`);
      },
    );
    expect(ready[1]).toContain(`:${child.pid}:`);
    return { child, pid: child.pid!, id: ready[1]!, output: () => out };
  }

  async function connection(extra: Record<string, unknown> = {}) {
    return engine.connections.create({
      name: 'Table provider',
      provider: 'table',
      config: { databaseUrl: url, schema: `${schema}_provider`, ...extra },
    });
  }

  const count = async (sql: string) => Number((await pool.query(sql)).rows[0].n);
  const final = (id: string, ms: number) =>
    waitFor(
      async () => {
        const e = await engine.executions.get(id);
        return FINAL.includes(e.status) ? e : null;
      },
      `execution ${id} to finish`,
      ms,
    );

  /** `n` provider customers behind a connection that answers each request after `latencyMs`, and an inbound job. */
  async function slowInboundJob(n: number, latencyMs: number) {
    await pool.query(
      `INSERT INTO "${schema}_provider".sandbox_records (entity_type, id, data)
       SELECT 'customer', 'p' || lpad(i::text, 6, '0'), jsonb_build_object('name', 'n' || i, 'email', 'e' || i || '@x.test')
       FROM generate_series(1, $1::int) i`,
      [n],
    );
    const conn = await connection({ latencyMs });
    return engine.jobs.create({
      connectionId: conn.id,
      name: 'Slow',
      entityType: 'customer',
      direction: 'inbound',
      fieldMappings: RULES.filter((r) => r.direction === 'inbound'),
    });
  }

  it(
    'two workers and cron jobs due together: every fire time runs once, to completion, on both workers',
    async () => {
      const [a, b] = await Promise.all([startWorker(), startWorker()]);
      await pool.query(
        `INSERT INTO "${schema}_provider".sandbox_records (entity_type, id, data)
         SELECT 'customer', 'p' || i, jsonb_build_object('name', 'n' || i, 'email', 'e' || i || '@x.test') FROM generate_series(1, 20) i`,
      );
      // As many jobs as the two workers have run slots (2 × --concurrency 2), all due at the same fire times, and
      // each run held ≈ 0.4 s by the provider's latency: one worker cannot take all the runs of a fire time.
      const jobs: { id: string; first: number }[] = [];
      for (let i = 0; i < CRON_JOBS; i++) {
        const conn = await connection({ latencyMs: 400 });
        const job = await engine.jobs.create({
          connectionId: conn.id,
          name: `Every 2 s #${i}`,
          entityType: 'customer',
          direction: 'inbound',
          mode: 'incremental',
          schedule: { type: 'cron', cron: `*/${CRON_EVERY_MS / 1000} * * * * *`, timezone: 'UTC' },
          fieldMappings: RULES.filter((r) => r.direction === 'inbound'),
        });
        jobs.push({ id: job.id, first: job.nextRunAt!.getTime() });
      }
      const ids = jobs.map((j) => j.id);
      await waitFor(
        async () => {
          for (const id of ids) {
            // nextRunAt always names the coming fire time (never more than one interval plus the claim lag behind).
            expect((await engine.jobs.get(id)).nextRunAt!.getTime()).toBeGreaterThan(Date.now() - 1500);
          }
          const { rows } = await pool.query<{ n: number }>(
            `SELECT count(e.id) FILTER (WHERE e.status = ANY($2))::int AS n
             FROM unnest($1::uuid[]) j(id) LEFT JOIN "${schema}".sync_executions e ON e.job_id = j.id GROUP BY j.id`,
            [ids, FINAL],
          );
          return rows.every((r) => r.n >= CRON_FIRES);
        },
        `${CRON_FIRES} finished fires of each job`,
        CRON_FIRES_MS,
      );
      // Disabled in one statement, which waits for a scheduler holding a job's row: the next_run_at it returns is
      // the first fire time nobody claimed, and nobody claims one after it.
      const disabled = await pool.query<{ id: string; next_run_at: Date }>(
        `UPDATE "${schema}".sync_jobs SET enabled = false WHERE id = ANY($1) RETURNING id, next_run_at`,
        [ids],
      );
      const unclaimed = new Map(disabled.rows.map((r) => [r.id, r.next_run_at.getTime()]));
      await waitFor(
        async () =>
          (
            await pool.query(
              `SELECT 1 FROM "${schema}".sync_executions WHERE job_id = ANY($1) AND NOT status = ANY($2) LIMIT 1`,
              [ids, FINAL],
            )
          ).rowCount === 0,
        'the runs of every claimed fire time to finish',
        CRON_SETTLE_MS,
      );
      const { rows } = await pool.query<{
        job_id: string;
        scheduled_for: Date | null;
        started_at: Date;
        worker_id: string;
        status: string;
        trigger: string;
        attempt: number;
        processed: number;
        created: number;
        updated: number;
        skipped: number;
        failed: number;
      }>(
        `SELECT job_id, scheduled_for, started_at, worker_id, status, trigger, attempt,
                processed, created, updated, skipped, failed
         FROM "${schema}".sync_executions WHERE job_id = ANY($1) ORDER BY scheduled_for, job_id`,
        [ids],
      );
      for (const { id, first } of jobs) {
        const runs = rows.filter((r) => r.job_id === id);
        // One execution for each fire time from the job's first to the last one claimed before it was disabled,
        // none skipped, none extra (the unique (job_id, scheduled_for) index alone only rules out doubles).
        const fires = Array.from(
          { length: (unclaimed.get(id)! - first) / CRON_EVERY_MS },
          (_, k) => first + k * CRON_EVERY_MS,
        );
        expect(runs.map((r) => r.scheduled_for?.getTime() ?? null)).toEqual(fires);
        // Each ran to completion as a first attempt: the first read the 20 customers, the later ones (incremental,
        // nothing changed since) read nothing.
        expect(
          runs.map(({ status, trigger, attempt, processed, created, updated, skipped, failed }) => ({
            status,
            trigger,
            attempt,
            counters: [processed, created, updated, skipped, failed],
          })),
        ).toEqual(
          runs.map((_, k) => ({
            status: 'completed',
            trigger: 'scheduled',
            attempt: 1,
            counters: k === 0 ? [20, 20, 0, 0, 0] : [0, 0, 0, 0, 0],
          })),
        );
      }
      // Both workers took scheduled runs, and no one else did.
      const perWorker = new Map<string, number>();
      for (const r of rows) perWorker.set(r.worker_id, (perWorker.get(r.worker_id) ?? 0) + 1);
      expect([...perWorker.keys()].sort()).toEqual([a.id, b.id].sort());
      // Contended: the runs of one fire time were claimed by both workers (each can hold only two of the four).
      const fireTimes = [...new Set(rows.map((r) => r.scheduled_for!.getTime()))];
      const shared = fireTimes.filter(
        (t) => new Set(rows.filter((r) => r.scheduled_for!.getTime() === t).map((r) => r.worker_id)).size === 2,
      );
      expect(shared.length).toBeGreaterThan(0);
      const lags = rows.map((r) => r.started_at.getTime() - r.scheduled_for!.getTime()).sort((x, y) => x - y);
      console.log(
        `cron due → running: median ${lags[lags.length >> 1]} ms, max ${lags.at(-1)} ms over ${lags.length} runs ` +
          `(${CRON_JOBS} jobs); runs per worker ${[...perWorker.values()].join('/')}; ` +
          `fire times shared by both workers ${shared.length}/${fireTimes.length}`,
      );
    },
    READY_MS + CRON_FIRES_MS + CRON_SETTLE_MS + SETUP_MS,
  );

  it(
    'SIGKILL mid-run: the other worker resumes; no record created twice on either side',
    async () => {
      const N = KILL_RECORDS;
      await pool.query(
        `INSERT INTO "${schema}_provider".sandbox_records (entity_type, id, data)
         SELECT 'customer', 'p' || lpad(i::text, 6, '0'), jsonb_build_object('name', 'remote ' || i, 'email', 'r' || i || '@x.test')
         FROM generate_series(1, ${N}) i`,
      );
      await pool.query(
        `INSERT INTO "${schema}".customers (id, name, email)
         SELECT gen_random_uuid(), 'local ' || i, 'l' || i || '@x.test' FROM generate_series(1, ${N}) i`,
      );
      const conn = await connection();
      const job = await engine.jobs.create({
        connectionId: conn.id,
        name: 'Both ways',
        entityType: 'customer',
        direction: 'bidirectional',
        conflictStrategy: 'provider_wins',
        fieldMappings: RULES,
        maxRetries: 3,
      });
      const [a, b] = await Promise.all([startWorker(), startWorker()]);
      const { execution } = await engine.trigger(job.id);
      // Kill the worker running it once it is well into the outbound leg (provider creates in flight).
      await waitFor(
        async () => (await engine.executions.get(execution.id)).processed >= N + 8_000,
        'the run to reach the outbound leg',
        KILL_OUTBOUND_MS,
      );
      const [{ worker_id }] = (
        await pool.query(`SELECT worker_id FROM "${schema}".sync_executions WHERE id = $1`, [execution.id])
      ).rows;
      expect([a.id, b.id]).toContain(worker_id);
      const [victim, survivor] = worker_id === a.id ? [a, b] : [b, a];
      victim.child.kill('SIGKILL');
      const lost = await final(execution.id, KILL_LOST_MS);
      expect(lost.status).toBe('failed');
      expect(lost.haltReason).toContain(`worker lost: no heartbeat from ${victim.id} `);
      const retry = await waitFor(
        async () => {
          const list = await engine.executions.list(job.id);
          const r = list.find((e) => e.attempt === 2);
          return r && FINAL.includes(r.status) ? r : null;
        },
        'the resumed attempt',
        KILL_RETRY_MS,
      );
      expect([retry.trigger, retry.status]).toEqual(['retry', 'completed']);
      expect((await engine.executions.list(job.id)).length).toBe(2);
      const [resumed] = (
        await pool.query(`SELECT worker_id, resumed_from FROM "${schema}".sync_executions WHERE id = $1`, [retry.id])
      ).rows;
      expect(resumed).toEqual({ worker_id: survivor.id, resumed_from: execution.id });
      // It resumed from the checkpoint: the two attempts together read each record of both legs (N inbound, then
      // 2N local ones outbound) once, but for the records of a commit the kill cut short (at most a page, 100).
      expect(lost.processed + retry.processed).toBeGreaterThanOrEqual(3 * N);
      expect(lost.processed + retry.processed).toBeLessThanOrEqual(3 * N + 100);
      expect(await count(`SELECT count(*) AS n FROM "${schema}".customers`)).toBe(2 * N);
      expect(await count(`SELECT count(*) AS n FROM "${schema}_provider".sandbox_records`)).toBe(2 * N);
      expect(await count(`SELECT count(*) AS n FROM "${schema}".external_references`)).toBe(2 * N);
      expect(await count(`SELECT count(DISTINCT data->>'email') AS n FROM "${schema}_provider".sandbox_records`)).toBe(
        2 * N,
      );
      expect(await count(`SELECT count(DISTINCT email) AS n FROM "${schema}".customers`)).toBe(2 * N);
    },
    READY_MS + KILL_OUTBOUND_MS + KILL_LOST_MS + KILL_RETRY_MS + SETUP_MS,
  );

  it(
    'SIGTERM: the run reaches a checkpoint, goes back to the queue, and another worker finishes it',
    async () => {
      const job = await slowInboundJob(3000, 250);
      const a = await startWorker();
      const { execution } = await engine.trigger(job.id);
      // The second worker starts while the first one runs (a process start takes seconds on a loaded machine):
      // only the first can claim the run, which is no longer queued.
      const starting = startWorker();
      await waitFor(
        async () => (await engine.executions.get(execution.id)).processed >= 300,
        'three pages',
        TERM_PAGES_MS,
      );
      const b = await starting;
      const [before] = (
        await pool.query(`SELECT status, worker_id FROM "${schema}".sync_executions WHERE id = $1`, [execution.id])
      ).rows;
      // Still running, on the worker about to stop (the handover below is from it).
      expect([before.status, before.worker_id]).toEqual(['running', a.id]);
      const exited = exitWithin(a.child, TERM_EXIT_MS);
      a.child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(a.output()).toMatch(/stopping \(SIGTERM\)[\s\S]*stopped/);
      const e = await final(execution.id, TERM_HANDOVER_MS);
      expect(e.status).toBe('completed');
      expect(e.processed).toBe(3000);
      expect(e.created).toBe(3000);
      const [{ worker_id }] = (
        await pool.query(`SELECT worker_id FROM "${schema}".sync_executions WHERE id = $1`, [e.id])
      ).rows;
      expect(worker_id).toBe(b.id);
      expect((await engine.executions.list(job.id)).length).toBe(1);
      expect(await count(`SELECT count(*) AS n FROM "${schema}".customers`)).toBe(3000);
    },
    // Every deadline counted in full, the second worker's start too (it overlaps the wait for three pages).
    2 * READY_MS + TERM_PAGES_MS + TERM_EXIT_MS + TERM_HANDOVER_MS + SETUP_MS,
  );

  it(
    'cancel from another process stops a running execution within seconds',
    async () => {
      const job = await slowInboundJob(5000, 200);
      await startWorker();
      const { execution } = await engine.trigger(job.id);
      await waitFor(
        async () => (await engine.executions.get(execution.id)).processed >= 100,
        'first page',
        CANCEL_FIRST_PAGE_MS,
      );
      const t0 = Date.now();
      await engine.cancel(execution.id);
      const e = await final(execution.id, CANCEL_MS);
      const ms = Date.now() - t0;
      console.log(`cross-process cancel → cancelled: ${ms} ms`);
      expect(e.status).toBe('cancelled');
      expect(ms).toBeLessThan(5_000);
      const rows = await count(`SELECT count(*) AS n FROM "${schema}".customers`);
      expect(rows).toBe(e.created); // what was committed stays, nothing more
      expect(rows).toBeGreaterThanOrEqual(100);
    },
    READY_MS + CANCEL_FIRST_PAGE_MS + CANCEL_MS + SETUP_MS,
  );
});
