/**
 * The idle footprint of `otesse-sync serve`: the resident memory of the serving process once it answers
 * /healthz and has idled, on PGlite (a new data directory, then a restart on the same one) and, for comparison,
 * on PostgreSQL. Each measurement prints one JSON line:
 *
 *   { database, start, demo, readyMs, idleSeconds, idleRssMb, idleRssMaxMb, peakRssMb, wasmRssMb, glibcTunables,
 *     heapUsedMb, heapTotalMb, externalMb, arrayBuffersMb }
 *
 * - `start`: `new` (a fresh PGlite data directory: the cluster is created), `restart` (the same directory again),
 *   or `postgres` (a fresh schema on the server);
 * - `idleRssMb`: VmRSS after `--idle` seconds with no requests (sampled each second; `idleRssMaxMb` the highest);
 *   `peakRssMb`: VmHWM, the most the process held since it started;
 * - `wasmRssMb`: the resident part of anonymous mappings of 128 MiB and more (PGlite's WebAssembly memory; 0 on
 *   PostgreSQL);
 * - `heap*`, `externalMb`, `arrayBuffersMb`: `process.memoryUsage()` of the serving process at the end of the idle
 *   time (read through a signal handler that `--import` adds; PGlite's WebAssembly memory counts in `external`).
 *
 *   npm run bench:footprint -- [--database pglite|postgres|both] [--idle S] [--runs N] [--demo] [--no-restart]
 *                              [--malloc-tuning on|off]
 *
 * `--malloc-tuning off` starts serve with OTESSE_SYNC_MALLOC_TUNING=off: without the glibc mmap threshold the CLI
 * sets for itself on Linux (bin/otesse-sync.js), for a before/after; `glibcTunables` says what the process had.
 *
 * With `--runs N` (N > 1) a summary line per kind of start follows: the median idle RSS over the runs, since one
 * run's figure moves by tens of MB (see the summary's comment).
 *
 * PostgreSQL needs TEST_DATABASE_URL (the schema is dropped afterwards). It runs the compiled CLI
 * (bin/otesse-sync.js → dist/, `npm run build`); BENCH_ROOT measures another checkout. The exit code is 0 when
 * every run reached /healthz; the figures are for reading, not asserted.
 * Plain `node` runs this file (Node ≥ 22.18 strips the types); it needs no build of its own and no tsx.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';

const ROOT = process.env.BENCH_ROOT ?? fileURLToPath(new URL('..', import.meta.url));
const { values: args } = parseArgs({
  options: {
    database: { type: 'string', default: 'pglite' },
    idle: { type: 'string', default: '30' },
    demo: { type: 'boolean', default: false },
    'no-restart': { type: 'boolean', default: false },
    'malloc-tuning': { type: 'string', default: 'on' },
    runs: { type: 'string', default: '1' },
  },
  strict: true,
});
const IDLE_SECONDS = Number(args.idle);
if (!Number.isFinite(IDLE_SECONDS) || IDLE_SECONDS < 0) fail(`--idle must be a number of seconds, got "${args.idle}"`);
const RUNS = Number(args.runs);
if (!Number.isInteger(RUNS) || RUNS < 1) fail(`--runs must be a whole number ≥ 1, got "${args.runs}"`);
if (args['malloc-tuning'] !== 'on' && args['malloc-tuning'] !== 'off') {
  fail(`--malloc-tuning must be on or off, got "${args['malloc-tuning']}"`);
}
const DATABASES = args.database === 'both' ? ['pglite', 'postgres'] : [args.database];
if (!DATABASES.every((d) => d === 'pglite' || d === 'postgres')) {
  fail(`--database must be pglite, postgres or both, got "${args.database}"`);
}
const DATABASE_URL = process.env.TEST_DATABASE_URL;
if (DATABASES.includes('postgres') && !DATABASE_URL) fail('--database postgres needs TEST_DATABASE_URL');
if (!existsSync(join(ROOT, 'dist/cli/main.js'))) fail(`${ROOT}dist/ is missing: npm run build`);
const READY_DEADLINE_MS = 300_000;

/**
 * Loaded into the serving process with --import: on SIGUSR2 it writes process.memoryUsage() to the file named by
 * OTESSE_FOOTPRINT_FILE. SIGUSR2 is unused by Node and by the CLI.
 */
const PROBE = `data:text/javascript,${encodeURIComponent(`
import { renameSync, writeFileSync } from 'node:fs';
process.on('SIGUSR2', () => {
  const file = process.env.OTESSE_FOOTPRINT_FILE;
  writeFileSync(file + '.tmp', JSON.stringify({ ...process.memoryUsage(), glibcTunables: process.env.GLIBC_TUNABLES ?? null }));
  renameSync(file + '.tmp', file);
});
`)}`;

interface Measurement {
  database: 'pglite' | 'postgres';
  start: 'new' | 'restart' | 'postgres';
  demo: boolean;
  readyMs: number;
  idleSeconds: number;
  idleRssMb: number;
  idleRssMaxMb: number;
  peakRssMb: number;
  wasmRssMb: number;
  heapUsedMb: number | null;
  heapTotalMb: number | null;
  externalMb: number | null;
  arrayBuffersMb: number | null;
  /** GLIBC_TUNABLES as the serving process sees it (the CLI sets glibc's mmap threshold; see bin/otesse-sync.js). */
  glibcTunables: string | null;
}

function fail(message: string): never {
  console.error(`bench:footprint: ${message}`);
  process.exit(2);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mb = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;

function status(pid: number): { rssMb: number; hwmMb: number } {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? Number.NaN);
  return { rssMb: mb(kib('VmRSS') * 1024), hwmMb: mb(kib('VmHWM') * 1024) };
}

/** Resident memory of anonymous read-write mappings of 128 MiB and more: PGlite's WebAssembly memory. */
function wasmRss(pid: number): number {
  let kib = 0;
  let large = false;
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ (\d+)\s*(\S*)/.exec(line);
    if (head) {
      const size = Number.parseInt(head[2]!, 16) - Number.parseInt(head[1]!, 16);
      large = head[3]!.startsWith('rw') && head[4] === '0' && head[5] === '' && size >= 128 * 2 ** 20;
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss && large) kib += Number(rss[1]);
  }
  return mb(kib * 1024);
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once('exit', () => resolve()));
}

async function healthy(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

async function measure(
  database: 'pglite' | 'postgres',
  start: Measurement['start'],
  target: { dataDir: string } | { url: string; schema: string },
  scratch: string,
): Promise<Measurement> {
  const probeFile = join(scratch, `memory-${randomBytes(4).toString('hex')}.json`);
  const { DATABASE_URL: _ignored, ...env } = process.env;
  const serveArgs = ['serve', '--port', '0', ...(args.demo ? ['--demo'] : [])];
  if ('dataDir' in target) serveArgs.push('--data-dir', target.dataDir);
  else serveArgs.push('--database', target.url, '--schema', target.schema);
  const started = performance.now();
  const child = spawn(process.execPath, ['--import', PROBE, join(ROOT, 'bin/otesse-sync.js'), ...serveArgs], {
    cwd: scratch,
    env: {
      ...env,
      LOG_FORMAT: 'json',
      LOG_LEVEL: 'warn',
      OTESSE_FOOTPRINT_FILE: probeFile,
      ...(args['malloc-tuning'] === 'off' ? { OTESSE_SYNC_MALLOC_TUNING: 'off' } : {}),
      // PostgreSQL needs a configured key; a PGlite directory makes its own.
      ...(database === 'postgres' ? { OTESSE_SYNC_ENCRYPTION_KEY: randomBytes(32).toString('hex') } : {}),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  try {
    let url: string | null = null;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`serve exited with ${child.exitCode}:\n${output}`);
      if (performance.now() - started > READY_DEADLINE_MS) throw new Error(`serve not ready in time:\n${output}`);
      url ??= /listening on (http:\/\/\S+)/.exec(output)?.[1] ?? null;
      if (url && (await healthy(url))) break;
      await sleep(50);
    }
    const readyMs = Math.round(performance.now() - started);
    const pid = child.pid!;
    let idleRssMb = status(pid).rssMb;
    let idleRssMaxMb = idleRssMb;
    const idleUntil = performance.now() + IDLE_SECONDS * 1000;
    while (performance.now() < idleUntil) {
      await sleep(Math.min(1000, Math.max(0, idleUntil - performance.now())));
      idleRssMb = status(pid).rssMb;
      idleRssMaxMb = Math.max(idleRssMaxMb, idleRssMb);
    }
    const { hwmMb } = status(pid);
    const wasmRssMb = database === 'pglite' ? wasmRss(pid) : 0;
    child.kill('SIGUSR2');
    const probeDeadline = performance.now() + 5000;
    while (!existsSync(probeFile) && performance.now() < probeDeadline) await sleep(20);
    const usage = existsSync(probeFile)
      ? (JSON.parse(readFileSync(probeFile, 'utf8')) as NodeJS.MemoryUsage & { glibcTunables: string | null })
      : null;
    return {
      database,
      start,
      demo: args.demo ?? false,
      readyMs,
      idleSeconds: IDLE_SECONDS,
      idleRssMb,
      idleRssMaxMb,
      peakRssMb: hwmMb,
      wasmRssMb,
      heapUsedMb: usage ? mb(usage.heapUsed) : null,
      heapTotalMb: usage ? mb(usage.heapTotal) : null,
      externalMb: usage ? mb(usage.external) : null,
      arrayBuffersMb: usage ? mb(usage.arrayBuffers) : null,
      glibcTunables: usage?.glibcTunables ?? null,
    };
  } finally {
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    await exited(child);
    clearTimeout(timer);
  }
}

const results: Measurement[] = [];
const report = (m: Measurement) => {
  results.push(m);
  console.log(JSON.stringify(m));
};
const scratch = mkdtempSync(join(tmpdir(), 'otesse-bench-footprint-'));
try {
  for (let run = 0; run < RUNS; run++) {
    for (const database of DATABASES) {
      if (database === 'pglite') {
        const dataDir = join(scratch, `data-${run}`);
        report(await measure('pglite', 'new', { dataDir }, scratch));
        if (!args['no-restart']) report(await measure('pglite', 'restart', { dataDir }, scratch));
      } else {
        const schema = `footprint_${randomBytes(4).toString('hex')}`;
        try {
          report(await measure('postgres', 'postgres', { url: DATABASE_URL!, schema }, scratch));
        } finally {
          const client = new pg.Client({ connectionString: DATABASE_URL });
          await client.connect();
          await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; DROP SCHEMA IF EXISTS ${schema}_queue CASCADE`);
          await client.end();
          // The demo on PostgreSQL keeps its files in the system's temporary directory, named by the schema.
          rmSync(join(tmpdir(), `otesse-sync-demo-${schema}`), { recursive: true, force: true });
        }
      }
    }
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
if (RUNS > 1) {
  // Idle RSS moves by tens of MB from run to run (when V8 shrinks its young generation, how much of the compilers'
  // freed memory the C allocator keeps): the median over runs is the figure to compare.
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  for (const start of ['new', 'restart', 'postgres'] as const) {
    const of = results.filter((r) => r.start === start);
    if (of.length === 0) continue;
    console.log(
      JSON.stringify({
        summary: true,
        database: of[0]!.database,
        start,
        demo: of[0]!.demo,
        runs: of.length,
        idleRssMb: median(of.map((r) => r.idleRssMb)),
        idleRssMbEach: of.map((r) => r.idleRssMb),
        peakRssMb: median(of.map((r) => r.peakRssMb)),
        readyMs: median(of.map((r) => r.readyMs)),
      }),
    );
  }
}
