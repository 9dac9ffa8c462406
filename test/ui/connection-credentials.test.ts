/**
 * The connection edit form when the address the credentials are sent to changes (Hardening, "Stored credentials
 * follow a changed URL"): the form says why and asks for the credentials again; the stored key never reaches
 * the new address. Debian's Chromium driven by playwright-core against the real server (in process, built UI).
 *
 * Skipped without /usr/bin/chromium (failed when CI is set), like test/ui/ui.test.ts.
 */

import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, serve } from '../../src/api/serve.ts';
import { ARTIFACTS, CHROMIUM, ensureWebBuilt, hasChromium, inCi, openPage } from './browser.ts';

/** An HTTP server that remembers every Authorization header it was sent and answers an empty Stripe list. */
async function captureServer() {
  const seen: string[] = [];
  const server: Server = createServer((req, res) => {
    seen.push(String(req.headers.authorization ?? ''));
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ object: 'list', data: [], has_more: false }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received: () => seen.join('\n'),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe.skipIf(!hasChromium && !inCi)('connection edit form: a changed API address', () => {
  let dir: string;
  let server: RunningServer;
  let browser: Browser;
  let page: Page;
  let hostA: Awaited<ReturnType<typeof captureServer>>;
  let hostB: Awaited<ReturnType<typeof captureServer>>;

  beforeAll(async () => {
    if (!hasChromium) throw new Error(`${CHROMIUM} is absent and CI is set: the UI tests must run in CI`);
    mkdirSync(ARTIFACTS, { recursive: true });
    ensureWebBuilt();
    dir = mkdtempSync(join(tmpdir(), 'otesse-ui-cred-'));
    [hostA, hostB] = await Promise.all([captureServer(), captureServer()]);
    server = await serve({
      database: dir,
      host: '127.0.0.1',
      port: 0,
      token: null,
      logger: pino({ enabled: false }),
      encryptionKeys: [randomBytes(32).toString('hex')],
    });
    ({ browser, page } = await openPage({ viewport: { width: 1280, height: 1000 } }));
  }, 180_000);

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await server?.close();
    await hostA?.close();
    await hostB?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('asks for the credentials again, says why, and never sends the stored key to the new address', async () => {
    const oldKey = `sk_test_old_${randomBytes(6).toString('hex')}`;
    const newKey = `sk_test_new_${randomBytes(6).toString('hex')}`;
    const res = await fetch(`${server.url}/api/v1/connections`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        provider: 'stripe',
        name: 'Stripe (moving)',
        config: { apiBase: hostA.url },
        credentials: { apiKey: oldKey },
      }),
    });
    const { id } = (await res.json()) as { id: string };

    await page.goto(`${server.url}/connections/${id}/edit`);
    await page.getByRole('heading', { name: 'Edit Stripe (moving)' }).waitFor();
    const notice = page.getByText('enter the credentials for the new address');
    expect(await notice.count()).toBe(0);
    await expect.poll(() => page.getByText('leave blank to keep the current value').count()).toBeGreaterThan(0);

    // Another address: the form asks for the credentials and says why.
    await page.locator('input[name="config.apiBase"]').fill(hostB.url);
    await notice.waitFor();
    expect(await page.getByText('The stored credentials are never sent to a changed address').count()).toBe(1);
    expect(await page.getByText('leave blank to keep the current value').count()).toBe(0);
    await page.screenshot({ path: join(ARTIFACTS, '20-connection-new-address.png'), fullPage: true });

    // Saving without them: the server refuses, the form shows it at the field.
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.locator('.field-invalid input[name="credentials.apiKey"]').waitFor();
    expect(await page.locator('.field-invalid').textContent()).toContain('stored credentials are never sent');

    // With them: saved (and tested against the new address with the new key only).
    await page.locator('input[name="credentials.apiKey"]').fill(newKey);
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('heading', { name: 'Stripe (moving)' }).waitFor();
    await expect.poll(() => hostB.received()).toContain(newKey);
    expect(hostB.received()).not.toContain(oldKey);
    const stored = (await (await fetch(`${server.url}/api/v1/connections/${id}`)).json()) as {
      config: { apiBase: string };
    };
    expect(stored.config.apiBase).toBe(hostB.url);

    // Back on the form, the same address again: nothing to re-enter.
    await page.goto(`${server.url}/connections/${id}/edit`);
    await page.getByRole('heading', { name: 'Edit Stripe (moving)' }).waitFor();
    await page.locator('input[name="config.apiBase"]').fill(`${hostB.url}/`);
    expect(await notice.count()).toBe(0);
  }, 120_000);
});
