/**
 * End-to-end tests of the web UI: Debian's Chromium driven by playwright-core against the real server
 * (`otesse-sync serve --demo`) started as a child process on a fresh data directory.
 *
 * Flow: connect a provider, add a sync job through the form (an invalid cron is refused and shown at its field),
 * run it and watch it complete live, expand the execution and see the pie chart, see a failure's details, retry a
 * dead letter, and (on a second server with a slower sandbox and an API token) enter the token and cancel a long run.
 * Both demo sandboxes answer with a delay, so every run lasts long enough to be seen running.
 * Screenshots of each main screen go to test/ui/artifacts/.
 *
 * Without /usr/bin/chromium the tests are skipped with a warning, except when CI is set: then they fail.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_FROM_SOURCE, ROOT } from '../helpers/cli.ts';
import { ARTIFACTS, CHROMIUM, ensureWebBuilt, hasChromium, inCi, openPage } from './browser.ts';

/** At least 32 characters: the server refuses a shorter token. */
const TOKEN = 'e2e-ui-token-0123456789abcdefghij';
/** The key the demo's Stripe sandbox accepts (src/api/demo.ts; the API never returns credentials). */
const DEMO_API_KEY = 'sk_test_demo_sandbox_key';
/**
 * The main server's sandbox answers each request after this delay: a run of the demo's 500 customers (six pages)
 * lasts over a second, so its row is certain to show it queued and running before it completes.
 */
const DEMO_LATENCY_MS = '250';

if (!hasChromium && !inCi) {
  console.warn(`[ui tests] SKIPPED: ${CHROMIUM} is absent (install Debian's chromium package to run the UI tests).`);
}

// ── the server ──────────────────────────────────────────────────────────────────────────────────────────────

interface Server {
  url: string;
  child: ChildProcess;
  dataDir: string;
  output: () => string;
  token?: string;
}

async function startServer(env: Record<string, string> = {}, args: string[] = []): Promise<Server> {
  const dataDir = mkdtempSync(join(tmpdir(), 'otesse-ui-'));
  const child = spawn(
    process.execPath,
    [...CLI_FROM_SOURCE, 'serve', '--demo', '--port', '0', '--data-dir', dataDir, ...args],
    { cwd: ROOT, env: { ...process.env, ...env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  const seen = new Set<string>();
  const onData = (chunk: Buffer) => {
    out += chunk.toString();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}:\n${out}`);
    // The demo may also print its sandbox's URL: the server is the one that answers /healthz.
    for (const line of out.split('\n')) {
      for (const m of line.matchAll(/http:\/\/127\.0\.0\.1:\d+/g)) {
        const url = m[0];
        if (seen.has(url)) continue;
        try {
          const res = await fetch(`${url}/healthz`);
          const body = (await res.json().catch(() => null)) as { status?: string } | null;
          if (res.ok && body?.status === 'ok') {
            return { url, child, dataDir, output: () => out, token: env.OTESSE_SYNC_API_TOKEN };
          }
          seen.add(url);
        } catch {
          // not listening yet
        }
      }
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  child.kill('SIGKILL');
  throw new Error(`the server did not print a URL that answers /healthz within 90 s:\n${out}`);
}

async function stopServer(server: Server | undefined): Promise<void> {
  if (!server) return;
  const { child } = server;
  if (child.exitCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
  rmSync(server.dataDir, { recursive: true, force: true });
}

async function apiGet<T>(server: Server, path: string): Promise<T> {
  const res = await fetch(`${server.url}/api/v1${path}`, {
    headers: server.token ? { authorization: `Bearer ${server.token}` } : {},
  });
  if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

interface ApiConnection {
  id: string;
  name: string;
  provider: string;
  config: Record<string, unknown>;
}
interface ApiJob {
  id: string;
  name: string;
  connectionId: string;
  entityType: string;
  localEntity: string;
  direction: string;
  fieldMappings: {
    sourceField: string;
    targetField: string;
    transform: string | null;
    transformArgs?: unknown;
    defaultValue?: unknown;
    direction: string;
  }[];
}

// ── browser helpers ─────────────────────────────────────────────────────────────────────────────────────────

const FINAL = ['completed', 'completed_with_errors', 'failed', 'timed_out', 'cancelled'];

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** Clicks Run Now and returns the new execution's id (from the 202 answer). */
async function runNow(page: Page): Promise<string> {
  const [response] = await Promise.all([
    page.waitForResponse((r) => /\/sync-jobs\/[^/]+\/run$/.test(r.url()) && r.request().method() === 'POST'),
    page.getByRole('button', { name: 'Run Now' }).click(),
  ]);
  expect(response.status()).toBe(202);
  return ((await response.json()) as { executionId: string }).executionId;
}

function row(page: Page, executionId: string) {
  return page.locator(`tr[data-execution-id="${executionId}"]`);
}

/** Waits (without reloading the page) until the execution's row shows a final status; returns it. */
async function waitFinal(page: Page, executionId: string, timeout = 90_000): Promise<string> {
  const selector = FINAL.map((s) => `tr[data-execution-id="${executionId}"][data-status="${s}"]`).join(', ');
  await page.waitForSelector(selector, { timeout });
  return (await row(page, executionId).getAttribute('data-status'))!;
}

async function count(page: Page, executionId: string, col: string): Promise<number> {
  return Number(await row(page, executionId).locator(`[data-col="${col}"]`).textContent());
}

// ── the tests ───────────────────────────────────────────────────────────────────────────────────────────────

describe.skipIf(!hasChromium && !inCi)('web UI end to end (Chromium + real server with the demo)', () => {
  let server: Server | undefined;
  let slow: Server | undefined;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];
  let demoConnection: ApiConnection;
  let newJobId = '';

  beforeAll(async () => {
    if (!hasChromium) {
      throw new Error(`${CHROMIUM} is absent and CI is set: the UI tests must run in CI (install Debian's chromium)`);
    }
    mkdirSync(ARTIFACTS, { recursive: true });
    ensureWebBuilt();
    [server, slow] = await Promise.all([
      startServer({ OTESSE_SYNC_DEMO_LATENCY_MS: DEMO_LATENCY_MS }),
      // A slow sandbox (runs long enough to cancel) behind an API token (the UI must ask for it).
      startServer({ OTESSE_SYNC_DEMO_LATENCY_MS: '400', OTESSE_SYNC_API_TOKEN: TOKEN }, ['--demo-records', '2000']),
    ]);
    ({ browser, page } = await openPage({
      viewport: { width: 1360, height: 900 },
      pageErrors,
      extraArgs: ['--disable-background-networking', '--disable-component-update', '--disable-sync'],
    }));
    const { items } = await apiGet<{ items: ApiConnection[] }>(server, '/connections');
    const found = items.find((c) => c.provider === 'stripe');
    if (!found) throw new Error(`the demo has no Stripe connection: ${JSON.stringify(items)}`);
    demoConnection = found;
  }, 240_000);

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await Promise.all([stopServer(server), stopServer(slow)]);
  }, 60_000);

  it('lists the connected apps', async () => {
    // The home screen is the fleet overview; the connected apps are one click away.
    await page.goto(server!.url);
    await page.getByRole('heading', { name: 'Fleet overview' }).waitFor();
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Connected apps' }).click();
    await page.getByRole('heading', { name: 'Connected apps' }).waitFor();
    await page.getByRole('link', { name: demoConnection.name }).waitFor();
    await shot(page, '01-connected-apps');
  }, 60_000);

  it('connects a provider through the form and tests the connection', async () => {
    await page.getByRole('link', { name: 'Connect a provider' }).click();
    await page.getByRole('heading', { name: 'Connect a provider' }).waitFor();
    await page.locator('select[name="provider"]').selectOption('stripe');
    await page.locator('input[name="name"]').fill('Stripe (e2e)');
    await page.locator('input[name="config.apiBase"]').fill(String(demoConnection.config.apiBase));
    const apiKey = page.locator('input[name="credentials.apiKey"]');
    expect(await apiKey.getAttribute('type')).toBe('password');
    await apiKey.fill(DEMO_API_KEY);
    await shot(page, '02-connect-form');
    await page.getByRole('button', { name: 'Connect', exact: true }).click();
    await page.getByRole('heading', { name: 'Stripe (e2e)' }).waitFor();
    expect(page.url()).toMatch(/\/connections\/[^/]+$/);
    await page.getByText('Connection works.').waitFor();
    await page.getByText('No sync jobs for this connection yet.').waitFor();
    await shot(page, '03-connection-detail');
  }, 60_000);

  it('adds a sync job through the form; an invalid cron is refused and shown at its field', async () => {
    // Copy what the demo's inbound customers job syncs into (its local entity and mappings).
    const { items: jobs } = await apiGet<{ items: ApiJob[] }>(server!, `/sync-jobs?connectionId=${demoConnection.id}`);
    const model = jobs.find((j) => j.direction === 'inbound' && j.entityType === 'customer') ?? jobs[0]!;

    await page.getByRole('link', { name: 'Add Sync Job' }).click();
    await page.getByRole('heading', { name: 'Add Sync Job' }).waitFor();
    // Defaults of the spec's table.
    expect(await page.locator('input[name="retryOnFailure"]').isChecked()).toBe(true);
    expect(await page.locator('input[name="maxRetries"]').inputValue()).toBe('3');
    expect(await page.locator('input[name="timeoutMinutes"]').inputValue()).toBe('60');
    expect(await page.locator('input[name="scheduleKind"][value="manual"]').isChecked()).toBe(true);
    // Conflict strategy only for bidirectional jobs.
    expect(await page.locator('select[name="conflictStrategy"]').count()).toBe(0);
    await page.locator('input[name="direction"][value="bidirectional"]').check();
    await page.locator('select[name="conflictStrategy"]').waitFor();
    await page.locator('input[name="direction"][value="inbound"]').check();
    expect(await page.locator('select[name="conflictStrategy"]').count()).toBe(0);

    await page.locator('input[name="name"]').fill('E2E customers');
    await page.locator('select[name="entityType"]').selectOption(model.entityType);
    await page.locator('select[name="localEntity"]').selectOption(model.localEntity);
    await page.locator('input[name="mode"][value="full"]').check();
    for (const [i, m] of model.fieldMappings.entries()) {
      await page.getByRole('button', { name: 'Add mapping' }).click();
      const item = page.locator('li.mapping').nth(i);
      await item.getByLabel(/Source field/).fill(m.sourceField);
      await item.getByLabel(/Target field/).fill(m.targetField);
      if (m.transform) {
        await item.getByLabel('Transform', { exact: true }).selectOption(m.transform);
        if (m.transformArgs !== undefined) {
          await item.getByLabel('Transform arguments (JSON)').fill(JSON.stringify(m.transformArgs));
        }
      }
      if (m.defaultValue !== undefined && m.defaultValue !== null) {
        const d = m.defaultValue;
        await item.getByLabel('Default value').fill(typeof d === 'string' ? d : JSON.stringify(d));
      }
    }

    // Cron schedule: presets and the plain-words preview, then an invalid expression.
    await page.locator('input[name="scheduleKind"][value="cron"]').check();
    await page.getByRole('button', { name: 'Every 15 minutes' }).click();
    expect(await page.getByTestId('cron-preview').textContent()).toContain('every 15 minutes');
    await page.locator('input[name="schedule"]').fill('0 9 * * 1-5');
    expect(await page.getByTestId('cron-preview').textContent()).toContain('every weekday at 09:00');
    await page.locator('input[name="schedule"]').fill('every tuesday-ish');
    await page.getByRole('button', { name: 'Create sync job' }).click();
    const cronField = page.locator('.field', { has: page.locator('input[name="schedule"]') });
    await cronField.locator('.field-error').waitFor();
    expect(await page.locator('input[name="schedule"]').getAttribute('aria-invalid')).toBe('true');
    // Focus moves to the first refused field.
    expect(await page.evaluate('document.activeElement?.getAttribute("name")')).toBe('schedule');
    expect((await cronField.locator('.field-error').textContent())?.length).toBeGreaterThan(0);
    expect(page.url()).toContain('/jobs/new');
    await shot(page, '04-add-sync-job-invalid-cron');

    await page.getByRole('button', { name: 'Every 15 minutes' }).click();
    await page.getByRole('button', { name: 'Create sync job' }).click();
    await page.getByRole('heading', { name: 'E2E customers' }).waitFor();
    newJobId = page.url().split('/jobs/')[1]!;
    await page.getByText('Every 15 minutes (UTC)').first().waitFor();
    await page.getByText('This job has not run yet. Click Run Now.').waitFor();
    await shot(page, '05-sync-job-detail');
  }, 90_000);

  it('runs the job and watches it complete live, then expands it and sees the pie chart', async () => {
    const streams: string[] = [];
    page.on('request', (r) => {
      if (r.url().includes('/events')) streams.push(r.url());
    });
    const executionId = await runNow(page);
    await row(page, executionId).waitFor();
    // The slowed sandbox keeps the run going for over a second: the row shows it running, then final, with no
    // reload in between, and it followed the run over its event stream.
    await page.waitForSelector(`tr[data-execution-id="${executionId}"][data-status="running"]`, { timeout: 60_000 });
    const status = await waitFinal(page, executionId);
    expect(['completed', 'completed_with_errors']).toContain(status);
    expect(await count(page, executionId, 'processed')).toBeGreaterThan(0);
    expect(await count(page, executionId, 'created')).toBeGreaterThan(0);
    expect(streams.some((u) => u.includes(`/executions/${executionId}/events`))).toBe(true);
    await shot(page, '06-execution-history');

    await row(page, executionId)
      .getByRole('button', { name: /Show details/ })
      .click();
    expect(page.url()).toContain(`/jobs/${newJobId}/executions/${executionId}`);
    await page.locator('[data-testid="record-pie"] .recharts-pie-sector').first().waitFor();
    const label = await page.locator('[data-testid="record-pie"] [role="img"]').getAttribute('aria-label');
    expect(label).toMatch(/created [1-9]/);
    await shot(page, '07-execution-detail');

    // The execution has its own URL: a reload lands on it expanded.
    await page.reload();
    await page.locator('[data-testid="record-pie"] .recharts-pie-sector').first().waitFor();
  }, 120_000);

  it('shows a failure’s details, and the dead letters after three runs; retries one', async () => {
    const { items: jobs } = await apiGet<{ items: ApiJob[] }>(server!, `/sync-jobs?connectionId=${demoConnection.id}`);
    const failing = jobs.find((j) => /fail/i.test(j.name));
    if (!failing) throw new Error(`no demo job with failures among ${jobs.map((j) => j.name).join(', ')}`);
    await page.goto(`${server!.url}/connections`);
    await page.getByRole('link', { name: demoConnection.name }).click();
    await page.getByRole('link', { name: failing.name }).click();
    await page.getByRole('heading', { name: failing.name }).waitFor();

    let last = '';
    for (let i = 0; i < 3; i++) {
      last = await runNow(page);
      await row(page, last).waitFor();
      await waitFinal(page, last);
      expect(await count(page, last, 'failed')).toBeGreaterThan(0);
    }
    await row(page, last)
      .getByRole('button', { name: /Show details/ })
      .click();
    await page.locator('[data-testid="record-pie"] .recharts-pie-sector').first().waitFor();
    const failures = page.locator('.failures table tbody tr');
    await failures.first().waitFor();
    const cells = await failures.first().locator('td').allTextContents();
    expect(cells[0]!.trim().length).toBeGreaterThan(0); // record key
    expect(['Provider', 'Local']).toContain(cells[1]);
    expect(['fetch', 'map', 'conflict', 'write']).toContain(cells[2]);
    expect(cells[4]!.trim().length).toBeGreaterThan(0); // message
    await shot(page, '08-failure-details');

    const dlqRows = page.locator('tr[data-dead-letter]');
    await dlqRows.first().waitFor({ timeout: 30_000 });
    const key = (await dlqRows.first().getAttribute('data-dead-letter'))!;
    const dlRow = page.locator(`tr[data-dead-letter="${key}"]`);
    const failuresBefore = Number(await dlRow.locator('td.num').textContent());
    expect(failuresBefore).toBeGreaterThanOrEqual(3);
    await page.getByRole('columnheader', { name: 'First failure' }).waitFor();
    await page.getByRole('columnheader', { name: 'Parked since' }).waitFor();
    await page.getByText('Parked records are skipped by every run until you Retry them here').waitFor();
    await page.locator('#dlq-title').scrollIntoViewIfNeeded();
    await shot(page, '09-dead-letter-queue');

    const [retry] = await Promise.all([
      page.waitForResponse((r) => /\/dead-letters\/[^/]+\/retry$/.test(r.url())),
      page.getByRole('button', { name: `Retry ${key}`, exact: true }).click(),
    ]);
    expect(retry.status()).toBe(202);
    const retryExecution = ((await retry.json()) as { executionId: string }).executionId;
    await page.getByText('Retry started for 1 record.').waitFor();
    // The retry run shows up in the history with its trigger; the demo record fails again, so its dead letter
    // stays open with one more failure (a success would close it).
    await row(page, retryExecution).waitFor();
    // A person's retry of a dead letter: the server records it as manual (or retry).
    expect(['Manual', 'Retry']).toContain(await row(page, retryExecution).locator('td').nth(2).textContent());
    await waitFinal(page, retryExecution);
    // Polled from here, not with page.waitForFunction: the UI's CSP forbids evaluating strings in the page.
    await expect
      .poll(async () => Number(await page.locator(`tr[data-dead-letter="${key}"] td.num`).textContent()), {
        timeout: 30_000,
      })
      .toBeGreaterThan(failuresBefore);

    // Discard the selected ones: they leave the open queue.
    const before = await dlqRows.count();
    const picked = Math.min(2, before);
    for (let i = 0; i < picked; i++) await dlqRows.nth(i).getByRole('checkbox').check();
    await page.getByText(`${picked} selected`).waitFor();
    await page.getByRole('button', { name: 'Discard selected' }).click();
    await page.getByText(`Discarded ${picked} record${picked === 1 ? '' : 's'}.`).waitFor();
    await expect.poll(() => page.locator('tr[data-dead-letter]').count(), { timeout: 30_000 }).toBe(before - picked);
    await shot(page, '10-dead-letter-retried');
  }, 180_000);

  it('edits, disables and enables the job, then deletes it after a confirmation', async () => {
    await page.goto(`${server!.url}/jobs/${newJobId}`);
    await page.getByRole('heading', { name: 'E2E customers' }).waitFor();
    await page.getByRole('button', { name: 'Disable' }).click();
    await page.getByRole('status').filter({ hasText: 'Disabled: it no longer runs on schedule' }).waitFor();
    // Run Now still runs a disabled job: the button stays enabled.
    expect(await page.getByRole('button', { name: 'Run Now' }).isEnabled()).toBe(true);
    await page.getByRole('button', { name: 'Enable' }).click();
    await page.getByText('Job enabled.').waitFor();

    await page.getByRole('link', { name: 'Edit', exact: true }).click();
    await page.getByRole('heading', { name: 'Edit E2E customers' }).waitFor();
    expect(await page.locator('input[name="schedule"]').inputValue()).toBe('*/15 * * * *');
    await page.locator('input[name="name"]').fill('E2E customers (edited)');
    await page.locator('input[name="scheduleKind"][value="manual"]').check();
    await page.locator('input[name="timeoutMinutes"]').fill('5000');
    await page.getByRole('button', { name: 'Save changes' }).click();
    const timeoutField = page.locator('.field', { has: page.locator('input[name="timeoutMinutes"]') });
    await timeoutField.locator('.field-error').waitFor();
    await page.locator('input[name="timeoutMinutes"]').fill('30');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('heading', { name: 'E2E customers (edited)' }).waitFor();
    const config = page.locator('#config-body');
    await config.getByText('30 minutes').waitFor();
    await config.getByText('Manual only').first().waitFor();

    await page.getByRole('button', { name: 'Delete', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete E2E customers (edited)?' });
    await dialog.waitFor();
    await shot(page, '11-delete-confirmation');
    await dialog.getByRole('button', { name: 'Delete sync job' }).click();
    await page.getByRole('heading', { name: 'Stripe (e2e)' }).waitFor();
    await page.getByText('No sync jobs for this connection yet.').waitFor();
  }, 90_000);

  it('keeps every screen at its URL: deep links, back and forward, redirects, not found, focus', async () => {
    const { items: jobs } = await apiGet<{ items: ApiJob[] }>(server!, `/sync-jobs?connectionId=${demoConnection.id}`);
    const failing = jobs.find((j) => /fail/i.test(j.name))!;
    const { items: runs } = await apiGet<{ items: { id: string }[] }>(server!, `/sync-jobs/${failing.id}/executions`);
    const runId = runs[0]!.id;
    const focused = () => page.evaluate('document.activeElement?.id || document.activeElement?.className');
    const path = () => new URL(page.url()).pathname;

    // A deep link: focus stays with the browser, so the first Tab reaches the skip link.
    await page.goto(`${server!.url}/connections/${demoConnection.id}`);
    await page.getByRole('heading', { name: demoConnection.name }).waitFor();
    await page.keyboard.press('Tab');
    expect(await focused()).toBe('skip-link');

    // A link the user follows moves focus to the new screen.
    await page.getByRole('link', { name: failing.name }).click();
    await page.getByRole('heading', { name: failing.name }).waitFor();
    expect(path()).toBe(`/jobs/${failing.id}`);
    expect(await focused()).toBe('main');

    // Expanding an execution changes the URL but not the screen: focus stays on the button.
    await row(page, runId)
      .getByRole('button', { name: /Show details/ })
      .click();
    await page.waitForURL(`**/jobs/${failing.id}/executions/${runId}`);
    expect(await focused()).toBe('disclosure-btn');

    // Back and forward walk the same entries.
    await page.goBack();
    await page.waitForURL(`**/jobs/${failing.id}`);
    await row(page, runId)
      .getByRole('button', { name: /Show details/ })
      .waitFor();
    await page.goBack();
    await page.getByRole('heading', { name: demoConnection.name }).waitFor();
    await page.goForward();
    await page.getByRole('heading', { name: failing.name }).waitFor();

    // /executions/{id} opens the execution in its job, replacing itself in the history.
    await page.goto(`${server!.url}/executions/${runId}`);
    await page.waitForURL(`**/jobs/${failing.id}/executions/${runId}`);
    await row(page, runId)
      .getByRole('button', { name: /Hide details/ })
      .waitFor();
    await page.goBack();
    await page.waitForURL(`**/jobs/${failing.id}`);

    // An unknown URL shows the not-found page, which links to the connected apps.
    await page.goto(`${server!.url}/no/such/screen`);
    await page.getByRole('heading', { name: 'Page not found' }).waitFor();
    expect(await page.locator('main code').textContent()).toBe('/no/such/screen');
    await page.getByRole('link', { name: 'Go to connected apps' }).click();
    await page.getByRole('heading', { name: 'Connected apps' }).waitFor();
    expect(path()).toBe('/connections');
    expect(await focused()).toBe('main');
    await page.goto(`${server!.url}/connections`);
    await page.getByRole('heading', { name: 'Connected apps' }).waitFor();
    const nav = page.getByRole('navigation', { name: 'Main' });
    expect(await nav.getByRole('link', { name: 'Connected apps' }).getAttribute('aria-current')).toBe('page');
  }, 90_000);

  it('asks for the API token, then cancels a long run while it updates live', async () => {
    const s = slow!;
    const unauthenticated = await fetch(`${s.url}/api/v1/connections`);
    const { items: jobs } = await apiGet<{ items: ApiJob[] }>(s, '/sync-jobs');
    const job = jobs.find((j) => j.entityType === 'customer' && j.direction === 'inbound') ?? jobs[0]!;

    // The server was started with OTESSE_SYNC_API_TOKEN: every /api/v1 call needs it, even on loopback.
    expect(unauthenticated.status).toBe(401);

    // Deep link straight to the job: the page has no token yet, so the server's 401 opens the prompt.
    await page.goto(`${s.url}/jobs/${job.id}`);
    const dialog = page.getByRole('dialog', { name: 'API token required' });
    await dialog.waitFor();
    await shot(page, '12-token-prompt');
    await dialog.getByLabel('API token').fill(TOKEN);
    await dialog.getByRole('button', { name: 'Save token' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await page.getByRole('heading', { name: job.name }).waitFor();

    const events = page.waitForRequest((r) => r.url().includes('/events'), { timeout: 30_000 });
    const executionId = await runNow(page);
    const sse = await events;
    // EventSource cannot send headers: the token goes in the stream's query.
    expect(sse.url()).toContain('access_token=');
    await page.waitForSelector(`tr[data-execution-id="${executionId}"][data-status="running"]`, { timeout: 60_000 });
    // Counters move while it runs (server-sent progress), without a reload.
    await expect
      .poll(() => count(page, executionId, 'processed'), { timeout: 60_000, interval: 100 })
      .toBeGreaterThan(0);
    await shot(page, '13-running-execution');
    await row(page, executionId)
      .getByRole('button', { name: /^Cancel execution/ })
      .click();
    const status = await waitFinal(page, executionId, 60_000);
    expect(status).toBe('cancelled');
    await shot(page, '14-cancelled-execution');
  }, 180_000);

  it('raised no uncaught errors in the page', () => {
    expect(pageErrors).toEqual([]);
  });
});
