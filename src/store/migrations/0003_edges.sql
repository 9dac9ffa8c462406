-- The engine's promises at the edges: manual conflicts counted apart, per-direction counters of
-- bidirectional runs, the first failure of a dead letter, and parked records known by their source content.

-- Records left in conflict under the `manual` strategy; they are among `skipped`.
ALTER TABLE sync_executions ADD COLUMN conflicts integer NOT NULL DEFAULT 0 CHECK (conflicts >= 0);
ALTER TABLE sync_executions ADD CHECK (conflicts <= skipped);
-- Bidirectional runs: {"inbound": {processed, created, updated, skipped, failed, conflicts}, "outbound": {…}}.
ALTER TABLE sync_executions ADD COLUMN direction_counters jsonb;

-- Why a run ended early, as a word (the reason stays in halt_reason): decides whether it is retried.
ALTER TABLE sync_executions ADD COLUMN halt_kind text CHECK (halt_kind IN
  ('circuit_breaker', 'error', 'configuration', 'timed_out', 'cancelled', 'connection_lost', 'worker_lost'));

-- Hash of the source record's content when it last failed: a parked record is attempted again only
-- when its source content changes (or a person retries it).
ALTER TABLE retry_items ADD COLUMN source_hash text;
ALTER TABLE dead_letters ADD COLUMN source_hash text;
-- When the record first failed (carried over from the retry set), as opposed to when it was parked.
ALTER TABLE dead_letters ADD COLUMN first_failed_at timestamptz;
UPDATE dead_letters SET first_failed_at = created_at;
ALTER TABLE dead_letters ALTER COLUMN first_failed_at SET NOT NULL;
ALTER TABLE dead_letters ALTER COLUMN first_failed_at SET DEFAULT now();
-- Runs look up a job's parked records (open and discarded) by job.
CREATE INDEX dead_letters_parked_idx ON dead_letters (job_id, side, record_key) WHERE status IN ('open', 'discarded');
