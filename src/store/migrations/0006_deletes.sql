-- Deletes: a job's delete policy and mass-delete threshold, the `deleted` counter, deletions held back by the
-- mass-delete protection, soft-delete marks on references, and what a run stages to delete after its streams.

ALTER TABLE sync_jobs ADD COLUMN delete_policy text NOT NULL DEFAULT 'ignore'
  CHECK (delete_policy IN ('ignore', 'soft_delete', 'hard_delete'));
ALTER TABLE sync_jobs ADD COLUMN mass_delete_threshold numeric(5, 2) NOT NULL DEFAULT 20
  CHECK (mass_delete_threshold > 0 AND mass_delete_threshold <= 100);

ALTER TABLE sync_executions ADD COLUMN deleted integer NOT NULL DEFAULT 0 CHECK (deleted >= 0);
-- processed = created + updated + deleted + skipped + failed. The old sum check has a generated name: found
-- by its definition.
DO $$
DECLARE c text;
BEGIN
  FOR c IN SELECT conname FROM pg_constraint
           WHERE conrelid = 'sync_executions'::regclass AND contype = 'c'
             AND pg_get_constraintdef(oid) LIKE '%(((created + updated) + skipped) + failed) = processed%'
  LOOP
    EXECUTE format('ALTER TABLE sync_executions DROP CONSTRAINT %I', c);
  END LOOP;
END $$;
ALTER TABLE sync_executions ADD CONSTRAINT sync_executions_counters_sum
  CHECK (created + updated + deleted + skipped + failed = processed);
DO $$
DECLARE c text;
BEGIN
  FOR c IN SELECT conname FROM pg_constraint
           WHERE conrelid = 'sync_executions'::regclass AND contype = 'c'
             AND pg_get_constraintdef(oid) LIKE '%halt_kind%worker_lost%'
  LOOP
    EXECUTE format('ALTER TABLE sync_executions DROP CONSTRAINT %I', c);
  END LOOP;
END $$;
ALTER TABLE sync_executions ADD CONSTRAINT sync_executions_halt_kind_check CHECK (halt_kind IN
  ('circuit_breaker', 'error', 'configuration', 'timed_out', 'cancelled', 'connection_lost', 'worker_lost',
   'mass_delete'));
-- Mass-delete protection held this many deletions back (they wait in run_deletions, status 'held').
ALTER TABLE sync_executions ADD COLUMN held_deletions integer CHECK (held_deletions >= 0);
-- A run that applies the deletions another execution held back (no streams read; the cursor stays).
ALTER TABLE sync_executions ADD COLUMN apply_deletions_of uuid REFERENCES sync_executions (id) ON DELETE SET NULL;

-- A reference whose target record was soft-deleted: kept (the record may come back), marked.
ALTER TABLE external_references ADD COLUMN deleted_at timestamptz;

-- Source ids a whole run read from the start of a stream, for the sweep of a full run (records not seen are
-- deletions). A row with record_key '' marks that the stream was read from its start by this execution.
CREATE TABLE run_seen (
  execution_id uuid NOT NULL REFERENCES sync_executions (id) ON DELETE CASCADE,
  side         text NOT NULL CHECK (side IN ('local', 'provider')),
  record_key   text COLLATE "C" NOT NULL,
  PRIMARY KEY (execution_id, side, record_key)
);

-- Deletions a run found (tombstones, ids gone, the sweep), applied after its streams; `held` by the
-- mass-delete protection until a person applies them.
CREATE TABLE run_deletions (
  execution_id uuid NOT NULL REFERENCES sync_executions (id) ON DELETE CASCADE,
  job_id       uuid NOT NULL REFERENCES sync_jobs (id) ON DELETE CASCADE,
  -- The side the record was deleted on (the run's source side); record_key is its id there.
  side         text NOT NULL CHECK (side IN ('local', 'provider')),
  record_key   text COLLATE "C" NOT NULL,
  deleted_at   timestamptz,
  status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'held')),
  PRIMARY KEY (execution_id, side, record_key)
);
CREATE INDEX run_deletions_held_idx ON run_deletions (job_id) WHERE status = 'held';
