import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHarness, type Harness, TEST_DATABASES, waitFor } from './helpers/db.ts';

const RULES = [
  { sourceField: 'name', targetField: 'name', direction: 'inbound' as const },
  { sourceField: 'email', targetField: 'email', direction: 'inbound' as const },
];
const cid = (i: number) => `c${String(i).padStart(4, '0')}`;
const FINAL = ['completed', 'completed_with_errors', 'failed', 'timed_out', 'cancelled'];

describe.each(TEST_DATABASES)('durable execution on $name', (db) => {
  let h: Harness;
  beforeEach(async (ctx) => {
    h = await createHarness(db, ctx.task.name, { minuteMs: 400, queue: { pollingIntervalSeconds: 0.5 } });
  });
  afterEach(async () => {
    await h?.close();
  });

  async function job(extra: Record<string, unknown> = {}) {
    const conn = await h.engine.connections.create({ name: 'Mem', provider: 'memory' });
    return h.engine.jobs.create({
      connectionId: conn.id,
      name: 'Customers',
      entityType: 'customer',
      direction: 'inbound',
      fieldMappings: RULES,
      ...extra,
    });
  }
  function seed(count: number) {
    for (let i = 0; i < count; i++) h.provider.put('customer', { name: `N${i}`, email: `e${i}@x.test` }, cid(i));
  }
  const final = (id: string, ms = 20_000) =>
    waitFor(
      async () => {
        const e = await h.engine.executions.get(id);
        return FINAL.includes(e.status) ? e : null;
      },
      `execution ${id} to finish`,
      ms,
    );
  const executions = async (jobId: string) => (await h.engine.executions.list(jobId)).reverse();

  it('Run Now: queued at once, running within a second, then completed', async () => {
    seed(150);
    const j = await job();
    await h.engine.startWorker({ heartbeatSeconds: 1 });
    const t0 = performance.now();
    const { execution, coalesced } = await h.engine.trigger(j.id);
    expect(coalesced).toBe(false);
    expect(execution.status).toBe('queued');
    await waitFor(async () => (await h.engine.executions.get(execution.id)).status !== 'queued', 'running');
    const latencyMs = performance.now() - t0;
    console.log(`[${db.name}] Run Now → running: ${latencyMs.toFixed(0)} ms`);
    expect(latencyMs).toBeLessThan(5000);
    const e = await final(execution.id);
    expect(e.status).toBe('completed');
    expect(e.created).toBe(150);
  });

  it('coalesces triggers that arrive while the job runs: one queued run, which runs after', async () => {
    seed(300);
    let release!: () => void;
    const held = new Promise<void>((r) => {
      release = r;
    });
    let holding = true;
    h.provider.faults.beforeRead = (req) => (holding && req.cursor !== null ? held : undefined);
    const j = await job();
    await h.engine.startWorker({ heartbeatSeconds: 1 });
    const first = await h.engine.trigger(j.id);
    await waitFor(async () => (await h.engine.executions.get(first.execution.id)).processed === 100, 'first page');
    const more = [];
    for (let k = 0; k < 4; k++) more.push(await h.engine.trigger(j.id, { trigger: k % 2 ? 'manual' : 'scheduled' }));
    expect(more.map((m) => m.coalesced)).toEqual([false, true, true, true]);
    expect(new Set(more.map((m) => m.execution.id)).size).toBe(1);
    holding = false;
    release();
    const a = await final(first.execution.id);
    const b = await final(more[0]!.execution.id);
    expect([a.status, b.status]).toEqual(['completed', 'completed']);
    expect(b.startedAt!.getTime()).toBeGreaterThanOrEqual(a.completedAt!.getTime());
    expect((await executions(j.id)).length).toBe(2);
  });

  it('retries a failed run with backoff and attempt numbers, up to max retries', async () => {
    seed(20);
    // The provider stays down (5xx): a failure a retry may fix. (Bad credentials are not retried.)
    h.provider.faults.transientReads = 1_000_000;
    const j = await job({ maxRetries: 2 });
    const worker = await h.engine.startWorker({ heartbeatSeconds: 1, retryBaseDelayMs: 300 });
    const { execution } = await h.engine.trigger(j.id);
    const all = await waitFor(
      async () => {
        const list = await executions(j.id);
        return list.length === 3 && list.every((e) => FINAL.includes(e.status)) ? list : null;
      },
      'three attempts',
      30_000,
    );
    expect(all.map((e) => [e.trigger, e.attempt, e.status])).toEqual([
      ['manual', 1, 'failed'],
      ['retry', 2, 'failed'],
      ['retry', 3, 'failed'],
    ]);
    expect(all[0]!.id).toBe(execution.id);
    // Backoff: each retry starts at least half its (doubling) delay after the previous attempt ended: 150 ms,
    // then 300 ms (a constant delay of 150-300 ms fails the second).
    const gap1 = all[1]!.startedAt!.getTime() - all[0]!.completedAt!.getTime();
    const gap2 = all[2]!.startedAt!.getTime() - all[1]!.completedAt!.getTime();
    expect(gap1).toBeGreaterThanOrEqual(150);
    expect(gap2).toBeGreaterThanOrEqual(300);
    // No fourth attempt: asking again changes nothing.
    expect(await worker.retryIfDue(all[2]!)).toBeNull();
  });

  it("a retry resumes from the failed attempt's last committed page", async () => {
    seed(250);
    let hang = true;
    h.provider.faults.beforeRead = (req) => (hang && req.cursor === cid(99) ? new Promise(() => {}) : undefined);
    const j = await job({ timeoutMinutes: 1, maxRetries: 1 });
    await h.engine.startWorker({ heartbeatSeconds: 1, retryBaseDelayMs: 200 });
    const { execution } = await h.engine.trigger(j.id);
    const first = await final(execution.id);
    expect(first.status).toBe('timed_out');
    expect(first.processed).toBe(100);
    hang = false;
    const retry = await waitFor(async () => {
      const list = await executions(j.id);
      return list.length === 2 && FINAL.includes(list[1]!.status) ? list[1]! : null;
    }, 'the retry');
    expect([retry.trigger, retry.attempt, retry.status]).toEqual(['retry', 2, 'completed']);
    expect(retry.processed).toBe(150); // pages 2 and 3 only
    expect(retry.created).toBe(150);
    const rows = await h.query<{ n: number }>('SELECT count(*)::int AS n FROM customers');
    expect(rows[0]!.n).toBe(250);
    // The cursor is the first attempt's start: nothing read by either attempt is missed next time.
    expect((await h.engine.jobs.get(j.id)).cursor!.getTime()).toBe(first.startedAt!.getTime());
  });

  it('does not retry cancelled or completed_with_errors runs', async () => {
    seed(30);
    h.provider.put('customer', { name: 'bad', email: null }, cid(99));
    const j = await job({ maxRetries: 3 });
    const worker = await h.engine.startWorker({ heartbeatSeconds: 1, retryBaseDelayMs: 50 });
    const partial = await final((await h.engine.trigger(j.id)).execution.id);
    expect(partial.status).toBe('completed_with_errors');
    expect(await worker.retryIfDue(partial)).toBeNull();

    let release!: () => void;
    h.provider.faults.beforeRead = () =>
      new Promise<void>((r) => {
        release = r;
      });
    const { execution } = await h.engine.trigger(j.id);
    await waitFor(async () => (await h.engine.executions.get(execution.id)).status === 'running', 'running');
    await h.engine.cancel(execution.id);
    const cancelled = await final(execution.id);
    release?.();
    expect(cancelled.status).toBe('cancelled');
    expect(await worker.retryIfDue(cancelled)).toBeNull();
    expect((await executions(j.id)).map((e) => e.status)).toEqual(['completed_with_errors', 'cancelled']);
  });

  it('cancelling a queued execution ends it before it starts', async () => {
    const j = await job();
    const { execution } = await h.engine.trigger(j.id); // no worker: it stays queued
    const e = await h.engine.cancel(execution.id);
    expect(e.status).toBe('cancelled');
    // The cancelled run's queue slot is free at once: a trigger before any worker looked makes a new run.
    const again = await h.engine.trigger(j.id);
    expect(again.coalesced).toBe(false);
    expect(again.execution.id).not.toBe(execution.id);
    await h.engine.startWorker({ heartbeatSeconds: 1 });
    expect((await final(again.execution.id)).status).toBe('completed');
    expect((await h.engine.executions.get(execution.id)).status).toBe('cancelled');
  });

  it('scheduler: one run per fire time, one catch-up run after downtime, nextRunAt always ahead', async () => {
    const j = await job({ schedule: { type: 'cron', cron: '*/15 * * * *', timezone: 'UTC' } });
    const worker = await h.engine.startWorker({ heartbeatSeconds: 1, maintenance: false });
    // Pretend the engine was down for an hour: four fire times were missed.
    const base = new Date('2026-11-25T10:00:00Z');
    await h.query('UPDATE sync_jobs SET next_run_at = $1 WHERE id = $2', [base, j.id]);
    const now = new Date('2026-11-25T11:07:00Z');
    expect(await worker.schedule(now)).toBe(1);
    expect(await worker.schedule(now)).toBe(0);
    expect((await h.engine.jobs.get(j.id)).nextRunAt).toEqual(new Date('2026-11-25T11:15:00Z'));
    const list = await executions(j.id);
    expect(list.map((e) => e.trigger)).toEqual(['scheduled']);
    const rows = await h.query<{ scheduled_for: Date }>('SELECT scheduled_for FROM sync_executions');
    expect(rows[0]!.scheduled_for).toEqual(base);
    // The next fire time fires once, however often the scheduler looks.
    const later = new Date('2026-11-25T11:15:01Z');
    await final(list[0]!.id);
    expect(await worker.schedule(later)).toBe(1);
    expect(await worker.schedule(later)).toBe(0);
    expect((await h.engine.jobs.get(j.id)).nextRunAt).toEqual(new Date('2026-11-25T11:30:00Z'));
  });

  it('scheduler: one tick claims every due fire of a fleet larger than a batch, each once', async () => {
    // 105 jobs due at the same instant: more than one claiming batch (100). A tick that claimed one batch
    // only fell further behind every minute on a fleet of thousands, and the late fires coalesced (missed).
    const conn = await h.engine.connections.create({ name: 'Mem', provider: 'memory' });
    const base = new Date('2026-11-25T10:00:00Z');
    await h.engine.jobs.create({
      connectionId: conn.id,
      name: 'Customers 0',
      entityType: 'customer',
      direction: 'inbound',
      fieldMappings: RULES,
      schedule: { type: 'cron', cron: '* * * * *', timezone: 'UTC' },
    });
    // 104 copies of it (without field mapping rules: the scheduler does not need them), in one statement.
    await h.query(
      `INSERT INTO sync_jobs SELECT (jsonb_populate_record(NULL::sync_jobs,
         to_jsonb(j) || jsonb_build_object('id', gen_random_uuid(), 'name', 'Customers ' || g))).*
       FROM sync_jobs j, generate_series(1, 104) g`,
    );
    await h.query('UPDATE sync_jobs SET next_run_at = $1', [base]);
    const worker = await h.engine.startWorker({ heartbeatSeconds: 1, maintenance: false });
    const now = new Date('2026-11-25T10:00:00.500Z');
    const t0 = performance.now();
    expect(await worker.schedule(now)).toBe(105);
    console.log(`[${db.name}] 105 fires claimed and queued in ${(performance.now() - t0).toFixed(0)} ms`);
    expect(await worker.schedule(now)).toBe(0);
    const [fires] = await h.query<{ runs: number; jobs: number; late: number }>(
      `SELECT count(*)::int AS runs, count(DISTINCT job_id)::int AS jobs,
              count(*) FILTER (WHERE scheduled_for <> $1)::int AS late
       FROM sync_executions WHERE trigger = 'scheduled'`,
      [base],
    );
    expect(fires).toEqual({ runs: 105, jobs: 105, late: 0 });
    const [next] = await h.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM sync_jobs WHERE next_run_at = '2026-11-25T10:01:00Z'`,
    );
    expect(next!.n).toBe(105);
    // The 105 runs themselves are not this test's subject: end them before the worker gets to them.
    await h.query(
      `UPDATE sync_executions SET status = 'cancelled', started_at = now(), completed_at = now() WHERE status = 'queued'`,
    );
  });

  it("finished queue jobs are deleted an hour after they finish, not kept for pg-boss's default week", async () => {
    await h.engine.startWorker({ heartbeatSeconds: 1, maintenance: false });
    const rows = await h.query<{ name: string; deletion_seconds: number }>(
      `SELECT name, deletion_seconds FROM "${h.schema}_queue".queue ORDER BY name`,
    );
    expect(rows.map((r) => [r.name, r.deletion_seconds])).toEqual([
      ['otesse-sync-alert', 3600],
      ['otesse-sync-record', 3600],
      ['otesse-sync-run', 3600],
    ]);
  });

  it('webhook: a single-record run per matching job; a burst for one record coalesces', async () => {
    seed(50);
    const j = await job({ mode: 'incremental' });
    await job({ direction: 'outbound', fieldMappings: [] }); // reads the local side: not triggered
    const conn = j.connectionId;
    const first = await h.engine.webhook(conn, 'customer', [cid(3)]);
    const burst = await h.engine.webhook(conn, 'customer', [cid(3), cid(3)]);
    expect(first.length).toBe(1);
    expect(burst.every((b) => b.coalesced && b.execution.id === first[0]!.execution.id)).toBe(true);
    await h.engine.startWorker({ heartbeatSeconds: 1 });
    const e = await final(first[0]!.execution.id);
    expect([e.trigger, e.status, e.processed, e.created]).toEqual(['webhook', 'completed', 1, 1]);
    expect(e.recordKeys).toEqual([cid(3)]);
    expect((await h.engine.jobs.get(j.id)).cursor).toBeNull();
    await expect(h.engine.webhook(conn, 'customer', [])).rejects.toThrow(/recordIds/);
  });

  it('a hung run times out, ends timed_out with completedAt, and the job is free again', async () => {
    seed(150);
    let hang = true;
    h.provider.faults.beforeRead = () => (hang ? new Promise(() => {}) : undefined);
    const j = await job({ timeoutMinutes: 1, retryOnFailure: false });
    await h.engine.startWorker({ heartbeatSeconds: 1 });
    const e = await final((await h.engine.trigger(j.id)).execution.id);
    expect(e.status).toBe('timed_out');
    expect(e.completedAt).toBeInstanceOf(Date);
    hang = false;
    const next = await final((await h.engine.trigger(j.id)).execution.id);
    expect(next.status).toBe('completed');
  });

  it('reaper: a running execution without heartbeats is failed as worker lost and retried from its checkpoint', async () => {
    seed(250);
    const j = await job({ maxRetries: 1 });
    // An execution left running by a worker that died after committing page 1.
    const [dead] = await h.query<{ id: string }>(
      `INSERT INTO sync_executions (job_id, trigger, status, started_at, heartbeat_at, processed, created, checkpoint, worker_id)
       VALUES ($1, 'manual', 'running', now() - interval '1 minute', now() - interval '1 minute', 100, 100, $2, 'gone:1')
       RETURNING id`,
      [j.id, JSON.stringify({ leg: 'inbound', cursor: cid(99) })],
    );
    const worker = await h.engine.startWorker({
      heartbeatSeconds: 1,
      leaseSeconds: 5,
      retryBaseDelayMs: 50,
      maintenance: false,
    });
    const heard: string[] = [];
    const off = h.engine.onExecutionFinished((e) => heard.push(`${e.id}:${e.status}:${e.haltKind}`));
    const reaped = await worker.reap();
    off();
    expect(reaped.map((e) => [e.id, e.status])).toEqual([[dead!.id, 'failed']]);
    expect(reaped[0]!.haltReason).toMatch(/worker lost/);
    // Told like any other end (metrics, alerts), and in its run log.
    expect(heard).toEqual([`${dead!.id}:failed:worker_lost`]);
    const log = await h.engine.executions.logPage(dead!.id);
    expect(log.items.map((e) => e.event)).toEqual(['worker_lost']);
    const retry = await waitFor(async () => {
      const list = await executions(j.id);
      return list.length === 2 && FINAL.includes(list[1]!.status) ? list[1]! : null;
    }, 'the retry');
    expect([retry.trigger, retry.attempt, retry.status, retry.processed]).toEqual(['retry', 2, 'completed', 150]);
  });
});
