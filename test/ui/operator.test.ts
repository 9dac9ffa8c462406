/**
 * Operator tools in the web UI (issue 14): the execution detail's Log tab (a run with 429s: the rate_limited entries
 * and the timing line), the dry-run Preview on the job detail and in the job form (planned actions with field diffs,
 * a draft's refused fields shown at the form's fields, and nothing written anywhere), and the record inspector opened
 * from the job's "Find a record" box, from a deep link, from a failure row and from a dead-letter row, with the
 * record's history across three executions.
 *
 * Debian's Chromium driven by playwright-core against the real server, in process (`serve()` on a fresh PGlite
 * directory), with the Stripe sandbox started in process (answering 429 with Retry-After on demand) and a local
 * table from a config file. Outcomes are checked through the API, the database and the sandbox's request counts.
 * Skipped without /usr/bin/chromium (failed when CI is set), like test/ui/ui.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { pino } from 'pino';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, serve } from '../../src/api/serve.ts';
import { type StripeSandbox, startStripeSandbox } from '../../src/sandbox/stripe/server.ts';
import { waitFor } from '../helpers/db.ts';
import { ARTIFACTS, CHROMIUM, ensureWebBuilt, hasChromium, inCi, openPage } from './browser.ts';

const FINAL = ['completed', 'completed_with_errors', 'failed', 'timed_out', 'cancelled'];
const KEY = 'sk_test_operator_ui_key';
const TABLE = 'ui_operator_customers';
const CUSTOMERS = 12;

interface ApiExecution {
  id: string;
  status: string;
  processed: number;
  created: number;
  updated: number;
  skipped: number;
  failed: number;
  timing: { readMs: number; writeMs: number; rateLimitWaitMs: number; retryWaitMs: number } | null;
}
interface ApiJob {
  id: string;
  name: string;
  updatedAt: string;
  lastRunAt: string | null;
  fieldMappings: { sourceField: string; targetField: string; transform?: string | null }[];
}

describe.skipIf(!hasChromium && !inCi)('operator tools in the web UI (Chromium + real server + Stripe sandbox)', () => {
  let dir: string;
  let sandbox: StripeSandbox;
  let server: RunningServer;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];
  let jobId = '';
  /** Sandbox customer ids: [0] renamed between runs, [2] unmappable (fails every run). */
  let ids: string[] = [];
  let firstRun = '';

  const api = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${server.url}/api/v1${path}`, {
      method,
      ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };
  const waitDone = (executionId: string) =>
    waitFor(
      async () => {
        const e = await api<ApiExecution>('GET', `/executions/${executionId}`);
        return FINAL.includes(e.status) ? e : null;
      },
      `execution ${executionId} to finish`,
      60_000,
    );
  const runViaApi = async () =>
    waitDone((await api<{ executionId: string }>('POST', `/sync-jobs/${jobId}/run`)).executionId);
  const db = () => server.engine.database.db;
  const count = async (table: string) =>
    (await sql<{ n: number }>`SELECT count(*)::int AS n FROM ${sql.table(table)}`.execute(db())).rows[0]!.n;
  /** Everything a preview must leave alone: rows on both sides, the job's state, what the provider was asked. */
  const footprint = async () => {
    const job = await api<ApiJob>('GET', `/sync-jobs/${jobId}`);
    return {
      localRows: await count(TABLE),
      localContent: (
        await sql<{ id: string; name: string; email: string }>`SELECT id, name, email FROM ${sql.table(TABLE)}
          ORDER BY id`.execute(db())
      ).rows,
      references: await count('external_references'),
      executions: await count('sync_executions'),
      failures: await count('record_failures'),
      retryItems: await count('retry_items'),
      deadLetters: await count('dead_letters'),
      logEntries: await count('execution_log'),
      job: { updatedAt: job.updatedAt, lastRunAt: job.lastRunAt, name: job.name, fieldMappings: job.fieldMappings },
      providerWrites: Object.entries(sandbox.requests.byRoute)
        .filter(([route]) => !route.startsWith('GET'))
        .reduce((n, [, c]) => n + c, 0),
      providerCustomers: sandbox.store.list('customer').map((c) => [c.id, c.name]),
    };
  };

  const row = (executionId: string) => page.locator(`tr[data-execution-id="${executionId}"]`);
  const detail = (executionId: string) => page.locator(`#execution-${executionId}`);
  /** Waits (without reloading the page) until the execution's row shows a final status. */
  const waitFinal = async (executionId: string) => {
    const selector = FINAL.map((s) => `tr[data-execution-id="${executionId}"][data-status="${s}"]`).join(', ');
    await page.waitForSelector(selector, { timeout: 60_000 });
    return (await row(executionId).getAttribute('data-status'))!;
  };
  const expand = async (executionId: string) => {
    await row(executionId)
      .getByRole('button', { name: /Show details/ })
      .click();
    await page.waitForURL(`**/jobs/${jobId}/executions/${executionId}`);
    await detail(executionId).getByTestId('execution-detail').waitFor();
  };
  const inspector = () => page.getByRole('dialog', { name: /^Record / });
  const searchOf = () => new URL(page.url()).search;

  beforeAll(async () => {
    if (!hasChromium) throw new Error(`${CHROMIUM} is absent and CI is set: the UI tests must run in CI`);
    mkdirSync(ARTIFACTS, { recursive: true });
    ensureWebBuilt();
    sandbox = await startStripeSandbox({ apiKey: KEY, records: { customers: CUSTOMERS } });
    sandbox.webhookEndpoints = [];
    ids = sandbox.store.ids('customer');
    expect(ids).toHaveLength(CUSTOMERS);
    // A score the job's to_number mapping cannot read: this customer fails every run (map phase).
    sandbox.store.update('customer', ids[2]!, { metadata: { score: 'not a number' } });
    sandbox.store.update('customer', ids[3]!, { metadata: { score: '42' } });

    dir = mkdtempSync(join(tmpdir(), 'otesse-ui-operator-'));
    const configPath = join(dir, 'otesse-sync.config.json');
    writeFileSync(configPath, JSON.stringify({ localEntities: { customers: { table: TABLE } } }));
    server = await serve({
      database: join(dir, 'data'),
      configPath,
      host: '127.0.0.1',
      port: 0,
      token: null,
      logger: pino({ enabled: false }),
      encryptionKeys: [randomBytes(32).toString('hex')],
      allowedHosts: '127.0.0.1',
    });
    await server.engine.database.exec(`
      CREATE TABLE ${TABLE} (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name text, email text, score numeric,
        updated_at timestamptz NOT NULL DEFAULT clock_timestamp());`);

    const connection = await api<{ id: string }>('POST', '/connections', {
      provider: 'stripe',
      name: 'Stripe sandbox',
      config: { apiBase: sandbox.url, requestsPerSecond: 1000 },
      credentials: { apiKey: KEY },
    });
    const job = await api<{ id: string }>('POST', '/sync-jobs', {
      connectionId: connection.id,
      name: 'Stripe customers',
      entityType: 'customer',
      localEntity: 'customers',
      direction: 'inbound',
      mode: 'full',
      fieldMappings: [
        { sourceField: 'name', targetField: 'name' },
        { sourceField: 'email', targetField: 'email' },
        { sourceField: 'metadata.score', targetField: 'score', transform: 'to_number' },
      ],
    });
    jobId = job.id;

    ({ browser, page } = await openPage({ pageErrors }));
  }, 180_000);

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await server?.close();
    await sandbox?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('a run with 429s: the Log tab lists the rate_limited entries and the detail says where the time went', async () => {
    await page.goto(`${server.url}/jobs/${jobId}`);
    await page.getByRole('heading', { name: 'Stripe customers' }).waitFor();
    // The next two provider requests are answered 429 with Retry-After: 1 s.
    sandbox.faults.rateLimit = { nextN: 2, retryAfterSeconds: 1 };
    const [response] = await Promise.all([
      page.waitForResponse((r) => /\/sync-jobs\/[^/]+\/run$/.test(r.url()) && r.request().method() === 'POST'),
      page.getByRole('button', { name: 'Run Now' }).click(),
    ]);
    expect(response.status()).toBe(202);
    firstRun = ((await response.json()) as { executionId: string }).executionId;
    expect(await waitFinal(firstRun)).toBe('completed_with_errors');
    const done = await api<ApiExecution>('GET', `/executions/${firstRun}`);
    expect(done).toMatchObject({ processed: CUSTOMERS, created: CUSTOMERS - 1, failed: 1 });
    expect(done.timing!.rateLimitWaitMs).toBeGreaterThanOrEqual(2000);

    await expand(firstRun);
    const d = detail(firstRun);
    // The timing line: reading, writing, waiting on rate limits (the two 1 s waits), retrying.
    const timing = d.getByTestId('execution-timing');
    const text = (await timing.textContent())!;
    expect(text).toMatch(
      /Reading \d+(\.\d)? s, writing \d+(\.\d)? s, waiting on rate limits \d+\.\d s, retrying 0 s\./,
    );
    const waited = Number(/waiting on rate limits (\d+\.\d) s/.exec(text)![1]);
    expect(waited).toBeCloseTo(done.timing!.rateLimitWaitMs / 1000, 0);
    expect(waited).toBeGreaterThanOrEqual(2);

    // Tabs: Details is selected; the Log tab shows the run log.
    const tabs = d.getByRole('tablist');
    const detailsTab = tabs.getByRole('tab', { name: 'Details' });
    const logTab = tabs.getByRole('tab', { name: 'Log' });
    expect(await detailsTab.getAttribute('aria-selected')).toBe('true');
    await d
      .getByRole('tabpanel', { name: 'Details' })
      .getByText(/Failed records \(1\)/)
      .waitFor();
    await logTab.click();
    expect(await logTab.getAttribute('aria-selected')).toBe('true');
    const panel = d.getByRole('tabpanel', { name: 'Log' });
    const log = panel.getByTestId('run-log');
    await log.locator('tr[data-event="finished"]').waitFor();
    expect(await d.getByRole('tabpanel', { name: 'Details' }).isVisible()).toBe(false);
    const events = await log.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-event')));
    expect(events[0]).toBe('start');
    expect(events.at(-1)).toBe('finished');
    expect(events).toContain('page');
    const limited = log.locator('tr[data-event="rate_limited"]');
    expect(await limited.count()).toBe(2);
    for (let i = 0; i < 2; i++) {
      const entry = limited.nth(i);
      expect(await entry.getAttribute('data-level')).toBe('warn');
      expect(await entry.textContent()).toContain('Rate limited');
      expect(await entry.textContent()).toContain('Retry-After 1000 ms');
      // The data, compact: the status and the wait.
      expect(await entry.locator('.log-data').textContent()).toMatch(/status\s*429/);
      expect(await entry.locator('.log-data').textContent()).toMatch(/waitMs\s*1000/);
    }
    // The same as the API's log; everything fits on one page (no Load more).
    const apiLog = await api<{ items: { event: string }[]; nextCursor: string | null }>(
      'GET',
      `/executions/${firstRun}/log?limit=500`,
    );
    expect(events).toEqual(apiLog.items.map((e) => e.event));
    expect(await panel.getByRole('button', { name: 'Load more' }).count()).toBe(0);
    // Paged: with pages of 2 entries (the request's limit rewritten on its way), "Load more" reads the rest.
    await page.route('**/api/v1/executions/*/log?*', (route) =>
      route.continue({
        url: route
          .request()
          .url()
          .replace(/limit=\d+/, 'limit=2'),
      }),
    );
    await page.reload();
    await detail(firstRun).getByRole('tab', { name: 'Log' }).click();
    const paged = detail(firstRun).getByTestId('run-log').locator('tbody tr');
    await paged.first().waitFor();
    expect(await paged.count()).toBe(2);
    const loadMore = detail(firstRun).getByRole('button', { name: 'Load more' });
    for (let shown = 2; shown < events.length; shown += 2) {
      await loadMore.click();
      const now = Math.min(shown + 2, events.length);
      await paged.nth(now - 1).waitFor();
      expect(await paged.count()).toBe(now);
    }
    expect(await paged.evaluateAll((rows) => rows.map((r) => r.getAttribute('data-event')))).toEqual(events);
    await loadMore.waitFor({ state: 'detached' });
    await page.unroute('**/api/v1/executions/*/log?*');
    // Arrow keys move between the tabs.
    await logTab.focus();
    await page.keyboard.press('ArrowLeft');
    expect(await detailsTab.getAttribute('aria-selected')).toBe('true');
    expect(await detailsTab.evaluate((el) => el.matches(':focus'))).toBe(true);
    await page.keyboard.press('End');
    expect(await logTab.getAttribute('aria-selected')).toBe('true');
    await page.screenshot({ path: join(ARTIFACTS, '50-operator-run-log.png'), fullPage: true });
  }, 120_000);

  it('Preview on the job detail: planned actions with field diffs, and nothing written', async () => {
    // Renamed at the provider since the run: the next run would update it.
    sandbox.store.update('customer', ids[0]!, { name: 'Renamed One' });
    const localName = (
      await sql<{ name: string }>`SELECT name FROM ${sql.table(TABLE)} t JOIN external_references r
        ON r.local_id = t.id::text WHERE r.external_id = ${ids[0]!}`.execute(db())
    ).rows[0]!.name;
    const before = await footprint();

    await page.goto(`${server.url}/jobs/${jobId}`);
    await page.getByRole('heading', { name: 'Stripe customers' }).waitFor();
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith(`/sync-jobs/${jobId}/preview`)),
      page.getByRole('button', { name: 'Preview', exact: true }).click(),
    ]);
    expect(response.status()).toBe(200);
    const preview = page.getByRole('region', { name: 'Preview of the next run' });
    await preview.getByRole('table').waitFor();
    await preview.getByText('Nothing was written.').waitFor();
    const summary = preview.getByTestId('preview-summary');
    const countOf = async (action: string) =>
      Number(await summary.locator(`[data-action="${action}"]`).getAttribute('data-count'));
    expect(await countOf('update')).toBe(1);
    expect(await countOf('fail')).toBe(1);
    expect(await countOf('create')).toBe(0);
    expect(await countOf('skip')).toBe(CUSTOMERS - 2);

    const renamed = preview.locator(`tr[data-record-key="${ids[0]}"]`);
    expect(await renamed.getAttribute('data-action')).toBe('update');
    expect(await renamed.getByText('Update', { exact: true }).count()).toBe(1);
    expect(await renamed.locator('td').nth(1).textContent()).toContain('Local');
    const nameChange = renamed.locator('li[data-field="name"]');
    expect(await nameChange.locator('.diff-from').textContent()).toBe(localName);
    expect(await nameChange.locator('.diff-to').textContent()).toBe('Renamed One');
    const failing = preview.locator(`tr[data-record-key="${ids[2]}"]`);
    expect(await failing.getAttribute('data-action')).toBe('fail');
    expect(await failing.locator('td.message').textContent()).toMatch(/to_number/);
    await page.screenshot({ path: join(ARTIFACTS, '51-operator-preview-job.png'), fullPage: true });

    // Nothing was written: rows, references, executions, failures, the job, the provider.
    expect(await footprint()).toEqual(before);
  }, 60_000);

  it('Preview in the job form: refused fields at the fields, then the draft planned, and nothing saved or written', async () => {
    const before = await footprint();
    await page.goto(`${server.url}/jobs/${jobId}/edit`);
    await page.getByRole('heading', { name: 'Edit Stripe customers' }).waitFor();
    const form = page.getByRole('form', { name: 'Edit sync job' });
    const name = form.locator('input[name="name"]');

    // A refused draft: the server's `job.name` detail is shown at the Name field, which takes focus.
    await name.fill('');
    const [refused] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/sync-jobs/preview')),
      form.getByRole('button', { name: 'Preview', exact: true }).click(),
    ]);
    expect(refused.status()).toBe(400);
    const refusal = (await refused.json()) as { error: { details: { path: string }[] } };
    expect(refusal.error.details.map((d) => d.path)).toContain('job.name');
    const nameField = form.locator('.field.field-invalid:has(input[name="name"])');
    await nameField.locator('.field-error').waitFor();
    expect(await name.getAttribute('aria-invalid')).toBe('true');
    await page.waitForFunction('document.activeElement?.getAttribute("name") === "name"');
    await page.getByTestId('preview-refused').waitFor();

    // The draft as the form stands: names upper-cased (not saved).
    await name.fill('Stripe customers, upper-cased');
    const nameMapping = form.getByRole('listitem', { name: 'Mapping 1' });
    await nameMapping.getByLabel('Transform').selectOption('uppercase');
    const [planned] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/sync-jobs/preview')),
      form.getByRole('button', { name: 'Preview', exact: true }).click(),
    ]);
    expect(planned.status()).toBe(200);
    const sent = planned.request().postDataJSON() as { job: ApiJob & { connectionId: string } };
    expect(sent.job).toMatchObject({ name: 'Stripe customers, upper-cased' });
    expect(sent.job.fieldMappings[0]).toMatchObject({ sourceField: 'name', transform: 'uppercase' });
    expect(await name.getAttribute('aria-invalid')).toBeNull();
    const preview = page.getByRole('region', { name: 'Preview of these settings' });
    await preview.getByRole('table').waitFor();
    await preview.getByText('Nothing was written.').waitFor();
    const customer = sandbox.store.get('customer', ids[1]!)!;
    const row1 = preview.locator(`tr[data-record-key="${ids[1]}"]`);
    expect(await row1.getAttribute('data-action')).toBe('update');
    const change = row1.locator('li[data-field="name"]');
    expect(await change.locator('.diff-from').textContent()).toBe(customer.name);
    expect(await change.locator('.diff-to').textContent()).toBe(String(customer.name).toUpperCase());
    const updates = Number(
      await preview.getByTestId('preview-summary').locator('[data-action="update"]').getAttribute('data-count'),
    );
    expect(updates).toBeGreaterThanOrEqual(CUSTOMERS - 2);
    await page.screenshot({ path: join(ARTIFACTS, '52-operator-preview-form.png'), fullPage: true });

    // Left without saving: the job is unchanged and nothing was written anywhere.
    await form.getByRole('link', { name: 'Cancel' }).click();
    await page.getByRole('heading', { name: 'Stripe customers', exact: true }).waitFor();
    expect(await footprint()).toEqual(before);
  }, 60_000);

  it('the record inspector from the search box and a deep link: reference, both sides, history of three runs', async () => {
    // Two more runs: the rename synced, then another rename synced. The unmappable customer fails in both
    // (its third failed run: it moves to the dead letter queue).
    const second = await runViaApi();
    expect(second).toMatchObject({ status: 'completed_with_errors', updated: 1, failed: 1 });
    sandbox.store.update('customer', ids[0]!, { name: 'Renamed Twice' });
    const third = await runViaApi();
    expect(third).toMatchObject({ status: 'completed_with_errors', updated: 1, failed: 1 });
    const localId = (
      await sql<{ local_id: string }>`SELECT local_id FROM external_references WHERE external_id = ${ids[0]!}`.execute(
        db(),
      )
    ).rows[0]!.local_id;

    await page.goto(`${server.url}/jobs/${jobId}`);
    const finder = page.getByRole('region', { name: 'Find a record' });
    await finder.getByLabel('Record id').fill(ids[0]!);
    await finder.getByLabel('Id on').selectOption('provider');
    await finder.getByRole('button', { name: 'Inspect' }).click();
    const dialog = inspector();
    await dialog.waitFor();
    expect(await dialog.getAttribute('aria-labelledby')).toBeTruthy();
    expect(new URLSearchParams(searchOf()).get('record')).toBe(ids[0]);
    expect(new URLSearchParams(searchOf()).get('side')).toBe('provider');

    const reference = dialog.getByTestId('record-reference');
    await reference.waitFor();
    expect(await reference.textContent()).toContain(localId);
    expect(await reference.textContent()).toContain(ids[0]);
    const local = dialog.locator('[data-record-side="local"]');
    const provider = dialog.locator('[data-record-side="provider"]');
    expect(await local.locator('[data-state]').getAttribute('data-state')).toBe('found');
    expect(await provider.locator('[data-state]').getAttribute('data-state')).toBe('found');
    expect(await local.getByRole('table').first().locator('tr[data-field="name"] td').textContent()).toBe(
      'Renamed Twice',
    );
    // The provider's content mapped for the local table (inbound mappings): the same name, nothing differs.
    const mapped = provider.getByRole('table', { name: /Mapped for the local table/ });
    expect(await mapped.locator('tr[data-field="name"] td').textContent()).toBe('Renamed Twice');
    expect(await mapped.locator('.kv-changed').count()).toBe(0);
    expect(await dialog.textContent()).not.toContain(KEY);

    // The history: created in the first run, updated in the second and the third (newest first).
    const history = dialog.getByTestId('record-history');
    const outcomes = await history
      .locator('tbody tr')
      .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-outcome')));
    expect(outcomes).toEqual(['updated', 'updated', 'created']);
    const links = await history
      .locator('[data-execution-link]')
      .evaluateAll((as) => as.map((a) => a.getAttribute('data-execution-link')));
    expect(links).toEqual([third.id, second.id, firstRun]);
    expect(await dialog.getByTestId('record-retry').textContent()).toContain('Not waiting for a retry');
    expect(await dialog.getByTestId('record-dead-letter').textContent()).toContain('Not in the dead letter queue');
    await page.screenshot({ path: join(ARTIFACTS, '53-operator-inspector.png'), fullPage: true });

    // A history link closes the inspector and opens that execution in the history.
    await history.locator(`[data-execution-link="${second.id}"]`).click();
    await page.waitForURL(`**/jobs/${jobId}/executions/${second.id}`);
    await inspector().waitFor({ state: 'detached' });
    await detail(second.id).getByTestId('execution-detail').waitFor();
    expect(searchOf()).toBe('');

    // A deep link opens it on load; by the local id it is the same record; Escape closes it.
    await page.goto(`${server.url}/jobs/${jobId}?record=${encodeURIComponent(localId)}&side=local`);
    await inspector().getByTestId('record-history').waitFor();
    expect(await inspector().getByTestId('record-reference').textContent()).toContain(ids[0]);
    expect(
      await inspector()
        .getByTestId('record-history')
        .locator('tbody tr')
        .evaluateAll((rows) => rows.length),
    ).toBe(3);
    await page.keyboard.press('Escape');
    await inspector().waitFor({ state: 'detached' });
    // The dialog leaves the accessibility tree as it closes; its close event (which clears the search) comes
    // after, as a task of its own: wait for the URL rather than read it at once.
    await page.waitForURL((url) => url.search === '');
    expect(searchOf()).toBe('');
    await page.getByRole('heading', { name: 'Stripe customers', exact: true }).waitFor();
  }, 120_000);

  it('failure rows and dead-letter rows open the inspector on their record', async () => {
    const bad = ids[2]!;
    await page.goto(`${server.url}/jobs/${jobId}/executions/${firstRun}`);
    const d = detail(firstRun);
    await d.getByTestId('execution-detail').waitFor();
    const failures = d.getByRole('table', { name: /Failed records/ });
    await failures.getByRole('link', { name: `Inspect record ${bad}` }).click();
    const dialog = inspector();
    await dialog.getByTestId('record-failures').waitFor();
    // The execution stays open under the inspector.
    await page.waitForURL(`**/jobs/${jobId}/executions/${firstRun}?*`);
    expect(new URLSearchParams(searchOf()).get('side')).toBe('provider');
    // Never linked; it failed in each of the three runs (mapping), and now sits in the dead letter queue.
    expect(await dialog.getByTestId('record-reference').textContent()).toContain('No reference');
    const failureRows = dialog.getByTestId('record-failures').locator('tbody tr');
    expect(await failureRows.count()).toBe(3);
    expect(await failureRows.first().textContent()).toContain('map');
    const outcomes = await dialog
      .getByTestId('record-history')
      .locator('tbody tr')
      .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-outcome')));
    expect(outcomes).toEqual(['failed', 'failed', 'failed']);
    expect(await dialog.locator('[data-record-side="provider"] [data-testid="side-problem"]').textContent()).toMatch(
      /mapping: .*to_number/,
    );
    const dead = dialog.getByTestId('record-dead-letter-detail');
    expect(await dead.textContent()).toContain('Dead letter (open');
    expect(await dead.textContent()).toContain('3 runs');
    await page.screenshot({ path: join(ARTIFACTS, '54-operator-inspector-failure.png'), fullPage: true });
    await dialog.getByRole('button', { name: 'Close' }).click();
    await inspector().waitFor({ state: 'detached' });
    await page.waitForURL(`**/jobs/${jobId}/executions/${firstRun}`);

    // The dead letter queue's row links to the same record.
    const letter = page.locator(`tr[data-dead-letter="${bad}"]`);
    await letter.getByRole('link', { name: `Inspect record ${bad}` }).click();
    await inspector().getByTestId('record-dead-letter').waitFor();
    expect(await inspector().getByTestId('record-dead-letter').textContent()).toMatch(/Dead letter\s*Open/);
    await page.keyboard.press('Escape');
    await inspector().waitFor({ state: 'detached' });

    expect(pageErrors).toEqual([]);
  }, 60_000);
});
