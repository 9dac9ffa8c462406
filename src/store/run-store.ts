import { type Kysely, sql } from 'kysely';
import type { Side } from '../domain/types.ts';
import type { FailureRow, PageCommit, RefRow, RunStore } from '../engine/ports.ts';
import type { Database } from './database.ts';
import type { DB } from './schema.ts';

/** A record that failed in this many executions leaves the retry set for the dead letter queue. */
export const DEAD_LETTER_THRESHOLD = 3;

/**
 * The hot queries of a run, one statement per concern per page, never one per record.
 * Record data travels as one JSON parameter and is unpacked with jsonb_to_recordset.
 */
export function createRunStore(database: Database): RunStore {
  const db = database.db;
  // Page commits (general and fast path) go through the asynchronously committing pool; see Database.pageDb.
  const pageDb = database.pageDb;
  /** The SQL type of a local table's primary key, looked up once per table. */
  const pkTypes = new Map<string, Promise<string | null>>();
  const primaryKeyType = (table: string, pkName: string): Promise<string | null> => {
    const key = `${table}\u0000${pkName}`;
    let type = pkTypes.get(key);
    if (!type) {
      type = sql<{ type: string }>`
        SELECT format_type(a.atttypid, a.atttypmod) AS type FROM pg_attribute a
        WHERE a.attrelid = to_regclass(${table}) AND a.attname = ${pkName} AND NOT a.attisdropped`
        .execute(db)
        .then((r) => r.rows[0]?.type ?? null);
      type.catch(() => pkTypes.delete(key));
      pkTypes.set(key, type);
    }
    return type;
  };
  return {
    async lookupRefs(connectionId, entityType, by, ids) {
      const out = new Map<string, RefRow>();
      if (ids.length === 0) return out;
      const { rows } = await sql<RefRow>`
        SELECT local_id, external_id, inbound_hash, outbound_hash, deleted_at FROM external_references
        WHERE connection_id = ${connectionId} AND entity_type = ${entityType} AND ${sql.ref(by)} = ANY(${ids}::text[])`.execute(
        db,
      );
      for (const r of rows) out.set(by === 'local_id' ? r.local_id : r.external_id, r);
      return out;
    },

    async commitPage(scope, inside, options) {
      return pageDb.transaction().execute(async (trx) => {
        // First, so that it holds at the commit whatever `inside` does; PGlite has one session, synchronous.
        if (options?.durable && database.kind === 'postgres') await sql`SET LOCAL synchronous_commit = on`.execute(trx);
        const page = await inside(trx);
        await writePage(trx, scope, page);
        return { cancelRequested: await saveProgress(trx, scope.executionId, page) };
      });
    },

    async fastInboundPage(scope, table, rows, checkpoint) {
      const columns = table.upsertColumns(rows.map((r) => r.data));
      // The primary key comes from the reference (or a new id), cast to the key's type; the other columns from
      // the mapped content. (Merging the key into each record's JSON costs a jsonb copy per record.)
      const pkType = await primaryKeyType(table.table, table.pkName);
      const pkSelect = `r.${table.pk}`;
      const select =
        pkType !== null && columns.select.startsWith(`${pkSelect}, `)
          ? `todo.local_id::${pkType}${columns.select.slice(pkSelect.length)}`
          : null;
      const source = sql.raw(
        select === null
          ? `SELECT ${columns.select} FROM todo, LATERAL jsonb_populate_record(NULL::${table.table}, todo.data || jsonb_build_object(${quoteLiteral(table.pkName)}::text, todo.local_id)) AS r`
          : `SELECT ${select} FROM todo, LATERAL jsonb_populate_record(NULL::${table.table}, todo.data) AS r`,
      );
      const payload = JSON.stringify(
        rows.map((r) => ({ ext: r.externalId, hash: r.hash, rhash: r.reverseHash, data: r.data })),
      );
      // Data-modifying CTEs run exactly once, all in this statement's own transaction.
      const { rows: out } = await sql<{ created: number; updated: number; processed: number; cancel: boolean }>`
        WITH input AS (
          SELECT * FROM jsonb_to_recordset(${payload}::jsonb) AS i(ext text, hash text, rhash text, data jsonb)
        ),
        -- The references of these records, one index descent per id. The subquery is evaluated per id
        -- (OFFSET 0 keeps it from being flattened into a join), so no statistics, stale or missing, can turn
        -- it into a scan of the whole table: measured 10 s for a batch of 1,000 at 50,000 references.
        found AS MATERIALIZED (
          SELECT f.external_id, f.local_id, f.inbound_hash
          FROM (SELECT DISTINCT ext FROM input) i CROSS JOIN LATERAL (
            SELECT external_id, local_id, inbound_hash FROM external_references
            WHERE external_id = i.ext AND entity_type = ${scope.entityType} AND connection_id = ${scope.connectionId}::uuid
            OFFSET 0
          ) f
        ),
        todo AS MATERIALIZED (
          SELECT i.ext, i.hash, i.rhash, i.data, f.local_id IS NULL AS is_new,
                 COALESCE(f.local_id, ${sql.raw(table.newIdSql)}) AS local_id
          FROM input i LEFT JOIN found f ON f.external_id = i.ext
          WHERE f.inbound_hash IS DISTINCT FROM i.hash
        ),
        -- New records get a new key: a plain insert (an upsert probes the key first). A conflict would be a
        -- row that appeared concurrently: the statement fails and the general path takes the page.
        w_new AS (
          INSERT INTO ${sql.raw(table.table)} (${sql.raw(columns.insert)}) OVERRIDING SYSTEM VALUE
          ${source} WHERE todo.is_new
        ),
        -- Known records: their local row may have been deleted by the application since, hence an upsert.
        w_old AS (
          INSERT INTO ${sql.raw(table.table)} (${sql.raw(columns.insert)}) OVERRIDING SYSTEM VALUE
          ${source} WHERE NOT todo.is_new
          ON CONFLICT (${sql.raw(table.pk)}) ${sql.raw(columns.onConflict)}
        ),
        refs_new AS (
          INSERT INTO external_references
            (connection_id, entity_type, local_id, external_id, inbound_hash, outbound_hash, created_execution_id)
          SELECT ${scope.connectionId}::uuid, ${scope.entityType}, local_id, ext, hash, rhash, ${scope.executionId}::uuid
          FROM todo WHERE is_new
        ),
        -- The inspector's history: the records this run updated (a created one's reference names this run).
        events AS (
          INSERT INTO record_events (execution_id, job_id, side, record_key, outcome)
          SELECT ${scope.executionId}::uuid, ${scope.jobId}::uuid, 'provider', ext, 'updated'
          FROM todo WHERE NOT is_new
        ),
        refs_old AS (
          INSERT INTO external_references AS e (connection_id, entity_type, local_id, external_id, inbound_hash, outbound_hash)
          SELECT ${scope.connectionId}::uuid, ${scope.entityType}, local_id, ext, hash, rhash FROM todo WHERE NOT is_new
          ON CONFLICT ON CONSTRAINT external_references_external_key DO UPDATE SET
            local_id = EXCLUDED.local_id,
            inbound_hash = EXCLUDED.inbound_hash,
            outbound_hash = COALESCE(EXCLUDED.outbound_hash, e.outbound_hash),
            deleted_at = NULL,
            last_synced_at = now()
        ),
        -- (Data-modifying CTEs run to completion whether or not anything reads them.)
        counts AS (
          SELECT ${rows.length}::int AS n_processed,
                 count(*) FILTER (WHERE is_new)::int AS n_created,
                 count(*) FILTER (WHERE NOT is_new)::int AS n_updated
          FROM todo
        )
        UPDATE sync_executions x SET
          processed = x.processed + c.n_processed, created = x.created + c.n_created,
          updated = x.updated + c.n_updated, skipped = x.skipped + (c.n_processed - c.n_created - c.n_updated),
          checkpoint = COALESCE(${checkpoint === undefined ? null : JSON.stringify(checkpoint)}::jsonb, x.checkpoint)
        FROM counts c
        WHERE x.id = ${scope.executionId}
        RETURNING c.n_created AS created, c.n_updated AS updated, c.n_processed AS processed,
                  x.cancel_requested_at IS NOT NULL AS cancel`.execute(pageDb);
      const r = out[0]!;
      return {
        created: r.created,
        updated: r.updated,
        skipped: r.processed - r.created - r.updated,
        cancelRequested: r.cancel,
      };
    },

    async loadRetrySet(jobId) {
      // A record has at most one open dead letter, and may have older discarded ones: the open one, else the
      // newest discarded one, says how it is parked.
      const { rows } = await sql<{
        side: Side;
        record_key: string;
        parked: 'open' | 'discarded' | null;
        source_hash: string | null;
      }>`
        SELECT side, record_key, NULL AS parked, source_hash FROM retry_items WHERE job_id = ${jobId}
        UNION ALL
        SELECT * FROM (
          SELECT DISTINCT ON (side, record_key) side, record_key, status AS parked, source_hash FROM dead_letters
          WHERE job_id = ${jobId} AND status IN ('open', 'discarded')
          ORDER BY side, record_key, status = 'open' DESC, updated_at DESC
        ) d
        ORDER BY record_key`.execute(db);
      return rows.map((r) => ({
        side: r.side,
        recordKey: r.record_key,
        parked: r.parked,
        sourceHash: r.source_hash,
      }));
    },

    async markSeen(executionId, side, keys, fromStart) {
      const all = fromStart ? ['', ...keys] : keys;
      if (all.length === 0) return;
      await sql`
        INSERT INTO run_seen (execution_id, side, record_key)
        SELECT ${executionId}::uuid, ${side}, k FROM unnest(${all}::text[]) AS k
        ON CONFLICT DO NOTHING`.execute(db);
    },

    async stageDeletions(scope, side, items) {
      if (items.length === 0) return;
      await sql`
        INSERT INTO run_deletions (execution_id, job_id, side, record_key, deleted_at)
        SELECT ${scope.executionId}::uuid, ${scope.jobId}::uuid, ${side}, d.key, d.at
        FROM jsonb_to_recordset(${JSON.stringify(items.map((i) => ({ key: i.recordKey, at: i.deletedAt })))}::jsonb)
          AS d(key text, at timestamptz)
        ON CONFLICT DO NOTHING`.execute(db);
    },

    async sweep(scope, side, sourceKey) {
      const key = sql.ref(`r.${sourceKey}`);
      const result = await sql`
        INSERT INTO run_deletions (execution_id, job_id, side, record_key, deleted_at)
        SELECT ${scope.executionId}::uuid, ${scope.jobId}::uuid, ${side}, ${key}, NULL
        FROM external_references r
        WHERE r.connection_id = ${scope.connectionId}::uuid AND r.entity_type = ${scope.entityType}
          AND r.deleted_at IS NULL
          AND EXISTS (SELECT 1 FROM run_seen m
                      WHERE m.execution_id = ${scope.executionId}::uuid AND m.side = ${side} AND m.record_key = '')
          AND r.created_at < (SELECT coalesce(window_start, started_at, now()) FROM sync_executions
                              WHERE id = ${scope.executionId}::uuid)
          AND NOT EXISTS (SELECT 1 FROM run_seen s
                          WHERE s.execution_id = ${scope.executionId}::uuid AND s.side = ${side}
                            AND s.record_key = ${key})
        ON CONFLICT DO NOTHING`.execute(db);
      return Number(result.numAffectedRows ?? 0);
    },

    async deletionCounts(scope, side, sourceKey) {
      const key = sql.ref(`r.${sourceKey}`);
      const { rows } = await sql<{ doomed: number; live: number }>`
        SELECT
          (SELECT count(*) FROM run_deletions d JOIN external_references r
             ON r.connection_id = ${scope.connectionId}::uuid AND r.entity_type = ${scope.entityType}
            AND ${key} = d.record_key AND r.deleted_at IS NULL
           WHERE d.execution_id = ${scope.executionId}::uuid AND d.side = ${side} AND d.status = 'pending')::int AS doomed,
          (SELECT count(*) FROM external_references r
           WHERE r.connection_id = ${scope.connectionId}::uuid AND r.entity_type = ${scope.entityType}
             AND r.deleted_at IS NULL)::int AS live`.execute(db);
      return rows[0]!;
    },

    async holdDeletions(executionId) {
      const result = await sql`
        UPDATE run_deletions SET status = 'held' WHERE execution_id = ${executionId}::uuid AND status = 'pending'`.execute(
        db,
      );
      const held = Number(result.numAffectedRows ?? 0);
      await db.updateTable('sync_executions').set({ held_deletions: held }).where('id', '=', executionId).execute();
      return held;
    },

    async stagedDeletions(executionId, side, afterKey, limit) {
      const { rows } = await sql<{ record_key: string; deleted_at: Date | null }>`
        SELECT record_key, deleted_at FROM run_deletions
        WHERE execution_id = ${executionId}::uuid AND side = ${side} AND status = 'pending'
          AND (${afterKey}::text IS NULL OR record_key > ${afterKey})
        ORDER BY record_key LIMIT ${limit}`.execute(db);
      return rows.map((r) => ({
        recordKey: r.record_key,
        deletedAt: r.deleted_at === null ? null : new Date(r.deleted_at).toISOString(),
      }));
    },

    async adoptHeldDeletions(fromExecutionId, toExecutionId) {
      const result = await sql`
        UPDATE run_deletions SET execution_id = ${toExecutionId}::uuid, status = 'pending'
        WHERE execution_id = ${fromExecutionId}::uuid AND status = 'held'`.execute(db);
      const n = Number(result.numAffectedRows ?? 0);
      if (n > 0) {
        await db.updateTable('sync_executions').set({ held_deletions: 0 }).where('id', '=', fromExecutionId).execute();
      }
      return n;
    },

    async dropRetryItems(jobId, side, keys) {
      if (keys.length === 0) return;
      await db
        .deleteFrom('retry_items')
        .where('job_id', '=', jobId)
        .where('side', '=', side)
        .where('record_key', 'in', keys)
        .execute();
    },
  };
}

/** Deletions applied by a page: references removed or marked, staged rows done. */
async function writeDeletions(
  trx: Kysely<DB>,
  scope: Scope,
  refKey: 'local_id' | 'external_id',
  d: NonNullable<PageCommit['deletions']>,
): Promise<void> {
  if (d.deletedKeys.length > 0) {
    const where = sql`connection_id = ${scope.connectionId}::uuid AND entity_type = ${scope.entityType}
      AND ${sql.ref(refKey)} = ANY(${d.deletedKeys}::text[])`;
    if (d.soft) {
      // Kept and marked; the hashes are cleared so that a record that comes back is written again.
      await sql`UPDATE external_references SET deleted_at = now(), inbound_hash = NULL, outbound_hash = NULL,
        last_synced_at = now() WHERE ${where}`.execute(trx);
    } else {
      await sql`DELETE FROM external_references WHERE ${where}`.execute(trx);
    }
  }
  if (d.unstaged.length > 0) {
    await sql`DELETE FROM run_deletions WHERE execution_id = ${scope.executionId}::uuid AND side = ${d.side}
      AND record_key = ANY(${d.unstaged}::text[])`.execute(trx);
  }
}

/**
 * Conflicts left for a person: an open one of the same record takes the new content (a new edit); one a person
 * already resolved with the same content is not raised again.
 */
async function writeConflicts(trx: Kysely<DB>, scope: Scope, conflicts: NonNullable<PageCommit['conflicts']>) {
  await sql`
    INSERT INTO conflicts AS c (job_id, execution_id, local_id, external_id, local_content, provider_content, fields,
                                content_hash)
    SELECT ${scope.jobId}::uuid, ${scope.executionId}::uuid, x."localId", x."externalId", x."localContent",
           x."providerContent", ARRAY(SELECT jsonb_array_elements_text(x.fields)), x."contentHash"
    FROM jsonb_to_recordset(${JSON.stringify(conflicts)}::jsonb)
      AS x("localId" text, "externalId" text, "localContent" jsonb, "providerContent" jsonb, fields jsonb,
           "contentHash" text)
    WHERE NOT EXISTS (SELECT 1 FROM conflicts r WHERE r.job_id = ${scope.jobId}::uuid AND r.local_id = x."localId"
                        AND r.status = 'resolved' AND r.content_hash = x."contentHash")
    ON CONFLICT (job_id, local_id) WHERE status = 'open' DO UPDATE SET
      execution_id = EXCLUDED.execution_id, external_id = EXCLUDED.external_id,
      local_content = EXCLUDED.local_content, provider_content = EXCLUDED.provider_content,
      fields = EXCLUDED.fields, content_hash = EXCLUDED.content_hash, updated_at = now()`.execute(trx);
}

function quoteLiteral(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

type Scope = { executionId: string; jobId: string; connectionId: string; entityType: string };

async function writePage(trx: Kysely<DB>, scope: Scope, page: PageCommit): Promise<void> {
  if (page.refs.length > 0) {
    // Keyed on the side the records came from; hashes left null keep what was stored.
    await sql`
      INSERT INTO external_references AS e
        (connection_id, entity_type, local_id, external_id, inbound_hash, outbound_hash, local_version, external_version,
         created_execution_id)
      SELECT ${scope.connectionId}::uuid, ${scope.entityType}, r."localId", r."externalId", r."inboundHash",
             r."outboundHash", r."localVersion", r."externalVersion", ${scope.executionId}::uuid
      FROM jsonb_to_recordset(${JSON.stringify(page.refs)}::jsonb)
        AS r("localId" text, "externalId" text, "inboundHash" text, "outboundHash" text, "localVersion" text, "externalVersion" text)
      ON CONFLICT ON CONSTRAINT ${sql.raw(page.refKey === 'local_id' ? 'external_references_local_key' : 'external_references_external_key')}
      DO UPDATE SET
        ${sql.raw(page.refKey === 'local_id' ? 'external_id = EXCLUDED.external_id' : 'local_id = EXCLUDED.local_id')},
        inbound_hash = COALESCE(EXCLUDED.inbound_hash, e.inbound_hash),
        outbound_hash = COALESCE(EXCLUDED.outbound_hash, e.outbound_hash),
        local_version = COALESCE(EXCLUDED.local_version, e.local_version),
        external_version = COALESCE(EXCLUDED.external_version, e.external_version),
        deleted_at = NULL,
        last_synced_at = now()`.execute(trx);
  }
  if (page.deletions) await writeDeletions(trx, scope, page.refKey, page.deletions);
  if (page.conflicts && page.conflicts.length > 0) await writeConflicts(trx, scope, page.conflicts);
  if (page.events && page.events.keys.length > 0) {
    await sql`
      INSERT INTO record_events (execution_id, job_id, side, record_key, outcome)
      SELECT ${scope.executionId}::uuid, ${scope.jobId}::uuid, ${page.events.side}, e.key, e.outcome
      FROM unnest(${page.events.keys}::text[], ${page.events.outcomes}::text[]) AS e(key, outcome)`.execute(trx);
  }
  if (page.failures.length > 0) {
    await trx
      .insertInto('record_failures')
      .values(
        page.failures.map((f) => ({
          execution_id: scope.executionId,
          job_id: scope.jobId,
          record_key: f.recordKey,
          side: f.side,
          phase: f.phase,
          error_kind: f.errorKind,
          message: f.message.slice(0, 2000),
        })),
      )
      .execute();
    const retry = page.failures.filter((f) => f.retry);
    if (retry.length > 0) await addToRetrySet(trx, scope, retry, page.recovered.side);
    const parked = page.failures.filter((f) => f.parked !== undefined);
    if (parked.length > 0) await failParked(trx, scope, parked, page.recovered.side);
  }
  if (page.recovered.keys.length > 0) {
    await trx
      .deleteFrom('retry_items')
      .where('job_id', '=', scope.jobId)
      .where('side', '=', page.recovered.side)
      .where('record_key', 'in', page.recovered.keys)
      .execute();
    await trx
      .updateTable('dead_letters')
      .set({ status: 'resolved', updated_at: sql<Date>`now()` })
      .where('job_id', '=', scope.jobId)
      .where('side', '=', page.recovered.side)
      .where('record_key', 'in', page.recovered.keys)
      .where('status', '=', 'open')
      .execute();
  }
}

/**
 * A failed record joins the job's retry set, or counts one more execution if it is already there
 * (twice in one execution counts once). At the threshold it moves to the dead letter queue.
 */
/** One JSON parameter for a page's failures: the last one per record key wins. */
function failuresJson(failures: FailureRow[]): string {
  const items = new Map(
    failures.map((f) => [f.recordKey, { key: f.recordKey, message: f.message.slice(0, 2000), hash: f.sourceHash }]),
  );
  return JSON.stringify([...items.values()]);
}

async function addToRetrySet(trx: Kysely<DB>, scope: Scope, failures: FailureRow[], side: Side): Promise<void> {
  await sql`
    INSERT INTO retry_items AS ri (job_id, side, record_key, failure_count, last_execution_id, last_error, source_hash)
    SELECT ${scope.jobId}::uuid, ${side}, f.key, 1, ${scope.executionId}::uuid, f.message, f.hash
    FROM jsonb_to_recordset(${failuresJson(failures)}::jsonb) AS f(key text, message text, hash text)
    ON CONFLICT (job_id, side, record_key) DO UPDATE SET
      failure_count = ri.failure_count + CASE WHEN ri.last_execution_id = EXCLUDED.last_execution_id THEN 0 ELSE 1 END,
      last_execution_id = EXCLUDED.last_execution_id,
      last_error = EXCLUDED.last_error,
      source_hash = EXCLUDED.source_hash,
      last_failed_at = now()`.execute(trx);
  // At the threshold the record is parked, keeping when it first failed and the content that failed.
  await sql`
    WITH moved AS (
      DELETE FROM retry_items
      WHERE job_id = ${scope.jobId} AND side = ${side} AND failure_count >= ${DEAD_LETTER_THRESHOLD}
      RETURNING job_id, side, record_key, failure_count, last_error, last_execution_id, source_hash, first_failed_at
    )
    INSERT INTO dead_letters AS d
      (job_id, side, record_key, failure_count, last_error, last_execution_id, source_hash, first_failed_at)
    SELECT job_id, side, record_key, failure_count, last_error, last_execution_id, source_hash, first_failed_at
    FROM moved
    ON CONFLICT (job_id, side, record_key) WHERE status = 'open' DO UPDATE SET
      failure_count = d.failure_count + EXCLUDED.failure_count,
      last_error = EXCLUDED.last_error,
      last_execution_id = EXCLUDED.last_execution_id,
      source_hash = EXCLUDED.source_hash,
      updated_at = now()`.execute(trx);
}

/**
 * A parked record that failed again (its content changed, or a person retried it): an open dead letter
 * counts one more failed execution; a discarded one only remembers the content that failed, so that runs
 * skip it until it changes again. Neither goes back to the retry set.
 */
async function failParked(trx: Kysely<DB>, scope: Scope, failures: FailureRow[], side: Side): Promise<void> {
  await sql`
    UPDATE dead_letters d SET
      failure_count = d.failure_count + CASE WHEN d.status = 'open' AND d.last_execution_id <> ${scope.executionId}::uuid THEN 1 ELSE 0 END,
      last_error = CASE WHEN d.status = 'open' THEN f.message ELSE d.last_error END,
      last_execution_id = CASE WHEN d.status = 'open' THEN ${scope.executionId}::uuid ELSE d.last_execution_id END,
      source_hash = f.hash,
      updated_at = now()
    FROM jsonb_to_recordset(${failuresJson(failures)}::jsonb) AS f(key text, message text, hash text)
    WHERE d.job_id = ${scope.jobId} AND d.side = ${side} AND d.record_key = f.key
      AND d.status IN ('open', 'discarded')`.execute(trx);
}

async function saveProgress(trx: Kysely<DB>, executionId: string, page: PageCommit): Promise<boolean> {
  const c = page.counters;
  const checkpoint = page.checkpoint === undefined ? null : JSON.stringify(page.checkpoint);
  const directions = page.directions === undefined ? null : JSON.stringify(page.directions);
  const { rows } = await sql<{ cancel: boolean }>`
    UPDATE sync_executions SET
      processed = processed + ${c.processed}, created = created + ${c.created}, updated = updated + ${c.updated},
      deleted = deleted + ${c.deleted},
      skipped = skipped + ${c.skipped}, failed = failed + ${c.failed}, conflicts = conflicts + ${c.conflicts},
      direction_counters = COALESCE(${directions}::jsonb, direction_counters),
      checkpoint = COALESCE(${checkpoint}::jsonb, checkpoint)
    WHERE id = ${executionId}
    RETURNING cancel_requested_at IS NOT NULL AS cancel`.execute(trx);
  return rows[0]?.cancel ?? false;
}
