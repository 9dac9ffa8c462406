import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import type { Database } from './database.ts';

const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));

/**
 * One numbered migration. Migrations are append-only: once a file has been applied anywhere, a change to
 * the schema is a new numbered file, never an edit (a database that applied the old text would keep the
 * old schema). `migrate` stores each file's checksum and refuses to start when an applied file changed.
 */
export interface Migration {
  /** `NNNN_name.sql` */
  name: string;
  sql: string;
  /** sha256 (hex) of the text, line endings normalized to \n (a CRLF checkout is the same file). */
  checksum: string;
  /** Where the file is, for messages. */
  file?: string;
}

export interface MigrationResult {
  name: string;
  /**
   * `adopted`: applied before checksums were recorded (by an older otesse-sync); its checksum is recorded
   * now, from the file as it is today.
   */
  status: 'applied' | 'already_applied' | 'adopted';
}

/** An applied migration whose file no longer has the checksum recorded when it was applied. */
export interface ChangedMigration {
  name: string;
  /** The checksum recorded when the migration was applied (or adopted). */
  applied: string;
  /** The checksum of the file now. */
  current: string;
  file?: string;
}

export function migrationChecksum(sqlText: string): string {
  return createHash('sha256').update(sqlText.replaceAll('\r\n', '\n')).digest('hex');
}

/** Numbered `NNNN_name.sql` files, in order. */
export function listMigrations(directory: string = MIGRATIONS_DIR): Migration[] {
  return readdirSync(directory)
    .filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((name) => {
      const file = join(directory, name);
      const text = readFileSync(file, 'utf8');
      return { name, sql: text, checksum: migrationChecksum(text), file };
    });
}

/** Thrown by `migrate` when applied migrations' files changed: the engine must not start on that schema. */
export class MigrationChecksumError extends Error {
  override readonly name = 'MigrationChecksumError';
  readonly changed: ChangedMigration[];
  constructor(changed: ChangedMigration[], schema: string, migrations: Migration[]) {
    super(checksumMessage(changed, schema, migrations));
    this.changed = changed;
  }
}

function checksumMessage(changed: ChangedMigration[], schema: string, migrations: Migration[]): string {
  const names = changed.map((c) => c.name).join(', ');
  const last = migrations.at(-1)?.name.slice(0, 4) ?? '0000';
  const next = String(Number(last) + 1).padStart(4, '0');
  const where = (c: ChangedMigration) => {
    if (!c.file) return c.name;
    const rel = relative(process.cwd(), c.file);
    return rel.startsWith('..') || isAbsolute(rel) ? c.file : rel;
  };
  const table = `"${schema.replaceAll('"', '""')}".schema_migrations`;
  const files = changed.map(where).join(' ');
  return [
    `Refusing to migrate or start: ${changed.length === 1 ? 'migration' : 'migrations'} ${names} changed after ` +
      `${changed.length === 1 ? 'it was' : 'they were'} applied to this database (schema "${schema}").`,
    ...changed.map((c) => `  ${where(c)}: applied with sha256 ${c.applied}, the file now has sha256 ${c.current}`),
    'Applied migrations are append-only: the database keeps the schema the file built when it was applied,',
    `whatever the file says now. To proceed, restore the file as it shipped (\`git log -p -- ${files}\`) and`,
    `put the change in a new numbered migration (${next}_<what>.sql) that alters an existing database.`,
    'Only if the edit changes no schema (a comment, whitespace), accept the file as it is now instead:',
    ...changed.map((c) => `  UPDATE ${table} SET checksum = '${c.current}' WHERE name = '${c.name}';`),
  ].join('\n');
}

/** What `migrate` needs of a connection: statements, and one transaction per migration. */
interface Session {
  query<T>(text: string, params?: unknown[]): Promise<T[]>;
  exec(text: string): Promise<void>;
  transaction(fn: (tx: Pick<Session, 'query' | 'exec'>) => Promise<void>): Promise<void>;
}

export interface MigrateOptions {
  /** The migrations to apply. Default: the files in `src/store/migrations/` (tests pass others). */
  migrations?: Migration[];
}

/**
 * Applies pending migrations, each in its own transaction with its checksum, under an advisory lock so
 * that several processes starting at once against one PostgreSQL apply each migration exactly once.
 *
 * Before applying anything it compares each applied migration's recorded checksum with its file and
 * throws `MigrationChecksumError` (naming the files) when one changed. Migrations recorded without a
 * checksum (applied by an otesse-sync older than checksums) are adopted: their files' checksums as of
 * now are recorded, and from then on guarded. (What they were applied from cannot be known; 0004 brings
 * a database created by any earlier text of 0001 to today's schema.) Applied migrations that this code
 * does not know (a newer version migrated the database) are left alone.
 */
export async function migrate(database: Database, options: MigrateOptions = {}): Promise<MigrationResult[]> {
  const migrations = options.migrations ?? listMigrations();
  if (database.kind === 'postgres') {
    const lockKey = `otesse_sync_migrate:${database.schema}`;
    const client = await database.pool!.connect();
    try {
      await client.query('SELECT pg_advisory_lock(hashtext($1))', [lockKey]);
      try {
        const session: Session = {
          query: async <T>(text: string, params?: unknown[]) => (await client.query(text, params)).rows as T[],
          exec: async (text) => {
            await client.query(text);
          },
          async transaction(fn) {
            await client.query('BEGIN');
            try {
              await fn(session);
              await client.query('COMMIT');
            } catch (err) {
              await client.query('ROLLBACK');
              throw err;
            }
          },
        };
        return await migrateWith(session, database.schema, migrations);
      } finally {
        await client.query('SELECT pg_advisory_unlock(hashtext($1))', [lockKey]);
      }
    } finally {
      client.release();
    }
  }

  // PGlite: one process owns the database; no lock needed.
  const pglite = database.pglite!;
  return migrateWith(
    {
      query: async <T>(text: string, params?: unknown[]) => (await pglite.query<T>(text, params)).rows,
      exec: async (text) => {
        await pglite.exec(text);
      },
      transaction: (fn) =>
        pglite.transaction(async (tx) => {
          await fn({
            query: async <T>(text: string, params?: unknown[]) => (await tx.query<T>(text, params)).rows,
            exec: async (text) => {
              await tx.exec(text);
            },
          });
        }),
    },
    database.schema,
    migrations,
  );
}

async function migrateWith(session: Session, schema: string, migrations: Migration[]): Promise<MigrationResult[]> {
  // `checksum` is null for rows written before checksums were recorded.
  await session.exec(`
    CREATE TABLE IF NOT EXISTS schema_migrations (
      name       text PRIMARY KEY,
      applied_at timestamptz NOT NULL DEFAULT now(),
      checksum   text
    )`);
  const hasChecksum = await session.query(
    `SELECT 1 FROM pg_attribute
     WHERE attrelid = 'schema_migrations'::regclass AND attname = 'checksum' AND NOT attisdropped`,
  );
  if (hasChecksum.length === 0) await session.exec('ALTER TABLE schema_migrations ADD COLUMN checksum text');

  const applied = new Map(
    (
      await session.query<{ name: string; checksum: string | null }>('SELECT name, checksum FROM schema_migrations')
    ).map((r) => [r.name, r.checksum]),
  );
  const changed = findChanged(applied, migrations);
  if (changed.length > 0) throw new MigrationChecksumError(changed, schema, migrations);

  const results: MigrationResult[] = [];
  for (const m of migrations) {
    if (applied.has(m.name)) {
      if (applied.get(m.name) === null) {
        await session.query('UPDATE schema_migrations SET checksum = $2 WHERE name = $1 AND checksum IS NULL', [
          m.name,
          m.checksum,
        ]);
        results.push({ name: m.name, status: 'adopted' });
      } else results.push({ name: m.name, status: 'already_applied' });
      continue;
    }
    try {
      await session.transaction(async (tx) => {
        await tx.exec(m.sql);
        await tx.query('INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)', [m.name, m.checksum]);
      });
    } catch (err) {
      throw new Error(`migration ${m.name} failed: ${(err as Error).message}`, { cause: err });
    }
    results.push({ name: m.name, status: 'applied' });
  }
  return results;
}

function findChanged(applied: Map<string, string | null>, migrations: Migration[]): ChangedMigration[] {
  const changed: ChangedMigration[] = [];
  for (const m of migrations) {
    const recorded = applied.get(m.name);
    if (recorded && recorded !== m.checksum) {
      changed.push({ name: m.name, applied: recorded, current: m.checksum, ...(m.file ? { file: m.file } : {}) });
    }
  }
  return changed;
}

export interface MigrationStatus {
  /** Migrations in the code that the database has not applied. */
  pending: string[];
  /** Applied migrations whose files changed since (`migrate` refuses to start on these). */
  changed: ChangedMigration[];
}

/** Where the database stands against the code's migrations (for readiness checks); reads only. */
export async function migrationStatus(
  database: Database,
  migrations: Migration[] = listMigrations(),
): Promise<MigrationStatus> {
  const rows = await sql<{ name: string; checksum: string | null }>`SELECT name, checksum FROM schema_migrations`
    .execute(database.db)
    .then((r) => r.rows)
    .catch(() =>
      // No table yet (nothing applied), or one written before checksums (no checksum column).
      sql<{ name: string }>`SELECT name FROM schema_migrations`
        .execute(database.db)
        .then((r) => r.rows.map((row) => ({ name: row.name, checksum: null })))
        .catch(() => []),
    );
  const applied = new Map(rows.map((r) => [r.name, r.checksum]));
  return {
    pending: migrations.map((m) => m.name).filter((name) => !applied.has(name)),
    changed: findChanged(applied, migrations),
  };
}

/** Migrations in the code that the database has not applied (empty when up to date). */
export async function pendingMigrations(database: Database): Promise<string[]> {
  return (await migrationStatus(database)).pending;
}
