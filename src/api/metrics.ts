/**
 * Prometheus metrics. Totals that every process shares (executions by status, records by outcome, queue
 * depth) are read from the database at scrape time, so any one server shows the whole deployment; run
 * durations and provider HTTP calls are observed in this process (scrape every process for those).
 */
import { sql } from 'kysely';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { onProviderCall } from '../engine/telemetry.ts';
import type { SyncEngine } from '../sync-engine.ts';

export interface Metrics {
  registry: Registry;
  close(): void;
}

export function createMetrics(engine: SyncEngine): Metrics {
  const registry = new Registry();
  const db = engine.database.db;

  new Gauge({
    name: 'otesse_sync_executions',
    help: 'Executions in the database by status and trigger',
    labelNames: ['status', 'trigger'],
    registers: [registry],
    async collect() {
      this.reset();
      const { rows } = await sql<{ status: string; trigger: string; n: string }>`
        SELECT status, trigger, count(*) AS n FROM sync_executions GROUP BY status, trigger`.execute(db);
      for (const r of rows) this.set({ status: r.status, trigger: r.trigger }, Number(r.n));
    },
  });

  new Gauge({
    name: 'otesse_sync_records',
    help: 'Records processed by all executions in the database, by outcome (created, updated, deleted, skipped, failed)',
    labelNames: ['outcome'],
    registers: [registry],
    async collect() {
      const { rows } = await sql<{
        created: string;
        updated: string;
        deleted: string;
        skipped: string;
        failed: string;
      }>`
        SELECT coalesce(sum(created), 0) AS created, coalesce(sum(updated), 0) AS updated,
               coalesce(sum(deleted), 0) AS deleted, coalesce(sum(skipped), 0) AS skipped,
               coalesce(sum(failed), 0) AS failed
        FROM sync_executions`.execute(db);
      const r = rows[0]!;
      for (const outcome of ['created', 'updated', 'deleted', 'skipped', 'failed'] as const) {
        this.set({ outcome }, Number(r[outcome]));
      }
    },
  });

  new Gauge({
    name: 'otesse_sync_queue_depth',
    help: 'Executions waiting for a worker (status queued)',
    registers: [registry],
    async collect() {
      const { rows } = await sql<{ n: string }>`
        SELECT count(*) AS n FROM sync_executions WHERE status = 'queued'`.execute(db);
      this.set(Number(rows[0]!.n));
    },
  });

  new Gauge({
    name: 'otesse_sync_dead_letters_open',
    help: 'Records in the dead letter queue waiting for a person',
    registers: [registry],
    async collect() {
      const { rows } = await sql<{ n: string }>`
        SELECT count(*) AS n FROM dead_letters WHERE status = 'open'`.execute(db);
      this.set(Number(rows[0]!.n));
    },
  });

  const durations = new Histogram({
    name: 'otesse_sync_run_duration_seconds',
    help: 'Duration of executions finished by this process, by final status',
    labelNames: ['status', 'trigger'],
    buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600],
    registers: [registry],
  });
  const finished = new Counter({
    name: 'otesse_sync_executions_finished_total',
    help: 'Executions finished by this process, by final status and trigger',
    labelNames: ['status', 'trigger'],
    registers: [registry],
  });
  const offFinished = engine.onExecutionFinished((e) => {
    finished.inc({ status: e.status, trigger: e.trigger });
    if (e.durationSeconds !== null) durations.observe({ status: e.status, trigger: e.trigger }, e.durationSeconds);
  });

  const calls = new Counter({
    name: 'otesse_sync_provider_http_requests_total',
    help: 'HTTP calls to providers made by this process, by provider and response status',
    labelNames: ['provider', 'status'],
    registers: [registry],
  });
  const retries = new Counter({
    name: 'otesse_sync_provider_http_retries_total',
    help: 'Failed provider HTTP calls that were retried, by provider and the failure status',
    labelNames: ['provider', 'status'],
    registers: [registry],
  });
  const offCalls = onProviderCall((call) => {
    const labels = { provider: call.provider, status: String(call.status) };
    (call.kind === 'retry' ? retries : calls).inc(labels);
  });

  return {
    registry,
    close() {
      offFinished();
      offCalls();
    },
  };
}
