-- The run log: what happened in an execution, in order (start, pages committed, retries and rate-limit waits,
-- breaker trips, timeouts, cancellation, release and resume, halt, final status). Bounded per execution by the
-- engine (1,000 entries of pages and retries; lifecycle entries always). Never credentials, never record content
-- beyond ids.
CREATE TABLE execution_log (
  id           bigserial PRIMARY KEY,
  execution_id uuid NOT NULL REFERENCES sync_executions (id) ON DELETE CASCADE,
  at           timestamptz NOT NULL DEFAULT clock_timestamp(),
  level        text NOT NULL CHECK (level IN ('info', 'warn', 'error')),
  event        text NOT NULL,
  message      text NOT NULL,
  data         jsonb
);
CREATE INDEX execution_log_execution_idx ON execution_log (execution_id, id);

-- Where an execution's time went (milliseconds): reading the source, writing (endpoint writes and page commits),
-- waiting on rate limits (429s), waiting to retry other transient failures.
ALTER TABLE sync_executions ADD COLUMN read_ms bigint, ADD COLUMN write_ms bigint,
  ADD COLUMN rate_limit_wait_ms bigint, ADD COLUMN retry_wait_ms bigint;
