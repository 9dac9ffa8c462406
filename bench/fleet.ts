/**
 * Fleet benchmark: many small scheduled runs on a few workers, the load a sync engine lives under.
 *
 *   npm run bench:fleet -- [--jobs N] [--connections M] [--workers W | --workers 1,2] [--minutes T]
 *                          [--concurrency C] [--records R] [--webhooks K]
 *
 * On PostgreSQL (TEST_DATABASE_URL or DATABASE_URL): creates N jobs (default 2,000) over M connections (default 20)
 * to a Stripe sandbox in its own process (bench/stripe-sandbox-process.ts; R customers, default 5: a few records per
 * run, answered at once), each inbound customer job on a one-minute cron into one local table. Then starts W real
 * `otesse-sync worker --config <json>` processes (default: W = 1, then W = 2, each on a fresh schema) for T minutes
 * (default 3), sends a burst of K signed webhook deliveries (default 200) in the middle, stops the workers, and
 * measures from the database (the workers run the compiled CLI, `bin/otesse-sync.js`; dist/ is built first when
 * stale):
 * - fires expected (job i fires at second i mod 60 of every minute inside the window, or all at second 0 with
 *   `--aligned`), fires run, missed, duplicated;
 * - fire lag (scheduled time → started): p50, p95, p99, max; how long a scheduled run takes (p50, p95);
 * - runs per minute, worker CPU ms per run (/proc), statements per run (counted in the workers by
 *   bench/count-statements.mjs, queue polling included: pg_stat_statements is not loaded here), database
 *   transactions per run (pg_stat_database: the whole database, anything else running on it included), peak RSS
 *   per worker (VmHWM).
 * The last line is JSON: { jobs, workers, minutes, firesExpected, firesRun, missed, duplicated, lagP50Ms, lagP95Ms,
 * lagP99Ms, runsPerMinute, cpuMsPerRun, statementsPerRun, peakRssMbPerWorker, database, results } (the last W's
 * figures at the top level, every W in `results`).
 */
import { type ChildProcess, execFileSync, fork, spawn } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { builtInProviders } from '../src/connectors/index.ts';
import { createPostgresLocalStore } from '../src/local/postgres.ts';
import { createSyncEngine, type SyncEngine } from '../src/sync-engine.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { values: args } = parseArgs({
  options: {
    jobs: { type: 'string', default: '2000' },
    connections: { type: 'string', default: '200' },
    workers: { type: 'string', default: '1,2' },
    minutes: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '8' },
    records: { type: 'string', default: '5' },
    webhooks: { type: 'string', default: '200' },
    aligned: { type: 'boolean', default: false },
  },
  strict: true,
});
const int = (v: string, name: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got "${v}"`);
  return n;
};
const JOBS = int(args.jobs!, '--jobs');
const CONNECTIONS = Math.min(JOBS, int(args.connections!, '--connections'));
const WORKERS = args.workers!.split(',').map((w) => int(w, '--workers'));
const MINUTES = Number(args.minutes);
if (!(MINUTES > 0)) throw new Error('--minutes must be a positive number');
const CONCURRENCY = int(args.concurrency!, '--concurrency');
const RECORDS = int(args.records!, '--records');
const WEBHOOKS = Number(args.webhooks);
/**
 * Job i fires every minute at second i mod 60 (a six-field cron, `S * * * * *`): a fleet whose jobs were created
 * over time. `--aligned` puts every job on `* * * * *`, so all of them fire at the same instant each minute: the
 * lag then measures how long the fleet takes to drain a thundering herd.
 */
const ALIGNED = args.aligned === true;
const secondOf = (i: number) => (ALIGNED ? 0 : i % 60);
const DB_URL = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL;
if (!DB_URL || !/^postgres(ql)?:\/\//.test(DB_URL))
  throw new Error('bench:fleet needs PostgreSQL: set TEST_DATABASE_URL');

interface Result {
  jobs: number;
  workers: number;
  minutes: number;
  firesExpected: number;
  firesRun: number;
  missed: number;
  duplicated: number;
  lagP50Ms: number | null;
  lagP95Ms: number | null;
  lagP99Ms: number | null;
  lagMaxMs: number | null;
  runsPerMinute: number;
  /** How long a scheduled run takes, started → completed. */
  runP50Ms: number | null;
  runP95Ms: number | null;
  webhookRuns: number;
  cpuMsPerRun: number | null;
  statementsPerRun: number | null;
  transactionsPerRun: number | null;
  peakRssMbPerWorker: number[];
  database: 'postgres';
}

function startSandbox(): Promise<{ child: ChildProcess; url: string; apiKey: string }> {
  const child = fork(join(ROOT, 'bench/stripe-sandbox-process.ts'), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, BENCH_SANDBOX_RECORDS: String(RECORDS) },
    cwd: ROOT,
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.on('message', (m: { type?: string; url?: string; apiKey?: string }) => {
      if (m.type === 'ready') resolve({ child, url: m.url!, apiKey: m.apiKey! });
    });
  });
}

/** utime + stime of a process in ms, and its peak RSS (VmHWM) in MB, from /proc. */
function procStats(pid: number): { cpuMs: number; peakRssMb: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return { cpuMs: (ticks * 1000) / 100, peakRssMb: Math.round(Number(hwm ?? 0) / 102.4) / 10 };
}

const pct = (sorted: number[], p: number) =>
  sorted.length === 0 ? null : Math.round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!);

async function measure(workers: number, sandbox: { url: string; apiKey: string }): Promise<Result> {
  const schema = `bench_fleet_${randomBytes(4).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'otesse-fleet-'));
  const table = `${schema}.fleet_customers`;
  const configFile = join(dir, 'otesse-sync.config.json');
  writeFileSync(configFile, JSON.stringify({ localEntities: { customers: { table } } }));
  const key = randomBytes(32).toString('hex');
  const webhookSecret = `whsec_${randomBytes(12).toString('hex')}`;
  let engine: SyncEngine | undefined;
  const children: ChildProcess[] = [];
  const admin = new pg.Pool({ connectionString: DB_URL, max: 2 });
  try {
    engine = await createSyncEngine({
      database: DB_URL,
      schema,
      providers: builtInProviders(),
      encryptionKeys: [key],
      local: createPostgresLocalStore({ entities: { customers: { table } } }),
    });
    await engine.database.exec(
      `CREATE TABLE ${table} (id uuid PRIMARY KEY, name text, email text, updated_at timestamptz NOT NULL DEFAULT now())`,
    );
    const connections: string[] = [];
    for (let i = 0; i < CONNECTIONS; i++) {
      const c = await engine.connections.create({
        name: `Customer ${i}`,
        provider: 'stripe',
        config: { apiBase: sandbox.url, requestsPerSecond: 1000 },
        credentials: { apiKey: sandbox.apiKey, webhookSecret },
      });
      connections.push(c.id);
    }
    const setup = performance.now();
    for (let i = 0; i < JOBS; i++) {
      await engine.jobs.create({
        connectionId: connections[i % CONNECTIONS]!,
        name: `Customers ${i}`,
        entityType: 'customer',
        localEntity: 'customers',
        direction: 'inbound',
        schedule: { type: 'cron', cron: ALIGNED ? '* * * * *' : `${secondOf(i)} * * * * *`, timezone: 'UTC' },
        fieldMappings: [
          { sourceField: 'name', targetField: 'name', direction: 'inbound' },
          { sourceField: 'email', targetField: 'email', direction: 'inbound' },
        ],
      });
    }
    // Held until the workers are ready (see windowStart).
    await admin.query(`UPDATE "${schema}".sync_jobs SET next_run_at = now() + interval '1 day'`);
    console.log(
      `[W=${workers}] ${JOBS} jobs over ${CONNECTIONS} connections in ${((performance.now() - setup) / 1000).toFixed(1)} s`,
    );
    const dbStats = async () =>
      (
        await admin.query<{ xacts: string }>(
          `SELECT (xact_commit + xact_rollback)::text AS xacts FROM pg_stat_database WHERE datname = current_database()`,
        )
      ).rows[0]!.xacts;
    const xactsBefore = Number(await dbStats());

    for (let w = 0; w < workers; w++) {
      const child = spawn(
        process.execPath,
        [
          '--import',
          join(ROOT, 'bench/count-statements.mjs'),
          join(ROOT, 'bin/otesse-sync.js'),
          'worker',
          '--config',
          configFile,
          '--database',
          DB_URL!,
          '--schema',
          schema,
          '--concurrency',
          String(CONCURRENCY),
        ],
        {
          cwd: ROOT,
          env: {
            ...process.env,
            OTESSE_SYNC_ENCRYPTION_KEY: key,
            LOG_LEVEL: 'warn',
            BENCH_STATEMENTS_FILE: join(dir, `statements-${w}`),
          },
          stdio: 'pipe',
        },
      );
      let out = '';
      child.stdout!.on('data', (d) => (out += d));
      child.stderr!.on('data', (d) => (out += d));
      children.push(child);
      const deadline = Date.now() + 60_000;
      while (!/^worker \S+ ready$/m.test(out)) {
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`worker did not start:\n${out}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    // The fleet's clock starts now: every job's next fire is its first one after this instant (creating 2,000 jobs
    // takes a while, and the fires due meanwhile would otherwise greet the workers as one catch-up herd).
    const windowStart = new Date();
    await admin.query(
      `UPDATE "${schema}".sync_jobs j SET next_run_at = n.at
       FROM unnest($1::text[], $2::timestamptz[]) AS n(name, at) WHERE j.name = n.name`,
      [
        Array.from({ length: JOBS }, (_, i) => `Customers ${i}`),
        Array.from({ length: JOBS }, (_, i) => {
          const t = Math.floor(windowStart.getTime() / 60_000) * 60_000 + secondOf(i) * 1000;
          return new Date(t >= windowStart.getTime() ? t : t + 60_000);
        }),
      ],
    );
    console.log(
      `[W=${workers}] ${workers} worker(s) ready; measuring ${MINUTES} min from ${windowStart.toISOString()}`,
    );
    const windowMs = MINUTES * 60_000;
    // A burst of signed webhook deliveries halfway: single-record runs queued beside the cron fires.
    await new Promise((r) => setTimeout(r, windowMs / 2));
    for (let i = 0; i < WEBHOOKS; i++) {
      const body = JSON.stringify({
        id: `evt_fleet_${i}_${randomBytes(4).toString('hex')}`,
        type: 'customer.updated',
        created: Math.floor(Date.now() / 1000),
        data: { object: { id: `cus_fleet_${i}`, object: 'customer' } },
      });
      const t = Math.floor(Date.now() / 1000);
      const sig = createHmac('sha256', webhookSecret).update(`${t}.${body}`).digest('hex');
      await engine.receiveWebhook(connections[i % CONNECTIONS]!, {
        rawBody: Buffer.from(body),
        headers: { 'stripe-signature': `t=${t},v1=${sig}` },
        method: 'POST',
        url: `http://127.0.0.1/webhooks/${connections[i % CONNECTIONS]}`,
      });
    }
    await new Promise((r) => setTimeout(r, windowMs / 2));
    const windowEnd = new Date();
    const stats = children.map((c) => procStats(c.pid!));
    for (const c of children) c.kill('SIGTERM');
    await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))));
    const xacts = Number(await dbStats()) - xactsBefore;

    const statements = children.reduce((n, _c, w) => n + Number(readFileSync(join(dir, `statements-${w}`), 'utf8')), 0);

    // Fire times whose runs had at least half a minute to start inside the window.
    const first = windowStart.getTime();
    const last = windowEnd.getTime() - 30_000;
    let firesExpected = 0;
    for (let i = 0; i < JOBS; i++) {
      for (let t = Math.floor(first / 60_000) * 60_000 + secondOf(i) * 1000; t <= last; t += 60_000) {
        if (t >= first) firesExpected++;
      }
    }
    const q = (text: string, params: unknown[] = []) => admin.query(text.replaceAll('$schema', `"${schema}"`), params);
    const { rows: fires } = await q(
      `SELECT count(DISTINCT (job_id, scheduled_for))::int AS run, count(*)::int AS total
       FROM $schema.sync_executions WHERE scheduled_for >= $1 AND scheduled_for <= $2 AND started_at IS NOT NULL`,
      [new Date(first), new Date(last)],
    );
    const { rows: lags } = await q(
      `SELECT extract(epoch FROM started_at - scheduled_for) * 1000 AS lag FROM $schema.sync_executions
       WHERE scheduled_for >= $1 AND scheduled_for <= $2 AND started_at IS NOT NULL ORDER BY 1`,
      [new Date(first), new Date(last)],
    );
    const { rows: done } = await q(
      `SELECT count(*) FILTER (WHERE record_keys IS NULL)::int AS runs, count(*) FILTER (WHERE record_keys IS NOT NULL)::int AS hooks
       FROM $schema.sync_executions WHERE completed_at >= $1 AND completed_at <= $2`,
      [windowStart, windowEnd],
    );
    const { rows: durations } = await q(
      `SELECT extract(epoch FROM completed_at - started_at) * 1000 AS ms FROM $schema.sync_executions
       WHERE scheduled_for >= $1 AND scheduled_for <= $2 AND completed_at IS NOT NULL ORDER BY 1`,
      [new Date(first), new Date(last)],
    );
    const runMs = durations.map((r) => Number(r.ms));
    const sorted = lags.map((r) => Number(r.lag));
    const runs = done[0].runs + done[0].hooks;
    const cpuMs = stats.reduce((n, s) => n + s.cpuMs, 0);
    return {
      jobs: JOBS,
      workers,
      minutes: MINUTES,
      firesExpected,
      firesRun: fires[0].run,
      missed: firesExpected - fires[0].run,
      duplicated: fires[0].total - fires[0].run,
      lagP50Ms: pct(sorted, 50),
      lagP95Ms: pct(sorted, 95),
      lagP99Ms: pct(sorted, 99),
      lagMaxMs: sorted.length ? Math.round(sorted.at(-1)!) : null,
      runsPerMinute: Math.round((done[0].runs / MINUTES) * 10) / 10,
      runP50Ms: pct(runMs, 50),
      runP95Ms: pct(runMs, 95),
      webhookRuns: done[0].hooks,
      cpuMsPerRun: runs ? Math.round(cpuMs / runs) : null,
      // Counted in the workers (bench/count-statements.ts: every query their pg clients send, queue polling
      // included): pg_stat_statements is not loaded on this machine (shared_preload_libraries is empty).
      statementsPerRun: runs ? Math.round((statements / runs) * 10) / 10 : null,
      transactionsPerRun: runs ? Math.round((xacts / runs) * 10) / 10 : null,
      peakRssMbPerWorker: stats.map((s) => s.peakRssMb),
      database: 'postgres',
    };
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await engine?.database.exec(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => {});
    await engine?.close();
    await admin.end();
    rmSync(dir, { recursive: true, force: true });
  }
}

// Workers run the compiled CLI, as an installed package does (no TypeScript loader in their RSS and CPU): build
// dist/ first when src/ is newer.
const built = join(ROOT, 'dist/cli/main.js');
const srcDir = join(ROOT, 'src');
const stale =
  !existsSync(built) ||
  readdirSync(srcDir, { recursive: true }).some(
    (f) => String(f).endsWith('.ts') && statSync(join(srcDir, String(f))).mtimeMs > statSync(built).mtimeMs,
  );
if (stale) {
  console.log('building dist/ (npm run build) for the worker processes');
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
}

const sandbox = await startSandbox();
const results: Result[] = [];
try {
  for (const w of WORKERS) {
    const r = await measure(w, sandbox);
    results.push(r);
    console.log(
      `[W=${w}] fires ${r.firesRun}/${r.firesExpected} (missed ${r.missed}, duplicated ${r.duplicated}); lag p50 ` +
        `${r.lagP50Ms} ms, p95 ${r.lagP95Ms} ms, p99 ${r.lagP99Ms} ms, max ${r.lagMaxMs} ms; ${r.runsPerMinute} runs/min, ` +
        `run p50 ${r.runP50Ms} ms, p95 ${r.runP95Ms} ms, ` +
        `${r.webhookRuns} webhook runs; ${r.cpuMsPerRun} worker CPU ms/run; ${r.transactionsPerRun} transactions/run; ` +
        `peak RSS ${r.peakRssMbPerWorker.join(', ')} MB`,
    );
  }
} finally {
  sandbox.child.disconnect();
}
console.log(JSON.stringify({ ...results.at(-1), results }));
