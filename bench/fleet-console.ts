/**
 * The console at fleet size: how long the API calls behind the console's lists and fleet overview take.
 *
 *   node --import tsx bench/fleet-console.ts [--jobs 2000] [--connections 20] [--executions 100000] [--rounds 30]
 *                                            [--keep]
 *
 * On PostgreSQL (TEST_DATABASE_URL or DATABASE_URL), in a fresh schema: `connections` memory connections, `jobs`
 * jobs all on the first one (the worst case for a connection's jobs page and its summary), and `executions`
 * finished whole runs spread over the jobs and the last 48 hours (seeded with SQL: test/helpers/fleet-seed.ts).
 * Then each call is made `rounds` times through the real server (Fastify `inject`) after a warm-up, and its
 * median, p95 and max are printed, with the rows it answered. For comparison, `before:` is what the jobs list
 * did until it paged: every job of the connection with its rules and last run (engine.jobs.list +
 * executions.latest). The last line is JSON of every figure.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { buildServer } from '../src/api/server.ts';
import { createMemoryProvider } from '../src/connectors/memory.ts';
import { createSyncEngine } from '../src/sync-engine.ts';
import { seedConnections, seedJobs, seedRuns } from '../test/helpers/fleet-seed.ts';

const { values: args } = parseArgs({
  options: {
    jobs: { type: 'string', default: '2000' },
    connections: { type: 'string', default: '20' },
    executions: { type: 'string', default: '100000' },
    rounds: { type: 'string', default: '30' },
    /** Keep the schema afterwards (to EXPLAIN the queries by hand). */
    keep: { type: 'boolean', default: false },
  },
});
const url = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL;
if (!url) throw new Error('set TEST_DATABASE_URL (or DATABASE_URL) to a PostgreSQL database');
const JOBS = Number(args.jobs);
const ROUNDS = Number(args.rounds);
const schema = `bench_console_${process.pid}`;

const memory = createMemoryProvider({ entityTypes: ['customer'] });
const engine = await createSyncEngine({
  database: url,
  schema,
  providers: [memory.definition],
  encryptionKeys: [randomBytes(32).toString('hex')],
});
const app = await buildServer({ engine, token: null });
const query = async <T>(text: string, params: unknown[] = []) =>
  (await engine.database.pool!.query(text, params)).rows as T[];

type Figure = { call: string; rows: number; medianMs: number; p95Ms: number; maxMs: number };
const figures: Figure[] = [];

async function time(call: string, run: () => Promise<number>): Promise<void> {
  await run(); // warm-up: plans and caches
  const ms: number[] = [];
  let rows = 0;
  for (let i = 0; i < ROUNDS; i++) {
    const t = performance.now();
    rows = await run();
    ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  const at = (p: number) => Number(ms[Math.min(ms.length - 1, Math.floor(p * ms.length))]!.toFixed(1));
  const figure = { call, rows, medianMs: at(0.5), p95Ms: at(0.95), maxMs: at(1) };
  figures.push(figure);
  console.log(
    `${call.padEnd(58)} rows ${String(rows).padStart(5)}  median ${figure.medianMs} ms  p95 ${figure.p95Ms} ms`,
  );
}

async function get(path: string): Promise<{ items?: unknown[]; nextCursor?: string | null; [k: string]: unknown }> {
  const res = await app.inject({ method: 'GET', url: `/api/v1${path}` });
  if (res.statusCode !== 200) throw new Error(`${path}: ${res.statusCode} ${res.body}`);
  return res.json();
}

try {
  const started = performance.now();
  const connections = await seedConnections(query, Number(args.connections));
  const jobs = await seedJobs(query, connections[0]!, JOBS);
  await seedRuns(
    query,
    jobs.map((j) => j.id),
    Number(args.executions),
  );
  // As autovacuum leaves a table that settled: statistics, and the visibility map index-only scans rely on.
  await query('VACUUM ANALYZE');
  console.log(
    `seeded ${connections.length} connections, ${jobs.length} jobs, ${args.executions} executions in ` +
      `${Math.round(performance.now() - started)} ms (schema ${schema})`,
  );
  const big = connections[0]!;

  await time('GET /fleet/overview', async () => {
    const o = (await get('/fleet/overview')) as { failingJobs: { total: number } };
    return o.failingJobs.total;
  });
  await time('GET /connections (first page)', async () => (await get('/connections')).items!.length);
  await time('GET /connections/{id} (2,000 jobs)', async () => ((await get(`/connections/${big}`)) ? 1 : 0));
  await time('GET /sync-jobs?connectionId (first page of 50)', async () => {
    return (await get(`/sync-jobs?connectionId=${big}&limit=50`)).items!.length;
  });
  // A cursor halfway through, and the last page.
  const cursors: string[] = [];
  for (let cursor: string | null = null, first = true; first || cursor; first = false) {
    const page = await get(`/sync-jobs?connectionId=${big}&limit=50${cursor ? `&cursor=${cursor}` : ''}`);
    cursor = page.nextCursor ?? null;
    if (cursor) cursors.push(cursor);
  }
  const middle = cursors[Math.floor(cursors.length / 2)]!;
  const last = cursors.at(-1)!;
  await time('GET /sync-jobs?connectionId (a middle page)', async () => {
    return (await get(`/sync-jobs?connectionId=${big}&limit=50&cursor=${middle}`)).items!.length;
  });
  await time('GET /sync-jobs?connectionId (the last page)', async () => {
    return (await get(`/sync-jobs?connectionId=${big}&limit=50&cursor=${last}`)).items!.length;
  });
  await time('GET /sync-jobs?connectionId&q=job 19 (search)', async () => {
    return (await get(`/sync-jobs?connectionId=${big}&limit=50&q=job%2019`)).items!.length;
  });
  await time('GET /sync-jobs?q=0042 (search, one match)', async () => (await get('/sync-jobs?q=0042')).items!.length);
  await time('before: every job of the connection + last runs', async () => {
    const all = await engine.jobs.list({ connectionId: big });
    await engine.executions.latest(all.map((j) => j.id));
    return all.length;
  });
  console.log(
    JSON.stringify({ jobs: JOBS, connections: connections.length, executions: Number(args.executions), figures }),
  );
} finally {
  await app.close();
  if (!args.keep) await engine.database.exec(`DROP SCHEMA "${schema}" CASCADE`);
  await engine.close();
}
