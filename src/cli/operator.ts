/**
 * Operator commands: jobs, runs with live progress, executions, dead letters. Every command takes `--json` for
 * scripts; human output is a table or a progress line.
 *
 * They work through one of two backends with the same answers (the REST API's JSON):
 * - a running server's REST API (`--server URL`, `OTESSE_SYNC_URL`, or the server that holds the PGlite data
 *   directory, found from its lock): the server runs what is asked, with the local entities only it knows;
 * - the engine in this process, on the database (PostgreSQL, or a PGlite directory no process holds).
 */
import { loadServerConfig, localSide } from '../api/config.ts';
import { apiDeadLetter, apiExecution, apiJob } from '../api/shapes.ts';
import { builtInProviders } from '../connectors/index.ts';
import { ValidationError } from '../domain/errors.ts';
import { FINAL_STATUSES, type RecordFailure, type RunLogEntry, type SyncExecution } from '../domain/types.ts';
import { createSyncEngine, type SyncEngine } from '../sync-engine.ts';
import { ServerClient } from './server-client.ts';

export interface OperatorOptions {
  database: string;
  schema?: string | undefined;
  config?: string | undefined;
  json?: boolean | undefined;
  follow?: boolean | undefined;
  queue?: boolean | undefined;
  status?: string | undefined;
  limit?: string | undefined;
  /** The server to go through; unset: the engine in this process. */
  server?: string | undefined;
}

/** A value as it crosses the API: dates as ISO strings. */
export type Wire<T> = T extends Date
  ? string
  : T extends (infer U)[]
    ? Wire<U>[]
    : T extends object
      ? { [K in keyof T]: Wire<T[K]> }
      : T;
const wire = <T>(value: T): Wire<T> => JSON.parse(JSON.stringify(value)) as Wire<T>;

export type ApiJob = Wire<ReturnType<typeof apiJob>>;
export type ApiExecution = Wire<ReturnType<typeof apiExecution>>;
export type ApiDeadLetter = Wire<ReturnType<typeof apiDeadLetter>>;
export type ApiFailure = Wire<RecordFailure>;
export type ApiLogEntry = Wire<RunLogEntry>;

/** What the commands need, answered by the engine in this process or by a server. */
export interface Operator {
  jobs(): Promise<ApiJob[]>;
  /** Starts a run (here, or on the server); `done` is the final execution unless only queued. */
  run(jobId: string, queue: boolean): Promise<{ executionId: string; done: Promise<ApiExecution> | null }>;
  execution(id: string): Promise<ApiExecution>;
  /** Calls `progress` with the execution as it changes; resolves with the final one. */
  watch(id: string, progress: (e: ApiExecution) => void): Promise<ApiExecution>;
  executions(jobId: string, limit: number): Promise<ApiExecution[]>;
  failures(executionId: string, limit: number): Promise<ApiFailure[]>;
  /** The first `limit` entries of the execution's run log. */
  log(executionId: string, limit: number): Promise<ApiLogEntry[]>;
  deadLetters(jobId: string, status: string, limit: number): Promise<ApiDeadLetter[]>;
  /** Retries a dead letter's record; resolves with the retry's final execution. */
  retryDeadLetter(id: string): Promise<ApiExecution>;
  discardDeadLetter(id: string): Promise<ApiDeadLetter>;
}

/** Exit codes of `run`: 0 completed, 2 completed with errors, 1 anything else. */
export function exitCodeFor(status: SyncExecution['status']): number {
  if (status === 'completed') return 0;
  if (status === 'completed_with_errors') return 2;
  return 1;
}

const isFinal = (e: { status: string }) => (FINAL_STATUSES as readonly string[]).includes(e.status);

/** The engine in this process as an Operator. */
function engineOperator(engine: SyncEngine): Operator {
  return {
    async jobs() {
      const jobs = await engine.jobs.list();
      const last = await engine.executions.latest(jobs.map((j) => j.id));
      return jobs.map((j) => wire(apiJob(j, last.get(j.id) ?? null)));
    },
    async run(jobId, queue) {
      if (queue) {
        // Hand the run to the workers (a server or `otesse-sync worker` must be running).
        return { executionId: (await engine.trigger(jobId, { trigger: 'manual' })).execution.id, done: null };
      }
      const started = await engine.startJob(jobId, { trigger: 'manual' });
      return { executionId: started.execution.id, done: started.done.then((e) => wire(apiExecution(e))) };
    },
    async execution(id) {
      return wire(apiExecution(await engine.executions.get(id)));
    },
    async watch(id, progress) {
      for (;;) {
        const e = wire(apiExecution(await engine.executions.get(id)));
        progress(e);
        if (isFinal(e)) return e;
        await new Promise((r) => setTimeout(r, 250));
      }
    },
    async executions(jobId, limit) {
      await engine.jobs.get(jobId);
      return (await engine.executions.page(jobId, { limit })).items.map((e) => wire(apiExecution(e)));
    },
    async failures(executionId, limit) {
      return wire((await engine.executions.failuresPage(executionId, { limit })).items);
    },
    async log(executionId, limit) {
      return wire((await engine.executions.logPage(executionId, { limit })).items);
    },
    async deadLetters(jobId, status, limit) {
      await engine.jobs.get(jobId);
      const page = await engine.deadLetters.page(jobId, { limit, status: status as 'open' });
      return page.items.map((d) => wire(apiDeadLetter(d)));
    },
    async retryDeadLetter(id) {
      return wire(apiExecution(await engine.deadLetters.retry(id)));
    },
    async discardDeadLetter(id) {
      return wire(apiDeadLetter(await engine.deadLetters.discard(id)));
    },
  };
}

/** A server's REST API as an Operator. */
function serverOperator(client: ServerClient): Operator {
  const watch = (id: string, progress: (e: ApiExecution) => void) =>
    client.events<ApiExecution>(`/executions/${encodeURIComponent(id)}/events`, (event, e) => {
      progress(e);
      return event === 'done' || isFinal(e);
    });
  const job = (id: string) => `/sync-jobs/${encodeURIComponent(id)}`;
  return {
    async jobs() {
      // The list comes a page at a time: follow the cursors to the end.
      const jobs: ApiJob[] = [];
      let cursor: string | null = null;
      do {
        const path = `/sync-jobs?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
        const page: { items: ApiJob[]; nextCursor: string | null } = await client.get(path);
        jobs.push(...page.items);
        cursor = page.nextCursor;
      } while (cursor);
      return jobs;
    },
    async run(jobId, queue) {
      const { executionId } = await client.post<{ executionId: string }>(`${job(jobId)}/run`);
      return { executionId, done: queue ? null : watch(executionId, () => {}) };
    },
    execution: (id) => client.get<ApiExecution>(`/executions/${encodeURIComponent(id)}`),
    watch,
    async executions(jobId, limit) {
      return (await client.get<{ items: ApiExecution[] }>(`${job(jobId)}/executions?limit=${limit}`)).items;
    },
    async failures(executionId, limit) {
      const path = `/executions/${encodeURIComponent(executionId)}/failures?limit=${limit}`;
      return (await client.get<{ items: ApiFailure[] }>(path)).items;
    },
    async log(executionId, limit) {
      const path = `/executions/${encodeURIComponent(executionId)}/log?limit=${limit}`;
      return (await client.get<{ items: ApiLogEntry[] }>(path)).items;
    },
    async deadLetters(jobId, status, limit) {
      const path = `${job(jobId)}/dead-letters?status=${encodeURIComponent(status)}&limit=${limit}`;
      return (await client.get<{ items: ApiDeadLetter[] }>(path)).items;
    },
    async retryDeadLetter(id) {
      const path = `/dead-letters/${encodeURIComponent(id)}/retry`;
      const { executionId } = await client.post<{ executionId: string }>(path);
      return watch(executionId, () => {});
    },
    discardDeadLetter: (id) => client.post<ApiDeadLetter>(`/dead-letters/${encodeURIComponent(id)}/discard`),
  };
}

async function withOperator<T>(options: OperatorOptions, fn: (operator: Operator) => Promise<T>): Promise<T> {
  if (options.server) return fn(serverOperator(new ServerClient(options.server, process.env.OTESSE_SYNC_API_TOKEN)));
  const { config } = loadServerConfig(options.config);
  const local = localSide(config);
  let engine: SyncEngine;
  try {
    engine = await createSyncEngine({
      database: options.database,
      ...(options.schema ? { schema: options.schema } : {}),
      providers: builtInProviders(),
      ...(local.store ? { local: local.store } : {}),
    });
  } catch (err) {
    await local.close();
    throw err;
  }
  try {
    return await fn(engineOperator(engine));
  } finally {
    await engine.close();
    await local.close();
  }
}

function out(options: OperatorOptions, json: unknown, human: () => string): void {
  process.stdout.write(options.json ? `${JSON.stringify(json, null, 2)}\n` : `${human()}\n`);
}

function table(rows: string[][]): string {
  if (rows.length === 0) return '';
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

const when = (d: string | null | undefined) => (d ? d.replace('T', ' ').slice(0, 19) : '-');

function need(value: string | undefined, name: string): string {
  if (!value) throw new ValidationError([{ path: name, message: 'is required' }]);
  return value;
}

function limitOf(options: OperatorOptions): number {
  if (options.limit === undefined) return 20;
  const n = Number(options.limit);
  if (!Number.isInteger(n) || n < 1 || n > 500) {
    throw new ValidationError([{ path: 'limit', message: 'must be an integer between 1 and 500' }]);
  }
  return n;
}

export async function jobsCommand(sub: string | undefined, options: OperatorOptions): Promise<number> {
  if (sub !== 'list') throw new ValidationError([{ path: 'jobs', message: 'expected "jobs list"' }]);
  return withOperator(options, async (operator) => {
    const rows = await operator.jobs();
    out(options, rows, () =>
      rows.length === 0
        ? 'no sync jobs'
        : table([
            ['ID', 'NAME', 'ENTITY', 'DIRECTION', 'MODE', 'SCHEDULE', 'DELETES', 'LAST RUN', 'NEXT RUN'],
            ...rows.map((j) => [
              j.id,
              j.name,
              j.entityType,
              j.direction,
              j.mode,
              j.schedule ?? 'manual',
              j.deletePolicy === 'ignore' ? 'ignore' : `${j.deletePolicy} (${j.massDeleteThreshold}%)`,
              j.lastRun ? `${j.lastRun.status} ${when(j.lastRun.startedAt)}` : '-',
              when(j.nextRunAt),
            ]),
          ]),
    );
    return 0;
  });
}

/** One progress line: processed, outcome counters, rate and elapsed time. */
export function progressLine(e: ApiExecution, startedMs: number): string {
  const elapsed = Math.max(0.001, (Date.now() - startedMs) / 1000);
  const rate = Math.round(e.processed / elapsed);
  const width = 20;
  const bar = isFinal(e)
    ? '#'.repeat(width)
    : `${'#'.repeat(Math.floor(elapsed * 4) % (width + 1))}`.padEnd(width, '.');
  return (
    `[${bar}] ${e.status.padEnd(21)} processed ${e.processed}  created ${e.created}  updated ${e.updated}  ` +
    `${e.deleted ? `deleted ${e.deleted}  ` : ''}skipped ${e.skipped}  failed ${e.failed}  ${rate}/s  ${elapsed.toFixed(1)}s`
  );
}

/** Follows an execution until it is final, drawing progress on stderr. */
async function follow(operator: Operator, executionId: string, options: OperatorOptions): Promise<ApiExecution> {
  const started = Date.now();
  const tty = process.stderr.isTTY && !options.json;
  let last = '';
  let lastPrinted = 0;
  const final = await operator.watch(executionId, (e) => {
    if (options.json) return;
    const line = progressLine(e, started);
    if (tty) process.stderr.write(`\r${line}\u001b[K`);
    else if (isFinal(e) || (line !== last && Date.now() - lastPrinted >= 1000)) {
      process.stderr.write(`${line}\n`);
      lastPrinted = Date.now();
    }
    last = line;
  });
  if (tty) process.stderr.write('\n');
  return final;
}

export async function runCommand(jobId: string | undefined, options: OperatorOptions): Promise<number> {
  const id = need(jobId, 'jobId');
  return withOperator(options, async (operator) => {
    const { executionId, done } = await operator.run(id, options.queue ?? false);
    if (!options.follow) {
      const final = done ? await done : await operator.execution(executionId);
      out(options, final, () => summaryLine(final));
      return done ? exitCodeFor(final.status) : 0;
    }
    const final = await follow(operator, executionId, options);
    if (done) await done;
    out(options, final, () => summaryLine(final));
    return exitCodeFor(final.status);
  });
}

function summaryLine(e: ApiExecution): string {
  return (
    `execution ${e.id}: ${e.status}${e.durationSeconds === null ? '' : ` in ${e.durationSeconds}s`} — processed ` +
    `${e.processed}, created ${e.created}, updated ${e.updated}, deleted ${e.deleted}, skipped ${e.skipped}, ` +
    `failed ${e.failed}` +
    (e.haltReason ? `\nreason: ${e.haltReason}` : '')
  );
}

export async function executionsCommand(
  sub: string | undefined,
  arg: string | undefined,
  options: OperatorOptions,
): Promise<number> {
  if (sub !== 'list' && sub !== 'show') {
    throw new ValidationError([
      { path: 'executions', message: 'expected "executions list <jobId>" or "executions show <id>"' },
    ]);
  }
  const id = need(arg, sub === 'list' ? 'jobId' : 'executionId');
  return withOperator(options, async (operator) => {
    if (sub === 'list') {
      const items = await operator.executions(id, limitOf(options));
      out(options, items, () =>
        items.length === 0
          ? 'no executions'
          : table([
              [
                'ID',
                'STATUS',
                'TRIGGER',
                'ATTEMPT',
                'STARTED',
                'SECONDS',
                'PROCESSED',
                'CREATED',
                'UPDATED',
                'DELETED',
                'SKIPPED',
                'FAILED',
              ],
              ...items.map((e) => [
                e.id,
                e.status,
                e.trigger,
                String(e.attempt),
                when(e.startedAt),
                e.durationSeconds === null ? '-' : String(e.durationSeconds),
                String(e.processed),
                String(e.created),
                String(e.updated),
                String(e.deleted),
                String(e.skipped),
                String(e.failed),
              ]),
            ]),
      );
      return 0;
    }
    const e = await operator.execution(id);
    const failures = await operator.failures(e.id, limitOf(options));
    const log = await operator.log(e.id, 500);
    out(options, { ...e, failures, log }, () =>
      [
        summaryLine(e),
        ...(e.timing
          ? [
              `time: reading ${e.timing.readMs} ms, writing ${e.timing.writeMs} ms, waiting on rate limits ` +
                `${e.timing.rateLimitWaitMs} ms, retrying ${e.timing.retryWaitMs} ms`,
            ]
          : []),
        ...(failures.length > 0 ? ['failures:'] : []),
        ...failures.map((f) => `  ${f.side} ${f.recordKey} [${f.phase}/${f.errorKind}] ${f.message}`),
        ...(log.length > 0 ? ['log:'] : []),
        ...log.map((l) => `  ${when(l.at)}  ${l.level.padEnd(5)} ${l.event.padEnd(15)} ${l.message}`),
      ].join('\n'),
    );
    return 0;
  });
}

export async function dlqCommand(
  sub: string | undefined,
  arg: string | undefined,
  options: OperatorOptions,
): Promise<number> {
  if (sub !== 'list' && sub !== 'retry' && sub !== 'discard') {
    throw new ValidationError([
      { path: 'dlq', message: 'expected "dlq list <jobId>", "dlq retry <id>" or "dlq discard <id>"' },
    ]);
  }
  const id = need(arg, sub === 'list' ? 'jobId' : 'deadLetterId');
  return withOperator(options, async (operator) => {
    if (sub === 'list') {
      const items = await operator.deadLetters(id, options.status ?? 'open', limitOf(options));
      out(options, items, () =>
        items.length === 0
          ? 'the dead letter queue is empty'
          : table([
              ['ID', 'RECORD', 'SIDE', 'FAILURES', 'LAST FAILED', 'LAST ERROR'],
              ...items.map((d) => [d.id, d.recordKey, d.side, String(d.failureCount), when(d.updatedAt), d.lastError]),
            ]),
      );
      return 0;
    }
    if (sub === 'retry') {
      const e = await operator.retryDeadLetter(id);
      out(options, e, () => summaryLine(e));
      return exitCodeFor(e.status);
    }
    const d = await operator.discardDeadLetter(id);
    out(options, d, () => `dead letter ${d.id} (${d.recordKey}) discarded`);
    return 0;
  });
}
