/**
 * The composition root: opens the database, applies migrations, and wires the services (one per noun, in
 * src/services/) into the public SyncEngine. Nothing below src/api, src/cli and bench imports this file.
 *
 *   connections ─┐                     ┌─ executions (read side)
 *   jobs ────────┼─► runs (RunService) ─┤
 *   providers ───┘     │      ▲         └─ dead letters (retry = a single-record run)
 *                      ▼      │ RunLauncher (src/queue/ports.ts)
 *                    queue, workers (pg-boss)  ◄── webhooks, trigger
 *
 *   runs.onExecutionFinished ─► alerts ─► queue (alert deliveries) ─► workers ─► notification channels
 */
import { sql } from 'kysely';
import { pino } from 'pino';
import { alertTransport } from './connectors/http/alert-transport.ts';
import { errorMessage, StateError } from './domain/errors.ts';
import type { SyncJob } from './domain/types.ts';
import { DEFAULT_TRANSIENT_RETRY } from './engine/retry.ts';
import { SyncQueue } from './queue/queue.ts';
import { SyncWorker, type WorkerOptions } from './queue/worker.ts';
import { openVault } from './security/keys.ts';
import type { CredentialVault } from './security/vault.ts';
import { alertService } from './services/alerts.ts';
import { conflictService } from './services/conflicts.ts';
import { connectionService } from './services/connections.ts';
import { deadLetterService } from './services/dead-letters.ts';
import { localEndpoints } from './services/endpoints.ts';
import { executionService } from './services/executions.ts';
import { fleetService } from './services/fleet.ts';
import { jobService } from './services/jobs.ts';
import { withRedaction } from './services/logging.ts';
import { providerRegistry } from './services/providers.ts';
import { recordService } from './services/records.ts';
import { RunService } from './services/runs.ts';
import type { SyncEngine, SyncEngineOptions } from './services/types.ts';
import { webhookService } from './services/webhooks.ts';
import { type Database, DEFAULT_DATA_DIR, openDatabase } from './store/database.ts';
import { migrate, migrationStatus } from './store/migrate.ts';
import { createRunStore } from './store/run-store.ts';

export { REDACT_PATHS } from './services/logging.ts';
export type {
  AlertOptions,
  ListOptions,
  Page,
  PageOptions,
  RunOptions,
  StartedRun,
  SyncEngine,
  SyncEngineOptions,
} from './services/types.ts';

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
    ...(options.pgliteSettings !== undefined ? { pgliteSettings: options.pgliteSettings } : {}),
  });
  try {
    if (options.migrate !== false) await migrate(database);
    const sealed = {
      keyIds: await sealingKeyIds(database),
      allowMissing:
        options.allowMissingKeys ?? /^(1|true|yes)$/i.test(process.env.OTESSE_SYNC_ALLOW_MISSING_KEYS ?? ''),
    };
    return compose(database, options, openVault(options.encryptionKeys, options.database, DEFAULT_DATA_DIR, sealed));
  } catch (err) {
    await database.close();
    throw err;
  }
}

/**
 * The ids of the keys that sealed the stored credentials, with how many connections each sealed: one query,
 * nothing decrypted (an envelope is `v1.<keyId>.…`). Empty when the engine's tables do not exist yet.
 */
async function sealingKeyIds(database: Database): Promise<Map<string, number>> {
  try {
    const { rows } = await sql<{ key_id: string; n: number }>`
      SELECT split_part(credentials, '.', 2) AS key_id, count(*)::int AS n
      FROM connections
      WHERE credentials LIKE 'v1.%'
      GROUP BY 1`.execute(database.db);
    return new Map(rows.map((r) => [r.key_id, Number(r.n)]));
  } catch (err) {
    if ((err as { code?: unknown }).code === '42P01') return new Map(); // not migrated (migrate: false)
    throw err;
  }
}

function compose(database: Database, options: SyncEngineOptions, vault: CredentialVault): SyncEngine {
  const db = database.db;
  const log = withRedaction(options.logger ?? pino({ enabled: false }));
  const providers = providerRegistry(options.providers ?? []);
  const connections = connectionService({ db, vault, providers });
  const jobs = jobService({ db, providers, local: options.local });
  const executions = executionService({ db, startJob: (jobId, o) => runs.startJob(jobId, o) });
  const localFor = localEndpoints(options.local, db);
  /** A job's two sides, as its runs, previews, the inspector and conflict resolution see them. */
  const endpointsFor = (job: SyncJob) => Promise.all([connections.endpointFor(job), localFor(job)]);
  const workers = new Set<SyncWorker>();
  let closed = false;

  // The durable queue (pg-boss), opened on first use: a library that only calls runJob never starts it.
  let opened: Promise<SyncQueue> | null = null;
  const queue = (): Promise<SyncQueue> => {
    if (closed) return Promise.reject(new StateError('the engine is closed'));
    if (!opened) {
      opened = SyncQueue.open(runs, options.queue);
      opened.catch(() => {
        opened = null;
      });
    }
    return opened;
  };

  const runs = new RunService({
    database,
    log,
    store: createRunStore(database),
    jobs,
    endpointsFor,
    queue,
    pageSize: options.pageSize ?? 100,
    retry: { ...DEFAULT_TRANSIENT_RETRY, ...options.transientRetry },
    runRetry: { baseDelayMs: 30_000, maxDelayMs: 30 * 60_000, ...options.runRetry },
    cursorOverlapMs: options.cursorOverlapMs ?? 60_000,
    minuteMs: options.minuteMs ?? 60_000,
  });
  const records = recordService({
    db,
    jobs,
    endpointsFor,
  });
  const conflicts = conflictService({
    db,
    jobs,
    endpointsFor,
  });
  const deadLetters = deadLetterService({ db, startJob: (jobId, o) => runs.startJob(jobId, o) });
  const fleet = fleetService({ db });
  const webhooks = webhookService({ db, vault, providers, connections, queue });
  const alertOptions = options.alerts ?? {};
  const alerts = alertService({
    db,
    vault,
    log,
    transport: alertTransport(alertOptions.outbound),
    // The open queue even while the engine closes: runs finishing then still queue their alerts.
    queue: () => opened ?? queue(),
    publicUrl: alertOptions.publicUrl ?? null,
    retry: { limit: 8, delaySeconds: 10, maxDelaySeconds: 3600, ...alertOptions.retry },
    timeoutMs: alertOptions.timeoutMs ?? 10_000,
  });
  runs.onExecutionFinished(alerts.onExecutionFinished);

  return {
    database,
    log,
    connections: {
      create: connections.create,
      get: connections.get,
      list: connections.list,
      page: connections.page,
      summaries: connections.summaries,
      update: connections.update,
      test: connections.test,
      delete: connections.delete,
    },
    jobs: {
      create: jobs.create,
      get: jobs.get,
      list: jobs.list,
      page: jobs.page,
      update: jobs.update,
      delete: jobs.delete,
    },
    executions,
    deadLetters: {
      list: deadLetters.list,
      page: deadLetters.page,
      get: deadLetters.get,
      retry: deadLetters.retry,
      startRetry: deadLetters.startRetry,
      discard: deadLetters.discard,
    },
    inspectRecord: records.inspect,
    conflicts: {
      page: conflicts.page,
      get: conflicts.get,
      countOpen: conflicts.countOpen,
      resolve: conflicts.resolve,
    },
    alerts: {
      createChannel: alerts.createChannel,
      listChannels: alerts.listChannels,
      getChannel: alerts.getChannel,
      updateChannel: alerts.updateChannel,
      deleteChannel: alerts.deleteChannel,
      sendTest: alerts.sendTest,
      deliveries: alerts.deliveries,
    },
    fleet: { overview: fleet.overview },
    providers: () => providers.list(),
    receiveWebhook: webhooks.receiveWebhook,
    webhook: webhooks.webhook,
    retrySet: deadLetters.retrySet,
    preview: async (job, o) =>
      runs.preview(typeof job === 'string' ? await jobs.get(job) : await jobs.draft(job.draft), o?.limit),
    runJob: (jobId, o) => runs.runJob(jobId, o),
    startJob: (jobId, o) => runs.startJob(jobId, o),
    trigger: (jobId, o) => runs.trigger(jobId, o),
    cancel: (executionId) => runs.cancel(executionId),
    onExecutionFinished: (listener) => runs.onExecutionFinished(listener),
    rotateCredentials: async () => (await connections.rotateCredentials()) + (await alerts.rotateSecrets()),
    async startWorker(workerOptions: WorkerOptions = {}) {
      const worker = await new SyncWorker(runs, await queue(), workerOptions, alerts).start();
      workers.add(worker);
      return worker;
    },
    async health() {
      try {
        await sql`SELECT 1`.execute(db);
      } catch (err) {
        return { database: false, pendingMigrations: [], changedMigrations: [], error: errorMessage(err) };
      }
      const status = await migrationStatus(database);
      return {
        database: true,
        pendingMigrations: status.pending,
        changedMigrations: status.changed.map((c) => c.name),
      };
    },
    async close(closeOptions = {}) {
      if (closed) return;
      await Promise.allSettled([...workers].map((w) => w.stop(closeOptions.graceMs ?? 10_000)));
      closed = true;
      await runs.close();
      await alerts.close();
      if (opened) await (await opened.catch(() => null))?.close();
      await providers.closeAll();
      await database.close();
    },
  };
}
