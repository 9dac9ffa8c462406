/**
 * The fleet overview: what an operator of many jobs looks at first. Runs per hour by status over the last 24
 * hours, the jobs failing now, the open dead letters, and the fleet's size and activity.
 *
 * Four aggregate queries, whatever the fleet's size: none reads a row per job into the process. The hours are
 * an index range scan of the last day's executions (sync_executions_created_idx); the failing jobs one probe of
 * each job's newest finished whole run (sync_executions_job_idx); the counts of queued and running runs read a
 * partial index of the active runs (0012_fleet_console.sql).
 */
import { type Kysely, sql } from 'kysely';
import { EXECUTION_STATUSES, type ExecutionStatus } from '../domain/types.ts';
import type { DB } from '../store/schema.ts';

/** The hours the overview covers: the current hour and the 23 before it. */
export const OVERVIEW_HOURS = 24;
/** The failing jobs listed (the newest failures first); `failingJobs.total` counts them all. */
export const FAILING_JOBS_SHOWN = 50;
/** The jobs with open dead letters listed (the most first). */
export const DEAD_LETTER_JOBS_SHOWN = 10;
/** A failing job's run of consecutive failures is counted up to this many (this many means "at least"). */
export const CONSECUTIVE_FAILURES_CAP = 100;

/** One hour of runs: executions created in [hour, hour + 1 h), by their status now. */
export interface FleetHour {
  /** The hour's start (UTC). */
  hour: Date;
  total: number;
  statuses: Record<ExecutionStatus, number>;
}

/** A job whose newest finished whole run failed or timed out. */
export interface FailingJob {
  jobId: string;
  jobName: string;
  enabled: boolean;
  connectionId: string;
  connectionName: string;
  /** The failed run. */
  executionId: string;
  lastStatus: 'failed' | 'timed_out';
  /** When the failed run ended. */
  lastRunAt: Date | null;
  haltReason: string | null;
  /** Its newest finished whole runs that failed or timed out, in a row (at most `CONSECUTIVE_FAILURES_CAP`). */
  consecutiveFailures: number;
}

export interface FleetOverview {
  /** When the figures were read (the database's clock). */
  at: Date;
  /** `OVERVIEW_HOURS` hours, oldest first, hours without runs included (zeros). */
  hours: FleetHour[];
  /** The newest failures first: at most `FAILING_JOBS_SHOWN` items; `total` counts every failing job. */
  failingJobs: { total: number; items: FailingJob[] };
  /** Open dead letters of jobs that are not archived, and the jobs holding the most. */
  deadLetters: {
    open: number;
    jobs: number;
    byJob: { jobId: string; jobName: string; connectionName: string; open: number }[];
  };
  totals: {
    connections: number;
    /** Jobs that are not archived. */
    jobs: number;
    enabledJobs: number;
    runningNow: number;
    queuedNow: number;
  };
}

const FAILED_STATUSES = ['failed', 'timed_out'] as const;
/** The origin of the hour buckets: a whole UTC hour. */
const EPOCH = '2000-01-01T00:00:00Z';

export function fleetService({ db }: { db: Kysely<DB> }) {
  /**
   * Counts per hour (UTC) and status of the executions created since the start of the oldest hour, read from
   * sync_executions_created_idx alone. `date_bin` on whole UTC hours, not `date_trunc(…, 'UTC')`: the same
   * buckets without a time zone conversion per row (a third of the query's time).
   */
  const hourly = () =>
    sql<{ hour: Date; status: string; n: number }>`
      SELECT date_bin('1 hour', created_at, ${EPOCH}::timestamptz) AS hour, status, count(*)::int AS n
      FROM sync_executions
      WHERE created_at >=
        date_bin('1 hour', now(), ${EPOCH}::timestamptz) - make_interval(hours => ${OVERVIEW_HOURS - 1})
      GROUP BY 1, 2`.execute(db);

  const figures = () =>
    sql<{
      at: Date;
      current_hour: Date;
      connections: number;
      jobs: number;
      enabled_jobs: number;
      running: number;
      queued: number;
    }>`
      SELECT now() AS at,
        date_bin('1 hour', now(), ${EPOCH}::timestamptz) AS current_hour,
        (SELECT count(*) FROM connections)::int AS connections,
        (SELECT count(*) FROM sync_jobs WHERE archived_at IS NULL)::int AS jobs,
        (SELECT count(*) FROM sync_jobs WHERE archived_at IS NULL AND enabled)::int AS enabled_jobs,
        (SELECT count(*) FROM sync_executions WHERE status = 'running')::int AS running,
        (SELECT count(*) FROM sync_executions WHERE status = 'queued')::int AS queued`.execute(db);

  /**
   * Each job's newest finished whole run (single-record runs aside: a webhook's one record does not stand for
   * the job), kept when it failed or timed out; the newest failures first, with the total and each one's streak.
   */
  const failing = () =>
    sql<{
      job_id: string;
      job_name: string;
      enabled: boolean;
      connection_id: string;
      connection_name: string;
      execution_id: string;
      status: 'failed' | 'timed_out';
      completed_at: Date | null;
      halt_reason: string | null;
      total: number;
      streak: number;
    }>`
      WITH failing AS (
        SELECT j.id AS job_id, j.name AS job_name, j.enabled, j.connection_id, c.name AS connection_name,
          e.id AS execution_id, e.status, e.completed_at, e.created_at, e.halt_reason,
          count(*) OVER ()::int AS total
        FROM sync_jobs j
        JOIN connections c ON c.id = j.connection_id
        CROSS JOIN LATERAL (
          SELECT x.id, x.status, x.completed_at, x.created_at, x.halt_reason
          FROM sync_executions x
          WHERE x.job_id = j.id AND x.record_keys IS NULL AND x.status NOT IN ('queued', 'running')
          ORDER BY x.created_at DESC, x.id DESC
          LIMIT 1
        ) e
        WHERE j.archived_at IS NULL AND e.status IN (${sql.join(FAILED_STATUSES)})
        ORDER BY e.completed_at DESC NULLS LAST, e.id DESC
        LIMIT ${FAILING_JOBS_SHOWN}
      )
      SELECT f.*, (
        SELECT coalesce(min(r.n) FILTER (WHERE r.status NOT IN (${sql.join(FAILED_STATUSES)})) - 1, count(*))::int
        FROM (
          SELECT x.status, row_number() OVER (ORDER BY x.created_at DESC, x.id DESC) AS n
          FROM sync_executions x
          WHERE x.job_id = f.job_id AND x.record_keys IS NULL AND x.status NOT IN ('queued', 'running')
          ORDER BY x.created_at DESC, x.id DESC
          LIMIT ${CONSECUTIVE_FAILURES_CAP}
        ) r
      ) AS streak
      FROM failing f
      ORDER BY f.completed_at DESC NULLS LAST, f.execution_id DESC`.execute(db);

  /** Open dead letters of the jobs that are not archived: the total, and per job (the most first). */
  const deadLetters = () =>
    sql<{ job_id: string; job_name: string; connection_name: string; open: number; total: number; jobs: number }>`
      SELECT d.job_id, j.name AS job_name, c.name AS connection_name, count(*)::int AS open,
        (sum(count(*)) OVER ())::int AS total, (count(*) OVER ())::int AS jobs
      FROM dead_letters d
      JOIN sync_jobs j ON j.id = d.job_id
      JOIN connections c ON c.id = j.connection_id
      WHERE d.status = 'open' AND j.archived_at IS NULL
      GROUP BY d.job_id, j.name, c.name
      ORDER BY open DESC, j.name, d.job_id
      LIMIT ${DEAD_LETTER_JOBS_SHOWN}`.execute(db);

  return {
    overview: async (): Promise<FleetOverview> => {
      const [hours, now, fails, letters] = await Promise.all([hourly(), figures(), failing(), deadLetters()]);
      const f = now.rows[0]!;
      const counted = new Map<number, Map<string, number>>();
      for (const r of hours.rows) {
        const at = new Date(r.hour).getTime();
        if (!counted.has(at)) counted.set(at, new Map());
        counted.get(at)!.set(r.status, Number(r.n));
      }
      const current = new Date(f.current_hour).getTime();
      const buckets: FleetHour[] = [];
      for (let i = OVERVIEW_HOURS - 1; i >= 0; i--) {
        const hour = new Date(current - i * 3_600_000);
        const found = counted.get(hour.getTime());
        const statuses = Object.fromEntries(EXECUTION_STATUSES.map((s) => [s, found?.get(s) ?? 0])) as Record<
          ExecutionStatus,
          number
        >;
        buckets.push({ hour, total: Object.values(statuses).reduce((a, b) => a + b, 0), statuses });
      }
      const first = letters.rows[0];
      return {
        at: new Date(f.at),
        hours: buckets,
        failingJobs: {
          total: Number(fails.rows[0]?.total ?? 0),
          items: fails.rows.map((r) => ({
            jobId: r.job_id,
            jobName: r.job_name,
            enabled: r.enabled,
            connectionId: r.connection_id,
            connectionName: r.connection_name,
            executionId: r.execution_id,
            lastStatus: r.status,
            lastRunAt: r.completed_at === null ? null : new Date(r.completed_at),
            haltReason: r.halt_reason,
            consecutiveFailures: Number(r.streak),
          })),
        },
        deadLetters: {
          open: Number(first?.total ?? 0),
          jobs: Number(first?.jobs ?? 0),
          byJob: letters.rows.map((r) => ({
            jobId: r.job_id,
            jobName: r.job_name,
            connectionName: r.connection_name,
            open: Number(r.open),
          })),
        },
        totals: {
          connections: Number(f.connections),
          jobs: Number(f.jobs),
          enabledJobs: Number(f.enabled_jobs),
          runningNow: Number(f.running),
          queuedNow: Number(f.queued),
        },
      };
    },
  };
}

export type FleetService = ReturnType<typeof fleetService>;
