/**
 * Operator commands over the engine's database: jobs, runs with live progress, executions, dead letters.
 * Every command takes `--json` for scripts; human output is a table or a progress line.
 */
import { loadServerConfig, localSide } from '../api/config.ts';
import { apiDeadLetter, apiExecution, apiJob } from '../api/shapes.ts';
import { builtInProviders } from '../connectors/index.ts';
import { ValidationError } from '../domain/errors.ts';
import { FINAL_STATUSES, type SyncExecution } from '../domain/types.ts';
import { createSyncEngine, type SyncEngine } from '../sync-engine.ts';

export interface OperatorOptions {
  database: string;
  schema?: string | undefined;
  config?: string | undefined;
  json?: boolean | undefined;
  follow?: boolean | undefined;
  queue?: boolean | undefined;
  status?: string | undefined;
  limit?: string | undefined;
}

/** Exit codes of `run`: 0 completed, 2 completed with errors, 1 anything else. */
export function exitCodeFor(status: SyncExecution['status']): number {
  if (status === 'completed') return 0;
  if (status === 'completed_with_errors') return 2;
  return 1;
}

async function withEngine<T>(options: OperatorOptions, fn: (engine: SyncEngine) => Promise<T>): Promise<T> {
  const { config } = loadServerConfig(options.config);
  const local = localSide(config);
  const engine = await createSyncEngine({
    database: options.database,
    ...(options.schema ? { schema: options.schema } : {}),
    providers: builtInProviders(),
    ...(local.store ? { local: local.store } : {}),
  });
  try {
    return await fn(engine);
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

const when = (d: Date | null) => (d ? d.toISOString().replace('T', ' ').slice(0, 19) : '-');

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
  return withEngine(options, async (engine) => {
    const jobs = await engine.jobs.list();
    const last = await engine.executions.latest(jobs.map((j) => j.id));
    const rows = jobs.map((j) => apiJob(j, last.get(j.id) ?? null));
    out(options, rows, () =>
      rows.length === 0
        ? 'no sync jobs'
        : table([
            ['ID', 'NAME', 'ENTITY', 'DIRECTION', 'MODE', 'SCHEDULE', 'LAST RUN', 'NEXT RUN'],
            ...rows.map((j) => [
              j.id,
              j.name,
              j.entityType,
              j.direction,
              j.mode,
              j.schedule ?? 'manual',
              j.lastRun ? `${j.lastRun.status} ${when(j.lastRun.startedAt)}` : '-',
              when(j.nextRunAt),
            ]),
          ]),
    );
    return 0;
  });
}

/** One progress line: processed, outcome counters, rate and elapsed time. */
export function progressLine(e: SyncExecution, startedMs: number): string {
  const elapsed = Math.max(0.001, (Date.now() - startedMs) / 1000);
  const rate = Math.round(e.processed / elapsed);
  const width = 20;
  const done = FINAL_STATUSES.includes(e.status);
  const bar = done ? '#'.repeat(width) : `${'#'.repeat(Math.floor(elapsed * 4) % (width + 1))}`.padEnd(width, '.');
  return (
    `[${bar}] ${e.status.padEnd(21)} processed ${e.processed}  created ${e.created}  updated ${e.updated}  ` +
    `skipped ${e.skipped}  failed ${e.failed}  ${rate}/s  ${elapsed.toFixed(1)}s`
  );
}

/** Polls an execution until it is final, drawing progress on stderr. */
async function follow(engine: SyncEngine, executionId: string, options: OperatorOptions): Promise<SyncExecution> {
  const started = Date.now();
  const tty = process.stderr.isTTY && !options.json;
  let last = '';
  let lastPrinted = 0;
  for (;;) {
    const e = await engine.executions.get(executionId);
    const final = FINAL_STATUSES.includes(e.status);
    if (!options.json) {
      const line = progressLine(e, started);
      if (tty) process.stderr.write(`\r${line}\u001b[K`);
      else if (final || (line !== last && Date.now() - lastPrinted >= 1000)) {
        process.stderr.write(`${line}\n`);
        lastPrinted = Date.now();
      }
      last = line;
    }
    if (final) {
      if (tty) process.stderr.write('\n');
      return e;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

export async function runCommand(jobId: string | undefined, options: OperatorOptions): Promise<number> {
  const id = need(jobId, 'jobId');
  return withEngine(options, async (engine) => {
    let executionId: string;
    let done: Promise<SyncExecution> | null = null;
    if (options.queue) {
      // Hand the run to the workers (a server or `otesse-sync worker` must be running).
      executionId = (await engine.trigger(id, { trigger: 'manual' })).execution.id;
    } else {
      const started = await engine.startJob(id, { trigger: 'manual' });
      executionId = started.execution.id;
      done = started.done;
    }
    if (!options.follow) {
      const final = done ? await done : await engine.executions.get(executionId);
      out(options, apiExecution(final), () => summaryLine(final));
      return done ? exitCodeFor(final.status) : 0;
    }
    const final = await follow(engine, executionId, options);
    if (done) await done;
    out(options, apiExecution(final), () => summaryLine(final));
    return exitCodeFor(final.status);
  });
}

function summaryLine(e: SyncExecution): string {
  return (
    `execution ${e.id}: ${e.status}${e.durationSeconds === null ? '' : ` in ${e.durationSeconds}s`} — processed ` +
    `${e.processed}, created ${e.created}, updated ${e.updated}, skipped ${e.skipped}, failed ${e.failed}` +
    (e.haltReason ? `\nreason: ${e.haltReason}` : '')
  );
}

export async function executionsCommand(
  sub: string | undefined,
  arg: string | undefined,
  options: OperatorOptions,
): Promise<number> {
  return withEngine(options, async (engine) => {
    if (sub === 'list') {
      const jobId = need(arg, 'jobId');
      await engine.jobs.get(jobId);
      const page = await engine.executions.page(jobId, { limit: limitOf(options) });
      const items = page.items.map(apiExecution);
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
                'SKIPPED',
                'FAILED',
              ],
              ...page.items.map((e) => [
                e.id,
                e.status,
                e.trigger,
                String(e.attempt),
                when(e.startedAt),
                e.durationSeconds === null ? '-' : String(e.durationSeconds),
                String(e.processed),
                String(e.created),
                String(e.updated),
                String(e.skipped),
                String(e.failed),
              ]),
            ]),
      );
      return 0;
    }
    if (sub === 'show') {
      const e = await engine.executions.get(need(arg, 'executionId'));
      const failures = await engine.executions.failuresPage(e.id, { limit: limitOf(options) });
      out(options, { ...apiExecution(e), failures: failures.items }, () =>
        [
          summaryLine(e),
          ...failures.items.map((f) => `  ${f.side} ${f.recordKey} [${f.phase}/${f.errorKind}] ${f.message}`),
        ].join('\n'),
      );
      return 0;
    }
    throw new ValidationError([
      { path: 'executions', message: 'expected "executions list <jobId>" or "executions show <id>"' },
    ]);
  });
}

export async function dlqCommand(
  sub: string | undefined,
  arg: string | undefined,
  options: OperatorOptions,
): Promise<number> {
  return withEngine(options, async (engine) => {
    if (sub === 'list') {
      const jobId = need(arg, 'jobId');
      await engine.jobs.get(jobId);
      const status = (options.status ?? 'open') as 'open';
      const page = await engine.deadLetters.page(jobId, { limit: limitOf(options), status });
      const items = page.items.map(apiDeadLetter);
      out(options, items, () =>
        items.length === 0
          ? 'the dead letter queue is empty'
          : table([
              ['ID', 'RECORD', 'SIDE', 'FAILURES', 'LAST FAILED', 'LAST ERROR'],
              ...page.items.map((d) => [
                d.id,
                d.recordKey,
                d.side,
                String(d.failureCount),
                when(d.updatedAt),
                d.lastError,
              ]),
            ]),
      );
      return 0;
    }
    if (sub === 'retry') {
      const e = await engine.deadLetters.retry(need(arg, 'deadLetterId'));
      out(options, apiExecution(e), () => summaryLine(e));
      return exitCodeFor(e.status);
    }
    if (sub === 'discard') {
      const d = await engine.deadLetters.discard(need(arg, 'deadLetterId'));
      out(options, apiDeadLetter(d), () => `dead letter ${d.id} (${d.recordKey}) discarded`);
      return 0;
    }
    throw new ValidationError([
      { path: 'dlq', message: 'expected "dlq list <jobId>", "dlq retry <id>" or "dlq discard <id>"' },
    ]);
  });
}
