/**
 * Alerts in the web UI: the Alerts page from the navigation, a channel created with the form (a URL the outbound
 * guard refuses is shown at its field; the signing secret is shown once), "Send test" to a real HTTP receiver on
 * 127.0.0.1, and the delivery in the channel's log with its status code. The receiver checks the signature with
 * the secret the page showed.
 *
 * Debian's Chromium driven by playwright-core against the real server, in process (`serve()`), on a fresh PGlite
 * directory of its own. Skipped without /usr/bin/chromium (failed when CI is set), like test/ui/ui.test.ts.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, serve } from '../../src/api/serve.ts';
import { createMemoryProvider } from '../../src/connectors/memory.ts';
import { CUSTOMERS_DDL } from '../helpers/db.ts';
import { ARTIFACTS, CHROMIUM, ensureWebBuilt, hasChromium, inCi, openPage } from './browser.ts';

describe.skipIf(!hasChromium && !inCi)('alerts in the web UI (Chromium + real server)', () => {
  let dir: string;
  let server: RunningServer;
  let browser: Browser;
  let page: Page;
  let receiver: Server;
  let receiverUrl: string;
  const received: { headers: IncomingHttpHeaders; raw: string }[] = [];
  const pageErrors: string[] = [];

  beforeAll(async () => {
    if (!hasChromium) throw new Error(`${CHROMIUM} is absent and CI is set: the UI tests must run in CI`);
    mkdirSync(ARTIFACTS, { recursive: true });
    ensureWebBuilt();
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ headers: req.headers, raw: Buffer.concat(chunks).toString('utf8') });
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('thanks');
      });
    });
    await new Promise<void>((done) => receiver.listen(0, '127.0.0.1', done));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/otesse`;

    dir = mkdtempSync(join(tmpdir(), 'otesse-ui-alerts-'));
    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ localEntities: { customers: { table: 'customers' } } }));
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
    await server.engine.database.exec(CUSTOMERS_DDL);
    const conn = await server.engine.connections.create({ name: 'Memory', provider: 'memory' });
    await server.engine.jobs.create({
      connectionId: conn.id,
      name: 'Customers',
      entityType: 'customer',
      localEntity: 'customers',
      direction: 'inbound',
      fieldMappings: [{ sourceField: 'email', targetField: 'email', direction: 'inbound' }],
    });

    ({ browser, page } = await openPage({ pageErrors }));
  }, 180_000);

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await server?.close();
    await new Promise<void>((done) => (receiver ? receiver.close(() => done()) : done()));
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('creates a channel, shows its secret once, sends a test and shows the delivery in the log', async () => {
    await page.goto(server.url);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Alerts' }).click();
    await page.getByRole('heading', { name: 'Alerts', level: 1 }).waitFor();
    expect(page.url()).toBe(`${server.url}/alerts`);
    await page.getByText('No notification channels yet.').waitFor();

    await page.getByRole('button', { name: 'Add channel' }).click();
    await page.locator('input[name="name"]').fill('On-call');
    await page.locator('input[name="type"][value="webhook"]').check();
    // The default events; one more, and the channel is for one job.
    for (const event of ['execution.failed', 'execution.timed_out', 'circuit_breaker.tripped', 'job.recovered']) {
      expect(await page.locator(`input[name="events"][value="${event}"]`).isChecked()).toBe(true);
    }
    await page.locator('input[name="events"][value="dead_letter.added"]').check();
    await page.locator('select[name="jobId"]').selectOption({ label: 'Customers' });

    // A cloud metadata address: refused by the outbound guard, shown at the URL field.
    await page.locator('input[name="url"]').fill('http://169.254.169.254/latest/meta-data');
    await page.getByRole('button', { name: 'Create channel' }).click();
    const urlField = page.locator('.field', { has: page.locator('input[name="url"]') });
    await urlField.locator('.field-error').waitFor();
    expect(await urlField.locator('.field-error').textContent()).toMatch(/outbound request policy.*never allowed/);
    expect(await page.locator('input[name="url"]').getAttribute('aria-invalid')).toBe('true');

    await page.locator('input[name="url"]').fill(receiverUrl);
    await page.getByRole('button', { name: 'Create channel' }).click();
    const secret = (await page.getByTestId('signing-secret').textContent())!;
    expect(secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    const row = page.locator('tr[data-channel-id]', { hasText: 'On-call' });
    await row.waitFor();
    expect(await row.textContent()).toContain('Customers');
    expect(await row.textContent()).toContain('Never');
    await page.screenshot({ path: join(ARTIFACTS, '40-alerts-channel-created.png'), fullPage: true });
    await page.getByRole('button', { name: 'Done' }).click();
    expect(await page.getByTestId('signing-secret').count()).toBe(0);

    // Send test: delivered now; the page opens the channel's delivery log with the status code.
    const channelId = (await row.getAttribute('data-channel-id'))!;
    await row.getByRole('button', { name: 'Send test to On-call' }).click();
    await page.getByText('Test alert delivered to On-call (HTTP 200).').waitFor();
    await page.waitForURL(`**/alerts/${channelId}`);
    await page.getByRole('heading', { name: 'Delivery log · On-call' }).waitFor();
    const delivery = page.locator('tr[data-delivery-id][data-outcome="delivered"]');
    await delivery.waitFor();
    expect(await delivery.locator('[data-col="status"]').textContent()).toBe('Delivered · 200');
    expect(await delivery.textContent()).toContain('Test alert');
    await row.getByText('Delivered · 200').waitFor();
    await page.screenshot({ path: join(ARTIFACTS, '41-alerts-delivery-log.png'), fullPage: true });

    // What the receiver got is signed with the secret the page showed.
    expect(received).toHaveLength(1);
    const [{ headers, raw }] = received as [{ headers: IncomingHttpHeaders; raw: string }];
    const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(headers['otesse-signature']));
    expect(m).not.toBeNull();
    expect(createHmac('sha256', secret).update(`${m![1]}.${raw}`).digest('hex')).toBe(m![2]);
    expect(JSON.parse(raw)).toMatchObject({ type: 'test', job: null });

    // The secret is not shown again.
    await page.reload();
    await page.getByRole('heading', { name: 'Delivery log · On-call' }).waitFor();
    expect(await page.content()).not.toContain(secret);
    expect(pageErrors).toEqual([]);
  });
});
