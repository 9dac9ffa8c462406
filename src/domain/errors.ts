/**
 * The error classes of otesse-sync. Every error carries the original as `cause` when it wraps one.
 * One shape everywhere: API, CLI and library callers can switch on `code`.
 */

/** One problem with one input field: `path` is a dot path such as `schedule.cron` or `fieldMappings.2.transform`. */
export interface FieldIssue {
  path: string;
  message: string;
}

/** Bad input at a boundary. Lists every offending field; nothing was written. */
export class ValidationError extends Error {
  override readonly name = 'ValidationError';
  readonly code = 'validation_failed';
  constructor(
    readonly issues: FieldIssue[],
    options?: { cause?: unknown },
  ) {
    super(`Invalid input: ${issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ')}`, options);
  }
}

export class NotFoundError extends Error {
  override readonly name = 'NotFoundError';
  readonly code = 'not_found';
  constructor(
    readonly entity: string,
    readonly id: string,
  ) {
    super(`${entity} ${id} not found`);
  }
}

/** A request that conflicts with current state (e.g. retrying a discarded dead letter). */
export class StateError extends Error {
  override readonly name = 'StateError';
  readonly code = 'invalid_state';
}

/** Stored credentials that cannot be opened here (sealed under a key this process is not configured with). */
export class CredentialsUnavailableError extends Error {
  override readonly name = 'CredentialsUnavailableError';
  readonly code = 'credentials_unavailable';
}

/**
 * How a failure should be treated:
 * - `transient`: 429, 5xx, timeout, network; retried inside the run with backoff before it counts.
 * - `record`: this record was rejected (bad data); counts as a record failure, goes to the retry set.
 * - `auth` / `config`: the whole run cannot proceed (bad credentials, unknown entity type); fails the run.
 */
export const ErrorKind = {
  transient: 'transient',
  record: 'record',
  auth: 'auth',
  config: 'config',
} as const;
export type ErrorKind = (typeof ErrorKind)[keyof typeof ErrorKind];

/** An error from an endpoint (provider connector or local store). */
export class ProviderError extends Error {
  override readonly name = 'ProviderError';
  readonly code = 'provider_error';
  readonly kind: ErrorKind;
  /** For transient errors: how long the provider asked us to wait (Retry-After), in milliseconds. */
  readonly retryAfterMs: number | undefined;
  readonly status: number | undefined;
  /**
   * The provider could not be reached at all (DNS failure, connection refused or reset, TLS failure), as
   * opposed to one that answered with an error or too slowly. Always `transient`.
   */
  readonly unreachable: boolean;
  constructor(
    kind: ErrorKind,
    message: string,
    options?: { cause?: unknown; retryAfterMs?: number; status?: number; unreachable?: boolean },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.kind = kind;
    this.retryAfterMs = options?.retryAfterMs;
    this.status = options?.status;
    this.unreachable = options?.unreachable === true && kind === 'transient';
  }
}

/** The kind of any thrown value: ProviderErrors say theirs; anything else is a record-level fault. */
export function errorKindOf(err: unknown): ErrorKind {
  if (err instanceof ProviderError) return err.kind;
  return ErrorKind.record;
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
