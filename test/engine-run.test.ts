import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  cid,
  counters,
  createHarness,
  customerJobs,
  type Harness,
  IN_RULES,
  OUT_RULES,
  TEST_DATABASES,
  waitFor,
} from './helpers/db.ts';

describe.each(TEST_DATABASES)('execution run on $name', (db) => {
  let h: Harness;
  beforeEach(async (ctx) => {
    h = await createHarness(db, ctx.task.name, { minuteMs: 300 });
  });
  afterEach(async () => {
    await h?.close();
  });

  const { job, seed, insertLocal, localCount, refCount } = customerJobs(() => h);

  describe('status resolution', () => {
    it('completed: zero records and zero failures', async () => {
      const j = await job();
      const e = await h.engine.runJob(j.id);
      expect(e.status).toBe('completed');
      expect(counters(e)).toEqual({ processed: 0, created: 0, updated: 0, skipped: 0, failed: 0 });
      expect(e.haltReason).toBeNull();
    });

    it('completed_with_errors: some failed, the rest written; failures recorded per record', async () => {
      seed(40, (i) => i === 3 || i === 17);
      const j = await job();
      const e = await h.engine.runJob(j.id);
      expect(e.status).toBe('completed_with_errors');
      expect(counters(e)).toEqual({ processed: 40, created: 38, updated: 0, skipped: 0, failed: 2 });
      expect(await localCount()).toBe(38);
      expect(await refCount()).toBe(38);
      const failures = await h.engine.executions.failures(e.id);
      expect(failures.map((f) => [f.recordKey, f.side, f.phase, f.errorKind])).toEqual([
        [cid(3), 'local', 'write', 'record'],
        [cid(17), 'local', 'write', 'record'],
      ]);
      expect(failures[0]!.message).toMatch(/email/);
    });

    it('failed: every record failed (fewer than 10, so no circuit breaker)', async () => {
      seed(9, () => true);
      const j = await job();
      const e = await h.engine.runJob(j.id);
      expect(e.status).toBe('failed');
      expect(counters(e)).toEqual({ processed: 9, created: 0, updated: 0, skipped: 0, failed: 9 });
      expect(e.haltReason).toBeNull();
    });

    it('circuit breaker: 10 processed with 6 failed halts at once', async () => {
      seed(300, (i) => i < 6);
      const j = await job();
      const e = await h.engine.runJob(j.id);
      expect(e.status).toBe('failed');
      expect(counters(e)).toEqual({ processed: 10, created: 4, updated: 0, skipped: 0, failed: 6 });
      expect(e.haltReason).toMatch(/circuit breaker: 6 of 10/);
      expect(await localCount()).toBe(4);
      // A halted run does not move the cursor.
      expect((await h.engine.jobs.get(j.id)).cursor).toBeNull();
    });

    it('circuit breaker: 10 processed with 5 failed does not halt', async () => {
      seed(30, (i) => i < 5);
      const j = await job();
      const e = await h.engine.runJob(j.id);
      expect(e.status).toBe('completed_with_errors');
      expect(counters(e)).toEqual({ processed: 30, created: 25, updated: 0, skipped: 0, failed: 5 });
    });

    it('circuit breaker: a run of bad records stops after 10, not thousands', async () => {
      seed(1000, () => true);
      const j = await job();
      const e = await h.engine.runJob(j.id);
      expect(e.status).toBe('failed');
      expect(e.processed).toBe(10);
      expect((await h.engine.executions.failures(e.id)).length).toBe(10);
    });

    it('timed_out: a hung provider call ends the run at its timeout; committed pages stay', async () => {
      seed(250);
      h.provider.faults.beforeRead = (req) => (req.cursor !== null ? new Promise(() => {}) : undefined);
      const j = await job({ timeoutMinutes: 1 }); // minuteMs is 300 in this harness
      const e = await h.engine.runJob(j.id);
      expect(e.status).toBe('timed_out');
      expect(e.completedAt).toBeInstanceOf(Date);
      expect(e.haltReason).toMatch(/timed out/);
      expect(counters(e)).toEqual({ processed: 100, created: 100, updated: 0, skipped: 0, failed: 0 });
      expect(await localCount()).toBe(100);
      expect(await refCount()).toBe(100);
    });

    it('timed_out: a long run of fast pages is stopped by its timeout too (the event loop gets turns)', async () => {
      // Ten million generated records: more than any machine syncs within the 300 ms timeout (20,000 were once
      // done in time on PostgreSQL), read from memory so that pages never wait for I/O.
      const total = 10_000_000;
      h.provider.seedSynthetic('customer', total, (i) => ({
        id: `s${String(i).padStart(8, '0')}`,
        data: { name: `N${i}`, email: `e${i}@x.test` },
      }));
      const j = await job({ timeoutMinutes: 1 }); // minuteMs is 300 in this harness
      const e = await h.engine.runJob(j.id);
      expect(e.status).toBe('timed_out');
      expect(e.processed).toBeGreaterThan(0);
      expect(e.processed).toBeLessThan(total);
      expect(await localCount()).toBe(e.created);
    });

    it('cancelled: cancel mid-page keeps committed pages and writes nothing more', async () => {
      await insertLocal(250);
      let release!: () => void;
      const held = new Promise<void>((r) => {
        release = r;
      });
      // The first write call of page 2 is held (page 1 may take several calls: the breaker's chunks).
      let written = 0;
      let holding = false;
      h.provider.faults.beforeWrite = (req) => {
        if (written >= 100) {
          holding = true;
          return held;
        }
        written += req.ops.length;
      };
      const j = await job({ direction: 'outbound', fieldMappings: OUT_RULES });
      const { execution, done } = await h.engine.startJob(j.id);
      await waitFor(async () => holding, 'the first write call of page 2');
      // Cancel through the database, as another process would.
      await h.engine.cancel(execution.id);
      const e = await done;
      release();
      expect(e.status).toBe('cancelled');
      // Page 1 committed (in the breaker's chunks), then page 2 was held.
      expect(counters(e)).toEqual({ processed: 100, created: 100, updated: 0, skipped: 0, failed: 0 });
      expect(h.provider.count('customer')).toBe(100);
      expect(await refCount()).toBe(100);
    });

    it('a run-level error (bad credentials) fails the run instead of every record', async () => {
      seed(50);
      h.provider.faults.authError = true;
      const j = await job();
      const e = await h.engine.runJob(j.id);
      expect(e.status).toBe('failed');
      expect(e.processed).toBe(0);
      expect(e.haltReason).toMatch(/auth error: .*401/);
      expect(await h.engine.executions.failures(e.id)).toEqual([]);
    });
  });

  it('counters are visible while the run is in progress (saved per page)', async () => {
    seed(300);
    let release!: () => void;
    const held = new Promise<void>((r) => {
      release = r;
    });
    h.provider.faults.beforeRead = (req) => (req.cursor === cid(199) ? held : undefined);
    const j = await job();
    const { execution, done } = await h.engine.startJob(j.id);
    expect(execution.status).toBe('running');
    const mid = await waitFor(async () => {
      const e = await h.engine.executions.get(execution.id);
      return e.processed === 200 ? e : null;
    }, '200 records processed');
    expect(mid.status).toBe('running');
    expect(mid.completedAt).toBeNull();
    release();
    const e = await done;
    expect(e.status).toBe('completed');
    expect(e.processed).toBe(300);
  });

  describe('incremental mode', () => {
    it('reads only changes since the cursor, and the cursor moves only on success', async () => {
      seed(120);
      const j = await job({ mode: 'incremental' });
      const first = await h.engine.runJob(j.id);
      expect(counters(first)).toEqual({ processed: 120, created: 120, updated: 0, skipped: 0, failed: 0 });
      const cursor1 = (await h.engine.jobs.get(j.id)).cursor;
      expect(cursor1).toBeInstanceOf(Date);

      h.provider.patch('customer', cid(5), { name: 'changed-5' });
      h.provider.patch('customer', cid(77), { name: 'changed-77' });
      h.provider.faults.authError = true;
      const failed = await h.engine.runJob(j.id);
      expect(failed.status).toBe('failed');
      expect((await h.engine.jobs.get(j.id)).cursor).toEqual(cursor1);

      h.provider.faults.authError = false;
      const second = await h.engine.runJob(j.id);
      expect(second.status).toBe('completed');
      expect(counters(second)).toEqual({ processed: 2, created: 0, updated: 2, skipped: 0, failed: 0 });
      const names = await h.query<{ name: string }>(
        "SELECT name FROM customers WHERE name LIKE 'changed%' ORDER BY name",
      );
      expect(names.map((r) => r.name)).toEqual(['changed-5', 'changed-77']);
      const cursor2 = (await h.engine.jobs.get(j.id)).cursor!;
      expect(cursor2.getTime()).toBeGreaterThan(cursor1!.getTime());

      const third = await h.engine.runJob(j.id);
      expect(third.processed).toBe(0);
    });

    it('records re-read in the overlap window are skipped by hash', async () => {
      await h.close();
      h = await createHarness(db, 'overlap', { cursorOverlapMs: 3_600_000 });
      seed(50);
      const j = await job({ mode: 'incremental' });
      await h.engine.runJob(j.id);
      h.provider.patch('customer', cid(1), { name: 'new' });
      const e = await h.engine.runJob(j.id);
      // Everything is inside the one-hour overlap, so it is read again; only the real change is written.
      expect(counters(e)).toEqual({ processed: 50, created: 0, updated: 1, skipped: 49, failed: 0 });
      expect(await localCount()).toBe(50);
    });
  });

  describe('outbound', () => {
    it('creates provider records with references, then skips unchanged local rows', async () => {
      await insertLocal(150);
      const j = await job({ direction: 'outbound', fieldMappings: OUT_RULES });
      const e = await h.engine.runJob(j.id);
      expect(counters(e)).toEqual({ processed: 150, created: 150, updated: 0, skipped: 0, failed: 0 });
      expect(h.provider.count('customer')).toBe(150);
      expect(await refCount()).toBe(150);
      expect(h.provider.all('customer').find((r) => r.data.email === 'l7@x.test')?.data).toEqual({
        name: 'L7',
        email: 'l7@x.test',
      });
      await h.query(
        "UPDATE customers SET name = 'L7 changed', updated_at = clock_timestamp() WHERE email = 'l7@x.test'",
      );
      const again = await h.engine.runJob(j.id);
      expect(counters(again)).toEqual({ processed: 150, created: 0, updated: 1, skipped: 149, failed: 0 });
      expect(h.provider.all('customer').find((r) => r.data.email === 'l7@x.test')?.data.name).toBe('L7 changed');
      expect(h.provider.count('customer')).toBe(150);
    });

    it('retries transient errors inside the run (per record and per call) before counting a failure', async () => {
      await insertLocal(30);
      h.provider.faults.transientRecordWrites = 5;
      h.provider.faults.transientWriteCalls = 1;
      const j = await job({ direction: 'outbound', fieldMappings: OUT_RULES });
      const e = await h.engine.runJob(j.id);
      expect(e.status).toBe('completed');
      expect(counters(e)).toEqual({ processed: 30, created: 30, updated: 0, skipped: 0, failed: 0 });
      expect(h.provider.count('customer')).toBe(30);
      expect([h.provider.faults.transientRecordWrites, h.provider.faults.transientWriteCalls]).toEqual([0, 0]);
    });

    it('a provider that stays down fails the run (run-level), not each record', async () => {
      await h.query("INSERT INTO customers (id, name, email) VALUES (gen_random_uuid(), 'a', 'a@x.test')");
      h.provider.faults.transientWriteCalls = 100;
      const j = await job({ direction: 'outbound', fieldMappings: OUT_RULES });
      const e = await h.engine.runJob(j.id);
      expect(e.status).toBe('failed');
      expect(e.haltReason).toMatch(/transient error: .*503/);
      expect(h.provider.count('customer')).toBe(0);
    });

    it('records still failing after transient retries count as failed (kind transient)', async () => {
      await h.query("INSERT INTO customers (id, name, email) VALUES (gen_random_uuid(), 'a', 'a@x.test')");
      h.provider.faults.transientRecordWrites = 100;
      const j = await job({ direction: 'outbound', fieldMappings: OUT_RULES });
      const e = await h.engine.runJob(j.id);
      expect(e.status).toBe('failed');
      expect(e.failed).toBe(1);
      const [f] = await h.engine.executions.failures(e.id);
      expect([f!.side, f!.phase, f!.errorKind]).toEqual(['provider', 'write', 'transient']);
    });
  });

  describe('retry set and dead letter queue', () => {
    it('a failed record is retried by later runs, even outside the incremental window, until it succeeds', async () => {
      seed(20, (i) => i === 4);
      const j = await job({ mode: 'incremental' });
      const first = await h.engine.runJob(j.id);
      expect(first.status).toBe('completed_with_errors');
      expect(await h.engine.retrySet(j.id)).toEqual([{ side: 'provider', recordKey: cid(4), failureCount: 1 }]);

      // Nothing changed at the provider: the run still attempts the retry set.
      const second = await h.engine.runJob(j.id);
      expect(counters(second)).toEqual({ processed: 1, created: 0, updated: 0, skipped: 0, failed: 1 });
      expect((await h.engine.retrySet(j.id))[0]!.failureCount).toBe(2);

      // The record is fixed without a new change stamp the cursor would see.
      h.provider.put('customer', { name: 'N4', email: 'fixed@x.test' }, cid(4));
      const third = await h.engine.runJob(j.id);
      expect(third.status).toBe('completed');
      expect(third.created).toBe(1);
      expect(third.processed).toBe(1); // fetched from the retry set, not counted again from the stream
      expect(await h.engine.retrySet(j.id)).toEqual([]);
      expect(await localCount()).toBe(20);
    });

    it('a record that failed in 3 executions moves to the dead letter queue and out of automatic retries', async () => {
      seed(12, (i) => i === 2 || i === 9);
      const j = await job({ mode: 'incremental' });
      const runs = [];
      for (let k = 0; k < 3; k++) runs.push(await h.engine.runJob(j.id));
      expect(runs.map((r) => r.failed)).toEqual([2, 2, 2]);
      expect(await h.engine.retrySet(j.id)).toEqual([]);
      const dead = await h.engine.deadLetters.list(j.id);
      expect(dead.map((d) => [d.recordKey, d.failureCount, d.status]).sort()).toEqual([
        [cid(2), 3, 'open'],
        [cid(9), 3, 'open'],
      ]);
      expect(dead[0]!.lastError).toMatch(/email/);

      const fourth = await h.engine.runJob(j.id);
      expect(fourth.processed).toBe(0);

      // A person fixes one and retries it: a single-record run; the other is discarded.
      h.provider.put('customer', { name: 'N2', email: 'two@x.test' }, cid(2));
      const dl2 = dead.find((d) => d.recordKey === cid(2))!;
      const retried = await h.engine.deadLetters.retry(dl2.id);
      expect(retried.recordKeys).toEqual([cid(2)]);
      expect(counters(retried)).toEqual({ processed: 1, created: 1, updated: 0, skipped: 0, failed: 0 });
      const dl9 = dead.find((d) => d.recordKey === cid(9))!;
      expect((await h.engine.deadLetters.discard(dl9.id)).status).toBe('discarded');
      expect(await h.engine.deadLetters.list(j.id)).toEqual([]);
      expect((await h.engine.deadLetters.list(j.id, { status: 'retried' })).map((d) => d.recordKey)).toEqual([cid(2)]);
      await expect(h.engine.deadLetters.discard(dl9.id)).rejects.toThrow(/discarded, not open/);
      expect(await localCount()).toBe(11);
    });

    it('a single-record run (webhook) processes just that record and leaves the cursor alone', async () => {
      seed(30);
      const j = await job({ mode: 'incremental' });
      const e = await h.engine.runJob(j.id, { trigger: 'webhook', recordKeys: [cid(7)] });
      expect(e.trigger).toBe('webhook');
      expect(counters(e)).toEqual({ processed: 1, created: 1, updated: 0, skipped: 0, failed: 0 });
      expect(await localCount()).toBe(1);
      const after = await h.engine.jobs.get(j.id);
      expect(after.cursor).toBeNull();
      expect(after.lastRunAt).toBeNull();
    });
  });

  describe('bidirectional', () => {
    async function bidi(strategy: string) {
      const j = await job({
        direction: 'bidirectional',
        conflictStrategy: strategy,
        fieldMappings: [...IN_RULES, ...OUT_RULES],
      });
      return j;
    }

    it('echo suppression: what one side just received is never sent back', async () => {
      seed(60);
      await insertLocal(40);
      const j = await bidi('provider_wins');
      const first = await h.engine.runJob(j.id);
      expect(first.status).toBe('completed');
      // Inbound: 60 created locally. Outbound: 40 local-only rows created at the provider, 60 echoes skipped.
      expect(counters(first)).toEqual({ processed: 160, created: 100, updated: 0, skipped: 60, failed: 0 });
      expect(h.provider.count('customer')).toBe(100);
      expect(await localCount()).toBe(100);
      expect(h.provider.stats.updatedRecords).toBe(0);

      const writesBefore = h.provider.stats.createdRecords + h.provider.stats.updatedRecords;
      const second = await h.engine.runJob(j.id);
      expect(counters(second)).toEqual({ processed: 200, created: 0, updated: 0, skipped: 200, failed: 0 });
      expect(h.provider.stats.createdRecords + h.provider.stats.updatedRecords).toBe(writesBefore);
    });

    async function conflictOn(strategy: string, localFirst = false) {
      seed(5);
      const j = await bidi(strategy);
      await h.engine.runJob(j.id);
      // Change times are set apart explicitly (a minute) rather than waited for.
      h.provider.patch('customer', cid(2), { name: 'provider edit' });
      await h.query(
        `UPDATE customers SET name = 'local edit', updated_at = clock_timestamp() ${localFirst ? '-' : '+'} interval '1 minute'
         WHERE email = 'e2@x.test'`,
      );
      const e = await h.engine.runJob(j.id);
      const local = (await h.query<{ name: string }>("SELECT name FROM customers WHERE email = 'e2@x.test'"))[0]!.name;
      const remote = h.provider.get('customer', cid(2))!.data.name;
      const next = await h.engine.runJob(j.id);
      return { j, e, local, remote, next };
    }

    it('provider_wins', async () => {
      const { e, local, remote, next } = await conflictOn('provider_wins');
      expect([local, remote]).toEqual(['provider edit', 'provider edit']);
      expect(e.updated).toBe(1);
      expect(next.skipped).toBe(next.processed); // settled: no ping-pong
    });

    it('local_wins', async () => {
      const { e, local, remote, next } = await conflictOn('local_wins');
      expect([local, remote]).toEqual(['local edit', 'local edit']);
      expect(e.updated).toBe(1);
      expect(next.skipped).toBe(next.processed);
    });

    it('local_wins even when the provider edit is the newer one (where newest_wins would pick the provider)', async () => {
      const { e, local, remote, next } = await conflictOn('local_wins', true);
      expect([local, remote]).toEqual(['local edit', 'local edit']);
      expect(e.updated).toBe(1);
      expect(next.skipped).toBe(next.processed);
    });

    it('newest_wins: the later change wins either way', async () => {
      const later = await conflictOn('newest_wins', false);
      expect([later.local, later.remote]).toEqual(['local edit', 'local edit']);
      await h.close();
      h = await createHarness(db, 'newest-2', { minuteMs: 300 });
      const earlier = await conflictOn('newest_wins', true);
      expect([earlier.local, earlier.remote]).toEqual(['provider edit', 'provider edit']);
      expect(earlier.next.skipped).toBe(earlier.next.processed);
    });

    it('manual: the record is skipped and the conflict recorded for review', async () => {
      const { e, local, remote } = await conflictOn('manual');
      expect([local, remote]).toEqual(['local edit', 'provider edit']);
      expect(e.status).toBe('completed');
      expect(e.failed).toBe(0);
      const failures = await h.engine.executions.failures(e.id);
      expect(failures.map((f) => [f.recordKey, f.phase, f.errorKind])).toEqual([[cid(2), 'conflict', 'conflict']]);
      expect(await h.engine.retrySet(e.jobId)).toEqual([]);
    });
  });
});
