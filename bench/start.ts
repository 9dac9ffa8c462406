/**
 * `npm start` cold start: the time from spawning `npm start` until http://127.0.0.1:<port>/healthz answers 200,
 * and the resident memory (VmRSS) of the node process that serves, when it first answers and after it has
 * settled; VmHWM is the peak. Each run uses a fresh PGlite data directory (`npm start -- --data-dir <tmp>`).
 *
 *   node bench/start.ts [runs=3]   (BENCH_PORT, default 4310: the port `npm start` listens on; BENCH_ROOT: another
 *                                   checkout to measure, default this one)
 *
 * It also times `node bin/otesse-sync.js --help` (loading the CLI's module graph, then exiting) to separate the
 * cost of loading the code from the cost of starting the service.
 *
 * Plain `node` runs this file (Node ≥ 22.18 strips the types); it needs no build and no tsx.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = process.env.BENCH_ROOT ?? fileURLToPath(new URL('..', import.meta.url));
const RUNS = Number(process.argv[2] ?? 3);
const PORT = Number(process.env.BENCH_PORT ?? 4310);
const SETTLE_MS = 3000;
const HEALTHZ = `http://127.0.0.1:${PORT}/healthz`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function healthz(): Promise<number | null> {
  try {
    const res = await fetch(HEALTHZ, { signal: AbortSignal.timeout(1000) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return null;
  }
}

/** The pids below `pid` (children, grandchildren, …), from /proc. */
function descendants(pid: number): number[] {
  const out: number[] = [];
  for (const task of safeList(`/proc/${pid}/task`)) {
    const raw = safeRead(`/proc/${pid}/task/${task}/children`).trim();
    for (const child of raw ? raw.split(/\s+/).map(Number) : []) out.push(child, ...descendants(child));
  }
  return out;
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function safeRead(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** The node process running the CLI (`npm` → `sh -c` → `node bin/otesse-sync.js …`). */
function serverPid(npmPid: number): number | null {
  for (const pid of descendants(npmPid)) {
    const cmd = safeRead(`/proc/${pid}/cmdline`).split('\0');
    if (/(^|\/)node$/.test(cmd[0] ?? '') && cmd.some((a) => a.includes('otesse-sync'))) return pid;
  }
  return null;
}

function memory(pid: number): { rssMiB: number; hwmMiB: number } {
  const status = safeRead(`/proc/${pid}/status`);
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMiB: kib('VmRSS') / 1024, hwmMiB: kib('VmHWM') / 1024 };
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once('exit', () => resolve()));
}

interface Sample {
  readyMs: number;
  rssReadyMiB: number;
  rssSettledMiB: number;
  hwmMiB: number;
}

async function once(): Promise<Sample> {
  if ((await healthz()) !== null) throw new Error(`something already answers ${HEALTHZ}; stop it or set BENCH_PORT`);
  const dir = mkdtempSync(join(tmpdir(), 'otesse-bench-start-'));
  const { DATABASE_URL: _ignored, ...env } = process.env;
  const started = performance.now();
  const npm = spawn('npm', ['start', '--silent', '--', '--data-dir', join(dir, 'data')], {
    cwd: ROOT,
    env: { ...env, PORT: String(PORT), LOG_FORMAT: 'json', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  npm.stdout!.on('data', (d) => (output += d));
  npm.stderr!.on('data', (d) => (output += d));
  let pid: number | null = null;
  try {
    for (;;) {
      if (npm.exitCode !== null) throw new Error(`npm start exited with ${npm.exitCode}:\n${output}`);
      if (performance.now() - started > 120_000) throw new Error(`no 200 from ${HEALTHZ} within 120 s:\n${output}`);
      if ((await healthz()) === 200) break;
      await sleep(20);
    }
    const readyMs = performance.now() - started;
    pid = serverPid(npm.pid!);
    if (pid === null) throw new Error('could not find the serving node process below npm');
    const ready = memory(pid);
    await sleep(SETTLE_MS);
    const settled = memory(pid);
    return { readyMs, rssReadyMiB: ready.rssMiB, rssSettledMiB: settled.rssMiB, hwmMiB: settled.hwmMiB };
  } finally {
    if (pid !== null) process.kill(pid, 'SIGTERM');
    else npm.kill('SIGTERM');
    const timer = setTimeout(() => {
      if (pid !== null) process.kill(pid, 'SIGKILL');
      npm.kill('SIGKILL');
    }, 20_000);
    await exited(npm);
    clearTimeout(timer);
    rmSync(dir, { recursive: true, force: true });
  }
}

const help: number[] = [];
for (let i = 0; i < 5; i++) {
  const t = performance.now();
  const r = spawnSync(process.execPath, ['bin/otesse-sync.js', '--help'], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`otesse-sync --help exited with ${r.status}:\n${r.stderr}`);
  help.push(performance.now() - t);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`otesse-sync --help: ${help.map((ms) => ms.toFixed(0)).join(', ')} ms (median ${median(help).toFixed(0)})`);

const samples: Sample[] = [];
for (let i = 0; i < RUNS; i++) {
  const s = await once();
  samples.push(s);
  console.log(
    `run ${i + 1}: healthz 200 after ${s.readyMs.toFixed(0)} ms; RSS ${s.rssReadyMiB.toFixed(1)} MiB at ready, ` +
      `${s.rssSettledMiB.toFixed(1)} MiB ${SETTLE_MS / 1000} s later (peak ${s.hwmMiB.toFixed(1)} MiB)`,
  );
}
if (samples.length > 0) {
  console.log(
    `median of ${RUNS}: ${median(samples.map((s) => s.readyMs)).toFixed(0)} ms to healthz; RSS ` +
      `${median(samples.map((s) => s.rssReadyMiB)).toFixed(1)} MiB at ready, ` +
      `${median(samples.map((s) => s.rssSettledMiB)).toFixed(1)} MiB settled, peak ${median(samples.map((s) => s.hwmMiB)).toFixed(1)} MiB`,
  );
}
