import type { ColumnType, Generated } from 'kysely';

/** Database row types (snake_case), one interface per table. API types live in src/domain/types.ts. */

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
type Json<T = unknown> = ColumnType<T, string, string>;

export interface ConnectionsTable {
  id: Generated<string>;
  name: string;
  provider: string;
  config: ColumnType<Record<string, unknown>, string | undefined, string>;
  credentials: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
  last_test_ok: boolean | null;
  last_test_message: string | null;
  last_tested_at: NullableTimestamp;
}

export interface SyncJobsTable {
  id: Generated<string>;
  connection_id: string;
  name: string;
  entity_type: string;
  direction: string;
  mode: string;
  schedule_cron: string | null;
  schedule_timezone: string | null;
  retry_on_failure: boolean;
  max_retries: number;
  timeout_minutes: number;
  conflict_strategy: string | null;
  delete_policy: ColumnType<string, string | undefined, string>;
  mass_delete_threshold: ColumnType<string, number | undefined, number>;
  enabled: boolean;
  local_entity: string | null;
  cursor: NullableTimestamp;
  archived_at: NullableTimestamp;
  last_run_at: NullableTimestamp;
  next_run_at: NullableTimestamp;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface FieldMappingRulesTable {
  id: Generated<string>;
  job_id: string;
  position: number;
  direction: string;
  source_field: string;
  target_field: string;
  transform: Json<{ name: string; args?: Record<string, unknown> } | null> | null;
  default_value: Json | null;
}

export interface ExternalReferencesTable {
  connection_id: string;
  entity_type: string;
  local_id: string;
  external_id: string;
  inbound_hash: string | null;
  outbound_hash: string | null;
  local_version: string | null;
  external_version: string | null;
  last_synced_at: Timestamp;
  created_at: Timestamp;
  deleted_at: NullableTimestamp;
  created_execution_id: string | null;
}

export interface SyncExecutionsTable {
  id: Generated<string>;
  job_id: string;
  trigger: string;
  attempt: ColumnType<number, number | undefined, number>;
  status: string;
  processed: ColumnType<number, number | undefined, number>;
  created: ColumnType<number, number | undefined, number>;
  updated: ColumnType<number, number | undefined, number>;
  skipped: ColumnType<number, number | undefined, number>;
  failed: ColumnType<number, number | undefined, number>;
  conflicts: ColumnType<number, number | undefined, number>;
  deleted: ColumnType<number, number | undefined, number>;
  held_deletions: number | null;
  apply_deletions_of: string | null;
  read_ms: number | null;
  write_ms: number | null;
  rate_limit_wait_ms: number | null;
  retry_wait_ms: number | null;
  direction_counters: Json | null;
  halt_reason: string | null;
  halt_kind: string | null;
  record_keys: string[] | null;
  record_side: string | null;
  checkpoint: Json | null;
  resumed_from: string | null;
  window_start: NullableTimestamp;
  cancel_requested_at: NullableTimestamp;
  scheduled_for: NullableTimestamp;
  queue_job_id: string | null;
  worker_id: string | null;
  heartbeat_at: NullableTimestamp;
  started_at: NullableTimestamp;
  completed_at: NullableTimestamp;
  duration_seconds: ColumnType<string | null, number | null | undefined, number | null>;
  created_at: Timestamp;
}

export interface RecordFailuresTable {
  id: Generated<string>;
  execution_id: string;
  job_id: string;
  record_key: string;
  side: string;
  phase: string;
  error_kind: string;
  message: string;
  created_at: Timestamp;
}

export interface RetryItemsTable {
  job_id: string;
  side: string;
  record_key: string;
  failure_count: number;
  last_execution_id: string;
  last_error: string;
  source_hash: string | null;
  first_failed_at: Timestamp;
  last_failed_at: Timestamp;
}

export interface DeadLettersTable {
  id: Generated<string>;
  job_id: string;
  side: string;
  record_key: string;
  failure_count: number;
  last_error: string;
  last_execution_id: string;
  source_hash: string | null;
  first_failed_at: Timestamp;
  status: string;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface DB {
  connections: ConnectionsTable;
  sync_jobs: SyncJobsTable;
  field_mapping_rules: FieldMappingRulesTable;
  external_references: ExternalReferencesTable;
  sync_executions: SyncExecutionsTable;
  record_failures: RecordFailuresTable;
  retry_items: RetryItemsTable;
  dead_letters: DeadLettersTable;
  webhook_events: WebhookEventsTable;
  run_seen: RunSeenTable;
  conflicts: ConflictsTable;
  execution_log: ExecutionLogTable;
  record_events: RecordEventsTable;
  maintenance_leases: { name: string; holder: string | null; until: Date };
  run_deletions: RunDeletionsTable;
  notification_channels: NotificationChannelsTable;
  alert_deliveries: AlertDeliveriesTable;
  alert_states: AlertStatesTable;
}

export interface RunSeenTable {
  execution_id: string;
  side: string;
  record_key: string;
}

export interface RunDeletionsTable {
  execution_id: string;
  job_id: string;
  side: string;
  record_key: string;
  deleted_at: NullableTimestamp;
  status: ColumnType<string, string | undefined, string>;
}

export interface WebhookEventsTable {
  connection_id: string;
  event_id: string;
  entity_type: string;
  record_id: string;
  received_at: Generated<Date>;
}

export interface ConflictsTable {
  id: Generated<string>;
  job_id: string;
  execution_id: string | null;
  local_id: string;
  external_id: string;
  local_content: Json<Record<string, unknown>> | null;
  provider_content: Json<Record<string, unknown>> | null;
  fields: string[];
  content_hash: string;
  status: ColumnType<string, string | undefined, string>;
  resolution: Json | null;
  resolved_by: string | null;
  resolved_at: NullableTimestamp;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface ExecutionLogTable {
  id: Generated<number>;
  execution_id: string;
  at: Generated<Date>;
  level: string;
  event: string;
  message: string;
  data: Json<Record<string, unknown>> | null;
}

export interface NotificationChannelsTable {
  id: Generated<string>;
  name: string;
  type: string;
  /** As shown by the API (secrets masked); the real URL is sealed in `target`. */
  url: string;
  /** The vault's envelope of `{ url, signingSecret }`. */
  target: string;
  events: string[];
  job_id: string | null;
  enabled: ColumnType<boolean, boolean | undefined, boolean>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface AlertDeliveriesTable {
  id: Generated<string>;
  channel_id: string;
  event_id: string;
  event: string;
  job_id: string | null;
  execution_id: string | null;
  summary: string;
  attempt: number;
  outcome: string;
  status_code: number | null;
  error: string | null;
  response_excerpt: string | null;
  duration_ms: number | null;
  created_at: Timestamp;
}

export interface AlertStatesTable {
  job_id: string;
  family: string;
  state: string;
  since: Timestamp;
  repeats: ColumnType<number, number | undefined, number>;
  last_execution_id: string | null;
  last_halt_reason: string | null;
  updated_at: Timestamp;
}

export interface RecordEventsTable {
  execution_id: string;
  job_id: string;
  side: string;
  record_key: string;
  outcome: string;
  at: Generated<Date>;
}
