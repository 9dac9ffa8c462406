-- Conflicts left for a person (strategy manual): both sides' content as the job maps it (local field names), the
-- fields that differ, and how a person resolved it.
CREATE TABLE conflicts (
  id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  job_id             uuid NOT NULL REFERENCES sync_jobs (id) ON DELETE CASCADE,
  -- The execution that raised it (last raised, for an open conflict edited again).
  execution_id       uuid REFERENCES sync_executions (id) ON DELETE SET NULL,
  local_id           text COLLATE "C" NOT NULL,
  external_id        text COLLATE "C" NOT NULL,
  -- Null for a side that deleted the record (a deletion against an update).
  local_content      jsonb,
  provider_content   jsonb,
  fields             text[] NOT NULL,
  content_hash       text NOT NULL,
  status             text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
  -- {"winner": "local"|"provider"} or {"fields": {"email": "local", …}}
  resolution         jsonb,
  resolved_by        text,
  resolved_at        timestamptz,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  CHECK ((status = 'resolved') = (resolved_at IS NOT NULL))
);
-- One open conflict per record of a job: a new edit updates it.
CREATE UNIQUE INDEX conflicts_open_idx ON conflicts (job_id, local_id) WHERE status = 'open';
CREATE INDEX conflicts_job_idx ON conflicts (job_id, status, created_at DESC, id DESC);
