import { z } from 'zod';
import { ProviderError } from '../../domain/errors.ts';
import type {
  ConnectionContext,
  Endpoint,
  EndpointRecord,
  EntityTypeInfo,
  FetchRequest,
  ProviderDefinition,
  ProviderInfo,
  ReadPage,
  ReadPageRequest,
  WriteOp,
  WriteRequest,
  WriteResult,
} from '../../engine/endpoint.ts';
import { DEFAULT_TRANSIENT_RETRY, type TransientRetryPolicy, waitToRetry } from '../../engine/retry.ts';
import { HttpClient } from '../http/client.ts';
import { guardedFetch, type OutboundPolicy } from '../http/guard.ts';
import { atPath, nextCursor, nextLinkFromHeader, nextOffset, nextPageNumber } from '../http/pagination.ts';
import { RateLimiter } from '../http/rate-limiter.ts';
import { malformedRecord } from '../records.ts';
import { TIMEOUT_SETTING } from '../shared.ts';

const path = z.string().regex(/^\//, { error: 'must start with /' });
/** A path naming one record: `{id}` is replaced by its id (URL-encoded). */
const recordPath = z.string().regex(/^\/.*\{id\}/, { error: 'must start with / and contain {id}' });
const dotPath = z.string();

const paginationSchema = z.discriminatedUnion('style', [
  z.strictObject({
    style: z.literal('cursor'),
    cursorParam: z.string().min(1),
    /** Where the next cursor sits in the response; missing/empty/null = last page. */
    cursorPath: dotPath.min(1).optional(),
    /**
     * Instead of cursorPath, for APIs that page after a record (`?starting_after=<last id>`, Stripe style): the
     * next cursor is this field of the page's last record. There is a next page when `hasMorePath` (a boolean in
     * the response, e.g. `has_more`) is true, or, without it, when the page came back full.
     */
    cursorField: dotPath.min(1).optional(),
    hasMorePath: dotPath.min(1).optional(),
    limitParam: z.string().min(1).optional(),
  }),
  z.strictObject({
    style: z.literal('offset'),
    offsetParam: z.string().min(1),
    limitParam: z.string().min(1),
    totalPath: dotPath.optional(),
  }),
  z.strictObject({
    style: z.literal('page'),
    pageParam: z.string().min(1),
    limitParam: z.string().min(1),
    firstPage: z.int().min(0).default(1),
    totalPagesPath: dotPath.optional(),
  }),
  z.strictObject({ style: z.literal('link'), limitParam: z.string().min(1).optional() }),
]);

const fieldTypes = ['string', 'number', 'boolean', 'datetime', 'object', 'array'] as const;

const entitySchema = z.strictObject({
  /**
   * The fields of a record, for the field mapping editor and as a shape check: a record missing a `required`
   * field or holding a value of another type (null aside) is malformed and fails alone (a record failure).
   */
  fields: z
    .array(z.strictObject({ name: dotPath.min(1), type: z.enum(fieldTypes), required: z.boolean().default(false) }))
    .optional(),
  listPath: path,
  /** Where the records sit in a list response (dot path; empty = the body is the array). */
  recordsPath: dotPath.default(''),
  idField: dotPath.default('id'),
  updatedAtField: dotPath.optional(),
  pagination: paginationSchema,
  /** Incremental runs send the cursor time in this query parameter. */
  incremental: z.strictObject({ param: z.string().min(1), format: z.enum(['iso', 'unix']).default('iso') }).optional(),
  /** One record by id: `{id}` is replaced (URL-encoded). Needed for webhooks, retries and conflict checks. */
  getPath: path.optional(),
  create: z
    .strictObject({
      method: z.enum(['POST', 'PUT']).default('POST'),
      path,
      /** Where the new record's id sits in the response. */
      idPath: dotPath.default('id'),
      /** Header that carries the idempotency key, when the API supports one. */
      idempotencyHeader: z.string().min(1).optional(),
    })
    .optional(),
  update: z.strictObject({ method: z.enum(['PUT', 'PATCH', 'POST']).default('PATCH'), path }).optional(),
  /**
   * Outbound deletes: `method` (default DELETE) to `path` (`{id}` replaced), with `body` (JSON) when given, e.g.
   * `{"method": "PATCH", "path": "/people/{id}", "body": {"archived": true}}` for an API whose delete is a mark.
   * Answers 404 and 410 mean the record is already gone: a success. Without it, deletes are refused.
   */
  delete: z
    .strictObject({
      method: z.enum(['DELETE', 'POST', 'PATCH']).default('DELETE'),
      path: recordPath,
      body: z.record(z.string(), z.unknown()).optional(),
    })
    .optional(),
  /**
   * Lookup-before-create, for APIs without idempotency keys: `field` (dot path) is the record field that holds
   * the source record's id (creates set it); before a create, the list path is read with `?<param>=<source id>`
   * (`param` defaults to `field`) and a record whose `field` equals the source id is updated instead (or taken
   * as is when there is no update request). A create whose answer was lost is never sent again blindly: its
   * retry looks up first. The list path must filter by `param`, or the lookup only sees its first page.
   */
  lookup: z
    .strictObject({
      field: dotPath.min(1, { error: 'must name the field that holds the source id' }),
      param: z.string().min(1, { error: 'must be a query parameter name' }).optional(),
    })
    .optional(),
});
/** One entity type of a REST connection's config (`entities.<name>`), with its cross-field checks. */
export const restEntitySchema = entitySchema.superRefine((e, ctx) => {
  if (e.lookup && !e.create) {
    ctx.addIssue({ code: 'custom', path: ['lookup'], message: 'needs a create request (create) to look up before' });
  }
  const p = e.pagination;
  if (p.style === 'cursor' && (p.cursorPath === undefined) === (p.cursorField === undefined)) {
    ctx.addIssue({
      code: 'custom',
      path: ['pagination', 'cursorPath'],
      message:
        p.cursorPath === undefined
          ? 'is required (where the next cursor sits in the response), unless cursorField names the last record’s field'
          : 'and cursorField cannot both be set: the next cursor comes from the response or from the last record',
    });
  }
  if (p.style === 'cursor' && p.hasMorePath !== undefined && p.cursorField === undefined) {
    ctx.addIssue({ code: 'custom', path: ['pagination', 'hasMorePath'], message: 'goes with cursorField' });
  }
});

/** A REST API described as data: what a user fills in to connect a provider this project has never heard of. */
export const restConfigSchema = z.strictObject({
  baseUrl: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }),
  auth: z
    .discriminatedUnion('type', [
      z.strictObject({ type: z.literal('none') }),
      z.strictObject({ type: z.literal('bearer') }),
      z.strictObject({ type: z.literal('basic') }),
      z.strictObject({ type: z.literal('header'), name: z.string().min(1) }),
      z.strictObject({ type: z.literal('query'), name: z.string().min(1) }),
    ])
    .default({ type: 'none' }),
  rateLimit: z.strictObject({ requests: z.int().min(1), perSeconds: z.number().positive() }).optional(),
  timeoutMs: z.int().min(100).max(600_000).optional(),
  entities: z.record(
    z.string().regex(/^[a-z][a-z0-9_]*$/, { error: 'entity names are lowercase identifiers' }),
    restEntitySchema,
  ),
});
export type RestConfig = z.output<typeof restConfigSchema>;
type EntityConfig = RestConfig['entities'][string];

/**
 * The fetch each REST provider's endpoints use (the outbound guard with the provider's policy), for the
 * connection builder (`builder.ts`): it tests an unsaved connection through exactly the guard a run would use.
 */
const providerFetches = new WeakMap<ProviderDefinition, typeof fetch>();

/** The fetch of a provider made by `createRestProvider` (guarded by its outbound policy), or null for any other. */
export function restProviderFetch(definition: ProviderDefinition): typeof fetch | null {
  return providerFetches.get(definition) ?? null;
}

/**
 * The generic REST connector. Credentials by auth type: bearer → `token`; basic → `username`, `password`;
 * header/query → `apiKey`.
 */
export function createRestProvider(
  options: {
    name?: string;
    retry?: TransientRetryPolicy;
    /** Where requests may go (SSRF guard); default DEFAULT_OUTBOUND_POLICY. */
    outbound?: OutboundPolicy;
    /**
     * The fetch to use instead of the guarded one: tests, and the connection builder (which passes the guarded
     * fetch of the server's REST provider, wrapped to see each answer).
     */
    fetch?: typeof fetch;
  } = {},
) {
  // Built once (a bad allow-list fails here, not at the first run), shared by the connections' endpoints.
  const fetchFn = options.fetch ?? guardedFetch(options.outbound, 'rest');
  const definition: ProviderDefinition = {
    name: options.name ?? 'rest',
    // The entity types come from each connection's config.
    entityTypes: [],
    configSchema: restConfigSchema,
    info: REST_INFO,
    entityTypesFor: (config) => {
      const parsed = restConfigSchema.safeParse(config);
      return parsed.success ? Object.keys(parsed.data.entities) : [];
    },
    createEndpoint(connection: ConnectionContext): Endpoint {
      const parsed = restConfigSchema.safeParse(connection.config);
      if (!parsed.success)
        throw new ProviderError('config', `rest: invalid connection config: ${parsed.error.message}`);
      return new RestEndpoint(parsed.data, connection.credentials, { ...options, fetch: fetchFn });
    },
  };
  providerFetches.set(definition, fetchFn);
  return definition;
}

class RestEndpoint implements Endpoint {
  private readonly http: HttpClient;
  private readonly authHeaders: Record<string, string> = {};
  private readonly authQuery: Record<string, string> = {};
  /** The HTTP client's retry policy, also used for creates that look up before each try. */
  private readonly retry: TransientRetryPolicy;

  constructor(
    private readonly config: RestConfig,
    credentials: Record<string, string>,
    options: { retry?: TransientRetryPolicy; fetch?: typeof fetch },
  ) {
    const need = (key: string) => {
      const v = credentials[key];
      if (!v) throw new ProviderError('config', `rest: credentials.${key} is required for ${config.auth.type} auth`);
      return v;
    };
    const auth = config.auth;
    if (auth.type === 'bearer') this.authHeaders.authorization = `Bearer ${need('token')}`;
    else if (auth.type === 'basic') {
      this.authHeaders.authorization = `Basic ${Buffer.from(`${need('username')}:${need('password')}`).toString('base64')}`;
    } else if (auth.type === 'header') this.authHeaders[auth.name.toLowerCase()] = need('apiKey');
    else if (auth.type === 'query') this.authQuery[auth.name] = need('apiKey');
    this.retry = options.retry ?? DEFAULT_TRANSIENT_RETRY;
    this.http = new HttpClient({
      provider: 'rest',
      ...(config.timeoutMs ? { timeoutMs: config.timeoutMs } : {}),
      ...(options.retry ? { retry: options.retry } : {}),
      ...(options.fetch ? { fetch: options.fetch } : {}),
      ...(config.rateLimit
        ? { limiter: new RateLimiter(config.rateLimit.requests, config.rateLimit.perSeconds * 1000) }
        : {}),
    });
  }

  private entity(entityType: string): EntityConfig {
    const e = this.config.entities[entityType];
    if (!e) throw new ProviderError('config', `rest: the connection declares no entity type "${entityType}"`);
    return e;
  }

  /** Only with an idempotency header on create, or lookup-before-create (see Endpoint.dedupesCreates). */
  dedupesCreates(entityType: string): boolean {
    const e = this.config.entities[entityType];
    return e?.create?.idempotencyHeader !== undefined || e?.lookup !== undefined;
  }

  private url(pathOrUrl: string, query: Record<string, string> = {}): string {
    const u = /^https?:\/\//.test(pathOrUrl)
      ? new URL(pathOrUrl)
      : new URL(this.config.baseUrl.replace(/\/$/, '') + pathOrUrl);
    // A next-page link (Link header, stored cursor) goes to the API's own origin only: the credentials go with it.
    if (u.origin !== new URL(this.config.baseUrl).origin) {
      throw new ProviderError(
        'config',
        `rest: the next-page link points to another origin (${u.origin}); not followed`,
      );
    }
    for (const [k, v] of Object.entries({ ...query, ...this.authQuery })) u.searchParams.set(k, v);
    return u.toString();
  }

  private toRecord(e: EntityConfig, raw: unknown): EndpointRecord {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      throw new ProviderError('record', 'rest: a record in the response is not an object');
    }
    const id = atPath(raw, e.idField);
    if (typeof id !== 'string' && typeof id !== 'number') {
      throw new ProviderError('record', `rest: a record has no ${e.idField}`);
    }
    const problem = e.fields ? shapeProblem(raw, e.fields) : null;
    if (problem)
      return malformedRecord(String(id), new ProviderError('record', `rest: record ${id} is malformed: ${problem}`));
    const updated = e.updatedAtField ? atPath(raw, e.updatedAtField) : undefined;
    return {
      id: String(id),
      data: raw as Record<string, unknown>,
      updatedAt:
        typeof updated === 'number'
          ? new Date(updated * (updated < 1e12 ? 1000 : 1)).toISOString()
          : typeof updated === 'string'
            ? updated
            : null,
    };
  }

  async readPage(req: ReadPageRequest): Promise<ReadPage> {
    const e = this.entity(req.entityType);
    const p = e.pagination;
    const query: Record<string, string> = {};
    if (req.since && e.incremental) {
      query[e.incremental.param] =
        e.incremental.format === 'unix' ? String(Math.floor(req.since.getTime() / 1000)) : req.since.toISOString();
    }
    let target: string = e.listPath;
    if (p.style === 'link' && req.cursor !== null) target = req.cursor;
    else {
      if ('limitParam' in p && p.limitParam) query[p.limitParam] = String(req.pageSize);
      if (p.style === 'cursor' && req.cursor !== null) query[p.cursorParam] = req.cursor;
      if (p.style === 'offset') query[p.offsetParam] = req.cursor ?? '0';
      if (p.style === 'page') query[p.pageParam] = req.cursor ?? String(p.firstPage);
    }
    const res = await this.http.request({
      url: this.url(target, query),
      headers: this.authHeaders,
      signal: req.signal,
    });
    const list = atPath(res.body, e.recordsPath);
    if (!Array.isArray(list)) {
      throw new ProviderError('config', `rest: ${e.listPath} did not return a list at "${e.recordsPath || '(body)'}"`);
    }
    // One malformed record must not sink its page: it is skipped here and reported through fetch/write paths.
    const records: EndpointRecord[] = [];
    let incomplete = false;
    for (const raw of list) {
      try {
        records.push(this.toRecord(e, raw));
      } catch {
        // A record without an id cannot be synced or even named; it is left out, and the page says so (a run
        // that missed a record must not take it for deleted).
        incomplete = true;
      }
    }
    let next: string | null = null;
    switch (p.style) {
      case 'cursor':
        if (p.cursorField !== undefined) {
          // After the last record: more pages when the response says so, or (without hasMorePath) when full.
          const more =
            p.hasMorePath !== undefined ? atPath(res.body, p.hasMorePath) === true : list.length >= req.pageSize;
          next = more && list.length > 0 ? nextCursor(atPath(list.at(-1), p.cursorField)) : null;
        } else next = nextCursor(atPath(res.body, p.cursorPath ?? ''));
        break;
      case 'offset': {
        const total = p.totalPath ? Number(atPath(res.body, p.totalPath)) : undefined;
        next = nextOffset(
          Number(req.cursor ?? '0'),
          req.pageSize,
          list.length,
          Number.isFinite(total) ? total : undefined,
        );
        break;
      }
      case 'page': {
        const pages = p.totalPagesPath ? Number(atPath(res.body, p.totalPagesPath)) : undefined;
        next = nextPageNumber(
          Number(req.cursor ?? p.firstPage),
          req.pageSize,
          list.length,
          Number.isFinite(pages) ? pages : undefined,
        );
        break;
      }
      case 'link': {
        const link = nextLinkFromHeader(res.headers.get('link'));
        // Keep the auth query parameter out of checkpoints: strip it from the stored URL.
        next = link === null ? null : stripQuery(link, Object.keys(this.authQuery));
        break;
      }
    }
    return { records, nextCursor: next, ...(incomplete ? { incomplete: true as const } : {}) };
  }

  async fetch(req: FetchRequest): Promise<EndpointRecord[]> {
    const e = this.entity(req.entityType);
    if (!e.getPath) throw new ProviderError('config', `rest: entity "${req.entityType}" has no getPath`);
    const out: EndpointRecord[] = [];
    for (const id of req.ids) {
      try {
        const res = await this.http.request({
          url: this.url(e.getPath.replace('{id}', encodeURIComponent(id))),
          headers: this.authHeaders,
          signal: req.signal,
        });
        out.push(this.toRecord(e, res.body));
      } catch (err) {
        if (err instanceof ProviderError && err.status === 404) continue;
        throw err;
      }
    }
    return out;
  }

  /**
   * One request per op, in order. Keeps the engine's write contract (see Endpoint.write): a fault that is not a
   * record's (transient after the HTTP client's retries, auth, config) throws only while nothing of the call was
   * applied; after that it is op k's result, and the ops after k are not attempted and get a failure of the same
   * kind, so that the engine sends again only what did not succeed (a provider without idempotency keys would
   * otherwise create the batch's first records twice).
   */
  async write(req: WriteRequest): Promise<WriteResult[]> {
    const e = this.entity(req.entityType);
    const results: WriteResult[] = [];
    let applied = false;
    for (const [k, op] of req.ops.entries()) {
      if (op.action === 'delete' && !e.delete) {
        // Nothing is sent: this op alone fails (the others of the batch are still written).
        results.push({
          ok: false,
          error: new ProviderError(
            'config',
            `rest: entity "${req.entityType}" has no delete request (delete): add {"delete": {"path": "…/{id}"}} to its config to propagate deletions`,
          ),
        });
        continue;
      }
      try {
        results.push(await this.writeOne(req.entityType, e, op, req.signal));
        applied = true;
      } catch (err) {
        if (req.signal.aborted) throw err;
        if (!(err instanceof ProviderError) || err.kind === 'record') {
          results.push({ ok: false, error: err });
          continue;
        }
        if (!applied) throw err;
        const skipped = new ProviderError(
          err.kind,
          `rest: not attempted: an earlier write in this batch failed${err.kind === 'transient' ? ' transiently' : ''} (${err.message})`,
          { cause: err, ...(err.retryAfterMs !== undefined ? { retryAfterMs: err.retryAfterMs } : {}) },
        );
        results.push({ ok: false, error: err });
        for (let j = k + 1; j < req.ops.length; j++) results.push({ ok: false, error: skipped });
        return results;
      }
    }
    return results;
  }

  /** One op; throws on failure (record failures included). */
  private async writeOne(entityType: string, e: EntityConfig, op: WriteOp, signal: AbortSignal): Promise<WriteResult> {
    if (op.action === 'delete') {
      if (op.targetId === null) throw new ProviderError('record', 'rest: a delete without a target id');
      return this.remove(e, op.targetId, signal);
    }
    if (op.action === 'update') {
      if (op.targetId === null) throw new ProviderError('record', 'rest: an update without a target id');
      return this.update(entityType, e, op.targetId, op.data, signal);
    }
    const create = e.create;
    if (!create) throw new ProviderError('config', `rest: entity "${entityType}" has no create request`);
    const lookup = e.lookup;
    if (!lookup) return this.create(create, op.data, op.idempotencyKey, signal, true);
    // A create whose answer was lost may have been applied: every try looks the record up first.
    const data = withValueAt(op.data, lookup.field, op.sourceId);
    for (let attempt = 1; ; attempt++) {
      const existing = await this.lookupExisting(e, lookup, op.sourceId, signal);
      if (existing !== null) {
        return e.update ? this.update(entityType, e, existing, op.data, signal) : { ok: true, id: existing };
      }
      try {
        return await this.create(create, data, op.idempotencyKey, signal, false);
      } catch (err) {
        if (!(err instanceof ProviderError) || err.kind !== 'transient' || attempt >= this.retry.attempts) throw err;
        if (signal.aborted) throw signal.reason;
        await waitToRetry('rest', this.retry, attempt, err, signal);
      }
    }
  }

  private async create(
    create: NonNullable<EntityConfig['create']>,
    data: Record<string, unknown>,
    idempotencyKey: string,
    signal: AbortSignal,
    retry: boolean,
  ): Promise<WriteResult> {
    const res = await this.http.request({
      method: create.method,
      url: this.url(create.path),
      headers: {
        ...this.authHeaders,
        ...(create.idempotencyHeader ? { [create.idempotencyHeader]: idempotencyKey } : {}),
      },
      body: data,
      signal,
      retry,
    });
    const id = atPath(res.body, create.idPath);
    if (typeof id !== 'string' && typeof id !== 'number') {
      throw new ProviderError('record', `rest: create answered without an id at "${create.idPath}"`);
    }
    return { ok: true, id: String(id) };
  }

  private async update(
    entityType: string,
    e: EntityConfig,
    id: string,
    data: Record<string, unknown>,
    signal: AbortSignal,
  ): Promise<WriteResult> {
    if (!e.update) throw new ProviderError('config', `rest: entity "${entityType}" has no update request`);
    await this.http.request({
      method: e.update.method,
      url: this.url(e.update.path.replace('{id}', encodeURIComponent(id))),
      headers: this.authHeaders,
      body: data,
      signal,
    });
    return { ok: true, id };
  }

  /**
   * The entity's delete request (soft and hard deletes alike: what a delete means is the API's, e.g. a PATCH that
   * marks the record). 404 and 410 answer a record that is already gone: deleting it again is a success.
   */
  private async remove(e: EntityConfig, id: string, signal: AbortSignal): Promise<WriteResult> {
    const d = e.delete!;
    try {
      await this.http.request({
        method: d.method,
        url: this.url(d.path.replace('{id}', encodeURIComponent(id))),
        headers: this.authHeaders,
        ...(d.body !== undefined ? { body: d.body } : {}),
        signal,
      });
    } catch (err) {
      if (!(err instanceof ProviderError) || (err.status !== 404 && err.status !== 410)) throw err;
    }
    return { ok: true, id };
  }

  /** The id of the record whose lookup field holds `sourceId`, read through the list path's filter; null if none. */
  private async lookupExisting(
    e: EntityConfig,
    lookup: NonNullable<EntityConfig['lookup']>,
    sourceId: string,
    signal: AbortSignal,
  ): Promise<string | null> {
    const res = await this.http.request({
      url: this.url(e.listPath, { [lookup.param ?? lookup.field]: sourceId }),
      headers: this.authHeaders,
      signal,
    });
    const list = atPath(res.body, e.recordsPath);
    if (!Array.isArray(list)) {
      throw new ProviderError(
        'config',
        `rest: the lookup on ${e.listPath} did not return a list at "${e.recordsPath || '(body)'}"`,
      );
    }
    for (const raw of list) {
      const value = atPath(raw, lookup.field);
      const id = atPath(raw, e.idField);
      if ((typeof value === 'string' || typeof value === 'number') && String(value) === sourceId) {
        if (typeof id === 'string' || typeof id === 'number') return String(id);
      }
    }
    return null;
  }
}

/** A copy of `data` with `value` at the dot path `path` (objects on the way copied, missing ones made). */
function withValueAt(data: Record<string, unknown>, path: string, value: unknown): Record<string, unknown> {
  const [head, ...rest] = path.split('.') as [string, ...string[]];
  if (rest.length === 0) return { ...data, [head]: value };
  const inner = data[head];
  const obj =
    typeof inner === 'object' && inner !== null && !Array.isArray(inner) ? (inner as Record<string, unknown>) : {};
  return { ...data, [head]: withValueAt(obj, rest.join('.'), value) };
}

function shapeProblem(
  raw: object,
  fields: readonly { name: string; type: (typeof fieldTypes)[number]; required: boolean }[],
): string | null {
  for (const f of fields) {
    const v = atPath(raw, f.name);
    if (v === undefined || v === null) {
      if (f.required) return `${f.name} is missing`;
      continue;
    }
    const ok =
      f.type === 'array'
        ? Array.isArray(v)
        : f.type === 'object'
          ? typeof v === 'object' && !Array.isArray(v)
          : f.type === 'datetime'
            ? (typeof v === 'string' && !Number.isNaN(Date.parse(v))) || typeof v === 'number'
            : typeof v === f.type;
    if (!ok) return `${f.name} is not ${f.type === 'array' || f.type === 'object' ? 'an' : 'a'} ${f.type}`;
  }
  return null;
}

const REST_INFO: ProviderInfo = {
  displayName: 'REST API',
  description:
    'Any JSON REST API, described as data: base URL, auth, and per entity type the list path, where records sit, id and updated-at fields, pagination style, incremental parameter, get/create/update/delete requests. Entity types are the ones the connection declares.',
  config: [
    {
      name: 'baseUrl',
      label: 'Base URL',
      type: 'url',
      required: true,
      secret: false,
      credentialTarget: true,
      placeholder: 'https://api.example.com/v1',
    },
    {
      name: 'auth',
      label: 'Authentication',
      type: 'json',
      required: false,
      secret: false,
      placeholder: '{"type": "bearer"}',
      help: 'none | bearer (credential token) | basic (username, password) | header or query with a name (credential apiKey).',
    },
    {
      name: 'rateLimit',
      label: 'Rate limit',
      type: 'json',
      required: false,
      secret: false,
      placeholder: '{"requests": 10, "perSeconds": 1}',
    },
    TIMEOUT_SETTING,
    {
      name: 'entities',
      label: 'Entity types',
      type: 'json',
      required: true,
      secret: false,
      placeholder:
        '{"customer": {"listPath": "/customers", "recordsPath": "data", "pagination": {"style": "cursor", "cursorParam": "after", "cursorPath": "next"}}}',
      help: 'Per entity type: listPath, recordsPath, idField, updatedAtField, pagination (cursor: the next cursor at cursorPath in the answer, or after the last record\'s cursorField while hasMorePath is true; offset, page, link), incremental, getPath, create, update, delete ({"method": "DELETE", "path": "/customers/{id}"}; a 404 or 410 answer counts as deleted), fields, lookup. Without an idempotency header on create, set lookup {"field": "external_id", "param": "external_id"}: creates set that field to the source record\'s id, and each create first reads listPath?param=<source id> and updates the record it finds instead.',
    },
  ],
  credentials: [
    { name: 'token', label: 'Bearer token', type: 'string', required: false, secret: true, help: 'For bearer auth.' },
    { name: 'username', label: 'Username', type: 'string', required: false, secret: true, help: 'For basic auth.' },
    { name: 'password', label: 'Password', type: 'string', required: false, secret: true, help: 'For basic auth.' },
    {
      name: 'apiKey',
      label: 'API key',
      type: 'string',
      required: false,
      secret: true,
      help: 'For header or query auth.',
    },
  ],
  // Declared per connection (see entityTypesFor and the entities setting).
  entityTypes: [],
};

/** The info of one connection's entity types, from its config (fields when the config lists them). */
export function restEntityTypeInfo(config: Record<string, unknown>): EntityTypeInfo[] {
  const parsed = restConfigSchema.safeParse(config);
  if (!parsed.success) return [];
  return Object.entries(parsed.data.entities).map(([name, e]) => ({
    name,
    label: name,
    fields: (e.fields ?? []).map((f) => ({ name: f.name, type: f.type })),
    supports: {
      inbound: true,
      outbound: e.create !== undefined || e.update !== undefined,
      incremental: e.incremental !== undefined,
      webhooks: false,
      deletes: e.delete !== undefined,
    },
  }));
}

function stripQuery(url: string, names: string[]): string {
  if (names.length === 0) return url;
  const u = new URL(url);
  for (const n of names) u.searchParams.delete(n);
  return u.toString();
}
