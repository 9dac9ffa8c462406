import type Stripe from 'stripe';
import { z } from 'zod';
import { ProviderError } from '../../domain/errors.ts';
import type {
  ConnectionContext,
  Endpoint,
  EndpointRecord,
  FetchRequest,
  ProviderDefinition,
  ReadPage,
  ReadPageRequest,
  WriteRequest,
  WriteResult,
} from '../../engine/endpoint.ts';
import { DEFAULT_TRANSIENT_RETRY, type TransientRetryPolicy, waitToRetry } from '../../engine/retry.ts';
import { observedFetch } from '../../engine/telemetry.ts';
import { bodyExcerpt, classifyStatus } from '../http/classify.ts';
import { guardErrorIn, guardedFetch, type OutboundPolicy } from '../http/guard.ts';
import { RateLimiter } from '../http/rate-limiter.ts';
import { malformedRecord } from '../records.ts';
import { loadOnFirstUse } from '../shared.ts';
import { STRIPE_INFO, verifyStripeWebhook } from './info.ts';

export { STRIPE_FIELDS, STRIPE_INFO, verifyStripeWebhook } from './info.ts';

/** The SDK once loaded (its error class tells its failures apart); undefined before the first Stripe endpoint. */
let sdk: typeof Stripe | undefined;

/**
 * The SDK, loaded with the first Stripe endpoint rather than with the engine: an engine that syncs no Stripe
 * connection never pays for it (some 6 MB of heap and its code).
 */
const loadStripeSdk = loadOnFirstUse(async () => {
  sdk = (await import('stripe')).default;
  return sdk;
});

export const STRIPE_ENTITY_TYPES = ['customer', 'product', 'price', 'invoice'] as const;
type StripeEntity = (typeof STRIPE_ENTITY_TYPES)[number];
const WRITABLE: readonly StripeEntity[] = ['customer', 'product'];
/** Stripe keeps events for 30 days; a cursor older than that (with a margin) needs a full sync. */
export const EVENT_RETENTION_MS = 30 * 24 * 3600_000;
const RETENTION_MARGIN_MS = 3600_000;

export const stripeConfigSchema = z.strictObject({
  /** Where the API is; default Stripe's own. A sandbox: `http://127.0.0.1:12111`. */
  apiBase: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  /** Requests per second for this connection (Stripe's default per-endpoint limit is 25/s). */
  requestsPerSecond: z.number().positive().max(1000).default(25),
  timeoutMs: z.int().min(100).max(120_000).default(30_000),
});

const RESOURCE: Record<StripeEntity, keyof Stripe> = {
  customer: 'customers',
  product: 'products',
  price: 'prices',
  invoice: 'invoices',
};

interface ListResource {
  list(params: Record<string, unknown>, options?: Stripe.RequestOptions): Promise<Stripe.ApiList<{ id: string }>>;
  retrieve(
    id: string,
    params?: Record<string, unknown>,
    options?: Stripe.RequestOptions,
  ): Promise<{ id: string; deleted?: boolean }>;
  create?(params: Record<string, unknown>, options?: Stripe.RequestOptions): Promise<{ id: string }>;
  update?(id: string, params: Record<string, unknown>, options?: Stripe.RequestOptions): Promise<{ id: string }>;
  del?(id: string, params?: Record<string, unknown>, options?: Stripe.RequestOptions): Promise<{ id: string }>;
}

/**
 * Stripe over the official SDK. Full sync pages lists with `limit` and `starting_after`; incremental sync
 * reads `<type>.created`/`<type>.updated` events since the cursor and re-fetches each object by id, because
 * lists cannot filter by update time; a cursor past event retention falls back to a full sync. Reads that ask for
 * deletions also read `<type>.deleted` events: an id whose newest event is a deletion is a tombstone (Stripe never
 * reuses ids). Creates carry the engine's idempotency key; deletes call the delete API (customers, products).
 * Credentials: `apiKey`.
 */
export function createStripeProvider(
  options: {
    retry?: TransientRetryPolicy;
    now?: () => number;
    /** Where requests may go (SSRF guard); default DEFAULT_OUTBOUND_POLICY. */
    outbound?: OutboundPolicy;
  } = {},
): ProviderDefinition {
  // The SDK sends through this fetch: the guard checks the addresses it connects to, redirects and body size.
  const fetchFn = guardedFetch(options.outbound, 'stripe');
  return {
    name: 'stripe',
    entityTypes: STRIPE_ENTITY_TYPES,
    configSchema: stripeConfigSchema,
    info: STRIPE_INFO,
    webhook: { verify: verifyStripeWebhook },
    async createEndpoint(connection: ConnectionContext): Promise<Endpoint> {
      const config = stripeConfigSchema.safeParse(connection.config);
      if (!config.success)
        throw new ProviderError('config', `stripe: invalid connection config: ${config.error.message}`);
      const apiKey = connection.credentials.apiKey;
      if (!apiKey) throw new ProviderError('config', 'stripe: credentials.apiKey is required');
      return new StripeEndpoint(
        await loadStripeSdk(),
        apiKey,
        config.data,
        options.retry ?? DEFAULT_TRANSIENT_RETRY,
        options.now ?? Date.now,
        fetchFn,
      );
    },
  };
}

class StripeEndpoint implements Endpoint {
  private readonly stripe: Stripe;
  private readonly limiter: RateLimiter;
  /** The signal of the call in flight: the SDK's fetch honours it, so a cancelled run stops its request. */
  private signal: AbortSignal | undefined;

  constructor(
    StripeSdk: typeof Stripe,
    apiKey: string,
    config: z.output<typeof stripeConfigSchema>,
    private readonly retry: TransientRetryPolicy,
    private readonly now: () => number,
    fetchFn: typeof fetch,
  ) {
    this.limiter = new RateLimiter(config.requestsPerSecond, 1000);
    const base = config.apiBase ? new URL(config.apiBase) : null;
    const observed = observedFetch('stripe', fetchFn);
    const fetchWithSignal: typeof fetch = (input, init) =>
      observed(input, {
        ...init,
        signal: this.signal
          ? AbortSignal.any([this.signal, ...(init?.signal ? [init.signal] : [])])
          : (init?.signal ?? null),
      });
    this.stripe = new StripeSdk(apiKey, {
      maxNetworkRetries: 0, // retries are ours: one policy for every connector, Retry-After honoured
      timeout: config.timeoutMs,
      telemetry: false,
      httpClient: StripeSdk.createFetchHttpClient(fetchWithSignal),
      ...(base
        ? {
            host: base.hostname,
            port: base.port || (base.protocol === 'https:' ? 443 : 80),
            protocol: base.protocol.replace(':', '') as 'http' | 'https',
          }
        : {}),
    });
  }

  private resource(entityType: string): ListResource {
    if (!(STRIPE_ENTITY_TYPES as readonly string[]).includes(entityType)) {
      throw new ProviderError('config', `stripe: unsupported entity type "${entityType}"`);
    }
    return this.stripe[RESOURCE[entityType as StripeEntity]] as unknown as ListResource;
  }

  /** One SDK call: rate-limited, transient errors retried with backoff, errors classified. */
  private async call<T>(signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      await this.limiter.acquire(signal);
      this.signal = signal;
      let error: ProviderError;
      try {
        return await fn();
      } catch (err) {
        if (signal.aborted) throw signal.reason;
        error = toProviderError(err);
      }
      if (error.kind !== 'transient' || attempt >= this.retry.attempts) throw error;
      await waitToRetry('stripe', this.retry, attempt, error, signal);
    }
  }

  async readPage(req: ReadPageRequest): Promise<ReadPage> {
    const resource = this.resource(req.entityType);
    const state = req.cursor === null ? null : (JSON.parse(req.cursor) as { mode: 'list' | 'events'; after: string });
    const tooOld = req.since !== null && this.now() - req.since.getTime() > EVENT_RETENTION_MS - RETENTION_MARGIN_MS;
    const useEvents = state ? state.mode === 'events' : req.since !== null && !tooOld;
    if (!useEvents) {
      const page = await this.call(req.signal, () =>
        resource.list({ limit: req.pageSize, ...(state ? { starting_after: state.after } : {}) }),
      );
      const records = page.data.map((o) => this.record(o, req.entityType));
      const last = page.data.at(-1);
      return {
        records,
        nextCursor: page.has_more && last ? JSON.stringify({ mode: 'list', after: last.id }) : null,
      };
    }
    // Events newest first since the cursor; each object is re-fetched (events carry stale snapshots). With
    // deletions, `<type>.deleted` events too: an id whose newest event on this page is its deletion is a
    // tombstone, not fetched (a deleted object stays deleted: Stripe never reuses ids, and its older events on
    // later pages fetch nothing, since fetch leaves deleted objects out).
    const deletedType = `${req.entityType}.deleted`;
    const events = await this.call(req.signal, () =>
      this.stripe.events.list({
        types: [`${req.entityType}.created`, `${req.entityType}.updated`, ...(req.deletions ? [deletedType] : [])],
        created: { gte: Math.floor(req.since!.getTime() / 1000) },
        limit: req.pageSize,
        ...(state ? { starting_after: state.after } : {}),
      }),
    );
    const ids: string[] = [];
    const changedAt = new Map<string, number>();
    const tombstones: EndpointRecord[] = [];
    for (const ev of events.data) {
      const id = (ev.data.object as { id?: string }).id;
      if (!id || changedAt.has(id)) continue;
      changedAt.set(id, ev.created);
      const at = new Date(ev.created * 1000).toISOString();
      if (ev.type === deletedType) tombstones.push({ id, data: {}, updatedAt: at, deleted: true });
      else ids.push(id);
    }
    const fetched = (await this.fetch({ entityType: req.entityType, ids, signal: req.signal })).map((r) => {
      r.updatedAt = new Date(changedAt.get(r.id)! * 1000).toISOString();
      return r;
    });
    const records = [...fetched, ...tombstones];
    const last = events.data.at(-1);
    return { records, nextCursor: events.has_more && last ? JSON.stringify({ mode: 'events', after: last.id }) : null };
  }

  /** A Stripe object as a record; one in a shape we cannot trust becomes a record failure, not a row. */
  private record(o: { id: string }, entityType: string): EndpointRecord {
    const problem = shapeProblem(o as unknown as Record<string, unknown>, entityType);
    if (problem) {
      return malformedRecord(
        String(o.id),
        new ProviderError('record', `stripe: ${entityType} ${String(o.id)} is malformed: ${problem}`),
      );
    }
    return { id: o.id, data: o as unknown as Record<string, unknown>, updatedAt: null };
  }

  async fetch(req: FetchRequest): Promise<EndpointRecord[]> {
    const resource = this.resource(req.entityType);
    const out: EndpointRecord[] = [];
    for (const id of req.ids) {
      try {
        const o = await this.call(req.signal, () => resource.retrieve(id));
        if (!o.deleted) out.push(this.record(o, req.entityType));
      } catch (err) {
        if (err instanceof ProviderError && err.status === 404) continue;
        throw err;
      }
    }
    return out;
  }

  /** Every create is sent with its idempotency key (see Endpoint.dedupesCreates). */
  dedupesCreates(): boolean {
    return true;
  }

  async write(req: WriteRequest): Promise<WriteResult[]> {
    if (!(WRITABLE as readonly string[]).includes(req.entityType)) {
      throw new ProviderError(
        'config',
        `stripe: ${req.entityType} cannot be written (outbound supports customer, product)`,
      );
    }
    const resource = this.resource(req.entityType);
    const results: WriteResult[] = [];
    let applied = false;
    for (const op of req.ops) {
      if (op.action === 'delete' && op.soft) {
        // Stripe has no soft delete (a deleted customer keeps only its id); this op alone is refused.
        results.push({
          ok: false,
          error: new ProviderError(
            'config',
            `Stripe cannot soft-delete a ${req.entityType}: use the hard_delete policy, or ignore deletions`,
          ),
        });
        continue;
      }
      if (op.action !== 'create' && !op.targetId) {
        const what = op.action === 'update' ? 'an update' : 'a delete';
        results.push({ ok: false, error: new ProviderError('record', `stripe: ${what} without a target id`) });
        continue;
      }
      try {
        let o: { id: string };
        if (op.action === 'create') {
          const params = toStripeParams(op.data);
          o = await this.call(req.signal, () => resource.create!(params, { idempotencyKey: op.idempotencyKey }));
        } else if (op.action === 'update') {
          const params = toStripeParams(op.data);
          o = await this.call(req.signal, () => resource.update!(op.targetId!, params));
        } else o = await this.remove(resource, op.targetId!, req.signal);
        results.push({ ok: true, id: o.id });
        applied = true;
      } catch (err) {
        if (req.signal.aborted) throw err;
        if (err instanceof ProviderError && (err.kind === 'auth' || err.kind === 'config')) {
          // Run-level faults throw only while nothing of the call was applied (see Endpoint.write): after that,
          // throwing would lose the ids of the records already written. The rest is not attempted.
          if (!applied) throw err;
          results.push({ ok: false, error: err });
          const skipped = new ProviderError(
            err.kind,
            `stripe: not attempted: an earlier write in this batch failed (${err.message})`,
            { cause: err },
          );
          while (results.length < req.ops.length) results.push({ ok: false, error: skipped });
          return results;
        }
        // Transient failures (after retries) and rejected records are this op's result; creates carry
        // idempotency keys, so sending a failed op again is safe.
        results.push({ ok: false, error: err });
      }
    }
    return results;
  }

  /** Deletes one object; one that is already gone (404 `resource_missing`) counts as deleted. */
  private async remove(resource: ListResource, id: string, signal: AbortSignal): Promise<{ id: string }> {
    try {
      await this.call(signal, () => resource.del!(id));
    } catch (err) {
      if (!(err instanceof ProviderError) || err.status !== 404) throw err;
      if (!isStripeError(err.cause) || err.cause.code !== 'resource_missing') throw err;
    }
    return { id };
  }
}

const nullableString = (v: unknown) => v === null || v === undefined || typeof v === 'string';
const nullableNumber = (v: unknown) => v === null || v === undefined || typeof v === 'number';

/** What is wrong with an object's shape (the fields the connector and mappings rely on), or null. */
function shapeProblem(o: Record<string, unknown>, entityType: string): string | null {
  if (typeof o.id !== 'string' || o.id === '') return 'id is not a string';
  if (typeof o.created !== 'number') return 'created is not a number';
  const md = o.metadata;
  if (md !== undefined && md !== null && (typeof md !== 'object' || Array.isArray(md)))
    return 'metadata is not an object';
  switch (entityType) {
    case 'customer':
      if (!nullableString(o.email)) return 'email is not a string';
      if (!nullableString(o.name)) return 'name is not a string';
      if (!nullableNumber(o.balance)) return 'balance is not a number';
      break;
    case 'product':
      if (typeof o.name !== 'string') return 'name is not a string';
      break;
    case 'price':
      if (!nullableNumber(o.unit_amount)) return 'unit_amount is not a number';
      break;
    case 'invoice':
      if (!nullableNumber(o.amount_due)) return 'amount_due is not a number';
      break;
  }
  return null;
}

/** Stripe refuses `null` for most params; an unset field is left out instead. Nested objects stay (metadata). */
function toStripeParams(data: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(data)) if (v !== null && v !== undefined) out[k] = v;
  return out;
}

/** A failure the SDK raised (only an endpoint, which loaded the SDK, can have one). */
function isStripeError(err: unknown): err is Stripe.errors.StripeError {
  return sdk !== undefined && err instanceof sdk.errors.StripeError;
}

function toProviderError(err: unknown): ProviderError {
  // A refusal of the outbound guard (or a body past the cap), wrapped by the SDK as a connection error.
  const guarded = guardErrorIn(err);
  if (guarded) return guarded;
  if (isStripeError(err)) {
    const status = err.statusCode;
    const headers = new Headers();
    for (const [k, v] of Object.entries(err.headers ?? {})) if (typeof v === 'string') headers.set(k, v);
    if (status === undefined) {
      // No HTTP answer: connection refused or reset (unreachable), or timed out (slow, not unreachable).
      return new ProviderError('transient', `stripe: ${err.message}`, {
        cause: err,
        unreachable: !/timeout|timed out/i.test(err.message),
      });
    }
    const retryAfter = headers.get('retry-after');
    // The message comes from the answer's body: a short sanitized excerpt only.
    const message = bodyExcerpt(err.message) ?? `HTTP ${status}`;
    return new ProviderError(classifyStatus(status, headers), `stripe: ${status} ${message}`, {
      cause: err,
      status,
      ...(retryAfter && /^\d+(\.\d+)?$/.test(retryAfter) ? { retryAfterMs: Number(retryAfter) * 1000 } : {}),
    });
  }
  return new ProviderError('transient', `stripe: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}
