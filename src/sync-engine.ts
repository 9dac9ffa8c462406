import { randomBytes } from 'node:crypto';
import { type Kysely, type Selectable, sql } from 'kysely';
import { type Logger, pino } from 'pino';
import { nextRunAt } from './domain/cron.ts';
import {
  errorMessage,
  type FieldIssue,
  NotFoundError,
  ProviderError,
  StateError,
  ValidationError,
} from './domain/errors.ts';
import {
  connectionInputSchema,
  connectionPatchSchema,
  mergeJobPatch,
  type SyncJobInput,
  syncJobInputSchema,
  validateEntityType,
} from './domain/job.ts';
import {
  advancesCursor,
  circuitBreakerReason,
  haltKindOf,
  type RunHalt,
  resolveStatus,
  retryableEnd,
} from './domain/status.ts';
import type {
  Connection,
  DeadLetter,
  ExecutionStatus,
  HaltKind,
  RecordFailure,
  Side,
  SyncExecution,
  SyncJob,
  Trigger,
} from './domain/types.ts';
import { parseInput, toFieldIssues } from './domain/validate.ts';
import { RunAbort } from './engine/abort.ts';
import type { Endpoint, ProviderDefinition, WebhookDelivery } from './engine/endpoint.ts';
import type { RunStore } from './engine/ports.ts';
import {
  DEFAULT_TRANSIENT_RETRY,
  isTransient,
  type RunRetryDelays,
  runRetryDelayMs,
  type TransientRetryPolicy,
} from './engine/retry.ts';
import { type Checkpoint, executeRun, type RunInput, runHaltOf } from './engine/runner.ts';
import type { LocalStoreDefinition } from './local/postgres.ts';
import { type EnqueueResult, type QueueOptions, SyncQueue } from './queue/queue.ts';
import { SyncWorker, type WorkerOptions } from './queue/worker.ts';
import { CredentialVault, loadOrCreateKeyFile } from './security/vault.ts';
import { type Database, type DatabaseOption, DEFAULT_DATA_DIR, openDatabase } from './store/database.ts';
import { migrate, pendingMigrations } from './store/migrate.ts';
import {
  jobColumns,
  loadRules,
  replaceRules,
  toConnection,
  toDeadLetter,
  toExecution,
  toFailure,
  toJob,
} from './store/repository.ts';
import { createRunStore } from './store/run-store.ts';
import type { DB } from './store/schema.ts';

type ExecutionRow = Selectable<DB['sync_executions']>;

export interface SyncEngineOptions {
  /** `memory://`, a PGlite data directory (default `./.otesse-sync`), a `postgres://` URL, or `{ pglite }`. */
  database?: DatabaseOption;
  /** PostgreSQL schema for the engine's tables. Default: `otesse_sync`. */
  schema?: string;
  /** Connections in the PostgreSQL pool. Default: 10. */
  poolSize?: number;
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
  /**
   * A pino logger. Default: silent (a library does not write to your stdout unasked). Every line of a run
   * carries executionId, jobId and connectionId; credentials and tokens are redacted whatever the logger.
   */
  logger?: Logger;
}

export interface RunOptions {
  trigger?: Trigger;
  /** Attempt number shown on the execution (retries count up). Default: 1. */
  attempt?: number;
  /** Single-record run: sync only these record ids, read from `side` (default `provider`). */
  recordKeys?: string[];
  side?: Side;
  /** Resume a previous attempt from its last committed page. */
  resumeFrom?: string;
}

export interface StartedRun {
  execution: SyncExecution;
  /** Settles with the execution in its final status. */
  done: Promise<SyncExecution>;
}

/** One record's row plus its job; convenience for list views. */
export interface ListOptions {
  limit?: number;
}

/** Keyset pagination: pass a page's `nextCursor` back as `cursor` for the next page; null at the end. */
export interface PageOptions {
  limit?: number;
  cursor?: string | null;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface SyncEngine {
  readonly database: Database;
  /** The engine's logger (redacting credentials); runs log through children carrying their ids. */
  readonly log: Logger;
  connections: {
    create(input: unknown): Promise<Connection>;
    get(id: string): Promise<Connection>;
    list(): Promise<Connection[]>;
    /** Renames, changes config (validated by the provider), or replaces credentials (merged by key). */
    update(id: string, patch: unknown): Promise<Connection>;
    /** Checks the credentials by reading one record of the provider's first entity type; the result is stored. */
    test(id: string): Promise<{ ok: boolean; message: string }>;
    delete(id: string): Promise<void>;
  };
  jobs: {
    create(input: unknown): Promise<SyncJob>;
    get(id: string): Promise<SyncJob>;
    list(filter?: { connectionId?: string }): Promise<SyncJob[]>;
    update(id: string, patch: unknown): Promise<SyncJob>;
    delete(id: string): Promise<void>;
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
    /** The newest whole run of each of these jobs (single-record runs aside, as for lastRunAt), in one query. */
    latest(jobIds: readonly string[]): Promise<Map<string, SyncExecution>>;
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
  /** Readiness: the database answers and every migration is applied. */
  health(): Promise<{ database: boolean; pendingMigrations: string[]; error?: string }>;
  /** Calls `listener` each time this process finishes an execution (metrics, notifications). */
  onExecutionFinished(listener: (execution: SyncExecution, job: SyncJob) => void): () => void;
  /** Re-seals all stored credentials under the current encryption key (key rotation). */
  rotateCredentials(): Promise<number>;
  /** Stops this process's workers (gracefully), the queue, and the database connection. */
  close(options?: { graceMs?: number }): Promise<void>;
}

/**
 * Creates a sync engine over a database.
 *
 * @example
 * const provider = createMemoryProvider();
 * const engine = await createSyncEngine({
 *   database: 'memory://',
 *   providers: [provider.definition],
 *   local: createPostgresLocalStore({ entities: { customer: { table: 'customers' } } }),
 * });
 * const conn = await engine.connections.create({ name: 'Demo', provider: 'memory' });
 * const job = await engine.jobs.create({ connectionId: conn.id, name: 'Customers', entityType: 'customer', direction: 'inbound' });
 * const execution = await engine.runJob(job.id);
 */
export async function createSyncEngine(options: SyncEngineOptions = {}): Promise<SyncEngine> {
  const database = await openDatabase({
    ...(options.database !== undefined ? { database: options.database } : {}),
    ...(options.schema !== undefined ? { schema: options.schema } : {}),
    ...(options.poolSize !== undefined ? { poolSize: options.poolSize } : {}),
  });
  try {
    if (options.migrate !== false) await migrate(database);
    return new Engine(database, options, makeVault(options));
  } catch (err) {
    await database.close();
    throw err;
  }
}

function makeVault(options: SyncEngineOptions): CredentialVault {
  if (options.encryptionKeys?.length) return new CredentialVault(options.encryptionKeys);
  const env = process.env.OTESSE_SYNC_ENCRYPTION_KEY;
  if (env) return new CredentialVault(env.split(',').map((k) => k.trim()));
  const target = options.database ?? DEFAULT_DATA_DIR;
  if (target === 'memory://' || typeof target !== 'string') return new CredentialVault([randomBytes(32)]);
  if (/^postgres(ql)?:\/\//.test(target)) {
    throw new ValidationError([
      { path: 'encryptionKeys', message: 'set OTESSE_SYNC_ENCRYPTION_KEY (32 bytes, hex) when using PostgreSQL' },
    ]);
  }
  const { key, created } = loadOrCreateKeyFile(target);
  if (created) {
    process.emitWarning(
      `otesse-sync generated an encryption key in ${target}/encryption.key; set OTESSE_SYNC_ENCRYPTION_KEY in production`,
    );
  }
  return new CredentialVault([key]);
}

const isUuid = (s: string) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s);

/** Paths pino blanks out on every line, whatever logger the application passes. */
export const REDACT_PATHS = [
  'credentials',
  '*.credentials',
  'apiKey',
  '*.apiKey',
  'accessToken',
  '*.accessToken',
  'token',
  '*.token',
  'secret',
  '*.secret',
  'password',
  '*.password',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
];

function withRedaction(logger: Logger): Logger {
  // pino applies `redact` at construction; a child with its own redact option keeps the parent's stream.
  return logger.child({}, { redact: { paths: REDACT_PATHS, censor: '[redacted]' } });
}

export class Engine implements SyncEngine {
  private readonly providerMap = new Map<string, ProviderDefinition>();
  private readonly store: RunStore;
  private readonly active = new Map<string, AbortController>();
  private readonly running = new Set<Promise<unknown>>();
  private localEndpoint: Promise<Endpoint> | null = null;
  private readonly retry: TransientRetryPolicy;
  readonly log: Logger;
  private closed = false;

  constructor(
    readonly database: Database,
    private readonly options: SyncEngineOptions,
    private readonly vault: CredentialVault,
  ) {
    for (const p of options.providers ?? []) this.providerMap.set(p.name, p);
    this.store = createRunStore(database);
    this.log = withRedaction(options.logger ?? pino({ enabled: false }));
    this.retry = { ...DEFAULT_TRANSIENT_RETRY, ...options.transientRetry };
    this.runRetry = { baseDelayMs: 30_000, maxDelayMs: 30 * 60_000, ...options.runRetry };
  }

  private get db() {
    return this.database.db;
  }

  /** Milliseconds in one minute of a job's timeout (tests shrink it). */
  get minuteMs(): number {
    return this.options.minuteMs ?? 60_000;
  }

  // ── connections ────────────────────────────────────────────────────────────
  connections = {
    create: async (input: unknown): Promise<Connection> => {
      const data = parseInput(connectionInputSchema, input);
      if (!this.providerMap.has(data.provider)) {
        throw new ValidationError([
          {
            path: 'provider',
            message: `unknown provider "${data.provider}"; registered: ${[...this.providerMap.keys()].join(', ') || 'none'}`,
          },
        ]);
      }
      const config = this.checkConfig(data.provider, data.config);
      const row = await this.db
        .insertInto('connections')
        .values({
          name: data.name,
          provider: data.provider,
          config: JSON.stringify(config),
          credentials: this.vault.seal(data.credentials),
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return toConnection(row);
    },
    get: async (id: string): Promise<Connection> => toConnection(await this.connectionRow(id)),
    list: async (): Promise<Connection[]> =>
      (await this.db.selectFrom('connections').selectAll().orderBy('created_at').execute()).map(toConnection),
    update: async (id: string, patch: unknown): Promise<Connection> => {
      const current = await this.connectionRow(id);
      const data = parseInput(connectionPatchSchema, patch);
      const set: Record<string, unknown> = {};
      if (data.name !== undefined) set.name = data.name;
      if (data.config !== undefined) set.config = JSON.stringify(this.checkConfig(current.provider, data.config));
      if (data.credentials !== undefined) {
        const previous = current.credentials === null ? {} : this.vault.open(current.credentials);
        set.credentials = this.vault.seal({ ...previous, ...data.credentials });
      }
      if (Object.keys(set).length === 0) return toConnection(current);
      const row = await this.db
        .updateTable('connections')
        .set({
          ...set,
          // New settings have not been tested yet.
          ...(data.config !== undefined || data.credentials !== undefined
            ? { last_test_ok: null, last_test_message: null, last_tested_at: null }
            : {}),
          updated_at: sql<Date>`now()`,
        })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirstOrThrow();
      return toConnection(row);
    },
    test: async (id: string): Promise<{ ok: boolean; message: string }> => {
      const conn = await this.connectionRow(id);
      const provider = this.providerMap.get(conn.provider);
      let result: { ok: boolean; message: string };
      if (!provider) result = { ok: false, message: `provider "${conn.provider}" is not registered` };
      else {
        const entityType = (provider.entityTypesFor?.(conn.config) ?? provider.entityTypes)[0];
        const signal = AbortSignal.timeout(15_000);
        try {
          if (entityType === undefined) throw new ProviderError('config', 'the provider declares no entity types');
          const credentials = conn.credentials === null ? {} : this.vault.open(conn.credentials);
          const endpoint = await provider.createEndpoint({
            id,
            provider: conn.provider,
            config: conn.config,
            credentials,
          });
          await endpoint.readPage({ entityType, since: null, cursor: null, pageSize: 1, signal });
          result = { ok: true, message: `read ${entityType} records successfully` };
        } catch (err) {
          result = { ok: false, message: errorMessage(err) };
        }
      }
      await this.db
        .updateTable('connections')
        .set({ last_test_ok: result.ok, last_test_message: result.message, last_tested_at: sql<Date>`now()` })
        .where('id', '=', id)
        .execute();
      return result;
    },
    delete: async (id: string): Promise<void> => {
      await this.connectionRow(id);
      // External references carry no foreign key to their connection (it would cost a lookup per inserted
      // reference on every page): they go here, with the connection, in one transaction.
      await this.db.transaction().execute(async (trx) => {
        await trx.deleteFrom('connections').where('id', '=', id).execute();
        await trx.deleteFrom('external_references').where('connection_id', '=', id).execute();
      });
    },
  };

  /** A connection's config as its provider validates it (issues reported as `config.<path>`). */
  private checkConfig(providerName: string, config: Record<string, unknown>): unknown {
    const schema = this.providerMap.get(providerName)?.configSchema;
    if (!schema) return config;
    const parsed = schema.safeParse(config);
    if (!parsed.success) {
      throw new ValidationError(toFieldIssues(parsed.error.issues as Parameters<typeof toFieldIssues>[0], ['config']));
    }
    return parsed.data;
  }

  providers(): ProviderDefinition[] {
    return [...this.providerMap.values()];
  }

  private async connectionRow(id: string) {
    const row = isUuid(id)
      ? await this.db.selectFrom('connections').selectAll().where('id', '=', id).executeTakeFirst()
      : undefined;
    if (!row) throw new NotFoundError('connection', id);
    return row;
  }

  // ── jobs ───────────────────────────────────────────────────────────────────
  jobs = {
    create: async (input: unknown): Promise<SyncJob> => {
      const data = await this.validateJob(() => parseInput(syncJobInputSchema, input), input);
      const id = await this.db.transaction().execute(async (trx) => {
        const row = await trx
          .insertInto('sync_jobs')
          .values({ connection_id: data.connectionId, ...jobColumns(data), next_run_at: this.nextRun(data) })
          .returning('id')
          .executeTakeFirstOrThrow();
        await replaceRules(trx, row.id, data.fieldMappings);
        return row.id;
      });
      return this.jobs.get(id);
    },
    get: (id: string): Promise<SyncJob> => this.loadJob(id, this.db),
    list: async (filter: { connectionId?: string } = {}): Promise<SyncJob[]> => {
      let q = this.db.selectFrom('sync_jobs').selectAll().orderBy('created_at');
      if (filter.connectionId !== undefined) {
        if (!isUuid(filter.connectionId)) return [];
        q = q.where('connection_id', '=', filter.connectionId);
      }
      const rows = await q.execute();
      const rules = await loadRules(
        this.db,
        rows.map((r) => r.id),
      );
      return rows.map((r) => toJob(r, rules.get(r.id) ?? []));
    },
    update: async (id: string, patch: unknown): Promise<SyncJob> => {
      const current = await this.jobs.get(id);
      const data = await this.validateJob(() => mergeJobPatch(current, patch), { ...current, ...(patch as object) });
      await this.db.transaction().execute(async (trx) => {
        await trx
          .updateTable('sync_jobs')
          .set({ ...jobColumns(data), next_run_at: this.nextRun(data), updated_at: sql<Date>`now()` })
          .where('id', '=', id)
          .execute();
        await replaceRules(trx, id, data.fieldMappings);
      });
      return this.jobs.get(id);
    },
    delete: async (id: string): Promise<void> => {
      await this.jobs.get(id);
      const running = await this.db
        .selectFrom('sync_executions')
        .select('id')
        .where('job_id', '=', id)
        .where('status', '=', 'running')
        .executeTakeFirst();
      if (running) throw new StateError(`sync job ${id} has a running execution (${running.id}); cancel it first`);
      await this.db.deleteFrom('sync_jobs').where('id', '=', id).execute();
    },
  };

  /** A job with its rules, read through `db` (pass the open transaction when inside one). */
  async loadJob(id: string, db: Kysely<DB>): Promise<SyncJob> {
    const row = isUuid(id)
      ? await db.selectFrom('sync_jobs').selectAll().where('id', '=', id).executeTakeFirst()
      : undefined;
    if (!row) throw new NotFoundError('sync job', id);
    return toJob(row, (await loadRules(db, [id])).get(id) ?? []);
  }

  private nextRun(data: Pick<SyncJobInput, 'schedule' | 'enabled'>, after = new Date()): Date | null {
    if (data.schedule.type !== 'cron' || !data.enabled) return null;
    return nextRunAt(data.schedule.cron, data.schedule.timezone, after);
  }

  /**
   * Schema validation plus the checks that need the database (the connection exists, both sides declare
   * the entity type), reported together: one error lists every offending field.
   */
  private async validateJob(parse: () => SyncJobInput, raw: unknown): Promise<SyncJobInput> {
    let data: SyncJobInput | undefined;
    let issues: FieldIssue[] = [];
    try {
      data = parse();
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      issues = [...err.issues];
    }
    const r = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
    const refs =
      data ??
      (typeof r.connectionId === 'string' && typeof r.entityType === 'string'
        ? {
            connectionId: r.connectionId.trim(),
            entityType: r.entityType.trim(),
            localEntity: typeof r.localEntity === 'string' ? r.localEntity.trim() : null,
          }
        : null);
    if (refs) {
      const known = new Set(issues.map((i) => i.path));
      for (const issue of await this.referenceIssues(refs)) if (!known.has(issue.path)) issues.push(issue);
    }
    if (issues.length > 0 || !data) throw new ValidationError(issues);
    return data;
  }

  /** The connection must exist and both sides must declare the entity type. */
  private async referenceIssues(data: {
    connectionId: string;
    entityType: string;
    localEntity?: string | null;
  }): Promise<FieldIssue[]> {
    const issues: FieldIssue[] = [];
    const conn = isUuid(data.connectionId)
      ? await this.db
          .selectFrom('connections')
          .select(['provider', 'config'])
          .where('id', '=', data.connectionId)
          .executeTakeFirst()
      : undefined;
    if (!conn) issues.push({ path: 'connectionId', message: `no connection with id ${data.connectionId}` });
    else {
      const provider = this.providerMap.get(conn.provider);
      if (!provider) issues.push({ path: 'connectionId', message: `provider "${conn.provider}" is not registered` });
      else {
        const declared = provider.entityTypesFor?.(conn.config) ?? provider.entityTypes;
        const issue = validateEntityType(data.entityType, declared, provider.name);
        if (issue) issues.push(issue);
      }
    }
    const local = this.options.local;
    if (local) {
      const path = data.localEntity ? 'localEntity' : 'entityType';
      const name = data.localEntity || data.entityType;
      if (!issues.some((i) => i.path === path) && !local.entityTypes.includes(name)) {
        issues.push({
          path,
          message: `must be one of ${local.entityTypes.join(', ')} (declared by the local store)`,
        });
      }
    }
    return issues;
  }

  // ── executions ─────────────────────────────────────────────────────────────
  executions = {
    get: async (id: string): Promise<SyncExecution> => {
      const row = isUuid(id)
        ? await this.db.selectFrom('sync_executions').selectAll().where('id', '=', id).executeTakeFirst()
        : undefined;
      if (!row) throw new NotFoundError('execution', id);
      return toExecution(row);
    },
    list: async (jobId: string, options: ListOptions = {}): Promise<SyncExecution[]> =>
      (await this.executions.page(jobId, options.limit === undefined ? {} : { limit: options.limit })).items,
    page: async (
      jobId: string,
      options: PageOptions & { status?: ExecutionStatus[]; trigger?: Trigger[] } = {},
    ): Promise<Page<SyncExecution>> => {
      const limit = pageLimit(options.limit);
      const after = decodeCursor(options.cursor);
      if (!isUuid(jobId)) return { items: [], nextCursor: null };
      let q = this.db
        .selectFrom('sync_executions')
        .selectAll()
        .select(sql<string>`created_at::text`.as('cursor_at'))
        .where('job_id', '=', jobId);
      if (options.status?.length) q = q.where('status', 'in', options.status);
      if (options.trigger?.length) q = q.where('trigger', 'in', options.trigger);
      if (after) q = q.where(sql<boolean>`(created_at, id) < (${after.at}::timestamptz, ${after.id}::uuid)`);
      const rows = await q
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(limit + 1)
        .execute();
      return toPage(rows, limit, toExecution, (r) => ({ at: r.cursor_at, id: r.id }));
    },
    latest: async (jobIds: readonly string[]): Promise<Map<string, SyncExecution>> => {
      const ids = jobIds.filter(isUuid);
      if (ids.length === 0) return new Map();
      const rows = await this.db
        .selectFrom('sync_executions')
        .distinctOn('job_id')
        .selectAll()
        .where('job_id', 'in', ids)
        // Whole runs, like the job's lastRunAt: a webhook's single-record run does not stand for the job.
        .where('record_keys', 'is', null)
        .orderBy('job_id')
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .execute();
      return new Map(rows.map((r) => [r.job_id, toExecution(r)]));
    },
    failuresPage: async (executionId: string, options: PageOptions = {}): Promise<Page<RecordFailure>> => {
      const limit = pageLimit(options.limit);
      const after = decodeCursor(options.cursor);
      if (!isUuid(executionId)) return { items: [], nextCursor: null };
      let q = this.db.selectFrom('record_failures').selectAll().where('execution_id', '=', executionId);
      if (after) q = q.where('id', '>', after.id);
      const rows = await q
        .orderBy('id')
        .limit(limit + 1)
        .execute();
      return toPage(rows, limit, toFailure, (r) => ({ at: '', id: String(r.id) }));
    },
    failures: async (executionId: string, options: ListOptions = {}): Promise<RecordFailure[]> => {
      const rows = await this.db
        .selectFrom('record_failures')
        .selectAll()
        .where('execution_id', '=', executionId)
        .orderBy('id')
        .limit(options.limit ?? 1000)
        .execute();
      return rows.map(toFailure);
    },
  };

  deadLetters = {
    list: async (jobId: string, options: ListOptions & { status?: DeadLetter['status'] } = {}) =>
      (
        await this.deadLetters.page(jobId, {
          limit: options.limit ?? 100,
          ...(options.status === undefined ? {} : { status: options.status }),
        })
      ).items,
    page: async (
      jobId: string,
      options: PageOptions & { status?: DeadLetter['status'] } = {},
    ): Promise<Page<DeadLetter>> => {
      const limit = pageLimit(options.limit);
      const after = decodeCursor(options.cursor);
      if (!isUuid(jobId)) return { items: [], nextCursor: null };
      let q = this.db
        .selectFrom('dead_letters')
        .selectAll()
        .select(sql<string>`created_at::text`.as('cursor_at'))
        .where('job_id', '=', jobId)
        .where('status', '=', options.status ?? 'open');
      if (after) q = q.where(sql<boolean>`(created_at, id) < (${after.at}::timestamptz, ${after.id}::uuid)`);
      const rows = await q
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(limit + 1)
        .execute();
      return toPage(rows, limit, toDeadLetter, (r) => ({ at: r.cursor_at, id: r.id }));
    },
    get: async (id: string): Promise<DeadLetter> => toDeadLetter(await this.deadLetterRow(id)),
    retry: async (id: string): Promise<SyncExecution> => (await this.deadLetters.startRetry(id)).done,
    startRetry: async (id: string): Promise<StartedRun> => {
      const dl = await this.deadLetterRow(id);
      if (dl.status !== 'open') throw new StateError(`dead letter ${id} is ${dl.status}, not open`);
      const started = await this.startJob(dl.job_id, {
        trigger: 'manual',
        recordKeys: [dl.record_key],
        side: dl.side as Side,
      });
      return { execution: started.execution, done: started.done.then((e) => this.settleDeadLetter(dl, e)) };
    },
    discard: async (id: string): Promise<DeadLetter> => {
      const dl = await this.deadLetterRow(id);
      if (dl.status !== 'open') throw new StateError(`dead letter ${id} is ${dl.status}, not open`);
      const row = await this.db
        .updateTable('dead_letters')
        .set({ status: 'discarded', updated_at: sql<Date>`now()` })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirstOrThrow();
      return toDeadLetter(row);
    },
  };

  private async settleDeadLetter(dl: Selectable<DB['dead_letters']>, execution: SyncExecution): Promise<SyncExecution> {
    const id = dl.id;
    const failed = await this.db
      .selectFrom('record_failures')
      .select('message')
      .where('execution_id', '=', execution.id)
      .where('record_key', '=', dl.record_key)
      .executeTakeFirst();
    // Success closes the dead letter. Failure keeps it open (it failed once more) and keeps the
    // record out of the automatic retry set: a person parked it, a person decides. (A record failure was
    // already counted on the dead letter by the run's page commit; a run-level failure is counted here.)
    await this.db.transaction().execute(async (trx) => {
      if (failed || (execution.status !== 'completed' && execution.status !== 'completed_with_errors')) {
        await trx
          .updateTable('dead_letters')
          .set({
            failure_count: sql<number>`failure_count + 1`,
            last_error: failed?.message ?? execution.haltReason ?? execution.status,
            last_execution_id: execution.id,
            updated_at: sql<Date>`now()`,
          })
          .where('id', '=', id)
          .where('status', '=', 'open')
          .where('last_execution_id', '!=', execution.id)
          .execute();
      } else {
        // The run's commit resolved it as a recovered record; it was a person's retry.
        await trx
          .updateTable('dead_letters')
          .set({ status: 'retried', last_execution_id: execution.id, updated_at: sql<Date>`now()` })
          .where('id', '=', id)
          .where('status', 'in', ['open', 'resolved'])
          .execute();
      }
      await trx
        .deleteFrom('retry_items')
        .where('job_id', '=', dl.job_id)
        .where('side', '=', dl.side)
        .where('record_key', '=', dl.record_key)
        .execute();
    });
    return execution;
  }

  private async deadLetterRow(id: string) {
    const row = isUuid(id)
      ? await this.db.selectFrom('dead_letters').selectAll().where('id', '=', id).executeTakeFirst()
      : undefined;
    if (!row) throw new NotFoundError('dead letter', id);
    return row;
  }

  async retrySet(jobId: string) {
    const rows = await this.db
      .selectFrom('retry_items')
      .select(['side', 'record_key', 'failure_count'])
      .where('job_id', '=', jobId)
      .orderBy('record_key')
      .execute();
    return rows.map((r) => ({ side: r.side as Side, recordKey: r.record_key, failureCount: r.failure_count }));
  }

  // ── runs ───────────────────────────────────────────────────────────────────
  async runJob(jobId: string, options: RunOptions = {}): Promise<SyncExecution> {
    return (await this.startJob(jobId, options)).done;
  }

  async startJob(jobId: string, options: RunOptions = {}): Promise<StartedRun> {
    if (this.closed) throw new StateError('the engine is closed');
    const job = await this.jobs.get(jobId);
    const row = await this.insertExecution(job, { ...options, status: 'running' });
    return this.launch(job, row, {});
  }

  /**
   * Validates run options and inserts the execution: `running` for a direct run, `queued` for the queue.
   * A retry copies the checkpoint and the cursor window of the attempt it resumes.
   */
  async insertExecution(
    job: SyncJob,
    options: RunOptions & { status: 'running' | 'queued'; scheduledFor?: Date; id?: string; queueJobId?: string },
    // biome-ignore lint/suspicious/noExplicitAny: a transaction of the caller's, or the engine's database
    db: Kysely<any> = this.db,
  ): Promise<ExecutionRow> {
    const recordKeys = options.recordKeys ?? null;
    if (recordKeys !== null && (recordKeys.length === 0 || recordKeys.some((k) => typeof k !== 'string' || k === ''))) {
      throw new ValidationError([{ path: 'recordKeys', message: 'must be a non-empty list of record ids' }]);
    }
    const side: Side = options.side ?? 'provider';
    let resumed: { checkpoint: unknown; window_start: Date | null; started_at: Date | null } | undefined;
    if (options.resumeFrom !== undefined) {
      resumed = isUuid(options.resumeFrom)
        ? await (db as Kysely<DB>)
            .selectFrom('sync_executions')
            .select(['checkpoint', 'window_start', 'started_at'])
            .where('id', '=', options.resumeFrom)
            .where('job_id', '=', job.id)
            .executeTakeFirst()
        : undefined;
      if (!resumed) throw new NotFoundError('execution', options.resumeFrom);
    }
    const running = options.status === 'running';
    try {
      return await (db as Kysely<DB>)
        .insertInto('sync_executions')
        .values({
          ...(options.id ? { id: options.id } : {}),
          queue_job_id: options.queueJobId ?? null,
          job_id: job.id,
          trigger: options.trigger ?? 'manual',
          attempt: options.attempt ?? 1,
          status: options.status,
          record_keys: recordKeys,
          record_side: recordKeys === null ? null : side,
          resumed_from: options.resumeFrom ?? null,
          checkpoint: resumed?.checkpoint == null ? null : JSON.stringify(resumed.checkpoint),
          window_start: resumed ? (resumed.window_start ?? resumed.started_at) : null,
          scheduled_for: options.scheduledFor ?? null,
          started_at: running ? sql<Date>`now()` : null,
          heartbeat_at: running ? sql<Date>`now()` : null,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
    } catch (err) {
      if ((err as { code?: string }).code === '23505' && running) {
        throw new StateError(`sync job ${job.id} already has a running execution`, { cause: err });
      }
      throw err;
    }
  }

  /**
   * Claims a queued execution for this process and runs it. Returns null when it is no longer queued
   * (cancelled, or claimed elsewhere), and 'busy' when another whole run of the job is still running.
   */
  async runQueued(
    executionId: string,
    options: { workerId: string; queueJobId?: string; release?: AbortSignal },
  ): Promise<StartedRun | null | 'busy'> {
    if (this.closed) throw new StateError('the engine is closed');
    let row: ExecutionRow | undefined;
    try {
      row = await this.db
        .updateTable('sync_executions')
        .set({
          status: 'running',
          started_at: sql<Date>`coalesce(started_at, now())`,
          heartbeat_at: sql<Date>`now()`,
          worker_id: options.workerId,
          queue_job_id: options.queueJobId ?? null,
        })
        .where('id', '=', executionId)
        .where('status', '=', 'queued')
        .returningAll()
        .executeTakeFirst();
    } catch (err) {
      if ((err as { code?: string }).code === '23505') return 'busy';
      throw err;
    }
    if (!row) return null;
    const job = await this.jobs.get(row.job_id);
    return this.launch(job, row, options.release ? { release: options.release } : {});
  }

  private launch(job: SyncJob, row: ExecutionRow, options: { release?: AbortSignal }): StartedRun {
    const controller = new AbortController();
    this.active.set(row.id, controller);
    this.ensureHeartbeat();
    const timeoutMs = job.timeoutMinutes * this.minuteMs;
    const timer = setTimeout(
      () => controller.abort(new RunAbort('timed_out', `timed out after ${job.timeoutMinutes} min`)),
      timeoutMs,
    );
    timer.unref();
    const done = this.execute(job, row, controller, options.release).finally(() => {
      clearTimeout(timer);
      this.active.delete(row.id);
    });
    this.running.add(done);
    done.finally(() => this.running.delete(done)).catch(() => {});
    return { execution: toExecution(row), done };
  }

  private heartbeatTimer: NodeJS.Timeout | null = null;
  private heartbeatMs = 5000;

  /** How often this process renews the lease of its running executions (and notices cancels). */
  setHeartbeatInterval(ms: number): void {
    this.heartbeatMs = ms;
    if (this.heartbeatTimer) {
      clearInterval(this.heartbeatTimer);
      this.heartbeatTimer = null;
      this.ensureHeartbeat();
    }
  }

  private ensureHeartbeat(): void {
    if (this.heartbeatTimer) return;
    let busy = false;
    this.heartbeatTimer = setInterval(() => {
      if (busy) return;
      if (this.active.size === 0) {
        clearInterval(this.heartbeatTimer!);
        this.heartbeatTimer = null;
        return;
      }
      busy = true;
      this.heartbeat()
        .catch(() => {})
        .finally(() => {
          busy = false;
        });
    }, this.heartbeatMs);
    this.heartbeatTimer.unref();
  }

  /**
   * Renews the lease (heartbeat_at) of every execution this process runs, and aborts those someone asked
   * to cancel from another process. A process that stops beating loses its runs to a worker's reaper.
   */
  private async heartbeat(): Promise<void> {
    const ids = [...this.active.keys()];
    if (ids.length === 0) return;
    const { rows } = await sql<{ id: string; cancel: boolean }>`
      UPDATE sync_executions SET heartbeat_at = now()
      WHERE id = ANY(${ids}::uuid[]) AND status = 'running'
      RETURNING id, cancel_requested_at IS NOT NULL AS cancel`.execute(this.db);
    for (const r of rows) {
      if (r.cancel) this.abortLocal(r.id, new RunAbort('cancelled', 'cancelled by request'));
    }
  }

  /** Aborts a run of this process (used by workers for cross-process cancels they notice). */
  abortLocal(executionId: string, reason: RunAbort): boolean {
    const controller = this.active.get(executionId);
    if (!controller) return false;
    controller.abort(reason);
    return true;
  }

  /** Ids of the executions this process is running now. */
  activeExecutionIds(): string[] {
    return [...this.active.keys()];
  }

  private async execute(
    job: SyncJob,
    row: ExecutionRow,
    controller: AbortController,
    release: AbortSignal | undefined,
  ): Promise<SyncExecution> {
    const recordKeys = row.record_keys;
    const side = (row.record_side ?? 'provider') as Side;
    const whole = recordKeys === null;
    const log = this.log.child({ executionId: row.id, jobId: job.id, connectionId: job.connectionId });
    log.info(
      { trigger: row.trigger, attempt: row.attempt, entityType: job.entityType, direction: job.direction },
      'run started',
    );
    let outcome: Awaited<ReturnType<typeof executeRun>>;
    const initial = {
      processed: row.processed,
      created: row.created,
      updated: row.updated,
      skipped: row.skipped,
      failed: row.failed,
      conflicts: row.conflicts,
    };
    let endpoints: [Endpoint, Endpoint] | undefined;
    try {
      endpoints = await Promise.all([this.providerEndpoint(job), this.localFor(job)]);
    } catch (err) {
      // The run could not even start: credentials that do not open, an unregistered provider, no local store,
      // an unknown table. A transient provider fault while connecting may pass; nothing else will by itself.
      const halt = runHaltOf(err);
      outcome = {
        counters: initial,
        halt: halt.kind === 'error' && !isTransient(err) ? { ...halt, retryable: false } : halt,
      };
    }
    if (endpoints) {
      const [provider, local] = endpoints;
      outcome = await executeRun(
        this.store,
        { pageSize: this.options.pageSize ?? 100, retry: this.retry },
        {
          job,
          executionId: row.id,
          provider,
          local,
          since: whole && job.mode === 'incremental' ? job.cursor : null,
          records: whole ? null : { side, keys: recordKeys },
          resumeFrom: (row.checkpoint as Checkpoint | null) ?? null,
          initialCounters: initial,
          initialDirections: row.direction_counters as RunInput['initialDirections'],
          signal: controller.signal,
          ...(release ? { release } : {}),
        },
      );
    }
    outcome ??= { counters: initial, halt: null };
    const status = resolveStatus(outcome.counters, outcome.halt);
    const halt = outcome.halt;
    if (status === 'queued') {
      // Released by a stopping worker at a checkpoint: back to the queue, counters and checkpoint kept.
      const back = await this.db
        .updateTable('sync_executions')
        .set({ status: 'queued', worker_id: null, queue_job_id: null })
        .where('id', '=', row.id)
        .returningAll()
        .executeTakeFirstOrThrow();
      return toExecution(back);
    }
    const haltReason = this.haltReason(job, halt, controller.signal.reason);
    const done = await this.finish(job, row.id, status, haltReason, whole, haltKindOf(halt));
    log[status === 'completed' ? 'info' : 'warn'](
      {
        status: done.status,
        processed: done.processed,
        created: done.created,
        updated: done.updated,
        skipped: done.skipped,
        failed: done.failed,
        conflicts: done.conflicts,
        durationSeconds: done.durationSeconds,
        haltReason: done.haltReason,
        fastPages: outcome.fastPages ?? 0,
      },
      'run finished',
    );
    await this.retryIfDue(done).catch((err: unknown) =>
      log.error({ err: errorMessage(err) }, 'retry of a failed run not queued'),
    );
    return done;
  }

  private haltReason(job: SyncJob, halt: RunHalt | null, abortReason: unknown): string | null {
    if (halt === null) return null;
    switch (halt.kind) {
      case 'circuit_breaker':
        return circuitBreakerReason(halt.judged);
      case 'error':
        return halt.retryable || !job.retryOnFailure
          ? halt.message
          : `${halt.message} (not retried: a configuration problem; fix it, then run the job again)`;
      case 'connection_lost':
        return halt.message;
      default:
        if (abortReason instanceof RunAbort) return abortReason.message;
        return halt.kind === 'cancelled' ? 'cancelled by request' : halt.kind;
    }
  }

  /** Backoff of whole-run retries; workers started with their own delays set it for this process. */
  private runRetry: RunRetryDelays;

  setRunRetryDelays(delays: { baseDelayMs?: number; maxDelayMs?: number }): void {
    this.runRetry = { ...this.runRetry, ...delays };
  }

  /**
   * "Retry on failure", whoever ran the execution (a worker, `runJob`, the CLI, a webhook or a dead letter
   * retry): a `failed` or `timed_out` run, or one cancelled because the connection was lost, gets a new
   * execution through the durable queue (trigger `retry`, attempt + 1, up to the job's max retries) after an
   * exponential backoff with jitter, resuming whole runs from their last checkpoint. Runs that failed for a
   * configuration reason are not retried, nor are runs of a disabled job, `completed_with_errors` runs
   * (their failed records are in the retry set) and runs a person cancelled. Returns the queued retry.
   */
  async retryIfDue(execution: SyncExecution): Promise<SyncExecution | null> {
    if (!retryableEnd(execution.status, execution.haltKind)) return null;
    const job = await this.jobs.get(execution.jobId).catch(() => null);
    if (!job?.retryOnFailure || !job.enabled || execution.attempt > job.maxRetries) return null;
    const delayMs = runRetryDelayMs(this.runRetry, execution.attempt);
    this.log.info(
      { executionId: execution.id, jobId: job.id, attempt: execution.attempt + 1, delayMs },
      'retry queued',
    );
    const { execution: next } = await (await this.queue()).enqueue(job, {
      trigger: 'retry',
      attempt: execution.attempt + 1,
      resumeFrom: execution.id,
      delayMs,
      ...(execution.recordKeys !== null
        ? { recordKeys: execution.recordKeys, side: execution.recordSide ?? 'provider' }
        : {}),
    });
    return next;
  }

  /**
   * Final status, completedAt, durationSeconds; for whole runs the job's lastRunAt, nextRunAt and (on
   * success) its cursor: the start of the run (of its first attempt), reaching back by the overlap.
   * Only an execution still `running` is finished, so a reaper and a late worker cannot both finish it.
   */
  async finish(
    job: SyncJob,
    executionId: string,
    status: ExecutionStatus,
    haltReason: string | null,
    whole: boolean,
    haltKind: HaltKind | null = null,
  ): Promise<SyncExecution> {
    let finished = false;
    const execution = await this.db.transaction().execute(async (trx) => {
      const row = await trx
        .updateTable('sync_executions')
        .set({
          status,
          halt_reason: haltReason,
          halt_kind: haltKind,
          completed_at: sql<Date>`now()`,
          duration_seconds: sql<number>`round(extract(epoch from now() - started_at)::numeric, 3)`,
        })
        .where('id', '=', executionId)
        .where('status', '=', 'running')
        .returningAll()
        .executeTakeFirst();
      if (!row) {
        return toExecution(
          await trx.selectFrom('sync_executions').selectAll().where('id', '=', executionId).executeTakeFirstOrThrow(),
        );
      }
      if (whole) {
        const overlap = this.options.cursorOverlapMs ?? 60_000;
        const windowStart = row.window_start ?? row.started_at!;
        await trx
          .updateTable('sync_jobs')
          .set({
            last_run_at: row.started_at!,
            ...(job.schedule.type === 'cron' ? {} : { next_run_at: null }),
            ...(advancesCursor(status) ? { cursor: new Date(windowStart.getTime() - overlap) } : {}),
          })
          .where('id', '=', job.id)
          .execute();
      }
      finished = true;
      return toExecution(row);
    });
    if (finished) {
      for (const listener of this.finishedListeners) {
        try {
          listener(execution, job);
        } catch (err) {
          this.log.error({ err: errorMessage(err) }, 'execution listener failed');
        }
      }
    }
    return execution;
  }

  async health(): Promise<{ database: boolean; pendingMigrations: string[]; error?: string }> {
    try {
      await sql`SELECT 1`.execute(this.db);
    } catch (err) {
      return { database: false, pendingMigrations: [], error: errorMessage(err) };
    }
    return { database: true, pendingMigrations: await pendingMigrations(this.database) };
  }

  private readonly finishedListeners = new Set<(execution: SyncExecution, job: SyncJob) => void>();

  onExecutionFinished(listener: (execution: SyncExecution, job: SyncJob) => void): () => void {
    this.finishedListeners.add(listener);
    return () => this.finishedListeners.delete(listener);
  }

  private async providerEndpoint(job: SyncJob): Promise<Endpoint> {
    const conn = await this.connectionRow(job.connectionId);
    const provider = this.providerMap.get(conn.provider);
    if (!provider) throw new Error(`provider "${conn.provider}" is not registered with this engine`);
    const credentials = conn.credentials === null ? {} : this.vault.open(conn.credentials);
    return provider.createEndpoint({ id: conn.id, provider: conn.provider, config: conn.config, credentials });
  }

  /** The local endpoint as a job sees it: its `localEntity` stands in for the entity type. */
  private async localFor(job: SyncJob): Promise<Endpoint> {
    const endpoint = await this.local();
    if (!job.localEntity || job.localEntity === job.entityType) return endpoint;
    return renameEntityType(endpoint, job.entityType, job.localEntity);
  }

  private local(): Promise<Endpoint> {
    if (!this.options.local) return Promise.reject(new Error('no local store is configured (option `local`)'));
    if (!this.localEndpoint) {
      this.localEndpoint = this.options.local.createEndpoint(this.db);
      this.localEndpoint.catch(() => {
        this.localEndpoint = null;
      });
    }
    return this.localEndpoint;
  }

  async cancel(executionId: string): Promise<SyncExecution> {
    if (!isUuid(executionId)) throw new NotFoundError('execution', executionId);
    // A queued execution is cancelled on the spot; a running one is asked to stop, which its worker
    // (in any process) notices at the next page or heartbeat.
    const queued = await this.db
      .updateTable('sync_executions')
      .set({
        status: 'cancelled',
        halt_reason: 'cancelled before it started',
        halt_kind: 'cancelled',
        cancel_requested_at: sql<Date>`now()`,
        started_at: sql<Date>`coalesce(started_at, now())`,
        completed_at: sql<Date>`now()`,
        duration_seconds: 0,
      })
      .where('id', '=', executionId)
      .where('status', '=', 'queued')
      .returningAll()
      .executeTakeFirst();
    if (queued) {
      if (queued.queue_job_id) {
        await (await this.queue()).withdraw(queued.queue_job_id, queued.record_keys !== null).catch((err: unknown) =>
          // A worker that claims it later finds the execution cancelled and drops it.
          this.log.warn({ executionId, err: errorMessage(err) }, 'queue job of a cancelled execution not withdrawn'),
        );
      }
      return toExecution(queued);
    }
    const row = await this.db
      .updateTable('sync_executions')
      .set({ cancel_requested_at: sql<Date>`coalesce(cancel_requested_at, now())` })
      .where('id', '=', executionId)
      .returningAll()
      .executeTakeFirst();
    if (!row) throw new NotFoundError('execution', executionId);
    this.active.get(executionId)?.abort(new RunAbort('cancelled', 'cancelled by request'));
    return toExecution(row);
  }

  /**
   * Re-seals every connection's credentials under the current (first) key. Old keys must still be
   * configured (after the first one) until this has run. Returns how many connections were re-sealed.
   */
  async rotateCredentials(): Promise<number> {
    let rotated = 0;
    let after = '00000000-0000-0000-0000-000000000000';
    for (;;) {
      const rows = await this.db
        .selectFrom('connections')
        .select(['id', 'credentials'])
        .where('id', '>', after)
        .orderBy('id')
        .limit(100)
        .execute();
      if (rows.length === 0) return rotated;
      after = rows.at(-1)!.id;
      await this.db.transaction().execute(async (trx) => {
        for (const r of rows) {
          if (r.credentials === null || !this.vault.isStale(r.credentials)) continue;
          await trx
            .updateTable('connections')
            .set({ credentials: this.vault.seal(this.vault.open(r.credentials)), updated_at: sql<Date>`now()` })
            .where('id', '=', r.id)
            .where('credentials', '=', r.credentials)
            .execute();
          rotated++;
        }
      });
    }
  }

  // ── queue ──────────────────────────────────────────────────────────────────
  private queuePromise: Promise<SyncQueue> | null = null;
  private readonly workers = new Set<SyncWorker>();

  /** The durable queue (pg-boss), opened on first use. */
  queue(): Promise<SyncQueue> {
    if (this.closed) return Promise.reject(new StateError('the engine is closed'));
    if (!this.queuePromise) {
      this.queuePromise = SyncQueue.open(this, this.options.queue);
      this.queuePromise.catch(() => {
        this.queuePromise = null;
      });
    }
    return this.queuePromise;
  }

  async trigger(jobId: string, options: { trigger?: Trigger } = {}): Promise<EnqueueResult> {
    const job = await this.jobs.get(jobId);
    const trigger = options.trigger ?? 'manual';
    // Disabling a job stops its scheduled and webhook runs; a manual run is an explicit act and still runs.
    if (!job.enabled && trigger !== 'manual') throw new StateError(`sync job ${jobId} is disabled`);
    return (await this.queue()).enqueue(job, { trigger });
  }

  async webhook(connectionId: string, entityType: string, recordIds: string[]): Promise<EnqueueResult[]> {
    if (!Array.isArray(recordIds) || recordIds.length === 0 || recordIds.some((r) => typeof r !== 'string' || !r)) {
      throw new ValidationError([{ path: 'recordIds', message: 'must be a non-empty list of record ids' }]);
    }
    await this.connectionRow(connectionId);
    const jobs = (await this.jobs.list({ connectionId })).filter(
      (j) => j.enabled && j.entityType === entityType && j.direction !== 'outbound',
    );
    const queue = await this.queue();
    const out: EnqueueResult[] = [];
    for (const job of jobs) {
      for (const id of new Set(recordIds)) {
        out.push(await queue.enqueue(job, { trigger: 'webhook', recordKeys: [id], side: 'provider' }));
      }
    }
    return out;
  }

  private webhookPrunedAt = 0;

  async receiveWebhook(
    connectionId: string,
    delivery: WebhookDelivery,
  ): Promise<{ accepted: number; duplicates: number }> {
    const conn = await this.connectionRow(connectionId);
    const provider = this.providerMap.get(conn.provider);
    if (!provider?.webhook) {
      throw new ProviderError('config', `provider "${conn.provider}" does not send webhooks`);
    }
    const credentials = conn.credentials === null ? {} : this.vault.open(conn.credentials);
    const events = provider.webhook.verify(delivery, {
      id: conn.id,
      provider: conn.provider,
      config: conn.config,
      credentials,
    });
    if (events.length === 0) return { accepted: 0, duplicates: 0 };
    // Each event id is stored once; a replayed delivery inserts nothing and starts nothing.
    const fresh = await this.db
      .insertInto('webhook_events')
      .values(
        events.map((e) => ({
          connection_id: conn.id,
          event_id: e.eventId,
          entity_type: e.entityType,
          record_id: e.recordId,
        })),
      )
      .onConflict((oc) => oc.columns(['connection_id', 'event_id']).doNothing())
      .returning(['entity_type', 'record_id'])
      .execute();
    // Event ids are kept 30 days (providers retry deliveries for up to 3 days); pruned at most hourly.
    if (Date.now() - this.webhookPrunedAt > 3_600_000) {
      this.webhookPrunedAt = Date.now();
      await sql`DELETE FROM webhook_events WHERE received_at < now() - interval '30 days'`.execute(this.db);
    }
    const byType = new Map<string, string[]>();
    for (const e of fresh) byType.set(e.entity_type, [...(byType.get(e.entity_type) ?? []), e.record_id]);
    for (const [entityType, ids] of byType) {
      // Runs are queued in the background: the provider gets its 2xx at once.
      this.webhook(conn.id, entityType, ids).catch((err: unknown) =>
        this.log.error({ connectionId: conn.id, entityType, err: errorMessage(err) }, 'webhook runs not queued'),
      );
    }
    return { accepted: fresh.length, duplicates: events.length - fresh.length };
  }

  async startWorker(options: WorkerOptions = {}): Promise<SyncWorker> {
    const worker = await new SyncWorker(this, await this.queue(), options).start();
    this.workers.add(worker);
    return worker;
  }

  async close(options: { graceMs?: number } = {}): Promise<void> {
    if (this.closed) return;
    await Promise.allSettled([...this.workers].map((w) => w.stop(options.graceMs ?? 10_000)));
    this.closed = true;
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    for (const c of this.active.values()) c.abort(new RunAbort('cancelled', 'engine closed'));
    await Promise.allSettled([...this.running]);
    if (this.queuePromise) await (await this.queuePromise.catch(() => null))?.close();
    await Promise.allSettled([...this.providerMap.values()].map((p) => p.close?.()));
    await this.database.close();
  }
}

/** An endpoint that serves entity type `from` as its own entity type `to` (a job's local entity). */
function renameEntityType(endpoint: Endpoint, from: string, to: string): Endpoint {
  const rename = <T extends { entityType: string }>(request: T): T =>
    request.entityType === from ? { ...request, entityType: to } : request;
  const renamed: Endpoint = {
    colocated: endpoint.colocated ?? false,
    readPage: (request) => endpoint.readPage(rename(request)),
    fetch: (request) => endpoint.fetch(rename(request)),
    write: (request) => endpoint.write(rename(request)),
  };
  const table = endpoint.colocatedTable?.bind(endpoint);
  if (table) renamed.colocatedTable = (entityType) => table(entityType === from ? to : entityType);
  return renamed;
}

function pageLimit(limit: number | undefined): number {
  if (limit === undefined) return 50;
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) {
    throw new ValidationError([{ path: 'limit', message: 'must be an integer between 1 and 500' }]);
  }
  return limit;
}

/** Cursors are opaque to callers: base64url of the last row's sort key. */
function encodeCursor(key: { at: string; id: string }): string {
  return Buffer.from(JSON.stringify([key.at, key.id])).toString('base64url');
}

function decodeCursor(cursor: string | null | undefined): { at: string; id: string } | null {
  if (cursor === undefined || cursor === null || cursor === '') return null;
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (typeof at === 'string' && typeof id === 'string' && (at === '' ? /^\d+$/.test(id) : isUuid(id))) {
      if (at === '' || /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}(:?\d{2})?|Z)?$/.test(at)) {
        return { at, id };
      }
    }
  } catch {
    // reported below
  }
  throw new ValidationError([{ path: 'cursor', message: 'is not a cursor returned by this API' }]);
}

function toPage<R, T>(
  rows: R[],
  limit: number,
  map: (row: R) => T,
  key: (row: R) => { at: string; id: string },
): Page<T> {
  const more = rows.length > limit;
  const page = more ? rows.slice(0, limit) : rows;
  return { items: page.map(map), nextCursor: more ? encodeCursor(key(page[page.length - 1]!)) : null };
}
