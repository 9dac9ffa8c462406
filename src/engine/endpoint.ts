import type { Kysely } from 'kysely';

/**
 * One side of a sync. Provider connectors (Stripe, HubSpot, REST, the in-memory provider) and the
 * local store all implement this interface; the engine never imports an SDK.
 *
 * Rules an endpoint keeps:
 * - `readPage` returns at most `pageSize` records and an opaque `nextCursor` (null at the end). The
 *   cursor is saved as the run's checkpoint, so it must survive a process restart (JSON-safe string).
 * - `write` returns one result per op, in order; a record the target rejects is `{ ok: false }` and
 *   never aborts its neighbours. A throw means the whole call failed: a ProviderError with kind
 *   `transient` is retried by the engine, `auth`/`config` fail the run.
 * - Every method honours `signal`, in-flight requests included.
 */
export interface Endpoint {
  /** Writes run inside the engine's page transaction (the local store in the engine's own database). */
  readonly colocated?: boolean;
  readPage(request: ReadPageRequest): Promise<ReadPage>;
  /** Current state of the given records; ids that do not exist are left out. */
  fetch(request: FetchRequest): Promise<EndpointRecord[]>;
  /**
   * Applies the ops and returns one result per op, in order.
   *
   * Throwing means that none of the ops was applied (or that all of them are safe to repeat, e.g. creates sent
   * with idempotency keys or looked up first): the engine sends the whole call again on a transient ProviderError,
   * and fails the run on `auth`/`config`. Once any op of the call has been applied, failures must be reported
   * as per-op results `{ ok: false, error }` instead, never thrown, or the engine would lose the ids of what
   * was written and, on a transient error, write it again (a duplicate at a provider that cannot dedupe):
   * - a rejected record: its own result, the neighbours are still written;
   * - a transient error: that op's result (and ops not attempted after it may get a transient error too); the
   *   engine sends only the ops whose error is transient again, after a backoff;
   * - an `auth`/`config` error: that op's result (and the same kind for ops not attempted); the engine keeps
   *   what was written and then fails the run.
   * Cancellation (the signal aborted) may throw at any point.
   */
  write(request: WriteRequest): Promise<WriteResult[]>;
  /**
   * Whether a create of this entity type sent again finds the first one instead of making a second: the provider
   * takes the op's idempotency key, or the endpoint looks the record up by its source id first. When it cannot
   * (or does not say), the engine commits the pages that record its creates durably, even where page commits are
   * otherwise asynchronous: that commit is all that remembers the create, and a lost one would be sent again.
   */
  dedupesCreates?(entityType: string): boolean;
  /**
   * Colocated endpoints over a table in the engine's database may describe it, so that a clean inbound
   * page is written with its references and counters in one statement (see RunStore.fastInboundPage).
   */
  colocatedTable?(entityType: string): LocalTableShape;
}

/** A local table as SQL: identifiers already validated and quoted. */
export interface LocalTableShape {
  table: string;
  pk: string;
  pkName: string;
  /** SQL expression giving a new primary key value as text (uuid or the key's sequence). */
  newIdSql: string;
  /** The column lists that upserting these mapped rows writes (see UpsertColumns); unknown columns throw. */
  upsertColumns(rows: readonly Record<string, unknown>[]): UpsertColumns;
}

/**
 * An upsert's column lists as SQL, for `INSERT INTO t (<insert>) SELECT <select> FROM … AS r
 * ON CONFLICT (pk) <onConflict>`, where `r` is a row of the table's type holding the primary key.
 */
export interface UpsertColumns {
  insert: string;
  select: string;
  onConflict: string;
}

export interface EndpointRecord {
  /** The record's id on this side (provider id, or the local primary key as a string). */
  id: string;
  data: Record<string, unknown>;
  /** When the record last changed on this side (ISO 8601), used by `newest_wins`. */
  updatedAt?: string | null;
  /**
   * Set when the endpoint read this record but cannot trust its content (a missing or mistyped field): the run
   * counts it as one record failure (phase `fetch`) and writes its neighbours. `data` is then not used.
   */
  error?: unknown;
  /**
   * A tombstone: the record was deleted on this side (`data` is `{}`, `updatedAt` is when it was deleted, when
   * known). Endpoints return tombstones only when the request asks for deletions (`ReadPageRequest.deletions`),
   * and from `fetch` for records they know were deleted (others are left out). The job's `deletePolicy` says
   * what the run does with it.
   */
  deleted?: true;
}

export interface ReadPageRequest {
  entityType: string;
  /** Incremental runs: only records changed at or after this time. Null for a full run. */
  since: Date | null;
  /** Null for the first page; then the previous page's `nextCursor`. */
  cursor: string | null;
  pageSize: number;
  signal: AbortSignal;
  /**
   * Set when the job propagates deletions (its `deletePolicy` is not `ignore`): incremental reads also return
   * tombstones of records deleted at or after `since`, where the source can tell (Stripe `*.deleted` events,
   * HubSpot archived objects, a local `deletedAt` column). Full reads need not: the run sweeps references it did
   * not see. Unset: exactly the requests of a job that ignores deletions.
   */
  deletions?: boolean;
}

export interface ReadPage {
  records: EndpointRecord[];
  nextCursor: string | null;
  /**
   * Set when the page left out records it could not read at all (not even as a record with `error`, e.g. an item
   * without an id): the run then does not sweep, since a record it did not see may still exist.
   */
  incomplete?: true;
}

export interface FetchRequest {
  entityType: string;
  ids: string[];
  signal: AbortSignal;
}

export interface WriteOp {
  /**
   * `delete`: remove the record `targetId` (`data` is `{}`). Deleting a record that is already gone is a success
   * (`{ ok: true, id: targetId }`): deletions are idempotent. With `soft`, the target keeps the record and marks it
   * deleted where it can (a local `deletedAt` column; HubSpot archives, which is its only delete).
   */
  action: 'create' | 'update' | 'delete';
  /** The id on the target side for updates and deletes; null for creates. */
  targetId: string | null;
  /** Deletes only: keep the record and mark it deleted (the job's `soft_delete` policy). */
  soft?: boolean;
  /** Deletes only: when the source deleted it (ISO 8601), for the mark of a soft delete. */
  deletedAt?: string | null;
  /** Mapped content: the fields to set. */
  data: Record<string, unknown>;
  /**
   * Stable for (job, source record, content): repeating a write after a crash or a lost response
   * must not create a second record. Providers with idempotency keys send it; others look up first.
   */
  idempotencyKey: string;
  /** The source record's id, for endpoints that keep an external-id property. */
  sourceId: string;
}

export interface WriteRequest {
  entityType: string;
  ops: WriteOp[];
  signal: AbortSignal;
  /** The open page transaction, passed to colocated endpoints only. */
  // biome-ignore lint/suspicious/noExplicitAny: the application's tables are not part of our schema type
  transaction?: Kysely<any>;
}

export type WriteResult = { ok: true; id: string; updatedAt?: string | null } | { ok: false; error: unknown };

/** Credentials and config of a connection, handed to a provider when a run needs an endpoint. */
export interface ConnectionContext {
  id: string;
  provider: string;
  config: Record<string, unknown>;
  credentials: Record<string, string>;
}

/** A provider the engine can talk to: the entity types it declares and how to open an endpoint. */
export interface ProviderDefinition {
  /** Registry name, stored on each connection (e.g. `stripe`, `hubspot`, `memory`). */
  name: string;
  entityTypes: readonly string[];
  /** Entity types that depend on a connection's config (the generic REST connector); used when present. */
  entityTypesFor?(config: Record<string, unknown>): readonly string[];
  /**
   * Validates a connection's non-secret config when it is created (a zod schema: issues are reported as
   * `config.<path>`).
   */
  configSchema?: {
    safeParse(
      input: unknown,
    ):
      | { success: true; data: unknown }
      | { success: false; error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] } };
  };
  /** What a UI or API client needs to offer this provider: labels, settings, entity types and their fields. */
  info?: ProviderInfo;
  /** Provider webhooks: verifies a delivery's signature and says which records changed. */
  webhook?: WebhookHandler;
  createEndpoint(connection: ConnectionContext): Endpoint | Promise<Endpoint>;
  /** Releases what the provider holds (HTTP agents, pools); called when the engine closes. */
  close?(): Promise<void>;
}

/** A field of an entity type, as offered by the field mapping editor. */
export interface FieldInfo {
  /** Dot path in the record, e.g. `email` or `address.city`. */
  name: string;
  type: 'string' | 'number' | 'boolean' | 'datetime' | 'object' | 'array';
  label?: string;
}

export interface EntityTypeInfo {
  name: string;
  label: string;
  fields: FieldInfo[];
  /** The provider can be read (inbound), written (outbound), read by change time (incremental), pushes webhooks. */
  supports: {
    inbound: boolean;
    outbound: boolean;
    incremental: boolean;
    webhooks: boolean;
    /** The endpoint reports deletions (tombstones in incremental reads, webhooks) and can delete (outbound). */
    deletes?: boolean;
    /** It can keep a record marked deleted (`soft_delete` outbound). False: it can only delete outright. */
    softDeletes?: boolean;
  };
}

/** One setting of a connection: non-secret `config` or secret `credentials`. */
export interface SettingInfo {
  /** Key in `config` or `credentials`. */
  name: string;
  label: string;
  type: 'string' | 'url' | 'number' | 'boolean' | 'json';
  required: boolean;
  /** Entered in a password field, never shown again. */
  secret: boolean;
  /**
   * A `config` setting that decides where the credentials are sent (an API base URL). Changing it needs the
   * credentials again in the same update, and they replace the stored ones: stored credentials never follow a
   * changed address. Default: true for settings of type `url`, false otherwise.
   */
  credentialTarget?: boolean;
  help?: string;
  placeholder?: string;
}

export interface ProviderInfo {
  displayName: string;
  description?: string;
  /** Non-secret settings, stored as the connection's `config`. */
  config: SettingInfo[];
  /** Secret settings, sealed in the vault as the connection's `credentials`. */
  credentials: SettingInfo[];
  entityTypes: EntityTypeInfo[];
}

/** One webhook delivery as the server received it: the raw body, before any parsing. */
export interface WebhookDelivery {
  rawBody: Buffer;
  /** Lower-cased header names. */
  headers: Record<string, string | undefined>;
  method: string;
  /** The full request URL as the provider called it (HubSpot v3 signs it). */
  url: string;
  /** Verification time in ms since the epoch (tests pin it). */
  now?: number;
}

/** A provider event from a webhook: which record of which entity type changed. */
export interface WebhookEvent {
  /** The provider's event id; a delivery of an already stored event id is a replay and is ignored. */
  eventId: string;
  entityType: string;
  recordId: string;
  /** The event says the record was deleted (Stripe `*.deleted`, HubSpot `*.deletion`); the run re-fetches anyway. */
  deleted?: boolean;
}

export interface WebhookHandler {
  /**
   * Checks the signature with the connection's credentials (e.g. `webhookSecret`, `clientSecret`) and returns
   * the events in the body. Throws a ProviderError of kind `auth` when the signature is missing, wrong or stale,
   * and of kind `record` when the body cannot be read; nothing is stored then.
   */
  verify(delivery: WebhookDelivery, connection: ConnectionContext): WebhookEvent[];
}
