-- 0001_init.sql was edited after it first shipped (7413085, 2026-11-25) instead of getting new migrations,
-- so a database created by an earlier text of it kept that text's schema. This brings a
-- database created by any earlier text of 0001 to the schema today's 0001 builds. Every step reads the
-- catalog first: on a database created by today's 0001 it runs no DDL at all.
-- (The edits of 53da338 and of 0002_server.sql in f769c40 changed comments only.)
DO $$
DECLARE
  c_collation oid := (SELECT oid FROM pg_collation WHERE collname = 'C' AND collnamespace = 'pg_catalog'::regnamespace);
  keys_ok boolean;
  col text;
BEGIN
  -- 65dd9bd: a dead letter a later change synced is 'resolved'.
  IF NOT EXISTS (
    SELECT 1 FROM pg_constraint
    WHERE conrelid = 'dead_letters'::regclass AND conname = 'dead_letters_status_check'
      AND pg_get_constraintdef(oid) LIKE '%''resolved''%'
  ) THEN
    ALTER TABLE dead_letters DROP CONSTRAINT IF EXISTS dead_letters_status_check;
    ALTER TABLE dead_letters ADD CONSTRAINT dead_letters_status_check
      CHECK (status IN ('open', 'retried', 'resolved', 'discarded'));
  END IF;

  -- 457820e: resumed attempts, cron fire times, queue jobs; the scheduler's and the reaper's indexes.
  IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'sync_executions'::regclass
                 AND attname = 'resumed_from' AND NOT attisdropped) THEN
    ALTER TABLE sync_executions ADD COLUMN resumed_from uuid REFERENCES sync_executions (id) ON DELETE SET NULL;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'sync_executions'::regclass
                 AND attname = 'window_start' AND NOT attisdropped) THEN
    ALTER TABLE sync_executions ADD COLUMN window_start timestamptz;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'sync_executions'::regclass
                 AND attname = 'scheduled_for' AND NOT attisdropped) THEN
    ALTER TABLE sync_executions ADD COLUMN scheduled_for timestamptz;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'sync_executions'::regclass
                 AND attname = 'queue_job_id' AND NOT attisdropped) THEN
    ALTER TABLE sync_executions ADD COLUMN queue_job_id text;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                 WHERE i.indrelid = 'sync_jobs'::regclass AND c.relname = 'sync_jobs_due_idx') THEN
    CREATE INDEX sync_jobs_due_idx ON sync_jobs (next_run_at) WHERE enabled AND schedule_cron IS NOT NULL;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                 WHERE i.indrelid = 'sync_executions'::regclass AND c.relname = 'sync_executions_fire_time_idx') THEN
    CREATE UNIQUE INDEX sync_executions_fire_time_idx ON sync_executions (job_id, scheduled_for)
      WHERE scheduled_for IS NOT NULL;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                 WHERE i.indrelid = 'sync_executions'::regclass AND c.relname = 'sync_executions_running_idx') THEN
    CREATE INDEX sync_executions_running_idx ON sync_executions (heartbeat_at) WHERE status = 'running';
  END IF;

  -- 2534470: no foreign key from external references to connections (connections.delete removes them).
  IF EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = 'external_references'::regclass
             AND conname = 'external_references_connection_id_fkey') THEN
    ALTER TABLE external_references DROP CONSTRAINT external_references_connection_id_fkey;
  END IF;
  -- 1de39ea: no surrogate key (dropping the column drops its primary key).
  IF EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'external_references'::regclass
             AND attname = 'id' AND NOT attisdropped) THEN
    ALTER TABLE external_references DROP COLUMN id;
  END IF;
  -- 6439bcc, 1de39ea: the keys lead with the id, and the external key is the primary key. Rebuilt after
  -- the collation change below, so that their indexes are built once.
  keys_ok := (
    SELECT count(*) = 2 FROM pg_constraint
    WHERE conrelid = 'external_references'::regclass
      AND (conname, pg_get_constraintdef(oid)) IN (
        ('external_references_external_key', 'PRIMARY KEY (external_id, entity_type, connection_id)'),
        ('external_references_local_key', 'UNIQUE (local_id, entity_type, connection_id)'))
  );
  IF NOT keys_ok THEN
    ALTER TABLE external_references DROP CONSTRAINT IF EXISTS external_references_external_key;
    ALTER TABLE external_references DROP CONSTRAINT IF EXISTS external_references_local_key;
  END IF;
  -- 9eaeff4: ids compare byte for byte (deterministic collations compare equal only when the bytes are
  -- equal, so no two existing ids can collide under "C").
  FOREACH col IN ARRAY ARRAY['entity_type', 'local_id', 'external_id'] LOOP
    IF (SELECT attcollation FROM pg_attribute WHERE attrelid = 'external_references'::regclass
        AND attname = col AND NOT attisdropped) <> c_collation THEN
      EXECUTE format('ALTER TABLE external_references ALTER COLUMN %I TYPE text COLLATE "C"', col);
    END IF;
  END LOOP;
  IF NOT keys_ok THEN
    ALTER TABLE external_references
      ADD CONSTRAINT external_references_external_key PRIMARY KEY (external_id, entity_type, connection_id),
      ADD CONSTRAINT external_references_local_key UNIQUE (local_id, entity_type, connection_id);
  END IF;
END
$$;
