import { AsyncLocalStorage } from 'node:async_hooks';
import { ProviderError } from '../../domain/errors.ts';
import type {
  Endpoint,
  EndpointRecord,
  FetchRequest,
  ReadPage,
  ReadPageRequest,
  WriteOp,
  WriteRequest,
  WriteResult,
} from '../../engine/endpoint.ts';
import { type TransientRetryPolicy, waitToRetry } from '../../engine/retry.ts';
import { bodyExcerpt } from '../http/classify.ts';
import type { RequestLimiter } from '../http/rate-limiter.ts';
import { malformedRecord } from '../records.ts';
import { createObjectsApi, type HubSpotSdk, type ObjectsApi, toProviderError } from './sdk.ts';

export const HUBSPOT_ENTITY_TYPES = ['contact', 'company', 'deal'] as const;
export type HubSpotEntity = (typeof HUBSPOT_ENTITY_TYPES)[number];

/** CRM v3 object type per entity type. */
export const OBJECT_TYPE: Record<HubSpotEntity, string> = { contact: 'contacts', company: 'companies', deal: 'deals' };
/** The last-modified property search sorts and filters on: contacts have their own name for it. */
export const LAST_MODIFIED: Record<HubSpotEntity, string> = {
  contact: 'lastmodifieddate',
  company: 'hs_lastmodifieddate',
  deal: 'hs_lastmodifieddate',
};
/** Set by HubSpot only: never sent in writes. */
const READ_ONLY = new Set(['hs_object_id', 'createdate', 'lastmodifieddate', 'hs_lastmodifieddate']);
/** Record fields the connector adds beside the properties: not HubSpot properties, never sent in writes. */
const ENVELOPE = new Set(['id', 'createdAt', 'updatedAt', 'archived', 'archivedAt']);

/** HubSpot lets no search page past this many results (`after` at or past it is a 400). */
export const SEARCH_RESULT_CAP = 10_000;
const BATCH = 100;
const SEARCH_PAGE_MAX = 200;

export interface HubSpotEndpointSettings {
  accessToken: string;
  apiBase: string;
  timeoutMs: number;
  externalIdProperty: string;
  properties: Record<HubSpotEntity, string[]>;
  limiter: RequestLimiter;
  searchLimiter: RequestLimiter;
  retry: TransientRetryPolicy;
  /** Results a search can page through (HubSpot: 10,000). */
  searchResultCap: number;
  /** The guarded fetch every request goes through (outbound policy). */
  fetch: typeof fetch;
}

/** The readPage checkpoint, JSON. */
type Cursor =
  | { mode: 'list'; after: string }
  | {
      mode: 'search';
      /** Lower bound (inclusive, epoch ms) of the current search window. */
      from: number;
      /** Paging offset inside the window. */
      after: string | null;
      /** Ids already delivered whose last-modified time equals `from` (the window's boundary): dropped. */
      skip: string[];
      /** Last-modified time of the newest record delivered in this window, and the ids delivered at it. */
      tailTs: number | null;
      tailIds: string[];
    }
  /**
   * After the search of a read that asks for deletions: the archived list (`archived=true`, by id), paged with
   * `after`; objects archived at or after `since` (epoch ms) are tombstones.
   */
  | { mode: 'archived'; after: string | null; since: number };

interface SdkObject {
  id: string;
  properties: Record<string, string | null> | null;
  createdAt?: Date;
  updatedAt?: Date;
  archived?: boolean;
  archivedAt?: Date;
  objectWriteTraceId?: string;
}

interface SdkBatchResponse {
  results: SdkObject[];
  errors?: { category?: string; message?: string; context?: Record<string, string[]> }[];
}

/**
 * One connection's endpoint over the official SDK's generic CRM object APIs. Full reads page lists with the
 * `after` cursor; incremental reads search on the last-modified property, ascending, in windows that restart
 * at the last modified time seen whenever the next page would pass the 10,000-result cap (ids at that time
 * already delivered are dropped). Search never returns archived objects: incremental reads that ask for deletions
 * then page the archived list and report those archived since the cursor as tombstones (HubSpot keeps them 90
 * days). Writes go in batches of 100 with per-record results; creates look up the external-id property first
 * (HubSpot has no idempotency keys) and set it; deletes archive (HubSpot's only delete, soft or not).
 */
export class HubSpotEndpoint implements Endpoint {
  private readonly api: ObjectsApi;
  private readonly signals = new AsyncLocalStorage<AbortSignal>();
  /** false once HubSpot said the external-id property is not unique: lookups go through search then. */
  private externalIdUnique = true;

  constructor(
    private readonly s: HubSpotEndpointSettings,
    sdk: HubSpotSdk,
  ) {
    this.api = createObjectsApi(sdk, {
      accessToken: s.accessToken,
      basePath: s.apiBase,
      timeoutMs: s.timeoutMs,
      signals: this.signals,
      fetch: s.fetch,
    });
  }

  private entity(entityType: string): HubSpotEntity {
    if (!(HUBSPOT_ENTITY_TYPES as readonly string[]).includes(entityType)) {
      throw new ProviderError('config', `hubspot: unsupported entity type "${entityType}"`);
    }
    return entityType as HubSpotEntity;
  }

  /** One SDK call: rate-limited (search also by its own per-second limit), transient errors retried, classified. */
  private async call<T>(
    signal: AbortSignal,
    kind: 'read' | 'search' | 'write',
    fn: () => Promise<T>,
    retry = true,
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      await this.s.limiter.acquire(signal);
      if (kind === 'search') await this.s.searchLimiter.acquire(signal);
      let error: ProviderError;
      try {
        return await this.signals.run(signal, fn);
      } catch (err) {
        if (signal.aborted) throw signal.reason;
        error = toProviderError(err, this.s.timeoutMs);
      }
      if (!retry || error.kind !== 'transient' || attempt >= this.s.retry.attempts) throw error;
      await waitToRetry('hubspot', this.s.retry, attempt, error, signal);
    }
  }

  private toRecord(entity: HubSpotEntity, o: SdkObject): EndpointRecord {
    const id = String(o.id);
    const props = o.properties;
    if (typeof props !== 'object' || props === null || Array.isArray(props)) {
      return malformedRecord(
        id,
        new ProviderError('record', `hubspot: ${entity} ${id} is malformed: the response has no properties`),
      );
    }
    for (const [k, v] of Object.entries(props)) {
      if (v !== null && typeof v !== 'string') {
        return malformedRecord(
          id,
          new ProviderError('record', `hubspot: ${entity} ${id} is malformed: property ${k} is not a string`),
        );
      }
    }
    const updatedAt = o.updatedAt instanceof Date ? o.updatedAt.toISOString() : (props[LAST_MODIFIED[entity]] ?? null);
    return {
      id,
      data: {
        ...props,
        id,
        createdAt: o.createdAt instanceof Date ? o.createdAt.toISOString() : (props.createdate ?? null),
        updatedAt,
        archived: o.archived ?? false,
      },
      updatedAt,
    };
  }

  private properties(entity: HubSpotEntity): string[] {
    return [...new Set([...this.s.properties[entity], this.s.externalIdProperty, LAST_MODIFIED[entity]])];
  }

  async readPage(req: ReadPageRequest): Promise<ReadPage> {
    const entity = this.entity(req.entityType);
    const state = req.cursor === null ? null : (JSON.parse(req.cursor) as Cursor);
    if (state?.mode === 'list' || (state === null && req.since === null)) {
      const limit = Math.min(req.pageSize, BATCH);
      const after = state?.mode === 'list' ? state.after : undefined;
      const page = await this.call(req.signal, 'read', () =>
        this.api.basicApi.getPage(
          OBJECT_TYPE[entity],
          limit,
          after,
          this.properties(entity),
          undefined,
          undefined,
          false,
        ),
      );
      const next = page.paging?.next?.after;
      return {
        records: page.results.map((o) => this.toRecord(entity, o as SdkObject)),
        nextCursor: next ? JSON.stringify({ mode: 'list', after: next } satisfies Cursor) : null,
      };
    }
    if (state?.mode === 'archived') return this.archivedPage(entity, state, Math.min(req.pageSize, BATCH), req.signal);
    const window: Extract<Cursor, { mode: 'search' }> =
      state?.mode === 'search'
        ? state
        : { mode: 'search', from: req.since!.getTime(), after: null, skip: [], tailTs: null, tailIds: [] };
    const page = await this.searchPage(entity, window, Math.min(req.pageSize, SEARCH_PAGE_MAX), req.signal);
    if (page.nextCursor !== null || !req.deletions || req.since === null) return page;
    // The search is done: the archived objects follow.
    const next: Cursor = { mode: 'archived', after: null, since: req.since.getTime() };
    return { ...page, nextCursor: JSON.stringify(next) };
  }

  /**
   * One page of the archived list. HubSpot cannot filter it by archive time, so it is read whole (it holds what was
   * archived in the last 90 days) and the objects archived before `since` are left out.
   */
  private async archivedPage(
    entity: HubSpotEntity,
    c: Extract<Cursor, { mode: 'archived' }>,
    limit: number,
    signal: AbortSignal,
  ): Promise<ReadPage> {
    const page = await this.call(signal, 'read', () =>
      this.api.basicApi.getPage(
        OBJECT_TYPE[entity],
        limit,
        c.after ?? undefined,
        [LAST_MODIFIED[entity]],
        undefined,
        undefined,
        true,
      ),
    );
    const records: EndpointRecord[] = [];
    for (const o of page.results as SdkObject[]) {
      const at = validDate(o.archivedAt) ?? validDate(o.updatedAt);
      if (at !== null && at.getTime() < c.since) continue;
      records.push({ id: String(o.id), data: {}, updatedAt: at === null ? null : at.toISOString(), deleted: true });
    }
    const next = page.paging?.next?.after;
    return {
      records,
      nextCursor: next ? JSON.stringify({ mode: 'archived', after: next, since: c.since } satisfies Cursor) : null,
    };
  }

  /** One page of the incremental search: `lastmodified >= from`, ascending, `after` inside the window. */
  private async searchPage(
    entity: HubSpotEntity,
    w: Extract<Cursor, { mode: 'search' }>,
    limit: number,
    signal: AbortSignal,
  ): Promise<ReadPage> {
    const lastMod = LAST_MODIFIED[entity];
    const res = await this.call(signal, 'search', () =>
      this.api.searchApi.doSearch(OBJECT_TYPE[entity], {
        filterGroups: [{ filters: [{ propertyName: lastMod, operator: 'GTE' as never, value: String(w.from) }] }],
        // The SDK types sorts as strings; the API takes objects.
        sorts: [{ propertyName: lastMod, direction: 'ASCENDING' }] as unknown as string[],
        properties: this.properties(entity),
        limit,
        ...(w.after !== null ? { after: w.after } : {}),
      }),
    );
    const skip = new Set(w.skip);
    const records: EndpointRecord[] = [];
    let tailTs = w.tailTs;
    let tailIds = w.tailIds;
    for (const o of res.results as SdkObject[]) {
      const ts = modifiedAt(o, lastMod);
      if (ts === w.from && skip.has(String(o.id))) continue;
      records.push(this.toRecord(entity, o));
      if (ts === null) continue;
      if (ts === tailTs) tailIds = [...tailIds, String(o.id)];
      else if (tailTs === null || ts > tailTs) {
        tailTs = ts;
        tailIds = [String(o.id)];
      }
    }
    const next = res.paging?.next?.after;
    if (!next) return { records, nextCursor: null };
    if (Number(next) < this.s.searchResultCap) {
      const cursor: Cursor = { ...w, after: next, tailTs, tailIds };
      return { records, nextCursor: JSON.stringify(cursor) };
    }
    // The next page would pass the cap: a new window from the newest modified time delivered so far.
    if (tailTs === null) throw new ProviderError('transient', 'hubspot: search results carry no last-modified time');
    if (tailTs === w.from) {
      throw new ProviderError(
        'config',
        `hubspot: more than ${this.s.searchResultCap} ${entity} records share one last-modified time; an incremental search cannot page past them (run a full sync)`,
      );
    }
    const cursor: Cursor = { mode: 'search', from: tailTs, after: null, skip: tailIds, tailTs, tailIds };
    return { records, nextCursor: JSON.stringify(cursor) };
  }

  async fetch(req: FetchRequest): Promise<EndpointRecord[]> {
    const entity = this.entity(req.entityType);
    const out: EndpointRecord[] = [];
    for (let i = 0; i < req.ids.length; i += BATCH) {
      const ids = req.ids.slice(i, i + BATCH);
      const res = (await this.call(req.signal, 'read', () =>
        this.api.batchApi.read(
          OBJECT_TYPE[entity],
          { inputs: ids.map((id) => ({ id })), properties: this.properties(entity), propertiesWithHistory: [] },
          false,
        ),
      )) as SdkBatchResponse;
      // Ids that do not exist come back as a 207 OBJECT_NOT_FOUND error: they are left out.
      for (const o of res.results) out.push(this.toRecord(entity, o));
    }
    return out;
  }

  /** Every create is looked up by its external-id property first (see Endpoint.dedupesCreates). */
  dedupesCreates(): boolean {
    return true;
  }

  /**
   * Creates (each looked up by external id first), then updates, then deletes (archives), in batches of 100. A fault that is not a
   * record's throws only while nothing of the call was applied (see Endpoint.write); after that it becomes the
   * result of every op that has none yet, so that the engine keeps the ids already written and sends again
   * only the rest (creates among them are looked up again first).
   */
  async write(req: WriteRequest): Promise<WriteResult[]> {
    const entity = this.entity(req.entityType);
    const results: WriteResult[] = new Array(req.ops.length);
    try {
      await this.writeInto(entity, req, results);
    } catch (err) {
      if (req.signal.aborted || !(err instanceof ProviderError) || !results.some((r) => r?.ok)) throw err;
      for (let i = 0; i < results.length; i++) results[i] ??= { ok: false, error: err };
    }
    return results;
  }

  private async writeInto(entity: HubSpotEntity, req: WriteRequest, results: WriteResult[]): Promise<void> {
    const creates: number[] = [];
    const updates: { index: number; id: string }[] = [];
    const deletes: number[] = [];
    for (const [i, op] of req.ops.entries()) {
      if (op.action === 'create') creates.push(i);
      else if (!op.targetId) {
        const what = op.action === 'delete' ? 'a delete' : 'an update';
        results[i] = { ok: false, error: new ProviderError('record', `hubspot: ${what} without a target id`) };
      } else if (op.action === 'delete') deletes.push(i);
      else updates.push({ index: i, id: op.targetId });
    }
    // No idempotency keys at HubSpot: a create whose response was lost already exists under our external id.
    // So a create is never sent twice blindly: after a transient failure the lookup runs again first.
    let pending = creates;
    for (let attempt = 1; pending.length > 0; attempt++) {
      const toCreate: number[] = [];
      for (let i = 0; i < pending.length; i += BATCH) {
        const chunk = pending.slice(i, i + BATCH);
        const existing = await this.lookupExternal(
          entity,
          chunk.map((k) => req.ops[k]!.sourceId),
          req.signal,
        );
        for (const k of chunk) {
          const id = existing.get(req.ops[k]!.sourceId);
          if (id !== undefined) updates.push({ index: k, id });
          else toCreate.push(k);
        }
      }
      try {
        for (let i = 0; i < toCreate.length; i += BATCH) {
          await this.batchWrite(entity, 'create', toCreate.slice(i, i + BATCH), req, results);
        }
        pending = [];
      } catch (err) {
        if (!(err instanceof ProviderError) || err.kind !== 'transient' || attempt >= this.s.retry.attempts) throw err;
        if (req.signal.aborted) throw req.signal.reason;
        await waitToRetry('hubspot', this.s.retry, attempt, err, req.signal);
        pending = toCreate.filter((k) => results[k] === undefined);
      }
    }
    for (let i = 0; i < updates.length; i += BATCH) {
      const chunk = updates.slice(i, i + BATCH);
      const ids = new Map(chunk.map((u) => [u.index, u.id]));
      await this.batchWrite(
        entity,
        'update',
        chunk.map((u) => u.index),
        req,
        results,
        ids,
      );
    }
    for (let i = 0; i < deletes.length; i += BATCH) {
      await this.batchArchive(entity, deletes.slice(i, i + BATCH), req, results);
    }
  }

  /**
   * Deletes as HubSpot does: batch archive (204, whether or not the records were already archived or exist at
   * all: deleting what is gone succeeds). Soft and hard deletes both archive; HubSpot can restore an archived
   * record for 90 days. Archiving twice is harmless, so transient failures are retried; a batch refused for a
   * record-level reason is split until the bad id is alone.
   */
  private async batchArchive(
    entity: HubSpotEntity,
    indexes: number[],
    req: WriteRequest,
    results: WriteResult[],
  ): Promise<void> {
    if (indexes.length === 0) return;
    const inputs = indexes.map((k) => ({ id: req.ops[k]!.targetId! }));
    try {
      await this.call(req.signal, 'write', () => this.api.batchApi.archive(OBJECT_TYPE[entity], { inputs }));
    } catch (err) {
      if (!(err instanceof ProviderError) || err.kind !== 'record') throw err;
      if (indexes.length === 1) {
        // Not found: already gone, which is what a delete wants.
        const k = indexes[0]!;
        results[k] =
          err.status === 404 ? { ok: true, id: req.ops[k]!.targetId!, updatedAt: null } : { ok: false, error: err };
        return;
      }
      const half = Math.ceil(indexes.length / 2);
      await this.batchArchive(entity, indexes.slice(0, half), req, results);
      await this.batchArchive(entity, indexes.slice(half), req, results);
      return;
    }
    for (const k of indexes) results[k] = { ok: true, id: req.ops[k]!.targetId!, updatedAt: null };
  }

  /** HubSpot ids of the records whose external-id property holds one of `sourceIds`. */
  private async lookupExternal(
    entity: HubSpotEntity,
    sourceIds: string[],
    signal: AbortSignal,
  ): Promise<Map<string, string>> {
    const prop = this.s.externalIdProperty;
    const found = new Map<string, string>();
    if (sourceIds.length === 0) return found;
    if (this.externalIdUnique) {
      // A unique property can be read by value: read-after-write consistent, unlike search.
      try {
        const res = (await this.call(signal, 'read', () =>
          this.api.batchApi.read(
            OBJECT_TYPE[entity],
            {
              idProperty: prop,
              inputs: sourceIds.map((id) => ({ id })),
              properties: [prop],
              propertiesWithHistory: [],
            },
            false,
          ),
        )) as SdkBatchResponse;
        for (const o of res.results) {
          const v = o.properties?.[prop];
          if (typeof v === 'string') found.set(v, String(o.id));
        }
        return found;
      } catch (err) {
        if (!(err instanceof ProviderError) || err.kind !== 'record') throw err;
        // "not a unique property": search instead (eventually consistent, but the only way).
        this.externalIdUnique = false;
      }
    }
    const res = await this.call(signal, 'search', () =>
      this.api.searchApi.doSearch(OBJECT_TYPE[entity], {
        filterGroups: [{ filters: [{ propertyName: prop, operator: 'IN' as never, values: sourceIds }] }],
        properties: [prop],
        limit: SEARCH_PAGE_MAX,
      }),
    );
    for (const o of res.results as SdkObject[]) {
      const v = o.properties?.[prop];
      if (typeof v === 'string' && !found.has(v)) found.set(v, String(o.id));
    }
    return found;
  }

  /**
   * One batch create/update of at most 100 ops with per-record results: a 207 names the inputs that failed
   * (by objectWriteTraceId or id), the others succeeded. A batch rejected as a whole for a record-level reason
   * (400, 409) is split in halves until the bad records are alone. Run-level errors throw.
   */
  private async batchWrite(
    entity: HubSpotEntity,
    action: 'create' | 'update',
    indexes: number[],
    req: WriteRequest,
    results: WriteResult[],
    targetIds?: Map<number, string>,
  ): Promise<void> {
    if (indexes.length === 0) return;
    const type = OBJECT_TYPE[entity];
    let res: SdkBatchResponse;
    try {
      if (action === 'create') {
        const inputs = indexes.map((k) => ({
          properties: { ...toProperties(req.ops[k]!), [this.s.externalIdProperty]: req.ops[k]!.sourceId },
          objectWriteTraceId: String(k),
          associations: [],
        }));
        // Not retried here: a retry must look the records up first (see write).
        res = (await this.call(
          req.signal,
          'write',
          () => this.api.batchApi.create(type, { inputs }),
          false,
        )) as SdkBatchResponse;
      } else {
        const inputs = indexes.map((k) => ({
          id: targetIds!.get(k)!,
          properties: toProperties(req.ops[k]!),
          objectWriteTraceId: String(k),
        }));
        res = (await this.call(req.signal, 'write', () =>
          this.api.batchApi.update(type, { inputs }),
        )) as SdkBatchResponse;
      }
    } catch (err) {
      if (!(err instanceof ProviderError) || err.kind !== 'record') throw err;
      if (indexes.length === 1) {
        results[indexes[0]!] = { ok: false, error: err };
        return;
      }
      const half = Math.ceil(indexes.length / 2);
      await this.batchWrite(entity, action, indexes.slice(0, half), req, results, targetIds);
      await this.batchWrite(entity, action, indexes.slice(half), req, results, targetIds);
      return;
    }
    const byTrace = new Map<string, number>(indexes.map((k) => [String(k), k]));
    const byId = new Map<string, number>(targetIds ? indexes.map((k) => [targetIds.get(k)!, k]) : []);
    const lastMod = LAST_MODIFIED[entity];
    for (const o of res.results) {
      const k =
        (o.objectWriteTraceId !== undefined ? byTrace.get(o.objectWriteTraceId) : undefined) ??
        byId.get(String(o.id)) ??
        (action === 'create' ? this.byExternalId(o, indexes, req) : undefined);
      if (k === undefined) continue;
      const ts = modifiedAt(o, lastMod);
      results[k] = { ok: true, id: String(o.id), updatedAt: ts === null ? null : new Date(ts).toISOString() };
    }
    for (const e of res.errors ?? []) {
      const keys = [
        ...(e.context?.objectWriteTraceId ?? []).map((t) => byTrace.get(t)),
        ...(e.context?.ids ?? []).map((id) => byId.get(id)),
      ];
      const error = new ProviderError(
        'record',
        `hubspot: ${bodyExcerpt(e.category ?? '', 40) ?? 'ERROR'} ${bodyExcerpt(e.message ?? '') ?? 'rejected'}`,
      );
      for (const k of keys) if (k !== undefined && results[k] === undefined) results[k] = { ok: false, error };
    }
    for (const k of indexes) {
      results[k] ??= {
        ok: false,
        error: new ProviderError('transient', `hubspot: the batch ${action} answered nothing for this record`),
      };
    }
  }

  private byExternalId(o: SdkObject, indexes: number[], req: WriteRequest): number | undefined {
    const v = o.properties?.[this.s.externalIdProperty];
    return v ? indexes.find((k) => req.ops[k]!.sourceId === v) : undefined;
  }
}

function validDate(d: unknown): Date | null {
  return d instanceof Date && !Number.isNaN(d.getTime()) ? d : null;
}

function modifiedAt(o: SdkObject, lastMod: string): number | null {
  if (o.updatedAt instanceof Date && !Number.isNaN(o.updatedAt.getTime())) return o.updatedAt.getTime();
  const raw = o.properties?.[lastMod];
  const t = raw ? Date.parse(raw) : Number.NaN;
  return Number.isNaN(t) ? null : t;
}

/**
 * Mapped content as HubSpot properties: values travel as strings; null clears a property (sent as '');
 * the connector's envelope fields and HubSpot's read-only properties are left out.
 */
function toProperties(op: WriteOp): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(op.data)) {
    if (ENVELOPE.has(k) || READ_ONLY.has(k) || v === undefined) continue;
    if (v === null) {
      if (op.action === 'update') out[k] = '';
      continue;
    }
    if (v instanceof Date) out[k] = v.toISOString();
    else if (typeof v === 'object') out[k] = JSON.stringify(v);
    else out[k] = String(v);
  }
  return out;
}
