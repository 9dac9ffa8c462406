import type { Kysely, Selectable } from 'kysely';
import type { Logger } from 'pino';
import type { AlertEvent } from '../domain/alerts.ts';
import type { RunOptions, StartedRun, SyncExecution, SyncJob } from '../domain/types.ts';
import type { RunAbort } from '../engine/abort.ts';
import type { Database } from '../store/database.ts';
import type { DB } from '../store/schema.ts';

export type ExecutionRow = Selectable<DB['sync_executions']>;

/** What the queue records for a run it carries: the execution row is written in the queue's transaction. */
export interface QueuedRunOptions extends RunOptions {
  status: 'running' | 'queued';
  scheduledFor?: Date;
  id?: string;
  queueJobId?: string;
}

/**
 * What the queue and its workers need from the engine's runs (the port the runs service implements): the
 * queue depends on this interface, never on the engine, so nothing below the composition root imports it.
 */
export interface RunLauncher {
  readonly database: Database;
  readonly log: Logger;
  /** Milliseconds in one minute of a job's timeout (tests shrink it). */
  readonly minuteMs: number;
  /** Validates run options and inserts the executions in one statement (through `db`, the queue's transaction). */
  insertExecutions(items: { job: SyncJob; options: QueuedRunOptions }[], db?: Kysely<DB>): Promise<ExecutionRow[]>;
  /**
   * Claims a queued execution for this process and runs it. Null when it is no longer queued (cancelled, or
   * claimed elsewhere); 'busy' when another whole run of the job is still running.
   */
  runQueued(
    executionId: string,
    options: { workerId: string; queueJobId?: string; release?: AbortSignal },
  ): Promise<StartedRun | null | 'busy'>;
  /** "Retry on failure": queues the retry of a failed run when the job's policy gives it one. */
  retryIfDue(execution: SyncExecution): Promise<SyncExecution | null>;
  /** An execution a reaper ended: logged, and told to the finished-run listeners (metrics, alerts). */
  reaped(execution: SyncExecution): Promise<void>;
  /** How often this process renews the lease (heartbeat) of its running executions. */
  setHeartbeatInterval(ms: number): void;
  /** Backoff of whole-run retries. */
  setRunRetryDelays(delays: { baseDelayMs?: number; maxDelayMs?: number }): void;
  /** Aborts a run of this process; false when it runs elsewhere. */
  abortLocal(executionId: string, reason: RunAbort): boolean;
  /** Ids of the executions this process is running now. */
  activeExecutionIds(): string[];
}

/** One alert for one notification channel: the alert queue's message. */
export interface AlertMessage {
  channelId: string;
  event: AlertEvent;
  /** Retries after the first attempt (pg-boss `retryLimit` of this message). */
  retryLimit: number;
}

/**
 * What a worker needs to deliver queued alerts (the alerts service implements it). `deliver` records the attempt
 * and throws when it should be tried again later (the queue's retry, with exponential backoff).
 */
export interface AlertDeliverer {
  deliver(message: AlertMessage, attempt: { number: number; final: boolean }): Promise<void>;
}
