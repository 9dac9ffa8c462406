import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { counters, createHarness, type Harness, TEST_DATABASES } from './helpers/db.ts';

const RULES = [
  { sourceField: 'name', targetField: 'name', direction: 'inbound' as const, transform: { name: 'trim' } },
  { sourceField: 'email', targetField: 'email', direction: 'inbound' as const, transform: { name: 'lowercase' } },
  {
    sourceField: 'balance_cents',
    targetField: 'balance',
    direction: 'inbound' as const,
    transform: { name: 'cents_to_decimal' },
    defaultValue: 0,
  },
];

describe.each(TEST_DATABASES)('inbound sync on $name', (db) => {
  let h: Harness;
  beforeEach(async (ctx) => {
    h = await createHarness(db, ctx.task.name);
  });
  afterEach(async () => {
    await h?.close();
  });

  async function inboundJob(extra: Record<string, unknown> = {}) {
    const conn = await h.engine.connections.create({ name: 'Mem', provider: 'memory', credentials: { apiKey: 'k' } });
    return h.engine.jobs.create({
      connectionId: conn.id,
      name: 'Customers in',
      entityType: 'customer',
      direction: 'inbound',
      fieldMappings: RULES,
      ...extra,
    });
  }

  it('creates local rows and references, then skips unchanged records on the next run', async () => {
    for (let i = 0; i < 250; i++) {
      h.provider.put('customer', { name: ` Person ${i} `, email: `P${i}@Example.com`, balance_cents: i * 100 + 99 });
    }
    const job = await inboundJob();
    const first = await h.engine.runJob(job.id);
    expect(first.status).toBe('completed');
    expect(counters(first)).toEqual({ processed: 250, created: 250, updated: 0, skipped: 0, failed: 0 });
    expect(first.completedAt).toBeInstanceOf(Date);
    expect(first.durationSeconds).toBeGreaterThanOrEqual(0);

    const rows = await h.query<{ name: string; email: string; balance: string }>(
      "SELECT name, email, balance::text AS balance FROM customers WHERE email = 'p7@example.com'",
    );
    expect(rows).toEqual([{ name: 'Person 7', email: 'p7@example.com', balance: '7.99' }]);
    const refs = await h.query<{ n: number }>('SELECT count(*)::int AS n FROM external_references');
    expect(refs[0]!.n).toBe(250);

    const after = await h.engine.jobs.get(job.id);
    expect(after.lastRunAt).toEqual(first.startedAt);
    expect(after.cursor).not.toBeNull();

    h.provider.patch('customer', 'mem_3', { name: 'Renamed' });
    const second = await h.engine.runJob(job.id);
    expect(counters(second)).toEqual({ processed: 250, created: 0, updated: 1, skipped: 249, failed: 0 });
    const renamed = await h.query<{ name: string }>("SELECT name FROM customers WHERE email = 'p2@example.com'");
    expect(renamed).toEqual([{ name: 'Renamed' }]);
    expect((await h.query<{ n: number }>('SELECT count(*)::int AS n FROM customers'))[0]!.n).toBe(250);
  });

  it('clean pages take the one-statement path; a page with a bad row falls back and isolates it', async () => {
    let text = '';
    const logger = pino(
      { level: 'info' },
      new Writable({
        write(chunk, _e, cb) {
          text += chunk;
          cb();
        },
      }),
    );
    await h.close();
    h = await createHarness(db, 'fast-path', { logger });
    for (let i = 0; i < 250; i++) {
      h.provider.put(
        'customer',
        { name: `P${i}`, email: i === 130 ? null : `p${i}@x.test`, balance_cents: i },
        `c${String(i).padStart(4, '0')}`,
      );
    }
    const job = await inboundJob();
    const e = await h.engine.runJob(job.id);
    expect(counters(e)).toEqual({ processed: 250, created: 249, updated: 0, skipped: 0, failed: 1 });
    const finished = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .find((l) => l.msg === 'run finished');
    // Chunks end where the breaker could first trip: 10, 11, 22, 44, 13; then 100 (holds the bad row: general
    // path), 50.
    expect(finished.fastPages).toBe(6);
    const [f] = await h.engine.executions.failures(e.id);
    expect(f!.recordKey).toBe('c0130');
  });
});
