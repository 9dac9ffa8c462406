/**
 * Engine benchmark: a full inbound sync of N synthetic customers from the in-memory provider into a local
 * PostgreSQL table `customers`, with the engine's state in the same database; then a second run over the same
 * data (every record unchanged, so skipped); beside two references measured in the same run, on separate, empty
 * schemas:
 * - the physical write limit (`limitRecordsPerSecond`, `ratioToLimit`, as in `npm run bench`): the same rows and
 *   their references, mapped and hashed in advance, written with one INSERT … SELECT FROM unnest(…) per table for
 *   each commit's worth of records into copies of the engine's tables. A commit's worth is what the engine puts in
 *   one commit here (`limitBatchRecords`, default its batch of 1,000 records: ten pages, read ahead, in one
 *   statement); `--limit-batch 100` gives one INSERT per page and table. It runs twice, after the engine's runs
 *   (its garbage must not count in the engine's RSS) and after the naive baseline (the machine's other work comes
 *   and goes); the figure is over both. This is the reference that says how much is left to gain.
 * - a naive baseline (per record: SELECT the reference, INSERT or UPDATE the row, INSERT the reference, each
 *   statement autocommitted), over the same N records by default (at most 100,000: it is slow).
 * All three commit the same way: through the engine's page-commit pool, whose sessions run with
 * `synchronous_commit = off` on PostgreSQL (Database.pageDb); `synchronousCommit` in the JSON is the setting read
 * back from that pool. On PGlite there is one session and one setting for all.
 *
 *   npm run bench:engine -- [--records N] [--database pglite|postgres|both] [--naive-records N] [--page-size N]
 *                           [--limit-batch N]
 *
 * Default database: pglite, plus postgres when TEST_DATABASE_URL is set. The last line printed is one JSON
 * object (with a `results` array when both databases were measured).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { PGlite } from '@electric-sql/pglite';
import { CompiledQuery, type Kysely } from 'kysely';
import { createMemoryProvider, type MemoryProvider } from '../src/connectors/memory.ts';
import type { SyncExecution } from '../src/domain/types.ts';
import type { EndpointRecord, ProviderDefinition } from '../src/engine/endpoint.ts';
import { contentHash } from '../src/engine/hash.ts';
import { DEFAULT_BATCH_RECORDS } from '../src/engine/runner.ts';
import { createPostgresLocalStore } from '../src/local/postgres.ts';
import { resolvePgliteSettings, startPglite } from '../src/store/pglite-start.ts';
import { createSyncEngine, type SyncEngine, type SyncEngineOptions } from '../src/sync-engine.ts';
import { limitFigures, unnestInsert } from './limit.ts';

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
  limitRecordsPerSecond: number;
  ratioToLimit: number;
  limitSeconds: number;
  limitSecondsEach: number[];
  /** Records per INSERT of the limit. */
  limitBatchRecords: number;
  /** `synchronous_commit` of the sessions the engine's page commits, the limit and the naive baseline ran on. */
  synchronousCommit: string;
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
    'limit-batch': { type: 'string' },
  },
  strict: true,
});

const RECORDS = positiveInt(args.records!, '--records');
/** The naive baseline's default count: the engine's, up to this (at ≈ 1,000 records/s it would take too long). */
const NAIVE_DEFAULT_MAX = 100_000;
const NAIVE_RECORDS = Math.min(
  RECORDS,
  args['naive-records'] === undefined ? NAIVE_DEFAULT_MAX : positiveInt(args['naive-records'], '--naive-records'),
);
const PAGE_SIZE = positiveInt(args['page-size']!, '--page-size');
/** Records per INSERT of the limit: by default what the engine commits at once (several pages read ahead). */
const LIMIT_BATCH =
  args['limit-batch'] === undefined
    ? Math.max(PAGE_SIZE, DEFAULT_BATCH_RECORDS)
    : positiveInt(args['limit-batch'], '--limit-batch');
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

/**
 * The limit's and the naive baseline's tables in `target`: copies of the engine's `customers` and
 * `external_references` in `engineSchema` (the same columns, defaults, keys and indexes; no foreign keys).
 */
const COPY_TABLES_DDL = (target: string, engineSchema: string) => `
  CREATE SCHEMA "${target}";
  CREATE TABLE "${target}".customers (LIKE "${engineSchema}".customers INCLUDING ALL);
  CREATE TABLE "${target}".external_references (LIKE "${engineSchema}".external_references INCLUDING ALL);`;

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

/** Runs SQL with parameters on either kind of database; each statement is its own transaction. */
type Query = <T = Record<string, unknown>>(text: string, params?: unknown[]) => Promise<T[]>;

/**
 * Statements on the engine's page-commit pool (Database.pageDb): they commit exactly as the engine's page commits
 * do (on PostgreSQL, `synchronous_commit = off`), so that the baselines and the engine pay for the same durability.
 */
// biome-ignore lint/suspicious/noExplicitAny: raw SQL, no schema type
function queryOf(db: Kysely<any>): Query {
  return async <T>(text: string, params: unknown[] = []) =>
    (await db.executeQuery<T>(CompiledQuery.raw(text, params))).rows;
}

/**
 * The physical write limit for the engine's inbound writes: each record's row and its reference (what the engine
 * writes per record), mapped and hashed in advance, then written `batch` records at a time with one INSERT … SELECT
 * FROM unnest(…) per table, each statement autocommitted through `query` (the engine's page-commit setting). Only
 * the INSERTs are timed; the rows are prepared a block of batches at a time (untimed), so memory stays bounded at
 * any N. Writes into empty copies of the engine's tables (`schema`, emptied first).
 */
async function physicalLimit(
  count: number,
  batch: number,
  query: Query,
  schema: string,
): Promise<{ records: number; seconds: number }> {
  const customers = `"${schema}".customers`;
  const refs = `"${schema}".external_references`;
  await query(`TRUNCATE ${customers}, ${refs}`);
  const insertRows = unnestInsert(customers, [
    ['id', 'uuid'],
    ['name', 'text'],
    ['email', 'text'],
    ['balance', 'numeric'],
  ]);
  const insertRefs = unnestInsert(refs, [
    ['connection_id', 'uuid'],
    ['entity_type', 'text'],
    ['local_id', 'text'],
    ['external_id', 'text'],
    ['inbound_hash', 'text'],
    ['created_execution_id', 'uuid'],
  ]);
  const connectionId = randomUUID();
  const executionId = randomUUID();
  const block = Math.max(10_000, batch);
  let seconds = 0;
  for (let from = 0; from < count; from += block) {
    if (interrupted.signal.aborted) throw new Error('interrupted');
    // Prepared in advance: the same mapping as RULES, by hand, and the engine's content hash.
    const pages: { rows: unknown[][]; refs: unknown[][] }[] = [];
    for (let start = from; start < Math.min(count, from + block); start += batch) {
      const n = Math.min(batch, count - start, from + block - start);
      const rows: unknown[][] = [[], [], [], []];
      const page: unknown[][] = [[], [], [], [], [], []];
      for (let i = start; i < start + n; i++) {
        const record = makeCustomer(i);
        const d = record.data;
        const id = randomUUID();
        const mapped = {
          name: typeof d.name === 'string' ? d.name.trim() : null,
          email: String(d.email).toLowerCase(),
          balance: typeof d.balance_cents === 'number' ? d.balance_cents / 100 : 0,
        };
        rows[0]!.push(id);
        rows[1]!.push(mapped.name);
        rows[2]!.push(mapped.email);
        rows[3]!.push(mapped.balance);
        page[0]!.push(connectionId);
        page[1]!.push('customer');
        page[2]!.push(id);
        page[3]!.push(record.id);
        page[4]!.push(contentHash(mapped));
        page[5]!.push(executionId);
      }
      pages.push({ rows, refs: page });
    }
    const started = performance.now();
    for (const page of pages) {
      await query(insertRows, page.rows);
      await query(insertRefs, page.refs);
    }
    seconds += (performance.now() - started) / 1000;
  }
  const [check] = await query<{ n: number }>(`SELECT count(*)::int AS n FROM ${refs}`);
  if (check?.n !== count) throw new Error(`limit wrote ${check?.n} references for ${count} records`);
  return { records: count, seconds };
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
  const limitSchema = `bench_${tag}_limit`;
  let dataDir: string | null = null;
  let pglite: PGlite | null = null;
  let database: SyncEngineOptions['database'];
  if (name === 'pglite') {
    dataDir = mkdtempSync(join(tmpdir(), 'otesse-bench-'));
    // Opened the way the engine opens its own data directory (settings, cluster created in a child process), so
    // the figures are those of what ships.
    pglite = await startPglite(dataDir, resolvePgliteSettings(undefined));
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
    const query = queryOf(engine.database.pageDb);
    const [setting] = await query<{ synchronous_commit: string }>('SHOW synchronous_commit');
    const synchronousCommit = setting?.synchronous_commit ?? 'unknown';
    // The local table lives in the engine's schema (first on its search_path), like an application's own table.
    await engine.database.exec(CUSTOMERS_DDL(`"${schema}".customers`));
    await engine.database.exec(COPY_TABLES_DDL(naiveSchema, schema) + COPY_TABLES_DDL(limitSchema, schema));
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

    const limitRuns: number[] = [];
    const runLimit = async (when: string) => {
      console.log(
        `[${name}] physical limit (${when}): ${RECORDS.toLocaleString('en')} rows and references prepared in advance, ` +
          `one INSERT … unnest per table every ${LIMIT_BATCH.toLocaleString('en')} records…`,
      );
      const limit = await physicalLimit(RECORDS, LIMIT_BATCH, query, limitSchema);
      console.log(`[${name}]   ${limit.records} records in ${limit.seconds.toFixed(2)} s`);
      limitRuns.push(limit.seconds);
    };

    console.log(
      `[${name}] engine: full inbound sync of ${RECORDS.toLocaleString('en')} records (page ${PAGE_SIZE}, synchronous_commit ${synchronousCommit})…`,
    );
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

    await runLimit('after the engine');
    gc?.();

    console.log(
      `[${name}] naive baseline: ${NAIVE_RECORDS.toLocaleString('en')} records, 3 autocommitted statements each ` +
        `(synchronous_commit ${synchronousCommit})…`,
    );
    const naive = await naiveBaseline(provider, NAIVE_RECORDS, query, naiveSchema);
    console.log(
      `[${name}]   ${naive.records} records in ${naive.seconds.toFixed(2)} s` +
        (naive.records < RECORDS ? ` (fewer than the engine's ${RECORDS}: its rate is compared)` : ''),
    );

    await runLimit('after the naive baseline');

    const recordsPerSecond = RECORDS / seconds;
    const naiveRecordsPerSecond = naive.records / naive.seconds;
    const limit = limitFigures(RECORDS, seconds, limitRuns);
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
      ...limit,
      limitBatchRecords: LIMIT_BATCH,
      synchronousCommit,
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
          `DROP SCHEMA IF EXISTS "${schema}" CASCADE; DROP SCHEMA IF EXISTS "${naiveSchema}" CASCADE; ` +
            `DROP SCHEMA IF EXISTS "${limitSchema}" CASCADE`,
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
      `limit ${r.limitRecordsPerSecond} rec/s (ratio ${r.ratioToLimit}), naive ${r.naiveRecordsPerSecond} rec/s over ${r.naiveRecords} records, ` +
      `speedup ${r.speedup}×, peak RSS ${r.peakRssMb} MB, synchronous_commit ${r.synchronousCommit}` +
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
