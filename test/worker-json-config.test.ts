import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { builtInProviders } from '../src/connectors/index.ts';
import { createPostgresLocalStore } from '../src/local/postgres.ts';
import { type StripeSandbox, startStripeSandbox } from '../src/sandbox/stripe/server.ts';
import { createSyncEngine, type SyncEngine } from '../src/sync-engine.ts';
import { CLI_FROM_SOURCE, ROOT } from './helpers/cli.ts';
import { schemaFor, waitFor } from './helpers/db.ts';

/**
 * Scaling out needs no code (fleet scale): `otesse-sync worker --config <the JSON config file serve takes>` runs the
 * built-in providers and the config's local entities, so a second worker is one command. The test process only
 * queues a run; the worker process runs it into the local table.
 */
const url = process.env.TEST_DATABASE_URL;
const KEY = 'sk_test_worker_json_config';

describe.skipIf(!url)('worker --config <json>', () => {
  let sandbox: StripeSandbox | undefined;
  let engine: SyncEngine | undefined;
  let child: ChildProcess | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'otesse-worker-json-'));
  const schema = schemaFor('worker-json');
  afterAll(async () => {
    child?.kill('SIGKILL');
    await engine?.database.exec(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await engine?.close();
    await sandbox?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs queued runs with the built-in providers and the config file’s local entities', async () => {
    sandbox = await startStripeSandbox({ apiKey: KEY, records: { customers: 30 } });
    const encryptionKey = randomBytes(32).toString('hex');
    const table = `${schema}.wj_customers`;
    const config = join(dir, 'otesse-sync.config.json');
    writeFileSync(config, JSON.stringify({ localEntities: { customers: { table } } }));
    engine = await createSyncEngine({
      database: url!,
      schema,
      providers: builtInProviders(),
      encryptionKeys: [encryptionKey],
      local: createPostgresLocalStore({ entities: { customers: { table } } }),
    });
    await engine.database.exec(
      `CREATE TABLE ${table} (id uuid PRIMARY KEY, name text, email text, updated_at timestamptz NOT NULL DEFAULT now())`,
    );
    const conn = await engine.connections.create({
      name: 'Sandbox',
      provider: 'stripe',
      config: { apiBase: sandbox.url, requestsPerSecond: 500 },
      credentials: { apiKey: KEY },
    });
    const job = await engine.jobs.create({
      connectionId: conn.id,
      name: 'Customers',
      entityType: 'customer',
      localEntity: 'customers',
      direction: 'inbound',
      fieldMappings: [{ sourceField: 'email', targetField: 'email', direction: 'inbound' }],
    });

    let out = '';
    child = spawn(
      process.execPath,
      [...CLI_FROM_SOURCE, 'worker', '--config', config, '--database', url!, '--schema', schema],
      { cwd: ROOT, env: { ...process.env, OTESSE_SYNC_ENCRYPTION_KEY: encryptionKey, LOG_LEVEL: 'warn' } },
    );
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    await waitFor(async () => /^worker \S+ ready$/m.test(out) || child!.exitCode !== null, 'the worker', 60_000);
    expect(out).toMatch(/^worker \S+ ready$/m);

    const { execution } = await engine.trigger(job.id, { trigger: 'manual' });
    const done = await waitFor(
      async () => {
        const e = await engine!.executions.get(execution.id);
        return e.status !== 'queued' && e.status !== 'running' ? e : null;
      },
      'the worker to run it',
      60_000,
    );
    expect(done).toMatchObject({ status: 'completed', created: 30 });
    const rows = await engine.database.pool!.query(`SELECT count(*)::int AS n FROM ${table}`);
    expect(rows.rows[0].n).toBe(30);

    child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => child!.once('exit', (c) => resolve(c)));
    expect(code).toBe(0);
    child = undefined;
  }, 120_000);
});
