import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ProviderError } from '../src/domain/errors.ts';
import { FINAL_STATUSES, type SyncExecution } from '../src/domain/types.ts';
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

/**
 * The engine's promises at the edges: the circuit breaker, the retry set and the dead letter queue under
 * persistently bad records, failures of outbound writes, whole-run retries whoever ran the job, counters.
 */
describe.each(TEST_DATABASES)('engine edges on $name', (db) => {
  let h: Harness;
  beforeEach(async (ctx) => {
    h = await createHarness(db, ctx.task.name, { minuteMs: 300, runRetry: { baseDelayMs: 40, maxDelayMs: 200 } });
  });
  afterEach(async () => {
    await h?.close();
  });

  const { job, seed, insertLocal, localCount, refCount } = customerJobs(() => h);

  describe('persistently bad records (10%)', () => {
    const isBad = (i: number) => i % 10 === 3;
    const badKeys = Array.from({ length: 200 }, (_, i) => i)
      .filter(isBad)
      .map(cid)
      .sort();

    it('six full runs: good records sync every run, the bad ones reach the dead letter queue after the third, no breaker trip, and are parked afterwards', async () => {
      seed(200, isBad);
      const j = await job({ mode: 'full' });
      const runs: SyncExecution[] = [];
      for (let k = 0; k < 6; k++) {
        const e = await h.engine.runJob(j.id);
        runs.push(e);
        expect(e.haltReason, `run ${k + 1}`).toBeNull();
        if (k === 2) {
          const dead = await h.engine.deadLetters.list(j.id, { limit: 100 });
          expect(dead.map((d) => d.recordKey).sort()).toEqual(badKeys);
          expect(await h.engine.retrySet(j.id)).toEqual([]);
          // The first failure is the first run's, not the time the record entered the queue.
          for (const d of dead) {
            expect(d.firstFailedAt.getTime()).toBeGreaterThanOrEqual(runs[0]!.startedAt!.getTime());
            expect(d.firstFailedAt.getTime()).toBeLessThanOrEqual(runs[0]!.completedAt!.getTime());
            expect(d.createdAt.getTime()).toBeGreaterThanOrEqual(runs[2]!.startedAt!.getTime());
          }
        }
      }
      expect(runs.map((e) => e.status)).toEqual([
        'completed_with_errors',
        'completed_with_errors',
        'completed_with_errors',
        'completed',
        'completed',
        'completed',
      ]);
      // Every good record is synced in every run: created in the first, unchanged (skipped) after.
      expect(counters(runs[0]!)).toEqual({ processed: 200, created: 180, updated: 0, skipped: 0, failed: 20 });
      for (const e of runs.slice(1, 3)) {
        expect(counters(e)).toEqual({ processed: 200, created: 0, updated: 0, skipped: 180, failed: 20 });
      }
      // Parked records are not attempted: no failure, no write, counted as skipped.
      for (const e of runs.slice(3)) {
        expect(counters(e)).toEqual({ processed: 200, created: 0, updated: 0, skipped: 200, failed: 0 });
        expect(await h.engine.executions.failures(e.id)).toEqual([]);
      }
      expect(await localCount()).toBe(180);
      expect((await h.engine.deadLetters.list(j.id, { limit: 100 })).every((d) => d.failureCount === 3)).toBe(true);
    });

    it('an incremental job with a retry set of bad records: the breaker never trips on them', async () => {
      seed(200, isBad);
      const j = await job({ mode: 'incremental' });
      const first = await h.engine.runJob(j.id);
      expect(counters(first)).toEqual({ processed: 200, created: 180, updated: 0, skipped: 0, failed: 20 });
      // Only the retry set is read again (nothing changed): 20 of 20 fail, but they are known-bad records.
      for (let i = 0; i < 15; i++) h.provider.patch('customer', cid(i * 10), { name: `changed ${i}` });
      const second = await h.engine.runJob(j.id);
      expect(second.haltReason).toBeNull();
      expect(counters(second)).toEqual({ processed: 35, created: 0, updated: 15, skipped: 0, failed: 20 });
    });

    it('a parked record is attempted again when its source content changes, and a discarded one never returns to the queue', async () => {
      seed(40, isBad);
      const j = await job({ mode: 'full' });
      for (let k = 0; k < 3; k++) await h.engine.runJob(j.id);
      const dead = await h.engine.deadLetters.list(j.id);
      expect(dead.map((d) => d.recordKey).sort()).toEqual([cid(3), cid(13), cid(23), cid(33)]);

      // cid(3): changed but still bad → attempted, fails, stays one open dead letter (not back in the retry set).
      h.provider.put('customer', { name: 'still bad', email: null }, cid(3));
      // cid(13): fixed at the source → synced, its dead letter resolved.
      h.provider.put('customer', { name: 'fixed', email: 'fixed@x.test' }, cid(13));
      // cid(23): discarded by a person.
      await h.engine.deadLetters.discard(dead.find((d) => d.recordKey === cid(23))!.id);
      const fourth = await h.engine.runJob(j.id);
      expect(counters(fourth)).toEqual({ processed: 40, created: 1, updated: 0, skipped: 38, failed: 1 });
      expect((await h.engine.executions.failures(fourth.id)).map((f) => f.recordKey)).toEqual([cid(3)]);
      expect(await h.engine.retrySet(j.id)).toEqual([]);
      const open = await h.engine.deadLetters.list(j.id);
      expect(open.map((d) => [d.recordKey, d.failureCount]).sort()).toEqual([
        [cid(3), 4],
        [cid(33), 3],
      ]);
      expect((await h.engine.deadLetters.list(j.id, { status: 'resolved' })).map((d) => d.recordKey)).toEqual([
        cid(13),
      ]);

      // The discarded record changes and still fails: attempted, but never back in the queue or the retry set.
      h.provider.put('customer', { name: 'discarded, changed', email: null }, cid(23));
      for (let k = 0; k < 3; k++) {
        const e = await h.engine.runJob(j.id);
        expect(e.failed).toBe(k === 0 ? 1 : 0);
      }
      expect((await h.engine.deadLetters.list(j.id)).map((d) => d.recordKey).sort()).toEqual([cid(3), cid(33)]);
      expect(await h.engine.retrySet(j.id)).toEqual([]);
    });
  });

  describe('circuit breaker', () => {
    it('is checked per record once 10 are processed: 10 good then 190 bad stop at the 21st', async () => {
      seed(200, (i) => i >= 10);
      const j = await job();
      const e = await h.engine.runJob(j.id);
      expect(e.status).toBe('failed');
      expect(counters(e)).toEqual({ processed: 21, created: 10, updated: 0, skipped: 0, failed: 11 });
      expect(e.haltReason).toMatch(/circuit breaker: 11 of 21/);
    });
  });

  describe('outbound failures', () => {
    it('a 401 on one record result keeps the references and counts of the records written, then fails the run', async () => {
      await insertLocal(30);
      h.provider.faults.rejectWrite = (op) =>
        op.data.email === 'l17@x.test' ? new ProviderError('auth', 'memory provider: 401 key revoked') : undefined;
      const j = await job({ direction: 'outbound', fieldMappings: OUT_RULES, retryOnFailure: false });
      const e = await h.engine.runJob(j.id);
      expect(e.status).toBe('failed');
      expect(e.haltReason).toMatch(/auth error: memory provider: 401 key revoked/);
      const written = h.provider.count('customer');
      expect(written).toBeGreaterThan(0);
      expect(await refCount()).toBe(written);
      expect(e.created).toBe(written);
      expect(e.failed).toBe(0);

      // Fixed: the next run creates only the rest; nothing is created twice.
      h.provider.faults.rejectWrite = undefined;
      const next = await h.engine.runJob(j.id);
      expect(next.status).toBe('completed');
      expect(next.created).toBe(30 - written);
      expect(h.provider.count('customer')).toBe(30);
    });
  });

  it('a re-send of the records that failed transiently that then fails as a whole keeps what the first call wrote', async () => {
    await insertLocal(10);
    h.provider.faults.transientRecordWrites = 2;
    let calls = 0;
    h.provider.faults.beforeWrite = () => {
      // From the second call on (the re-send of the two records), the provider is down.
      if (++calls === 2) h.provider.faults.transientWriteCalls = 1000;
    };
    const j = await job({ direction: 'outbound', fieldMappings: OUT_RULES, retryOnFailure: false });
    const e = await h.engine.runJob(j.id);
    expect(h.provider.count('customer')).toBe(8);
    expect(await refCount()).toBe(8);
    expect(e.status).toBe('completed_with_errors');
    expect(counters(e)).toEqual({ processed: 10, created: 8, updated: 0, skipped: 0, failed: 2 });
    const failures = await h.engine.executions.failures(e.id);
    expect(failures.map((f) => [f.errorKind, f.message])).toEqual([
      ['transient', 'memory provider: 503 service unavailable'],
      ['transient', 'memory provider: 503 service unavailable'],
    ]);
  });

  describe('whole-run retries, whoever ran the job', () => {
    it('a failed library run (provider down) gets its retry through the queue, which a worker then runs', async () => {
      seed(5);
      h.provider.faults.transientReads = 1000;
      const j = await job({ maxRetries: 2 });
      const failed = await h.engine.runJob(j.id);
      expect(failed.status).toBe('failed');
      expect(failed.haltReason).toMatch(/503/);
      const queued = await h.engine.executions.list(j.id);
      expect(queued.map((e) => [e.trigger, e.attempt, e.status])).toEqual([
        ['retry', 2, 'queued'],
        ['manual', 1, 'failed'],
      ]);
      h.provider.faults.transientReads = 0;
      await h.engine.startWorker({ heartbeatSeconds: 1, retryBaseDelayMs: 20 });
      const done = await waitFor(async () => {
        const e = await h.engine.executions.get(queued[0]!.id);
        return FINAL_STATUSES.includes(e.status) ? e : null;
      }, 'the retry to finish');
      expect([done.status, done.created]).toEqual(['completed', 5]);
    });

    it('a single-record (webhook) run that fails is retried too', async () => {
      seed(5);
      const j = await job();
      // Fetch by id fails while the provider is down.
      h.provider.faults.transientFetches = 1000;
      const failed = await h.engine.runJob(j.id, { trigger: 'webhook', recordKeys: [cid(2)] });
      expect(failed.status).toBe('failed');
      const list = await h.engine.executions.list(j.id);
      expect(list.map((e) => [e.trigger, e.attempt, e.status, e.recordKeys])).toEqual([
        ['retry', 2, 'queued', [cid(2)]],
        ['webhook', 1, 'failed', [cid(2)]],
      ]);
    });

    it('a configuration failure (bad credentials) is not retried, and says so', async () => {
      seed(5);
      h.provider.faults.authError = true;
      const j = await job({ maxRetries: 3 });
      const e = await h.engine.runJob(j.id);
      expect(e.status).toBe('failed');
      expect(e.haltReason).toMatch(/auth error: .*401.*not retried/);
      expect((await h.engine.executions.list(j.id)).length).toBe(1);
    });

    it('retryOnFailure: false retries neither the run nor its records', async () => {
      seed(20, (i) => i === 4);
      const j = await job({ retryOnFailure: false, mode: 'incremental' });
      const first = await h.engine.runJob(j.id);
      expect(first.status).toBe('completed_with_errors');
      expect(await h.engine.retrySet(j.id)).toEqual([]);
      for (let k = 0; k < 3; k++) await h.engine.runJob(j.id);
      expect(await h.engine.deadLetters.list(j.id)).toEqual([]);
      h.provider.faults.transientReads = 1000;
      const failed = await h.engine.runJob(j.id);
      expect(failed.status).toBe('failed');
      expect((await h.engine.executions.list(j.id)).filter((e) => e.trigger === 'retry')).toEqual([]);
    });
  });

  describe('connection lost', () => {
    it('a provider that cannot be reached at all through the retries cancels the run as "connection lost"', async () => {
      seed(5);
      h.provider.faults.unreachable = true;
      const j = await job({ retryOnFailure: false });
      const e = await h.engine.runJob(j.id);
      expect(e.status).toBe('cancelled');
      expect(e.haltReason).toMatch(/^connection lost: .*ECONNREFUSED/);
    });

    it('a provider that answers 5xx is reachable: the run fails', async () => {
      seed(5);
      h.provider.faults.transientReads = 1000;
      const j = await job({ retryOnFailure: false });
      const e = await h.engine.runJob(j.id);
      expect(e.status).toBe('failed');
    });
  });

  describe('counters', () => {
    it('manual conflicts are counted as conflicts, and a bidirectional run shows counts per direction', async () => {
      seed(3);
      const j = await job({
        direction: 'bidirectional',
        conflictStrategy: 'manual',
        fieldMappings: [...IN_RULES, ...OUT_RULES],
      });
      const first = await h.engine.runJob(j.id);
      expect(counters(first)).toEqual({ processed: 6, created: 3, updated: 0, skipped: 3, failed: 0 });
      expect(first.directions).toEqual({
        inbound: { processed: 3, created: 3, updated: 0, deleted: 0, skipped: 0, failed: 0, conflicts: 0 },
        outbound: { processed: 3, created: 0, updated: 0, deleted: 0, skipped: 3, failed: 0, conflicts: 0 },
      });
      for (let i = 0; i < 3; i++) {
        h.provider.patch('customer', cid(i), { name: `provider edit ${i}` });
        await h.query(
          `UPDATE customers SET name = 'local edit', updated_at = clock_timestamp() WHERE email = 'e${i}@x.test'`,
        );
      }
      const e = await h.engine.runJob(j.id);
      expect(e.conflicts).toBe(3);
      expect(e.directions!.inbound.conflicts).toBe(3);
      expect(e.status).toBe('completed');
      expect((await h.engine.executions.failures(e.id)).map((f) => f.errorKind)).toEqual([
        'conflict',
        'conflict',
        'conflict',
      ]);
    });

    it("a job's last run is its last whole run, like lastRunAt (a webhook run does not replace it)", async () => {
      seed(5);
      const j = await job();
      const whole = await h.engine.runJob(j.id);
      await h.engine.runJob(j.id, { trigger: 'webhook', recordKeys: [cid(1)] });
      const latest = await h.engine.executions.latest([j.id]);
      expect(latest.get(j.id)!.id).toBe(whole.id);
      expect((await h.engine.jobs.get(j.id)).lastRunAt!.getTime()).toBe(whole.startedAt!.getTime());
    });
  });

  it('Run Now on a disabled job runs it (disabling stops only scheduled and webhook runs)', async () => {
    seed(3);
    const j = await job({ enabled: false });
    const { execution } = await h.engine.trigger(j.id);
    expect(execution.status).toBe('queued');
    await h.engine.startWorker({ heartbeatSeconds: 1 });
    const done = await waitFor(async () => {
      const e = await h.engine.executions.get(execution.id);
      return FINAL_STATUSES.includes(e.status) ? e : null;
    }, 'the manual run of a disabled job');
    expect(done.status).toBe('completed');
    expect(await h.engine.webhook(j.connectionId, 'customer', [cid(1)])).toEqual([]);
  });

  it('reads are retried on transient errors inside the run (inbound)', async () => {
    seed(250);
    h.provider.faults.transientReads = 2;
    const j = await job();
    const e = await h.engine.runJob(j.id);
    expect(e.status).toBe('completed');
    expect(e.created).toBe(250);
    expect(h.provider.faults.transientReads).toBe(0);
  });

  it.each(['provider_wins', 'local_wins'])(
    'echo suppression after a conflict (%s, a field mapped inbound only): two runs with nothing changed write nothing',
    async (strategy) => {
      for (let i = 0; i < 5; i++)
        h.provider.put('customer', { name: `N${i}`, email: `e${i}@x.test`, balance: i }, cid(i));
      const j = await job({
        direction: 'bidirectional',
        conflictStrategy: strategy,
        // balance is read from the provider but never written to it: a write of name/email leaves it as it was.
        fieldMappings: [
          ...IN_RULES,
          { sourceField: 'balance', targetField: 'balance', direction: 'inbound' as const },
          ...OUT_RULES,
        ],
      });
      await h.engine.runJob(j.id);
      h.provider.patch('customer', cid(1), { name: 'provider edit' });
      await h.query(
        "UPDATE customers SET name = 'local edit 1', updated_at = clock_timestamp() WHERE email = 'e1@x.test'",
      );
      await h.query(
        "UPDATE customers SET name = 'local edit 2', updated_at = clock_timestamp() WHERE email = 'e2@x.test'",
      );
      const resolved = await h.engine.runJob(j.id);
      expect(resolved.status).toBe('completed');
      const names = await h.query<{ email: string; name: string }>('SELECT email, name FROM customers ORDER BY email');
      const winner = strategy === 'provider_wins' ? 'provider edit' : 'local edit 1';
      expect(names.find((r) => r.email === 'e1@x.test')!.name).toBe(winner);
      expect(h.provider.get('customer', cid(1))!.data.name).toBe(winner);
      expect(h.provider.get('customer', cid(2))!.data.name).toBe('local edit 2');
      const writes = () => h.provider.stats.createdRecords + h.provider.stats.updatedRecords;
      const before = writes();
      const third = await h.engine.runJob(j.id);
      const fourth = await h.engine.runJob(j.id);
      expect([third.created + third.updated, fourth.created + fourth.updated]).toEqual([0, 0]);
      expect(writes()).toBe(before);
      expect(third.skipped).toBe(third.processed);
    },
  );
});
