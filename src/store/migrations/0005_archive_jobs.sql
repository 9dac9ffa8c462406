-- Deleting a job archives it: it leaves lists and schedules (next_run_at is cleared, the scheduler skips
-- archived jobs), while its executions, failures and dead letters stay readable. Only an explicit purge
-- deletes the row (and, by cascade, its history).
ALTER TABLE sync_jobs ADD COLUMN archived_at timestamptz;
