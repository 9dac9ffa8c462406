import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SyncExecution } from '../src/domain/types.ts';
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
});
