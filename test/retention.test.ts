import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pruneHistory } from '../src/store/retention.ts';
import { createHarness, customerJobs, type Harness, TEST_DATABASES, waitFor } from './helpers/db.ts';

/**
 * Bounded history (fleet scale): executions older than the retention are pruned in small batches, keeping each
 * job's newest 50 and anything an open dead letter, an open conflict or held deletions point to; their failures and
 * run log go with them. One pruner at a time (a lease); workers prune in the background.
 */
describe.each(TEST_DATABASES)('history retention ($name)', (db) => {
  let h: Harness;
  const jobs = customerJobs(() => h);
  beforeEach(async () => {
    h = await createHarness(db, `retention-${db.name}`);
  });
  afterEach(async () => h?.close());

  /** `n` finished executions of `jobId`, `daysAgo` old, each with a failure and a log entry. */
  async function history(jobId: string, n: number, daysAgo: number): Promise<string[]> {
    const rows = await h.query<{ id: string }>(
      `INSERT INTO sync_executions (job_id, trigger, status, started_at, completed_at, created_at, processed, created, failed)
       SELECT $1, 'scheduled', 'completed_with_errors', t, t, t, 2, 1, 1
       FROM (SELECT now() - make_interval(days => $2) - make_interval(secs => g) AS t FROM generate_series(1, $3) g) s
       RETURNING id`,
      [jobId, daysAgo, n],
    );
    const ids = rows.map((r) => r.id);
    await h.query(
      `INSERT INTO record_failures (execution_id, job_id, record_key, side, phase, error_kind, message)
       SELECT id, $1, 'k', 'provider', 'write', 'record', 'bad' FROM unnest($2::uuid[]) AS id`,
      [jobId, ids],
    );
    await h.query(
      `INSERT INTO execution_log (execution_id, level, event, message)
       SELECT id, 'info', 'start', 'started' FROM unnest($1::uuid[]) AS id`,
      [ids],
    );
    return ids;
  }
  const count = async (table: string, jobId: string) =>
    (
      await h.query<{ n: number }>(
        table === 'execution_log'
          ? `SELECT count(*)::int AS n FROM execution_log l JOIN sync_executions x ON x.id = l.execution_id WHERE x.job_id = $1`
          : `SELECT count(*)::int AS n FROM ${table} WHERE job_id = $1`,
        [jobId],
      )
    )[0]!.n;

  it('prunes old executions in batches, keeping the newest 50 per job and what open items point to', async () => {
    const busy = await jobs.job();
    const quiet = await jobs.job({ name: 'Quiet' });
    const old = await history(busy.id, 120, 40);
    await history(busy.id, 5, 1);
    await history(quiet.id, 30, 90); // fewer than 50: all kept, however old
    // An open dead letter and an open conflict point at two of the oldest executions.
    await h.query(
      `INSERT INTO dead_letters (job_id, side, record_key, failure_count, last_error, last_execution_id)
       VALUES ($1, 'provider', 'k', 3, 'bad', $2)`,
      [busy.id, old.at(-1)],
    );
    await h.query(
      `INSERT INTO conflicts (job_id, execution_id, local_id, external_id, fields, content_hash)
       VALUES ($1, $2, 'l', 'e', '{}', 'h')`,
      [busy.id, old.at(-2)],
    );

    const result = await pruneHistory(h.engine.database.db, 'test', { days: 30, keepPerJob: 50, batchSize: 20 });
    expect(result.ran).toBe(true);
    // 125 of the busy job: the newest 50 stay (5 recent + 45 old), and the 2 pointed at; 73 pruned.
    expect(result.executions).toBe(73);
    expect(await count('sync_executions', busy.id)).toBe(52);
    expect(await count('record_failures', busy.id)).toBe(52);
    expect(await count('execution_log', busy.id)).toBe(52);
    expect(await count('sync_executions', quiet.id)).toBe(30);
    const kept = await h.query<{ id: string }>('SELECT id FROM sync_executions WHERE id = ANY($1::uuid[])', [
      [old.at(-1), old.at(-2)],
    ]);
    expect(kept).toHaveLength(2);
    // Nothing more to do.
    expect((await pruneHistory(h.engine.database.db, 'test')).executions).toBe(0);
  });

  it('one pruner at a time: a held lease makes another pruner step aside', async () => {
    await h.query(`UPDATE maintenance_leases SET holder = 'other', until = now() + interval '1 minute'`);
    expect(await pruneHistory(h.engine.database.db, 'me')).toEqual({ ran: false, executions: 0, webhookEvents: 0 });
    await h.query(`UPDATE maintenance_leases SET until = now() - interval '1 second'`);
    expect((await pruneHistory(h.engine.database.db, 'me')).ran).toBe(true);
    const [lease] = await h.query<{ holder: string | null }>('SELECT holder FROM maintenance_leases');
    expect(lease!.holder).toBeNull();
  });

  it('a worker prunes in the background', async () => {
    const job = await jobs.job();
    await history(job.id, 80, 60);
    const worker = await h.engine.startWorker({ pruneIntervalMs: 50, retention: { days: 30 } });
    try {
      await waitFor(async () => (await count('sync_executions', job.id)) === 50, 'the worker to prune', 20_000);
    } finally {
      await worker.stop(1000);
    }
  });
});
