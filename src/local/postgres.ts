import { randomUUID } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import { ProviderError, ValidationError } from '../domain/errors.ts';
import type {
  Endpoint,
  EndpointRecord,
  FetchRequest,
  LocalTableShape,
  ReadPageRequest,
  UpsertColumns,
  WriteOp,
  WriteResult,
} from '../engine/endpoint.ts';
import { quoteIdentifier } from '../store/identifiers.ts';

/** How one local entity type maps onto a table of the application's database. */
export interface LocalEntityConfig {
  /** Table name, optionally `schema.table`. */
  table: string;
  /** Primary key column. Default: `id`. uuid/text keys are generated here; integer keys take the column's sequence. */
  primaryKey?: string;
  /** Column that the application bumps on every change; incremental outbound runs read by it. Default: `updated_at`. */
  updatedAtColumn?: string;
  /**
   * Column (a timestamp) that marks a row deleted: the `soft_delete` policy sets it instead of deleting the row,
   * a row with it set is read as deleted (a tombstone) by jobs that propagate deletions, and a record written
   * again clears it. Default: none.
   */
  deletedAtColumn?: string;
}

export interface LocalStoreDefinition {
  entityTypes: readonly string[];
  /** The soft-delete column of a local entity type, or null when it has none (checked when a job is saved). */
  softDeleteColumn?(entityType: string): string | null;
  // biome-ignore lint/suspicious/noExplicitAny: the application's own tables
  createEndpoint(db: Kysely<any>): Promise<Endpoint>;
}

interface Column {
  name: string;
  type: string;
}

interface ResolvedEntity {
  table: string;
  pk: string;
  pkType: string;
  updatedAt: string | null;
  /** Quoted soft-delete column, or null. */
  deletedAt: string | null;
  columns: Map<string, Column>;
  idKind: 'uuid' | 'text' | 'sequence';
}

/**
 * The local side over PostgreSQL tables in the engine's own database. Writes are colocated: they run
 * inside the engine's page transaction, so a local row and its ExternalReference commit together or
 * not at all (no duplicate after a crash).
 *
 * @example
 * createPostgresLocalStore({ entities: { customer: { table: 'customers', primaryKey: 'id', updatedAtColumn: 'updated_at' } } })
 */
export function createPostgresLocalStore(options: {
  entities: Record<string, LocalEntityConfig>;
}): LocalStoreDefinition {
  const entries = Object.entries(options.entities);
  if (entries.length === 0)
    throw new ValidationError([{ path: 'entities', message: 'declare at least one entity type' }]);
  for (const [name, cfg] of entries) {
    quoteIdentifier(cfg.table, `entities.${name}.table`);
    quoteIdentifier(cfg.primaryKey ?? 'id', `entities.${name}.primaryKey`);
    if (cfg.updatedAtColumn) quoteIdentifier(cfg.updatedAtColumn, `entities.${name}.updatedAtColumn`);
    if (cfg.deletedAtColumn) quoteIdentifier(cfg.deletedAtColumn, `entities.${name}.deletedAtColumn`);
  }
  return {
    entityTypes: entries.map(([name]) => name),
    softDeleteColumn: (entityType) => options.entities[entityType]?.deletedAtColumn ?? null,
    async createEndpoint(db) {
      const resolved = new Map<string, ResolvedEntity>();
      for (const [name, cfg] of entries) resolved.set(name, await resolveEntity(db, name, cfg));
      return new PostgresLocalEndpoint(db, resolved);
    },
  };
}

// biome-ignore lint/suspicious/noExplicitAny: the application's own tables
async function resolveEntity(db: Kysely<any>, name: string, cfg: LocalEntityConfig): Promise<ResolvedEntity> {
  const table = quoteIdentifier(cfg.table);
  const pkName = cfg.primaryKey ?? 'id';
  const { rows } = await sql<{ name: string; type: string }>`
    SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type
    FROM pg_attribute a
    WHERE a.attrelid = to_regclass(${table}) AND a.attnum > 0 AND NOT a.attisdropped
    ORDER BY a.attnum`.execute(db);
  if (rows.length === 0) {
    throw new ValidationError([{ path: `entities.${name}.table`, message: `table ${cfg.table} does not exist` }]);
  }
  const columns = new Map(rows.map((r) => [r.name, r]));
  const pk = columns.get(pkName);
  if (!pk) {
    throw new ValidationError([
      { path: `entities.${name}.primaryKey`, message: `column ${pkName} does not exist in ${cfg.table}` },
    ]);
  }
  const updatedAtName = cfg.updatedAtColumn ?? (columns.has('updated_at') ? 'updated_at' : null);
  if (updatedAtName !== null && !columns.has(updatedAtName)) {
    throw new ValidationError([
      { path: `entities.${name}.updatedAtColumn`, message: `column ${updatedAtName} does not exist in ${cfg.table}` },
    ]);
  }
  const deletedAtName = cfg.deletedAtColumn ?? null;
  if (deletedAtName !== null) {
    const column = columns.get(deletedAtName);
    if (!column) {
      throw new ValidationError([
        { path: `entities.${name}.deletedAtColumn`, message: `column ${deletedAtName} does not exist in ${cfg.table}` },
      ]);
    }
    if (!/^timestamp|^date$/.test(column.type)) {
      throw new ValidationError([
        {
          path: `entities.${name}.deletedAtColumn`,
          message: `column ${deletedAtName} of ${cfg.table} is ${column.type}; it must be a timestamp`,
        },
      ]);
    }
  }
  const idKind = pk.type === 'uuid' ? 'uuid' : /^(integer|bigint|smallint)$/.test(pk.type) ? 'sequence' : 'text';
  return {
    table,
    pk: quoteIdentifier(pkName),
    pkType: pk.type,
    updatedAt: updatedAtName === null ? null : quoteIdentifier(updatedAtName),
    deletedAt: deletedAtName === null ? null : quoteIdentifier(deletedAtName),
    columns,
    idKind,
  };
}

/** A row as plain JSON-safe data: dates as ISO strings, bigints as strings. */
function toRecordData(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k in row) {
    const v = row[k];
    out[k] = v instanceof Date ? v.toISOString() : typeof v === 'bigint' ? v.toString() : v;
  }
  return out;
}

class PostgresLocalEndpoint implements Endpoint {
  readonly colocated = true;
  constructor(
    // biome-ignore lint/suspicious/noExplicitAny: the application's own tables
    private readonly db: Kysely<any>,
    private readonly entities: Map<string, ResolvedEntity>,
  ) {}

  colocatedTable(entityType: string): LocalTableShape {
    const e = this.entity(entityType);
    const pkName = unquote(e.pk);
    return {
      table: e.table,
      pk: e.pk,
      pkName,
      upsertColumns: (rows) => upsertColumns(e, rows),
      newIdSql:
        e.idKind === 'sequence'
          ? `nextval(pg_get_serial_sequence('${e.table.replaceAll('"', '').replaceAll("'", "''")}', '${pkName}'))::text`
          : 'gen_random_uuid()::text',
    };
  }

  private entity(entityType: string): ResolvedEntity {
    const e = this.entities.get(entityType);
    if (!e) throw new ProviderError('config', `the local store declares no entity type "${entityType}"`);
    return e;
  }

  /** A row as a record; a row marked deleted (the soft-delete column set) is a tombstone when `tombstones`. */
  private toRecord(
    e: ResolvedEntity,
    row: Record<string, unknown>,
    pkName: string,
    updName: string | null,
    tombstones = false,
  ) {
    const data = toRecordData(row);
    const id = String(row[pkName]);
    const delName = e.deletedAt === null ? null : unquote(e.deletedAt);
    if (tombstones && delName !== null && data[delName] != null) {
      return { id, data: {}, updatedAt: data[delName] as string, deleted: true as const };
    }
    const rec: EndpointRecord = { id, data };
    if (updName !== null) rec.updatedAt = (data[updName] as string | null) ?? null;
    return rec;
  }

  async readPage(req: ReadPageRequest) {
    const e = this.entity(req.entityType);
    const pkName = unquote(e.pk);
    const updName = e.updatedAt === null ? null : unquote(e.updatedAt);
    const t = sql.raw(e.table);
    const pk = sql.raw(e.pk);
    const pkCast = sql.raw(e.pkType);
    let rows: Record<string, unknown>[];
    if (req.since === null || e.updatedAt === null) {
      // Full read: keyset on the primary key.
      const after = req.cursor === null ? null : (JSON.parse(req.cursor) as { id: string }).id;
      const where = after === null ? sql`true` : sql`${pk} > ${after}::${pkCast}`;
      rows = (
        await sql<
          Record<string, unknown>
        >`SELECT * FROM ${t} WHERE ${where} ORDER BY ${pk} LIMIT ${req.pageSize}`.execute(this.db)
      ).rows;
    } else {
      // Incremental: keyset on (updated_at, pk); the text form of the time stamp keeps microseconds.
      const upd = sql.raw(e.updatedAt);
      const c = req.cursor === null ? null : (JSON.parse(req.cursor) as { ts: string; id: string });
      const where =
        c === null
          ? sql`${upd} >= ${req.since.toISOString()}::timestamptz`
          : sql`${upd} >= ${req.since.toISOString()}::timestamptz AND (${upd}, ${pk}) > (${c.ts}::timestamptz, ${c.id}::${pkCast})`;
      rows = (
        await sql<Record<string, unknown>>`SELECT *, ${upd}::text AS "__otesse_ts" FROM ${t} WHERE ${where}
          ORDER BY ${upd}, ${pk} LIMIT ${req.pageSize}`.execute(this.db)
      ).rows;
    }
    const last = rows.at(-1);
    let nextCursor: string | null = null;
    if (last && rows.length === req.pageSize) {
      nextCursor =
        req.since === null || e.updatedAt === null
          ? JSON.stringify({ id: String(last[pkName]) })
          : JSON.stringify({ ts: last.__otesse_ts, id: String(last[pkName]) });
    }
    const records = rows.map((row) => {
      delete row.__otesse_ts;
      return this.toRecord(e, row, pkName, updName, req.deletions === true);
    });
    return { records, nextCursor };
  }

  async fetch(req: FetchRequest) {
    const e = this.entity(req.entityType);
    if (req.ids.length === 0) return [];
    const pkName = unquote(e.pk);
    const updName = e.updatedAt === null ? null : unquote(e.updatedAt);
    const { rows } = await sql<Record<string, unknown>>`SELECT * FROM ${sql.raw(e.table)}
      WHERE ${sql.raw(e.pk)}::text = ANY(${req.ids}::text[])`.execute(this.db);
    // A row marked deleted is a tombstone: the record is known to be deleted.
    return rows.map((row) => this.toRecord(e, row, pkName, updName, true));
  }

  async write(req: {
    entityType: string;
    ops: WriteOp[];
    signal: AbortSignal;
    // biome-ignore lint/suspicious/noExplicitAny: the application's own tables
    transaction?: Kysely<any>;
  }): Promise<WriteResult[]> {
    const e = this.entity(req.entityType);
    const db = req.transaction ?? this.db;
    if (req.ops.length === 0) return [];
    const results: WriteResult[] = new Array(req.ops.length);
    const writes = req.ops.flatMap((op, i) => (op.action === 'delete' ? [] : [i]));
    const deletes = req.ops.flatMap((op, i) => (op.action === 'delete' ? [i] : []));
    if (writes.length > 0) {
      const pkName = unquote(e.pk);
      const ops = writes.map((i) => req.ops[i]!);
      const columns = upsertColumns(
        e,
        ops.map((op) => op.data),
      );
      const ids = await this.allocateIds(db, e, ops);
      const rows = ops.map((op, i) => ({ ...op.data, [pkName]: ids[i] }));
      const written: WriteResult[] = new Array(ops.length);
      await this.upsert(db, e, columns, rows, ids, written, 0);
      writes.forEach((opIndex, k) => {
        results[opIndex] = written[k]!;
      });
    }
    for (const i of deletes) results[i] = await this.deleteOne(db, e, req.ops[i]!);
    return results;
  }

  /**
   * Deletes a row, or marks it deleted (`soft`, the entity's soft-delete column). A row already gone (or already
   * marked) is a success. A row the database refuses to delete (a foreign key) is that record's failure.
   */
  // biome-ignore lint/suspicious/noExplicitAny: the application's own tables
  private async deleteOne(db: Kysely<any>, e: ResolvedEntity, op: WriteOp): Promise<WriteResult> {
    const id = op.targetId!;
    if (op.soft && e.deletedAt === null) {
      return {
        ok: false,
        error: new ProviderError(
          'config',
          `local ${e.table} has no soft-delete column (deletedAt) to mark rows deleted`,
        ),
      };
    }
    const savepoint = 'otesse_del';
    const inTx = db.isTransaction;
    if (inTx) await sql`SAVEPOINT ${sql.raw(savepoint)}`.execute(db);
    try {
      const where = sql`${sql.raw(e.pk)}::text = ${id}`;
      if (op.soft) {
        const del = sql.raw(e.deletedAt!);
        const touch = e.updatedAt === null ? sql`` : sql`, ${sql.raw(e.updatedAt)} = clock_timestamp()`;
        await sql`UPDATE ${sql.raw(e.table)} SET ${del} = coalesce(${op.deletedAt ?? null}::timestamptz, clock_timestamp())${touch}
          WHERE ${where} AND ${del} IS NULL`.execute(db);
      } else {
        await sql`DELETE FROM ${sql.raw(e.table)} WHERE ${where}`.execute(db);
      }
      if (inTx) await sql`RELEASE SAVEPOINT ${sql.raw(savepoint)}`.execute(db);
      return { ok: true, id };
    } catch (err) {
      if (inTx) await sql`ROLLBACK TO SAVEPOINT ${sql.raw(savepoint)}`.execute(db);
      return {
        ok: false,
        error: new ProviderError('record', `local ${e.table}: ${(err as Error).message}`, { cause: err }),
      };
    }
  }

  private async allocateIds(
    // biome-ignore lint/suspicious/noExplicitAny: the application's own tables
    db: Kysely<any>,
    e: ResolvedEntity,
    ops: WriteOp[],
  ): Promise<string[]> {
    const creates = ops.filter((op) => op.action === 'create').length;
    let fresh: string[] = [];
    if (creates > 0) {
      if (e.idKind === 'sequence') {
        const tableName = e.table.replaceAll('"', '');
        const pkName = unquote(e.pk);
        const { rows } = await sql<{ id: string }>`
          SELECT nextval(pg_get_serial_sequence(${tableName}, ${pkName}))::text AS id
          FROM generate_series(1, ${creates})`.execute(db);
        if (rows.some((r) => r.id === null)) {
          throw new ProviderError('config', `primary key of ${e.table} has no sequence or identity to take ids from`);
        }
        fresh = rows.map((r) => r.id);
      } else {
        fresh = Array.from({ length: creates }, () => randomUUID());
      }
    }
    let next = 0;
    return ops.map((op) => (op.action === 'create' ? fresh[next++]! : op.targetId!));
  }

  /**
   * One statement for the whole batch. If PostgreSQL rejects it (one bad value fails them all), roll back
   * to a savepoint and split in halves until the records at fault stand alone; their neighbours are written.
   */
  private async upsert(
    // biome-ignore lint/suspicious/noExplicitAny: the application's own tables
    db: Kysely<any>,
    e: ResolvedEntity,
    columns: UpsertColumns,
    rows: Record<string, unknown>[],
    ids: string[],
    results: WriteResult[],
    offset: number,
  ): Promise<void> {
    const savepoint = `otesse_w${offset}_${rows.length}`;
    const inTx = db.isTransaction;
    if (inTx) await sql`SAVEPOINT ${sql.raw(savepoint)}`.execute(db);
    try {
      await this.upsertStatement(db, e, columns, rows);
      if (inTx) await sql`RELEASE SAVEPOINT ${sql.raw(savepoint)}`.execute(db);
      for (let i = 0; i < rows.length; i++) results[offset + i] = { ok: true, id: ids[offset + i]! };
    } catch (err) {
      if (inTx) await sql`ROLLBACK TO SAVEPOINT ${sql.raw(savepoint)}`.execute(db);
      if (rows.length === 1 || !inTx) {
        for (let i = 0; i < rows.length; i++) {
          results[offset + i] = {
            ok: false,
            error: new ProviderError('record', `local ${e.table}: ${(err as Error).message}`, { cause: err }),
          };
        }
        return;
      }
      const half = rows.length >>> 1;
      await this.upsert(db, e, columns, rows.slice(0, half), ids, results, offset);
      await this.upsert(db, e, columns, rows.slice(half), ids, results, offset + half);
    }
  }

  // biome-ignore lint/suspicious/noExplicitAny: the application's own tables
  private async upsertStatement(db: Kysely<any>, e: ResolvedEntity, columns: UpsertColumns, rows: unknown[]) {
    await sql`INSERT INTO ${sql.raw(e.table)} (${sql.raw(columns.insert)}) OVERRIDING SYSTEM VALUE
      SELECT ${sql.raw(columns.select)} FROM jsonb_populate_recordset(NULL::${sql.raw(e.table)}, ${JSON.stringify(rows)}::jsonb) AS r
      ON CONFLICT (${sql.raw(e.pk)}) ${sql.raw(columns.onConflict)}`.execute(db);
  }
}

/**
 * The columns an upsert of these mapped rows writes: every top-level key of the mapped content, plus the
 * updated-at column (set to the clock) unless the mapping writes it. An unknown column is a configuration
 * error of the whole job (a schema mismatch), not 100,000 record failures. Shared by this store's own
 * writes and the run's one-statement fast path.
 */
function upsertColumns(e: ResolvedEntity, rows: readonly Record<string, unknown>[]): UpsertColumns {
  const pkName = unquote(e.pk);
  const columns: string[] = [];
  const seen = new Set<string>();
  for (const data of rows) {
    for (const k in data) {
      if (seen.has(k)) continue;
      seen.add(k);
      if (k === pkName) continue;
      if (!e.columns.has(k)) {
        throw new ProviderError('config', `column "${k}" does not exist in local table ${e.table}`);
      }
      columns.push(k);
    }
  }
  const setUpdatedAt = e.updatedAt !== null && !columns.includes(unquote(e.updatedAt));
  // A record written again is not deleted any more (it came back at the source).
  const clearDeletedAt = e.deletedAt !== null && !columns.includes(unquote(e.deletedAt));
  const quoted = columns.map((c) => quoteIdentifier(c));
  const insertCols = [
    e.pk,
    ...quoted,
    ...(setUpdatedAt ? [e.updatedAt!] : []),
    ...(clearDeletedAt ? [e.deletedAt!] : []),
  ];
  const selectCols = [
    `r.${e.pk}`,
    ...quoted.map((c) => `r.${c}`),
    ...(setUpdatedAt ? ['clock_timestamp()'] : []),
    ...(clearDeletedAt ? ['NULL'] : []),
  ];
  const updates = insertCols.slice(1).map((c) => `${c} = EXCLUDED.${c}`);
  return {
    insert: insertCols.join(', '),
    select: selectCols.join(', '),
    onConflict: updates.length === 0 ? 'DO NOTHING' : `DO UPDATE SET ${updates.join(', ')}`,
  };
}

function unquote(quoted: string): string {
  const last = quoted.split('.').at(-1)!;
  return last.slice(1, -1);
}
