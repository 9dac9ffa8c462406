import { chmodSync, lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { ValidationError } from '../domain/errors.ts';
import { type DataDirectoryLock, lockDataDirectory } from './data-dir-lock.ts';
import { quoteIdentifier } from './identifiers.ts';
import { PGliteDialect } from './pglite-dialect.ts';
import { type PgliteSettings, resolvePgliteSettings, startPglite } from './pglite-start.ts';
import type { DB } from './schema.ts';

/**
 * Where the engine keeps its state:
 * - `memory://`: an in-memory PGlite (tests, examples);
 * - `postgres://…` or `postgresql://…`: a PostgreSQL server;
 * - any other string: a PGlite data directory (default `./.otesse-sync`);
 * - `{ pglite }`: a PGlite instance the application already has (it stays open on close()).
 */
export type DatabaseOption = string | { pglite: PGlite };

export interface DatabaseOptions {
  database?: DatabaseOption;
  /** PostgreSQL schema for the engine's tables. Default: `otesse_sync`. */
  schema?: string;
  /** Pool size on PostgreSQL. Default: 10. */
  poolSize?: number;
  /**
   * PostgreSQL settings of a PGlite the engine opens (a data directory or `memory://`; not an application's own
   * `{ pglite }`, nor PostgreSQL), e.g. `{ shared_buffers: '64MB' }`. Default: `OTESSE_SYNC_PGLITE_SETTINGS`, over
   * `DEFAULT_PGLITE_SETTINGS` (`shared_buffers: '16MB'`; src/store/pglite-start.ts says why).
   */
  pgliteSettings?: PgliteSettings;
}

export interface Database {
  readonly kind: 'pglite' | 'postgres';
  readonly schema: string;
  readonly db: Kysely<DB>;
  /**
   * Where the run's page commits go. On PostgreSQL: a small pool whose sessions commit asynchronously
   * (synchronous_commit = off): a page commit does not wait for its WAL flush. A PostgreSQL crash can then
   * lose the last fraction of a second of committed pages, never half of one (each page is one
   * transaction with its checkpoint); the next attempt redoes them from the older checkpoint, and
   * provider writes are idempotent. A page that records creates at a provider that cannot dedupe them
   * (Endpoint.dedupesCreates) commits durably (RunStore.commitPage's `durable`): a lost one would create them
   * again. Everything else (jobs, connections, final statuses) commits durably.
   */
  readonly pageDb: Kysely<DB>;
  /** Runs SQL text that may hold several statements, without parameters (migrations, DDL). */
  exec(sqlText: string): Promise<void>;
  close(): Promise<void>;
  /** Set on PGlite databases: the instance, for adapters that share it (pg-boss). */
  readonly pglite?: PGlite;
  /** Set on a PGlite data directory this process opened: its lock (a server records its URL there). */
  readonly lock?: DataDirectoryLock;
  /** Set on PostgreSQL databases: the pool, for adapters that share it. */
  readonly pool?: pg.Pool;
  /** Set on PostgreSQL databases: the connection URL (pg-boss opens its own small pool for LISTEN/NOTIFY). */
  readonly url?: string;
}

// PostgreSQL int8 and numeric come back as strings from `pg` by default; we only use them for values
// that fit a JS number (counts, durations).
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number.parseInt(v, 10));
pg.types.setTypeParser(pg.types.builtins.NUMERIC, (v) => Number.parseFloat(v));

export const DEFAULT_DATA_DIR = './.otesse-sync';

export async function openDatabase(options: DatabaseOptions = {}): Promise<Database> {
  const schema = options.schema ?? 'otesse_sync';
  const quotedSchema = quoteIdentifier(schema, 'schema');
  const target = options.database ?? DEFAULT_DATA_DIR;
  const searchPath = `${quotedSchema}, public`;

  if (typeof target === 'string' && /^postgres(ql)?:\/\//.test(target)) {
    const pool = new pg.Pool({
      connectionString: target,
      max: options.poolSize ?? 10,
      options: `-c search_path=${searchPath.replaceAll(' ', '')}`,
    });
    // An idle client that loses its server must not crash the process; the next query reports it.
    pool.on('error', () => {});
    const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
    const pagePool = new pg.Pool({
      connectionString: target,
      max: Math.max(2, Math.ceil((options.poolSize ?? 10) / 2)),
      options: `-c search_path=${searchPath.replaceAll(' ', '')} -c synchronous_commit=off`,
    });
    pagePool.on('error', () => {});
    const pageDb = new Kysely<DB>({ dialect: new PostgresDialect({ pool: pagePool }) });
    await pool.query(`CREATE SCHEMA IF NOT EXISTS ${quotedSchema}`);
    return {
      kind: 'postgres',
      schema,
      db,
      pageDb,
      pool,
      url: target,
      async exec(sqlText) {
        await pool.query(sqlText);
      },
      async close() {
        await Promise.all([db.destroy(), pageDb.destroy()]);
      },
    };
  }

  let pglite: PGlite;
  let owned = true;
  let lock: DataDirectoryLock | undefined;
  if (typeof target === 'string') {
    if (target === '') throw new ValidationError([{ path: 'database', message: 'must not be empty' }]);
    const settings = resolvePgliteSettings(options.pgliteSettings);
    if (target === 'memory://') pglite = await startPglite(null, settings);
    else {
      // The directory holds the database and (by default) the credential key: private to this user.
      mkdirSync(target, { recursive: true, mode: 0o700 });
      makePrivate(target);
      // One process per directory: a second opener is refused, naming the holder.
      lock = lockDataDirectory(target);
      try {
        pglite = await startPglite(target, settings);
      } catch (err) {
        lock.release();
        throw err;
      }
      makePrivate(target, true);
    }
  } else {
    pglite = target.pglite;
    owned = false;
  }
  try {
    await pglite.exec(`CREATE SCHEMA IF NOT EXISTS ${quotedSchema}; SET search_path TO ${searchPath};`);
  } catch (err) {
    if (owned) await pglite.close();
    lock?.release();
    throw err;
  }
  const db = new Kysely<DB>({ dialect: new PGliteDialect(pglite) });
  return {
    kind: 'pglite',
    schema,
    db,
    pageDb: db,
    pglite,
    ...(lock ? { lock } : {}),
    async exec(sqlText) {
      await pglite.exec(sqlText);
    },
    async close() {
      try {
        await db.destroy();
        if (owned) await pglite.close();
      } finally {
        lock?.release();
      }
    },
  };
}

/**
 * Takes the group's and others' permissions off a PGlite data directory (mode 0700), and with `contents` off
 * everything in it. PGlite writes its initial files with mode 0666 whatever the umask (and later ones under
 * the process umask); the directory's 0700 is what keeps other users out, the walk keeps the files private
 * too (and repairs directories created by older versions). The process umask is left alone: it is global to the
 * application. A directory owned by someone else is left as it is (chmod is refused).
 */
function makePrivate(dir: string, contents = false): void {
  const strip = (path: string, mode: number) => {
    if ((mode & 0o077) === 0) return;
    try {
      chmodSync(path, mode & 0o700);
    } catch {
      // Not ours to change.
    }
  };
  strip(dir, lstatSync(dir).mode);
  if (!contents) return;
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      if (entry.isSymbolicLink()) continue;
      const path = join(d, entry.name);
      strip(path, lstatSync(path).mode);
      if (entry.isDirectory()) walk(path);
    }
  };
  walk(dir);
}
