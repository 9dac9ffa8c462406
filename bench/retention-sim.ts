/**
 * Retention simulation: does bounded history stay bounded? 90 simulated days of a fleet's history, pruned each day by
 * the real pruner (src/store/retention.ts) and pg-boss's own maintenance, with table sizes along the way.
 *
 *   npm run bench:retention -- [--database-url URL] [--jobs N] [--quiet-jobs Q] [--connections M]
 *                              [--runs-per-day R] [--days D] [--retention-days T] [--webhooks-per-job-day W]
 *                              [--dead-letters-per-day K] [--conflicts-per-day K] [--open-days O]
 *                              [--vacuum daily|auto] [--keep-schema]
 *
 * On PostgreSQL (--database-url, else TEST_DATABASE_URL, else postgres://postgres@127.0.0.1:5432/test), in a schema of
 * its own (dropped at the end):
 * - a fleet of N jobs (default 2,000) over M connections (default 20), made through the library (connections, one
 *   job) and cloned in SQL; Q of them (default 100) run once a day, so that each job's newest 50 executions are kept
 *   past the retention;
 * - D days (default 90), each inserted with set-based SQL and timestamps of that day: R scheduled runs per job
 *   (default 3, every 8 hours: the full one-minute fleet, 2.9M runs a day, is 480 times more and would not simulate
 *   in minutes on two shared cores; each day of this scale costs 10–25 s here: insert, prune, pg-boss, vacuum),
 *   7 % with record failures and 3 % failed, each with its run log (start, pages, finish), record events, its
 *   pg-boss job row (completed, in the engine's `<schema>_queue`), W webhook event ids per job, dead letters and
 *   conflicts (default 100 of each a day); 90 % of both are closed two or three days later, the rest stay open
 *   --open-days (default 45: past the retention, so they keep their executions a while), 0: for good;
 * - at the end of each day, as of that day: the pruner (pruneHistory with `now` = the day's end, called until a call
 *   prunes nothing; at this scale one call drains a day, as the worker's first call of the day would), pg-boss's
 *   maintenance (supervise() on a TestClock set to the day's end: its own deletion of completed jobs), and
 *   VACUUM of the history tables, which is what autovacuum would do (the test server runs with autovacuum off):
 *   PostgreSQL reuses the space of deleted rows only once they are vacuumed. `--vacuum daily` (default) vacuums every
 *   table every day (autovacuum tuned for high-churn tables); `--vacuum auto` only past the server's autovacuum
 *   thresholds (stock: 20 % dead rows), which leaves up to that much dead space between vacuums.
 *
 * Prints each checkpoint day's table sizes and row counts (days 1, 10, 20, 30, 40, 60, 90), then one JSON line:
 * { jobs, quietJobs, days, runsPerJobPerDay, retentionDays, executionsPerDay, sizesMb: { day30, day60, day90 },
 *   rows: { day30, day60, day90 }, flat, pruneMsPerDay, longestPruneBatchMs, ... }. `flat`: the day-90 total is
 * within 10 % of the day-30 and day-60 totals. `longestPruneBatchMs` is the longest single DELETE of the pruner: each
 * batch is its own transaction, so no lock is held longer.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { PgBoss, TestClock } from 'pg-boss';
import { createMemoryProvider } from '../src/connectors/memory.ts';
import { RUN_QUEUE } from '../src/queue/queue.ts';
import { DEFAULT_RETENTION, type PruneBatch, pruneHistory, type RetentionPolicy } from '../src/store/retention.ts';
import { createSyncEngine, type SyncEngine } from '../src/sync-engine.ts';

const { values: args } = parseArgs({
  options: {
    'database-url': { type: 'string' },
    jobs: { type: 'string', default: '2000' },
    'quiet-jobs': { type: 'string', default: '100' },
    connections: { type: 'string', default: '20' },
    'runs-per-day': { type: 'string', default: '3' },
    days: { type: 'string', default: '90' },
    'retention-days': { type: 'string', default: String(DEFAULT_RETENTION.days) },
    'webhooks-per-job-day': { type: 'string', default: '5' },
    vacuum: { type: 'string', default: 'daily' },
    'keep-schema': { type: 'boolean', default: false },
    'dead-letters-per-day': { type: 'string', default: '100' },
    'conflicts-per-day': { type: 'string', default: '100' },
    'open-days': { type: 'string', default: '45' },
  },
  strict: true,
});
const int = (v: string, name: string, min = 1) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer ≥ ${min}, got "${v}"`);
  return n;
};
const JOBS = int(args.jobs!, '--jobs');
const QUIET = int(args['quiet-jobs']!, '--quiet-jobs', 0);
if (QUIET > JOBS) throw new Error('--quiet-jobs must not exceed --jobs');
const CONNECTIONS = Math.min(JOBS, int(args.connections!, '--connections'));
const RUNS = int(args['runs-per-day']!, '--runs-per-day');
if (86_400 % RUNS !== 0) throw new Error('--runs-per-day must divide a day into whole seconds');
const DAYS = int(args.days!, '--days');
const RETENTION_DAYS = int(args['retention-days']!, '--retention-days');
const WEBHOOKS = int(args['webhooks-per-job-day']!, '--webhooks-per-job-day', 0);
const VACUUM = args.vacuum!;
if (VACUUM !== 'daily' && VACUUM !== 'auto') throw new Error('--vacuum must be daily or auto');
const DB_URL = args['database-url'] ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
if (!/^postgres(ql)?:\/\//.test(DB_URL)) throw new Error('--database-url must be a postgres:// URL');
const DEAD_LETTERS_PER_DAY = int(args['dead-letters-per-day']!, '--dead-letters-per-day', 0);
const CONFLICTS_PER_DAY = int(args['conflicts-per-day']!, '--conflicts-per-day', 0);
/** How long the dead letters and conflicts nobody looks at soon stay open; 0: for good. */
const OPEN_DAYS = int(args['open-days']!, '--open-days', 0);
const CHECKPOINTS = [1, 10, 20, 30, 40, 60, 90].filter((d) => d <= DAYS);
if (!CHECKPOINTS.includes(DAYS)) CHECKPOINTS.push(DAYS);
const DAY_MS = 86_400_000;
const POLICY: RetentionPolicy = { ...DEFAULT_RETENTION, days: RETENTION_DAYS };

const schema = `bench_retention_${randomBytes(4).toString('hex')}`;
const queueSchema = `${schema}_queue`;
/** The history tables, and pg-boss's job table (completed jobs wait there for pg-boss's own deletion). */
const TABLES = [
  'sync_executions',
  'record_failures',
  'execution_log',
  'record_events',
  'webhook_events',
  'dead_letters',
  'conflicts',
  `${queueSchema}.job_common`,
] as const;
const label = (t: string) => (t.startsWith(queueSchema) ? 'pgboss.job_common' : t);

type Sizes = Record<string, { mb: number; heapMb: number; indexMb: number; rows: number }>;

/** The fleet: connections and one job through the library, the other jobs cloned from it in SQL. */
async function createFleet(engine: SyncEngine, client: pg.Client): Promise<void> {
  const connectionIds: string[] = [];
  for (let i = 0; i < CONNECTIONS; i++) {
    connectionIds.push((await engine.connections.create({ name: `Fleet ${i}`, provider: 'memory' })).id);
  }
  const template = await engine.jobs.create({
    connectionId: connectionIds[0]!,
    name: 'Fleet job 0',
    entityType: 'customer',
    direction: 'inbound',
    schedule: { type: 'cron', cron: '0 * * * *', timezone: 'UTC' },
    fieldMappings: [
      { sourceField: 'name', targetField: 'name', direction: 'inbound' },
      { sourceField: 'email', targetField: 'email', direction: 'inbound' },
    ],
  });
  // Opens the engine's queue once: pg-boss installs its schema and the engine's queues with the engine's settings.
  await engine.trigger(template.id);
  await client.query(
    `INSERT INTO sync_jobs (connection_id, name, entity_type, direction, mode, schedule_cron, schedule_timezone,
                            retry_on_failure, max_retries, timeout_minutes, enabled, delete_policy)
     SELECT ($2::uuid[])[1 + g % $3], 'Fleet job ' || g, t.entity_type, t.direction, t.mode,
            CASE WHEN g <= $4 THEN '0 3 * * *' ELSE t.schedule_cron END, t.schedule_timezone, t.retry_on_failure,
            t.max_retries, t.timeout_minutes, t.enabled, t.delete_policy
     FROM sync_jobs t, generate_series(1, $5 - 1) g WHERE t.id = $1`,
    [template.id, connectionIds, CONNECTIONS, QUIET, JOBS],
  );
  await client.query(
    `INSERT INTO field_mapping_rules (job_id, position, direction, source_field, target_field)
     SELECT j.id, r.position, r.direction, r.source_field, r.target_field
     FROM sync_jobs j, field_mapping_rules r WHERE r.job_id = $1 AND j.id <> $1`,
    [template.id],
  );
  // The triggered run was only there to open the queue.
  await client.query(`DELETE FROM sync_executions; DELETE FROM "${queueSchema}".job`);
  // The simulation's own numbering of the jobs (not measured).
  await client.query(
    `CREATE TABLE bench_jobs AS
     SELECT (row_number() OVER (ORDER BY created_at, id) - 1)::int AS n, id AS job_id, connection_id,
            schedule_cron = '0 3 * * *' AS quiet
     FROM sync_jobs`,
  );
}

/** One simulated day's history, all of it timestamped inside [start, start + 1 day). */
async function insertDay(client: pg.Client, day: number, start: Date, deletionSeconds: number, keepSeconds: number) {
  const slot = 86_400 / RUNS;
  await client.query('BEGIN');
  await client.query(
    `CREATE TEMP TABLE day_runs ON COMMIT DROP AS
     SELECT x.*, CASE WHEN roll < 0.03 THEN 'failed' WHEN roll < 0.10 THEN 'completed_with_errors' ELSE 'completed' END
              AS status
     FROM (
       SELECT gen_random_uuid() AS id, gen_random_uuid() AS qid, b.job_id, b.n,
              $1::timestamptz + make_interval(secs => CASE WHEN b.quiet THEN 3 * 3600 + b.n % 600
                                                           ELSE k * $2 + (b.n * 7) % $2 END) AS t,
              random() AS roll, floor(random() * 3)::int AS c, floor(random() * 8)::int AS u,
              floor(random() * 20)::int AS s, 1 + floor(random() * 4)::int AS f, 0.3 + random() * 4 AS dur,
              floor(random() * 3)::int AS pages
       FROM bench_jobs b, generate_series(0, $3 - 1) k
       WHERE k = 0 OR NOT b.quiet
     ) x`,
    [start, slot, RUNS],
  );
  await client.query(`
    UPDATE day_runs SET c = 0, u = 0, s = 0, f = 0, pages = 0 WHERE status = 'failed';
    UPDATE day_runs SET f = 0 WHERE status = 'completed';`);
  await client.query(
    `INSERT INTO sync_executions (id, job_id, trigger, attempt, status, processed, created, updated, skipped, failed,
                                  halt_reason, halt_kind, checkpoint, queue_job_id, worker_id, heartbeat_at,
                                  started_at, completed_at, duration_seconds, created_at, scheduled_for, read_ms,
                                  write_ms, rate_limit_wait_ms, retry_wait_ms)
     SELECT id, job_id, 'scheduled', 1, status, c + u + s + f, c, u, s, f,
            CASE WHEN status = 'failed' THEN 'memory answered 503 Service Unavailable (4 tries)' END,
            CASE WHEN status = 'failed' THEN 'error' END,
            jsonb_build_object('leg', 'inbound', 'cursor', t - interval '1 hour', 'after', 'cus_' || n || '_' || c),
            qid::text, 'worker-' || (n % 4) || '-' || substr(md5(n::text), 1, 8), t + dur * interval '1 second',
            t, t + dur * interval '1 second', round(dur::numeric, 3), t, t,
            (dur * 600)::bigint, (dur * 300)::bigint, 0, 0
     FROM day_runs`,
  );
  await client.query(
    `INSERT INTO record_failures (execution_id, job_id, record_key, side, phase, error_kind, message, created_at)
     SELECT id, job_id, 'cus_' || n || '_' || g, 'provider', 'write', 'record',
            'null value in column "email" of relation "customers" violates not-null constraint', t
     FROM day_runs, generate_series(1, f) g`,
  );
  await client.query(
    `INSERT INTO execution_log (execution_id, at, level, event, message, data)
     SELECT id, t, 'info', 'start', 'scheduled run started, attempt 1, changes since ' || (t - interval '1 hour'),
            jsonb_build_object('trigger', 'scheduled', 'attempt', 1, 'mode', 'incremental', 'direction', 'inbound')
     FROM day_runs
     UNION ALL
     SELECT id, t + g * interval '100 ms', 'info', 'page', 'inbound page committed: ' || (c + u + s + f) || ' records',
            jsonb_build_object('leg', 'inbound', 'records', c + u + s + f, 'created', c, 'updated', u, 'deleted', 0,
                               'skipped', s, 'failed', f, 'durationMs', (dur * 200)::int)
     FROM day_runs, generate_series(1, pages) g
     UNION ALL
     SELECT id, t + dur * interval '1 second',
            CASE status WHEN 'completed' THEN 'info' WHEN 'failed' THEN 'error' ELSE 'warn' END,
            CASE WHEN status = 'failed' THEN 'error' ELSE 'finished' END,
            status || ': processed ' || (c + u + s + f) || ', created ' || c || ', updated ' || u ||
              ', deleted 0, skipped ' || s || ', failed ' || f || '; read ' || (dur * 600)::int || ' ms, wrote ' ||
              (dur * 300)::int || ' ms, rate limits 0 ms, retries 0 ms',
            jsonb_build_object('status', status, 'counters', jsonb_build_object('processed', c + u + s + f,
                               'created', c, 'updated', u, 'deleted', 0, 'skipped', s, 'failed', f),
                               'timing', jsonb_build_object('readMs', (dur * 600)::int, 'writeMs', (dur * 300)::int))
     FROM day_runs`,
  );
  await client.query(
    `INSERT INTO record_events (execution_id, job_id, side, record_key, outcome, at)
     SELECT id, job_id, 'provider', 'cus_' || n || '_' || ((g * 7919 + $1) % 500),
            CASE WHEN g > c + u THEN 'failed' ELSE 'updated' END, t
     FROM day_runs, generate_series(1, c + u + f) g`,
    [day],
  );
  // pg-boss's row of each run, completed when the run finished (the engine queues every run through pg-boss).
  await client.query(
    `INSERT INTO "${queueSchema}".job (id, name, data, state, retry_limit, retry_delay, expire_seconds,
                                       deletion_seconds, singleton_key, policy, start_after, created_on, started_on,
                                       completed_on, keep_until)
     SELECT qid, $1, jsonb_build_object('executionId', id), 'completed', 100, 1, 3900, $2, job_id::text, 'stately',
            t, t, t, t + dur * interval '1 second', t + make_interval(secs => $3)
     FROM day_runs`,
    [RUN_QUEUE, deletionSeconds, keepSeconds],
  );
  if (WEBHOOKS > 0) {
    await client.query(
      `INSERT INTO webhook_events (connection_id, event_id, entity_type, record_id, received_at)
       SELECT b.connection_id, 'evt_' || $2 || '_' || g, 'customer', 'cus_' || b.n || '_' || (g % 500),
              $1::timestamptz + make_interval(secs => (g * 86399.0) / $3)
       FROM generate_series(1, $3) g JOIN bench_jobs b ON b.n = g % $4`,
      [start, day, JOBS * WEBHOOKS, JOBS],
    );
  }
  // Records that failed three times in a row: the dead letter queue. Each one's key names its day and number.
  await client.query(
    `INSERT INTO dead_letters (job_id, side, record_key, failure_count, last_error, last_execution_id, source_hash,
                               first_failed_at, created_at, updated_at)
     SELECT job_id, 'provider', 'dl-' || $1 || '-' || row_number() OVER (ORDER BY id), 3,
            'null value in column "email" of relation "customers" violates not-null constraint', id, md5(id::text),
            t - interval '2 hours', t, t
     FROM (SELECT * FROM day_runs WHERE status = 'completed_with_errors' ORDER BY id LIMIT $2) d`,
    [day, DEAD_LETTERS_PER_DAY],
  );
  await client.query(
    `INSERT INTO conflicts (job_id, execution_id, local_id, external_id, local_content, provider_content, fields,
                            content_hash, created_at, updated_at)
     SELECT job_id, id, 'cf-' || $1 || '-' || row_number() OVER (ORDER BY id), 'cus_' || n,
            jsonb_build_object('name', 'Local ' || n, 'email', 'l' || n || '@example.test', 'balance', 12.5),
            jsonb_build_object('name', 'Provider ' || n, 'email', 'p' || n || '@example.test', 'balance', 12.5),
            '{name,email}', md5(id::text), t, t
     FROM (SELECT * FROM day_runs WHERE status = 'completed' ORDER BY id LIMIT $2) d`,
    [day, CONFLICTS_PER_DAY],
  );
  // People close 90 % of them: dead letters 3 days later (resolved, or retried), conflicts 2 days later. The rest
  // (number ≡ 0 mod 10) stay open OPEN_DAYS (past the retention: their executions are kept meanwhile), or for good.
  const noon = new Date(start.getTime() + DAY_MS / 2);
  const close = async (prefix: 'dl' | 'cf', fromDay: number, late: boolean) => {
    const rest = late ? '= 0' : '<> 0';
    if (prefix === 'dl') {
      await client.query(
        `UPDATE dead_letters SET status = CASE WHEN split_part(record_key, '-', 3)::int % 10 = 1 THEN 'retried'
                                                ELSE 'resolved' END, updated_at = $2
         WHERE status = 'open' AND record_key LIKE 'dl-' || $1 || '-%' AND split_part(record_key, '-', 3)::int % 10 ${rest}`,
        [fromDay, noon],
      );
    } else {
      await client.query(
        `UPDATE conflicts SET status = 'resolved', resolution = '{"winner":"provider"}', resolved_by = 'ops@example.test',
                              resolved_at = $2, updated_at = $2
         WHERE status = 'open' AND local_id LIKE 'cf-' || $1 || '-%' AND split_part(local_id, '-', 3)::int % 10 ${rest}`,
        [fromDay, noon],
      );
    }
  };
  await close('dl', day - 3, false);
  await close('cf', day - 2, false);
  if (OPEN_DAYS > 0) {
    await close('dl', day - OPEN_DAYS, true);
    await close('cf', day - OPEN_DAYS, true);
  }
  await client.query('COMMIT');
}

/**
 * What autovacuum would do at the end of the day (the test server runs with it off). `daily`: VACUUM every history
 * table, as autovacuum tuned for high-churn tables does (autovacuum_vacuum_scale_factor ≈ 0.02). `auto`: only the
 * tables past the server's own autovacuum thresholds (by default 20 % dead rows, or 20 % rows inserted since the last
 * vacuum), so up to a fifth of a table may be dead space between two vacuums. Either way ANALYZE past autovacuum's
 * analyze threshold (10 % of rows changed). Returns how many tables it vacuumed.
 */
async function vacuum(client: pg.Client): Promise<number> {
  const { rows } = await client.query<{ name: string; vacuum: boolean; analyze: boolean }>(
    `WITH s AS (SELECT name, setting::float8 AS v FROM pg_settings WHERE name LIKE 'autovacuum_%')
     SELECT quote_ident(t.schemaname) || '.' || quote_ident(t.relname) AS name,
            t.n_dead_tup > (SELECT v FROM s WHERE name = 'autovacuum_vacuum_threshold')
                           + (SELECT v FROM s WHERE name = 'autovacuum_vacuum_scale_factor') * c.reltuples
            OR t.n_ins_since_vacuum > (SELECT v FROM s WHERE name = 'autovacuum_vacuum_insert_threshold')
                           + (SELECT v FROM s WHERE name = 'autovacuum_vacuum_insert_scale_factor') * c.reltuples
              AS vacuum,
            t.n_mod_since_analyze > (SELECT v FROM s WHERE name = 'autovacuum_analyze_threshold')
                           + (SELECT v FROM s WHERE name = 'autovacuum_analyze_scale_factor') * c.reltuples AS analyze
     FROM pg_stat_user_tables t JOIN pg_class c ON c.oid = t.relid
     WHERE t.schemaname IN ($1, $2) AND t.relname = ANY($3)`,
    [schema, queueSchema, TABLES.map((t) => t.split('.').at(-1))],
  );
  let n = 0;
  for (const r of rows) {
    const vacuum = VACUUM === 'daily' || r.vacuum;
    if (vacuum) n++;
    const command = vacuum ? (r.analyze ? 'VACUUM (ANALYZE)' : 'VACUUM') : r.analyze ? 'ANALYZE' : null;
    if (command) await client.query(`${command} ${r.name}`);
  }
  return n;
}

async function sizes(client: pg.Client): Promise<Sizes> {
  const out: Sizes = {};
  const mb = (bytes: number) => Math.round(bytes / 104_857.6) / 10;
  for (const t of TABLES) {
    const name = t.includes('.') ? t : `"${schema}".${t}`;
    const { rows } = await client.query<{ heap: string; index: string; n: string }>(
      `SELECT pg_table_size($1::regclass) AS heap, pg_indexes_size($1::regclass) AS index,
              (SELECT count(*) FROM ${name}) AS n`,
      [name],
    );
    const heap = Number(rows[0]!.heap);
    const index = Number(rows[0]!.index);
    out[label(t)] = { mb: mb(heap + index), heapMb: mb(heap), indexMb: mb(index), rows: Number(rows[0]!.n) };
  }
  const sum = (k: 'mb' | 'heapMb' | 'indexMb' | 'rows') => Object.values(out).reduce((a, v) => a + v[k], 0);
  const round = (x: number) => Math.round(x * 10) / 10;
  out.total = { mb: round(sum('mb')), heapMb: round(sum('heapMb')), indexMb: round(sum('indexMb')), rows: sum('rows') };
  return out;
}

function printCheckpoint(day: number, s: Sizes, executionsPerDay: number): void {
  console.log(
    `\nday ${day} (${executionsPerDay.toLocaleString('en')} executions a day, retention ${RETENTION_DAYS} days)`,
  );
  console.log(
    `${'table'.padEnd(22)}${'MB'.padStart(9)}${'heap MB'.padStart(9)}${'index MB'.padStart(10)}${'rows'.padStart(12)}`,
  );
  for (const [t, v] of Object.entries(s)) {
    console.log(
      `${t.padEnd(22)}${v.mb.toFixed(1).padStart(9)}${v.heapMb.toFixed(1).padStart(9)}${v.indexMb.toFixed(1).padStart(10)}` +
        `${v.rows.toLocaleString('en').padStart(12)}`,
    );
  }
}

async function main(): Promise<void> {
  const began = performance.now();
  const provider = createMemoryProvider({ entityTypes: ['customer'] });
  const key = randomBytes(32).toString('hex');
  const open = () =>
    createSyncEngine({ database: DB_URL, schema, providers: [provider.definition], encryptionKeys: [key] });
  const client = new pg.Client({ connectionString: DB_URL });
  await client.connect();
  let engine: SyncEngine | undefined;
  let boss: PgBoss | undefined;
  try {
    engine = await open();
    await client.query(`SET search_path TO "${schema}"`);
    await createFleet(engine, client);
    // Closed and opened again: the simulation prunes through the engine's database, with no queue running on the
    // real clock beside it (pg-boss's maintenance runs below, on the simulated one).
    await engine.close();
    engine = await open();
    const [queue] = (
      await client.query<{ deletion_seconds: number; retention_seconds: number }>(
        `SELECT deletion_seconds, retention_seconds FROM "${queueSchema}".queue WHERE name = $1`,
        [RUN_QUEUE],
      )
    ).rows;
    const { rows: perDay } = await client.query<{ n: number }>(
      `SELECT sum(CASE WHEN quiet THEN 1 ELSE $1 END)::int AS n FROM bench_jobs`,
      [RUNS],
    );
    const executionsPerDay = perDay[0]!.n;
    // Midnight UTC, DAYS days ago: the simulation ends today.
    const t0 = new Date(Math.floor(Date.now() / DAY_MS) * DAY_MS - DAYS * DAY_MS);
    const clock = new TestClock(t0);
    boss = new PgBoss({
      connectionString: DB_URL,
      schema: queueSchema,
      clock,
      migrate: false,
      supervise: false,
      schedule: false,
      max: 2,
    });
    boss.on('error', (err: unknown) => console.error('pg-boss error', err));
    await boss.start();
    console.log(
      `fleet: ${JOBS} jobs (${QUIET} of them daily) on ${CONNECTIONS} connections, ${RUNS} runs per job per day ` +
        `(every ${86_400 / RUNS / 60} min; the full fleet runs every minute: 1,440), ${executionsPerDay.toLocaleString('en')} ` +
        `executions a day, ${(JOBS * WEBHOOKS).toLocaleString('en')} webhook events a day; retention ${RETENTION_DAYS} ` +
        `days, newest ${POLICY.keepPerJob} per job kept, batches of ${POLICY.batchSize}; pg-boss deletes completed jobs ` +
        `after ${queue!.deletion_seconds} s; ${DAYS} days from ${t0.toISOString().slice(0, 10)}, schema ${schema}`,
    );

    const checkpoints: Record<number, Sizes> = {};
    const pruneMs: number[] = [];
    const batches: PruneBatch[] = [];
    let insertMs = 0;
    let vacuumMs = 0;
    let queueMs = 0;
    let vacuums = 0;
    const pruned = { executions: 0, webhookEvents: 0, deadLetters: 0, conflicts: 0, calls: 0 };
    for (let day = 1; day <= DAYS; day++) {
      const start = new Date(t0.getTime() + (day - 1) * DAY_MS);
      const end = new Date(start.getTime() + DAY_MS);
      const dayMs = { insert: 0, queue: 0, vacuum: 0 };
      let t = performance.now();
      await insertDay(client, day, start, queue!.deletion_seconds, queue!.retention_seconds);
      dayMs.insert = performance.now() - t;
      insertMs += dayMs.insert;

      t = performance.now();
      for (;;) {
        const r = await pruneHistory(engine.database.db, 'bench-worker', POLICY, {
          now: end,
          onBatch: (b) => batches.push(b),
        });
        if (!r.ran) throw new Error('the pruning lease is held by someone else');
        pruned.calls++;
        pruned.executions += r.executions;
        pruned.webhookEvents += r.webhookEvents;
        pruned.deadLetters += r.deadLetters;
        pruned.conflicts += r.conflicts;
        if (r.executions + r.webhookEvents + r.deadLetters + r.conflicts === 0) break;
      }
      pruneMs.push(performance.now() - t);

      t = performance.now();
      await clock.setTime(end);
      await boss.supervise();
      dayMs.queue = performance.now() - t;
      queueMs += dayMs.queue;

      t = performance.now();
      vacuums += await vacuum(client);
      dayMs.vacuum = performance.now() - t;
      vacuumMs += dayMs.vacuum;

      if (CHECKPOINTS.includes(day)) {
        checkpoints[day] = await sizes(client);
        printCheckpoint(day, checkpoints[day]!, executionsPerDay);
      }
      process.stderr.write(
        `day ${day}: insert ${Math.round(dayMs.insert)} ms, prune ${Math.round(pruneMs.at(-1)!)} ms, ` +
          `pg-boss ${Math.round(dayMs.queue)} ms, vacuum ${Math.round(dayMs.vacuum)} ms; ` +
          `${pruned.executions.toLocaleString('en')} executions pruned so far; ` +
          `${Math.round((performance.now() - began) / 1000)} s\n`,
      );
    }

    const mbOf = (d: number) => Object.fromEntries(Object.entries(checkpoints[d] ?? {}).map(([k, v]) => [k, v.mb]));
    const rowsOf = (d: number) => Object.fromEntries(Object.entries(checkpoints[d] ?? {}).map(([k, v]) => [k, v.rows]));
    const total = (d: number) => checkpoints[d]?.total?.mb;
    const ratio = (a: number | undefined, b: number | undefined) =>
      a !== undefined && b ? Math.round((a / b) * 1000) / 1000 : null;
    const within = (a: number | undefined, b: number | undefined) =>
      a !== undefined && b !== undefined && Math.abs(a - b) <= 0.1 * b;
    const last = DAYS;
    const mid = CHECKPOINTS.includes(60) ? 60 : undefined;
    const flat = within(total(last), total(RETENTION_DAYS)) && (mid === undefined || within(total(last), total(mid)));
    // Days on which something was old enough to prune.
    const steady = pruneMs.slice(RETENTION_DAYS);
    const mean = (xs: number[]) => (xs.length ? Math.round(xs.reduce((a, b) => a + b, 0) / xs.length) : 0);
    const longest = batches.reduce((a, b) => (b.ms > a.ms ? b : a), { table: 'sync_executions', rows: 0, ms: 0 });
    console.log(
      JSON.stringify({
        jobs: JOBS,
        quietJobs: QUIET,
        days: DAYS,
        runsPerJobPerDay: RUNS,
        retentionDays: RETENTION_DAYS,
        keepPerJob: POLICY.keepPerJob,
        batchSize: POLICY.batchSize,
        executionsPerDay,
        webhookEventsPerDay: JOBS * WEBHOOKS,
        sizesMb: { [`day${RETENTION_DAYS}`]: mbOf(RETENTION_DAYS), day60: mbOf(60), [`day${last}`]: mbOf(last) },
        rows: { [`day${RETENTION_DAYS}`]: rowsOf(RETENTION_DAYS), day60: rowsOf(60), [`day${last}`]: rowsOf(last) },
        flat,
        day90VsDay30: ratio(total(last), total(RETENTION_DAYS)),
        day90VsDay60: ratio(total(last), mid === undefined ? undefined : total(mid)),
        deadLettersPerDay: DEAD_LETTERS_PER_DAY,
        conflictsPerDay: CONFLICTS_PER_DAY,
        openDays: OPEN_DAYS,
        pruned,
        pruneMsPerDay: mean(steady),
        pruneMsMaxDay: Math.round(Math.max(0, ...steady)),
        longestPruneBatchMs: Math.round(longest.ms * 10) / 10,
        longestPruneBatch: { table: longest.table, rows: longest.rows },
        pruneBatches: batches.filter((b) => b.rows > 0).length,
        insertMsPerDay: Math.round(insertMs / DAYS),
        queueMaintenanceMsPerDay: Math.round(queueMs / DAYS),
        vacuum: VACUUM,
        vacuums,
        vacuumMsPerDay: Math.round(vacuumMs / DAYS),
        seconds: Math.round((performance.now() - began) / 1000),
        database: 'postgres',
      }),
    );
  } finally {
    await boss?.stop({ graceful: false, close: true, timeout: 5000 }).catch(() => {});
    await engine?.close().catch(() => {});
    if (args['keep-schema']) console.error(`kept schemas ${schema} and ${queueSchema} (--keep-schema)`);
    else
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE; DROP SCHEMA IF EXISTS "${queueSchema}" CASCADE`);
    await client.end();
  }
}

await main();
