import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DailyCounter, RollingWindow } from './rate-limit.ts';
import {
  HUBSPOT_OBJECT_TYPES,
  type HubSpotObjectType,
  issuesMessage,
  OBJECT_TYPE_IDS,
  type ObjectSchema,
  type PropertyDefinition,
  type PropertyIssue,
  validateProperties,
} from './schema.ts';
import { DEFAULT_SEARCH_LIMITS, runSearch, type SearchBody, type SearchLimits } from './search.ts';
import {
  createRng,
  fullObject,
  type HubSpotObject,
  type ObjectCollection,
  type RecordVersion,
  renderObject,
  SandboxStore,
} from './store.ts';
import { deliverWebhook, type HubSpotWebhookEvent, type WebhookDelivery } from './webhooks.ts';

export type { HubSpotObjectType, PropertyDefinition } from './schema.ts';
export type { SearchLimits } from './search.ts';
export type { HubSpotObject } from './store.ts';
export { type HubSpotWebhookEvent, signHubSpotV3, verifyHubSpotV3, type WebhookDelivery } from './webhooks.ts';

/** Faults, read on every request: tests change them on `sandbox.faults` while the server runs. */
export interface HubSpotFaults {
  /** 429 TEN_SECONDLY_ROLLING: for the next `nextN` requests, then for a `share` (0–1) of requests. */
  rateLimit?: { share?: number; nextN?: number };
  /**
   * 5xx (default 503) for the next `nextN` requests, then for a `share` of requests. With `afterWrite`, only
   * writes (create, update, archive, batch create/update/upsert/archive) are hit, after they were applied: the
   * write happened, its response was lost.
   */
  serverErrors?: { share?: number; nextN?: number; status?: 502 | 503 | 504; afterWrite?: boolean };
  /** Added to every request (real time, not the injected clock). */
  latencyMs?: number;
  /** These records come back with `properties: null` from list, read, batch read and search. */
  malformed?: { ids?: string[] };
  /**
   * While a list is paged: each page served updates its first record (bumping last-modified), and the
   * first page of each listing creates a record (which the same listing then reaches at its end).
   */
  mutateDuringList?: boolean;
}

/** Settings that tests may change while the server runs. */
export interface HubSpotSandboxConfig {
  /** Requests per rolling window per token. Default: 190 (Professional/Enterprise private apps). */
  rateLimitMax: number;
  /** Default: 10,000 ms. */
  rateLimitIntervalMs: number;
  /** Search requests per second per token. Default: 5. */
  searchPerSecond: number;
  /** Requests per day per token. Default: 500,000. */
  dailyLimit: number;
  /**
   * Send `Retry-After` (seconds) on rate-limit 429s. HubSpot documents the 429 body (policyName) and the
   * X-HubSpot-RateLimit-* headers, not Retry-After, so the default is false.
   */
  sendRetryAfter: boolean;
  /** A write becomes visible to search this long after it happened. Default: 0. */
  searchDelayMs: number;
  searchLimits: SearchLimits;
  /**
   * When batch create reports per-input failures with 207. HubSpot: only when every input carries an
   * `objectWriteTraceId` ('traceId', the default); otherwise one bad input rejects the whole batch (400,
   * or 409 for a duplicate), and nothing is created. 'always': 207 regardless.
   */
  batchCreateMultiStatus: 'traceId' | 'always';
}

export interface HubSpotSandboxOptions {
  /** 0 (default): a random free port. */
  port?: number;
  /** Default: 127.0.0.1. */
  host?: string;
  /** Accepted bearer token(s). Default: 'pat-sandbox'. Rate limits are counted per token. */
  accessToken?: string | string[];
  /** Signs webhooks (`sendWebhook`, `webhookUrl`). */
  appSecret?: string;
  /**
   * Receives every record change as it happens, like an app's webhook subscriptions: `<object>.creation`,
   * `<object>.propertyChange` (one event per changed property, with its new value), `<object>.deletion` (archived)
   * and `<object>.restore`, for API writes and `store` writes alike; signed (v3) with `appSecret`; the events of
   * one tick go out together, at most 100 a request. Needs `appSecret`.
   */
  webhookUrl?: string;
  /** Default: 1234567. */
  portalId?: number;
  /** Default: 100001. */
  appId?: number;
  /** Seeded record counts (deterministic for a given `seed`). */
  records?: Partial<Record<HubSpotObjectType, number>>;
  /** Seeds the records and the fault draws. Default: 42. */
  seed?: number;
  /** Creation time of the first seeded record. Default: 2024-01-01T00:00:00Z. */
  seedEpoch?: number;
  /** Extra properties per type (HubSpot custom properties). */
  customProperties?: Partial<Record<HubSpotObjectType, Record<string, PropertyDefinition>>>;
  faults?: HubSpotFaults;
  /** Injectable clock (ms): record timestamps, rate-limit windows, search delay. Default: Date.now. */
  now?: () => number;
  searchDelayMs?: number;
  rateLimit?: { max?: number; intervalMs?: number; searchPerSecond?: number; daily?: number; retryAfter?: boolean };
  searchLimits?: Partial<SearchLimits>;
  batchCreateMultiStatus?: 'traceId' | 'always';
}

/** Direct access to the records, for tests (no HTTP, no rate limits, no faults). */
export interface HubSpotSandboxStore {
  get(type: HubSpotObjectType, id: string): HubSpotObject | undefined;
  /** All records in id order (archived ones only with `archived: true`). */
  list(type: HubSpotObjectType, options?: { archived?: boolean }): HubSpotObject[];
  count(type: HubSpotObjectType): number;
  /** Creates a record (validated like the API unless `validate: false`). */
  put(
    type: HubSpotObjectType,
    properties: Record<string, string | number | null>,
    options?: { id?: string; createdAt?: number; validate?: boolean },
  ): HubSpotObject;
  /** Merges properties and bumps the last-modified time to `now()`. */
  update(type: HubSpotObjectType, id: string, properties: Record<string, string | number | null>): HubSpotObject;
  /** Archives a record (a `<object>.deletion` change). */
  archive(type: HubSpotObjectType, id: string): void;
  /** Restores an archived record (a `<object>.restore` change); throws when it is not archived. */
  restore(type: HubSpotObjectType, id: string): HubSpotObject;
}

export interface HubSpotRequestStats {
  total: number;
  byStatus: Record<number, number>;
  /** e.g. 'list', 'read', 'search', 'batch/create'. */
  byOperation: Record<string, number>;
}

export interface HubSpotSandbox {
  url: string;
  port: number;
  close(): Promise<void>;
  faults: HubSpotFaults;
  config: HubSpotSandboxConfig;
  store: HubSpotSandboxStore;
  requests: HubSpotRequestStats;
  /**
   * Posts webhook events to `url`, signed with `appSecret`, in arrays of at most 100. Missing fields get
   * defaults: a fresh eventId, this portal and app, occurredAt = now(), subscriptionType
   * 'contact.propertyChange', attemptNumber 0.
   */
  sendWebhook(
    url: string,
    events: (Partial<HubSpotWebhookEvent> & { objectId: number | string })[],
  ): Promise<WebhookDelivery[]>;
  /** Outcomes of the automatic deliveries to `webhookUrl`, in completion order (status 0: not delivered). */
  readonly webhookDeliveries: WebhookDelivery[];
  /** Waits until the automatic deliveries of the changes made so far have finished. */
  flushWebhooks(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
  ) {
    super(String(body.message));
  }
}

const JSON_TYPE = 'application/json;charset=utf-8';
const WRITE_OPS = new Set([
  'create',
  'update',
  'archive',
  'batch/create',
  'batch/update',
  'batch/upsert',
  'batch/archive',
]);
/** Webhook subscription object names per object type. */
const SUBSCRIPTION_OBJECT: Record<HubSpotObjectType, string> = {
  contacts: 'contact',
  companies: 'company',
  deals: 'deal',
};
const MAX_BODY = 10 * 1024 * 1024;

/**
 * Starts a HubSpot CRM v3-compatible server for tests, benchmarks and the demo. Point the official SDK
 * at it with `new Client({ accessToken: 'pat-sandbox', basePath: sandbox.url, numberOfApiCallRetries: 0 })`.
 *
 * @example
 * const sandbox = await startHubSpotSandbox({ records: { contacts: 250 } });
 * const client = new Client({ accessToken: 'pat-sandbox', basePath: sandbox.url });
 * const page = await client.crm.contacts.basicApi.getPage(100);
 * await sandbox.close();
 */
export async function startHubSpotSandbox(options: HubSpotSandboxOptions = {}): Promise<HubSpotSandbox> {
  const now = options.now ?? Date.now;
  const tokens = new Set(
    Array.isArray(options.accessToken) ? options.accessToken : [options.accessToken ?? 'pat-sandbox'],
  );
  const portalId = options.portalId ?? 1234567;
  const appId = options.appId ?? 100001;
  const faults: HubSpotFaults = options.faults ?? {};
  const config: HubSpotSandboxConfig = {
    rateLimitMax: options.rateLimit?.max ?? 190,
    rateLimitIntervalMs: options.rateLimit?.intervalMs ?? 10_000,
    searchPerSecond: options.rateLimit?.searchPerSecond ?? 5,
    dailyLimit: options.rateLimit?.daily ?? 500_000,
    sendRetryAfter: options.rateLimit?.retryAfter ?? false,
    searchDelayMs: options.searchDelayMs ?? 0,
    searchLimits: { ...DEFAULT_SEARCH_LIMITS, ...options.searchLimits },
    batchCreateMultiStatus: options.batchCreateMultiStatus ?? 'traceId',
  };
  const requests: HubSpotRequestStats = { total: 0, byStatus: {}, byOperation: {} };
  const store = new SandboxStore({
    records: options.records,
    seed: options.seed,
    seedEpoch: options.seedEpoch,
    customProperties: options.customProperties,
  });
  const rng = createRng((options.seed ?? 42) ^ 0x5eed);
  const window = new RollingWindow(
    () => config.rateLimitMax,
    () => config.rateLimitIntervalMs,
  );
  const searchWindow = new RollingWindow(
    () => config.searchPerSecond,
    () => 1_000,
  );
  const daily = new DailyCounter(() => config.dailyLimit);
  let mutationSeq = 0;
  let eventSeq = 1;
  if (options.webhookUrl !== undefined && !options.appSecret) {
    throw new Error('startHubSpotSandbox: webhookUrl needs the appSecret option');
  }
  const subscriptionIds = new Map<string, number>();
  const fullEvent = (
    e: Omit<Partial<HubSpotWebhookEvent>, 'objectId'> & { objectId: number | string },
  ): HubSpotWebhookEvent => {
    const subscriptionType = e.subscriptionType ?? 'contact.propertyChange';
    let subscriptionId = subscriptionIds.get(subscriptionType);
    if (subscriptionId === undefined) {
      subscriptionId = subscriptionIds.size + 1;
      subscriptionIds.set(subscriptionType, subscriptionId);
    }
    return {
      eventId: eventSeq++,
      subscriptionId,
      portalId,
      appId,
      occurredAt: now(),
      subscriptionType,
      attemptNumber: 0,
      changeSource: 'CRM',
      ...e,
      objectId: Number(e.objectId),
    };
  };
  // Automatic webhooks: the changes of one tick are delivered together.
  const webhookDeliveries: WebhookDelivery[] = [];
  let webhookQueue: HubSpotWebhookEvent[] = [];
  let webhookTick: Promise<void> | null = null;
  const webhooksInFlight = new Set<Promise<void>>();
  const enqueueWebhook = (event: HubSpotWebhookEvent) => {
    webhookQueue.push(event);
    if (webhookTick) return;
    webhookTick = new Promise<void>((resolve) =>
      setImmediate(() => {
        webhookTick = null;
        const batch = webhookQueue;
        webhookQueue = [];
        const delivery: Promise<void> = deliverWebhook(options.webhookUrl!, batch, options.appSecret!, now)
          .then(
            (outcomes) => {
              webhookDeliveries.push(...outcomes);
            },
            (err: Error) => {
              webhookDeliveries.push({ status: 0, body: String(err?.message ?? err), events: batch.length });
            },
          )
          .finally(() => webhooksInFlight.delete(delivery));
        webhooksInFlight.add(delivery);
        resolve();
      }),
    );
  };
  if (options.webhookUrl !== undefined) {
    store.onChange((c) => {
      const object = SUBSCRIPTION_OBJECT[c.type];
      const base = { objectId: c.version.num, occurredAt: c.at };
      if (c.change !== 'propertyChange') {
        enqueueWebhook(fullEvent({ ...base, subscriptionType: `${object}.${c.change}` }));
        return;
      }
      for (const name of c.properties ?? []) {
        enqueueWebhook(
          fullEvent({
            ...base,
            subscriptionType: `${object}.propertyChange`,
            propertyName: name,
            propertyValue: c.version.properties[name] ?? '',
          }),
        );
      }
    });
  }

  const fire = (fault: { share?: number; nextN?: number } | undefined): boolean => {
    if (!fault) return false;
    if (fault.nextN && fault.nextN > 0) {
      fault.nextN--;
      return true;
    }
    return (fault.share ?? 0) > 0 && rng() < (fault.share ?? 0);
  };
  const isMalformed = (id: string) => faults.malformed?.ids?.includes(id) ?? false;

  function handleObjects(
    method: string,
    url: URL,
    rest: string[],
    type: HubSpotObjectType,
    body: unknown,
    origin: string,
  ): { op: string; status: number; body?: unknown } {
    const collection = store.collections[type];
    const schema = collection.schema;
    const render = (v: RecordVersion, select: readonly string[] | null) =>
      renderObject(schema, v, select, isMalformed(v.id));
    const [first, second] = rest;
    if (first === undefined) {
      if (method === 'GET') return { op: 'list', ...listObjects(url, type, collection, render, origin) };
      if (method === 'POST') return { op: 'create', ...createOne(type, collection, body) };
    } else if (first === 'search' && rest.length === 1) {
      if (method === 'POST') return { op: 'search', ...search(collection, body, render) };
    } else if (first === 'batch' && rest.length === 2) {
      if (method === 'POST') {
        const op = `batch/${second}`;
        const inputs = batchInputs(body);
        switch (second) {
          case 'read':
            return { op, ...batchRead(url, collection, body as Record<string, unknown>, inputs, render) };
          case 'create':
            return { op, ...batchCreate(type, collection, inputs) };
          case 'update':
            return { op, ...batchUpdate(type, collection, inputs) };
          case 'upsert':
            return { op, ...batchUpsert(type, collection, inputs) };
          case 'archive':
            return { op, ...batchArchive(type, collection, inputs) };
        }
      }
    } else if (rest.length === 1) {
      const id = decodeURIComponent(first);
      const idProperty = url.searchParams.get('idProperty') ?? undefined;
      if (idProperty && idProperty !== 'hs_object_id' && !collection.isUnique(idProperty)) {
        throw new HttpError(400, errorBody(`${idProperty} is not a unique property`, 'VALIDATION_ERROR'));
      }
      if (method === 'GET') {
        const archived = url.searchParams.get('archived') === 'true';
        const v = collection.resolve(id, idProperty);
        if (!v || v.archived !== archived) throw notFound(id);
        return { op: 'read', status: 200, body: render(v, selectFromQuery(url)) };
      }
      if (method === 'PATCH') {
        const v = collection.resolve(id, idProperty);
        if (!v || v.archived) throw notFound(id);
        const props = (body as { properties?: unknown } | null)?.properties;
        const { values, issues } = validateProperties(schema, props);
        if (issues.length > 0) throw new HttpError(400, validationBody(issues));
        const conflict = findConflict(collection, values, v.id, new Map());
        if (conflict) throw new HttpError(409, errorBody(conflictMessage(schema, conflict), 'CONFLICT'));
        const updated = store.update(type, v, values, now());
        return { op: 'update', status: 200, body: render(updated, Object.keys(values)) };
      }
      if (method === 'DELETE') {
        const v = collection.get(id);
        if (v && !v.archived) store.archive(type, v, now());
        return { op: 'archive', status: 204 };
      }
    }
    throw new HttpError(405, errorBody(`${method} is not supported on ${url.pathname}`, 'VALIDATION_ERROR'));
  }

  function listObjects(
    url: URL,
    type: HubSpotObjectType,
    collection: ObjectCollection,
    render: (v: RecordVersion, select: readonly string[] | null) => unknown,
    origin: string,
  ): { status: number; body: unknown } {
    const limitRaw = url.searchParams.get('limit');
    const requested = limitRaw === null || limitRaw === '' ? 10 : Number(limitRaw);
    if (!Number.isInteger(requested) || requested < 1) {
      throw new HttpError(400, errorBody(`limit must be a positive integer, got "${limitRaw}"`, 'VALIDATION_ERROR'));
    }
    // HubSpot caps list pages at 100 without complaint.
    const limit = Math.min(requested, 100);
    const after = url.searchParams.get('after');
    if (after !== null && after !== '' && !/^\d+$/.test(after)) {
      throw new HttpError(400, errorBody(`Invalid after value "${after}".`, 'VALIDATION_ERROR'));
    }
    const archived = url.searchParams.get('archived') === 'true';
    const select = selectFromQuery(url);
    const { items, next } = collection.page(after ? Number(after) : 0, limit, archived);
    const results = items.map((v) => render(v, select));
    if (faults.mutateDuringList && !archived) mutateDuringList(type, collection, items, !after);
    const out: Record<string, unknown> = { results };
    if (next !== null) {
      const link = new URL(url.pathname, origin);
      for (const [k, v] of url.searchParams) if (k !== 'after') link.searchParams.append(k, v);
      link.searchParams.set('after', String(next));
      out.paging = { next: { after: String(next), link: link.toString() } };
    }
    return { status: 200, body: out };
  }

  function mutateDuringList(
    type: HubSpotObjectType,
    collection: ObjectCollection,
    served: RecordVersion[],
    firstPage: boolean,
  ) {
    const field = type === 'contacts' ? 'firstname' : type === 'companies' ? 'name' : 'dealname';
    const seq = ++mutationSeq;
    const first = served[0];
    if (first) {
      const current = collection.get(first.id);
      if (current && !current.archived) store.update(type, current, { [field]: `Mutated ${seq}` }, now());
    }
    if (firstPage) {
      const values: Record<string, string> =
        type === 'contacts'
          ? { email: `mid-list-${seq}@example.com`, firstname: 'Mid', lastname: `List ${seq}` }
          : { [field]: `Mid-list ${seq}` };
      store.create(type, values, now());
    }
  }

  function createOne(type: HubSpotObjectType, collection: ObjectCollection, body: unknown) {
    const props = (body as { properties?: unknown } | null)?.properties;
    const { values, issues } = validateProperties(collection.schema, props);
    if (issues.length > 0) throw new HttpError(400, validationBody(issues));
    const conflict = findConflict(collection, values, undefined, new Map());
    if (conflict) throw new HttpError(409, errorBody(conflictMessage(collection.schema, conflict), 'CONFLICT'));
    const v = store.create(type, values, now());
    return { status: 201, body: renderObject(collection.schema, v, Object.keys(values)) };
  }

  function search(
    collection: ObjectCollection,
    body: unknown,
    render: (v: RecordVersion, select: readonly string[] | null) => unknown,
  ) {
    collection.drain(now(), config.searchDelayMs);
    const result = runSearch(collection, (body ?? {}) as SearchBody, config.searchLimits);
    if (!result.ok) throw new HttpError(400, errorBody(result.message, 'VALIDATION_ERROR'));
    const out: Record<string, unknown> = {
      total: result.total,
      results: result.results.map((v) => render(v, result.select)),
    };
    if (result.nextAfter !== null) out.paging = { next: { after: result.nextAfter } };
    return { status: 200, body: out };
  }

  function batchInputs(body: unknown): Record<string, unknown>[] {
    const inputs = (body as { inputs?: unknown } | null)?.inputs;
    if (!Array.isArray(inputs)) throw new HttpError(400, errorBody('inputs must be an array', 'VALIDATION_ERROR'));
    if (inputs.length > 100) {
      throw new HttpError(
        400,
        errorBody(`Batch input contains ${inputs.length} inputs; the limit is 100.`, 'VALIDATION_ERROR', {
          context: { limit: ['100'], inputs: [String(inputs.length)] },
        }),
      );
    }
    return inputs.map((i) => (i && typeof i === 'object' ? (i as Record<string, unknown>) : {}));
  }

  function batchEnvelope(startedAt: number, results: unknown[], errors: unknown[]) {
    const out: Record<string, unknown> = {
      status: 'COMPLETE',
      results,
      startedAt: new Date(startedAt).toISOString(),
      completedAt: new Date(now()).toISOString(),
    };
    if (errors.length > 0) {
      out.numErrors = errors.length;
      out.errors = errors;
    }
    return out;
  }

  function batchRead(
    url: URL,
    collection: ObjectCollection,
    body: Record<string, unknown>,
    inputs: Record<string, unknown>[],
    render: (v: RecordVersion, select: readonly string[] | null) => unknown,
  ) {
    const started = now();
    const idProperty = typeof body.idProperty === 'string' ? body.idProperty : undefined;
    if (idProperty && idProperty !== 'hs_object_id' && !collection.isUnique(idProperty)) {
      throw new HttpError(400, errorBody(`${idProperty} is not a unique property`, 'VALIDATION_ERROR'));
    }
    const select = Array.isArray(body.properties) ? (body.properties as string[]) : null;
    const archived = url.searchParams.get('archived') === 'true';
    const results: unknown[] = [];
    const missing: string[] = [];
    const seen = new Set<string>();
    for (const input of inputs) {
      const id = String(input.id ?? '');
      if (seen.has(id)) continue;
      seen.add(id);
      const v = collection.resolve(id, idProperty);
      if (v && v.archived === archived) results.push(render(v, select));
      else missing.push(id);
    }
    const errors =
      missing.length > 0
        ? [
            {
              status: 'error',
              category: 'OBJECT_NOT_FOUND',
              message: `Could not get some ${collection.schema.label.toUpperCase()} objects, they may be deleted or not exist. Check that ids are valid.`,
              context: { ids: missing },
              errors: [],
            },
          ]
        : [];
    return { status: errors.length > 0 ? 207 : 200, body: batchEnvelope(started, results, errors) };
  }

  function batchCreate(type: HubSpotObjectType, collection: ObjectCollection, inputs: Record<string, unknown>[]) {
    const started = now();
    const schema = collection.schema;
    const multiStatus =
      config.batchCreateMultiStatus === 'always' || inputs.every((i) => typeof i.objectWriteTraceId === 'string');
    if (!multiStatus) {
      // Without objectWriteTraceIds HubSpot rejects the whole batch for one bad input: check all first.
      const taken = new Map<string, string>();
      for (const [index, input] of inputs.entries()) {
        const { values, issues } = validateProperties(schema, input.properties);
        if (issues.length > 0) throw new HttpError(400, validationBody(issues));
        const conflict = findConflict(collection, values, undefined, taken);
        if (conflict) throw new HttpError(409, errorBody(conflictMessage(schema, conflict), 'CONFLICT'));
        claim(collection, values, `(input ${index} of this batch)`, taken);
      }
    }
    const results: unknown[] = [];
    const errors: unknown[] = [];
    for (const [index, input] of inputs.entries()) {
      const traceId = typeof input.objectWriteTraceId === 'string' ? input.objectWriteTraceId : undefined;
      const context: Record<string, string[]> =
        traceId !== undefined ? { objectWriteTraceId: [traceId] } : { index: [String(index)] };
      const { values, issues } = validateProperties(schema, input.properties);
      // Inputs are created in order, so a duplicate of an earlier input conflicts with the record it created.
      const conflict = issues.length === 0 ? findConflict(collection, values, undefined, new Map()) : undefined;
      if (issues.length > 0) {
        errors.push(validationError(issues, context));
      } else if (conflict) {
        errors.push(conflictError(schema, conflict, context));
      } else {
        const v = store.create(type, values, now());
        const rendered = renderObject(schema, v, Object.keys(values)) as Record<string, unknown>;
        results.push(traceId !== undefined ? { ...rendered, objectWriteTraceId: traceId } : rendered);
      }
    }
    return { status: errors.length > 0 ? 207 : 201, body: batchEnvelope(started, results, errors) };
  }

  function rejectDuplicates(keys: string[]) {
    const dupes = [...new Set(keys.filter((k, i) => keys.indexOf(k) !== i))];
    if (dupes.length > 0) {
      throw new HttpError(
        400,
        errorBody(`Duplicate IDs found in batch input: [${dupes.join(', ')}]. IDs must be unique`, 'VALIDATION_ERROR'),
      );
    }
  }

  function batchUpdate(type: HubSpotObjectType, collection: ObjectCollection, inputs: Record<string, unknown>[]) {
    const started = now();
    const schema = collection.schema;
    rejectDuplicates(inputs.map((i) => String(i.id ?? '')));
    const results: unknown[] = [];
    const errors: unknown[] = [];
    for (const input of inputs) {
      const id = String(input.id ?? '');
      const idProperty = typeof input.idProperty === 'string' ? input.idProperty : undefined;
      const context = { ids: [id] };
      if (idProperty && idProperty !== 'hs_object_id' && !collection.isUnique(idProperty)) {
        errors.push(plainError('VALIDATION_ERROR', `${idProperty} is not a unique property`, context));
        continue;
      }
      const current = collection.resolve(id, idProperty);
      if (!current || current.archived) {
        errors.push(plainError('OBJECT_NOT_FOUND', `Object not found. objectId: ${id}`, context));
        continue;
      }
      const { values, issues } = validateProperties(schema, input.properties);
      if (issues.length > 0) {
        errors.push(validationError(issues, context));
        continue;
      }
      const conflict = findConflict(collection, values, current.id, new Map());
      if (conflict) {
        errors.push(conflictError(schema, conflict, context));
        continue;
      }
      const v = store.update(type, current, values, now());
      results.push(renderObject(schema, v, Object.keys(values)));
    }
    return { status: errors.length > 0 ? 207 : 200, body: batchEnvelope(started, results, errors) };
  }

  function batchUpsert(type: HubSpotObjectType, collection: ObjectCollection, inputs: Record<string, unknown>[]) {
    const started = now();
    const schema = collection.schema;
    for (const input of inputs) {
      const idProperty = input.idProperty;
      if (typeof idProperty !== 'string' || !collection.isUnique(idProperty)) {
        throw new HttpError(
          400,
          errorBody(
            `idProperty "${String(idProperty)}" is not a unique property of ${type}; upsert needs a property with unique values.`,
            'VALIDATION_ERROR',
          ),
        );
      }
    }
    rejectDuplicates(inputs.map((i) => `${String(i.idProperty)}=${String(i.id ?? '').toLowerCase()}`));
    const results: unknown[] = [];
    const errors: unknown[] = [];
    for (const input of inputs) {
      const id = String(input.id ?? '');
      const idProperty = input.idProperty as string;
      const context = { ids: [id] };
      const { values, issues } = validateProperties(schema, { ...(input.properties as object), [idProperty]: id });
      if (issues.length > 0) {
        errors.push(validationError(issues, context));
        continue;
      }
      const current = collection.resolve(id, idProperty);
      const conflict = findConflict(collection, values, current?.id, new Map());
      if (conflict) {
        errors.push(conflictError(schema, conflict, context));
        continue;
      }
      const v = current ? store.update(type, current, values, now()) : store.create(type, values, now());
      const rendered = renderObject(schema, v, Object.keys(values)) as Record<string, unknown>;
      results.push({ ...rendered, new: !current });
    }
    return { status: errors.length > 0 ? 207 : 200, body: batchEnvelope(started, results, errors) };
  }

  function batchArchive(type: HubSpotObjectType, collection: ObjectCollection, inputs: Record<string, unknown>[]) {
    for (const input of inputs) {
      const v = collection.get(String(input.id ?? ''));
      if (v && !v.archived) store.archive(type, v, now());
    }
    return { status: 204 };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const correlationId = randomUUID();
    const headers: Record<string, string> = { 'x-hubspot-correlation-id': correlationId };
    let op = 'unknown';
    const send = (status: number, body?: unknown) => {
      requests.total++;
      requests.byStatus[status] = (requests.byStatus[status] ?? 0) + 1;
      requests.byOperation[op] = (requests.byOperation[op] ?? 0) + 1;
      if (status === 204 || body === undefined) {
        res.writeHead(status, headers);
        res.end();
        return;
      }
      const withId =
        body && typeof body === 'object' && (body as { status?: unknown }).status === 'error'
          ? { ...(body as object), correlationId }
          : body;
      res.writeHead(status, { ...headers, 'content-type': JSON_TYPE });
      res.end(JSON.stringify(withId));
    };
    try {
      const raw = await readBody(req);
      const latency = faults.latencyMs ?? 0;
      if (latency > 0) await new Promise((r) => setTimeout(r, latency));
      const origin = `http://${req.headers.host ?? 'localhost'}`;
      const url = new URL(req.url ?? '/', origin);
      const method = req.method ?? 'GET';

      const auth = req.headers.authorization;
      const token = auth?.startsWith('Bearer ') ? auth.slice(7).trim() : undefined;
      if (!token || !tokens.has(token)) {
        throw new HttpError(
          401,
          errorBody(
            'Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview',
            'INVALID_AUTHENTICATION',
          ),
        );
      }

      const at = now();
      const rateHeaders = (remaining: number) => {
        headers['x-hubspot-ratelimit-max'] = String(config.rateLimitMax);
        headers['x-hubspot-ratelimit-remaining'] = String(remaining);
        headers['x-hubspot-ratelimit-interval-milliseconds'] = String(config.rateLimitIntervalMs);
        headers['x-hubspot-ratelimit-daily'] = String(config.dailyLimit);
        headers['x-hubspot-ratelimit-daily-remaining'] = String(daily.remaining(token, at));
      };
      const tooMany = (policyName: string, message: string, retryAfterMs: number) => {
        if (config.sendRetryAfter) headers['retry-after'] = String(Math.max(1, Math.ceil(retryAfterMs / 1000)));
        return new HttpError(429, {
          status: 'error',
          message,
          errorType: 'RATE_LIMIT',
          policyName,
          requestId: randomUUID(),
        });
      };
      if (fire(faults.rateLimit)) {
        rateHeaders(0);
        throw tooMany('TEN_SECONDLY_ROLLING', 'You have reached your ten_secondly_rolling limit.', 1_000);
      }
      if (!faults.serverErrors?.afterWrite && fire(faults.serverErrors)) {
        const status = faults.serverErrors?.status ?? 503;
        rateHeaders(Math.max(0, config.rateLimitMax - window.count(token, at)));
        throw new HttpError(
          status,
          errorBody('The service is temporarily unavailable. Please retry.', 'INTERNAL_ERROR'),
        );
      }
      const taken = window.take(token, at);
      if (!taken.ok) {
        rateHeaders(0);
        throw tooMany('TEN_SECONDLY_ROLLING', 'You have reached your ten_secondly_rolling limit.', taken.retryAfterMs);
      }
      const day = daily.take(token, at);
      rateHeaders(taken.remaining);
      if (!day.ok) throw tooMany('DAILY', 'You have reached your daily limit.', 86_400_000 - (at % 86_400_000));

      const parts = url.pathname.split('/').filter(Boolean);
      if (parts[0] !== 'crm' || parts[1] !== 'v3' || parts[2] !== 'objects' || parts[3] === undefined) {
        throw new HttpError(404, errorBody(`No route for ${method} ${url.pathname}`, 'OBJECT_NOT_FOUND'));
      }
      const typeName = decodeURIComponent(parts[3]);
      const type = (OBJECT_TYPE_IDS[typeName] ??
        (HUBSPOT_OBJECT_TYPES as readonly string[]).find((t) => t === typeName)) as HubSpotObjectType | undefined;
      if (!type)
        throw new HttpError(400, errorBody(`Unable to infer object type from: ${typeName}`, 'VALIDATION_ERROR'));
      const rest = parts.slice(4);
      op = operationOf(method, rest);
      if (op === 'search') {
        const s = searchWindow.take(token, at);
        if (!s.ok) {
          throw tooMany('SECONDLY', 'You have reached your secondly limit.', s.retryAfterMs);
        }
      }
      let body: unknown;
      if (raw.length > 0 && (method === 'POST' || method === 'PATCH')) {
        try {
          body = JSON.parse(raw);
        } catch (e) {
          throw new HttpError(400, errorBody(`Invalid input JSON: ${(e as Error).message}`, 'VALIDATION_ERROR'));
        }
      }
      const out = handleObjects(method, url, rest, type, body, origin);
      op = out.op;
      if (faults.serverErrors?.afterWrite && WRITE_OPS.has(op) && fire(faults.serverErrors)) {
        throw new HttpError(
          faults.serverErrors.status ?? 503,
          errorBody('The service is temporarily unavailable. Please retry.', 'INTERNAL_ERROR'),
        );
      }
      send(out.status, out.body);
    } catch (e) {
      if (e instanceof HttpError) {
        send(e.status, e.body);
      } else {
        send(500, errorBody(`Internal error: ${(e as Error).message}`, 'INTERNAL_ERROR'));
      }
    }
  }

  const server = createServer((req, res) => {
    void handle(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = options.host ?? '127.0.0.1';
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;

  const storeApi: HubSpotSandboxStore = {
    get(type, id) {
      const v = store.collections[type].get(id);
      return v ? fullObject(v) : undefined;
    },
    list(type, opts = {}) {
      const archived = opts.archived ?? false;
      return store.collections[type].order.filter((v) => v.archived === archived).map(fullObject);
    },
    count(type) {
      return store.collections[type].count();
    },
    put(type, properties, opts = {}) {
      const collection = store.collections[type];
      const { values, issues } =
        opts.validate === false
          ? { values: stringValues(properties), issues: [] }
          : validateProperties(collection.schema, properties);
      if (issues.length > 0) throw new Error(issuesMessage(issues));
      const conflict = findConflict(collection, values, opts.id, new Map());
      if (conflict) throw new Error(conflictMessage(collection.schema, conflict));
      if (opts.id !== undefined && collection.get(opts.id)) throw new Error(`${type} ${opts.id} already exists`);
      return fullObject(store.create(type, values, now(), { id: opts.id, createdAt: opts.createdAt }));
    },
    update(type, id, properties) {
      const collection = store.collections[type];
      const current = collection.get(id);
      if (!current || current.archived) throw new Error(`${type} ${id} not found`);
      const { values, issues } = validateProperties(collection.schema, properties);
      if (issues.length > 0) throw new Error(issuesMessage(issues));
      return fullObject(store.update(type, current, values, now()));
    },
    archive(type, id) {
      const current = store.collections[type].get(id);
      if (current && !current.archived) store.archive(type, current, now());
    },
    restore(type, id) {
      const collection = store.collections[type];
      const current = collection.get(id);
      if (!current?.archived) throw new Error(`${type} ${id} is not archived`);
      const conflict = findConflict(collection, current.properties, current.id, new Map());
      if (conflict) throw new Error(conflictMessage(collection.schema, conflict));
      return fullObject(store.restore(type, current, now()));
    },
  };

  return {
    url,
    port: address.port,
    faults,
    config,
    store: storeApi,
    requests,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
    sendWebhook(target, events) {
      if (!options.appSecret) throw new Error('startHubSpotSandbox: sendWebhook needs the appSecret option');
      return deliverWebhook(target, events.map(fullEvent), options.appSecret, now);
    },
    webhookDeliveries,
    async flushWebhooks() {
      while (webhookTick || webhooksInFlight.size > 0) {
        if (webhookTick) await webhookTick;
        await Promise.all([...webhooksInFlight]);
      }
    },
  };
}

function operationOf(method: string, rest: string[]): string {
  if (rest.length === 0) return method === 'POST' ? 'create' : 'list';
  if (rest[0] === 'search' && rest.length === 1 && method === 'POST') return 'search';
  if (rest[0] === 'batch' && rest.length === 2) return `batch/${rest[1]}`;
  return method === 'PATCH' ? 'update' : method === 'DELETE' ? 'archive' : 'read';
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on('end', () => {
      if (size > MAX_BODY) reject(new HttpError(413, errorBody('Request body too large', 'VALIDATION_ERROR')));
      else resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', reject);
  });
}

function errorBody(message: string, category: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { status: 'error', message, category, ...extra };
}

function notFound(id: string): HttpError {
  return new HttpError(
    404,
    errorBody('Object not found.  objectId are usually numeric.', 'OBJECT_NOT_FOUND', { context: { id: [id] } }),
  );
}

function validationBody(issues: PropertyIssue[]): Record<string, unknown> {
  return errorBody(issuesMessage(issues), 'VALIDATION_ERROR', {
    errors: issues.map((i) => ({ message: i.message, code: i.error, in: i.name })),
  });
}

function plainError(category: string, message: string, context: Record<string, string[]>) {
  return { status: 'error', category, message, context, errors: [] };
}

function validationError(issues: PropertyIssue[], context: Record<string, string[]>) {
  return {
    status: 'error',
    category: 'VALIDATION_ERROR',
    message: issuesMessage(issues),
    context,
    errors: issues.map((i) => ({ message: i.message, code: i.error, in: i.name })),
  };
}

interface Conflict {
  property: string;
  value: string;
  existingId: string;
}

function conflictMessage(schema: ObjectSchema, c: Conflict): string {
  if (schema.type === 'contacts' && c.property === 'email')
    return `Contact already exists. Existing ID: ${c.existingId}`;
  return `A ${schema.label.toLowerCase()} with ${c.property} "${c.value}" already exists. Existing ID: ${c.existingId}`;
}

function conflictError(schema: ObjectSchema, c: Conflict, context: Record<string, string[]>) {
  return { status: 'error', category: 'CONFLICT', message: conflictMessage(schema, c), context, errors: [] };
}

/** A unique value held by another record, or claimed by an earlier input of the same batch. */
function findConflict(
  collection: ObjectCollection,
  values: Record<string, string | null>,
  selfId: string | undefined,
  taken: Map<string, string>,
): Conflict | undefined {
  for (const [property, value] of Object.entries(values)) {
    if (value === null || !collection.isUnique(property)) continue;
    const owner = collection.uniqueOwner(property, value);
    if (owner !== undefined && owner !== selfId) return { property, value, existingId: owner };
    const claimed = taken.get(`${property}\u0000${value.toLowerCase()}`);
    if (claimed !== undefined && claimed !== selfId) return { property, value, existingId: claimed };
  }
  return undefined;
}

function claim(
  collection: ObjectCollection,
  values: Record<string, string | null>,
  owner: string,
  taken: Map<string, string>,
) {
  for (const [property, value] of Object.entries(values)) {
    if (value !== null && collection.isUnique(property)) taken.set(`${property}\u0000${value.toLowerCase()}`, owner);
  }
}

/** `properties=a,b` and `properties=a&properties=b` both work; absent → null (the default properties). */
function selectFromQuery(url: URL): string[] | null {
  const all = url.searchParams.getAll('properties');
  if (all.length === 0) return null;
  return all
    .flatMap((p) => p.split(','))
    .map((p) => p.trim())
    .filter(Boolean);
}

function stringValues(properties: Record<string, string | number | null>): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const [k, v] of Object.entries(properties)) out[k] = v === null ? null : String(v);
  return out;
}
