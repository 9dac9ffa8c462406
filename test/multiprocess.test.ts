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

  async function startWorker(): Promise<{ child: ChildProcess; pid: number; output: () => string }> {
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
        '20',
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
    await waitFor(async () => out.includes(' ready'), `worker ready (output: ${out})`, 30_000);
    return { child, pid: child.pid!, output: () => out };
  }

  async function connection(extra: Record<string, unknown> = {}) {
    return engine.connections.create({
      name: 'Table provider',
      provider: 'table',
      config: { databaseUrl: url, schema: `${schema}_provider`, ...extra },
    });
  }

  const count = async (sql: string) => Number((await pool.query(sql)).rows[0].n);
  const final = (id: string, ms = 60_000) =>
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

  it('two workers and a cron job: exactly one execution per fire time', async () => {
    await startWorker();
    await startWorker();
    const conn = await connection();
    await pool.query(
      `INSERT INTO "${schema}_provider".sandbox_records (entity_type, id, data)
       SELECT 'customer', 'p' || i, jsonb_build_object('name', 'n' || i, 'email', 'e' || i || '@x.test') FROM generate_series(1, 20) i`,
    );
    const job = await engine.jobs.create({
      connectionId: conn.id,
      name: 'Every 2 s',
      entityType: 'customer',
      direction: 'inbound',
      mode: 'incremental',
      schedule: { type: 'cron', cron: '*/2 * * * * *', timezone: 'UTC' },
      fieldMappings: RULES.filter((r) => r.direction === 'inbound'),
    });
    const until = Date.now() + 16_000;
    let lags: number[] = [];
    while (Date.now() < until) {
      const j = await engine.jobs.get(job.id);
      // nextRunAt always names the coming fire time (never more than one interval plus the claim lag behind).
      expect(j.nextRunAt!.getTime()).toBeGreaterThan(Date.now() - 1500);
      await new Promise((r) => setTimeout(r, 250));
    }
    await engine.jobs.update(job.id, { enabled: false });
    const { rows } = await pool.query<{ scheduled_for: Date; started_at: Date; status: string }>(
      `SELECT scheduled_for, started_at, status FROM "${schema}".sync_executions WHERE job_id = $1 ORDER BY scheduled_for`,
      [job.id],
    );
    const fires = rows.map((r) => r.scheduled_for.getTime());
    expect(fires.length).toBeGreaterThanOrEqual(6);
    expect(new Set(fires).size).toBe(fires.length);
    // Consecutive fire times, none skipped, none doubled.
    for (let i = 1; i < fires.length; i++) expect(fires[i]! - fires[i - 1]!).toBe(2000);
    lags = rows.filter((r) => r.started_at).map((r) => r.started_at.getTime() - r.scheduled_for.getTime());
    console.log(
      `cron due → running: median ${lags.sort((a, b) => a - b)[lags.length >> 1]} ms, max ${Math.max(...lags)} ms over ${lags.length} fires`,
    );
    const workers = await pool.query(`SELECT DISTINCT worker_id FROM "${schema}".sync_executions WHERE job_id = $1`, [
      job.id,
    ]);
    expect(workers.rowCount).toBeGreaterThanOrEqual(1);
  });

  it('SIGKILL mid-run: the other worker resumes; no record created twice on either side', async () => {
    const N = 25_000;
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
    const a = await startWorker();
    const b = await startWorker();
    const { execution } = await engine.trigger(job.id);
    // Kill the worker running it once it is well into the outbound leg (provider creates in flight).
    const running = await waitFor(
      async () => {
        const e = await engine.executions.get(execution.id);
        return e.processed >= N + 8_000 ? e : null;
      },
      'the run to reach the outbound leg',
      120_000,
    );
    const [{ worker_id }] = (
      await pool.query(`SELECT worker_id FROM "${schema}".sync_executions WHERE id = $1`, [running.id])
    ).rows;
    const victim = [a, b].find((w) => worker_id.includes(`:${w.pid}:`))!;
    victim.child.kill('SIGKILL');
    const lost = await final(execution.id);
    expect(lost.status).toBe('failed');
    expect(lost.haltReason).toMatch(/worker lost/);
    const retry = await waitFor(
      async () => {
        const list = await engine.executions.list(job.id);
        const r = list.find((e) => e.attempt === 2);
        return r && FINAL.includes(r.status) ? r : null;
      },
      'the resumed attempt',
      120_000,
    );
    expect([retry.trigger, retry.status]).toEqual(['retry', 'completed']);
    // It resumed from the checkpoint: it did not read the whole inbound leg again.
    expect(retry.processed).toBeLessThan(2 * N);
    expect(await count(`SELECT count(*) AS n FROM "${schema}".customers`)).toBe(2 * N);
    expect(await count(`SELECT count(*) AS n FROM "${schema}_provider".sandbox_records`)).toBe(2 * N);
    expect(await count(`SELECT count(*) AS n FROM "${schema}".external_references`)).toBe(2 * N);
    expect(await count(`SELECT count(DISTINCT data->>'email') AS n FROM "${schema}_provider".sandbox_records`)).toBe(
      2 * N,
    );
    expect(await count(`SELECT count(DISTINCT email) AS n FROM "${schema}".customers`)).toBe(2 * N);
  });

  it('SIGTERM: the run reaches a checkpoint, goes back to the queue, and another worker finishes it', async () => {
    const job = await slowInboundJob(3000, 250);
    const a = await startWorker();
    const { execution } = await engine.trigger(job.id);
    // The second worker starts while the first one runs (a process start takes seconds on a loaded machine):
    // only the first can claim the run, which is no longer queued.
    const starting = startWorker();
    await waitFor(async () => (await engine.executions.get(execution.id)).processed >= 300, 'three pages');
    const b = await starting;
    expect((await engine.executions.get(execution.id)).status).toBe('running');
    const exited = once(a.child);
    a.child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(a.output()).toMatch(/stopping \(SIGTERM\)[\s\S]*stopped/);
    const e = await final(execution.id);
    expect(e.status).toBe('completed');
    expect(e.processed).toBe(3000);
    expect(e.created).toBe(3000);
    const [{ worker_id }] = (
      await pool.query(`SELECT worker_id FROM "${schema}".sync_executions WHERE id = $1`, [e.id])
    ).rows;
    expect(worker_id).toContain(`:${b.pid}:`);
    expect((await engine.executions.list(job.id)).length).toBe(1);
    expect(await count(`SELECT count(*) AS n FROM "${schema}".customers`)).toBe(3000);
  });

  it('cancel from another process stops a running execution within seconds', async () => {
    const job = await slowInboundJob(5000, 200);
    await startWorker();
    const { execution } = await engine.trigger(job.id);
    await waitFor(async () => (await engine.executions.get(execution.id)).processed >= 100, 'first page');
    const t0 = Date.now();
    await engine.cancel(execution.id);
    const e = await final(execution.id, 10_000);
    const ms = Date.now() - t0;
    console.log(`cross-process cancel → cancelled: ${ms} ms`);
    expect(e.status).toBe('cancelled');
    expect(ms).toBeLessThan(5_000);
    const rows = await count(`SELECT count(*) AS n FROM "${schema}".customers`);
    expect(rows).toBe(e.created); // what was committed stays, nothing more
    expect(rows).toBeGreaterThanOrEqual(100);
  });
});
