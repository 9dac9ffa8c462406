/**
 * Deletes in the web UI (issue "Deletes and conflicts"): the job form's delete policy and mass-delete threshold,
 * a run that deletes a record (the Deleted slice of the pie chart, the Deleted column), and a run stopped by the
 * mass-delete protection whose held deletions are applied with "Apply deletions".
 *
 * Debian's Chromium driven by playwright-core against the real server, in process (`serve()` with the demo: its
 * Stripe sandbox and demo tables), on a fresh PGlite directory of its own. Records are deleted at the source
 * through the sandbox's API (DELETE /v1/customers/:id, as in Stripe), and outcomes are checked through the API
 * and the local table. Skipped without /usr/bin/chromium (failed when CI is set), like test/ui/ui.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { pino } from 'pino';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, serve } from '../../src/api/serve.ts';
import { ARTIFACTS, CHROMIUM, ensureWebBuilt, hasChromium, inCi, openPage } from './browser.ts';

/** The key the demo's Stripe sandbox accepts (src/api/demo.ts). */
const DEMO_API_KEY = 'sk_test_demo_sandbox_key';
/** Demo customers at the source: 1 deleted is 10% (under the 20–25% threshold), 3 of the 9 left are 33% (over). */
const CUSTOMERS = 10;
const FINAL = ['completed', 'completed_with_errors', 'failed', 'timed_out', 'cancelled'];

interface ApiJob {
  id: string;
  name: string;
  deletePolicy: string;
  massDeleteThreshold: number;
}
interface ApiExecution {
  id: string;
  status: string;
  trigger: string;
  processed: number;
  created: number;
  updated: number;
  deleted: number;
  skipped: number;
  failed: number;
  haltKind: string | null;
  haltReason: string | null;
  heldDeletions: number | null;
}

describe.skipIf(!hasChromium && !inCi)('deletes in the web UI (Chromium + real server with the demo)', () => {
  let dir: string;
  let server: RunningServer;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];
  let jobId = '';

  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${server.url}/api/v1${path}`);
    if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };
  /** A call to the demo's Stripe sandbox, as a Stripe client would make it. */
  const stripe = async <T>(method: string, path: string): Promise<T> => {
    const res = await fetch(`${server.demo!.sandbox.url}/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${DEMO_API_KEY}` },
    });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };
  const sourceCustomers = async () =>
    (await stripe<{ data: { id: string }[] }>('GET', '/customers?limit=100')).data.map((c) => c.id);
  const localRows = async () =>
    (await sql<{ n: number }>`SELECT count(*)::int AS n FROM demo_customers`.execute(server.engine.database.db))
      .rows[0]!.n;

  const row = (executionId: string) => page.locator(`tr[data-execution-id="${executionId}"]`);
  const cell = async (executionId: string, col: string) =>
    Number(await row(executionId).locator(`[data-col="${col}"]`).textContent());
  /** Waits (without reloading the page) until the execution's row shows a final status; returns it. */
  const waitFinal = async (executionId: string): Promise<string> => {
    const selector = FINAL.map((s) => `tr[data-execution-id="${executionId}"][data-status="${s}"]`).join(', ');
    await page.waitForSelector(selector, { timeout: 60_000 });
    return (await row(executionId).getAttribute('data-status'))!;
  };
  /** Clicks Run Now and returns the new execution's id (from the 202 answer). */
  const runNow = async (): Promise<string> => {
    const [response] = await Promise.all([
      page.waitForResponse((r) => /\/sync-jobs\/[^/]+\/run$/.test(r.url()) && r.request().method() === 'POST'),
      page.getByRole('button', { name: 'Run Now' }).click(),
    ]);
    expect(response.status()).toBe(202);
    return ((await response.json()) as { executionId: string }).executionId;
  };
  const expand = async (executionId: string) => {
    await row(executionId)
      .getByRole('button', { name: /Show details/ })
      .click();
    await page.waitForURL(`**/jobs/${jobId}/executions/${executionId}`);
  };
  const legend = (executionId: string) => page.locator(`#execution-${executionId} [data-testid="record-pie"] li`);

  beforeAll(async () => {
    if (!hasChromium) throw new Error(`${CHROMIUM} is absent and CI is set: the UI tests must run in CI`);
    mkdirSync(ARTIFACTS, { recursive: true });
    ensureWebBuilt();
    dir = mkdtempSync(join(tmpdir(), 'otesse-ui-deletes-'));
    server = await serve({
      database: dir,
      host: '127.0.0.1',
      port: 0,
      token: null,
      demo: true,
      demoRecords: CUSTOMERS,
      logger: pino({ enabled: false }),
      encryptionKeys: [randomBytes(32).toString('hex')],
    });
    // Only this test's runs: no sandbox webhooks (they would start single-record runs), no scheduled demo runs.
    server.demo!.sandbox.webhookEndpoints = [];
    for (const job of await server.engine.jobs.list({})) await server.engine.jobs.update(job.id, { enabled: false });
    ({ browser, page } = await openPage({ pageErrors }));
  }, 180_000);

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('sets the delete policy in the job form; refused values are shown at their fields', async () => {
    const connectionId = server.demo!.connectionId!;
    await page.goto(`${server.url}/connections/${connectionId}/jobs/new`);
    await page.getByRole('heading', { name: 'Add Sync Job' }).waitFor();

    // Default: Ignore, and no threshold to set.
    const policy = (value: string) => page.locator(`input[name="deletePolicy"][value="${value}"]`);
    expect(await policy('ignore').isChecked()).toBe(true);
    expect(await page.locator('input[name="massDeleteThreshold"]').count()).toBe(0);
    const fieldset = page.locator('fieldset.delete-policy');
    await fieldset.getByText('The target keeps the record: nothing is deleted.').waitFor();
    await fieldset.getByText('The target keeps the record and marks it deleted.').waitFor();
    await fieldset.getByText('The target record is deleted too.').waitFor();

    await page.locator('input[name="name"]').fill('Deleting customers');
    await page.locator('select[name="entityType"]').selectOption('customer');
    await page.locator('select[name="localEntity"]').selectOption('customers');
    await page.locator('input[name="mode"][value="full"]').check();
    for (const [i, field] of ['name', 'email'].entries()) {
      await page.getByRole('button', { name: 'Add mapping' }).click();
      const item = page.locator('li.mapping').nth(i);
      await item.getByLabel(/Source field/).fill(field);
      await item.getByLabel(/Target field/).fill(field);
    }
    // Runs only when started here (no schedule, no webhooks).
    await page.locator('input[name="enabled"]').uncheck();

    // Outbound, Mark deleted can be chosen (the provider is the target); inbound, the demo's table has no
    // soft-delete column: the choice is disabled and says why.
    await page.locator('input[name="direction"][value="outbound"]').check();
    expect(await policy('soft_delete').isDisabled()).toBe(false);
    await policy('soft_delete').check();
    await page.locator('input[name="direction"][value="inbound"]').check();
    expect(await policy('soft_delete').isDisabled()).toBe(true);
    expect(await policy('soft_delete').isChecked()).toBe(true);
    expect(await page.getByTestId('soft-delete-unavailable').textContent()).toContain('has no soft-delete column');
    await page.locator('input[name="massDeleteThreshold"]').waitFor();
    expect(await page.locator('input[name="massDeleteThreshold"]').inputValue()).toBe('20');
    await page.screenshot({ path: join(ARTIFACTS, '30-delete-policy-unavailable.png'), fullPage: true });

    // Saved anyway: the server refuses it, and the form shows why at the policy.
    const [refused] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/api/v1/sync-jobs') && r.request().method() === 'POST'),
      page.getByRole('button', { name: 'Create sync job' }).click(),
    ]);
    expect(refused.status()).toBe(400);
    const policyError = fieldset.locator(':scope > .field-error');
    await policyError.waitFor();
    expect(await policyError.textContent()).toMatch(/soft.delete column/);
    expect(await fieldset.getAttribute('class')).toContain('field-invalid');

    // Delete, with a threshold out of range: refused at the threshold's field.
    await policy('hard_delete').check();
    await page.locator('input[name="massDeleteThreshold"]').fill('0');
    await page.getByRole('button', { name: 'Create sync job' }).click();
    const thresholdField = page.locator('.field', { has: page.locator('input[name="massDeleteThreshold"]') });
    await thresholdField.locator('.field-error').waitFor();
    expect(await thresholdField.locator('.field-error').textContent()).toContain('percentage');
    expect(await page.locator('input[name="massDeleteThreshold"]').getAttribute('aria-invalid')).toBe('true');
    expect(await policyError.count()).toBe(0);

    await page.locator('input[name="massDeleteThreshold"]').fill('20');
    await page.getByRole('button', { name: 'Create sync job' }).click();
    await page.getByRole('heading', { name: 'Deleting customers' }).waitFor();
    jobId = page.url().split('/jobs/')[1]!;
    expect(await page.getByTestId('delete-policy').getAttribute('data-policy')).toBe('hard_delete');
    expect(await page.getByTestId('delete-policy').textContent()).toContain('The target record is deleted too.');
    expect(await page.getByTestId('mass-delete-threshold').textContent()).toContain('20%');
    expect(await api<ApiJob>(`/sync-jobs/${jobId}`)).toMatchObject({
      deletePolicy: 'hard_delete',
      massDeleteThreshold: 20,
    });

    // Edit: the form shows the saved policy and sends a changed threshold.
    await page.getByRole('link', { name: 'Edit', exact: true }).click();
    await page.getByRole('heading', { name: 'Edit Deleting customers' }).waitFor();
    expect(await policy('hard_delete').isChecked()).toBe(true);
    expect(await page.locator('input[name="massDeleteThreshold"]').inputValue()).toBe('20');
    await page.locator('input[name="massDeleteThreshold"]').fill('25');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('heading', { name: 'Deleting customers' }).waitFor();
    await expect.poll(() => page.getByTestId('mass-delete-threshold').textContent()).toContain('25%');
    expect(await api<ApiJob>(`/sync-jobs/${jobId}`)).toMatchObject({
      deletePolicy: 'hard_delete',
      massDeleteThreshold: 25,
    });
    await page.screenshot({ path: join(ARTIFACTS, '31-job-delete-policy.png'), fullPage: true });
  }, 120_000);

  it('a run deletes the local row of a customer deleted at the source: Deleted 1 in the detail', async () => {
    const first = await runNow();
    expect(await waitFinal(first)).toBe('completed');
    expect(await cell(first, 'created')).toBe(CUSTOMERS);
    expect(await cell(first, 'deleted')).toBe(0);
    expect(await localRows()).toBe(CUSTOMERS);

    const [gone] = await sourceCustomers();
    expect(await stripe<{ deleted: boolean }>('DELETE', `/customers/${gone}`)).toMatchObject({ deleted: true });

    const second = await runNow();
    expect(await waitFinal(second)).toBe('completed');
    expect(await cell(second, 'deleted')).toBe(1);
    expect(await cell(second, 'processed')).toBe(CUSTOMERS);
    const e = await api<ApiExecution>(`/executions/${second}`);
    expect(e).toMatchObject({ status: 'completed', deleted: 1, failed: 0 });
    expect(e.created + e.updated + e.deleted + e.skipped + e.failed).toBe(e.processed);
    expect(await localRows()).toBe(CUSTOMERS - 1);

    await expand(second);
    await page.locator(`#execution-${second} [data-testid="record-pie"] .recharts-pie-sector`).first().waitFor();
    const deletedItem = legend(second).filter({ hasText: 'Deleted' });
    expect((await deletedItem.textContent())?.replace(/\s+/g, ' ')).toMatch(/^Deleted 1 \(\d+%\)$/);
    const label = await page
      .locator(`#execution-${second} [data-testid="record-pie"] [role="img"]`)
      .getAttribute('aria-label');
    expect(label).toContain('deleted 1');
    await page.screenshot({ path: join(ARTIFACTS, '32-execution-deleted.png'), fullPage: true });
  }, 120_000);

  it('trips the mass-delete protection, then applies the held deletions', async () => {
    const ids = await sourceCustomers();
    expect(ids).toHaveLength(CUSTOMERS - 1);
    for (const id of ids.slice(0, 3)) await stripe('DELETE', `/customers/${id}`);

    const held = await runNow();
    expect(await waitFinal(held)).toBe('completed_with_errors');
    expect(await cell(held, 'deleted')).toBe(0);
    const before = await api<ApiExecution>(`/executions/${held}`);
    expect(before).toMatchObject({ haltKind: 'mass_delete', heldDeletions: 3, deleted: 0 });
    expect(before.haltReason).toContain('3 of 9 synced records');
    // Nothing was deleted.
    expect(await localRows()).toBe(CUSTOMERS - 1);

    await expand(held);
    const notice = page.locator(`#execution-${held} [data-testid="mass-delete"]`);
    await notice.waitFor();
    const noticeText = (await notice.textContent())!;
    expect(noticeText).toContain('3 of 9 synced records');
    expect(noticeText).toContain("more than this job's 25% threshold");
    expect(noticeText).toContain('Apply deletions applies 3 held deletions in a new execution');
    await page.screenshot({ path: join(ARTIFACTS, '33-mass-delete-held.png'), fullPage: true });

    await notice.getByRole('button', { name: 'Apply deletions' }).click();
    const dialog = page.getByRole('dialog', { name: 'Apply 3 held deletions?' });
    await dialog.waitFor();
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith(`/executions/${held}/apply-deletions`)),
      dialog.getByRole('button', { name: 'Apply deletions' }).click(),
    ]);
    expect(response.status()).toBe(202);
    const applied = ((await response.json()) as { executionId: string }).executionId;
    expect(applied).not.toBe(held);

    // The new execution is selected: listed, expanded, followed to its end.
    await page.waitForURL(`**/jobs/${jobId}/executions/${applied}`);
    expect(await waitFinal(applied)).toBe('completed');
    expect(await cell(applied, 'deleted')).toBe(3);
    await row(applied)
      .getByRole('button', { name: /Hide details/ })
      .waitFor();
    await expect
      .poll(async () => (await legend(applied).filter({ hasText: 'Deleted' }).textContent())?.replace(/\s+/g, ' '))
      .toMatch(/^Deleted 3 \(\d+%\)$/);
    await page.screenshot({ path: join(ARTIFACTS, '34-deletions-applied.png'), fullPage: true });

    expect(await api<ApiExecution>(`/executions/${applied}`)).toMatchObject({
      status: 'completed',
      trigger: 'manual',
      deleted: 3,
      failed: 0,
    });
    expect((await api<ApiExecution>(`/executions/${held}`)).heldDeletions).toBe(0);
    expect(await localRows()).toBe(CUSTOMERS - 4);

    // The held run now says its deletions were applied, without the button.
    await expand(held);
    await notice.getByText('The held deletions were applied').waitFor();
    expect(await notice.getByRole('button', { name: 'Apply deletions' }).count()).toBe(0);
  }, 120_000);

  it('raised no uncaught errors in the page', () => {
    expect(pageErrors).toEqual([]);
  });
});
