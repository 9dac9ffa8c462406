/**
 * End-to-end benchmark: an inbound full sync of N Stripe customers from the in-repo Stripe sandbox, over HTTP,
 * through the Stripe connector (the official SDK), into a local PostgreSQL table, with the engine's state in the
 * same PostgreSQL (a fresh schema, dropped at the end). In the same run, the physical limit: the same sandbox paged
 * with bare `fetch` requests (limit=100, starting_after) and the same rows bulk-inserted with one INSERT statement
 * per page into a table of the same shape.
 *
 *   npm run bench -- [--records N] [--database-url postgres://…] [--keep]
 *
 * Default database: --database-url, else DATABASE_URL, else TEST_DATABASE_URL, else the local server
 * (postgres://postgres@127.0.0.1:5432/test). The last line printed is one JSON object.
 *
 * How it is measured:
 * - The sandbox runs in a child process (bench/stripe-sandbox-process.ts): it is the provider, so its CPU and its
 *   memory (1,000,000 seeded customers are about 1 GB of objects) are not the engine's. `peakRssMb` is the engine
 *   process's RSS, sampled every 20 ms during the engine's run; the sandbox's RSS is reported as `sandboxRssMb`.
 * - The limit (bench/limit-process.ts, a fresh process each time, so that the engine's RSS is its own) does what
 *   any sync must do at the least: read every page over HTTP and parse it, map the fields, write each page with
 *   one INSERT. It reads the next page while the current one is inserted (the engine does the same), and commits
 *   asynchronously like the engine's page commits (synchronous_commit = off). It keeps no references, compares no
 *   hashes, records no progress: everything the engine does beyond it is overhead.
 * - The sandbox is warmed up (JIT) with a few pages before anything is timed. The limit runs once before the
 *   engine and once after it (other work on the machine comes and goes), and `limitRecordsPerSecond` is over
 *   both. Memory is collected before the engine's run, so its RSS peak does not hold the limit's garbage.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createStripeProvider } from '../src/connectors/stripe/index.ts';
import type { SyncExecution } from '../src/domain/types.ts';
import type { ProviderDefinition } from '../src/engine/endpoint.ts';
import { createPostgresLocalStore } from '../src/local/postgres.ts';
import { createSyncEngine, type SyncEngine } from '../src/sync-engine.ts';
import { limitFigures } from './limit.ts';

const { values: args } = parseArgs({
  options: {
    records: { type: 'string', default: '100000' },
    'database-url': { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
  strict: true,
});

const RECORDS = positiveInt(args.records!, '--records');
const PAGE_SIZE = 100;
const DATABASE_URL =
  args['database-url'] ??
  process.env.DATABASE_URL ??
  process.env.TEST_DATABASE_URL ??
  'postgres://postgres@127.0.0.1:5432/test';
if (!/^postgres(ql)?:\/\//.test(DATABASE_URL)) fail(`--database-url must be a postgres:// URL, got "${DATABASE_URL}"`);

function positiveInt(text: string, flag: string): number {
  const n = Number(text.replaceAll('_', ''));
  if (!Number.isInteger(n) || n < 1) fail(`${flag} must be a positive integer, got "${text}"`);
  return n;
}

function fail(message: string): never {
  console.error(`bench: ${message}`);
  process.exit(2);
}

const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;
const round = (n: number, digits = 0) => Math.round(n * 10 ** digits) / 10 ** digits;
const gc = (globalThis as { gc?: () => void }).gc;

/** The application's table: what the mapping below writes, plus the primary key and updated-at. */
const CUSTOMERS_DDL = (table: string) => `
  CREATE TABLE ${table} (
    id uuid PRIMARY KEY,
    name text,
    email text,
    phone text,
    balance numeric(14,2),
    created_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
  );
  CREATE INDEX ON ${table} (updated_at, id);`;

const RULES = [
  { sourceField: 'name', targetField: 'name', direction: 'inbound' as const, transform: { name: 'trim' } },
  { sourceField: 'email', targetField: 'email', direction: 'inbound' as const, transform: { name: 'lowercase' } },
  { sourceField: 'phone', targetField: 'phone', direction: 'inbound' as const },
  {
    sourceField: 'balance',
    targetField: 'balance',
    direction: 'inbound' as const,
    transform: { name: 'cents_to_decimal' },
    defaultValue: 0,
  },
  {
    sourceField: 'created',
    targetField: 'created_at',
    direction: 'inbound' as const,
    transform: { name: 'unix_to_iso' },
  },
];

// ---------------------------------------------------------------------------------------------------------------
// The sandbox, in its own process

interface SandboxProcess {
  url: string;
  apiKey: string;
  seedSeconds: number;
  child: ChildProcess;
  stats(): Promise<{ rss: number; requests: number }>;
  stop(): Promise<void>;
}

async function startSandboxProcess(records: number): Promise<SandboxProcess> {
  const child = fork(fileURLToPath(new URL('./stripe-sandbox-process.ts', import.meta.url)), [], {
    execArgv: ['--import', 'tsx', '--max-old-space-size=8192'],
    env: { ...process.env, BENCH_SANDBOX_RECORDS: String(records) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const ready = await new Promise<{ url: string; apiKey: string; seedSeconds: number }>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`sandbox process exited with ${code} before it was ready`)));
    child.on('message', (m: { type: string; url: string; apiKey: string; seedSeconds: number }) => {
      if (m.type === 'ready') resolve(m);
    });
  });
  child.removeAllListeners('exit');
  return {
    ...ready,
    child,
    stats: () =>
      new Promise((resolve) => {
        const onMessage = (m: { type: string; rss: number; requests: number }) => {
          if (m.type !== 'stats') return;
          child.off('message', onMessage);
          resolve(m);
        };
        child.on('message', onMessage);
        child.send({ type: 'stats' });
      }),
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.disconnect();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// RSS of this process

const rss = {
  peak: 0,
  sample(): void {
    this.peak = Math.max(this.peak, process.memoryUsage().rss);
  },
};

async function withRssPeak<T>(fn: () => Promise<T>): Promise<{ value: T; peakRss: number }> {
  rss.peak = 0;
  rss.sample();
  const timer = setInterval(() => rss.sample(), 20);
  try {
    const value = await fn();
    rss.sample();
    return { value, peakRss: rss.peak };
  } finally {
    clearInterval(timer);
  }
}

/** The Stripe provider with an RSS sample at every page read (besides the timer). */
function sampled(definition: ProviderDefinition): ProviderDefinition {
  return {
    ...definition,
    async createEndpoint(connection) {
      const endpoint = await definition.createEndpoint(connection);
      const wrapped = Object.create(endpoint) as typeof endpoint;
      wrapped.readPage = (request) => {
        rss.sample();
        return endpoint.readPage(request);
      };
      return wrapped;
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The physical limit, in a child process of its own (bench/limit-process.ts)

function physicalLimit(sandbox: SandboxProcess, table: string): Promise<{ records: number; seconds: number }> {
  const child = fork(fileURLToPath(new URL('./limit-process.ts', import.meta.url)), [], {
    execArgv: ['--import', 'tsx'],
    env: {
      ...process.env,
      BENCH_SANDBOX_URL: sandbox.url,
      BENCH_SANDBOX_API_KEY: sandbox.apiKey,
      BENCH_DATABASE_URL: DATABASE_URL,
      BENCH_LIMIT_TABLE: table,
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    let result: { records: number; seconds: number } | null = null;
    child.on('message', (m: { type: string; records: number; seconds: number }) => {
      if (m.type === 'done') result = m;
    });
    child.once('error', reject);
    child.once('exit', (code) =>
      result ? resolve(result) : reject(new Error(`limit process exited with ${code} without a result`)),
    );
  });
}

// ---------------------------------------------------------------------------------------------------------------

function describeExecution(e: SyncExecution): string {
  return `status=${e.status} processed=${e.processed} created=${e.created} updated=${e.updated} skipped=${e.skipped} failed=${e.failed}${e.haltReason ? ` halt=${e.haltReason}` : ''}`;
}

const tag = randomBytes(4).toString('hex');
const schema = `bench_e2e_${tag}`;
const limitSchema = `bench_e2e_${tag}_limit`;
const problems: string[] = [];

console.log(`bench: seeding ${RECORDS.toLocaleString('en')} customers into the Stripe sandbox (child process)…`);
const sandbox = await startSandboxProcess(RECORDS);
console.log(`bench:   ${sandbox.url} ready in ${sandbox.seedSeconds.toFixed(1)} s`);

let engine: SyncEngine | null = null;
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`bench: ${signal}, stopping the sandbox and dropping the schemas`);
    interrupted = true;
    void sandbox.stop();
  });
}

try {
  // JIT warm-up of the sandbox: a few pages, not timed.
  let after: string | null = null;
  for (let i = 0; i < 20; i++) {
    const url = `${sandbox.url}/v1/customers?limit=${PAGE_SIZE}${after ? `&starting_after=${after}` : ''}`;
    const res = await fetch(url, { headers: { authorization: `Bearer ${sandbox.apiKey}` } });
    const page = (await res.json()) as { data: { id: string }[]; has_more: boolean };
    const last = page.data.at(-1);
    if (!page.has_more || !last) break;
    after = last.id;
  }

  engine = await createSyncEngine({
    database: DATABASE_URL,
    schema,
    providers: [sampled(createStripeProvider())],
    local: createPostgresLocalStore({
      entities: { customer: { table: 'customers', primaryKey: 'id', updatedAtColumn: 'updated_at' } },
    }),
    encryptionKeys: [randomBytes(32).toString('hex')],
    pageSize: PAGE_SIZE,
  });
  // The local table lives in the engine's schema (first on its search_path), like an application's own table.
  await engine.database.exec(CUSTOMERS_DDL(`"${schema}".customers`));
  await engine.database.exec(`CREATE SCHEMA "${limitSchema}"; ${CUSTOMERS_DDL(`"${limitSchema}".customers`)}`);
  const connection = await engine.connections.create({
    name: 'Stripe sandbox',
    provider: 'stripe',
    // The connector's own rate limiter allows 25 requests/s by default (Stripe's limit); the sandbox has none.
    config: { apiBase: sandbox.url, requestsPerSecond: 1000 },
    credentials: { apiKey: sandbox.apiKey },
  });
  const job = await engine.jobs.create({
    connectionId: connection.id,
    name: 'Stripe customers in',
    entityType: 'customer',
    direction: 'inbound',
    mode: 'full',
    timeoutMinutes: 1440,
    fieldMappings: RULES,
  });

  const pool = engine.database.pool!;
  const count = async (text: string, params: unknown[] = []) =>
    ((await pool.query<{ n: number }>(text, params)).rows[0]?.n ?? -1) as number;
  const limitRuns: number[] = [];
  const limitTable = `"${limitSchema}".customers`;
  const runLimit = async (when: string) => {
    console.log(`bench: physical limit (${when}): bare fetch of every page, one INSERT per page…`);
    await engine!.database.exec(`TRUNCATE ${limitTable}`);
    const limit = await physicalLimit(sandbox, limitTable);
    // The limit's time is taken inside its process, from its first request to its last insert.
    const rows = await count(`SELECT count(*)::int AS n FROM ${limitTable}`);
    if (limit.records !== RECORDS || rows !== RECORDS) {
      problems.push(`limit (${when}) read ${limit.records} records and wrote ${rows} rows, expected ${RECORDS}`);
    }
    console.log(`bench:   ${limit.records} records in ${limit.seconds.toFixed(2)} s`);
    limitRuns.push(limit.seconds);
  };
  await runLimit('before the engine');

  console.log(`bench: engine: full inbound sync of ${RECORDS.toLocaleString('en')} Stripe customers over HTTP…`);
  gc?.();
  const rssBefore = process.memoryUsage().rss;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const run = await withRssPeak(() => engine!.runJob(job.id));
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const e = run.value;
  console.log(`bench:   ${describeExecution(e)} in ${seconds.toFixed(2)} s, peak RSS ${mb(run.peakRss)} MB`);
  if (e.status !== 'completed') problems.push(`engine run status ${e.status} (${e.haltReason ?? ''})`);
  if (e.processed !== RECORDS || e.created !== RECORDS) {
    problems.push(`engine run processed=${e.processed} created=${e.created}, expected ${RECORDS}`);
  }
  const customers = await count(`SELECT count(*)::int AS n FROM "${schema}".customers`);
  const refs = await count(`SELECT count(*)::int AS n FROM "${schema}".external_references WHERE connection_id = $1`, [
    connection.id,
  ]);
  if (customers !== RECORDS) problems.push(`customers has ${customers} rows, expected ${RECORDS}`);
  if (refs !== RECORDS) problems.push(`external_references has ${refs} rows, expected ${RECORDS}`);
  console.log(`bench:   customers=${customers} external_references=${refs}`);
  const sandboxAfterEngine = await sandbox.stats();

  await runLimit('after the engine');
  const limit = limitFigures(RECORDS, seconds, limitRuns);

  const peakRssMb = mb(run.peakRss);
  const result = {
    records: RECORDS,
    recordsPerSecond: round(RECORDS / seconds),
    limitRecordsPerSecond: limit.limitRecordsPerSecond,
    ratioToLimit: limit.ratioToLimit,
    peakRssMb,
    database: 'postgres',
    seconds: round(seconds, 3),
    limitSeconds: limit.limitSeconds,
    limitSecondsEach: limit.limitSecondsEach,
    engineCpuSeconds: round((cpu.user + cpu.system) / 1e6, 2),
    rssBeforeMb: mb(rssBefore),
    sandboxRssMb: mb(sandboxAfterEngine.rss),
    sandboxSeedSeconds: round(sandbox.seedSeconds, 1),
    pageSize: PAGE_SIZE,
    ok: problems.length === 0,
    problems,
  };
  const met = limit.ratioToLimit >= 0.5 && peakRssMb < 300;
  console.log(
    `bench: ${RECORDS} records: engine ${result.recordsPerSecond} rec/s, limit ${result.limitRecordsPerSecond} rec/s, ` +
      `ratio ${result.ratioToLimit}, peak RSS ${peakRssMb} MB (sandbox ${result.sandboxRssMb} MB, another process)` +
      (problems.length > 0 ? ` — FAILED: ${problems.join('; ')}` : ''),
  );
  console.log(`bench: goal (ratioToLimit ≥ 0.5, peak RSS < 300 MB at 1,000,000 records): ${met ? 'met' : 'MISSED'}`);
  console.log(JSON.stringify(result));
  if (problems.length > 0) process.exitCode = 1;
} catch (err) {
  if (!interrupted) throw err;
} finally {
  await sandbox.stop();
  if (engine) {
    if (!args.keep) {
      await engine.database.exec(
        `DROP SCHEMA IF EXISTS "${schema}" CASCADE; DROP SCHEMA IF EXISTS "${limitSchema}" CASCADE`,
      );
    }
    await engine.close();
  }
}
