import pg from 'pg';
import { ProviderError } from '../domain/errors.ts';
import { delay } from '../engine/abort.ts';
import type {
  ConnectionContext,
  Endpoint,
  EndpointRecord,
  ProviderDefinition,
  ReadPageRequest,
  WriteRequest,
  WriteResult,
} from '../engine/endpoint.ts';
import { quoteIdentifier } from '../store/identifiers.ts';

/**
 * A provider emulator whose records live in a PostgreSQL table, so that several processes (workers in
 * crash tests, a test checking results) see one provider. Like Stripe it honours idempotency keys on
 * creates: repeating a create with the same key returns the first record instead of a duplicate.
 *
 * Connection config: `{ databaseUrl, schema }`. Table: `<schema>.sandbox_records`.
 */
export function createTableProvider(
  options: { name?: string; entityTypes?: readonly string[] } = {},
): ProviderDefinition {
  const entityTypes = options.entityTypes ?? ['customer'];
  const pools = new Map<string, pg.Pool>();
  return {
    name: options.name ?? 'table',
    entityTypes,
    createEndpoint(connection: ConnectionContext): Endpoint {
      const url = connection.config.databaseUrl;
      const schema = connection.config.schema;
      if (typeof url !== 'string' || typeof schema !== 'string') {
        throw new ProviderError('config', 'table provider: config.databaseUrl and config.schema are required');
      }
      let pool = pools.get(url);
      if (!pool) {
        pool = new pg.Pool({ connectionString: url, max: 2 });
        pool.on('error', () => {});
        pools.set(url, pool);
      }
      const latency = typeof connection.config.latencyMs === 'number' ? connection.config.latencyMs : 0;
      return new TableEndpoint(pool, `${quoteIdentifier(schema)}.sandbox_records`, entityTypes, latency);
    },
    async close() {
      await Promise.all([...pools.values()].map((p) => p.end()));
      pools.clear();
    },
  };
}

/** Creates the table behind a table provider. */
export async function createTableProviderStore(pool: pg.Pool, schema: string): Promise<void> {
  await pool.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(schema)};
    CREATE TABLE IF NOT EXISTS ${quoteIdentifier(schema)}.sandbox_records (
      entity_type text NOT NULL,
      id text NOT NULL,
      data jsonb NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      idempotency_key text UNIQUE,
      PRIMARY KEY (entity_type, id)
    )`);
}

class TableEndpoint implements Endpoint {
  constructor(
    private readonly pool: pg.Pool,
    private readonly table: string,
    private readonly entityTypes: readonly string[],
    /** Simulated network latency per call (honours the AbortSignal). */
    private readonly latencyMs: number,
  ) {}

  private async check(entityType: string, signal: AbortSignal) {
    if (this.latencyMs > 0) await delay(this.latencyMs, signal);
    if (!this.entityTypes.includes(entityType)) {
      throw new ProviderError('config', `table provider does not declare entity type "${entityType}"`);
    }
  }

  async readPage(req: ReadPageRequest) {
    await this.check(req.entityType, req.signal);
    const { rows } = await this.pool.query<{ id: string; data: Record<string, unknown>; updated_at: Date }>(
      `SELECT id, data, updated_at FROM ${this.table}
       WHERE entity_type = $1 AND ($2::text IS NULL OR id > $2) AND ($3::timestamptz IS NULL OR updated_at >= $3)
       ORDER BY id LIMIT $4`,
      [req.entityType, req.cursor, req.since, req.pageSize],
    );
    const records: EndpointRecord[] = rows.map((r) => ({
      id: r.id,
      data: r.data,
      updatedAt: r.updated_at.toISOString(),
    }));
    return { records, nextCursor: rows.length === req.pageSize ? rows.at(-1)!.id : null };
  }

  async fetch(req: { entityType: string; ids: string[]; signal: AbortSignal }) {
    await this.check(req.entityType, req.signal);
    const { rows } = await this.pool.query<{ id: string; data: Record<string, unknown>; updated_at: Date }>(
      `SELECT id, data, updated_at FROM ${this.table} WHERE entity_type = $1 AND id = ANY($2::text[])`,
      [req.entityType, req.ids],
    );
    return rows.map((r) => ({ id: r.id, data: r.data, updatedAt: r.updated_at.toISOString() }));
  }

  /** Creates are keyed by their idempotency key (a unique column; see Endpoint.dedupesCreates). */
  dedupesCreates(): boolean {
    return true;
  }

  async write(req: WriteRequest): Promise<WriteResult[]> {
    await this.check(req.entityType, req.signal);
    const results: WriteResult[] = new Array(req.ops.length);
    const creates = req.ops.flatMap((op, i) =>
      op.action === 'create' ? [{ i, key: op.idempotencyKey, data: op.data }] : [],
    );
    const updates = req.ops.flatMap((op, i) => (op.action === 'update' ? [{ i, id: op.targetId, data: op.data }] : []));
    if (creates.length > 0) {
      // The idempotency key makes a repeated create (after a crash or a lost response) return the first record.
      const { rows } = await this.pool.query<{ key: string; id: string }>(
        `INSERT INTO ${this.table} AS t (entity_type, id, data, idempotency_key)
         SELECT $1, 'tp_' || replace(gen_random_uuid()::text, '-', ''), c.data, c.key
         FROM jsonb_to_recordset($2::jsonb) AS c(key text, data jsonb)
         ON CONFLICT (idempotency_key) DO UPDATE SET idempotency_key = EXCLUDED.idempotency_key
         RETURNING t.idempotency_key AS key, t.id`,
        [req.entityType, JSON.stringify(creates.map((c) => ({ key: c.key, data: c.data })))],
      );
      const byKey = new Map(rows.map((r) => [r.key, r.id]));
      for (const c of creates) results[c.i] = { ok: true, id: byKey.get(c.key)! };
    }
    if (updates.length > 0) {
      const { rows } = await this.pool.query<{ id: string }>(
        `UPDATE ${this.table} AS t SET data = t.data || u.data, updated_at = clock_timestamp()
         FROM jsonb_to_recordset($2::jsonb) AS u(id text, data jsonb)
         WHERE t.entity_type = $1 AND t.id = u.id RETURNING t.id`,
        [req.entityType, JSON.stringify(updates.map((u) => ({ id: u.id, data: u.data })))],
      );
      const found = new Set(rows.map((r) => r.id));
      for (const u of updates) {
        results[u.i] = found.has(u.id!)
          ? { ok: true, id: u.id! }
          : { ok: false, error: new ProviderError('record', `table provider: 404 no record ${u.id}`, { status: 404 }) };
      }
    }
    return results;
  }
}
