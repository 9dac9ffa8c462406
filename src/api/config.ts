/**
 * The server's config file (`--config`, default `./otesse-sync.config.json` when present): the local
 * entities (tables of the application's database) that jobs sync with.
 *
 * ```json
 * { "localDatabaseUrl": "postgres://…",
 *   "localEntities": { "customers": { "table": "app.customers", "primaryKey": "id", "updatedAt": "updated_at",
 *                                     "deletedAt": "deleted_at" } } }
 * ```
 * Without `localDatabaseUrl` the tables live in the engine's own database, and a page's local rows commit in
 * the same transaction as its references. With it, local writes commit on their own (a crash between the
 * two is repaired by the next run's reference lookup by content hash, never by a duplicate on the provider).
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import * as z from 'zod';
import { ValidationError } from '../domain/errors.ts';
import { parseInput } from '../domain/validate.ts';
import type { Endpoint } from '../engine/endpoint.ts';
import { createPostgresLocalStore, type LocalStoreDefinition } from '../local/postgres.ts';
import { isIdentifier } from '../store/identifiers.ts';

/** Table names are `table` or `schema.table`; each part a SQL identifier as the local store checks them. */
const isTableName = (name: string) => {
  const parts = name.split('.');
  return parts.length <= 2 && parts.every(isIdentifier);
};

export const serverConfigSchema = z.strictObject({
  localDatabaseUrl: z
    .string()
    .regex(/^postgres(ql)?:\/\//, { error: 'must be a postgres:// URL' })
    .optional(),
  localEntities: z
    .record(
      z.string().regex(/^[A-Za-z][A-Za-z0-9_-]*$/, { error: 'entity names are letters, digits, - and _' }),
      z.strictObject({
        table: z.string().refine(isTableName, { error: 'must be a table name, optionally schema.table' }),
        primaryKey: z.string().refine(isIdentifier, { error: 'must be a column name' }).default('id'),
        updatedAt: z.string().refine(isIdentifier, { error: 'must be a column name' }).nullable().default('updated_at'),
        deletedAt: z.string().refine(isIdentifier, { error: 'must be a column name' }).nullable().default(null),
      }),
    )
    .default(() => ({})),
});
export type ServerConfig = z.output<typeof serverConfigSchema>;

export const DEFAULT_CONFIG_FILE = 'otesse-sync.config.json';

/** Reads and validates a config file; an explicit path must exist, the default one may be absent. */
export function loadServerConfig(path: string | undefined): { config: ServerConfig; path: string | null } {
  const file = resolve(path ?? DEFAULT_CONFIG_FILE);
  if (!existsSync(file)) {
    if (path !== undefined) throw new ValidationError([{ path: 'config', message: `file ${file} does not exist` }]);
    return { config: parseInput(serverConfigSchema, {}), path: null };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ValidationError([{ path: 'config', message: `${file} is not valid JSON: ${(err as Error).message}` }]);
  }
  try {
    return { config: parseInput(serverConfigSchema, raw), path: file };
  } catch (err) {
    if (err instanceof ValidationError) {
      throw new ValidationError(
        err.issues.map((i) => ({ path: `config.${i.path}`, message: `${i.message} (in ${file})` })),
      );
    }
    throw err;
  }
}

export interface LocalSide {
  /** For the engine's `local` option; null when no local entities are configured. */
  store: LocalStoreDefinition | null;
  describe(engineDb: Kysely<unknown>): Promise<LocalEntityInfo[]>;
  close(): Promise<void>;
}

export interface LocalEntityInfo {
  name: string;
  table: string;
  primaryKey: string;
  updatedAt: string | null;
  /** The soft-delete column (`soft_delete` jobs mark rows deleted there), or null. */
  deletedAt: string | null;
  /** Null when the table does not exist (yet). */
  fields: { name: string; type: string }[] | null;
}

/** The local store and its introspection for a server config. */
export function localSide(config: ServerConfig): LocalSide {
  const entries = Object.entries(config.localEntities);
  const separate = config.localDatabaseUrl
    ? new Kysely<unknown>({
        dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: config.localDatabaseUrl, max: 5 }) }),
      })
    : null;
  let store: LocalStoreDefinition | null = null;
  if (entries.length > 0) {
    const inner = createPostgresLocalStore({
      entities: Object.fromEntries(
        entries.map(([name, e]) => [
          name,
          {
            table: e.table,
            primaryKey: e.primaryKey,
            ...(e.updatedAt ? { updatedAtColumn: e.updatedAt } : {}),
            ...(e.deletedAt ? { deletedAtColumn: e.deletedAt } : {}),
          },
        ]),
      ),
    });
    store = separate
      ? {
          entityTypes: inner.entityTypes,
          ...(inner.softDeleteColumn ? { softDeleteColumn: inner.softDeleteColumn } : {}),
          createEndpoint: async () => notColocated(await inner.createEndpoint(separate)),
        }
      : inner;
  }
  return {
    store,
    async describe(engineDb) {
      const db = separate ?? engineDb;
      const out: LocalEntityInfo[] = [];
      for (const [name, e] of entries) {
        const { rows } = await sql<{ name: string; type: string }>`
          SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type
          FROM pg_attribute a
          WHERE a.attrelid = to_regclass(${e.table}) AND a.attnum > 0 AND NOT a.attisdropped
          ORDER BY a.attnum`.execute(db);
        out.push({
          name,
          table: e.table,
          primaryKey: e.primaryKey,
          updatedAt: e.updatedAt,
          deletedAt: e.deletedAt,
          fields: rows.length === 0 ? null : rows,
        });
      }
      return out;
    },
    async close() {
      await separate?.destroy();
    },
  };
}

/** A local endpoint in another database: its writes cannot join the engine's page transaction. */
function notColocated(endpoint: Endpoint): Endpoint {
  return {
    colocated: false,
    readPage: (r) => endpoint.readPage(r),
    fetch: (r) => endpoint.fetch(r),
    write: (r) => {
      const { transaction: _ignored, ...rest } = r;
      return endpoint.write(rest);
    },
  };
}
