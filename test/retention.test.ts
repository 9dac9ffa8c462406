import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type PruneBatch, pruneHistory, retentionFromEnv } from '../src/store/retention.ts';
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
    expect(await pruneHistory(h.engine.database.db, 'me')).toEqual({
      ran: false,
      executions: 0,
      webhookEvents: 0,
      deadLetters: 0,
      conflicts: 0,
    });
    await h.query(`UPDATE maintenance_leases SET until = now() - interval '1 second'`);
    expect((await pruneHistory(h.engine.database.db, 'me')).ran).toBe(true);
    const [lease] = await h.query<{ holder: string | null }>('SELECT holder FROM maintenance_leases');
    expect(lease!.holder).toBeNull();
  });

  it('prunes against the clock it is given (simulations), and takes fractional days', async () => {
    const job = await jobs.job();
    await history(job.id, 80, 10);
    const conn = job.connectionId;
    await h.query(
      `INSERT INTO webhook_events (connection_id, event_id, entity_type, record_id, received_at)
       SELECT $1, 'evt_' || g, 'customer', 'c' || g, now() - interval '10 days' FROM generate_series(1, 5) g`,
      [conn],
    );
    const db = h.engine.database.db;
    // On the database's clock they are 10 days old: kept.
    expect((await pruneHistory(db, 'test')).executions).toBe(0);
    // 25 days later they are 35 days old: the oldest 30 go (the newest 50 stay), and the webhook event ids.
    const later = new Date(Date.now() + 25 * 86_400_000);
    const result = await pruneHistory(db, 'test', undefined, { now: later });
    expect(result).toMatchObject({ ran: true, executions: 30, webhookEvents: 5 });
    expect(await count('sync_executions', job.id)).toBe(50);
    // OTESSE_SYNC_RETENTION_DAYS may be a fraction of a day.
    const quiet = await jobs.job({ name: 'Quiet' });
    await history(quiet.id, 60, 1);
    const halfDay = retentionFromEnv({ OTESSE_SYNC_RETENTION_DAYS: '0.5' });
    expect((await pruneHistory(db, 'test', halfDay)).executions).toBe(10);
  });

  it('prunes closed dead letters and resolved conflicts past the retention, keeping open and discarded ones', async () => {
    const job = await jobs.job();
    const [x] = await history(job.id, 1, 40);
    const dead = async (key: string, status: string, daysAgo: number) =>
      h.query(
        `INSERT INTO dead_letters (job_id, side, record_key, failure_count, last_error, last_execution_id, status,
                                   created_at, updated_at)
         VALUES ($1, 'provider', $2, 3, 'bad', $3, $4, now() - make_interval(days => $5), now() - make_interval(days => $5))`,
        [job.id, key, x, status, daysAgo],
      );
    await dead('open-old', 'open', 40);
    await dead('resolved-old', 'resolved', 40);
    await dead('retried-old', 'retried', 40);
    await dead('discarded-old', 'discarded', 40); // parks the record: state, not history
    await dead('resolved-new', 'resolved', 5);
    const conflict = async (localId: string, status: 'open' | 'resolved', daysAgo: number, hash: string) =>
      h.query(
        `INSERT INTO conflicts (job_id, execution_id, local_id, external_id, fields, content_hash, status, resolved_at,
                                created_at, updated_at)
         VALUES ($1, $2, $3, 'e', '{name}', $4, $5,
                 CASE WHEN $5 = 'resolved' THEN now() - make_interval(days => $6) END,
                 now() - make_interval(days => $6), now() - make_interval(days => $6))`,
        [job.id, x, localId, hash, status, daysAgo],
      );
    // A resolved conflict stops a run that was in flight at the resolution from raising it again: that is hours
    // (a run times out within a day), so past the retention it is history.
    await conflict('a', 'resolved', 45, 'a1');
    await conflict('a', 'resolved', 35, 'a2');
    await conflict('b', 'resolved', 40, 'b1');
    await conflict('b', 'resolved', 2, 'b2');
    await conflict('c', 'open', 40, 'c1');

    const result = await pruneHistory(h.engine.database.db, 'test', { days: 30, keepPerJob: 50, batchSize: 1 });
    expect(result).toMatchObject({ ran: true, deadLetters: 2, conflicts: 3 });
    const letters = await h.query<{ record_key: string }>('SELECT record_key FROM dead_letters ORDER BY record_key');
    expect(letters.map((r) => r.record_key)).toEqual(['discarded-old', 'open-old', 'resolved-new']);
    const left = await h.query<{ content_hash: string }>('SELECT content_hash FROM conflicts ORDER BY content_hash');
    expect(left.map((r) => r.content_hash)).toEqual(['b2', 'c1']);
  });

  it('deletes webhook event ids in batches too, and reports each batch', async () => {
    const job = await jobs.job();
    await h.query(
      `INSERT INTO webhook_events (connection_id, event_id, entity_type, record_id, received_at)
       SELECT $1, 'evt_' || g, 'customer', 'c' || g, now() - interval '40 days' FROM generate_series(1, 50) g`,
      [job.connectionId],
    );
    const batches: PruneBatch[] = [];
    const result = await pruneHistory(
      h.engine.database.db,
      'test',
      { days: 30, keepPerJob: 50, batchSize: 20 },
      { onBatch: (b) => batches.push(b) },
    );
    expect(result.webhookEvents).toBe(50);
    const events = batches.filter((b) => b.table === 'webhook_events');
    expect(events.map((b) => b.rows)).toEqual([20, 20, 10]);
    expect(events.every((b) => b.ms >= 0)).toBe(true);
  });

  it('walks past a backlog of executions it keeps, a bounded batch at a time', async () => {
    const quiet = await jobs.job({ name: 'Quiet' });
    const busy = await jobs.job();
    await history(quiet.id, 40, 90); // the oldest rows, all kept (fewer than 50)
    await history(busy.id, 70, 40); // 20 of them past the newest 50
    const batches: PruneBatch[] = [];
    const result = await pruneHistory(
      h.engine.database.db,
      'test',
      { days: 30, keepPerJob: 50, batchSize: 7 },
      { onBatch: (b) => batches.push(b) },
    );
    expect(result.executions).toBe(20);
    expect(await count('sync_executions', quiet.id)).toBe(40);
    expect(await count('sync_executions', busy.id)).toBe(50);
    const walk = batches.filter((b) => b.table === 'sync_executions');
    // 110 rows past the cutoff, 7 looked at per batch: 16 batches, the first five of them over kept rows only.
    expect(walk).toHaveLength(16);
    expect(walk.slice(0, 5).every((b) => b.rows === 0)).toBe(true);
    expect(walk.every((b) => b.rows <= 7)).toBe(true);
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
