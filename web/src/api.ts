/** The REST API under /api/v1: types (the server's contract), a fetch wrapper with the bearer token, errors. */

export type SettingType = 'string' | 'url' | 'number' | 'boolean' | 'json';
export interface Setting {
  name: string;
  label: string;
  type: SettingType;
  required: boolean;
  secret: boolean;
  help?: string;
  placeholder?: string;
}
export interface EntityField {
  name: string;
  type: string;
  label?: string;
}
export interface EntityType {
  name: string;
  label: string;
  fields: EntityField[];
  supports: { inbound: boolean; outbound: boolean; incremental: boolean; webhooks: boolean };
}
export interface Provider {
  name: string;
  displayName: string;
  description?: string;
  config: Setting[];
  credentials: Setting[];
  entityTypes: EntityType[];
}

export type ExecutionStatus =
  | 'queued'
  | 'running'
  | 'completed'
  | 'completed_with_errors'
  | 'failed'
  | 'timed_out'
  | 'cancelled';
export const EXECUTION_STATUSES: ExecutionStatus[] = [
  'queued',
  'running',
  'completed',
  'completed_with_errors',
  'failed',
  'timed_out',
  'cancelled',
];
export type Trigger = 'manual' | 'scheduled' | 'webhook' | 'retry';

export interface ExecutionSummary {
  id: string;
  status: ExecutionStatus;
  trigger: Trigger;
  startedAt: string | null;
  completedAt: string | null;
}

export interface Connection {
  id: string;
  name: string;
  provider: string;
  config: Record<string, unknown>;
  status: 'connected' | 'error' | 'untested';
  statusMessage: string | null;
  jobCount: number;
  lastRun: ExecutionSummary | null;
  webhookUrl: string;
  createdAt: string;
  updatedAt: string;
}

export interface LocalEntity {
  name: string;
  table: string;
  primaryKey: string;
  updatedAt: string | null;
  fields: { name: string; type: string }[];
}

export type Direction = 'inbound' | 'outbound' | 'bidirectional';
export type Mode = 'full' | 'incremental';
export type ConflictStrategy = 'provider_wins' | 'local_wins' | 'newest_wins' | 'manual';

export interface FieldMapping {
  sourceField: string;
  targetField: string;
  transform: string | null;
  transformArgs?: Record<string, unknown>;
  defaultValue?: unknown;
  direction: 'inbound' | 'outbound';
}

export interface JobInput {
  connectionId: string;
  name: string;
  entityType: string;
  localEntity: string;
  direction: Direction;
  mode: Mode;
  schedule: string | null;
  timezone: string;
  retryOnFailure: boolean;
  maxRetries: number;
  timeoutMinutes: number;
  conflictStrategy: ConflictStrategy | null;
  enabled: boolean;
  fieldMappings: FieldMapping[];
}

export interface Job extends JobInput {
  id: string;
  lastRunAt: string | null;
  nextRunAt: string | null;
  lastRun: ExecutionSummary | null;
  createdAt: string;
  updatedAt: string;
}

export interface Transform {
  name: string;
  description: string;
  args?: unknown;
}

/** Record counters of a run, or of one direction of a bidirectional run. */
export interface Counters {
  processed: number;
  created: number;
  updated: number;
  skipped: number;
  failed: number;
  /** Records left in conflict (manual strategy); also counted in `skipped`. */
  conflicts: number;
}

export interface Execution extends Counters {
  id: string;
  jobId: string;
  status: ExecutionStatus;
  trigger: Trigger;
  attempt: number;
  /**
   * Per direction, for bidirectional jobs only (null otherwise). A record synced both ways counts once in
   * each direction.
   */
  directions: { inbound: Counters; outbound: Counters } | null;
  startedAt: string | null;
  completedAt: string | null;
  durationSeconds: number | null;
  haltReason: string | null;
  error: string | null;
  recordKeys: string[] | null;
  createdAt: string;
}

export interface RecordFailure {
  id: string;
  executionId: string;
  jobId: string;
  recordKey: string;
  side: 'local' | 'provider';
  phase: 'fetch' | 'map' | 'conflict' | 'write';
  errorKind: string;
  message: string;
  createdAt: string;
}

export interface DeadLetter {
  id: string;
  jobId: string;
  recordKey: string;
  side: 'local' | 'provider';
  failureCount: number;
  lastError: string | null;
  lastExecutionId: string | null;
  status: 'open' | 'retried' | 'resolved' | 'discarded';
  /** The record's first failure (the first execution that failed it). */
  firstFailedAt: string;
  lastFailedAt: string;
  /** When it entered the queue (parked). */
  createdAt: string;
  updatedAt: string;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface ErrorDetail {
  path: string;
  message: string;
}

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

export async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  const token = getToken();
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(API_BASE + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new ApiError(0, 'network_error', `Cannot reach the server (${(err as Error).message})`);
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let json: unknown = null;
  if (text) {
    try {
      json = JSON.parse(text);
    } catch {
      json = null;
    }
  }
  if (!res.ok) {
    const e = (json as { error?: { code?: string; message?: string; details?: ErrorDetail[] } } | null)?.error;
    if (res.status === 401) for (const l of unauthorizedListeners) l();
    throw new ApiError(
      res.status,
      e?.code ?? `http_${res.status}`,
      e?.message ?? `${res.status} ${res.statusText}`,
      Array.isArray(e?.details) ? e.details : [],
    );
  }
  return json as T;
}

function qs(params: Record<string, string | number | null | undefined>): string {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') s.set(k, String(v));
  const str = s.toString();
  return str ? `?${str}` : '';
}

const enc = encodeURIComponent;

export const api = {
  providers: () => request<{ items: Provider[] }>('GET', '/providers').then((r) => r.items),
  transforms: () => request<{ items: Transform[] }>('GET', '/transforms').then((r) => r.items),
  localEntities: () => request<{ items: LocalEntity[] }>('GET', '/local-entities').then((r) => r.items),

  connections: () => request<{ items: Connection[] }>('GET', '/connections').then((r) => r.items),
  connection: (id: string) => request<Connection>('GET', `/connections/${enc(id)}`),
  createConnection: (body: {
    provider: string;
    name: string;
    config: Record<string, unknown>;
    credentials: Record<string, unknown>;
  }) => request<Connection>('POST', '/connections', body),
  updateConnection: (
    id: string,
    body: { name?: string; config?: Record<string, unknown>; credentials?: Record<string, unknown> },
  ) => request<Connection>('PATCH', `/connections/${enc(id)}`, body),
  deleteConnection: (id: string) => request<void>('DELETE', `/connections/${enc(id)}`),
  testConnection: (id: string) => request<{ ok: boolean; message: string }>('POST', `/connections/${enc(id)}/test`),

  jobs: (connectionId?: string) =>
    request<{ items: Job[] }>('GET', `/sync-jobs${qs({ connectionId })}`).then((r) => r.items),
  job: (id: string) => request<Job>('GET', `/sync-jobs/${enc(id)}`),
  createJob: (body: JobInput) => request<Job>('POST', '/sync-jobs', body),
  updateJob: (id: string, body: Partial<Omit<JobInput, 'connectionId'>>) =>
    request<Job>('PATCH', `/sync-jobs/${enc(id)}`, body),
  deleteJob: (id: string) => request<void>('DELETE', `/sync-jobs/${enc(id)}`),
  runJob: (id: string) => request<{ executionId: string }>('POST', `/sync-jobs/${enc(id)}/run`),

  executions: (jobId: string, p: { status?: string; trigger?: string; limit?: number; cursor?: string | null }) =>
    request<Page<Execution>>('GET', `/sync-jobs/${enc(jobId)}/executions${qs(p)}`),
  execution: (id: string) => request<Execution>('GET', `/executions/${enc(id)}`),
  cancelExecution: (id: string) => request<Execution>('POST', `/executions/${enc(id)}/cancel`),
  failures: (id: string, p: { limit?: number; cursor?: string | null }) =>
    request<Page<RecordFailure>>('GET', `/executions/${enc(id)}/failures${qs(p)}`),

  deadLetters: (jobId: string, p: { status?: string; limit?: number; cursor?: string | null }) =>
    request<Page<DeadLetter>>('GET', `/sync-jobs/${enc(jobId)}/dead-letters${qs(p)}`),
  retryDeadLetter: (id: string) => request<{ executionId: string }>('POST', `/dead-letters/${enc(id)}/retry`),
  discardDeadLetter: (id: string) => request<DeadLetter>('POST', `/dead-letters/${enc(id)}/discard`),
};

/** The SSE stream URL of an execution (EventSource cannot send headers: the token goes in the query). */
export function executionEventsUrl(id: string): string {
  const token = getToken();
  return `${API_BASE}/executions/${enc(id)}/events${token ? `?access_token=${enc(token)}` : ''}`;
}

export function isActive(status: ExecutionStatus): boolean {
  return status === 'queued' || status === 'running';
}
