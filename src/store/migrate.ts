import { readdirSync, readFileSync } from 'node:fs';
import { sql } from 'kysely';
import type { Database } from './database.ts';

const MIGRATIONS_DIR = new URL('./migrations/', import.meta.url);

export interface MigrationResult {
  name: string;
  status: 'applied' | 'already_applied';
}

/** Numbered `NNNN_name.sql` files, in order. */
export function listMigrations(): { name: string; sql: string }[] {
  return readdirSync(MIGRATIONS_DIR)
    .filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((name) => ({ name, sql: readFileSync(new URL(name, MIGRATIONS_DIR), 'utf8') }));
}

/**
 * Applies pending migrations, each in its own transaction, under an advisory lock so that several
 * processes starting at once against one PostgreSQL apply each migration exactly once.
 */
export async function migrate(database: Database): Promise<MigrationResult[]> {
  const lockKey = `otesse_sync_migrate:${database.schema}`;
  const results: MigrationResult[] = [];
  if (database.kind === 'postgres') {
    const client = await database.pool!.connect();
    try {
      await client.query('SELECT pg_advisory_lock(hashtext($1))', [lockKey]);
      try {
        await client.query(
          'CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
        );
        const done = new Set((await client.query('SELECT name FROM schema_migrations')).rows.map((r) => r.name));
        for (const m of listMigrations()) {
          if (done.has(m.name)) {
            results.push({ name: m.name, status: 'already_applied' });
            continue;
          }
          await client.query('BEGIN');
          try {
            await client.query(m.sql);
            await client.query('INSERT INTO schema_migrations (name) VALUES ($1)', [m.name]);
            await client.query('COMMIT');
          } catch (err) {
            await client.query('ROLLBACK');
            throw new Error(`migration ${m.name} failed: ${(err as Error).message}`, { cause: err });
          }
          results.push({ name: m.name, status: 'applied' });
        }
      } finally {
        await client.query('SELECT pg_advisory_unlock(hashtext($1))', [lockKey]);
      }
    } finally {
      client.release();
    }
    return results;
  }

  const pglite = database.pglite!;
  await pglite.exec(
    'CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
  );
  const done = new Set(
    (await pglite.query<{ name: string }>('SELECT name FROM schema_migrations')).rows.map((r) => r.name),
  );
  for (const m of listMigrations()) {
    if (done.has(m.name)) {
      results.push({ name: m.name, status: 'already_applied' });
      continue;
    }
    try {
      await pglite.transaction(async (tx) => {
        await tx.exec(m.sql);
        await tx.query('INSERT INTO schema_migrations (name) VALUES ($1)', [m.name]);
      });
    } catch (err) {
      throw new Error(`migration ${m.name} failed: ${(err as Error).message}`, { cause: err });
    }
    results.push({ name: m.name, status: 'applied' });
  }
  return results;
}

/** Migrations in the code that the database has not applied (empty when up to date). */
export async function pendingMigrations(database: Database): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`
    SELECT name FROM schema_migrations`
    .execute(database.db)
    .catch(() => ({ rows: [] as { name: string }[] }));
  const done = new Set(rows.map((r) => r.name));
  return listMigrations()
    .map((m) => m.name)
    .filter((name) => !done.has(name));
}
