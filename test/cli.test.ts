import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtInProviders } from '../src/connectors/index.ts';
import { createPostgresLocalStore } from '../src/local/postgres.ts';
import { type StripeSandbox, startStripeSandbox } from '../src/sandbox/stripe/server.ts';
import { createSyncEngine } from '../src/sync-engine.ts';
import { CLI_FROM_SOURCE, ROOT } from './helpers/cli.ts';
import { schemaFor, TEST_DATABASES } from './helpers/db.ts';

/**
 * The operator CLI as a child process against a Stripe sandbox: `run <jobId> --follow` draws progress and
 * exits 0 (completed), 2 (completed_with_errors) or 1 (failed); list commands print tables or `--json`.
 */
const KEY = 'sk_test_cli_sandbox_key';

function cli(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI_FROM_SOURCE, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env, LOG_LEVEL: 'silent' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

describe.each(TEST_DATABASES)('CLI ($name)', (db) => {
  let sandbox: StripeSandbox;
  let dir: string;
  let env: Record<string, string>;
  let args: string[];
  const jobs: Record<'ok' | 'errors' | 'failed', string> = { ok: '', errors: '', failed: '' };
  let withErrors = '';

  beforeAll(async () => {
    sandbox = await startStripeSandbox({ apiKey: KEY, records: { customers: 120, invoices: 20 } });
    sandbox.faults.malformed = { ids: sandbox.store.ids('invoice').slice(0, 2) };
    dir = mkdtempSync(join(tmpdir(), 'otesse-cli-'));
    const config = join(dir, 'otesse-sync.config.json');
    const schema = schemaFor(`cli-${db.name}`);
    writeFileSync(
      config,
      JSON.stringify({
        localEntities: {
          customers: { table: 'cli_customers' },
          invoices: { table: 'cli_invoices' },
        },
      }),
    );
    const database = db.name === 'pglite' ? join(dir, 'data') : db.url!;
    env = { OTESSE_SYNC_ENCRYPTION_KEY: randomBytes(32).toString('hex'), DATABASE_URL: '' };
    args = ['--database', database, '--schema', schema, '--config', config];
    const engine = await createSyncEngine({
      database,
      schema,
      providers: builtInProviders(),
      encryptionKeys: [env.OTESSE_SYNC_ENCRYPTION_KEY!],
      local: createPostgresLocalStore({
        entities: { customers: { table: 'cli_customers' }, invoices: { table: 'cli_invoices' } },
      }),
    });
    try {
      await engine.database.exec(`
        CREATE TABLE cli_customers (id uuid PRIMARY KEY, name text, email text, updated_at timestamptz NOT NULL DEFAULT now());
        CREATE TABLE cli_invoices (id uuid PRIMARY KEY, amount_due integer, updated_at timestamptz NOT NULL DEFAULT now());`);
      const config = { apiBase: sandbox.url, requestsPerSecond: 500 };
      const good = await engine.connections.create({
        name: 'Sandbox',
        provider: 'stripe',
        config,
        credentials: { apiKey: KEY },
      });
      const bad = await engine.connections.create({
        name: 'Wrong key',
        provider: 'stripe',
        config,
        credentials: { apiKey: 'sk_test_wrong_key' },
      });
      const customers = (connectionId: string, name: string) =>
        engine.jobs.create({
          connectionId,
          name,
          entityType: 'customer',
          localEntity: 'customers',
          direction: 'inbound',
          fieldMappings: [
            { sourceField: 'name', targetField: 'name', direction: 'inbound' },
            { sourceField: 'email', targetField: 'email', direction: 'inbound' },
          ],
        });
      jobs.ok = (await customers(good.id, 'Customers')).id;
      jobs.failed = (await customers(bad.id, 'Customers with a wrong key')).id;
      jobs.errors = (
        await engine.jobs.create({
          connectionId: good.id,
          name: 'Invoices',
          entityType: 'invoice',
          localEntity: 'invoices',
          direction: 'inbound',
          fieldMappings: [
            {
              sourceField: 'amount_due',
              targetField: 'amount_due',
              direction: 'inbound',
              transform: { name: 'to_number' },
            },
          ],
        })
      ).id;
    } finally {
      await engine.close(); // PGlite's directory belongs to one process at a time
    }
  }, 120_000);
  afterAll(async () => {
    await sandbox?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('migrate applies the migrations in the schema it is given (--schema)', async () => {
    const fresh = schemaFor(`cli-migrate-${db.name}`);
    const database = db.name === 'pglite' ? join(dir, 'data') : db.url!;
    const r = await cli(['migrate', '--database', database, '--schema', fresh], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^applied +0001_init\.sql$/m);
    // Run again against the same schema: everything is already there; another schema starts from scratch.
    const again = await cli(['migrate', '--database', database, '--schema', fresh], env);
    expect(again.stdout).not.toMatch(/^applied/m);
    expect(again.stdout).toMatch(/^already_applied +0001_init\.sql$/m);
    const other = await cli(['migrate', '--database', database, '--schema', `${fresh}_b`], env);
    expect(other.stdout).toMatch(/^applied +0001_init\.sql$/m);
  });

  it('run --follow exits 0 for completed and shows progress', async () => {
    const r = await cli(['run', jobs.ok, '--follow', ...args], env);
    expect(r.stderr).toMatch(/processed 120 {2}created 120 {2}updated 0 {2}skipped 0 {2}failed 0 {2}\d+\/s {2}[\d.]+s/);
    expect(r.stdout).toMatch(/: completed in [\d.]+s — processed 120, created 120/);
    expect(r.code).toBe(0);
  });

  it('run --follow exits 2 for completed_with_errors', async () => {
    const r = await cli(['run', jobs.errors, '--follow', '--json', ...args], env);
    expect(r.code).toBe(2);
    const e = JSON.parse(r.stdout);
    expect(e).toMatchObject({ status: 'completed_with_errors', processed: 20, created: 18, failed: 2 });
    withErrors = e.id;
  });

  it('run --follow exits 1 for a failed run and says why', async () => {
    const r = await cli(['run', jobs.failed, '--follow', ...args], env);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/: failed/);
    expect(r.stdout).toMatch(/reason: .*(key|auth|401)/i);
  });

  it('lists jobs, executions and dead letters; rejects bad input with a clear message', async () => {
    const list = await cli(['jobs', 'list', '--json', ...args], env);
    expect(list.code).toBe(0);
    const listed = JSON.parse(list.stdout);
    expect(listed.map((j: { name: string }) => j.name).sort()).toEqual([
      'Customers',
      'Customers with a wrong key',
      'Invoices',
    ]);
    expect(listed.find((j: { id: string }) => j.id === jobs.ok).lastRun.status).toBe('completed');
    const table = await cli(['executions', 'list', jobs.errors, ...args], env);
    expect(table.stdout).toMatch(/completed_with_errors\s+manual\s+1/);
    const show = await cli(['executions', 'show', withErrors, ...args], env);
    expect(show.stdout.split('\n').filter((l) => l.includes('[fetch/record]'))).toHaveLength(2);
    const dlq = await cli(['dlq', 'list', jobs.errors, ...args], env);
    expect(dlq.stdout).toContain('the dead letter queue is empty');

    const missing = await cli(['run', '00000000-0000-4000-8000-000000000000', ...args], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/sync job 00000000-0000-4000-8000-000000000000 not found/);
    const badLimit = await cli(['executions', 'list', jobs.ok, '--limit', 'lots', ...args], env);
    expect(badLimit.stderr).toMatch(/limit: must be an integer/);
  });
});
