/**
 * Connect a REST API the app has never seen, without writing JSON (issue 16): a local HTTP API with its own
 * shapes (`GET /v2/people?after=…` → `{ items, next }`, records keyed `person_id` and dated `modified_at`, bearer
 * auth) is connected through the REST form and its live "Test stream" only: base URL, auth, an entity type with
 * its list path and cursor pagination, a test, "Use detected" for the rest. Then a sync job is added through the
 * job form and its first run completes with the records in the local table.
 *
 * Debian's Chromium driven by playwright-core against the real server, in process (`serve()`), on a fresh PGlite
 * directory. The server listens on loopback without an API token, so its outbound policy lets providers reach
 * loopback addresses (as every UI test's sandbox does). Skipped without /usr/bin/chromium (failed when CI is set).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { pino } from 'pino';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, serve } from '../../src/api/serve.ts';
import { ARTIFACTS, CHROMIUM, ensureWebBuilt, hasChromium, inCi, openPage } from './browser.ts';

const TOKEN = `people-api-${randomBytes(8).toString('hex')}`;
const TABLE = 'rest_people';
/** The API pages by two, whatever is asked: five people are three pages. */
const PAGE_SIZE = 2;
const PEOPLE = Array.from({ length: 5 }, (_, i) => ({
  person_id: `per_${i + 1}`,
  full_name: `Person ${i + 1}`,
  contact: { email: `person${i + 1}@people.test` },
  modified_at: new Date(Date.UTC(2026, 0, 1 + i, 9)).toISOString(),
}));
const FINAL = ['completed', 'completed_with_errors', 'failed', 'timed_out', 'cancelled'];
/** The people API as its OpenAPI document would describe it (YAML). */
const OPENAPI_YAML = `openapi: 3.0.3
info: { title: People API, version: '2' }
servers: [{ url: 'https://people.example.test' }]
paths:
  /v2/people:
    get:
      parameters:
        - { name: after, in: query, schema: { type: string } }
        - { name: limit, in: query, schema: { type: integer } }
      responses:
        '200':
          description: A page of people
          content:
            application/json:
              schema:
                type: object
                properties:
                  items: { type: array, items: { $ref: '#/components/schemas/Person' } }
                  next: { type: string, nullable: true }
components:
  schemas:
    Person:
      type: object
      required: [person_id]
      properties:
        person_id: { type: string }
        full_name: { type: string }
        modified_at: { type: string, format: date-time }
`;

/** The people API: bearer auth, opaque cursors in `after`, the list under `items`, the next cursor in `next`. */
async function peopleApi() {
  const requests: { path: string; authorized: boolean }[] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const authorized = req.headers.authorization === `Bearer ${TOKEN}`;
    requests.push({ path: `${url.pathname}${url.search}`, authorized });
    res.setHeader('content-type', 'application/json');
    if (!authorized) {
      res.statusCode = 401;
      res.end(JSON.stringify({ error: 'unauthorized' }));
      return;
    }
    if (req.method !== 'GET' || url.pathname !== '/v2/people') {
      res.statusCode = 404;
      res.end(JSON.stringify({ error: 'not found' }));
      return;
    }
    const after = url.searchParams.get('after');
    const start = after === null ? 0 : PEOPLE.findIndex((p) => `cur_${p.person_id}` === after) + 1;
    if (start < 0 || (after !== null && start === 0)) {
      res.statusCode = 400;
      res.end(JSON.stringify({ error: 'bad cursor' }));
      return;
    }
    const size = Math.min(Number(url.searchParams.get('limit') ?? PAGE_SIZE) || PAGE_SIZE, PAGE_SIZE);
    const items = PEOPLE.slice(start, start + size);
    const last = items.at(-1);
    const next = start + size < PEOPLE.length && last ? `cur_${last.person_id}` : null;
    res.end(JSON.stringify({ items, next }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe.skipIf(!hasChromium && !inCi)(
  'REST form: connect an unknown API without JSON (Chromium + real server)',
  () => {
    let dir: string;
    let server: RunningServer;
    let api: Awaited<ReturnType<typeof peopleApi>>;
    let browser: Browser;
    let page: Page;
    const pageErrors: string[] = [];

    const localRows = async () =>
      (
        await sql<{ name: string; email: string }>`SELECT name, email FROM ${sql.table(TABLE)} ORDER BY name`.execute(
          server.engine.database.db,
        )
      ).rows;
    /** The control labelled `label` exactly (a required one's label ends with its asterisk). */
    const input = (scope: Locator | Page, label: string) =>
      scope.getByLabel(new RegExp(`^${label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}( \\*)?$`));
    /** The message shown under an input (its Field's error), or null. */
    const errorAt = async (control: Locator): Promise<string | null> => {
      const describedBy = (await control.getAttribute('aria-describedby')) ?? '';
      const id = describedBy.split(' ').find((x) => x.endsWith('-error'));
      return id ? page.locator(`[id="${id}"]`).textContent() : null;
    };

    beforeAll(async () => {
      if (!hasChromium) throw new Error(`${CHROMIUM} is absent and CI is set: the UI tests must run in CI`);
      mkdirSync(ARTIFACTS, { recursive: true });
      ensureWebBuilt();
      dir = mkdtempSync(join(tmpdir(), 'otesse-ui-rest-'));
      const configPath = join(dir, 'otesse-sync.config.json');
      writeFileSync(configPath, JSON.stringify({ localEntities: { people: { table: TABLE } } }));
      api = await peopleApi();
      server = await serve({
        database: join(dir, 'data'),
        configPath,
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
      ({ browser, page } = await openPage({ pageErrors }));
    }, 180_000);

    afterAll(async () => {
      await browser?.close().catch(() => {});
      await server?.close();
      await api?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    }, 60_000);

    it('connects the API through the form and the live test, then syncs it through a job', async () => {
      await page.goto(`${server.url}/connections/new`);
      await page.getByRole('heading', { name: 'Connect a provider' }).waitFor();
      await page.locator('select[name="provider"]').selectOption('rest');
      // The REST form replaces the JSON settings.
      await input(page, 'Base URL').waitFor();
      expect(await page.locator('textarea[name="config.entities"]').count()).toBe(0);
      await page.locator('input[name="name"]').fill('People API');

      // Checked where typed: a base URL that is not one.
      const baseUrl = input(page, 'Base URL');
      await baseUrl.fill('people api');
      await baseUrl.blur();
      await expect.poll(() => errorAt(baseUrl)).toBe('must be an http(s) URL');
      await baseUrl.fill(api.url);
      await expect.poll(() => errorAt(baseUrl)).toBe(null);

      await input(page, 'Authentication type').selectOption('bearer');
      const token = input(page, 'Bearer token');
      expect(await token.getAttribute('type')).toBe('password');
      await token.fill(TOKEN);

      await page.getByRole('button', { name: 'Add entity type' }).click();
      await input(page, 'Entity type name').fill('people');
      const people = page.getByRole('group', { name: 'Entity type people' });
      const listPath = input(people, 'List path');
      await listPath.fill('v2/people');
      await listPath.blur();
      await expect.poll(() => errorAt(listPath)).toBe('must start with /');
      expect(await listPath.getAttribute('aria-invalid')).toBe('true');
      await listPath.fill('/v2/people');
      await expect.poll(() => errorAt(listPath)).toBe(null);
      const getPath = input(people, 'Get path (one record)');
      await getPath.fill('/v2/people');
      await getPath.blur();
      await expect.poll(() => errorAt(getPath)).toContain('must contain {id}');
      await getPath.fill('/v2/people/{id}');

      await input(people, 'Pagination style').selectOption('cursor');
      await input(people, 'Cursor parameter').fill('after');
      await input(people, 'Next cursor path').fill('next');
      await input(people, 'Page size parameter').fill('limit');

      // The first test: the list is not where the form says (the body), and the server says where it is.
      const result = people.getByRole('region', { name: 'Test of people' });
      const [first] = await Promise.all([
        page.waitForResponse((r) => r.url().endsWith('/providers/rest/test-stream')),
        people.getByRole('button', { name: 'Test stream' }).click(),
      ]);
      expect(first.status()).toBe(200);
      const sent = first.request().postDataJSON() as {
        config: { entities: Record<string, unknown> };
        credentials: Record<string, string>;
        entityType: string;
      };
      expect(sent.entityType).toBe('people');
      expect(sent.credentials).toEqual({ token: TOKEN });
      await result.waitFor();
      expect(await result.getAttribute('data-ok')).toBe('false');
      await result.getByText('Problems').waitFor();
      await result.getByRole('button', { name: 'Use detected' }).waitFor();
      await page.screenshot({ path: join(ARTIFACTS, '60-rest-test-detected.png'), fullPage: true });

      await result.getByRole('button', { name: 'Use detected' }).click();
      expect(await input(people, 'Records path').inputValue()).toBe('items');
      expect(await input(people, 'ID field').inputValue()).toBe('person_id');
      expect(await input(people, 'Updated-at field').inputValue()).toBe('modified_at');
      // The pagination the user set stays (the detected one agrees with it).
      expect(await input(people, 'Pagination style').inputValue()).toBe('cursor');
      expect(await input(people, 'Cursor parameter').inputValue()).toBe('after');
      expect(await input(people, 'Next cursor path').inputValue()).toBe('next');

      // Tested again: it reads, pages, and shows the records.
      await Promise.all([
        page.waitForResponse((r) => r.url().endsWith('/providers/rest/test-stream') && r.status() === 200),
        people.getByRole('button', { name: 'Test stream' }).click(),
      ]);
      await expect.poll(() => result.getAttribute('data-ok')).toBe('true');
      await result.getByText('The stream works.').waitFor();
      const records = result.getByTestId('stream-records');
      const headers = await records.locator('thead th').allTextContents();
      expect(headers).toEqual(expect.arrayContaining(['person_id', 'full_name', 'modified_at']));
      expect(await records.locator('tbody tr').count()).toBeGreaterThan(0);
      expect(await records.locator('tbody').textContent()).toContain('per_1');
      // Two requests: the first page and the second (with the first page's cursor).
      const requestRows = result.locator('table:has(caption:text("Requests")) tbody tr');
      expect(await requestRows.count()).toBeGreaterThanOrEqual(2);
      expect(await requestRows.nth(1).textContent()).toContain('after=cur_per_2');
      expect(await requestRows.nth(0).getAttribute('data-status')).toBe('200');
      await page.screenshot({ path: join(ARTIFACTS, '61-rest-test-ok.png'), fullPage: true });

      // The JSON view follows the form (read, never typed).
      await page.getByText('Advanced (JSON)').click();
      const json = JSON.parse(await input(page, 'Configuration (JSON)').inputValue()) as {
        baseUrl: string;
        auth: unknown;
        entities: Record<string, Record<string, unknown>>;
      };
      expect(json.baseUrl).toBe(api.url);
      expect(json.auth).toEqual({ type: 'bearer' });
      expect(json.entities.people).toMatchObject({
        listPath: '/v2/people',
        recordsPath: 'items',
        idField: 'person_id',
        updatedAtField: 'modified_at',
        getPath: '/v2/people/{id}',
        pagination: { style: 'cursor', cursorParam: 'after', cursorPath: 'next', limitParam: 'limit' },
      });
      expect(JSON.stringify(json)).not.toContain(TOKEN);

      await page.getByRole('button', { name: 'Connect', exact: true }).click();
      await page.getByRole('heading', { name: 'People API' }).waitFor();
      await page.getByText('Connection works.').waitFor();
      const connectionId = page.url().split('/connections/')[1]!;
      const stored = (await (await fetch(`${server.url}/api/v1/connections/${connectionId}`)).json()) as {
        provider: string;
        config: Record<string, unknown>;
      };
      expect(stored.provider).toBe('rest');
      expect(stored.config).toEqual(json);
      expect(api.requests.every((r) => r.authorized)).toBe(true);

      // A sync job on it, through the job form.
      await page.getByRole('link', { name: 'Add Sync Job' }).click();
      await page.getByRole('heading', { name: 'Add Sync Job' }).waitFor();
      await page.locator('input[name="name"]').fill('People in');
      await page.locator('select[name="entityType"]').selectOption('people');
      await page.locator('select[name="localEntity"]').selectOption('people');
      for (const [i, [from, to]] of [
        ['full_name', 'name'],
        ['contact.email', 'email'],
      ].entries()) {
        await page.getByRole('button', { name: 'Add mapping' }).click();
        const item = page.locator('li.mapping').nth(i);
        await item.getByLabel(/Source field/).fill(from!);
        await item.getByLabel(/Target field/).fill(to!);
      }
      await page.getByRole('button', { name: 'Create sync job' }).click();
      await page.getByRole('heading', { name: 'People in' }).waitFor();

      const [run] = await Promise.all([
        page.waitForResponse((r) => /\/sync-jobs\/[^/]+\/run$/.test(r.url()) && r.request().method() === 'POST'),
        page.getByRole('button', { name: 'Run Now' }).click(),
      ]);
      expect(run.status()).toBe(202);
      const executionId = ((await run.json()) as { executionId: string }).executionId;
      const row = page.locator(`tr[data-execution-id="${executionId}"]`);
      await page.waitForSelector(
        FINAL.map((s) => `tr[data-execution-id="${executionId}"][data-status="${s}"]`).join(', '),
        { timeout: 60_000 },
      );
      expect(await row.getAttribute('data-status')).toBe('completed');
      expect(Number(await row.locator('[data-col="created"]').textContent())).toBe(PEOPLE.length);
      expect(Number(await row.locator('[data-col="failed"]').textContent())).toBe(0);
      expect(await localRows()).toEqual(PEOPLE.map((p) => ({ name: p.full_name, email: p.contact.email })));
      await page.screenshot({ path: join(ARTIFACTS, '62-rest-first-sync.png'), fullPage: true });

      // Edited later: the form shows the saved settings; the stored token is kept unless the address changes.
      await page.goto(`${server.url}/connections/${connectionId}/edit`);
      await page.getByRole('heading', { name: 'Edit People API' }).waitFor();
      const saved = page.getByRole('group', { name: 'Entity type people' });
      expect(await input(saved, 'Records path').inputValue()).toBe('items');
      expect(await input(saved, 'Cursor parameter').inputValue()).toBe('after');
      expect(await input(page, 'Authentication type').inputValue()).toBe('bearer');
      await page.getByText('leave blank to keep the current value').waitFor();
      await input(page, 'Base URL').fill(`${api.url}/`);
      expect(await page.getByText('enter the credentials for the new address').count()).toBe(0);
      await input(page, 'Base URL').fill(api.url.replace('127.0.0.1', 'localhost'));
      await page.getByText('enter the credentials for the new address').waitFor();
      expect(pageErrors).toEqual([]);
    }, 180_000);

    it('fills the form from an example, an OpenAPI document and its JSON; lists what the server refuses', async () => {
      await page.goto(`${server.url}/connections/new`);
      await page.getByRole('heading', { name: 'Connect a provider' }).waitFor();
      await page.locator('select[name="provider"]').selectOption('rest');
      await page.locator('input[name="name"]').fill('Members API');

      // An example fills the whole form.
      await input(page, 'Example').selectOption('Page-numbered API');
      await page.getByRole('button', { name: 'Start from example' }).click();
      const members = page.getByRole('group', { name: 'Entity type members' });
      expect(await input(members, 'List path').inputValue()).toBe('/members');
      expect(await input(members, 'Pagination style').inputValue()).toBe('page');
      expect(await input(members, 'Page parameter').inputValue()).toBe('page');
      expect(await input(members, 'Page size parameter').inputValue()).toBe('per_page');
      expect(await input(page, 'Authentication type').inputValue()).toBe('header');
      expect(await input(page, 'Header name').inputValue()).toBe('X-Api-Key');
      expect(await input(page, 'API key').getAttribute('type')).toBe('password');

      // An OpenAPI document proposes entity types; the picked one lands in the form.
      await page.getByText('Import from OpenAPI').click();
      await input(page, 'OpenAPI document (JSON or YAML)').fill(OPENAPI_YAML);
      const [imported] = await Promise.all([
        page.waitForResponse((r) => r.url().endsWith('/providers/rest/openapi-import')),
        page.getByRole('button', { name: 'Read document' }).click(),
      ]);
      expect(imported.status()).toBe(200);
      await page.getByRole('checkbox', { name: /^Add people/ }).check();
      await page.getByRole('button', { name: 'Add selected entity types' }).click();
      const people = page.getByRole('group', { name: 'Entity type people' });
      expect(await input(people, 'List path').inputValue()).toBe('/v2/people');
      expect(await input(people, 'Pagination style').inputValue()).toBe('cursor');
      expect(await input(people, 'Cursor parameter').inputValue()).toBe('after');
      // The example's base URL stays (the document's only fills a blank one).
      expect(await input(page, 'Base URL').inputValue()).toBe('https://api.example.org');
      await page.screenshot({ path: join(ARTIFACTS, '63-rest-openapi-import.png'), fullPage: true });

      // The JSON view, edited: the form follows when it parses, and keeps its values while it does not.
      await page.getByText('Advanced (JSON)').click();
      const json = input(page, 'Configuration (JSON)');
      const config = JSON.parse(await json.inputValue()) as {
        entities: Record<string, { listPath: string }>;
      } & Record<string, unknown>;
      expect(Object.keys(config.entities)).toEqual(['members', 'people']);
      await json.fill('{ "baseUrl": ');
      await page.getByText('Not valid JSON yet').waitFor();
      expect(await input(members, 'List path').inputValue()).toBe('/members');
      config.entities.members!.listPath = '/v3/members';
      config.baseURL = 'https://typo.example.org';
      await json.fill(JSON.stringify(config, null, 2));
      await expect.poll(() => input(members, 'List path').inputValue()).toBe('/v3/members');
      expect(await page.getByText('Not valid JSON yet').count()).toBe(0);

      // The people entity type goes; the form's checks ask for the API key; the server refuses the unknown key.
      await people.getByRole('button', { name: 'Remove entity type people' }).click();
      await people.waitFor({ state: 'detached' });
      await page.getByRole('button', { name: 'Connect', exact: true }).click();
      await expect.poll(() => errorAt(input(page, 'API key'))).toBe('is required for header auth');
      expect(page.url()).toContain('/connections/new');
      await input(page, 'API key').fill('key-1');
      const [refused] = await Promise.all([
        page.waitForResponse((r) => r.url().endsWith('/api/v1/connections') && r.request().method() === 'POST'),
        page.getByRole('button', { name: 'Connect', exact: true }).click(),
      ]);
      expect(refused.status()).toBe(400);
      const summary = page.locator('.form-errors');
      await summary.waitFor();
      expect(await summary.textContent()).toContain('config.baseURL');
      expect(pageErrors).toEqual([]);
    }, 120_000);
  },
);
