import { type Kysely, sql } from 'kysely';
import { RunAbort } from '../engine/abort.ts';
import type { DB } from '../store/schema.ts';

/**
 * The runs this process is executing: their abort controllers, and the heartbeat that renews their lease
 * (`heartbeat_at`) and notices cancels asked from another process. A process that stops beating loses its
 * runs to a worker's reaper (`worker lost`).
 */
export class ActiveRuns {
  private readonly db: Kysely<DB>;
  private readonly controllers = new Map<string, AbortController>();
  private timer: NodeJS.Timeout | null = null;
  private intervalMs = 5000;

  constructor(db: Kysely<DB>) {
    this.db = db;
  }

  /** Registers a run; its controller aborts it (timeout, cancel, release, close). */
  add(executionId: string): AbortController {
    const controller = new AbortController();
    this.controllers.set(executionId, controller);
    this.ensureHeartbeat();
    return controller;
  }

  delete(executionId: string): void {
    this.controllers.delete(executionId);
  }

  /** Aborts a run of this process; false when it is not running here. */
  abort(executionId: string, reason: RunAbort): boolean {
    const controller = this.controllers.get(executionId);
    if (!controller) return false;
    controller.abort(reason);
    return true;
  }

  abortAll(reason: RunAbort): void {
    for (const c of this.controllers.values()) c.abort(reason);
  }

  ids(): string[] {
    return [...this.controllers.keys()];
  }

  /** How often this process renews the lease of its running executions (and notices cancels). */
  setInterval(ms: number): void {
    this.intervalMs = ms;
    if (this.timer) {
      clearInterval(this.timer);
      this.timer = null;
      this.ensureHeartbeat();
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private ensureHeartbeat(): void {
    if (this.timer) return;
    let busy = false;
    this.timer = setInterval(() => {
      if (busy) return;
      if (this.controllers.size === 0) {
        this.stop();
        return;
      }
      busy = true;
      this.beat()
        .catch(() => {})
        .finally(() => {
          busy = false;
        });
    }, this.intervalMs);
    this.timer.unref();
  }

  private async beat(): Promise<void> {
    const ids = this.ids();
    if (ids.length === 0) return;
    const { rows } = await sql<{ id: string; cancel: boolean }>`
      UPDATE sync_executions SET heartbeat_at = now()
      WHERE id = ANY(${ids}::uuid[]) AND status = 'running'
      RETURNING id, cancel_requested_at IS NOT NULL AS cancel`.execute(this.db);
    for (const r of rows) {
      if (r.cancel) this.abort(r.id, new RunAbort('cancelled', 'cancelled by request'));
    }
  }
}
