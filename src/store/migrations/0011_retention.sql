-- Bounded history: old executions are pruned in small batches (their failures, run log, record events and run
-- bookkeeping go with them by cascade). One pruner at a time across all workers: a lease row.
CREATE TABLE maintenance_leases (
  name    text PRIMARY KEY,
  holder  text,
  until   timestamptz NOT NULL DEFAULT '-infinity'
);
INSERT INTO maintenance_leases (name) VALUES ('prune');

-- Deleting an execution sets these references to null: without an index each delete would scan the table.
CREATE INDEX sync_executions_resumed_from_idx ON sync_executions (resumed_from) WHERE resumed_from IS NOT NULL;
CREATE INDEX sync_executions_apply_deletions_idx ON sync_executions (apply_deletions_of)
  WHERE apply_deletions_of IS NOT NULL;
CREATE INDEX conflicts_execution_idx ON conflicts (execution_id) WHERE execution_id IS NOT NULL;
-- Executions by age, for the pruner.
CREATE INDEX sync_executions_created_idx ON sync_executions (created_at);
-- (webhook_events_received_idx, by age, exists since 0001.)
