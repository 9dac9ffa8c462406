import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { serve } from '../src/api/serve.ts';
import { createMemoryProvider } from '../src/connectors/memory.ts';
import { createSyncEngine, type SyncEngineOptions } from '../src/sync-engine.ts';
import { schemaFor, TEST_DATABASES } from './helpers/db.ts';

/**
 * Hardening, "Encryption keys": the engine refuses to start when a stored credential was sealed with a key
 * that is not configured (a lost key file, a wrong OTESSE_SYNC_ENCRYPTION_KEY), naming the key ids and the fix;
 * and replacing a connection's credentials works even when the old ones cannot be opened (never a 500).
 */

const keyId = (hex: string) => createHash('sha256').update(Buffer.from(hex, 'hex')).digest('hex').slice(0, 12);
const newKey = () => randomBytes(32).toString('hex');
const providers = [createMemoryProvider().definition];

const ENV = ['OTESSE_SYNC_ENCRYPTION_KEY', 'OTESSE_SYNC_ALLOW_MISSING_KEYS'] as const;
let savedEnv: Record<string, string | undefined> = {};
beforeEach(() => {
  savedEnv = Object.fromEntries(ENV.map((k) => [k, process.env[k]]));
  for (const k of ENV) delete process.env[k];
});
afterEach(() => {
  for (const k of ENV) {
    if (savedEnv[k] === undefined) delete process.env[k];
    else process.env[k] = savedEnv[k];
  }
});

describe('a PGlite data directory whose key file is gone', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'otesse-keys-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('is refused at start (naming the key id and the file), and no new key is generated', async () => {
    const data = join(dir, 'data');
    const first = await createSyncEngine({ database: data, providers });
    await first.connections.create({ name: 'c', provider: 'memory', credentials: { apiKey: 'sk_test_x' } });
    await first.close();
    const lostId = keyId(readFileSync(join(data, 'encryption.key'), 'utf8').trim());
    unlinkSync(join(data, 'encryption.key'));

    const err = await createSyncEngine({ database: data, providers }).then(
      async (engine) => {
        await engine.close();
        return null;
      },
      (e: unknown) => e as Error,
    );
    expect(err, 'the engine started with a new key').not.toBeNull();
    expect(err?.message).toContain(lostId);
    expect(err?.message).toContain('encryption.key');
    expect(err?.message).toContain('OTESSE_SYNC_ENCRYPTION_KEY');
    expect(existsSync(join(data, 'encryption.key'))).toBe(false);
  });
});

describe.each(TEST_DATABASES)('stored credentials and the configured keys ($name)', (db) => {
  let pglite: PGlite | null = null;
  const schema = schemaFor(`hardening-keys-${db.name}`);
  const database = async (): Promise<SyncEngineOptions['database']> => {
    if (db.name === 'postgres') return db.url!;
    pglite ??= await PGlite.create();
    return { pglite };
  };
  afterEach(async () => {
    if (db.name === 'pglite') {
      await pglite?.close();
      pglite = null;
    }
  });

  it('refuses to start with a key that did not seal them; starts with it among the keys', async () => {
    const keyA = newKey();
    const keyB = newKey();
    const a = await createSyncEngine({ database: await database(), schema, providers, encryptionKeys: [keyA] });
    await a.connections.create({ name: 'c', provider: 'memory', credentials: { apiKey: 'sk_test_x' } });
    await a.close();

    const err = await createSyncEngine({ database: await database(), schema, providers, encryptionKeys: [keyB] }).then(
      async (engine) => {
        await engine.close();
        return null;
      },
      (e: unknown) => e as Error,
    );
    expect(err).not.toBeNull();
    expect(err!.message).toContain(keyId(keyA));
    expect(err!.message).not.toContain(keyA);
    expect(err!.message).toContain('OTESSE_SYNC_ENCRYPTION_KEY');

    const rotated = await createSyncEngine({
      database: await database(),
      schema,
      providers,
      encryptionKeys: [keyB, keyA],
    });
    expect(await rotated.rotateCredentials()).toBe(1);
    await rotated.close();
    const afterRotation = await createSyncEngine({
      database: await database(),
      schema,
      providers,
      encryptionKeys: [keyB],
    });
    await afterRotation.close();
    if (db.name === 'postgres') {
      const cleanup = await createSyncEngine({ database: db.url!, schema, providers, encryptionKeys: [keyB] });
      await cleanup.database.exec(`DROP SCHEMA "${schema}" CASCADE`);
      await cleanup.close();
    }
  });

  it('PATCH replaces credentials that cannot be opened (full set), refuses a partial merge (400), never 500', async () => {
    const keyA = newKey();
    const keyB = newKey();
    const dir = db.name === 'pglite' ? mkdtempSync(join(tmpdir(), 'otesse-keys-api-')) : null;
    const apiSchema = schemaFor(`hardening-keys-api-${db.name}`);
    const options = {
      database: dir ?? db.url!,
      schema: apiSchema,
      host: '127.0.0.1',
      port: 0,
      token: null,
      logger: pino({ enabled: false }),
    };
    let server = await serve({ ...options, encryptionKeys: [keyA] });
    const api = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${server.url}/api/v1${path}`, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      // biome-ignore lint/suspicious/noExplicitAny: JSON responses
      return { status: res.status, body: (await res.json()) as any };
    };
    try {
      const created = await api('POST', '/connections', {
        provider: 'stripe',
        name: 'S',
        config: { apiBase: 'http://127.0.0.1:9' },
        credentials: { apiKey: 'sk_test_old', webhookSecret: 'whsec_old' },
      });
      const id = (created.body as { id: string }).id;
      await server.close();

      // The key is lost; the operator starts anyway to enter the credentials again.
      process.env.OTESSE_SYNC_ALLOW_MISSING_KEYS = '1';
      server = await serve({ ...options, encryptionKeys: [keyB] });
      // A webhook for it cannot be verified (the signing secret is sealed under the lost key): 503 with the
      // reason, so the provider delivers it again later; never a 500.
      const hook = await fetch(`${server.url}/webhooks/${id}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'stripe-signature': 't=1,v1=00' },
        body: JSON.stringify({ id: 'evt_1', type: 'customer.updated', data: { object: { id: 'cus_1' } } }),
      });
      expect(hook.status).toBe(503);
      const hookBody = (await hook.json()) as { error: { code: string; message: string } };
      expect(hookBody.error.code).toBe('credentials_unavailable');
      expect(hookBody.error.message).toContain(keyId(keyA));
      const partial = await api('PATCH', `/connections/${id}`, { credentials: { webhookSecret: 'whsec_new' } });
      expect(partial.status).toBe(400);
      const details = (partial.body as { error: { details: { path: string; message: string }[] } }).error.details;
      expect(details.map((d) => d.path)).toEqual(['credentials.apiKey']);
      expect(details[0]!.message).toContain(keyId(keyA));

      const full = await api('PATCH', `/connections/${id}`, { credentials: { apiKey: 'sk_test_new' } });
      expect(full.status).toBe(200);
      const test = await api('POST', `/connections/${id}/test`);
      expect(test.status).toBe(200);
      expect(JSON.stringify(test.body)).not.toContain('not configured');
      await server.close();

      // Everything is readable with the new key now: a normal start.
      delete process.env.OTESSE_SYNC_ALLOW_MISSING_KEYS;
      server = await serve({ ...options, encryptionKeys: [keyB] });
    } finally {
      if (db.name === 'postgres') await server.engine.database.exec(`DROP SCHEMA "${apiSchema}" CASCADE`);
      await server.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  });
});
