-- The server's additions: a job's local entity, a connection's last credential check, and provider
-- webhook events stored once (replays of an event id are ignored).

-- The local entity (table) a job syncs with; null means the local entity named like the entity type.
ALTER TABLE sync_jobs ADD COLUMN local_entity text CHECK (local_entity <> '');

-- The result of the last "Test connection": null until tested.
ALTER TABLE connections ADD COLUMN last_test_ok boolean;
ALTER TABLE connections ADD COLUMN last_test_message text;
ALTER TABLE connections ADD COLUMN last_tested_at timestamptz;
ALTER TABLE connections ADD CHECK ((last_test_ok IS NULL) = (last_tested_at IS NULL));

CREATE TABLE webhook_events (
  connection_id uuid NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
  event_id      text NOT NULL CHECK (event_id <> ''),
  entity_type   text NOT NULL,
  record_id     text NOT NULL,
  received_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (connection_id, event_id)
);
-- Events older than 30 days are pruned (receiveWebhook, at most hourly).
CREATE INDEX webhook_events_received_idx ON webhook_events (received_at);
