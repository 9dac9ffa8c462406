import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHarness, customerJobs, type Harness, TEST_DATABASES } from './helpers/db.ts';

/**
 * Hardening: concurrent PATCHes of one job used to read and merge outside the write transaction, so the later
 * write put back the field the earlier one had just changed. Each update now locks the row and merges inside.
 */
describe.each(TEST_DATABASES)('concurrent updates of one job ($name)', (db) => {
  let h: Harness;
  const { job } = customerJobs(() => h);
  beforeEach(async () => {
    h = await createHarness(db, 'hardening-jobs');
  });
  afterEach(async () => {
    await h.close();
  });

  it('two PATCHes of different fields at once: both survive', async () => {
    const created = await job();
    for (let i = 1; i <= 5; i++) {
      await Promise.all([
        h.engine.jobs.update(created.id, { name: `name ${i}` }),
        h.engine.jobs.update(created.id, { maxRetries: i + 1 }),
        h.engine.jobs.update(created.id, { timeoutMinutes: 10 + i }),
      ]);
      const stored = await h.engine.jobs.get(created.id);
      expect({ name: stored.name, maxRetries: stored.maxRetries, timeoutMinutes: stored.timeoutMinutes }).toEqual({
        name: `name ${i}`,
        maxRetries: i + 1,
        timeoutMinutes: 10 + i,
      });
    }
  });
});
