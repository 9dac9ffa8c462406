/**
 * Alerts: what a NotificationChannel is told, and when. Pure: the words, the request schemas, the "no alert
 * storms" rule, and the texts (the webhook's JSON body, the Slack message). Sending is the alerts service's
 * (src/services/alerts.ts); signing is src/security/alert-signatures.ts.
 *
 * No storms: a job is alerted once per change of its state (the health of its whole runs: ok, failed,
 * timed_out, completed_with_errors, circuit_breaker). A run that ends in the state the job is already in is
 * not alerted; it is counted, and the count (the digest) goes with the next alert, or with the recovery.
 */
import * as z from 'zod';
import type { FieldIssue } from './errors.ts';
import type { HaltKind, SyncExecution } from './types.ts';

/** The events a channel can subscribe to. */
export const ALERT_EVENTS = [
  'execution.failed',
  'execution.timed_out',
  'execution.completed_with_errors',
  'circuit_breaker.tripped',
  'dead_letter.added',
  'job.recovered',
] as const;
export type AlertEventType = (typeof ALERT_EVENTS)[number];

export const CHANNEL_TYPES = ['webhook', 'slack'] as const;
export type ChannelType = (typeof CHANNEL_TYPES)[number];

/** The health of a job's whole runs, as alerts judge it. */
export const ALERT_HEALTH = ['ok', 'failed', 'timed_out', 'completed_with_errors', 'circuit_breaker'] as const;
export type AlertHealth = (typeof ALERT_HEALTH)[number];

/** The event that announces a job entering each state. */
const EVENT_OF: Record<AlertHealth, AlertEventType> = {
  ok: 'job.recovered',
  failed: 'execution.failed',
  timed_out: 'execution.timed_out',
  completed_with_errors: 'execution.completed_with_errors',
  circuit_breaker: 'circuit_breaker.tripped',
};

export interface NotificationChannel {
  id: string;
  name: string;
  type: ChannelType;
  /** The URL as shown: a Slack URL's token and the values of a query string are masked. */
  url: string;
  events: AlertEventType[];
  /** The one job this channel is about; null: every job. */
  jobId: string | null;
  enabled: boolean;
  /** The newest delivery attempt, or null. */
  lastDelivery: { outcome: DeliveryOutcome; statusCode: number | null; at: Date } | null;
  createdAt: Date;
  updatedAt: Date;
}

/** A channel as created (or with a new secret): the signing secret is shown this once (webhook channels). */
export type ChannelWithSecret = NotificationChannel & { signingSecret: string | null };

export type DeliveryOutcome = 'delivered' | 'retrying' | 'failed';

/** One attempt to deliver one alert to one channel (the delivery log). */
export interface AlertDelivery {
  id: string;
  channelId: string;
  /** The alert's id (the body's `id`): the same for every attempt of it. */
  eventId: string;
  event: AlertEventType | 'test';
  jobId: string | null;
  executionId: string | null;
  summary: string;
  attempt: number;
  outcome: DeliveryOutcome;
  /** The receiver's HTTP status, or null when it did not answer (refused, unreachable, timed out). */
  statusCode: number | null;
  error: string | null;
  /** The start of the receiver's answer, sanitized (at most 200 characters). */
  responseExcerpt: string | null;
  durationMs: number | null;
  createdAt: Date;
}

// ── requests ────────────────────────────────────────────────────────────────────────────────────────────

const events = z
  .array(z.enum(ALERT_EVENTS, { error: `must be one of ${ALERT_EVENTS.join(', ')}` }), {
    error: 'must be a list of events',
  })
  .min(1, { error: 'must name at least one event' })
  .transform((list) => ALERT_EVENTS.filter((e) => list.includes(e)));

export const channelInputSchema = z.strictObject({
  name: z.string().trim().min(1).max(200),
  type: z.enum(CHANNEL_TYPES, { error: 'must be webhook or slack' }),
  url: z.string().max(2048),
  events,
  jobId: z.uuid({ error: 'must be a sync job id, or null for every job' }).nullable().default(null),
  enabled: z.boolean().default(true),
});
export type ChannelInput = z.output<typeof channelInputSchema>;

export const channelPatchSchema = z.strictObject({
  name: channelInputSchema.shape.name.optional(),
  type: z.never({ error: 'cannot be changed; create a new channel' }).optional(),
  url: z.string().max(2048).optional(),
  events: events.optional(),
  jobId: channelInputSchema.shape.jobId.removeDefault().optional(),
  enabled: z.boolean().optional(),
  /** A new signing secret, returned in the response this once; the old one stops working at once. */
  rotateSecret: z.boolean().optional(),
});
export type ChannelPatch = z.output<typeof channelPatchSchema>;

/**
 * A channel URL, or why it is refused: http(s) only, no user name or password in it (credentials never
 * travel in a channel URL; a receiver authenticates our signature instead), no fragment.
 */
export function parseChannelUrl(text: string): { url: URL } | { issue: FieldIssue } {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { issue: { path: 'url', message: 'must be an http(s) URL' } };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return { issue: { path: 'url', message: 'must be an http(s) URL' } };
  }
  if (url.username !== '' || url.password !== '') {
    return {
      issue: { path: 'url', message: 'must not carry credentials (user:password@); receivers check the signature' },
    };
  }
  if (url.hash !== '') return { issue: { path: 'url', message: 'must not have a fragment (#…)' } };
  return { url };
}

/**
 * How the API shows a channel URL: query values masked (tokens travel there), and for Slack everything after
 * the first path segment (an incoming webhook's path is its secret).
 */
export function displayUrl(type: ChannelType, url: URL): string {
  let path = url.pathname;
  if (type === 'slack') {
    const [first, ...rest] = path.split('/').filter(Boolean);
    path = first === undefined ? '/' : `/${first}${rest.length > 0 ? '/…' : ''}`;
  }
  const query = [...url.searchParams.keys()].map((k) => `${encodeURIComponent(k)}=…`).join('&');
  return `${url.origin}${path}${query ? `?${query}` : ''}`;
}

// ── the state of a job, and when to alert ─────────────────────────────────────────────────────────────

/**
 * The state a run leaves its job in, or null for a run that says nothing about the job's health (cancelled by a
 * person, still going). A system cancel because the provider could not be reached counts as `failed`.
 */
export function healthOf(e: { status: SyncExecution['status']; haltKind: HaltKind | null }): AlertHealth | null {
  switch (e.status) {
    case 'completed':
      return 'ok';
    case 'completed_with_errors':
      return 'completed_with_errors';
    case 'timed_out':
      return 'timed_out';
    case 'failed':
      return e.haltKind === 'circuit_breaker' ? 'circuit_breaker' : 'failed';
    case 'cancelled':
      return e.haltKind === 'connection_lost' ? 'failed' : null;
    default:
      return null;
  }
}

/** A job's alert state (`alert_states`, family `runs`). */
export interface AlertState {
  state: AlertHealth;
  /** When the job entered it. */
  since: Date;
  /** Runs that ended in this state after the one that was alerted. */
  repeats: number;
  lastExecutionId: string | null;
  lastHaltReason: string | null;
}

/** What repeated without an alert of its own: sent with the next alert, or with the recovery. */
export interface AlertDigest {
  /** The state that repeated (or that the job recovered from). */
  state: Exclude<AlertHealth, 'ok'>;
  /** When the job entered it. */
  since: string;
  /** Runs that ended in it after the alerted one (not alerted one by one). */
  repeats: number;
  /** The last run in that state, and why it stopped. */
  lastExecutionId: string | null;
  lastHaltReason: string | null;
}

/**
 * The no-storm rule: the state after a run that left the job in `health`, and the event to send (null: the
 * state did not change, the run is counted in the digest instead). A job never seen before is `ok`.
 */
export function nextAlertState(
  previous: AlertState | null,
  health: AlertHealth,
  run: { executionId: string; haltReason: string | null; at: Date },
): { next: AlertState; event: AlertEventType | null; digest: AlertDigest | null } {
  const current: AlertState = previous ?? {
    state: 'ok',
    since: run.at,
    repeats: 0,
    lastExecutionId: null,
    lastHaltReason: null,
  };
  if (health === current.state) {
    const repeats = health === 'ok' ? 0 : current.repeats + 1;
    return {
      next: { ...current, repeats, lastExecutionId: run.executionId, lastHaltReason: run.haltReason },
      event: null,
      digest: null,
    };
  }
  return {
    next: {
      state: health,
      since: run.at,
      repeats: 0,
      lastExecutionId: run.executionId,
      lastHaltReason: run.haltReason,
    },
    event: EVENT_OF[health],
    digest: current.state === 'ok' ? null : digestOf(current),
  };
}

function digestOf(s: AlertState): AlertDigest {
  return {
    state: s.state as AlertDigest['state'],
    since: s.since.toISOString(),
    repeats: s.repeats,
    lastExecutionId: s.lastExecutionId,
    lastHaltReason: s.lastHaltReason,
  };
}

// ── the alert ─────────────────────────────────────────────────────────────────────────────────────────

/** An alert: the JSON body a webhook channel receives (signed), and what a Slack message is made from. */
export interface AlertEvent {
  /** Unique per alert; the same across its delivery attempts (receivers dedupe on it). */
  id: string;
  type: AlertEventType | 'test';
  createdAt: string;
  /** One line for people (the Slack text, the delivery log). */
  summary: string;
  job: { id: string; name: string } | null;
  execution: AlertExecution | null;
  /** `dead_letter.added`: records this execution parked in the dead letter queue. */
  deadLetters: { added: number } | null;
  /** The execution in the console, when the server's public URL is known (OTESSE_SYNC_PUBLIC_URL). */
  url: string | null;
  digest: AlertDigest | null;
}

export interface AlertExecution {
  id: string;
  status: SyncExecution['status'];
  trigger: SyncExecution['trigger'];
  attempt: number;
  haltKind: HaltKind | null;
  haltReason: string | null;
  processed: number;
  created: number;
  updated: number;
  deleted: number;
  skipped: number;
  failed: number;
  conflicts: number;
  startedAt: string | null;
  completedAt: string | null;
  durationSeconds: number | null;
}

export function alertExecution(e: SyncExecution): AlertExecution {
  return {
    id: e.id,
    status: e.status,
    trigger: e.trigger,
    attempt: e.attempt,
    haltKind: e.haltKind,
    haltReason: e.haltReason,
    processed: e.processed,
    created: e.created,
    updated: e.updated,
    deleted: e.deleted,
    skipped: e.skipped,
    failed: e.failed,
    conflicts: e.conflicts,
    startedAt: e.startedAt?.toISOString() ?? null,
    completedAt: e.completedAt?.toISOString() ?? null,
    durationSeconds: e.durationSeconds,
  };
}

const STATE_WORDS: Record<Exclude<AlertHealth, 'ok'>, string> = {
  failed: 'failed',
  timed_out: 'timed out',
  completed_with_errors: 'completed with errors',
  circuit_breaker: 'was halted by the circuit breaker',
};

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The one-line summary of an alert. */
export function alertSummary(
  type: AlertEvent['type'],
  input: {
    jobName?: string;
    execution?: AlertExecution | null;
    digest?: AlertDigest | null;
    deadLetters?: number;
    channelName?: string;
  },
): string {
  const job = `Sync job "${input.jobName ?? '?'}"`;
  const e = input.execution;
  const why = e?.haltReason ? `: ${e.haltReason}` : e ? `: ${e.failed} of ${e.processed} records failed` : '';
  const d = input.digest;
  const before =
    d && d.repeats > 0 ? ` (before: ${STATE_WORDS[d.state]} ${plural(d.repeats + 1, 'run')} in a row)` : '';
  switch (type) {
    case 'test':
      return `Test alert from otesse-sync to channel "${input.channelName ?? '?'}"`;
    case 'execution.failed':
      return `${job} failed${why}${before}`;
    case 'execution.timed_out':
      return `${job} timed out${e?.haltReason ? `: ${e.haltReason}` : ''}${before}`;
    case 'execution.completed_with_errors':
      return `${job} completed with errors: ${e?.failed ?? 0} of ${e?.processed ?? 0} records failed${before}`;
    case 'circuit_breaker.tripped':
      return `${job} was halted by the circuit breaker${e?.haltReason ? `: ${e.haltReason}` : ''}${before}`;
    case 'dead_letter.added':
      return `${job}: ${plural(input.deadLetters ?? 0, 'record')} entered the dead letter queue`;
    case 'job.recovered':
      return d
        ? `${job} recovered: it ${STATE_WORDS[d.state]} ${plural(d.repeats + 1, 'run')} in a row since ${d.since}`
        : `${job} recovered`;
  }
}

/** Slack mrkdwn escaping (`&`, `<`, `>`), so job names and reasons cannot forge links or mentions. */
function slackEscape(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

const SLACK_ICONS: Record<AlertEvent['type'], string> = {
  test: ':wave:',
  'execution.failed': ':red_circle:',
  'execution.timed_out': ':hourglass:',
  'execution.completed_with_errors': ':large_orange_circle:',
  'circuit_breaker.tripped': ':octagonal_sign:',
  'dead_letter.added': ':inbox_tray:',
  'job.recovered': ':large_green_circle:',
};

/** A Slack incoming-webhook message: `text` (notifications, fallback) and `blocks` (the message), with a link. */
export function slackMessage(event: AlertEvent): { text: string; blocks: unknown[] } {
  const icon = SLACK_ICONS[event.type];
  const link = event.url ? ` <${event.url}|View execution>` : '';
  const e = event.execution;
  const facts = e
    ? [
        `*Status:* ${e.status}`,
        `*Trigger:* ${e.trigger}${e.attempt > 1 ? ` (attempt ${e.attempt})` : ''}`,
        `*Records:* ${e.processed} processed, ${e.created} created, ${e.updated} updated, ${e.failed} failed`,
        ...(e.durationSeconds !== null ? [`*Duration:* ${e.durationSeconds} s`] : []),
      ]
    : [];
  const digest = event.digest
    ? `Before this: ${STATE_WORDS[event.digest.state]} since ${event.digest.since}, ${plural(event.digest.repeats, 'repeat')} not alerted${event.digest.lastHaltReason ? ` (last: ${event.digest.lastHaltReason})` : ''}`
    : null;
  const blocks: unknown[] = [
    { type: 'section', text: { type: 'mrkdwn', text: `${icon} ${slackEscape(event.summary)}` } },
  ];
  if (facts.length > 0) {
    blocks.push({ type: 'section', fields: facts.map((f) => ({ type: 'mrkdwn', text: slackEscape(f) })) });
  }
  if (digest) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: slackEscape(digest) }] });
  if (event.url) {
    blocks.push({
      type: 'actions',
      elements: [{ type: 'button', text: { type: 'plain_text', text: 'View execution' }, url: event.url }],
    });
  }
  return { text: `${icon} ${slackEscape(event.summary)}${link}`, blocks };
}
