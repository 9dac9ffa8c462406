/**
 * How the engine starts an embedded PGlite (a data directory or `memory://`): with its PostgreSQL settings, and
 * on a new data directory with the cluster created (initdb) in a child process.
 *
 * Why a child process for initdb: PGlite creates a new cluster inside the calling process with a second PGlite
 * instance and the initdb WebAssembly module beside the one it keeps. They are closed afterwards, but the process
 * keeps most of what they took: the C allocator holds on to the freed memory (V8's optimizing compiler's work
 * space and PGlite's copies of the data directory). An idle `serve` held about 150 MB more after creating its
 * cluster than after a restart on the same directory, for the life of the process. A child that creates the
 * cluster and exits gives all of it back; this process then opens an existing cluster.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { ValidationError } from '../domain/errors.ts';

/**
 * PostgreSQL settings (`name: value`, as in postgresql.conf) an embedded PGlite starts with, over
 * {@link DEFAULT_PGLITE_SETTINGS}. Default: `OTESSE_SYNC_PGLITE_SETTINGS` (`name=value` pairs separated by spaces
 * or commas), else none.
 */
export type PgliteSettings = Record<string, string | number>;

/**
 * What an embedded PGlite starts with unless told otherwise. PostgreSQL's own `shared_buffers` (128MB) is sized
 * for a server with many sessions; PGlite has one, and its buffer pool lives in the process's WebAssembly memory,
 * where every page of it is resident from the start: with 128MB that memory held 155 MB of an idle `serve`'s
 * 360–540 MB (33 MB with 16MB). The data directory's files stay in the operating system's cache behind the pool,
 * so a smaller pool costs a copy on a miss, not a disk read; the engine benchmark ran as fast with 16MB. Raise it
 * for a database whose working set is large (`{ shared_buffers: '64MB' }`). `npm run bench:footprint` measures the
 * footprint.
 */
export const DEFAULT_PGLITE_SETTINGS: Readonly<PgliteSettings> = Object.freeze({ shared_buffers: '16MB' });

export const PGLITE_SETTINGS_ENV = 'OTESSE_SYNC_PGLITE_SETTINGS';

const SETTING_NAME = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/;

/** The settings a PGlite starts with: the option, else the environment variable, over the defaults. */
export function resolvePgliteSettings(
  settings: PgliteSettings | undefined,
  env: string | undefined = process.env[PGLITE_SETTINGS_ENV],
): { settings: PgliteSettings; source: string } {
  if (settings !== undefined) {
    return {
      settings: { ...DEFAULT_PGLITE_SETTINGS, ...checkSettings(settings, 'pgliteSettings') },
      source: 'pgliteSettings',
    };
  }
  const parsed: PgliteSettings = {};
  for (const pair of (env ?? '').split(/[\s,]+/).filter(Boolean)) {
    const eq = pair.indexOf('=');
    if (eq <= 0) {
      throw new ValidationError([{ path: PGLITE_SETTINGS_ENV, message: `expected name=value, got "${pair}"` }]);
    }
    parsed[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return {
    settings: { ...DEFAULT_PGLITE_SETTINGS, ...checkSettings(parsed, PGLITE_SETTINGS_ENV) },
    source: PGLITE_SETTINGS_ENV,
  };
}

function checkSettings(settings: PgliteSettings, path: string): PgliteSettings {
  if (typeof settings !== 'object' || settings === null || Array.isArray(settings)) {
    throw new ValidationError([{ path, message: 'must be an object of PostgreSQL settings (name: value)' }]);
  }
  const issues = Object.entries(settings).flatMap(([name, value]) => {
    if (!SETTING_NAME.test(name)) return [{ path: `${path}.${name}`, message: 'is not a PostgreSQL setting name' }];
    const ok =
      (typeof value === 'number' && Number.isFinite(value)) || (typeof value === 'string' && !/[\0\r\n]/.test(value));
    return ok ? [] : [{ path: `${path}.${name}`, message: 'must be a string or a finite number (one line)' }];
  });
  if (issues.length > 0) throw new ValidationError(issues);
  return settings;
}

/**
 * Starts PGlite on `dataDir` (null: in memory) with `settings` (resolved by {@link resolvePgliteSettings}). A
 * setting PostgreSQL refuses is reported as a ValidationError naming it, under `source`.
 */
export async function startPglite(
  dataDir: string | null,
  { settings, source }: { settings: PgliteSettings; source: string },
): Promise<PGlite> {
  if (dataDir !== null) await createClusterInChild(dataDir);
  const fatal: string[] = [];
  const startParams = [...PGlite.defaultStartParams];
  for (const [name, value] of Object.entries(settings)) startParams.push('-c', `${name}=${value}`);
  try {
    return await PGlite.create({
      ...(dataDir !== null ? { dataDir } : {}),
      startParams,
      onStderr: (line) => {
        if (/\b(FATAL|PANIC)\b/.test(line)) fatal.push(line);
        return false;
      },
    });
  } catch (err) {
    // PGlite says only "failed to initialize"; PostgreSQL's reason is on its stderr.
    for (const line of fatal) {
      const named = /parameter "([^"]+)"/.exec(line)?.[1];
      if (named !== undefined && Object.hasOwn(settings, named)) {
        const reason = line.slice(line.indexOf('FATAL:') + 6).trim() || line;
        throw new ValidationError([{ path: `${source}.${named}`, message: reason }], { cause: err });
      }
    }
    if (fatal.length > 0 && err instanceof Error) err.message += ` (${fatal.join('; ')})`;
    throw err;
  }
}

/** PGlite's CommonJS entry, for the child (resolved here: the child's working directory may not reach it). */
const PGLITE_ENTRY = createRequire(import.meta.url).resolve('@electric-sql/pglite');

const CHILD = `const { PGlite } = require(process.argv[1]);
PGlite.create(process.argv[2]).then((pg) => pg.close()).then(
  () => process.exit(0),
  (err) => { process.stderr.write(String(err && err.stack || err)); process.exit(1); });`;

/**
 * Creates the cluster of a new data directory in a child process (see the module comment). Nothing to do when the
 * directory holds one. When the child cannot run or fails, PGlite creates the cluster in this process as before
 * (and reports what is wrong, if anything is).
 */
async function createClusterInChild(dataDir: string): Promise<void> {
  if (existsSync(join(dataDir, 'PG_VERSION'))) return;
  await new Promise<void>((resolve) => {
    execFile(
      process.execPath,
      ['-e', CHILD, PGLITE_ENTRY, dataDir],
      // ELECTRON_RUN_AS_NODE: in an Electron application, execPath is Electron; this makes it run as Node.
      { env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' }, maxBuffer: 1 << 20 },
      () => resolve(),
    );
  });
}
