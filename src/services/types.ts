import type { Logger } from 'pino';
import type { OutboundPolicy } from '../connectors/http/guard.ts';
import type { AlertDelivery, ChannelWithSecret, NotificationChannel } from '../domain/alerts.ts';
import type {
  Conflict,
  Connection,
  DeadLetter,
  ExecutionStatus,
  RecordFailure,
  RunLogEntry,
  RunOptions,
  Side,
  StartedRun,
  SyncExecution,
  SyncJob,
  Trigger,
} from '../domain/types.ts';
import type { ProviderDefinition, WebhookDelivery } from '../engine/endpoint.ts';
import type { RunRetryDelays, TransientRetryPolicy } from '../engine/retry.ts';
import type { PreviewItem } from '../engine/runner.ts';
import type { LocalStoreDefinition } from '../local/postgres.ts';
import type { AlertRetryOptions, EnqueueResult, QueueOptions } from '../queue/queue.ts';
import type { SyncWorker, WorkerOptions } from '../queue/worker.ts';
import type { Database, DatabaseOption } from '../store/database.ts';
import type { PgliteSettings } from '../store/pglite-start.ts';
import type { ConnectionPageOptions, ConnectionSummary } from './connections.ts';
import type { FleetOverview } from './fleet.ts';
import type { JobPageOptions } from './jobs.ts';
import type { ListOptions, Page, PageOptions } from './paging.ts';
import type { RecordInspection } from './records.ts';

export type { RunOptions, StartedRun } from '../domain/types.ts';
export type { ListOptions, Page, PageOptions } from './paging.ts';

/** The public surface of an engine: what `createSyncEngine` returns (src/sync-engine.ts wires it). */
export interface SyncEngineOptions {
  /** `memory://`, a PGlite data directory (default `./.otesse-sync`), a `postgres://` URL, or `{ pglite }`. */
  database?: DatabaseOption;
  /** PostgreSQL schema for the engine's tables. Default: `otesse_sync`. */
  schema?: string;
  /** Connections in the PostgreSQL pool. Default: 10. */
  poolSize?: number;
  /**
   * PostgreSQL settings of the PGlite the engine opens (a data directory or `memory://`), e.g.
   * `{ shared_buffers: '64MB' }`. Default: `OTESSE_SYNC_PGLITE_SETTINGS` (`name=value …`), over
   * `{ shared_buffers: '16MB' }` (PostgreSQL's 128MB stays resident in the process: see src/store/pglite-start.ts).
   */
  pgliteSettings?: PgliteSettings;
  /** Providers the engine can connect to (Stripe, HubSpot, REST, the in-memory provider…). */
  providers?: ProviderDefinition[];
  /** The local side (the application's tables). Required to run jobs. */
  local?: LocalStoreDefinition;
  /**
   * Keys for credentials at rest: the first seals, all open (rotation). 32 bytes each, hex or base64.
   * Default: `OTESSE_SYNC_ENCRYPTION_KEY`; else a key file in the PGlite data directory (created 0600);
   * else (memory:// or PostgreSQL without a key) an error, since credentials could not be read back.
   */
  encryptionKeys?: string[];
  /**
   * Start even when stored credentials were sealed by a key that is not configured (a lost key): their
   * connections' runs fail until the credentials are entered again. Default: `OTESSE_SYNC_ALLOW_MISSING_KEYS`
   * (`1`/`true`), else false: the engine refuses to start and names the missing key ids.
   */
  allowMissingKeys?: boolean;
  /** Records per page / batch. Default: 100. */
  pageSize?: number;
  /** Retries of transient endpoint errors inside a run. Default: 4 tries, 250 ms doubling, 30 s cap. */
  transientRetry?: Partial<TransientRetryPolicy>;
  /** How far the incremental cursor reaches back before the last successful run's start. Default: 60 s. */
  cursorOverlapMs?: number;
  /** Length of one "minute" of a job's timeout. Default: 60,000. Tests shrink it. */
  minuteMs?: number;
  /** Apply pending migrations on start. Default: true. */
  migrate?: boolean;
  /** The durable queue (pg-boss in the same database). */
  queue?: QueueOptions;
  /**
   * Backoff of whole-run retries ("retry on failure"): half to all of base × 2^(attempt-1), capped.
   * Default: 30 s base, 30 min cap. A worker started with `retryBaseDelayMs`/`retryMaxDelayMs` sets it too.
   */
  runRetry?: Partial<RunRetryDelays>;
  /** Alerts to notification channels (signed webhooks, Slack). */
  alerts?: AlertOptions;
  /**
   * A pino logger. Default: silent (a library does not write to your stdout unasked). Every line of a run
   * carries executionId, jobId and connectionId; credentials and tokens are redacted whatever the logger.
   */
  logger?: Logger;
}

export interface AlertOptions {
  /**
   * The console's public base URL (e.g. `https://sync.example.com`): alerts link to the execution there.
   * Default: none (alerts carry no link). The server sets it from OTESSE_SYNC_PUBLIC_URL.
   */
  publicUrl?: string | null;
  /**
   * Where deliveries may be sent: the outbound request guard of the connectors (src/connectors/http/guard.ts).
   * Default: link-local and cloud metadata addresses refused, private ranges allowed. The server passes its own.
   */
  outbound?: OutboundPolicy;
  /** Retries of a delivery that failed: default 8 retries, the first after 10 s, doubling, at most 1 h apart. */
  retry?: Partial<AlertRetryOptions>;
  /** How long a receiver may take to answer one delivery. Default: 10,000 ms. */
  timeoutMs?: number;
}

export interface SyncEngine {
  readonly database: Database;
  /** The engine's logger (redacting credentials); runs log through children carrying their ids. */
  readonly log: Logger;
  connections: {
    create(input: unknown): Promise<Connection>;
    get(id: string): Promise<Connection>;
    list(): Promise<Connection[]>;
    /** A page in creation order; `q` keeps names that contain it (case-insensitive); `total` counts all matches. */
    page(options?: ConnectionPageOptions): Promise<Page<Connection> & { total: number }>;
    /** Per connection: its job count (archived aside) and its newest whole run, in two queries. */
    summaries(ids: readonly string[]): Promise<Map<string, ConnectionSummary>>;
    /** Renames, changes config (validated by the provider), or replaces credentials (merged by key). */
    update(id: string, patch: unknown): Promise<Connection>;
    /** Checks the credentials by reading one record of the provider's first entity type; the result is stored. */
    test(id: string): Promise<{ ok: boolean; message: string }>;
    delete(id: string): Promise<void>;
  };
  jobs: {
    create(input: unknown): Promise<SyncJob>;
    get(id: string): Promise<SyncJob>;
    /** Archived jobs are left out unless `includeArchived`. */
    list(filter?: { connectionId?: string; includeArchived?: boolean }): Promise<SyncJob[]>;
    /**
     * A page of the jobs that are not archived, in creation order: all, or one connection's (`connectionId`);
     * `q` keeps names that contain it (case-insensitive); `total` counts all matches.
     */
    page(options?: JobPageOptions): Promise<Page<SyncJob> & { total: number }>;
    /** 409 (StateError) for an archived job. */
    update(id: string, patch: unknown): Promise<SyncJob>;
    /**
     * Archives the job: it is no longer listed, scheduled, triggered or run by webhooks, its queued runs are
     * cancelled, and its executions, failures and dead letters stay readable (`get` shows `archivedAt`).
     * `{ purge: true }` deletes it with all its history. Either way, a StateError while a run of it is running.
     */
    delete(id: string, options?: { purge?: boolean }): Promise<void>;
  };
  executions: {
    get(id: string): Promise<SyncExecution>;
    list(jobId: string, options?: ListOptions): Promise<SyncExecution[]>;
    failures(executionId: string, options?: ListOptions): Promise<RecordFailure[]>;
    /** Newest first, optionally only some statuses and triggers. */
    page(
      jobId: string,
      options?: PageOptions & { status?: ExecutionStatus[]; trigger?: Trigger[] },
    ): Promise<Page<SyncExecution>>;
    failuresPage(executionId: string, options?: PageOptions): Promise<Page<RecordFailure>>;
    /** The execution's run log, oldest first. */
    logPage(executionId: string, options?: PageOptions): Promise<Page<RunLogEntry>>;
    /** The newest whole run of each of these jobs (single-record runs aside, as for lastRunAt), in one query. */
    latest(jobIds: readonly string[]): Promise<Map<string, SyncExecution>>;
    /**
     * Applies the deletions a run's mass-delete protection held back (haltKind `mass_delete`), in a new
     * execution; resolves when it is final. StateError when the execution holds none.
     */
    applyDeletions(executionId: string): Promise<SyncExecution>;
    /** Like `applyDeletions`, but resolves once the new execution is running. */
    startApplyDeletions(executionId: string): Promise<StartedRun>;
  };
  deadLetters: {
    list(jobId: string, options?: ListOptions & { status?: DeadLetter['status'] }): Promise<DeadLetter[]>;
    /** Newest first. */
    page(jobId: string, options?: PageOptions & { status?: DeadLetter['status'] }): Promise<Page<DeadLetter>>;
    get(id: string): Promise<DeadLetter>;
    /** Runs a single-record sync of the dead letter's record; it leaves the queue if that succeeds. */
    retry(id: string): Promise<SyncExecution>;
    /** Like `retry`, but resolves once the retry's execution is running. */
    startRetry(id: string): Promise<StartedRun>;
    discard(id: string): Promise<DeadLetter>;
  };
  /**
   * The record inspector: a record of a job by its id on `side` (default provider): its reference, both sides'
   * live content and mapped content, the executions that changed it or failed it, its retry and dead-letter state.
   */
  inspectRecord(jobId: string, key: string, side?: Side): Promise<RecordInspection>;
  /** Conflicts the `manual` strategy left for a person, and their resolution. */
  conflicts: {
    /** Newest first; `status` open or resolved. */
    page(jobId: string, options?: PageOptions & { status?: Conflict['status'] }): Promise<Page<Conflict>>;
    get(id: string): Promise<Conflict>;
    /** Open conflicts per job, in one query. */
    countOpen(jobIds: readonly string[]): Promise<Map<string, number>>;
    /**
     * Resolves an open conflict: `{ winner: 'local' | 'provider' }`, or `{ fields: { email: 'local', … } }` with a
     * side per differing field (not for a deletion against an update), and optionally `resolvedBy`. Writes the
     * chosen content to the other side(s), updates the reference, and records who and when. A side that refuses the
     * write: StateError, and the conflict stays open.
     */
    resolve(id: string, resolution: unknown): Promise<Conflict>;
  };
  /**
   * Alerts: notification channels (a signed webhook or Slack), the events they subscribe to, globally or for one
   * job, and their delivery log. Alerts are queued when a run of this process finishes and delivered by workers
   * (`startWorker`), retried with exponential backoff. One alert per job per change of state: a job that fails
   * again is not alerted again; the repeats go in the digest of the next alert (or of the recovery).
   */
  alerts: {
    /** Creates a channel; the result carries its signing secret (webhook channels) this once. */
    createChannel(input: unknown): Promise<ChannelWithSecret>;
    /** All channels, or those that cover one job (its own and the global ones). */
    listChannels(filter?: { jobId?: string }): Promise<NotificationChannel[]>;
    getChannel(id: string): Promise<NotificationChannel>;
    /** `signingSecret` is set only when the patch asked `rotateSecret: true`. */
    updateChannel(id: string, patch: unknown): Promise<ChannelWithSecret>;
    deleteChannel(id: string): Promise<void>;
    /** Delivers a `test` alert now (one attempt) and returns its delivery log entry. */
    sendTest(id: string): Promise<AlertDelivery>;
    /** A channel's delivery attempts, newest first. */
    deliveries(channelId: string, page?: PageOptions): Promise<Page<AlertDelivery>>;
  };
  /** The fleet at a glance: runs per hour by status (24 h), the jobs failing now, open dead letters, totals. */
  fleet: {
    overview(): Promise<FleetOverview>;
  };
  /** The registered providers, with their descriptions (settings, entity types, fields). */
  providers(): ProviderDefinition[];
  /**
   * A provider webhook delivery for a connection: verifies its signature with the connection's credentials,
   * stores each event id once, and queues single-record runs for the new events. Replays are ignored.
   * Throws ProviderError(auth) on a bad signature; nothing is stored then.
   */
  receiveWebhook(connectionId: string, delivery: WebhookDelivery): Promise<{ accepted: number; duplicates: number }>;
  /** The records a job will retry on its next run (failed before, not dead-lettered). */
  retrySet(jobId: string): Promise<{ side: Side; recordKey: string; failureCount: number }[]>;
  /**
   * Dry run: what the next run of a job would do with up to `limit` source records per leg (default 20, at most
   * 200), with field-level changes and mapping errors, writing nothing anywhere (no endpoint write, reference,
   * cursor or execution). `job` is a saved job's id, or `{ draft: <job input> }` for a job not saved yet.
   */
  preview(job: string | { draft: unknown }, options?: { limit?: number }): Promise<PreviewItem[]>;
  /** Runs a job now and resolves when its execution is final. */
  runJob(jobId: string, options?: RunOptions): Promise<SyncExecution>;
  /** Starts a run; resolves once its execution is `running`. */
  startJob(jobId: string, options?: RunOptions): Promise<StartedRun>;
  /**
   * "Run Now" through the durable queue: returns the `queued` execution at once; a worker runs it.
   * A trigger while the job already has a run queued joins it (`coalesced`).
   */
  trigger(jobId: string, options?: { trigger?: Trigger }): Promise<EnqueueResult>;
  /**
   * A provider webhook said these records changed: queues a single-record run for every enabled job of
   * the connection and entity type that reads from the provider. Bursts for the same record coalesce.
   */
  webhook(connectionId: string, entityType: string, recordIds: string[]): Promise<EnqueueResult[]>;
  /** Starts a worker in this process (claims queued runs, fires schedules, reaps lost runs). */
  startWorker(options?: WorkerOptions): Promise<SyncWorker>;
  /** Stops an execution: a queued one at once; a running one (in any process) within a page or a heartbeat. */
  cancel(executionId: string): Promise<SyncExecution>;
  /**
   * Readiness: the database answers, every migration is applied, and no applied migration's file changed
   * since (`changedMigrations`: the engine refuses to start on those).
   */
  health(): Promise<{ database: boolean; pendingMigrations: string[]; changedMigrations: string[]; error?: string }>;
  /** Calls `listener` each time this process finishes an execution (metrics, notifications). */
  onExecutionFinished(listener: (execution: SyncExecution, job: SyncJob) => void): () => void;
  /**
   * Re-seals all stored credentials (and notification channels' URLs and signing secrets) under the current
   * encryption key (key rotation). Returns how many were re-sealed.
   */
  rotateCredentials(): Promise<number>;
  /** Stops this process's workers (gracefully), the queue, and the database connection. */
  close(options?: { graceMs?: number }): Promise<void>;
}
