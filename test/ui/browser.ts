/**
 * What the browser tests in test/ui share: Debian's Chromium (the tests are skipped without it, failed when CI is
 * set), the built web UI they are served, and a page opened in a fresh browser with the errors it reports collected.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { ROOT } from '../helpers/cli.ts';

export const CHROMIUM = '/usr/bin/chromium';
/** Where the tests put their screenshots. */
export const ARTIFACTS = join(ROOT, 'test/ui/artifacts');
const WEB_DIST = join(ROOT, 'web/dist/index.html');
export const hasChromium = existsSync(CHROMIUM);
/** In CI the UI tests must run: a missing Chromium fails them instead of skipping them. */
export const inCi = Boolean(process.env.CI);

/** Builds web/dist when it is missing or older than a source file. */
export function ensureWebBuilt(): void {
  const newest = (dir: string): number =>
    readdirSync(dir, { withFileTypes: true }).reduce((max, e) => {
      const p = join(dir, e.name);
      return Math.max(max, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
    }, 0);
  const sources = Math.max(
    newest(join(ROOT, 'web/src')),
    statSync(join(ROOT, 'web/index.html')).mtimeMs,
    statSync(join(ROOT, 'web/vite.config.ts')).mtimeMs,
  );
  if (existsSync(WEB_DIST) && statSync(WEB_DIST).mtimeMs >= sources) return;
  execFileSync(
    process.execPath,
    [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--config', 'web/vite.config.ts'],
    { cwd: ROOT, stdio: 'pipe' },
  );
}

export interface OpenPageOptions {
  /** 1360×1000 unless given. */
  viewport?: { width: number; height: number };
  /** Where the page's uncaught errors and Content-Security-Policy complaints go; not collected without it. */
  pageErrors?: string[];
  /** Chromium flags beyond the headless ones every test uses. */
  extraArgs?: string[];
}

/** Launches Chromium and opens a page in a new context whose actions time out after 30 s (the browser is closed if that fails). */
export async function openPage(
  options: OpenPageOptions = {},
): Promise<{ browser: Browser; context: BrowserContext; page: Page }> {
  const { viewport = { width: 1360, height: 1000 }, pageErrors, extraArgs = [] } = options;
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', ...extraArgs, '--no-first-run'],
  });
  try {
    const context = await browser.newContext({ viewport });
    context.setDefaultTimeout(30_000);
    const page = await context.newPage();
    if (pageErrors) {
      page.on('pageerror', (err) => pageErrors.push(err.message));
      // The server sends a Content-Security-Policy: anything the UI does that it blocks is an error too.
      page.on('console', (message) => {
        if (/Content.Security.Policy/i.test(message.text())) pageErrors.push(message.text());
      });
    }
    return { browser, context, page };
  } catch (err) {
    await browser.close().catch(() => {});
    throw err;
  }
}
