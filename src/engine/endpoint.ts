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
  write(request: WriteRequest): Promise<WriteResult[]>;
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
}

export interface ReadPageRequest {
  entityType: string;
  /** Incremental runs: only records changed at or after this time. Null for a full run. */
  since: Date | null;
  /** Null for the first page; then the previous page's `nextCursor`. */
  cursor: string | null;
  pageSize: number;
  signal: AbortSignal;
}

export interface ReadPage {
  records: EndpointRecord[];
  nextCursor: string | null;
}

export interface FetchRequest {
  entityType: string;
  ids: string[];
  signal: AbortSignal;
}

export interface WriteOp {
  action: 'create' | 'update';
  /** The id on the target side for updates; null for creates. */
  targetId: string | null;
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
  createEndpoint(connection: ConnectionContext): Endpoint | Promise<Endpoint>;
  /** Releases what the provider holds (HTTP agents, pools); called when the engine closes. */
  close?(): Promise<void>;
}
