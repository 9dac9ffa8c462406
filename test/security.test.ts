import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryProvider } from '../src/connectors/memory.ts';
import type { ConnectionContext, ProviderDefinition } from '../src/engine/endpoint.ts';
import { createPostgresLocalStore } from '../src/local/postgres.ts';
import { createSyncEngine, type SyncEngine } from '../src/sync-engine.ts';
import { CUSTOMERS_DDL } from './helpers/db.ts';

// A canary credential: obviously fake, easy to grep for.
const CANARY = 'sk_test_CANARY_not_a_real_key_0123456789';

function capture() {
  let text = '';
  const stream = new Writable({
    write(chunk, _enc, cb) {
      text += chunk;
      cb();
    },
  });
  return { logger: pino({ level: 'trace' }, stream), text: () => text };
}

/** The memory provider, remembering the credentials each endpoint was opened with. */
function spyingProvider() {
  const mem = createMemoryProvider();
  const seen: ConnectionContext['credentials'][] = [];
  const definition: ProviderDefinition = {
    ...mem.definition,
    createEndpoint(ctx) {
      seen.push(ctx.credentials);
      return mem.endpoint();
    },
  };
  return { mem, definition, seen };
}

describe('credentials', () => {
  const engines: SyncEngine[] = [];
  afterEach(async () => {
    for (const e of engines.splice(0)) await e.close();
  });

  it('are encrypted at rest, readable inside a run, never logged, and survive key rotation', async () => {
    const dir = `memory://`;
    const keyA = randomBytes(32).toString('hex');
    const keyB = randomBytes(32).toString('hex');
    const log = capture();
    const spy = spyingProvider();
    for (let i = 0; i < 30; i++) spy.mem.put('customer', { name: `n${i}`, email: `e${i}@x.test` });
    const { PGlite } = await import('@electric-sql/pglite');
    const pglite = await PGlite.create(dir);
    const local = createPostgresLocalStore({ entities: { customer: { table: 'customers' } } });
    const a = await createSyncEngine({
      database: { pglite },
      encryptionKeys: [keyA],
      providers: [spy.definition],
      local,
      logger: log.logger,
    });
    engines.push(a);
    await a.database.exec(CUSTOMERS_DDL);
    const conn = await a.connections.create({ name: 'c', provider: 'memory', credentials: { apiKey: CANARY } });
    const job = await a.jobs.create({
      connectionId: conn.id,
      name: 'j',
      entityType: 'customer',
      direction: 'inbound',
      fieldMappings: [
        { sourceField: 'name', targetField: 'name', direction: 'inbound' },
        { sourceField: 'email', targetField: 'email', direction: 'inbound' },
      ],
    });
    const ok = await a.runJob(job.id);
    expect(ok.status).toBe('completed');
    spy.mem.faults.authError = true;
    const failed = await a.runJob(job.id);
    expect(failed.status).toBe('failed');
    spy.mem.faults.authError = false;
    expect(spy.seen.at(-1)).toEqual({ apiKey: CANARY });

    // Redaction holds even when a line carries the secret by mistake.
    a.log.info({ credentials: { apiKey: CANARY }, headers: { authorization: `Bearer ${CANARY}` } }, 'oops');
    const logs = log.text();
    expect(logs).toContain('run finished');
    expect(logs).toContain(ok.id);
    expect(logs).not.toContain(CANARY);
    expect(logs).not.toContain(CANARY.slice(8, 30));

    const stored = (await pglite.query<{ credentials: string }>('SELECT credentials FROM otesse_sync.connections'))
      .rows;
    expect(stored[0]!.credentials).not.toContain(CANARY);
    expect(stored[0]!.credentials).not.toContain(Buffer.from(CANARY).toString('base64').slice(0, 20));
    expect(JSON.stringify(await a.connections.get(conn.id))).not.toContain(CANARY);
    expect(failed.haltReason).not.toContain(CANARY);
    await a.close();
    engines.length = 0;

    // Rotation: the new key seals, the old one still opens until everything is re-sealed.
    const b = await createSyncEngine({
      database: { pglite },
      encryptionKeys: [keyB, keyA],
      providers: [spy.definition],
      local,
    });
    engines.push(b);
    expect(await b.rotateCredentials()).toBe(1);
    expect(await b.rotateCredentials()).toBe(0);
    await b.close();
    engines.length = 0;
    const c = await createSyncEngine({
      database: { pglite },
      encryptionKeys: [keyB],
      providers: [spy.definition],
      local,
    });
    engines.push(c);
    expect((await c.runJob(job.id)).status).toBe('completed');
    expect(spy.seen.at(-1)).toEqual({ apiKey: CANARY });
    await c.close();
    engines.length = 0;
    // Without the key that sealed them, the engine refuses to start and names the key…
    await expect(
      createSyncEngine({ database: { pglite }, encryptionKeys: [keyA], providers: [spy.definition], local }),
    ).rejects.toThrow(/sealed with key id\(s\) [0-9a-f]{12}, cannot be opened/);
    // …and when told to start anyway (a lost key), a run fails clearly rather than reading garbage.
    const d = await createSyncEngine({
      database: { pglite },
      encryptionKeys: [keyA],
      allowMissingKeys: true,
      providers: [spy.definition],
      local,
    });
    engines.push(d);
    const noKey = await d.runJob(job.id);
    expect(noKey.status).toBe('failed');
    expect(noKey.haltReason).toMatch(/sealed with key .* which is not configured/);
    await d.close();
    engines.length = 0;
    await pglite.close();
  });
});
