-- Alerts. A notification channel is where alerts go: a signed webhook or a Slack incoming webhook, for some
-- events, for every job (job_id null) or one job.
CREATE TABLE notification_channels (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name         text NOT NULL,
  type         text NOT NULL CHECK (type IN ('webhook', 'slack')),
  -- The URL as the API shows it: a Slack URL's token and query values masked. The real one is sealed in `target`.
  url          text NOT NULL,
  -- The credential vault's envelope (v1.<keyId>.…) of {"url": …, "signingSecret": …}.
  target       text NOT NULL,
  events       text[] NOT NULL CHECK (cardinality(events) > 0),
  job_id       uuid REFERENCES sync_jobs (id) ON DELETE CASCADE,
  enabled      boolean NOT NULL DEFAULT true,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notification_channels_job_idx ON notification_channels (job_id);

-- The delivery log: one row per attempt to deliver one alert (event_id) to one channel. The ids of the job and
-- execution are kept as they were (no foreign key): the log outlives a purged job. Response bodies are kept as a
-- short excerpt only.
CREATE TABLE alert_deliveries (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  channel_id        uuid NOT NULL REFERENCES notification_channels (id) ON DELETE CASCADE,
  event_id          uuid NOT NULL,
  event             text NOT NULL,
  job_id            uuid,
  execution_id      uuid,
  summary           text NOT NULL,
  attempt           integer NOT NULL CHECK (attempt >= 1),
  -- delivered: 2xx; retrying: refused or unreachable, the queue tries again later; failed: given up.
  outcome           text NOT NULL CHECK (outcome IN ('delivered', 'retrying', 'failed')),
  status_code       integer,
  error             text,
  response_excerpt  text,
  duration_ms       integer,
  created_at        timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX alert_deliveries_channel_idx ON alert_deliveries (channel_id, created_at DESC, id DESC);

-- No alert storms: the state each job was last alerted in, per event family (`runs`: the health of its whole runs),
-- and how many runs repeated that state without a new alert (the digest of the next alert or of the recovery).
CREATE TABLE alert_states (
  job_id             uuid NOT NULL REFERENCES sync_jobs (id) ON DELETE CASCADE,
  family             text NOT NULL CHECK (family IN ('runs')),
  state              text NOT NULL
                     CHECK (state IN ('ok', 'failed', 'timed_out', 'completed_with_errors', 'circuit_breaker')),
  -- When the job entered this state (the end of the run that moved it there).
  since              timestamptz NOT NULL,
  repeats            integer NOT NULL DEFAULT 0 CHECK (repeats >= 0),
  last_execution_id  uuid,
  last_halt_reason   text,
  updated_at         timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (job_id, family)
);
