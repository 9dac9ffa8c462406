import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../src/store/database.ts';
import { describeSchema } from '../src/store/describe.ts';
import {
  listMigrations,
  MigrationChecksumError,
  migrate,
  migrationChecksum,
  migrationStatus,
} from '../src/store/migrate.ts';
import { schemaFor, TEST_DATABASES } from './helpers/db.ts';

const MIGRATIONS_DIR = fileURLToPath(new URL('../src/store/migrations/', import.meta.url));
const FIXTURES = new URL('./fixtures/migrations/', import.meta.url);
const fixture = (name: string) => readFileSync(new URL(name, FIXTURES), 'utf8');

// The migrations table as otesse-sync wrote it before checksums.
const OLD_SCHEMA_MIGRATIONS =
  'CREATE TABLE schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())';

let pglite: Promise<PGlite> | undefined;
afterAll(async () => {
  if (pglite) await (await pglite).close();
});

describe.each(TEST_DATABASES)('migrate on $name', (target) => {
  const opened: Database[] = [];
  const tmpDirs: string[] = [];
  afterEach(async () => {
    for (const d of opened.splice(0)) {
      await d.exec(`DROP SCHEMA "${d.schema}" CASCADE`);
      await d.close();
    }
    for (const dir of tmpDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  /** A database on a schema of its own. On PGlite (one instance per file) it takes the search path. */
  async function open(testName: string): Promise<Database> {
    let database: Database;
    if (target.name === 'pglite') {
      pglite ??= PGlite.create();
      database = await openDatabase({ database: { pglite: await pglite }, schema: schemaFor(testName) });
    } else database = await openDatabase({ database: target.url!, schema: schemaFor(testName) });
    opened.push(database);
    return database;
  }

  async function query<T>(database: Database, text: string, params: unknown[] = []): Promise<T[]> {
    if (database.kind === 'pglite') return (await database.pglite!.query<T>(text, params)).rows;
    return (await database.pool!.query(text, params)).rows as T[];
  }

  async function recorded(database: Database) {
    return query<{ name: string; checksum: string | null }>(
      database,
      'SELECT name, checksum FROM schema_migrations ORDER BY name',
    );
  }

  /** Runs `migrations` the way otesse-sync did before checksums: names only. */
  async function migrateAsOldCode(database: Database, migrations: { name: string; sql: string }[]) {
    await database.exec(OLD_SCHEMA_MIGRATIONS);
    for (const m of migrations) {
      await database.exec(m.sql);
      await query(database, 'INSERT INTO schema_migrations (name) VALUES ($1)', [m.name]);
    }
  }

  /** The schema description with each table's lines sorted: columns added later land at the end. */
  async function schemaShape(database: Database): Promise<string> {
    const blocks = (await describeSchema(database)).split('\n\n');
    return blocks.map((b) => b.split('\n').sort().join('\n')).join('\n\n');
  }

  async function idCollations(database: Database) {
    return query<{ attname: string; collname: string }>(
      database,
      `SELECT a.attname, c.collname FROM pg_attribute a JOIN pg_collation c ON c.oid = a.attcollation
       WHERE a.attrelid = 'external_references'::regclass AND a.attname IN ('entity_type', 'local_id', 'external_id')
       ORDER BY a.attname`,
    );
  }

  it('a fresh database applies every migration and records its checksum; running again applies nothing', async (ctx) => {
    const database = await open(ctx.task.name);
    const migrations = listMigrations();
    expect(await migrate(database)).toEqual(migrations.map((m) => ({ name: m.name, status: 'applied' })));
    expect(await recorded(database)).toEqual(migrations.map((m) => ({ name: m.name, checksum: m.checksum })));
    for (const m of migrations) expect(m.checksum).toMatch(/^[0-9a-f]{64}$/);
    expect(migrations[0]!.checksum).toBe(
      migrationChecksum(readFileSync(join(MIGRATIONS_DIR, '0001_init.sql'), 'utf8')),
    );

    for (let i = 0; i < 2; i++) {
      expect(await migrate(database)).toEqual(migrations.map((m) => ({ name: m.name, status: 'already_applied' })));
    }
    expect(await recorded(database)).toEqual(migrations.map((m) => ({ name: m.name, checksum: m.checksum })));
    expect(await migrationStatus(database)).toEqual({ pending: [], changed: [] });
  });

  it('the checksum ignores line endings (a CRLF checkout is the same file)', () => {
    const text = readFileSync(join(MIGRATIONS_DIR, '0001_init.sql'), 'utf8');
    expect(migrationChecksum(text.replaceAll('\n', '\r\n'))).toBe(migrationChecksum(text));
    expect(migrationChecksum(`${text}-- edited\n`)).not.toBe(migrationChecksum(text));
  });

  it('refuses to start when an applied migration file changed, naming the file and how to proceed', async (ctx) => {
    const database = await open(ctx.task.name);
    await migrate(database);
    const shipped = listMigrations();
    const before = await recorded(database);

    // A copy of the migrations with 0001 edited in place (as happened), and a new migration after it.
    const dir = mkdtempSync(join(tmpdir(), 'otesse-sync-migrations-'));
    tmpDirs.push(dir);
    cpSync(MIGRATIONS_DIR, dir, { recursive: true });
    const edited = join(dir, '0001_init.sql');
    writeFileSync(edited, `${readFileSync(edited, 'utf8')}\nCREATE INDEX sync_jobs_name_idx ON sync_jobs (name);\n`);
    writeFileSync(join(dir, '0099_later.sql'), 'CREATE TABLE later (id int);\n');
    const migrations = listMigrations(dir);
    const changed = migrations.find((m) => m.name === '0001_init.sql')!;

    const error = await migrate(database, { migrations }).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(MigrationChecksumError);
    const message = (error as Error).message;
    expect(message).toContain(edited);
    expect(message).toContain('0001_init.sql changed after it was applied');
    expect(message).toContain(`schema "${database.schema}"`);
    expect(message).toContain(`applied with sha256 ${shipped[0]!.checksum}`);
    expect(message).toContain(`the file now has sha256 ${changed.checksum}`);
    expect(message).toContain('restore the file as it shipped');
    expect(message).toContain('new numbered migration (0100_<what>.sql)');
    expect((error as MigrationChecksumError).changed).toEqual([
      { name: '0001_init.sql', applied: shipped[0]!.checksum, current: changed.checksum, file: edited },
    ]);
    // Nothing was applied: not the edit, not the later migration; the recorded checksums stand.
    expect(await recorded(database)).toEqual(before);
    expect(await query(database, "SELECT 1 FROM pg_class WHERE relname IN ('later', 'sync_jobs_name_idx')")).toEqual(
      [],
    );
    expect(await migrationStatus(database, migrations)).toEqual({
      pending: ['0099_later.sql'],
      changed: [{ name: '0001_init.sql', applied: shipped[0]!.checksum, current: changed.checksum, file: edited }],
    });

    // Restored as shipped, with the change as a new numbered migration: it starts again.
    writeFileSync(edited, readFileSync(join(MIGRATIONS_DIR, '0001_init.sql'), 'utf8'));
    const results = await migrate(database, { migrations: listMigrations(dir) });
    expect(results.at(-1)).toEqual({ name: '0099_later.sql', status: 'applied' });
    expect(results.slice(0, -1).every((r) => r.status === 'already_applied')).toBe(true);
  });

  it('the way out the message offers for a comment-only edit: record the new checksum', async (ctx) => {
    const database = await open(ctx.task.name);
    await migrate(database);
    const migrations = listMigrations().map((m) =>
      m.name === '0002_server.sql'
        ? { ...m, sql: `-- a comment\n${m.sql}`, checksum: migrationChecksum(`-- a comment\n${m.sql}`) }
        : m,
    );
    const error = (await migrate(database, { migrations }).catch((err: unknown) => err)) as Error;
    const update = error.message.split('\n').find((l) => l.includes('UPDATE'))!;
    await query(database, update.trim());
    expect((await migrate(database, { migrations })).every((r) => r.status === 'already_applied')).toBe(true);
  });

  it('adopts a schema_migrations written before checksums, then guards it', async (ctx) => {
    const database = await open(ctx.task.name);
    const migrations = listMigrations();
    // Older otesse-sync applied the first three; this one adds the checksum column, adopts them, applies the rest.
    await migrateAsOldCode(database, migrations.slice(0, 3));
    expect(await migrationStatus(database)).toEqual({ pending: migrations.slice(3).map((m) => m.name), changed: [] });
    expect(await migrate(database)).toEqual(
      migrations.map((m, i) => ({ name: m.name, status: i < 3 ? 'adopted' : 'applied' })),
    );
    expect(await recorded(database)).toEqual(migrations.map((m) => ({ name: m.name, checksum: m.checksum })));
    expect(await migrate(database)).toEqual(migrations.map((m) => ({ name: m.name, status: 'already_applied' })));

    // Adopted checksums guard like any other.
    const edited = migrations.map((m) =>
      m.name === '0002_server.sql' ? { ...m, sql: `${m.sql}\n-- x`, checksum: migrationChecksum(`${m.sql}\n-- x`) } : m,
    );
    await expect(migrate(database, { migrations: edited })).rejects.toThrow(
      /0002_server\.sql changed after it was applied/,
    );
  });

  it('leaves alone an applied migration this code does not know (a newer version migrated the database)', async (ctx) => {
    const database = await open(ctx.task.name);
    await migrate(database);
    await query(database, 'INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)', [
      '9999_future.sql',
      'f'.repeat(64),
    ]);
    expect((await migrate(database)).map((r) => r.status)).toEqual(listMigrations().map(() => 'already_applied'));
  });

  // Databases created by earlier texts of 0001_init.sql (edited in place until checksums): 0004 brings them to
  // the schema today's migrations build. 7413085 is the first text; 1de39ea has the keys as today but still the
  // foreign key to connections and the database's default collation on ids.
  it.for<[string, string]>([
    ['0001_init.7413085.sql', '0002_server.9f2296d.sql'],
    ['0001_init.1de39ea.sql', '0002_server.9f2296d.sql'],
  ])('a database created by an old %s reaches today’s schema', async ([init, server], ctx) => {
    const fresh = await open(`${ctx.task.name} fresh`);
    await migrate(fresh);
    const expected = await schemaShape(fresh);
    expect(await idCollations(fresh)).toEqual(
      ['entity_type', 'external_id', 'local_id'].map((attname) => ({ attname, collname: 'C' })),
    );

    const old = await open(ctx.task.name); // on PGlite this takes the search path from `fresh`
    const migrations = listMigrations();
    await migrateAsOldCode(old, [
      { name: '0001_init.sql', sql: fixture(init) },
      { name: '0002_server.sql', sql: fixture(server) },
      migrations[2]!,
    ]);
    expect(await schemaShape(old)).not.toBe(expected);
    // Some rows, so that the rebuilt keys and the collation change meet data.
    const [conn] = await query<{ id: string }>(
      old,
      "INSERT INTO connections (name, provider) VALUES ('c', 'memory') RETURNING id",
    );
    await query(
      old,
      `INSERT INTO external_references (connection_id, entity_type, local_id, external_id)
       SELECT $1, 'customer', 'L' || i, 'X' || i FROM generate_series(1, 50) i`,
      [conn!.id],
    );

    expect(await migrate(old)).toEqual(
      migrations.map((m, i) => ({ name: m.name, status: i < 3 ? 'adopted' : 'applied' })),
    );
    expect(await schemaShape(old)).toBe(expected);
    expect(await idCollations(old)).toEqual(
      ['entity_type', 'external_id', 'local_id'].map((attname) => ({ attname, collname: 'C' })),
    );
    expect(await query(old, 'SELECT count(*)::int AS n FROM external_references')).toEqual([{ n: 50 }]);
    expect((await migrate(old)).every((r) => r.status === 'already_applied')).toBe(true);
  });

  it.runIf(target.name === 'postgres')('processes starting at once apply each migration once', async (ctx) => {
    const a = await open(ctx.task.name);
    const b = await openDatabase({ database: target.url!, schema: a.schema });
    try {
      const [ra, rb] = await Promise.all([migrate(a), migrate(b)]);
      for (const [i, m] of listMigrations().entries()) {
        expect([ra[i]!.status, rb[i]!.status].sort()).toEqual(['already_applied', 'applied']);
        expect(ra[i]!.name).toBe(m.name);
      }
    } finally {
      await b.close();
    }
  });
});
