import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { RunLogSink } from '../engine/runner.ts';
import type { RetryReport, RunTelemetry } from '../engine/telemetry.ts';
import type { DB } from '../store/schema.ts';

/** Entries of pages and retries kept per execution; lifecycle entries (start, halt, finish…) are always kept. */
export const RUN_LOG_CAP = 1000;

const CAPPED = new Set(['page', 'retry', 'rate_limited']);

type Entry = { level: 'info' | 'warn' | 'error'; event: string; message: string; data: Record<string, unknown> | null };

/**
 * One execution's run log, written in batches (a multi-row insert every 50 entries or second, and at the end):
 * a page commit never waits for its log line. Retries made on the run's behalf arrive through the run's telemetry
 * (connectors retry 429/5xx themselves) and are summed into the waits of the timing summary. Entries carry ids and
 * figures only, never credentials or record content.
 */
export class ExecutionLog implements RunLogSink, RunTelemetry {
  private buffer: Entry[] = [];
  private kept = 0;
  private dropped = 0;
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> = Promise.resolve();
  readonly waits = { rateLimitWaitMs: 0, retryWaitMs: 0 };

  constructor(
    private readonly db: Kysely<DB>,
    private readonly executionId: string,
    private readonly log: Logger,
  ) {}

  /** Counts what an earlier attempt of this execution (released, resumed) already logged, for the cap. */
  async init(): Promise<void> {
    const row = await this.db
      .selectFrom('execution_log')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('execution_id', '=', this.executionId)
      .where('event', 'in', [...CAPPED])
      .executeTakeFirst();
    this.kept = Number(row?.n ?? 0);
  }

  add(level: Entry['level'], event: string, message: string, data?: Record<string, unknown>): void {
    if (CAPPED.has(event)) {
      if (this.kept >= RUN_LOG_CAP) {
        this.dropped++;
        return;
      }
      this.kept++;
    }
    this.buffer.push({ level, event, message, data: data ?? null });
    if (this.buffer.length >= 50) void this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), 1000);
      this.timer.unref();
    }
  }

  retry(r: RetryReport): void {
    const limited = r.status === 429;
    if (limited) this.waits.rateLimitWaitMs += r.waitMs;
    else this.waits.retryWaitMs += r.waitMs;
    this.add(
      'warn',
      limited ? 'rate_limited' : 'retry',
      limited
        ? `${r.provider} answered 429: waiting ${r.waitMs} ms${r.retryAfterMs !== undefined ? ` (Retry-After ${r.retryAfterMs} ms)` : ''} before try ${r.attempt + 1}`
        : `${r.provider} failed (${r.status}): retrying in ${r.waitMs} ms (try ${r.attempt + 1})`,
      {
        provider: r.provider,
        status: r.status,
        attempt: r.attempt,
        waitMs: r.waitMs,
        ...(r.retryAfterMs !== undefined ? { retryAfterMs: r.retryAfterMs } : {}),
        error: r.message,
      },
    );
  }

  /** Writes what is buffered (and, when `final`, how many entries the cap dropped). */
  async flush(final = false): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (final && this.dropped > 0) {
      this.buffer.push({
        level: 'warn',
        event: 'log_truncated',
        message: `${this.dropped} page and retry entries were not kept (the log keeps ${RUN_LOG_CAP} per execution)`,
        data: { dropped: this.dropped, cap: RUN_LOG_CAP },
      });
      this.dropped = 0;
    }
    const entries = this.buffer;
    this.buffer = [];
    if (entries.length === 0) return this.writing;
    const write = this.writing.then(async () => {
      try {
        await this.db
          .insertInto('execution_log')
          .values(
            entries.map((e) => ({
              execution_id: this.executionId,
              level: e.level,
              event: e.event,
              message: e.message.slice(0, 1000),
              data: e.data === null ? null : JSON.stringify(e.data),
            })),
          )
          .execute();
      } catch (err) {
        // The log must never fail a run.
        this.log.warn({ executionId: this.executionId, err: (err as Error).message }, 'run log entries not written');
      }
    });
    this.writing = write;
    return write;
  }
}
