import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, serve } from '../src/api/serve.ts';
import { type StripeSandbox, startStripeSandbox } from '../src/sandbox/stripe/server.ts';
import { schemaFor } from './helpers/db.ts';

/**
 * A server whose local entities live in another database (`localDatabaseUrl` in the config file): the engine
 * keeps its state in PGlite, the application's table is on the PostgreSQL server. Needs TEST_DATABASE_URL.
 */
const url = process.env.TEST_DATABASE_URL;

describe.skipIf(!url)('local entities in a separate PostgreSQL database', () => {
  const KEY = 'sk_test_local_db_sandbox';
  const appSchema = schemaFor('local-db-app');
  let sandbox: StripeSandbox;
  let server: RunningServer;
  let client: pg.Client;
  let dir: string;

  beforeAll(async () => {
    client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query(`CREATE SCHEMA ${appSchema}`);
    await client.query(
      `CREATE TABLE ${appSchema}.customers (id uuid PRIMARY KEY, name text, email text, updated_at timestamptz NOT NULL DEFAULT now())`,
    );
    sandbox = await startStripeSandbox({ apiKey: KEY, records: { customers: 150 } });
    dir = mkdtempSync(join(tmpdir(), 'otesse-localdb-'));
    const config = join(dir, 'config.json');
    writeFileSync(
      config,
      JSON.stringify({
        localDatabaseUrl: url,
        localEntities: { customers: { table: `${appSchema}.customers` } },
      }),
    );
    server = await serve({
      database: join(dir, 'data'),
      host: '127.0.0.1',
      port: 0,
      configPath: config,
      token: null,
      logger: pino({ enabled: false }),
      encryptionKeys: [randomBytes(32).toString('hex')],
    });
  }, 120_000);
  afterAll(async () => {
    await server?.close();
    await sandbox?.close();
    await client?.query(`DROP SCHEMA IF EXISTS ${appSchema} CASCADE`);
    await client?.end();
    rmSync(dir, { recursive: true, force: true });
  });

  it('introspects the table there and syncs into it', async () => {
    const api = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${server.url}/api/v1${path}`, {
        method,
        ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
      });
      // biome-ignore lint/suspicious/noExplicitAny: JSON
      return { status: res.status, body: (await res.json()) as any };
    };
    const entities = await api('GET', '/local-entities');
    expect(entities.body.items[0].fields.map((f: { name: string }) => f.name)).toEqual([
      'id',
      'name',
      'email',
      'updated_at',
    ]);
    const conn = await api('POST', '/connections', {
      provider: 'stripe',
      name: 'Sandbox',
      config: { apiBase: sandbox.url, requestsPerSecond: 500 },
      credentials: { apiKey: KEY },
    });
    const job = await api('POST', '/sync-jobs', {
      connectionId: conn.body.id,
      name: 'Customers',
      entityType: 'customer',
      localEntity: 'customers',
      direction: 'inbound',
      fieldMappings: [
        { sourceField: 'name', targetField: 'name' },
        { sourceField: 'email', targetField: 'email' },
      ],
    });
    expect(job.status).toBe(201);
    const run = await api('POST', `/sync-jobs/${job.body.id}/run`);
    const deadline = Date.now() + 30_000;
    let e = (await api('GET', `/executions/${run.body.executionId}`)).body;
    while (e.status === 'queued' || e.status === 'running') {
      if (Date.now() > deadline) throw new Error('the run did not finish');
      await new Promise((r) => setTimeout(r, 50));
      e = (await api('GET', `/executions/${run.body.executionId}`)).body;
    }
    expect(e).toMatchObject({ status: 'completed', created: 150 });
    const { rows } = await client.query(
      `SELECT count(*)::int AS n, count(email)::int AS emails FROM ${appSchema}.customers`,
    );
    expect(rows[0]).toEqual({ n: 150, emails: 150 });
    const again = await api('POST', `/sync-jobs/${job.body.id}/run`);
    let second = (await api('GET', `/executions/${again.body.executionId}`)).body;
    while (second.status === 'queued' || second.status === 'running') {
      await new Promise((r) => setTimeout(r, 50));
      second = (await api('GET', `/executions/${again.body.executionId}`)).body;
    }
    expect(second).toMatchObject({ status: 'completed', skipped: 150, created: 0 });
  });
});
