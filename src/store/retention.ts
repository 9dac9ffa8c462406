import { type Kysely, type RawBuilder, sql } from 'kysely';
import type { DB } from './schema.ts';

/** How long history is kept. */
export interface RetentionPolicy {
  /** Executions older than this many days are pruned. Default 30 ($OTESSE_SYNC_RETENTION_DAYS). */
  days: number;
  /** The newest executions of each job that are always kept, whatever their age. Default 50. */
  keepPerJob: number;
  /** Rows deleted per statement (a short transaction each). Default 500. */
  batchSize: number;
}

export const DEFAULT_RETENTION: RetentionPolicy = { days: 30, keepPerJob: 50, batchSize: 500 };

/** The retention policy from the environment (`OTESSE_SYNC_RETENTION_DAYS`) over the defaults. */
export function retentionFromEnv(env: NodeJS.ProcessEnv = process.env): RetentionPolicy {
  const raw = env.OTESSE_SYNC_RETENTION_DAYS;
  if (raw === undefined || raw === '') return DEFAULT_RETENTION;
  const days = Number(raw);
  if (!Number.isFinite(days) || days <= 0) {
    throw new Error(`OTESSE_SYNC_RETENTION_DAYS must be a positive number of days, got "${raw}"`);
  }
  return { ...DEFAULT_RETENTION, days };
}

/** The tables the pruner deletes from itself (the rest go by cascade from `sync_executions`). */
export type PrunedTable = 'sync_executions' | 'webhook_events' | 'dead_letters' | 'conflicts';

/** One batch: one DELETE statement, its own transaction, so `ms` is the longest any of its row locks is held. */
export interface PruneBatch {
  table: PrunedTable;
  rows: number;
  ms: number;
}

export interface PruneOptions {
  /** How long the lease is taken for, renewed per batch. Default 300 s. */
  leaseSeconds?: number;
  /** Batches per table in one call; the next call (the worker's next interval) goes on. Default 1000. */
  maxBatches?: number;
  /** The clock history is aged by. Default: the database's `now()` (a simulation passes its own day). */
  now?: Date;
  /** Told after each batch (benchmarks, logs). */
  onBatch?: (batch: PruneBatch) => void;
}

export interface PruneResult {
  /** False when another process holds the pruning lease (one pruner at a time). */
  ran: boolean;
  executions: number;
  webhookEvents: number;
  /** Dead letters closed (retried or resolved) before the retention. */
  deadLetters: number;
  /** Conflicts resolved before the retention. */
  conflicts: number;
}

/** Where the executions' walk is: the last row the previous batch looked at (its time as text: microseconds). */
type Cursor = { at: string; id: string };
/** What a batch says: rows deleted, whether to go on, and (the executions' walk) where it stopped. */
type BatchRow = { deleted: number; more: boolean; at?: string | null; id?: string | null };

const COUNTED = {
  sync_executions: 'executions',
  webhook_events: 'webhookEvents',
  dead_letters: 'deadLetters',
  conflicts: 'conflicts',
} as const satisfies Record<PrunedTable, keyof PruneResult>;

/**
 * Prunes history in small batches, each its own short transaction (no long locks): executions older than the
 * policy's days, except each job's newest `keepPerJob`, runs still queued or running (or resumed by one), and anything
 * an open dead letter, an open conflict or deletions held for a person point to. Their record failures, run log,
 * record events and run bookkeeping go by cascade. Also webhook event ids older than the retention (their dedupe
 * window), dead letters closed (retried, resolved) and conflicts resolved before it. Open and discarded dead letters
 * stay whatever their age: they are state (a discarded one keeps its record parked), not history. One process at a
 * time: a lease row, taken for `leaseSeconds` and renewed per batch.
 */
export async function pruneHistory(
  db: Kysely<DB>,
  holder: string,
  policy: RetentionPolicy = DEFAULT_RETENTION,
  options: PruneOptions = {},
): Promise<PruneResult> {
  const lease = options.leaseSeconds ?? 300;
  const maxBatches = options.maxBatches ?? 1000;
  const take = async () =>
    (
      await sql<{ name: string }>`
        UPDATE maintenance_leases SET holder = ${holder}, until = now() + make_interval(secs => ${lease})
        WHERE name = 'prune' AND (until < now() OR holder = ${holder})
        RETURNING name`.execute(db)
    ).rows.length === 1;
  const result: PruneResult = { ran: false, executions: 0, webhookEvents: 0, deadLetters: 0, conflicts: 0 };
  if (!(await take())) return result;
  result.ran = true;
  try {
    // One cutoff for the whole call. Days may be fractional ($OTESSE_SYNC_RETENTION_DAYS=0.5): seconds, not
    // make_interval(days => …), which takes whole days only.
    const [{ cutoff }] = (
      await sql<{ cutoff: Date }>`
        SELECT COALESCE(${options.now ?? null}::timestamptz, now())
               - ${policy.days * 86_400}::float8 * interval '1 second' AS cutoff`.execute(db)
    ).rows as [{ cutoff: Date }];

    /**
     * Runs `batch` until it says there is nothing more (or `maxBatches`: the next call goes on). False when the
     * lease was lost to another pruner: then this one stops.
     */
    const drain = async (table: PrunedTable, batch: (after: Cursor | null) => RawBuilder<BatchRow>) => {
      let after: Cursor | null = null;
      for (let n = 0; n < maxBatches; n++) {
        if (n > 0 && !(await take())) return false;
        const started = performance.now();
        const row: BatchRow = (await batch(after).execute(db)).rows[0]!;
        const deleted = Number(row.deleted);
        options.onBatch?.({ table, rows: deleted, ms: performance.now() - started });
        result[COUNTED[table]] += deleted;
        if (!row.more) break;
        if (row.at) after = { at: row.at, id: row.id! };
      }
      return true;
    };
    /** One DELETE of at most batchSize rows picked by `pick`; "more" while batches come back full. */
    const simple = (pick: RawBuilder<unknown>) => () =>
      sql<BatchRow>`
        WITH gone AS (DELETE FROM ${pick} RETURNING 1)
        SELECT count(*)::int AS deleted, count(*) = ${policy.batchSize} AS more FROM gone`;

    // Each batch takes the next batchSize executions past the cutoff, oldest first from where the last batch ended
    // (by created_at, id), and deletes those of them nothing keeps. A batch looks at batchSize rows whatever the
    // backlog (after an outage, or when retention is first enabled on years of history), and the executions kept
    // however old (pinned, or a quiet job's newest) are not looked at again by every batch. A job's newest
    // `keepPerJob` are checked per candidate on (job_id, created_at): at most keepPerJob index entries each.
    const executions = (after: Cursor | null) =>
      sql<BatchRow>`
        WITH win AS (
          SELECT x.id, x.job_id, x.created_at, x.status FROM sync_executions x
          WHERE x.created_at < ${cutoff}
            ${after ? sql`AND x.created_at >= ${after.at}::timestamptz AND (x.created_at, x.id) > (${after.at}::timestamptz, ${after.id}::uuid)` : sql``}
          ORDER BY x.created_at, x.id
          LIMIT ${policy.batchSize}
        ),
        doomed AS (
          SELECT x.id FROM win x
          WHERE x.status NOT IN ('queued', 'running')
            AND (SELECT count(*) FROM (SELECT 1 FROM sync_executions y
                                       WHERE y.job_id = x.job_id AND y.created_at > x.created_at
                                       LIMIT ${policy.keepPerJob}) newer) >= ${policy.keepPerJob}
            AND NOT EXISTS (SELECT 1 FROM dead_letters d WHERE d.last_execution_id = x.id AND d.status = 'open')
            AND NOT EXISTS (SELECT 1 FROM conflicts c WHERE c.execution_id = x.id AND c.status = 'open')
            AND NOT EXISTS (SELECT 1 FROM run_deletions r WHERE r.execution_id = x.id AND r.status = 'held')
            AND NOT EXISTS (SELECT 1 FROM sync_executions y
                            WHERE y.resumed_from = x.id AND y.status IN ('queued', 'running'))
        ),
        gone AS (DELETE FROM sync_executions WHERE id IN (SELECT id FROM doomed) RETURNING 1),
        last AS (SELECT created_at, id FROM win ORDER BY created_at DESC, id DESC LIMIT 1)
        SELECT (SELECT count(*)::int FROM gone) AS deleted, (SELECT count(*) FROM win) = ${policy.batchSize} AS more,
               (SELECT created_at::text FROM last) AS at, (SELECT id FROM last) AS id`;
    if (!(await drain('sync_executions', executions))) return result;

    const events = simple(sql`webhook_events WHERE (connection_id, event_id) IN (
          SELECT connection_id, event_id FROM webhook_events WHERE received_at < ${cutoff}
          ORDER BY received_at LIMIT ${policy.batchSize})`);
    if (!(await drain('webhook_events', events))) return result;

    // A dead letter closed by a success or a person's retry is a record of what happened: history.
    const letters = simple(sql`dead_letters WHERE id IN (
          SELECT id FROM dead_letters WHERE status IN ('retried', 'resolved') AND updated_at < ${cutoff}
          LIMIT ${policy.batchSize})`);
    if (!(await drain('dead_letters', letters))) return result;

    // A resolved conflict stops a run that was in flight at its resolution (computed from the content before it)
    // from raising it again; runs time out within a day, so one resolved before the retention is only history.
    const conflicts = simple(sql`conflicts WHERE id IN (
          SELECT id FROM conflicts WHERE status = 'resolved' AND resolved_at < ${cutoff}
          LIMIT ${policy.batchSize})`);
    await drain('conflicts', conflicts);
    return result;
  } finally {
    await sql`UPDATE maintenance_leases SET until = '-infinity', holder = NULL
              WHERE name = 'prune' AND holder = ${holder}`.execute(db);
  }
}
