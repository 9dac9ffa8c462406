import { type Kysely, sql } from 'kysely';
import type { DB } from './schema.ts';

/** How long history is kept. */
export interface RetentionPolicy {
  /** Executions older than this many days are pruned. Default 30 ($OTESSE_SYNC_RETENTION_DAYS). */
  days: number;
  /** The newest executions of each job that are always kept, whatever their age. Default 50. */
  keepPerJob: number;
  /** Executions deleted per statement (a short transaction each). Default 500. */
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

export interface PruneResult {
  /** False when another process holds the pruning lease (one pruner at a time). */
  ran: boolean;
  executions: number;
  webhookEvents: number;
}

/**
 * Prunes history in small batches, each its own short transaction (no long locks): executions older than the
 * policy's days, except each job's newest `keepPerJob`, runs still queued or running (or resumed by one), and anything
 * an open dead letter, an open conflict or deletions held for a person point to. Their record failures, run log,
 * record events and run bookkeeping go by cascade. Also webhook events older than the retention (their dedupe
 * window). One process at a time: a lease row, taken for `leaseSeconds` and renewed per batch.
 */
export async function pruneHistory(
  db: Kysely<DB>,
  holder: string,
  policy: RetentionPolicy = DEFAULT_RETENTION,
  options: { leaseSeconds?: number; maxBatches?: number } = {},
): Promise<PruneResult> {
  const lease = options.leaseSeconds ?? 300;
  const take = async () =>
    (
      await sql<{ name: string }>`
        UPDATE maintenance_leases SET holder = ${holder}, until = now() + make_interval(secs => ${lease})
        WHERE name = 'prune' AND (until < now() OR holder = ${holder})
        RETURNING name`.execute(db)
    ).rows.length === 1;
  if (!(await take())) return { ran: false, executions: 0, webhookEvents: 0 };
  let executions = 0;
  try {
    for (let batch = 0; batch < (options.maxBatches ?? 1000); batch++) {
      const result = await sql`
        WITH floors AS (
          SELECT j.id AS job_id,
                 (SELECT x.created_at FROM sync_executions x WHERE x.job_id = j.id
                  ORDER BY x.created_at DESC OFFSET ${policy.keepPerJob - 1} LIMIT 1) AS floor
          FROM sync_jobs j
        ),
        doomed AS (
          SELECT x.id FROM sync_executions x JOIN floors f ON f.job_id = x.job_id
          WHERE x.created_at < now() - make_interval(days => ${policy.days})
            AND f.floor IS NOT NULL AND x.created_at < f.floor
            AND x.status NOT IN ('queued', 'running')
            AND NOT EXISTS (SELECT 1 FROM dead_letters d WHERE d.last_execution_id = x.id AND d.status = 'open')
            AND NOT EXISTS (SELECT 1 FROM conflicts c WHERE c.execution_id = x.id AND c.status = 'open')
            AND NOT EXISTS (SELECT 1 FROM run_deletions r WHERE r.execution_id = x.id AND r.status = 'held')
            AND NOT EXISTS (SELECT 1 FROM sync_executions y
                            WHERE y.resumed_from = x.id AND y.status IN ('queued', 'running'))
          ORDER BY x.created_at
          LIMIT ${policy.batchSize}
        )
        DELETE FROM sync_executions WHERE id IN (SELECT id FROM doomed)`.execute(db);
      const n = Number(result.numAffectedRows ?? 0);
      executions += n;
      if (n < policy.batchSize) break;
      if (!(await take())) break;
    }
    const events = await sql`
      DELETE FROM webhook_events WHERE received_at < now() - make_interval(days => ${policy.days})`.execute(db);
    return { ran: true, executions, webhookEvents: Number(events.numAffectedRows ?? 0) };
  } finally {
    await sql`UPDATE maintenance_leases SET until = '-infinity', holder = NULL
              WHERE name = 'prune' AND holder = ${holder}`.execute(db);
  }
}
