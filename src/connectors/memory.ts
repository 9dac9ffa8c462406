import { ProviderError } from '../domain/errors.ts';
import { delay } from '../engine/abort.ts';
import type {
  Endpoint,
  EndpointRecord,
  FetchRequest,
  ProviderDefinition,
  ReadPage,
  ReadPageRequest,
  WriteOp,
  WriteRequest,
  WriteResult,
} from '../engine/endpoint.ts';

interface StoredRecord {
  id: string;
  data: Record<string, unknown>;
  updatedAt: string;
  /** Set when the record was deleted: kept as a tombstone for incremental reads that ask for deletions. */
  deletedAt?: string;
}

/** A generated, read-only collection: record `i` is made on demand, so a million records cost no memory. */
interface SyntheticSet {
  count: number;
  make(index: number): EndpointRecord;
}

export interface MemoryProviderOptions {
  /** Registry name. Default: `memory`. */
  name?: string;
  /** Entity types it declares. Default: `['customer']`. */
  entityTypes?: readonly string[];
}

/** What a test may do to the next calls: inject faults, slow things down, watch writes. */
export interface MemoryFaults {
  /**
   * Reject these writes: a message rejects the record as bad data (a validation error at the provider); a
   * ProviderError is returned as that record's result as it is (e.g. a 401 on one record).
   */
  rejectWrite?: (op: WriteOp, entityType: string) => string | ProviderError | undefined;
  /** The next N write calls fail as a whole with a transient 503. */
  transientWriteCalls?: number;
  /** The next N writes of single records fail with a transient 429 (Retry-After 0). */
  transientRecordWrites?: number;
  /** The next N readPage calls fail with a transient 503. */
  transientReads?: number;
  /** The next N fetch (by id) calls fail with a transient 503. */
  transientFetches?: number;
  /** Every call fails without an answer, as if the network were down (connect ECONNREFUSED). */
  unreachable?: boolean;
  /** Every call fails with 401: bad credentials. */
  authError?: boolean;
  /** Delay before each call answers (honours the AbortSignal). */
  latencyMs?: number;
  /** Called as each write call starts (await it to hold the call open, e.g. to cancel mid-page). */
  beforeWrite?: (request: WriteRequest) => Promise<void> | void;
  /** Called as each readPage call starts. */
  beforeRead?: (request: ReadPageRequest) => Promise<void> | void;
}

/**
 * An in-memory provider for tests, examples and benchmarks. It behaves like a careful provider:
 * cursor pagination, `since` filtering on update time, idempotency keys on creates, per-record results.
 */
export class MemoryProvider {
  readonly name: string;
  readonly entityTypes: readonly string[];
  readonly faults: MemoryFaults = {};
  /** Calls seen, for assertions on work per page (not on behaviour). */
  readonly stats = { readPage: 0, fetch: 0, write: 0, createdRecords: 0, updatedRecords: 0, deletedRecords: 0 };
  private readonly tables = new Map<string, Map<string, StoredRecord>>();
  private readonly sorted = new Map<string, string[]>();
  private readonly synthetic = new Map<string, SyntheticSet>();
  private readonly idempotency = new Map<string, string>();
  private nextId = 1;

  constructor(options: MemoryProviderOptions = {}) {
    this.name = options.name ?? 'memory';
    this.entityTypes = options.entityTypes ?? ['customer'];
  }

  get definition(): ProviderDefinition {
    return { name: this.name, entityTypes: this.entityTypes, createEndpoint: () => this.endpoint() };
  }

  /** Wall-clock time of a change (never running ahead of the real clock, as a provider's would not). */
  private now(): string {
    return new Date().toISOString();
  }

  private table(entityType: string): Map<string, StoredRecord> {
    let t = this.tables.get(entityType);
    if (!t) {
      t = new Map();
      this.tables.set(entityType, t);
    }
    return t;
  }

  /** Inserts or replaces a record as if a user changed it at the provider. Returns its id. */
  put(entityType: string, data: Record<string, unknown>, id?: string): string {
    const rid = id ?? `mem_${this.nextId++}`;
    const t = this.table(entityType);
    if (!t.has(rid)) this.sorted.delete(entityType);
    t.set(rid, { id: rid, data: structuredClone(data), updatedAt: this.now() });
    return rid;
  }

  /** Deletes a record as if a user deleted it at the provider (a tombstone stays for incremental reads). */
  remove(entityType: string, id: string): void {
    const r = this.table(entityType).get(id);
    if (!r || r.deletedAt) throw new Error(`no ${entityType} ${id}`);
    r.deletedAt = this.now();
    r.updatedAt = r.deletedAt;
  }

  /** Changes some fields of an existing record, bumping its update time. */
  patch(entityType: string, id: string, fields: Record<string, unknown>): void {
    const r = this.table(entityType).get(id);
    if (!r || r.deletedAt) throw new Error(`no ${entityType} ${id}`);
    r.data = { ...r.data, ...structuredClone(fields) };
    r.updatedAt = this.now();
  }

  get(entityType: string, id: string): EndpointRecord | undefined {
    const r = this.table(entityType).get(id);
    return r && !r.deletedAt ? { id: r.id, data: structuredClone(r.data), updatedAt: r.updatedAt } : undefined;
  }

  all(entityType: string): EndpointRecord[] {
    return this.ids(entityType).flatMap((id) => this.get(entityType, id) ?? []);
  }

  count(entityType: string): number {
    return this.synthetic.get(entityType)?.count ?? this.all(entityType).length;
  }

  /** Serves `count` generated records for `entityType` (read-only), ids ordered by index. */
  seedSynthetic(entityType: string, count: number, make: (index: number) => EndpointRecord): void {
    this.synthetic.set(entityType, { count, make });
  }

  private ids(entityType: string): string[] {
    let ids = this.sorted.get(entityType);
    if (!ids) {
      ids = [...this.table(entityType).keys()].sort();
      this.sorted.set(entityType, ids);
    }
    return ids;
  }

  private async gate(signal: AbortSignal): Promise<void> {
    if (this.faults.latencyMs) await delay(this.faults.latencyMs, signal);
    if (signal.aborted) throw signal.reason;
    if (this.faults.unreachable) {
      throw new ProviderError('transient', 'memory provider: network error: connect ECONNREFUSED', {
        unreachable: true,
      });
    }
    if (this.faults.authError) throw new ProviderError('auth', 'memory provider: 401 invalid API key', { status: 401 });
  }

  private checkEntityType(entityType: string): void {
    if (!this.entityTypes.includes(entityType)) {
      throw new ProviderError('config', `memory provider does not declare entity type "${entityType}"`);
    }
  }

  endpoint(): Endpoint {
    return {
      readPage: (req) => this.readPage(req),
      fetch: (req) => this.fetch(req),
      write: (req) => this.write(req),
      // Creates are keyed by their idempotency key (see Endpoint.dedupesCreates).
      dedupesCreates: () => true,
    };
  }

  private async readPage(req: ReadPageRequest): Promise<ReadPage> {
    this.stats.readPage++;
    this.checkEntityType(req.entityType);
    await this.faults.beforeRead?.(req);
    await this.gate(req.signal);
    if (this.faults.transientReads && this.faults.transientReads > 0) {
      this.faults.transientReads--;
      throw new ProviderError('transient', 'memory provider: 503 service unavailable', { status: 503 });
    }
    const synthetic = this.synthetic.get(req.entityType);
    if (synthetic) {
      const start = req.cursor === null ? 0 : Number.parseInt(req.cursor, 10);
      const end = Math.min(synthetic.count, start + req.pageSize);
      const records: EndpointRecord[] = [];
      for (let i = start; i < end; i++) records.push(synthetic.make(i));
      return { records, nextCursor: end < synthetic.count ? String(end) : null };
    }
    const ids = this.ids(req.entityType);
    const table = this.table(req.entityType);
    // Cursor = the last id returned; binary search for where to continue.
    let lo = 0;
    if (req.cursor !== null) {
      let hi = ids.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (ids[mid]! <= req.cursor) lo = mid + 1;
        else hi = mid;
      }
    }
    const since = req.since?.toISOString();
    const records: EndpointRecord[] = [];
    let i = lo;
    for (; i < ids.length && records.length < req.pageSize; i++) {
      const r = table.get(ids[i]!)!;
      if (since !== undefined && r.updatedAt < since) continue;
      if (r.deletedAt) {
        // Deleted: a tombstone for incremental reads that ask for deletions, else left out.
        if (since !== undefined && req.deletions)
          records.push({ id: r.id, data: {}, updatedAt: r.deletedAt, deleted: true });
        continue;
      }
      records.push({ id: r.id, data: structuredClone(r.data), updatedAt: r.updatedAt });
    }
    const last = records.at(-1);
    return { records, nextCursor: i < ids.length && last ? ids[i - 1]! : null };
  }

  private async fetch(req: FetchRequest): Promise<EndpointRecord[]> {
    this.stats.fetch++;
    this.checkEntityType(req.entityType);
    await this.gate(req.signal);
    if (this.faults.transientFetches && this.faults.transientFetches > 0) {
      this.faults.transientFetches--;
      throw new ProviderError('transient', 'memory provider: 503 service unavailable', { status: 503 });
    }
    const out: EndpointRecord[] = [];
    for (const id of req.ids) {
      const r = this.get(req.entityType, id);
      if (r) out.push(r);
    }
    return out;
  }

  private async write(req: WriteRequest): Promise<WriteResult[]> {
    this.stats.write++;
    this.checkEntityType(req.entityType);
    await this.faults.beforeWrite?.(req);
    await this.gate(req.signal);
    if (this.faults.transientWriteCalls && this.faults.transientWriteCalls > 0) {
      this.faults.transientWriteCalls--;
      throw new ProviderError('transient', 'memory provider: 503 service unavailable', { status: 503 });
    }
    const table = this.table(req.entityType);
    return req.ops.map((op): WriteResult => {
      if (this.faults.transientRecordWrites && this.faults.transientRecordWrites > 0) {
        this.faults.transientRecordWrites--;
        return {
          ok: false,
          error: new ProviderError('transient', 'memory provider: 429 rate limited', { status: 429, retryAfterMs: 0 }),
        };
      }
      const rejected = this.faults.rejectWrite?.(op, req.entityType);
      if (rejected instanceof ProviderError) return { ok: false, error: rejected };
      if (rejected) return { ok: false, error: new ProviderError('record', rejected, { status: 400 }) };
      if (op.action === 'delete') {
        // Idempotent: deleting what is gone is a success.
        const target = op.targetId === null ? undefined : table.get(op.targetId);
        if (target && !target.deletedAt) {
          this.remove(req.entityType, target.id);
          this.stats.deletedRecords++;
        }
        return { ok: true, id: op.targetId ?? '' };
      }
      if (op.action === 'create') {
        const seen = this.idempotency.get(op.idempotencyKey);
        if (seen) return { ok: true, id: seen, updatedAt: table.get(seen)?.updatedAt ?? null };
        const id = this.put(req.entityType, op.data);
        this.idempotency.set(op.idempotencyKey, id);
        this.stats.createdRecords++;
        return { ok: true, id, updatedAt: table.get(id)!.updatedAt };
      }
      const found = op.targetId === null ? undefined : table.get(op.targetId);
      const existing = found?.deletedAt ? undefined : found;
      if (!existing) {
        return {
          ok: false,
          error: new ProviderError('record', `memory provider: 404 no ${req.entityType} ${op.targetId}`, {
            status: 404,
          }),
        };
      }
      this.patch(req.entityType, existing.id, op.data);
      this.stats.updatedRecords++;
      return { ok: true, id: existing.id, updatedAt: existing.updatedAt };
    });
  }
}

/** An in-memory provider; see MemoryProvider. */
export function createMemoryProvider(options?: MemoryProviderOptions): MemoryProvider {
  return new MemoryProvider(options);
}
