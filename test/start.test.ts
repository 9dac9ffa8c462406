import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI_FROM_SOURCE, ROOT } from './helpers/cli.ts';
import { waitFor } from './helpers/db.ts';

/**
 * `npm start`'s path (`otesse-sync serve --demo`) as a child process on a fresh data directory: the demo comes
 * up with its sandbox, connection and jobs; a manual run of the demo job completes; /metrics shows it; SIGTERM
 * stops the server cleanly. It runs the CLI from src/ (helpers/cli.ts); test/package.test.ts runs the same command
 * through bin/otesse-sync.js on a fresh build, as installed from the packed tarball.
 */
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };

describe('npm start (serve --demo) on a fresh data directory', () => {
  const dir = mkdtempSync(join(tmpdir(), 'otesse-start-'));
  let child: ChildProcess | null = null;
  afterAll(() => {
    child?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('comes up with the demo, runs the demo job, shows it in /metrics, and stops on SIGTERM', async () => {
    expect(pkg.scripts.start).toBe('node bin/otesse-sync.js serve --demo');
    const { DATABASE_URL: _ignored, ...env } = process.env;
    child = spawn(
      process.execPath,
      [...CLI_FROM_SOURCE, 'serve', '--demo', '--port', '0', '--data-dir', join(dir, 'data')],
      { cwd: ROOT, env: { ...env, LOG_FORMAT: 'json', LOG_LEVEL: 'warn' } },
    );
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((resolve) => child!.on('exit', (code) => resolve(code)));
    const url = await waitFor(
      async () => /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1],
      'the server to listen',
      60_000,
    );
    await waitFor(async () => /demo: Stripe sandbox at http:\/\/127\.0\.0\.1:\d+/.test(out), 'the demo line', 60_000);
    const get = async (path: string) =>
      (await fetch(`${url}${path}`)).json() as Promise<{ items: Record<string, unknown>[] }>;

    const connections = await get('/api/v1/connections');
    expect(connections.items.map((c) => c.name)).toEqual(['Stripe (demo)']);
    const jobs = await get('/api/v1/sync-jobs');
    expect(jobs.items.map((j) => j.name)).toEqual(['Customers', 'Products', 'Invoices (demo failures)']);
    const customers = jobs.items[0]!;
    expect(customers).toMatchObject({ direction: 'inbound', mode: 'incremental', schedule: '*/15 * * * *' });
    expect(jobs.items[1]).toMatchObject({ direction: 'bidirectional', conflictStrategy: 'provider_wins' });

    const run = await fetch(`${url}/api/v1/sync-jobs/${customers.id}/run`, { method: 'POST' });
    expect(run.status).toBe(202);
    const { executionId } = (await run.json()) as { executionId: string };
    const execution = await waitFor(
      async () => {
        const e = (await (await fetch(`${url}/api/v1/executions/${executionId}`)).json()) as Record<string, unknown>;
        return e.status !== 'queued' && e.status !== 'running' ? e : null;
      },
      'the demo run to finish',
      60_000,
    );
    expect(execution).toMatchObject({ status: 'completed', processed: 500, created: 500, failed: 0 });

    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/otesse_sync_executions\{status="completed",trigger="manual"\} 1\b/);
    expect(metrics).toMatch(/otesse_sync_records\{outcome="created"\} 500\b/);
    expect(metrics).toMatch(/otesse_sync_run_duration_seconds_count\{status="completed",trigger="manual"\} 1\b/);

    const ui = await fetch(`${url}/`);
    expect(ui.status).toBe(200);
    expect(ui.headers.get('content-type')).toContain('text/html');

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(out).toContain('otesse-sync stopping');
    child = null;
  }, 120_000);
});
