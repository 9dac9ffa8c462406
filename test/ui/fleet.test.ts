/**
 * The console at fleet size in the web UI: the fleet overview as the first screen (totals, runs per hour by status,
 * the jobs failing now, open dead letters), then a connection with 300 sync jobs paged through to its last job, a
 * job found by name, and 60 connected apps paged and searched.
 *
 * Debian's Chromium driven by playwright-core against the real server, in process (`serve()`), on a fresh PGlite
 * directory of its own; the fleet is written straight into the database (test/helpers/fleet-seed.ts). Skipped
 * without /usr/bin/chromium (failed when CI is set), like test/ui/ui.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, serve } from '../../src/api/serve.ts';
import { createMemoryProvider } from '../../src/connectors/memory.ts';
import { type Query, seedConnections, seedExecution, seededJobName, seedJobs } from '../helpers/fleet-seed.ts';
import { ARTIFACTS, CHROMIUM, ensureWebBuilt, hasChromium, inCi, openPage } from './browser.ts';

const JOBS = 300;
const PAGE_SIZE = 50;

describe.skipIf(!hasChromium && !inCi)('the console at fleet size (Chromium + real server)', () => {
  let dir: string;
  let server: RunningServer;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];
  let fleetId = '';
  let jobIds: string[] = [];
  /** Runs seeded within the last 24 hours. */
  let recentRuns = 0;

  beforeAll(async () => {
    if (!hasChromium) throw new Error(`${CHROMIUM} is absent and CI is set: the UI tests must run in CI`);
    mkdirSync(ARTIFACTS, { recursive: true });
    ensureWebBuilt();
    dir = mkdtempSync(join(tmpdir(), 'otesse-ui-fleet-'));
    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ localEntities: {} }));
    const memory = createMemoryProvider({ entityTypes: ['customer'] });
    server = await serve({
      database: join(dir, 'data'),
      host: '127.0.0.1',
      port: 0,
      token: null,
      configPath: config,
      providers: [memory.definition],
      logger: pino({ enabled: false }),
      encryptionKeys: [randomBytes(32).toString('hex')],
    });
    const pglite = server.engine.database.pglite!;
    const query: Query = async <T>(text: string, params: unknown[] = []) => (await pglite.query<T>(text, params)).rows;

    // One connected app with 300 jobs, and 59 more apps: 60 in all, more than a page.
    fleetId = (await server.engine.connections.create({ name: 'Fleet app', provider: 'memory' })).id;
    jobIds = (await seedJobs(query, fleetId, JOBS)).map((j) => j.id);
    await seedConnections(query, 59, 'App');

    // Runs over the last day (finished ones only: the server's worker leaves them alone); three jobs failing now.
    const [j1, j2, j3, j4, j5] = jobIds as [string, string, string, string, string];
    for (const [job, status, hoursAgo] of [
      [j1, 'completed', 20.5],
      [j1, 'failed', 3.5],
      [j1, 'failed', 1.5],
      [j2, 'completed', 12.5],
      [j2, 'timed_out', 0.5],
      [j3, 'failed', 6.5],
      [j4, 'failed', 5.5],
      [j4, 'completed', 2.5],
      [j5, 'completed_with_errors', 8.5],
      [j5, 'cancelled', 30], // before the 24 hours
    ] as const) {
      await seedExecution(query, job, status, hoursAgo, status === 'failed' ? { haltReason: 'HTTP 401' } : {});
      if (hoursAgo < 23) recentRuns++;
    }
    for (const key of ['a', 'b', 'c', 'd']) {
      await query(
        `INSERT INTO dead_letters (job_id, side, record_key, failure_count, last_error, last_execution_id)
         VALUES ($1, 'provider', $2, 3, 'boom', gen_random_uuid())`,
        [key === 'd' ? j4 : j1, key],
      );
    }

    ({ browser, page } = await openPage({ pageErrors }));
  }, 180_000);

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  const rangeLine = () => page.getByTestId('range-line');
  const jobNames = async () => page.locator('tr[data-job-id] th[scope="row"] a').allTextContents();

  it('opens on the fleet overview: totals, runs per hour, the jobs failing now, open dead letters', async () => {
    await page.goto(server.url);
    await page.getByRole('heading', { name: 'Fleet overview', level: 1 }).waitFor();
    const nav = page.getByRole('navigation', { name: 'Main' });
    expect(await nav.getByRole('link').first().textContent()).toBe('Overview');
    expect(await nav.getByRole('link', { name: 'Overview' }).getAttribute('aria-current')).toBe('page');

    expect(await page.getByTestId('total-connections').locator('dd').textContent()).toBe('60');
    expect(await page.getByTestId('total-jobs').locator('dd').textContent()).toBe('300 (300 enabled)');
    expect(await page.getByTestId('total-failing').locator('dd').textContent()).toBe('3');
    expect(await page.getByTestId('total-dead-letters').locator('dd').textContent()).toBe('4');
    expect(await page.getByTestId('total-running').locator('dd').textContent()).toBe('0');

    // The chart counts the day's runs; its table says the same per hour.
    const chart = page.getByTestId('runs-chart');
    expect(Number(await chart.getAttribute('data-total'))).toBe(recentRuns);
    expect(await chart.locator('svg').getAttribute('aria-label')).toMatch(
      new RegExp(`^${recentRuns} runs in the last 24 hours: .*4 failed`),
    );
    expect(await chart.locator('rect.seg-failed').count()).toBe(4);
    await page.getByText('Show as a table').click();
    const totals = await page.getByTestId('runs-table').locator('td[data-col="total"]').allTextContents();
    expect(totals).toHaveLength(24);
    expect(totals.reduce((sum, t) => sum + Number(t), 0)).toBe(recentRuns);

    // Failing now: the newest failure first, each linking to its job and its failed run.
    const failing = page.getByTestId('failing-jobs').locator('tbody tr');
    expect(await failing.locator('th[scope="row"] a').allTextContents()).toEqual([
      seededJobName('Job', 2),
      seededJobName('Job', 1),
      seededJobName('Job', 3),
    ]);
    expect(await failing.nth(0).textContent()).toContain('Timed out');
    expect(await failing.nth(1).locator('[data-col="streak"]').textContent()).toBe('2');
    expect(await failing.nth(1).textContent()).toContain('HTTP 401');
    const deadLetters = page.getByTestId('dead-letter-jobs').locator('tbody tr');
    expect(await deadLetters.allTextContents()).toEqual([
      `${seededJobName('Job', 1)}Fleet app3`,
      `${seededJobName('Job', 4)}Fleet app1`,
    ]);
    await page.screenshot({ path: join(ARTIFACTS, '70-fleet-overview.png'), fullPage: true });

    await failing
      .nth(1)
      .getByRole('link', { name: seededJobName('Job', 1), exact: true })
      .click();
    await page.getByRole('heading', { name: seededJobName('Job', 1), level: 1 }).waitFor();
    expect(new URL(page.url()).pathname).toBe(`/jobs/${jobIds[0]}`);
    await page.goBack();
    await page.getByRole('heading', { name: 'Fleet overview', level: 1 }).waitFor();
  }, 90_000);

  it('pages through a connection’s 300 jobs to the last one, and finds one by name', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Connected apps' }).click();
    await page.getByRole('heading', { name: 'Connected apps', level: 1 }).waitFor();
    const app = page.locator('tbody tr', { has: page.getByRole('link', { name: 'Fleet app', exact: true }) });
    expect(await app.locator('td.num').textContent()).toBe('300');
    const started = Date.now();
    await app.getByRole('link', { name: 'Fleet app', exact: true }).click();
    await page.getByRole('heading', { name: 'Fleet app', level: 1 }).waitFor();
    await page.getByText(`1–${PAGE_SIZE} of 300 sync jobs`).waitFor();
    const firstPageMs = Date.now() - started;
    expect(await jobNames()).toEqual(Array.from({ length: PAGE_SIZE }, (_, i) => seededJobName('Job', i + 1)));

    const pager = page.getByRole('navigation', { name: 'Sync job pages' });
    const next = pager.getByRole('button', { name: 'Next →' });
    let pages = 1;
    const seen = new Set(await jobNames());
    while (await next.isEnabled()) {
      await next.click();
      pages++;
      const from = (pages - 1) * PAGE_SIZE + 1;
      await page.getByText(`${from}–${Math.min(from + PAGE_SIZE - 1, JOBS)} of 300 sync jobs`).waitFor();
      await pager.getByText(`Page ${pages}`).waitFor();
      // The range line can change before the rows do: wait for the page's first and last jobs themselves.
      await page.getByRole('link', { name: seededJobName('Job', from), exact: true }).waitFor();
      await page
        .getByRole('link', { name: seededJobName('Job', Math.min(from + PAGE_SIZE - 1, JOBS)), exact: true })
        .waitFor();
      for (const name of await jobNames()) seen.add(name);
    }
    expect(pages).toBe(JOBS / PAGE_SIZE);
    expect(await rangeLine().textContent()).toBe('251–300 of 300 sync jobs');
    expect(seen.size).toBe(JOBS);
    const last = seededJobName('Job', JOBS);
    expect((await jobNames()).at(-1)).toBe(last);
    await page.getByRole('link', { name: last, exact: true }).waitFor();
    await page.screenshot({ path: join(ARTIFACTS, '71-fleet-jobs-last-page.png'), fullPage: true });
    console.log(`[fleet ui] click → first page of ${PAGE_SIZE} of ${JOBS} jobs shown in ${firstPageMs} ms`);

    await pager.getByRole('button', { name: '← Previous' }).click();
    await page.getByText(`201–250 of 300 sync jobs`).waitFor();

    // Search by name (sent once typing pauses): one job; Escape clears it and the list starts over.
    const search = page.getByLabel('Search jobs by name');
    await search.fill('JOB 0123');
    await page.getByText('1 sync job matching “JOB 0123”').waitFor();
    expect(await jobNames()).toEqual([seededJobName('Job', 123)]);
    expect(await pager.count()).toBe(0);
    await page.screenshot({ path: join(ARTIFACTS, '72-fleet-jobs-search.png'), fullPage: true });
    await search.fill('no such job');
    await page.getByText('No sync jobs match “no such job”.').waitFor();
    await search.press('Escape');
    await page.getByText(`1–${PAGE_SIZE} of 300 sync jobs`).waitFor();
  }, 120_000);

  it('pages and searches the 60 connected apps', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Connected apps' }).click();
    await page.getByText('1–50 of 60 connected apps').waitFor();
    const pager = page.getByRole('navigation', { name: 'Connected app pages' });
    await pager.getByRole('button', { name: 'Next →' }).click();
    await page.getByText('51–60 of 60 connected apps').waitFor();
    await page.getByRole('link', { name: 'App 059' }).waitFor();
    expect(await pager.getByRole('button', { name: 'Next →' }).isDisabled()).toBe(true);

    await page.getByLabel('Search by name').fill('fleet');
    await page.getByText('1 connected app matching “fleet”').waitFor();
    expect(await page.locator('tbody th[scope="row"] a').allTextContents()).toEqual(['Fleet app']);
    expect(pageErrors).toEqual([]);
  }, 60_000);
});
