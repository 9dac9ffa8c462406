/**
 * The REST API under /api/v1: its types, generated from the server's OpenAPI document (`npm run api:types` →
 * api-schema.ts, never edited by hand), a typed client (openapi-fetch) with the bearer token, and errors.
 */
import createClient, { type Middleware } from 'openapi-fetch';
import type { components, paths } from './api-schema.ts';

type Schemas = components['schemas'];
/** The JSON body of an operation's request. */
type BodyOf<Op> = Op extends { requestBody?: { content: { 'application/json': infer B } } } ? B : never;
/** The query parameters of an operation, each also accepting null or '' (left out of the URL). */
type QueryOf<Op> = Op extends { parameters: { query?: infer Q } }
  ? { [K in keyof NonNullable<Q>]?: NonNullable<Q>[K] | null | '' }
  : never;

export type Provider = Schemas['Provider'];
export type Setting = Schemas['Setting'];
export type SettingType = Setting['type'];
export type EntityType = Schemas['EntityType'];
export type EntityField = EntityType['fields'][number];
export type Connection = Schemas['Connection'];
export type LocalEntity = Schemas['LocalEntity'];
export type Transform = Schemas['Transform'];
export type Job = Schemas['Job'];
export type FieldMapping = Schemas['FieldMapping'];
/** Every field of a sync job as the form sends it (the server fills in defaults for fields left out). */
export type JobInput = Required<BodyOf<paths['/api/v1/sync-jobs']['post']>>;
export type Direction = Job['direction'];
export type Mode = Job['mode'];
export type ConflictStrategy = NonNullable<Job['conflictStrategy']>;
export type ExecutionSummary = Schemas['ExecutionSummary'];
export type Execution = Schemas['Execution'];
export type ExecutionStatus = Execution['status'];
export type Trigger = Execution['trigger'];
/** Record counters of a run, or of one direction of a bidirectional run. */
export type Counters = Schemas['Counters'];
export type RecordFailure = Schemas['Failure'];
export type DeadLetter = Schemas['DeadLetter'];
export type ErrorDetail = NonNullable<Schemas['Error']['error']['details']>[number];
export type NotificationChannel = Schemas['NotificationChannel'];
export type NotificationChannelWithSecret = Schemas['NotificationChannelWithSecret'];
export type ChannelInput = BodyOf<paths['/api/v1/notification-channels']['post']>;
export type AlertEvent = NotificationChannel['events'][number];
export type AlertDelivery = Schemas['AlertDelivery'];
export type FleetOverview = Schemas['FleetOverview'];

/** Every execution status, in the order of a run's life (the compiler checks that none is missing). */
export const EXECUTION_STATUSES = Object.keys({
  queued: 0,
  running: 0,
  completed: 0,
  completed_with_errors: 0,
  failed: 0,
  timed_out: 0,
  cancelled: 0,
} satisfies Record<ExecutionStatus, 0>) as ExecutionStatus[];

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: ErrorDetail[] = [],
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /** The messages for one field path (exact match), joined. */
  fieldError(path: string): string | undefined {
    const found = this.details.filter((d) => d.path === path).map((d) => d.message);
    return found.length > 0 ? found.join('; ') : undefined;
  }
}

// --- token -------------------------------------------------------------------------------------------

const TOKEN_KEY = 'otesse-sync.apiToken';
type Listener = () => void;
const unauthorizedListeners = new Set<Listener>();

export function getToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function setToken(token: string | null): void {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** Called whenever the server answers 401; the app shows the token prompt. */
export function onUnauthorized(listener: Listener): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

// --- requests ----------------------------------------------------------------------------------------

export const API_BASE = '/api/v1';

const auth: Middleware = {
  onRequest({ request }) {
    const token = getToken();
    if (token) request.headers.set('authorization', `Bearer ${token}`);
    return request;
  },
  onResponse({ response }) {
    if (response.status === 401) for (const l of unauthorizedListeners) l();
  },
  onError({ error }) {
    return new ApiError(0, 'network_error', `Cannot reach the server (${(error as Error).message})`);
  },
};

/** The API client (bearer token, 401 → token prompt, network errors as ApiError); also used by operator-api.ts. */
export const client = createClient<paths>({ headers: { accept: 'application/json' } });
client.use(auth);

/** The body of a successful answer; otherwise throws an ApiError with the server's code, message and details. */
export async function ok<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await call;
  if (response.ok) return data as T;
  const e = (error as { error?: { code?: string; message?: string; details?: ErrorDetail[] } } | null)?.error;
  throw new ApiError(
    response.status,
    e?.code ?? `http_${response.status}`,
    e?.message ?? `${response.status} ${response.statusText}`,
    Array.isArray(e?.details) ? e.details : [],
  );
}

/** Drops parameters that are null, undefined or '' (not sent). */
function query<Q extends object>(params: Q): { [K in keyof Q]?: Exclude<Q[K], null | ''> } {
  return Object.fromEntries(Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== '')) as {
    [K in keyof Q]?: Exclude<Q[K], null | ''>;
  };
}

const byId = (id: string) => ({ params: { path: { id } } });

/** Every item of a paged list, following `nextCursor` to the end. */
async function allPages<T>(page: (cursor: string | null) => Promise<{ items: T[]; nextCursor: string | null }>) {
  const items: T[] = [];
  let cursor: string | null = null;
  do {
    const next = await page(cursor);
    items.push(...next.items);
    cursor = next.nextCursor;
  } while (cursor);
  return items;
}

export const api = {
  providers: () => ok(client.GET('/api/v1/providers')).then((r) => r.items),
  transforms: () => ok(client.GET('/api/v1/transforms')).then((r) => r.items),
  localEntities: () => ok(client.GET('/api/v1/local-entities')).then((r) => r.items),

  /** Every connection (all pages). */
  connections: () => allPages((cursor) => api.connectionsPage({ limit: 500, cursor })),
  /** A page of connections, optionally those whose name contains `q`. */
  connectionsPage: (p: QueryOf<paths['/api/v1/connections']['get']>) =>
    ok(client.GET('/api/v1/connections', { params: { query: query(p) } })),
  connection: (id: string) => ok(client.GET('/api/v1/connections/{id}', byId(id))),
  createConnection: (body: BodyOf<paths['/api/v1/connections']['post']>) =>
    ok(client.POST('/api/v1/connections', { body })),
  updateConnection: (id: string, body: BodyOf<paths['/api/v1/connections/{id}']['patch']>) =>
    ok(client.PATCH('/api/v1/connections/{id}', { ...byId(id), body })),
  deleteConnection: (id: string) => ok(client.DELETE('/api/v1/connections/{id}', byId(id))),
  testConnection: (id: string) => ok(client.POST('/api/v1/connections/{id}/test', byId(id))),

  /** Every job, or every job of a connection (all pages: a few requests at fleet size; lists page instead). */
  jobs: (connectionId?: string) => allPages((cursor) => api.jobsPage({ connectionId, limit: 500, cursor })),
  /** A page of jobs (all, or a connection's), optionally those whose name contains `q`. */
  jobsPage: (p: QueryOf<paths['/api/v1/sync-jobs']['get']>) =>
    ok(client.GET('/api/v1/sync-jobs', { params: { query: query(p) } })),
  job: (id: string) => ok(client.GET('/api/v1/sync-jobs/{id}', byId(id))),
  createJob: (body: JobInput) => ok(client.POST('/api/v1/sync-jobs', { body })),
  updateJob: (id: string, body: BodyOf<paths['/api/v1/sync-jobs/{id}']['patch']>) =>
    ok(client.PATCH('/api/v1/sync-jobs/{id}', { ...byId(id), body })),
  /** Archives the job: it stops running; its history stays readable. */
  deleteJob: (id: string) => ok(client.DELETE('/api/v1/sync-jobs/{id}', byId(id))),
  /** Deletes the job with its whole history (executions, failures, dead letters). */
  purgeJob: (id: string) =>
    ok(client.DELETE('/api/v1/sync-jobs/{id}', { params: { path: { id }, query: { purge: true, confirm: id } } })),
  runJob: (id: string) => ok(client.POST('/api/v1/sync-jobs/{id}/run', byId(id))),

  executions: (jobId: string, p: QueryOf<paths['/api/v1/sync-jobs/{id}/executions']['get']>) =>
    ok(client.GET('/api/v1/sync-jobs/{id}/executions', { params: { path: { id: jobId }, query: query(p) } })),
  execution: (id: string) => ok(client.GET('/api/v1/executions/{id}', byId(id))),
  cancelExecution: (id: string) => ok(client.POST('/api/v1/executions/{id}/cancel', byId(id))),
  /** Applies the deletions a run's mass-delete protection held back, in a new execution. */
  applyDeletions: (id: string) => ok(client.POST('/api/v1/executions/{id}/apply-deletions', byId(id))),
  failures: (id: string, p: QueryOf<paths['/api/v1/executions/{id}/failures']['get']>) =>
    ok(client.GET('/api/v1/executions/{id}/failures', { params: { path: { id }, query: query(p) } })),

  deadLetters: (jobId: string, p: QueryOf<paths['/api/v1/sync-jobs/{id}/dead-letters']['get']>) =>
    ok(client.GET('/api/v1/sync-jobs/{id}/dead-letters', { params: { path: { id: jobId }, query: query(p) } })),
  retryDeadLetter: (id: string) => ok(client.POST('/api/v1/dead-letters/{id}/retry', byId(id))),
  discardDeadLetter: (id: string) => ok(client.POST('/api/v1/dead-letters/{id}/discard', byId(id))),

  conflicts: (jobId: string, p: QueryOf<paths['/api/v1/sync-jobs/{id}/conflicts']['get']>) =>
    ok(client.GET('/api/v1/sync-jobs/{id}/conflicts', { params: { path: { id: jobId }, query: query(p) } })),
  resolveConflict: (
    id: string,
    body: paths['/api/v1/conflicts/{id}/resolve']['post']['requestBody'] extends
      | { content: { 'application/json': infer B } }
      | undefined
      ? B
      : never,
  ) => ok(client.POST('/api/v1/conflicts/{id}/resolve', { ...byId(id), body })),

  /** Runs per hour by status (24 h), the jobs failing now, open dead letters, totals. */
  fleetOverview: () => ok(client.GET('/api/v1/fleet/overview')),

  channels: () => ok(client.GET('/api/v1/notification-channels')).then((r) => r.items),
  channel: (id: string) => ok(client.GET('/api/v1/notification-channels/{id}', byId(id))),
  /** The answer carries the channel's signing secret: shown this once. */
  createChannel: (body: ChannelInput) => ok(client.POST('/api/v1/notification-channels', { body })),
  updateChannel: (id: string, body: BodyOf<paths['/api/v1/notification-channels/{id}']['patch']>) =>
    ok(client.PATCH('/api/v1/notification-channels/{id}', { ...byId(id), body })),
  deleteChannel: (id: string) => ok(client.DELETE('/api/v1/notification-channels/{id}', byId(id))),
  /** Delivers a test alert now; the answer is its delivery log entry (whatever the receiver answered). */
  testChannel: (id: string) => ok(client.POST('/api/v1/notification-channels/{id}/test', byId(id))),
  deliveries: (id: string, p: QueryOf<paths['/api/v1/notification-channels/{id}/deliveries']['get']>) =>
    ok(client.GET('/api/v1/notification-channels/{id}/deliveries', { params: { path: { id }, query: query(p) } })),
};

const enc = encodeURIComponent;

/** The SSE stream URL of an execution (EventSource cannot send headers: the token goes in the query). */
export function executionEventsUrl(id: string): string {
  const token = getToken();
  return `${API_BASE}/executions/${enc(id)}/events${token ? `?access_token=${enc(token)}` : ''}`;
}

export function isActive(status: ExecutionStatus): boolean {
  return status === 'queued' || status === 'running';
}
