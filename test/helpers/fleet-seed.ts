/**
 * A fleet written straight into the engine's tables in a few set-based statements (thousands of jobs and
 * executions in a second or two), for the console's list, search and overview tests and bench/fleet-console.ts.
 * Rows are what the engine itself would write: memory-provider connections, inbound customer jobs, whole runs.
 */

/** Runs SQL in the engine's schema. */
export type Query = <T = Record<string, unknown>>(text: string, params?: unknown[]) => Promise<T[]>;

/** A job name of the seeded fleet: `${prefix} 0001`, … (zero-padded, so name order is creation order). */
export const seededJobName = (prefix: string, i: number) => `${prefix} ${String(i).padStart(4, '0')}`;

/**
 * `count` jobs on the connection, named `seededJobName(prefix, 1…count)`, created in that order one
 * millisecond apart (ending now), or all in the same instant (`sameInstant`: the keyset's tie-break on id).
 */
export async function seedJobs(
  query: Query,
  connectionId: string,
  count: number,
  options: { prefix?: string; sameInstant?: boolean; enabled?: (i: number) => boolean } = {},
): Promise<{ id: string; name: string }[]> {
  const prefix = options.prefix ?? 'Job';
  const disabled = Array.from({ length: count }, (_, k) => options.enabled?.(k + 1) === false);
  return query<{ id: string; name: string }>(
    `INSERT INTO sync_jobs (connection_id, name, entity_type, direction, mode, enabled, created_at, updated_at)
     SELECT $1::uuid, $2::text || ' ' || lpad(i::text, 4, '0'), 'customer', 'inbound', 'full',
       NOT ($5::boolean[])[i],
       CASE WHEN $4::boolean THEN now() ELSE now() - ($3::int - i) * interval '1 millisecond' END, now()
     FROM generate_series(1, $3::int) AS i
     ORDER BY i
     RETURNING id, name`,
    [connectionId, prefix, count, options.sameInstant ?? false, disabled],
  );
}

/** `count` memory-provider connections named `${prefix} 001`, … created in that order. */
export async function seedConnections(query: Query, count: number, prefix = 'App'): Promise<string[]> {
  const rows = await query<{ id: string }>(
    `INSERT INTO connections (name, provider, created_at)
     SELECT $1::text || ' ' || lpad(i::text, 3, '0'), 'memory', now() - ($2::int - i) * interval '1 millisecond'
     FROM generate_series(1, $2::int) AS i
     ORDER BY i
     RETURNING id`,
    [prefix, count],
  );
  return rows.map((r) => r.id);
}

/**
 * One finished (or queued/running) whole run of `jobId`, created `hoursAgo` hours before now (fractions allowed),
 * with the status given. Returns its id.
 */
export async function seedExecution(
  query: Query,
  jobId: string,
  status: string,
  hoursAgo: number,
  extra: { haltReason?: string; recordKeys?: string[] } = {},
): Promise<string> {
  const rows = await query<{ id: string }>(
    `INSERT INTO sync_executions
       (job_id, trigger, status, halt_reason, record_keys, record_side, started_at, completed_at, created_at)
     SELECT $1::uuid, 'scheduled', $2::text, $3::text, $4::text[],
       CASE WHEN $4::text[] IS NULL THEN NULL ELSE 'provider' END,
       CASE WHEN $2::text = 'queued' THEN NULL ELSE at END,
       CASE WHEN $2::text IN ('queued', 'running') THEN NULL ELSE at + interval '2 seconds' END,
       at
     FROM (SELECT now() - $5::float8 * interval '1 hour' AS at) t
     RETURNING id`,
    [jobId, status, extra.haltReason ?? null, extra.recordKeys ?? null, hoursAgo],
  );
  return rows[0]!.id;
}

/**
 * `count` finished whole runs spread evenly over the jobs and over the last `hours` hours (a fixed mix of
 * statuses: 80% completed, 8% completed with errors, 6% failed, 3% timed out, 3% cancelled). For load, not for
 * exact figures.
 */
export async function seedRuns(query: Query, jobIds: string[], count: number, hours = 48): Promise<void> {
  await query(
    `INSERT INTO sync_executions (job_id, trigger, status, halt_reason, started_at, completed_at, created_at)
     SELECT ids[1 + (i % cardinality(ids))], 'scheduled', s.status,
       CASE WHEN s.status IN ('failed', 'timed_out') THEN 'seeded failure' END,
       at, at + interval '2 seconds', at
     FROM (SELECT $1::uuid[] AS ids) j,
       generate_series(1, $2::int) AS i,
       LATERAL (SELECT now() - ($3::float8 * interval '1 hour') * (i::float8 / $2::int) AS at) t,
       LATERAL (SELECT CASE
         WHEN i % 100 < 80 THEN 'completed'
         WHEN i % 100 < 88 THEN 'completed_with_errors'
         WHEN i % 100 < 94 THEN 'failed'
         WHEN i % 100 < 97 THEN 'timed_out'
         ELSE 'cancelled' END AS status) s`,
    [jobIds, count, hours],
  );
}
