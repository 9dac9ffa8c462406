/**
 * Engine benchmark: a full inbound sync of N synthetic customers from the in-memory provider into a local
 * PostgreSQL table `customers`, with the engine's state in the same database; then a second run over the same
 * data (every record unchanged, so skipped); then a naive baseline (per record: SELECT the reference, INSERT or
 * UPDATE the row, INSERT the reference, each statement autocommitted) on a separate, empty schema.
 *
 *   npm run bench:engine -- [--records N] [--database pglite|postgres|both] [--naive-records N] [--page-size N]
 *
 * Default database: pglite, plus postgres when TEST_DATABASE_URL is set. The last line printed is one JSON
 * object (with a `results` array when both databases were measured).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PGlite } from '@electric-sql/pglite';
import { createMemoryProvider, type MemoryProvider } from '../src/connectors/memory.ts';
import type { SyncExecution } from '../src/domain/types.ts';
import type { EndpointRecord, ProviderDefinition } from '../src/engine/endpoint.ts';
import { createPostgresLocalStore } from '../src/local/postgres.ts';
import { createSyncEngine, type SyncEngine, type SyncEngineOptions } from '../src/sync-engine.ts';

type DatabaseName = 'pglite' | 'postgres';

interface Result {
  database: DatabaseName;
  records: number;
  pageSize: number;
  seconds: number;
  recordsPerSecond: number;
  unchangedSeconds: number;
  unchangedRecordsPerSecond: number;
  naiveRecords: number;
  naiveSeconds: number;
  naiveRecordsPerSecond: number;
  speedup: number;
  peakRssMb: number;
  rssBeforeMb: number;
  unchangedPeakRssMb: number;
  ok: boolean;
  problems: string[];
}

const { values: args } = parseArgs({
  options: {
    records: { type: 'string', default: '100000' },
    database: { type: 'string' },
    'naive-records': { type: 'string' },
    'page-size': { type: 'string', default: '100' },
  },
  strict: true,
});

const RECORDS = positiveInt(args.records!, '--records');
const NAIVE_RECORDS = Math.min(
  RECORDS,
  args['naive-records'] === undefined ? 5_000 : positiveInt(args['naive-records'], '--naive-records'),
);
const PAGE_SIZE = positiveInt(args['page-size']!, '--page-size');
const DATABASE_URL = process.env.TEST_DATABASE_URL;
const DATABASES = pickDatabases(args.database);

const RULES = [
  { sourceField: 'name', targetField: 'name', direction: 'inbound' as const, transform: { name: 'trim' } },
  { sourceField: 'email', targetField: 'email', direction: 'inbound' as const, transform: { name: 'lowercase' } },
  {
    sourceField: 'balance_cents',
    targetField: 'balance',
    direction: 'inbound' as const,
    transform: { name: 'cents_to_decimal' },
    defaultValue: 0,
  },
];

const CUSTOMERS_DDL = (table: string) => `
  CREATE TABLE ${table} (
    id uuid PRIMARY KEY,
    name text,
    email text NOT NULL,
    balance numeric(12,2),
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
  );
  CREATE INDEX ON ${table} (updated_at, id);`;

// The naive baseline's references: the same columns and unique keys as the engine's external_references.
const NAIVE_REFS_DDL = (table: string) => `
  CREATE TABLE ${table} (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    connection_id uuid NOT NULL,
    entity_type text NOT NULL,
    local_id text NOT NULL,
    external_id text NOT NULL,
    inbound_hash text,
    outbound_hash text,
    local_version text,
    external_version text,
    last_synced_at timestamptz NOT NULL DEFAULT now(),
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (local_id, entity_type, connection_id),
    UNIQUE (external_id, entity_type, connection_id)
  );`;

const BASE_TIME = Date.parse('2024-01-01T00:00:00.000Z');

/** Record `i`, generated on demand by the provider (nothing is kept in memory). */
function makeCustomer(i: number): EndpointRecord {
  const id = 'cus_' + String(i).padStart(8, '0');
  return {
    id,
    data: {
      id,
      object: 'customer',
      name: `  Customer ${i} `,
      email: `Customer.${i}@Example.COM`,
      balance_cents: (i * 7919) % 10_000_000,
      currency: 'usd',
      created: Math.floor(BASE_TIME / 1000) + i,
      description: i % 3 === 0 ? null : `Synthetic customer number ${i}`,
      metadata: { source: 'bench', tier: i % 5 },
    },
    updatedAt: new Date(BASE_TIME + i).toISOString(),
  };
}

function positiveInt(text: string, flag: string): number {
  const n = Number(text.replaceAll('_', ''));
  if (!Number.isInteger(n) || n < 1) fail(`${flag} must be a positive integer, got "${text}"`);
  return n;
}

function pickDatabases(flag: string | undefined): DatabaseName[] {
  if (flag === undefined) return DATABASE_URL ? ['pglite', 'postgres'] : ['pglite'];
  const dbs: DatabaseName[] =
    flag === 'both' ? ['pglite', 'postgres'] : flag === 'pglite' || flag === 'postgres' ? [flag] : [];
  if (dbs.length === 0) fail(`--database must be pglite, postgres or both, got "${flag}"`);
  if (dbs.includes('postgres') && !DATABASE_URL) fail('--database postgres needs TEST_DATABASE_URL');
  return dbs;
}

function fail(message: string): never {
  console.error(`bench:engine: ${message}`);
  process.exit(2);
}

/**
 * Ctrl-C (or SIGTERM) cancels the run in progress; the schemas and the data directory are still removed.
 * (On PGlite the signal is only seen when the run ends: the engine does not yield to the event loop there.)
 */
const interrupted = new AbortController();
let cancelRun: (() => Promise<unknown>) | null = null;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`bench:engine: ${signal}, cancelling the run and cleaning up (send it again to quit at once)`);
    interrupted.abort();
    void cancelRun?.().catch(() => {});
  });
}

/** Runs a job, cancellable by Ctrl-C. */
async function runJob(engine: SyncEngine, jobId: string): Promise<SyncExecution> {
  if (interrupted.signal.aborted) throw new Error('interrupted');
  const { execution, done } = await engine.startJob(jobId);
  cancelRun = () => engine.cancel(execution.id);
  try {
    return await done;
  } finally {
    cancelRun = null;
  }
}

const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;
const round = (n: number, digits = 0) => Math.round(n * 10 ** digits) / 10 ** digits;
const gc = (globalThis as { gc?: () => void }).gc;

/**
 * Peak RSS, sampled every 50 ms. A timer alone is not enough: on PGlite a run never yields to the event loop
 * (every query resolves as a microtask), so timers do not fire until it ends. The provider's readPage (once a
 * page) also calls `tick()`, which samples when 50 ms have passed since the last sample.
 */
const rss = {
  active: false,
  peak: 0,
  samples: 0,
  last: 0,
  sample(): void {
    this.peak = Math.max(this.peak, process.memoryUsage().rss);
    this.samples++;
    this.last = performance.now();
  },
  tick(): void {
    if (this.active && performance.now() - this.last >= 50) this.sample();
  },
};

/** Runs `fn` while sampling RSS; returns its result, the peak and how many samples were taken. */
async function withRssPeak<T>(fn: () => Promise<T>): Promise<{ value: T; peakRss: number; samples: number }> {
  rss.peak = 0;
  rss.samples = 0;
  rss.active = true;
  rss.sample();
  const timer = setInterval(() => rss.tick(), 50);
  try {
    const value = await fn();
    rss.sample();
    return { value, peakRss: rss.peak, samples: rss.samples };
  } finally {
    rss.active = false;
    clearInterval(timer);
  }
}

/** The provider's definition, with an RSS sample point at every page read. */
function sampledDefinition(provider: MemoryProvider): ProviderDefinition {
  const definition = provider.definition;
  return {
    ...definition,
    async createEndpoint(connection) {
      const endpoint = await definition.createEndpoint(connection);
      return {
        ...endpoint,
        readPage(request) {
          rss.tick();
          return endpoint.readPage(request);
        },
      };
    },
  };
}

/** Runs SQL with parameters on either kind of database. */
type Query = <T = Record<string, unknown>>(text: string, params?: unknown[]) => Promise<T[]>;

function queryOf(engine: SyncEngine): Query {
  const d = engine.database;
  return async <T>(text: string, params: unknown[] = []) =>
    d.kind === 'pglite'
      ? (await d.pglite!.query<T>(text, params)).rows
      : ((await d.pool!.query(text, params)).rows as T[]);
}

/** What most hand-written sync code does: three autocommitted statements per record. */
async function naiveBaseline(
  provider: MemoryProvider,
  count: number,
  query: Query,
  schema: string,
): Promise<{ records: number; seconds: number }> {
  const customers = `"${schema}".customers`;
  const refs = `"${schema}".external_references`;
  const connectionId = randomUUID();
  const endpoint = provider.endpoint();
  const signal = new AbortController().signal;
  let done = 0;
  let cursor: string | null = null;
  const started = performance.now();
  while (done < count) {
    if (interrupted.signal.aborted) throw new Error('interrupted');
    const page = await endpoint.readPage({
      entityType: 'customer',
      since: null,
      cursor,
      pageSize: Math.min(PAGE_SIZE, count - done),
      signal,
    });
    for (const record of page.records) {
      const d = record.data;
      const name = typeof d.name === 'string' ? d.name.trim() : null;
      const email = String(d.email).toLowerCase();
      const balance = typeof d.balance_cents === 'number' ? d.balance_cents / 100 : 0;
      const found = await query<{ local_id: string }>(
        `SELECT local_id FROM ${refs} WHERE connection_id = $1 AND entity_type = $2 AND external_id = $3`,
        [connectionId, 'customer', record.id],
      );
      if (found[0]) {
        await query(`UPDATE ${customers} SET name = $2, email = $3, balance = $4, updated_at = now() WHERE id = $1`, [
          found[0].local_id,
          name,
          email,
          balance,
        ]);
      } else {
        const localId = randomUUID();
        await query(`INSERT INTO ${customers} (id, name, email, balance) VALUES ($1, $2, $3, $4)`, [
          localId,
          name,
          email,
          balance,
        ]);
        await query(
          `INSERT INTO ${refs} (connection_id, entity_type, local_id, external_id, external_version) VALUES ($1, $2, $3, $4, $5)`,
          [connectionId, 'customer', localId, record.id, record.updatedAt ?? null],
        );
      }
      done++;
    }
    cursor = page.nextCursor;
    if (cursor === null) break;
  }
  const seconds = (performance.now() - started) / 1000;
  const [check] = await query<{ n: number }>(`SELECT count(*)::int AS n FROM ${customers}`);
  if (check?.n !== done) throw new Error(`naive baseline wrote ${check?.n} rows for ${done} records`);
  return { records: done, seconds };
}

function describeExecution(e: SyncExecution): string {
  return `status=${e.status} processed=${e.processed} created=${e.created} updated=${e.updated} skipped=${e.skipped} failed=${e.failed}${e.haltReason ? ` halt=${e.haltReason}` : ''}`;
}

async function benchDatabase(name: DatabaseName): Promise<Result> {
  const tag = randomBytes(4).toString('hex');
  const schema = `bench_${tag}`;
  const naiveSchema = `bench_${tag}_naive`;
  let dataDir: string | null = null;
  let pglite: PGlite | null = null;
  let database: SyncEngineOptions['database'];
  if (name === 'pglite') {
    dataDir = mkdtempSync(join(tmpdir(), 'otesse-bench-'));
    pglite = await PGlite.create(dataDir);
    database = { pglite };
  } else database = DATABASE_URL!;

  const provider = createMemoryProvider({ entityTypes: ['customer'] });
  provider.seedSynthetic('customer', RECORDS, makeCustomer);
  let engine: SyncEngine | null = null;
  try {
    engine = await createSyncEngine({
      database,
      schema,
      providers: [sampledDefinition(provider)],
      local: createPostgresLocalStore({
        entities: { customer: { table: 'customers', primaryKey: 'id', updatedAtColumn: 'updated_at' } },
      }),
      encryptionKeys: [randomBytes(32).toString('hex')],
      pageSize: PAGE_SIZE,
    });
    const query = queryOf(engine);
    // The local table lives in the engine's schema (first on its search_path), like an application's own table.
    await engine.database.exec(CUSTOMERS_DDL(`"${schema}".customers`));
    await engine.database.exec(
      `CREATE SCHEMA "${naiveSchema}"; ${CUSTOMERS_DDL(`"${naiveSchema}".customers`)} ${NAIVE_REFS_DDL(`"${naiveSchema}".external_references`)}`,
    );
    const conn = await engine.connections.create({ name: 'Bench', provider: 'memory', credentials: { apiKey: 'k' } });
    const job = await engine.jobs.create({
      connectionId: conn.id,
      name: 'Customers in',
      entityType: 'customer',
      direction: 'inbound',
      mode: 'full',
      timeoutMinutes: 1440,
      fieldMappings: RULES,
    });

    console.log(`[${name}] engine: full inbound sync of ${RECORDS.toLocaleString('en')} records (page ${PAGE_SIZE})…`);
    gc?.();
    const rssBefore = process.memoryUsage().rss;
    let started = performance.now();
    const first = await withRssPeak(() => runJob(engine!, job.id));
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `[${name}]   ${describeExecution(first.value)} in ${seconds.toFixed(2)} s (${first.samples} RSS samples)`,
    );

    const problems: string[] = [];
    const e1 = first.value;
    if (e1.status !== 'completed') problems.push(`first run status ${e1.status} (${e1.haltReason ?? ''})`);
    if (e1.processed !== RECORDS || e1.created !== RECORDS) {
      problems.push(`first run processed=${e1.processed} created=${e1.created}, expected ${RECORDS}`);
    }
    const [customers] = await query<{ n: number }>(`SELECT count(*)::int AS n FROM "${schema}".customers`);
    const [refs] = await query<{ n: number }>(
      `SELECT count(*)::int AS n FROM "${schema}".external_references WHERE connection_id = $1`,
      [conn.id],
    );
    if (customers?.n !== RECORDS) problems.push(`customers has ${customers?.n} rows, expected ${RECORDS}`);
    if (refs?.n !== RECORDS) problems.push(`external_references has ${refs?.n} rows, expected ${RECORDS}`);
    const [sample] = await query<{ name: string; email: string; balance: string }>(
      `SELECT name, email, balance::text AS balance FROM "${schema}".customers WHERE email = $1`,
      ['customer.7@example.com'],
    );
    if (sample?.name !== 'Customer 7' || sample.balance !== '554.33') {
      problems.push(`customer 7 mapped wrong: ${JSON.stringify(sample)}`);
    }
    console.log(`[${name}]   customers=${customers?.n} external_references=${refs?.n}`);

    console.log(`[${name}] engine: second run over the same data (all unchanged)…`);
    gc?.();
    started = performance.now();
    const second = await withRssPeak(() => runJob(engine!, job.id));
    const unchangedSeconds = (performance.now() - started) / 1000;
    const e2 = second.value;
    console.log(`[${name}]   ${describeExecution(e2)} in ${unchangedSeconds.toFixed(2)} s`);
    if (e2.status !== 'completed' || e2.processed !== RECORDS || e2.skipped !== RECORDS) {
      problems.push(`second run: ${describeExecution(e2)}, expected ${RECORDS} skipped`);
    }

    console.log(
      `[${name}] naive baseline: ${NAIVE_RECORDS.toLocaleString('en')} records, 3 autocommitted statements each…`,
    );
    const naive = await naiveBaseline(provider, NAIVE_RECORDS, query, naiveSchema);
    console.log(
      `[${name}]   ${naive.records} records in ${naive.seconds.toFixed(2)} s` +
        (naive.records < RECORDS ? ` (fewer than the engine's ${RECORDS}: its rate is compared)` : ''),
    );

    const recordsPerSecond = RECORDS / seconds;
    const naiveRecordsPerSecond = naive.records / naive.seconds;
    return {
      database: name,
      records: RECORDS,
      pageSize: PAGE_SIZE,
      seconds: round(seconds, 3),
      recordsPerSecond: round(recordsPerSecond),
      unchangedSeconds: round(unchangedSeconds, 3),
      unchangedRecordsPerSecond: round(RECORDS / unchangedSeconds),
      naiveRecords: naive.records,
      naiveSeconds: round(naive.seconds, 3),
      naiveRecordsPerSecond: round(naiveRecordsPerSecond),
      speedup: round(recordsPerSecond / naiveRecordsPerSecond, 1),
      peakRssMb: mb(first.peakRss),
      rssBeforeMb: mb(rssBefore),
      unchangedPeakRssMb: mb(second.peakRss),
      ok: problems.length === 0,
      problems,
    };
  } finally {
    if (engine) {
      if (name === 'postgres') {
        await engine.database.exec(
          `DROP SCHEMA IF EXISTS "${schema}" CASCADE; DROP SCHEMA IF EXISTS "${naiveSchema}" CASCADE`,
        );
      }
      await engine.close();
    }
    if (pglite) await pglite.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }
}

const results: Result[] = [];
for (const name of DATABASES) {
  if (interrupted.signal.aborted) break;
  const r = await benchDatabase(name);
  results.push(r);
  console.log(
    `[${name}] ${r.records} records: ${r.recordsPerSecond} rec/s (${r.seconds} s), unchanged ${r.unchangedRecordsPerSecond} rec/s, ` +
      `naive ${r.naiveRecordsPerSecond} rec/s over ${r.naiveRecords} records, speedup ${r.speedup}×, peak RSS ${r.peakRssMb} MB` +
      (r.ok ? '' : ` — FAILED: ${r.problems.join('; ')}`),
  );
  if (name === 'postgres') {
    const met = r.recordsPerSecond >= 20_000 && r.speedup >= 20;
    console.log(`[${name}] goal (≥ 20,000 rec/s and ≥ 20× naive on PostgreSQL): ${met ? 'met' : 'MISSED'}`);
  }
}
for (const [i, r] of results.entries()) {
  const last = i === results.length - 1;
  console.log(JSON.stringify(last && results.length > 1 ? { ...r, results } : r));
}
if (results.some((r) => !r.ok)) process.exitCode = 1;
