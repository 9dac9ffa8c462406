import { createHash, randomBytes } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import { afterAll } from 'vitest';
import { createMemoryProvider, type MemoryProvider } from '../../src/connectors/memory.ts';
import type { SyncExecution } from '../../src/domain/types.ts';
import { createPostgresLocalStore, type LocalEntityConfig } from '../../src/local/postgres.ts';
import { createSyncEngine, type SyncEngine, type SyncEngineOptions } from '../../src/sync-engine.ts';

/**
 * The databases every engine test runs on: embedded PGlite always, and the PostgreSQL server named by
 * TEST_DATABASE_URL when it is set (CI sets it). Each test gets its own schema, named from a hash of
 * the test's name, so tests never share rows.
 */
export const TEST_DATABASES: { name: 'pglite' | 'postgres'; url?: string }[] = [
  { name: 'pglite' },
  ...(process.env.TEST_DATABASE_URL ? [{ name: 'postgres' as const, url: process.env.TEST_DATABASE_URL }] : []),
];

// One PGlite per test file (starting one takes seconds); schemas keep the tests apart.
let sharedPglite: Promise<PGlite> | null = null;
afterAll(async () => {
  if (sharedPglite) await (await sharedPglite).close();
  sharedPglite = null;
});

let counter = 0;
export function schemaFor(testName: string): string {
  const hash = createHash('sha1').update(`${testName}:${process.pid}:${counter++}`).digest('hex').slice(0, 12);
  return `t_${hash}`;
}

export const CUSTOMERS_DDL = `
  CREATE TABLE customers (
    id uuid PRIMARY KEY,
    name text,
    email text NOT NULL,
    balance numeric(12,2),
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
  );
  CREATE INDEX customers_updated_idx ON customers (updated_at, id);`;

export interface Harness {
  engine: SyncEngine;
  provider: MemoryProvider;
  schema: string;
  /** Runs SQL in the test's schema. */
  query<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

/** An engine on a fresh schema with a `customers` local table and an in-memory provider. */
export async function createHarness(
  db: (typeof TEST_DATABASES)[number],
  testName: string,
  options: Partial<SyncEngineOptions> & { ddl?: string; entities?: Record<string, LocalEntityConfig> } = {},
): Promise<Harness> {
  const schema = schemaFor(testName);
  const provider = createMemoryProvider({ entityTypes: ['customer', 'invoice'] });
  let database: SyncEngineOptions['database'];
  if (db.name === 'pglite') {
    sharedPglite ??= PGlite.create();
    database = { pglite: await sharedPglite };
  } else database = db.url!;
  // The local table must exist before the engine introspects it: create the schema first.
  const engine = await createSyncEngine({
    database,
    schema,
    providers: [provider.definition],
    local: createPostgresLocalStore({
      entities: options.entities ?? {
        customer: { table: 'customers', primaryKey: 'id', updatedAtColumn: 'updated_at' },
      },
    }),
    transientRetry: { attempts: 3, baseDelayMs: 5, maxDelayMs: 50 },
    cursorOverlapMs: 0,
    // A throwaway key per test: no fixture secret that looks real.
    encryptionKeys: [randomBytes(32).toString('hex')],
    ...options,
  });
  await engine.database.exec(options.ddl ?? CUSTOMERS_DDL);
  const query = async <T>(text: string, params: unknown[] = []) => {
    const d = engine.database;
    if (d.kind === 'pglite') return (await d.pglite!.query<T>(text, params)).rows;
    return (await d.pool!.query(text, params)).rows as T[];
  };
  return {
    engine,
    provider,
    schema,
    query,
    async close() {
      if (db.name === 'postgres') await engine.database.exec(`DROP SCHEMA "${schema}" CASCADE`);
      await engine.close();
    },
  };
}

/** Waits until `check` returns a value, polling, or fails after `timeoutMs`. */
export async function waitFor<T>(
  check: () => Promise<T | undefined | null | false>,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function counters(e: SyncExecution) {
  return { processed: e.processed, created: e.created, updated: e.updated, skipped: e.skipped, failed: e.failed };
}

/** Field mappings of the `customers` table of the harness: name and email, each way. */
export const IN_RULES = [
  { sourceField: 'name', targetField: 'name', direction: 'inbound' as const },
  { sourceField: 'email', targetField: 'email', direction: 'inbound' as const },
];
export const OUT_RULES = [
  { sourceField: 'name', targetField: 'name', direction: 'outbound' as const },
  { sourceField: 'email', targetField: 'email', direction: 'outbound' as const },
];

/** Provider ids that sort in creation order (the memory provider pages by id). */
export const cid = (i: number) => `c${String(i).padStart(4, '0')}`;

/** The harness's helpers for memory-provider jobs into the `customers` table. */
export function customerJobs(harness: () => Harness) {
  return {
    /** A job on a new memory connection: inbound customers, name and email, unless `extra` says otherwise. */
    async job(extra: Record<string, unknown> = {}) {
      const h = harness();
      const conn = await h.engine.connections.create({ name: 'Mem', provider: 'memory' });
      return h.engine.jobs.create({
        connectionId: conn.id,
        name: 'Customers',
        entityType: 'customer',
        direction: 'inbound',
        fieldMappings: IN_RULES,
        ...extra,
      });
    },
    /** `count` provider customers; `bad` ones have no email: the local NOT NULL constraint refuses them. */
    seed(count: number, bad: (i: number) => boolean = () => false) {
      for (let i = 0; i < count; i++) {
        harness().provider.put('customer', { name: `N${i}`, email: bad(i) ? null : `e${i}@x.test` }, cid(i));
      }
    },
    /** `count` local customers L0…, as an application would have them (for outbound jobs). */
    async insertLocal(count: number) {
      for (let i = 0; i < count; i++) {
        await harness().query('INSERT INTO customers (id, name, email) VALUES (gen_random_uuid(), $1, $2)', [
          `L${i}`,
          `l${i}@x.test`,
        ]);
      }
    },
    localCount: async () => (await harness().query<{ n: number }>('SELECT count(*)::int AS n FROM customers'))[0]!.n,
    refCount: async () =>
      (await harness().query<{ n: number }>('SELECT count(*)::int AS n FROM external_references'))[0]!.n,
  };
}
