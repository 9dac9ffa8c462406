-- The console at fleet size (thousands of jobs, a hundred thousand executions): indexes for its lists and overview.

-- A job's runs newest first, ties broken by id, as every "latest run" and history query orders them: a job's newest
-- run is one index probe with no sort (the jobs list's last runs, a connection's newest run, the failing jobs).
DROP INDEX sync_executions_job_idx;
CREATE INDEX sync_executions_job_idx ON sync_executions (job_id, created_at DESC, id DESC);

-- Runs per hour by status (the fleet overview) from the index alone; the pruner's scans by age use it as before.
-- (Status already takes part in partial indexes, so carrying it here costs no HOT updates.)
DROP INDEX sync_executions_created_idx;
CREATE INDEX sync_executions_created_idx ON sync_executions (created_at) INCLUDE (status);

-- The runs waiting for a worker, counted without reading the table.
CREATE INDEX sync_executions_queued_idx ON sync_executions (created_at) WHERE status = 'queued';

-- A connection's jobs a page at a time, in creation order.
CREATE INDEX sync_jobs_connection_page_idx ON sync_jobs (connection_id, created_at, id) WHERE archived_at IS NULL;
