-- otesse-sync schema, version 1. Constraints make wrong states impossible rather than merely unlikely.

CREATE TABLE connections (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  provider    text NOT NULL CHECK (provider <> ''),
  config      jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(config) = 'object'),
  -- AES-256-GCM envelope of the credentials object; never returned by the API.
  credentials text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sync_jobs (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  connection_id     uuid NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
  name              text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  entity_type       text NOT NULL CHECK (entity_type <> ''),
  direction         text NOT NULL CHECK (direction IN ('inbound', 'outbound', 'bidirectional')),
  mode              text NOT NULL CHECK (mode IN ('full', 'incremental')),
  -- Both null: manual only. Both set: a cron expression and its IANA time zone.
  schedule_cron     text,
  schedule_timezone text,
  retry_on_failure  boolean NOT NULL DEFAULT true,
  max_retries       integer NOT NULL DEFAULT 3 CHECK (max_retries BETWEEN 1 AND 10),
  timeout_minutes   integer NOT NULL DEFAULT 60 CHECK (timeout_minutes BETWEEN 1 AND 1440),
  conflict_strategy text CHECK (conflict_strategy IN ('provider_wins', 'local_wins', 'newest_wins', 'manual')),
  enabled           boolean NOT NULL DEFAULT true,
  cursor            timestamptz,
  last_run_at       timestamptz,
  next_run_at       timestamptz,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  CHECK ((schedule_cron IS NULL) = (schedule_timezone IS NULL)),
  CHECK ((direction = 'bidirectional') = (conflict_strategy IS NOT NULL))
);
CREATE INDEX sync_jobs_connection_idx ON sync_jobs (connection_id);
-- The scheduler claims due jobs by this.
CREATE INDEX sync_jobs_due_idx ON sync_jobs (next_run_at) WHERE enabled AND schedule_cron IS NOT NULL;

CREATE TABLE field_mapping_rules (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  job_id        uuid NOT NULL REFERENCES sync_jobs (id) ON DELETE CASCADE,
  position      integer NOT NULL CHECK (position >= 0),
  direction     text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
  source_field  text NOT NULL CHECK (source_field <> ''),
  target_field  text NOT NULL CHECK (target_field <> ''),
  transform     jsonb,
  -- The default as {"value": …}; SQL NULL means "no default" (so a default of JSON null is kept).
  default_value jsonb,
  UNIQUE (job_id, position),
  UNIQUE (job_id, direction, target_field)
);

CREATE TABLE external_references (
  -- No foreign key to connections: its check would cost a lookup per inserted reference on every page.
  -- Deleting a connection deletes its references (SyncEngine.connections.delete).
  connection_id    uuid NOT NULL,
  -- Ids are compared byte for byte ("C"): the keys' btree comparisons are the hottest code of a page commit,
  -- and a linguistic collation (strcoll) costs there without ordering ids any better.
  entity_type      text COLLATE "C" NOT NULL,
  local_id         text COLLATE "C" NOT NULL,
  external_id      text COLLATE "C" NOT NULL,
  -- Hash of the local-side content the provider record maps to, as last synced (inbound echo/dedupe).
  inbound_hash     text,
  -- Hash of the provider-side content the local record maps to, as last synced (outbound echo/dedupe).
  outbound_hash    text,
  local_version    text,
  external_version text,
  last_synced_at   timestamptz NOT NULL DEFAULT now(),
  created_at       timestamptz NOT NULL DEFAULT now(),
  -- The id leads each key: a page's lookup (`external_id = ANY($ids)`) can only be answered by descending
  -- once per id. With (connection_id, …) first, a planner without statistics (a table that just grew from
  -- empty) may scan the whole connection's range per page instead: measured 100-300 ms a page at 1M refs.
  -- No surrogate key: every page inserts up to 100 references, and each extra index costs on each one.
  CONSTRAINT external_references_external_key PRIMARY KEY (external_id, entity_type, connection_id),
  CONSTRAINT external_references_local_key UNIQUE (local_id, entity_type, connection_id)
);

CREATE TABLE sync_executions (
  id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  job_id              uuid NOT NULL REFERENCES sync_jobs (id) ON DELETE CASCADE,
  trigger             text NOT NULL CHECK (trigger IN ('manual', 'scheduled', 'webhook', 'retry')),
  attempt             integer NOT NULL DEFAULT 1 CHECK (attempt >= 1),
  status              text NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'completed_with_errors',
                                                      'failed', 'timed_out', 'cancelled')),
  processed           integer NOT NULL DEFAULT 0 CHECK (processed >= 0),
  created             integer NOT NULL DEFAULT 0 CHECK (created >= 0),
  updated             integer NOT NULL DEFAULT 0 CHECK (updated >= 0),
  skipped             integer NOT NULL DEFAULT 0 CHECK (skipped >= 0),
  failed              integer NOT NULL DEFAULT 0 CHECK (failed >= 0),
  halt_reason         text,
  -- Set for single-record runs (webhook, dead letter retry): the only source records this run touches.
  record_keys         text[],
  record_side         text CHECK (record_side IN ('local', 'provider')),
  CHECK ((record_keys IS NULL) = (record_side IS NULL)),
  -- Where the source stream stood after the last committed page; a resumed attempt starts there.
  checkpoint          jsonb,
  -- The earlier attempt this one resumes, and the start of the first attempt of that chain: the
  -- incremental cursor a success leaves behind (pages read by earlier attempts started there).
  resumed_from        uuid REFERENCES sync_executions (id) ON DELETE SET NULL,
  window_start        timestamptz,
  cancel_requested_at timestamptz,
  -- Scheduled runs: the cron fire time this execution serves (one execution per fire time).
  scheduled_for       timestamptz,
  -- The queue job (pg-boss) carrying this execution, and the worker process running it.
  queue_job_id        text,
  worker_id           text,
  heartbeat_at        timestamptz,
  started_at          timestamptz,
  completed_at        timestamptz,
  duration_seconds    numeric(12, 3) CHECK (duration_seconds >= 0),
  created_at          timestamptz NOT NULL DEFAULT now(),
  CHECK (created + updated + skipped + failed = processed),
  CHECK ((status IN ('queued', 'running')) = (completed_at IS NULL)),
  CHECK (status = 'queued' OR started_at IS NOT NULL)
);
CREATE INDEX sync_executions_job_idx ON sync_executions (job_id, created_at DESC);
CREATE UNIQUE INDEX sync_executions_fire_time_idx ON sync_executions (job_id, scheduled_for)
  WHERE scheduled_for IS NOT NULL;
-- The reaper looks for running executions whose worker stopped sending heartbeats.
CREATE INDEX sync_executions_running_idx ON sync_executions (heartbeat_at) WHERE status = 'running';
-- One whole run per job at a time; single-record runs may run beside it.
CREATE UNIQUE INDEX sync_executions_one_running_idx ON sync_executions (job_id)
  WHERE status = 'running' AND record_keys IS NULL;

CREATE TABLE record_failures (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  execution_id uuid NOT NULL REFERENCES sync_executions (id) ON DELETE CASCADE,
  job_id       uuid NOT NULL REFERENCES sync_jobs (id) ON DELETE CASCADE,
  record_key   text NOT NULL,
  side         text NOT NULL CHECK (side IN ('local', 'provider')),
  phase        text NOT NULL CHECK (phase IN ('fetch', 'map', 'conflict', 'write')),
  error_kind   text NOT NULL,
  message      text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX record_failures_execution_idx ON record_failures (execution_id);

-- The retry set: records that failed in earlier executions and are retried by later runs.
-- `side` is the side the record is read from.
CREATE TABLE retry_items (
  job_id            uuid NOT NULL REFERENCES sync_jobs (id) ON DELETE CASCADE,
  side              text NOT NULL CHECK (side IN ('local', 'provider')),
  record_key        text NOT NULL,
  failure_count     integer NOT NULL CHECK (failure_count >= 1),
  last_execution_id uuid NOT NULL,
  last_error        text NOT NULL,
  first_failed_at   timestamptz NOT NULL DEFAULT now(),
  last_failed_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (job_id, side, record_key)
);

CREATE TABLE dead_letters (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  job_id            uuid NOT NULL REFERENCES sync_jobs (id) ON DELETE CASCADE,
  side              text NOT NULL CHECK (side IN ('local', 'provider')),
  record_key        text NOT NULL,
  failure_count     integer NOT NULL CHECK (failure_count >= 3),
  last_error        text NOT NULL,
  last_execution_id uuid NOT NULL,
  -- open: parked; retried: a person retried it and it synced; resolved: a later change synced it; discarded.
  status            text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'retried', 'resolved', 'discarded')),
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX dead_letters_open_idx ON dead_letters (job_id, side, record_key) WHERE status = 'open';
CREATE INDEX dead_letters_job_idx ON dead_letters (job_id, created_at DESC);
