import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { DataDirectoryLockedError, LOCK_FILE } from '../src/store/data-dir-lock.ts';
import { openDatabase } from '../src/store/database.ts';
import { CLI_FROM_SOURCE, ROOT } from './helpers/cli.ts';
import { waitFor } from './helpers/db.ts';

/**
 * Two processes on one embedded database (hardening item 8). PGlite is a single-process database: a second
 * process that opens the data directory a server holds is refused with the holder's pid and what to do, and the
 * operator commands (`jobs`, `run`, `executions`, `dlq`) talk to the running server's REST API instead — found
 * from the data directory's lock for the default local server, or given as `--server URL` / `OTESSE_SYNC_URL`.
 * So the README's CLI examples work while `npm start` runs, on the demo's jobs (whose local tables only the
 * server knows).
 */
const { DATABASE_URL: _ignored, OTESSE_SYNC_URL: _ignored2, ...baseEnv } = process.env;

function cli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI_FROM_SOURCE, ...args], {
      cwd: ROOT,
      env: { ...baseEnv, LOG_LEVEL: 'silent', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

interface Served {
  child: ChildProcess;
  url: string;
  exited: Promise<number | null>;
  output: () => string;
}

async function startServe(dataDir: string, extra: string[] = [], env: Record<string, string> = {}): Promise<Served> {
  const child = spawn(
    process.execPath,
    [...CLI_FROM_SOURCE, 'serve', '--demo', '--demo-records', '40', '--port', '0', '--data-dir', dataDir, ...extra],
    { cwd: ROOT, env: { ...baseEnv, LOG_FORMAT: 'json', LOG_LEVEL: 'warn', ...env } },
  );
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`serve exited early:\n${out}`);
      return /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
    },
    'the server to listen',
    90_000,
  );
  await waitFor(async () => /demo: Stripe sandbox at/.test(out), 'the demo line', 60_000);
  return { child, url, exited, output: () => out };
}

describe('a server on a PGlite data directory, and the CLI beside it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'otesse-cli-server-'));
  const dataDir = join(dir, 'data');
  let served: Served | null = null;
  afterAll(() => {
    served?.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a second process on the directory, and the operator commands go through the server', async () => {
    served = await startServe(dataDir);
    const { url, child } = served;
    const lock = JSON.parse(readFileSync(join(dataDir, LOCK_FILE), 'utf8')) as Record<string, unknown>;
    expect(lock).toMatchObject({ pid: child.pid, url });

    // A command that needs the database itself (not an operator command) is refused, naming the holder.
    const migrate = await cli(['migrate', '--data-dir', dataDir]);
    expect(migrate.code).toBe(1);
    expect(migrate.stderr).toContain(`in use by process ${child.pid}`);
    expect(migrate.stderr).toContain(url);
    expect(migrate.stderr).toMatch(/stop that process/);

    // `jobs list` on the same directory finds the server and lists what its API lists.
    const apiJobs = (await (await fetch(`${url}/api/v1/sync-jobs`)).json()) as {
      items: { id: string; name: string }[];
    };
    const list = await cli(['jobs', 'list', '--data-dir', dataDir, '--json']);
    expect(list.stderr).toBe('');
    expect(list.code).toBe(0);
    const listed = JSON.parse(list.stdout) as { id: string; name: string }[];
    expect(listed.map((j) => j.id)).toEqual(apiJobs.items.map((j) => j.id));
    const human = await cli(['jobs', 'list', '--data-dir', dataDir]);
    expect(human.code).toBe(0);
    expect(human.stderr).toContain(`using the server at ${url}`);
    expect(human.stdout).toMatch(/Customers\s+customer\s+inbound\s+incremental\s+\*\/15 \* \* \* \*\s+ignore\s/);

    // `run --follow` on the demo job (its local table is known only to the server) runs on the server.
    const customers = apiJobs.items.find((j) => j.name === 'Customers')!;
    const run = await cli(['run', customers.id, '--follow', '--data-dir', dataDir]);
    expect(run.stderr).toMatch(/\] completed\s+processed 40 {2}created 40/);
    expect(run.code).toBe(0);
    const executionId = /execution ([0-9a-f-]{36}): completed/.exec(run.stdout)?.[1];
    expect(executionId).toBeDefined();
    // The server saw the run: its API lists it.
    const executions = (await (await fetch(`${url}/api/v1/sync-jobs/${customers.id}/executions`)).json()) as {
      items: { id: string; status: string; processed: number }[];
    };
    expect(executions.items[0]).toMatchObject({ id: executionId, status: 'completed', processed: 40 });

    // executions list / show and dlq list, through the server.
    const ex = await cli(['executions', 'list', customers.id, '--data-dir', dataDir, '--json']);
    expect(ex.code).toBe(0);
    expect((JSON.parse(ex.stdout) as { id: string }[])[0]!.id).toBe(executionId);
    const show = await cli(['executions', 'show', executionId!, '--data-dir', dataDir]);
    expect(show.code).toBe(0);
    expect(show.stdout).toContain(`execution ${executionId}: completed`);
    const invoices = apiJobs.items.find((j) => j.name.startsWith('Invoices'))!;
    const failing = await cli(['run', invoices.id, '--data-dir', dataDir, '--json']);
    expect(failing.code).toBe(2);
    expect(JSON.parse(failing.stdout)).toMatchObject({ status: 'completed_with_errors' });
    const dlq = await cli(['dlq', 'list', invoices.id, '--data-dir', dataDir]);
    expect(dlq.code).toBe(0);
    expect(dlq.stdout).toBe('the dead letter queue is empty\n');

    // Errors from the server keep their words and the exit code.
    const missing = await cli(['run', '00000000-0000-4000-8000-000000000000', '--data-dir', dataDir]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/error: .*not found/);

    // The lock is released on a clean stop; the same commands then open the directory themselves.
    child.kill('SIGTERM');
    expect(await served.exited).toBe(0);
    served = null;
    expect(existsSync(join(dataDir, LOCK_FILE))).toBe(false);
    const direct = await cli(['executions', 'list', customers.id, '--data-dir', dataDir, '--json']);
    expect(direct.code).toBe(0);
    expect(direct.stderr).not.toContain('using the server');
    expect((JSON.parse(direct.stdout) as { id: string }[]).map((e) => e.id)).toContain(executionId);
  }, 240_000);

  it('takes over the lock of a server that was killed', async () => {
    served = await startServe(dataDir);
    const pid = served.child.pid;
    served.child.kill('SIGKILL');
    await served.exited;
    served = null;
    expect(JSON.parse(readFileSync(join(dataDir, LOCK_FILE), 'utf8'))).toMatchObject({ pid });
    const list = await cli(['jobs', 'list', '--data-dir', dataDir, '--json']);
    expect(list.stderr).toBe('');
    expect(list.code).toBe(0);
    expect((JSON.parse(list.stdout) as unknown[]).length).toBe(3);
    expect(existsSync(join(dataDir, LOCK_FILE))).toBe(false);
  }, 180_000);
});

describe('the data directory lock in the library', () => {
  const dir = mkdtempSync(join(tmpdir(), 'otesse-lock-'));
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a second open of the same directory in one process is refused, and allowed after close', async () => {
    const first = await openDatabase({ database: join(dir, 'a') });
    closers.push(() => first.close());
    const second = openDatabase({ database: join(dir, 'a') });
    await expect(second).rejects.toBeInstanceOf(DataDirectoryLockedError);
    await expect(second).rejects.toThrow(`in use by process ${process.pid}`);
    await closers.pop()!();
    const third = await openDatabase({ database: join(dir, 'a') });
    closers.push(() => third.close());
    expect(third.kind).toBe('pglite');
  });
});

describe('--server / OTESSE_SYNC_URL', () => {
  const dir = mkdtempSync(join(tmpdir(), 'otesse-cli-url-'));
  const token = 'cli-test-token-0123456789abcdef0123456789';
  let served: Served | null = null;
  afterAll(() => {
    served?.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('talks to the server named, with the API token; says what is wrong when it cannot', async () => {
    served = await startServe(join(dir, 'data'), [], { OTESSE_SYNC_API_TOKEN: token });
    const elsewhere = join(dir, 'other'); // not the server's directory: only the URL leads there
    const viaFlag = await cli(['jobs', 'list', '--server', served.url, '--data-dir', elsewhere, '--json'], {
      OTESSE_SYNC_API_TOKEN: token,
    });
    expect(viaFlag.code).toBe(0);
    expect((JSON.parse(viaFlag.stdout) as unknown[]).length).toBe(3);
    const viaEnv = await cli(['jobs', 'list', '--data-dir', elsewhere, '--json'], {
      OTESSE_SYNC_URL: served.url,
      OTESSE_SYNC_API_TOKEN: token,
    });
    expect(viaEnv.code).toBe(0);
    expect(viaEnv.stdout).toBe(viaFlag.stdout);

    const noToken = await cli(['jobs', 'list', '--server', served.url]);
    expect(noToken.code).toBe(1);
    expect(noToken.stderr).toContain('OTESSE_SYNC_API_TOKEN');

    const badUrl = await cli(['jobs', 'list', '--server', 'ftp://nowhere']);
    expect(badUrl.code).toBe(1);
    expect(badUrl.stderr).toMatch(/server: must be an http\(s\) URL/);

    served.child.kill('SIGTERM');
    await served.exited;
    const gone = await cli(['jobs', 'list', '--server', served.url], { OTESSE_SYNC_API_TOKEN: token });
    served = null;
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/cannot reach the server at http:\/\/127\.0\.0\.1:\d+/);
  }, 180_000);
});
