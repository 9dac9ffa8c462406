-- The pruner keeps every execution an open dead letter points to: each batch asks, per candidate, whether one
-- does. Without this index that question read the whole dead-letter table.
CREATE INDEX dead_letters_open_execution_idx ON dead_letters (last_execution_id) WHERE status = 'open';
