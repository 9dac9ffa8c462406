-- What each execution did to each record it changed (updated, deleted) or could not (failed, conflict): the record
-- inspector's history. Unchanged (skipped) records are not listed, so a run of a million unchanged records writes
-- nothing here; creates are not either: the reference keeps the execution that created it (created_execution_id),
-- which costs a bulk first sync nothing (measured: a row per created record slowed it by a fifth). Written with the
-- page commit (one statement per page).
CREATE TABLE record_events (
  execution_id uuid NOT NULL REFERENCES sync_executions (id) ON DELETE CASCADE,
  job_id       uuid NOT NULL,
  -- The side the record was read from, and its id there.
  side         text NOT NULL CHECK (side IN ('local', 'provider')),
  record_key   text COLLATE "C" NOT NULL,
  outcome      text NOT NULL CHECK (outcome IN ('updated', 'deleted', 'failed', 'conflict')),
  at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX record_events_record_idx ON record_events (job_id, record_key, at DESC);
CREATE INDEX record_events_execution_idx ON record_events (execution_id);

-- The execution whose write created the reference (and the record on its target side).
ALTER TABLE external_references ADD COLUMN created_execution_id uuid;
