/**
 * Manual conflicts in the web UI (issue "Deletes and conflicts"): the job detail's open-conflicts count and
 * Conflicts panel, a side-by-side diff per record, resolving one conflict field by field, one by side (after a
 * refusal from the provider, shown in words), and the selected ones with a chosen winner; then the Resolved view.
 *
 * Debian's Chromium driven by playwright-core against the real server, in process (`serve()` on a fresh PGlite
 * directory), with the in-memory provider passed through `providers` and a local entity from a config file.
 * Conflicts are made as people make them: a record edited at the provider (the memory provider's `patch`) and in
 * the local table (SQL on the server's database) between two runs of a bidirectional job under Manual review.
 * Outcomes are checked through the API, the local table and the provider. Skipped without /usr/bin/chromium
 * (failed when CI is set), like test/ui/ui.test.ts.
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
import { createMemoryProvider, type MemoryProvider } from '../../src/connectors/memory.ts';
import { waitFor } from '../helpers/db.ts';
import { ARTIFACTS, CHROMIUM, ensureWebBuilt, hasChromium, inCi, openPage } from './browser.ts';

const FINAL = ['completed', 'completed_with_errors', 'failed', 'timed_out', 'cancelled'];
const TABLE = 'ui_conflict_customers';
const RESOLVER = 'ops@example.test';
/** Provider ids that sort in creation order (the memory provider pages by id). */
const cid = (i: number) => `c${String(i).padStart(4, '0')}`;

interface ApiExecution {
  id: string;
  status: string;
  processed: number;
  created: number;
  updated: number;
  deleted: number;
  skipped: number;
  failed: number;
  conflicts: number;
}
interface ApiConflict {
  id: string;
  externalId: string;
  localId: string;
  fields: string[];
  status: string;
  resolution: Record<string, unknown> | null;
  resolvedBy: string | null;
  resolvedAt: string | null;
}

describe.skipIf(!hasChromium && !inCi)('manual conflicts in the web UI (Chromium + real server)', () => {
  let dir: string;
  let server: RunningServer;
  let provider: MemoryProvider;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];
  let jobId = '';

  const api = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${server.url}/api/v1${path}`, {
      method,
      ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };
  /** Starts a run through the API and waits for its final status. */
  const run = async (): Promise<ApiExecution> => {
    const { executionId } = await api<{ executionId: string }>('POST', `/sync-jobs/${jobId}/run`);
    return waitFor(
      async () => {
        const e = await api<ApiExecution>('GET', `/executions/${executionId}`);
        return FINAL.includes(e.status) ? e : null;
      },
      `execution ${executionId} to finish`,
      30_000,
    );
  };
  const db = () => server.engine.database.db;
  const localIdOf = async (externalId: string) =>
    (
      await sql<{
        local_id: string;
      }>`SELECT local_id FROM external_references WHERE external_id = ${externalId}`.execute(db())
    ).rows[0]!.local_id;
  /** Edits a local row as the application would (its update time bumped). */
  const editLocal = async (externalId: string, values: { name?: string; email?: string }) => {
    const id = await localIdOf(externalId);
    await sql`UPDATE ${sql.table(TABLE)} SET name = coalesce(${values.name ?? null}, name),
      email = coalesce(${values.email ?? null}, email), updated_at = clock_timestamp() WHERE id = ${id}::uuid`.execute(
      db(),
    );
  };
  const localRow = async (externalId: string) => {
    const id = await localIdOf(externalId);
    return (
      await sql<{
        name: string;
        email: string;
      }>`SELECT name, email FROM ${sql.table(TABLE)} WHERE id = ${id}::uuid`.execute(db())
    ).rows[0];
  };
  const providerRow = (externalId: string) => provider.get('customer', externalId)?.data;
  const card = (externalId: string) => page.getByRole('article', { name: `Record ${externalId}` });
  const openCount = () => page.getByTestId('open-conflicts-count').getAttribute('data-count');

  beforeAll(async () => {
    if (!hasChromium) throw new Error(`${CHROMIUM} is absent and CI is set: the UI tests must run in CI`);
    mkdirSync(ARTIFACTS, { recursive: true });
    ensureWebBuilt();
    dir = mkdtempSync(join(tmpdir(), 'otesse-ui-conflicts-'));
    const configPath = join(dir, 'otesse-sync.config.json');
    writeFileSync(configPath, JSON.stringify({ localEntities: { customers: { table: TABLE } } }));
    provider = createMemoryProvider({ entityTypes: ['customer'] });
    for (let i = 0; i < 4; i++) provider.put('customer', { name: `N${i}`, email: `e${i}@x.test` }, cid(i));
    server = await serve({
      database: join(dir, 'data'),
      configPath,
      providers: [provider.definition],
      host: '127.0.0.1',
      port: 0,
      token: null,
      logger: pino({ enabled: false }),
      encryptionKeys: [randomBytes(32).toString('hex')],
    });
    await server.engine.database.exec(`
      CREATE TABLE ${TABLE} (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name text, email text,
        updated_at timestamptz NOT NULL DEFAULT clock_timestamp());`);

    const connection = await api<{ id: string }>('POST', '/connections', { provider: 'memory', name: 'Memory CRM' });
    const job = await api<{ id: string }>('POST', '/sync-jobs', {
      connectionId: connection.id,
      name: 'Customers both ways',
      entityType: 'customer',
      localEntity: 'customers',
      direction: 'bidirectional',
      mode: 'full',
      conflictStrategy: 'manual',
      fieldMappings: ['name', 'email'].flatMap((f) => [
        { sourceField: f, targetField: f, direction: 'inbound' },
        { sourceField: f, targetField: f, direction: 'outbound' },
      ]),
    });
    jobId = job.id;

    ({ browser, page } = await openPage({ pageErrors }));
  }, 180_000);

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('raises conflicts for records changed on both sides; the job detail shows the count and the diff', async () => {
    const first = await run();
    expect(first).toMatchObject({ status: 'completed', created: 4, failed: 0, conflicts: 0 });

    // c0: both fields differ; c1 and c2: the name differs; c3 changes on one side only (synced, no conflict).
    provider.patch('customer', cid(0), { name: 'P zero', email: 'p0@x.test' });
    await editLocal(cid(0), { name: 'L zero', email: 'l0@x.test' });
    provider.patch('customer', cid(1), { name: 'P one' });
    await editLocal(cid(1), { name: 'L one' });
    provider.patch('customer', cid(2), { name: 'P two' });
    await editLocal(cid(2), { name: 'L two' });
    await editLocal(cid(3), { name: 'L three' });

    const second = await run();
    expect(second).toMatchObject({ conflicts: 3, failed: 0 });
    expect(providerRow(cid(3))?.name).toBe('L three');

    await page.goto(`${server.url}/jobs/${jobId}`);
    await page.getByRole('heading', { name: 'Customers both ways' }).waitFor();
    expect(await page.getByTestId('job-open-conflicts').textContent()).toBe('3 open conflicts');
    await page.getByRole('heading', { name: /^Conflicts/ }).waitFor();
    expect(await openCount()).toBe('3');
    await card(cid(0)).waitFor();
    expect(await page.getByRole('article', { name: /^Record / }).count()).toBe(3);

    // The diff of c0: field | Local | Provider, both fields marked as differing.
    const c0 = card(cid(0));
    const headers = await c0.locator('thead th').allTextContents();
    expect(headers).toEqual(['Field', 'Local', 'Provider']);
    for (const [field, local, remote] of [
      ['name', 'L zero', 'P zero'],
      ['email', 'l0@x.test', 'p0@x.test'],
    ]) {
      const row = c0.locator(`tr[data-field="${field}"]`);
      expect(await row.getAttribute('data-differs')).toBe('true');
      expect(await row.locator('td[data-side="local"]').textContent()).toContain(local);
      expect(await row.locator('td[data-side="provider"]').textContent()).toContain(remote);
    }
    // c1: only the name differs; the email is shown, not highlighted, without a choice.
    const c1Email = card(cid(1)).locator('tr[data-field="email"]');
    expect(await c1Email.getAttribute('data-differs')).toBe('false');
    expect(await c1Email.getByRole('radio').count()).toBe(0);
    await page.screenshot({ path: join(ARTIFACTS, '40-conflicts-open.png'), fullPage: true });
  }, 120_000);

  it('resolves one conflict field by field', async () => {
    await page.getByLabel('Resolved by').fill(RESOLVER);
    const c0 = card(cid(0));
    const byField = c0.getByRole('button', { name: 'by field' });
    // Every differing field must be chosen first.
    expect(await byField.isDisabled()).toBe(true);
    await c0.getByRole('radio', { name: 'Use provider name' }).check();
    expect(await byField.isDisabled()).toBe(true);
    await c0.getByRole('radio', { name: 'Use local email' }).check();
    expect(await c0.locator('tr[data-field="name"] td[data-side="provider"]').getAttribute('class')).toContain(
      'diff-chosen',
    );
    const [response] = await Promise.all([
      page.waitForResponse((r) => /\/conflicts\/[^/]+\/resolve$/.test(r.url())),
      byField.click(),
    ]);
    expect(response.status()).toBe(200);
    await c0.waitFor({ state: 'detached' });
    await page
      .getByRole('status')
      .filter({ hasText: `Resolved ${cid(0)}. By field` })
      .waitFor();
    await expect.poll(openCount).toBe('2');

    expect(await localRow(cid(0))).toEqual({ name: 'P zero', email: 'l0@x.test' });
    expect(providerRow(cid(0))).toMatchObject({ name: 'P zero', email: 'l0@x.test' });
  }, 60_000);

  it('shows a refusal in words, then resolves by side', async () => {
    const c1 = card(cid(1));
    // The provider refuses the write: the conflict stays open and the reason is shown at it.
    provider.faults.rejectWrite = (op) => (op.targetId === cid(1) ? 'name is locked by a workflow' : undefined);
    const [refused] = await Promise.all([
      page.waitForResponse((r) => /\/conflicts\/[^/]+\/resolve$/.test(r.url())),
      c1.getByRole('button', { name: 'Keep local' }).click(),
    ]);
    expect(refused.status()).toBe(409);
    const alert = c1.getByRole('alert');
    await alert.waitFor();
    const text = (await alert.textContent())!;
    expect(text).toContain('Not resolved.');
    expect(text).toContain('name is locked by a workflow');
    expect(text).toContain('the conflict stays open');
    expect(await openCount()).toBe('2');
    expect(providerRow(cid(1))?.name).toBe('P one');
    await page.screenshot({ path: join(ARTIFACTS, '41-conflict-refused.png'), fullPage: true });

    provider.faults.rejectWrite = undefined;
    await c1.getByRole('button', { name: 'Keep local' }).click();
    await c1.waitFor({ state: 'detached' });
    await page
      .getByRole('status')
      .filter({ hasText: `Resolved ${cid(1)}. Local kept` })
      .waitFor();
    await expect.poll(openCount).toBe('1');
    expect(await localRow(cid(1))).toEqual({ name: 'L one', email: 'e1@x.test' });
    expect(providerRow(cid(1))).toMatchObject({ name: 'L one', email: 'e1@x.test' });
  }, 60_000);

  it('resolves the selected conflicts with the chosen winner', async () => {
    const toolbar = page.getByRole('toolbar', { name: 'Selected conflicts' });
    const resolveSelected = toolbar.getByRole('button', { name: 'Resolve selected' });
    expect(await resolveSelected.isDisabled()).toBe(true);
    await card(cid(2))
      .getByRole('checkbox', { name: `Select ${cid(2)}` })
      .check();
    await toolbar.getByText('1 selected').waitFor();
    await toolbar.getByLabel('Winner').selectOption('provider');
    await resolveSelected.click();
    await page.getByRole('status').filter({ hasText: 'Resolved 1 conflict: provider kept.' }).waitFor();
    await page.getByText('No open conflicts. Nothing needs a decision.').waitFor();
    await expect.poll(openCount).toBe('0');
    // The summary's count is gone with the last open conflict.
    await page.getByTestId('job-open-conflicts').waitFor({ state: 'detached' });
    expect(await localRow(cid(2))).toEqual({ name: 'P two', email: 'e2@x.test' });
    expect(providerRow(cid(2))).toMatchObject({ name: 'P two', email: 'e2@x.test' });
  }, 60_000);

  it('lists what happened in the Resolved view; the API agrees; the next run raises nothing', async () => {
    await page.locator('#conflicts-status').selectOption('resolved');
    const resolvedRow = (externalId: string) => page.locator(`tr[data-external-id="${externalId}"]`);
    await resolvedRow(cid(0)).waitFor();
    expect(await resolvedRow(cid(0)).locator('[data-col="resolution"]').textContent()).toBe(
      'By field: email from local, name from provider',
    );
    expect(await resolvedRow(cid(0)).locator('[data-col="after"] li').allTextContents()).toEqual([
      'email: l0@x.test',
      'name: P zero',
    ]);
    expect(await resolvedRow(cid(1)).locator('[data-col="resolution"]').textContent()).toContain('Local kept');
    expect(await resolvedRow(cid(2)).locator('[data-col="resolution"]').textContent()).toContain('Provider kept');
    for (const id of [cid(0), cid(1), cid(2)]) {
      expect(await resolvedRow(id).locator('[data-col="resolved-by"]').textContent()).toBe(RESOLVER);
      expect(await resolvedRow(id).locator('[data-col="resolved-at"] time').count()).toBe(1);
    }
    await page.screenshot({ path: join(ARTIFACTS, '42-conflicts-resolved.png'), fullPage: true });

    const resolved = await api<{ items: ApiConflict[] }>('GET', `/sync-jobs/${jobId}/conflicts?status=resolved`);
    const byRecord = new Map(resolved.items.map((c) => [c.externalId, c]));
    expect(resolved.items).toHaveLength(3);
    expect(byRecord.get(cid(0))).toMatchObject({
      status: 'resolved',
      fields: ['email', 'name'],
      resolution: { fields: { name: 'provider', email: 'local' } },
      resolvedBy: RESOLVER,
    });
    expect(byRecord.get(cid(1))).toMatchObject({ status: 'resolved', resolution: { winner: 'local' } });
    expect(byRecord.get(cid(2))).toMatchObject({ status: 'resolved', resolution: { winner: 'provider' } });
    for (const c of resolved.items) expect(c.resolvedAt).toBeTruthy();
    expect((await api<{ items: ApiConflict[] }>('GET', `/sync-jobs/${jobId}/conflicts?status=open`)).items).toEqual([]);
    expect((await api<{ openConflicts: number }>('GET', `/sync-jobs/${jobId}`)).openConflicts).toBe(0);

    const after = await run();
    expect(after).toMatchObject({ status: 'completed', conflicts: 0, created: 0, updated: 0, failed: 0 });
    expect(await localRow(cid(0))).toEqual({ name: 'P zero', email: 'l0@x.test' });
    expect(providerRow(cid(1))).toMatchObject({ name: 'L one' });
  }, 60_000);

  it('a deletion against an update: the deleted side is shown as deleted and resolved whole', async () => {
    await api('PATCH', `/sync-jobs/${jobId}`, { deletePolicy: 'hard_delete', massDeleteThreshold: 100 });
    provider.remove('customer', cid(3));
    await editLocal(cid(3), { name: 'L three again' });
    expect(await run()).toMatchObject({ conflicts: 1, deleted: 0, failed: 0 });

    await page.reload();
    const c3 = card(cid(3));
    await c3.waitFor();
    expect(await openCount()).toBe('1');
    expect(await page.getByTestId('job-open-conflicts').textContent()).toBe('1 open conflict');
    expect(await c3.locator('td[data-side="provider"]').textContent()).toContain('deleted');
    expect(await c3.locator('tr[data-field="name"] td[data-side="local"]').textContent()).toContain('L three again');
    expect(await c3.getByRole('radio').count()).toBe(0);
    expect(await c3.getByRole('button', { name: 'by field' }).count()).toBe(0);
    expect(await c3.locator('.notice').textContent()).toContain('Deleted at the provider and changed locally');
    await page.screenshot({ path: join(ARTIFACTS, '43-conflict-deletion.png'), fullPage: true });

    await c3.getByRole('button', { name: 'Keep local' }).click();
    await c3.waitFor({ state: 'detached' });
    await page.getByRole('status').filter({ hasText: 'the record was created again at the provider' }).waitFor();
    await expect.poll(openCount).toBe('0');
    const recreated = provider.all('customer').filter((r) => r.data.name === 'L three again');
    expect(recreated).toHaveLength(1);
    expect(recreated[0]!.id).not.toBe(cid(3));

    await page.locator('#conflicts-status').selectOption('resolved');
    const row = page.locator(`tr[data-external-id="${cid(3)}"]`);
    await row.waitFor();
    expect(await row.locator('[data-col="resolution"]').textContent()).toBe(
      'Local kept: the record was created again at the provider',
    );
    expect(await run()).toMatchObject({ status: 'completed', conflicts: 0, deleted: 0, created: 0, failed: 0 });
    expect(await sql<{ n: number }>`SELECT count(*)::int AS n FROM ${sql.table(TABLE)}`.execute(db())).toMatchObject({
      rows: [{ n: 4 }],
    });
  }, 60_000);

  it('raised no uncaught errors in the page', () => {
    expect(pageErrors).toEqual([]);
  });
});
