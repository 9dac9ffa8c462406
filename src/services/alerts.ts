import { randomUUID } from 'node:crypto';
import { type Kysely, type Selectable, sql } from 'kysely';
import type { Logger } from 'pino';
import {
  type AlertDelivery,
  type AlertEvent,
  type AlertEventType,
  type AlertHealth,
  type AlertState,
  alertExecution,
  alertSummary,
  type ChannelType,
  type ChannelWithSecret,
  channelInputSchema,
  channelPatchSchema,
  type DeliveryOutcome,
  displayUrl,
  healthOf,
  type NotificationChannel,
  nextAlertState,
  parseChannelUrl,
  slackMessage,
} from '../domain/alerts.ts';
import { errorMessage, type FieldIssue, NotFoundError, ProviderError, ValidationError } from '../domain/errors.ts';
import type { SyncExecution, SyncJob } from '../domain/types.ts';
import { parseInput } from '../domain/validate.ts';
import type { AlertMessage } from '../queue/ports.ts';
import type { AlertRetryOptions } from '../queue/queue.ts';
import { newSigningSecret, SIGNATURE_HEADER, signAlert } from '../security/alert-signatures.ts';
import type { CredentialVault } from '../security/vault.ts';
import type { DB } from '../store/schema.ts';
import { checkPage, isUuid, type Page, type PageOptions, pageByCreation } from './paging.ts';

/** How alerts leave the engine (src/connectors/http/alert-transport.ts): the outbound guard, a timeout, an excerpt. */
export interface AlertTransport {
  /** Why the outbound policy refuses sending to `url`, or null. */
  refusal(url: URL): Promise<string | null>;
  /** POSTs `body`; throws when there is no answer (refused by the guard, unreachable, timed out). */
  post(
    url: URL,
    init: { headers: Record<string, string>; body: string; timeoutMs: number },
  ): Promise<{ status: number; excerpt: string | null }>;
}

/** The durable queue, as far as alerts use it. */
export interface AlertQueue {
  sendAlerts(messages: AlertMessage[], retry: AlertRetryOptions, tx?: Kysely<DB>): Promise<void>;
}

export interface AlertDeps {
  db: Kysely<DB>;
  /** Seals each channel's URL and signing secret, as connections' credentials. */
  vault: CredentialVault;
  log: Logger;
  transport: AlertTransport;
  /** The durable queue, opened on first use (only once a channel has something to deliver). */
  queue(): Promise<AlertQueue>;
  /** The console's public base URL: alerts link to the execution there. Null: no link. */
  publicUrl: string | null;
  retry: AlertRetryOptions;
  /** How long a receiver may take to answer one delivery. */
  timeoutMs: number;
}

/** Delivery attempts kept per channel (the newest). */
export const DELIVERIES_KEPT = 500;

type ChannelRow = Selectable<DB['notification_channels']>;
type LastDelivery = { outcome: DeliveryOutcome; status_code: number | null; at: string } | null;

function toChannel(row: ChannelRow & { last_delivery?: LastDelivery }): NotificationChannel {
  const last = row.last_delivery ?? null;
  return {
    id: row.id,
    name: row.name,
    type: row.type as ChannelType,
    url: row.url,
    events: row.events as AlertEventType[],
    jobId: row.job_id,
    enabled: row.enabled,
    lastDelivery: last ? { outcome: last.outcome, statusCode: last.status_code, at: new Date(last.at) } : null,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function toDelivery(row: Selectable<DB['alert_deliveries']>): AlertDelivery {
  return {
    id: row.id,
    channelId: row.channel_id,
    eventId: row.event_id,
    event: row.event as AlertDelivery['event'],
    jobId: row.job_id,
    executionId: row.execution_id,
    summary: row.summary,
    attempt: row.attempt,
    outcome: row.outcome as DeliveryOutcome,
    statusCode: row.status_code,
    error: row.error,
    responseExcerpt: row.response_excerpt,
    durationMs: row.duration_ms,
    createdAt: row.created_at,
  };
}

/** What the vault keeps of a channel: where it goes, and the key its webhooks are signed with. */
interface ChannelTarget {
  url: string;
  signingSecret?: string;
}

/**
 * Alerts: notification channels (CRUD, a signing secret each, sealed by the vault), the decision to alert when
 * an execution finishes (the no-storm rule of src/domain/alerts.ts, per job, in `alert_states`), delivery
 * through the durable queue (a worker calls `deliver`; the queue retries with exponential backoff), and the
 * delivery log. Nothing is written while no enabled channel covers a job.
 */
export function alertService(deps: AlertDeps) {
  const { db, vault, log, transport } = deps;
  const pending = new Set<Promise<void>>();

  const lastDelivery = sql<LastDelivery>`(
    SELECT json_build_object('outcome', d.outcome, 'status_code', d.status_code, 'at', d.created_at)
    FROM alert_deliveries d WHERE d.channel_id = notification_channels.id
    ORDER BY d.created_at DESC, d.id DESC LIMIT 1)`.as('last_delivery');

  const channelRow = async (id: string, trx: Kysely<DB> = db) => {
    const row = isUuid(id)
      ? await trx.selectFrom('notification_channels').selectAll().where('id', '=', id).executeTakeFirst()
      : undefined;
    if (!row) throw new NotFoundError('notification channel', id);
    return row;
  };
  const channelOut = async (id: string): Promise<NotificationChannel> => {
    const row = await db
      .selectFrom('notification_channels')
      .selectAll()
      .select(lastDelivery)
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    return toChannel(row);
  };

  /** The URL as given, or the issues; the outbound guard's refusal is an issue at `url`. */
  async function checkUrl(text: string, issues: FieldIssue[]): Promise<URL | null> {
    const parsed = parseChannelUrl(text);
    if ('issue' in parsed) {
      issues.push(parsed.issue);
      return null;
    }
    const refused = await transport.refusal(parsed.url);
    if (refused) {
      issues.push({ path: 'url', message: `is refused by the outbound request policy: ${refused}` });
      return null;
    }
    return parsed.url;
  }

  async function checkJob(jobId: string | null, issues: FieldIssue[], trx: Kysely<DB> = db): Promise<void> {
    if (jobId === null) return;
    const job = await trx
      .selectFrom('sync_jobs')
      .select(['id', 'archived_at'])
      .where('id', '=', jobId)
      .executeTakeFirst();
    if (!job) issues.push({ path: 'jobId', message: 'is not the id of a sync job' });
    else if (job.archived_at) issues.push({ path: 'jobId', message: 'is an archived sync job (it no longer runs)' });
  }

  const consoleUrl = (path: string) => (deps.publicUrl ? `${deps.publicUrl.replace(/\/+$/, '')}${path}` : null);

  // ── delivery ──────────────────────────────────────────────────────────────────────────────────────────

  /** Sends one alert once: the receiver's status and excerpt, or why there was no answer. */
  async function send(
    channel: ChannelRow,
    event: AlertEvent,
  ): Promise<{ statusCode: number | null; excerpt: string | null; error: string | null; retryable: boolean }> {
    let target: ChannelTarget;
    try {
      target = vault.open(channel.target) as unknown as ChannelTarget;
    } catch (err) {
      // Sealed under a key this process is not configured with: retrying cannot help.
      const error = `the channel's URL and signing secret cannot be opened: ${errorMessage(err)}`;
      return { statusCode: null, excerpt: null, error, retryable: false };
    }
    const body = JSON.stringify(channel.type === 'slack' ? slackMessage(event) : event);
    const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'otesse-sync-alerts' };
    if (channel.type === 'webhook') {
      if (!target.signingSecret) {
        return { statusCode: null, excerpt: null, error: 'the channel has no signing secret', retryable: false };
      }
      headers[SIGNATURE_HEADER.toLowerCase()] = signAlert(body, target.signingSecret);
      headers['otesse-event-id'] = event.id;
      headers['otesse-event-type'] = event.type;
    }
    try {
      const res = await transport.post(new URL(target.url), { headers, body, timeoutMs: deps.timeoutMs });
      const ok = res.status >= 200 && res.status <= 299;
      const error = ok ? null : `the receiver answered HTTP ${res.status}`;
      return { statusCode: res.status, excerpt: res.excerpt, error, retryable: true };
    } catch (err) {
      if ((err as { name?: unknown }).name === 'TimeoutError') {
        const error = `no answer within ${Math.round(deps.timeoutMs / 100) / 10} s`;
        return { statusCode: null, excerpt: null, error, retryable: true };
      }
      // fetch says "fetch failed" and keeps the reason (ECONNREFUSED…) as its cause; the guard's refusals are
      // configuration errors, which retrying cannot fix.
      const cause = (err as { cause?: unknown }).cause;
      const error = errorMessage(err instanceof ProviderError || cause === undefined ? err : cause);
      return {
        statusCode: null,
        excerpt: null,
        error,
        retryable: !(err instanceof ProviderError && err.kind === 'config'),
      };
    }
  }

  /** One attempt: sign (webhooks), POST, record it in the delivery log. */
  async function attempt(
    channel: ChannelRow,
    event: AlertEvent,
    at: { number: number; final: boolean },
  ): Promise<AlertDelivery> {
    const started = performance.now();
    const { statusCode, excerpt, error, retryable } = await send(channel, event);
    const outcome: DeliveryOutcome = error === null ? 'delivered' : retryable && !at.final ? 'retrying' : 'failed';
    const row = await db
      .insertInto('alert_deliveries')
      .values({
        channel_id: channel.id,
        event_id: event.id,
        event: event.type,
        job_id: event.job?.id ?? null,
        execution_id: event.execution?.id ?? null,
        summary: event.summary.slice(0, 500),
        attempt: at.number,
        outcome,
        status_code: statusCode,
        error: error?.slice(0, 500) ?? null,
        response_excerpt: excerpt,
        duration_ms: Math.round(performance.now() - started),
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    await db
      .deleteFrom('alert_deliveries')
      .where('channel_id', '=', channel.id)
      .where(
        'id',
        'in',
        db
          .selectFrom('alert_deliveries')
          .select('id')
          .where('channel_id', '=', channel.id)
          .orderBy('created_at', 'desc')
          .orderBy('id', 'desc')
          .offset(DELIVERIES_KEPT),
      )
      .execute();
    if (outcome !== 'delivered') {
      log.warn(
        { channelId: channel.id, eventId: event.id, event: event.type, attempt: at.number, outcome, error },
        'alert not delivered',
      );
    }
    return toDelivery(row);
  }

  // ── deciding to alert ─────────────────────────────────────────────────────────────────────────────────

  /**
   * After a run: the job's new state (whole runs only: a single-record run says little about a job's health),
   * and the alerts it calls for, queued in the transaction that moves the state.
   */
  async function judge(execution: SyncExecution, job: SyncJob): Promise<void> {
    const channels = await db
      .selectFrom('notification_channels')
      .select(['id', 'events'])
      .where('enabled', '=', true)
      .where((eb) => eb.or([eb('job_id', 'is', null), eb('job_id', '=', job.id)]))
      .execute();
    if (channels.length === 0) return;
    const health: AlertHealth | null = execution.recordKeys === null ? healthOf(execution) : null;
    let deadLetters = 0;
    if (channels.some((c) => c.events.includes('dead_letter.added'))) {
      // Parked by this execution: a dead letter's row is created by the run whose failure parked it.
      const { n } = await db
        .selectFrom('dead_letters')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('job_id', '=', job.id)
        .where('last_execution_id', '=', execution.id)
        .where('created_at', '>=', execution.startedAt ?? execution.createdAt)
        .executeTakeFirstOrThrow();
      deadLetters = Number(n);
    }
    if (health === null && deadLetters === 0) return;
    const queue = await deps.queue();
    const at = execution.completedAt ?? new Date();
    const base = {
      job: { id: job.id, name: job.name },
      execution: alertExecution(execution),
      url: consoleUrl(`/jobs/${encodeURIComponent(job.id)}/executions/${encodeURIComponent(execution.id)}`),
      createdAt: new Date().toISOString(),
    };
    await db.transaction().execute(async (trx) => {
      const events: AlertEvent[] = [];
      if (health !== null) {
        const row = await trx
          .selectFrom('alert_states')
          .selectAll()
          .where('job_id', '=', job.id)
          .where('family', '=', 'runs')
          .forUpdate()
          .executeTakeFirst();
        const previous: AlertState | null = row
          ? {
              state: row.state as AlertHealth,
              since: row.since,
              repeats: row.repeats,
              lastExecutionId: row.last_execution_id,
              lastHaltReason: row.last_halt_reason,
            }
          : null;
        const { next, event, digest } = nextAlertState(previous, health, {
          executionId: execution.id,
          haltReason: execution.haltReason,
          at,
        });
        const values = {
          state: next.state,
          since: next.since,
          repeats: next.repeats,
          last_execution_id: next.lastExecutionId,
          last_halt_reason: next.lastHaltReason,
          updated_at: sql<Date>`now()`,
        };
        await trx
          .insertInto('alert_states')
          .values({ job_id: job.id, family: 'runs', ...values })
          .onConflict((oc) => oc.columns(['job_id', 'family']).doUpdateSet(values))
          .execute();
        if (event) {
          events.push({
            id: randomUUID(),
            type: event,
            summary: alertSummary(event, { jobName: job.name, execution: base.execution, digest }),
            deadLetters: null,
            digest,
            ...base,
          });
        }
      }
      if (deadLetters > 0) {
        events.push({
          id: randomUUID(),
          type: 'dead_letter.added',
          summary: alertSummary('dead_letter.added', { jobName: job.name, deadLetters }),
          deadLetters: { added: deadLetters },
          digest: null,
          ...base,
        });
      }
      const messages = events.flatMap((event) =>
        channels
          .filter((c) => c.events.includes(event.type))
          .map((c) => ({ channelId: c.id, event, retryLimit: deps.retry.limit })),
      );
      if (messages.length > 0) await queue.sendAlerts(messages, deps.retry, trx);
      if (events.length > 0) {
        log.info(
          { jobId: job.id, executionId: execution.id, events: events.map((e) => e.type), deliveries: messages.length },
          'alerts queued',
        );
      }
    });
  }

  return {
    /**
     * Creates a channel; its signing secret (webhook channels) is in the result this once. A URL the outbound
     * request policy refuses, or one with credentials in it, is a ValidationError at `url`.
     */
    createChannel: async (input: unknown): Promise<ChannelWithSecret> => {
      const data = parseInput(channelInputSchema, input);
      const issues: FieldIssue[] = [];
      const url = await checkUrl(data.url, issues);
      await checkJob(data.jobId, issues);
      if (issues.length > 0 || !url) throw new ValidationError(issues);
      const signingSecret = data.type === 'webhook' ? newSigningSecret() : null;
      const target: ChannelTarget = { url: url.href, ...(signingSecret ? { signingSecret } : {}) };
      const row = await db
        .insertInto('notification_channels')
        .values({
          name: data.name,
          type: data.type,
          url: displayUrl(data.type, url),
          target: vault.seal(target as unknown as Record<string, string>),
          events: data.events,
          job_id: data.jobId,
          enabled: data.enabled,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return { ...toChannel(row), signingSecret };
    },

    /** Every channel (or those of one job, with the global ones), oldest first, with its newest delivery. */
    listChannels: async (filter: { jobId?: string } = {}): Promise<NotificationChannel[]> => {
      let q = db.selectFrom('notification_channels').selectAll().select(lastDelivery);
      if (filter.jobId !== undefined) {
        if (!isUuid(filter.jobId)) return [];
        const jobId = filter.jobId;
        q = q.where((eb) => eb.or([eb('job_id', 'is', null), eb('job_id', '=', jobId)]));
      }
      return (await q.orderBy('created_at').orderBy('id').execute()).map(toChannel);
    },

    getChannel: async (id: string): Promise<NotificationChannel> => {
      await channelRow(id);
      return channelOut(id);
    },

    /**
     * Name, URL, events, job, enabled; `rotateSecret: true` gives a webhook channel a new signing secret, in the
     * result this once (deliveries already queued are signed with the new one).
     */
    updateChannel: async (id: string, patch: unknown): Promise<ChannelWithSecret> => {
      const data = parseInput(channelPatchSchema, patch);
      let signingSecret: string | null = null;
      await db.transaction().execute(async (trx) => {
        const current = isUuid(id)
          ? await trx
              .selectFrom('notification_channels')
              .selectAll()
              .where('id', '=', id)
              .forUpdate()
              .executeTakeFirst()
          : undefined;
        if (!current) throw new NotFoundError('notification channel', id);
        const type = current.type as ChannelType;
        const issues: FieldIssue[] = [];
        const url = data.url === undefined ? null : await checkUrl(data.url, issues);
        if (data.jobId !== undefined) await checkJob(data.jobId, issues, trx);
        if (data.rotateSecret && type !== 'webhook') {
          issues.push({ path: 'rotateSecret', message: 'only webhook channels have a signing secret' });
        }
        if (issues.length > 0) throw new ValidationError(issues);
        const set: Record<string, unknown> = {};
        if (data.name !== undefined) set.name = data.name;
        if (data.events !== undefined) set.events = data.events;
        if (data.jobId !== undefined) set.job_id = data.jobId;
        if (data.enabled !== undefined) set.enabled = data.enabled;
        if (url || data.rotateSecret) {
          const target = vault.open(current.target) as unknown as ChannelTarget;
          if (url) {
            target.url = url.href;
            set.url = displayUrl(type, url);
          }
          if (data.rotateSecret) {
            signingSecret = newSigningSecret();
            target.signingSecret = signingSecret;
          }
          set.target = vault.seal(target as unknown as Record<string, string>);
        }
        if (Object.keys(set).length === 0) return;
        await trx
          .updateTable('notification_channels')
          .set({ ...set, updated_at: sql<Date>`now()` })
          .where('id', '=', id)
          .execute();
      });
      return { ...(await channelOut(id)), signingSecret };
    },

    /** Deletes a channel and its delivery log; its queued deliveries are dropped. */
    deleteChannel: async (id: string): Promise<void> => {
      await channelRow(id);
      await db.deleteFrom('notification_channels').where('id', '=', id).execute();
    },

    /** Sends a `test` alert now (one attempt, not retried) and returns its entry in the delivery log. */
    sendTest: async (id: string): Promise<AlertDelivery> => {
      const channel = await channelRow(id);
      const event: AlertEvent = {
        id: randomUUID(),
        type: 'test',
        createdAt: new Date().toISOString(),
        summary: alertSummary('test', { channelName: channel.name }),
        job: null,
        execution: null,
        deadLetters: null,
        url: consoleUrl('/'),
        digest: null,
      };
      return attempt(channel, event, { number: 1, final: true });
    },

    /** A channel's delivery log, newest first. */
    deliveries: async (channelId: string, options: PageOptions = {}): Promise<Page<AlertDelivery>> => {
      const page = checkPage(options);
      await channelRow(channelId);
      const q = db.selectFrom('alert_deliveries').where('channel_id', '=', channelId);
      return pageByCreation(q, page, 'desc', toDelivery);
    },

    /**
     * Delivers one queued alert (the worker's AlertDeliverer): records the attempt and throws when the queue should
     * try again. A channel deleted or disabled since is skipped.
     */
    deliver: async (message: AlertMessage, at: { number: number; final: boolean }): Promise<void> => {
      const channel = await db
        .selectFrom('notification_channels')
        .selectAll()
        .where('id', '=', message.channelId)
        .executeTakeFirst();
      if (!channel?.enabled) return;
      const delivery = await attempt(channel, message.event, at);
      if (delivery.outcome === 'retrying') {
        throw new Error(`alert ${message.event.id} not delivered to channel ${channel.id}: ${delivery.error}`);
      }
    },

    /** The runs service's finished-execution listener: judges the run in the background (see `close`). */
    onExecutionFinished: (execution: SyncExecution, job: SyncJob): void => {
      const p = judge(execution, job)
        .catch((err: unknown) =>
          log.error({ executionId: execution.id, jobId: job.id, err: errorMessage(err) }, 'alerts not queued'),
        )
        .finally(() => pending.delete(p));
      pending.add(p);
    },

    /** Re-seals every channel's URL and secret under the current key (key rotation). Returns how many. */
    rotateSecrets: async (): Promise<number> => {
      let rotated = 0;
      const rows = await db.selectFrom('notification_channels').select(['id', 'target']).execute();
      for (const r of rows) {
        if (!vault.isStale(r.target)) continue;
        await db
          .updateTable('notification_channels')
          .set({ target: vault.seal(vault.open(r.target)) })
          .where('id', '=', r.id)
          .where('target', '=', r.target)
          .execute();
        rotated++;
      }
      return rotated;
    },

    /** Waits for the alerts of finished runs to be queued. */
    close: async (): Promise<void> => {
      await Promise.allSettled([...pending]);
    },
  };
}

export type AlertService = ReturnType<typeof alertService>;
