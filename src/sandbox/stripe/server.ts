import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type ApiContext, handleApi, routeOf, unrecognizedUrl } from './api.ts';
import { invalidParam, StripeApiError } from './errors.ts';
import { canonicalParams, FormEncodingError, type FormObject, parseForm } from './form.ts';
import type { StripeEvent, StripeKind, StripeObject } from './objects.ts';
import { base62, createRng, type Rng, randomBase62 } from './random.ts';
import { SANDBOX_API_VERSION, type SeedCounts, StripeStore } from './store.ts';
import { postWebhook, signStripePayload, type WebhookDelivery } from './webhooks.ts';

export type { StripeEvent, StripeKind, StripeObject } from './objects.ts';
export { EVENT_RETENTION_SECONDS, SANDBOX_API_VERSION, type SeedCounts } from './store.ts';
export { signStripePayload, type WebhookDelivery } from './webhooks.ts';

/** Faults injected per request. The object is read on every request, so tests may change it at any time. */
export interface Faults {
  /**
   * 429 `rate_limit` with `Retry-After`: the next N requests (decremented in place), every Nth request (counted
   * from when this object was set) and/or a share.
   */
  rateLimit?: { everyNth?: number; share?: number; retryAfterSeconds?: number; nextN?: number };
  /**
   * 5xx `api_error` with `Stripe-Should-Retry: true`: the next N requests (decremented in place) and/or a share.
   * `status` defaults to 500. With `afterWrite`, a POST is executed first and then answered with a 500 that is
   * saved for its idempotency key (`Stripe-Should-Retry: false`): the write happened, the response was lost.
   */
  serverErrors?: { share?: number; nextN?: number; status?: number; afterWrite?: boolean };
  /** Delay before each API response. */
  latencyMs?: number;
  /** Objects served with a broken shape (`email: 12345`, no `created`, …) wherever they appear. */
  malformed?: { ids?: string[] };
  /** While a list is paged (`starting_after` given), the cursor object changes and an update event is emitted. */
  mutateDuringList?: boolean;
}

export interface StripeSandboxOptions {
  /** 0 (default) = a free port. */
  port?: number;
  host?: string;
  /** The secret key accepted (default `sk_test_sandbox`). */
  apiKey?: string;
  /** The webhook endpoint secret used to sign deliveries (default `whsec_sandbox`). */
  webhookSecret?: string;
  /** Records seeded deterministically (from `seed`) before the server starts. */
  records?: SeedCounts;
  faults?: Faults;
  /** The sandbox clock in milliseconds (default `Date.now`): `created`, event retention, idempotency expiry. */
  now?: () => number;
  /** Seed for data, ids and fault shares (default 1). */
  seed?: number;
  /** URLs that receive every event as a signed webhook, as it happens. */
  webhookEndpoints?: string[];
}

export interface RequestCounts {
  total: number;
  byStatus: Record<number, number>;
  /** By route, e.g. `GET /v1/customers`, `POST /v1/customers/:id`; unknown URLs count as `other`. */
  byRoute: Record<string, number>;
}

/** Direct access to the sandbox's data for tests; writes emit events like API writes do. */
export interface SandboxStore {
  /** A copy of the object, or undefined. */
  get(kind: StripeKind, id: string): StripeObject | undefined;
  /** Copies of all objects of a kind, newest first. */
  list(kind: StripeKind): StripeObject[];
  /** Ids of a kind, newest first (cheap: no copies). */
  ids(kind: StripeKind): string[];
  count(kind: StripeKind): number;
  /**
   * Inserts an object (missing fields get defaults, a missing `id` is generated) and emits `<kind>.created`, or
   * replaces the object with that id and emits `<kind>.updated`.
   */
  put(kind: StripeKind, object: Partial<StripeObject>): StripeObject;
  /** Merges top-level fields into an object and emits `<kind>.updated`. Throws for an unknown id. */
  update(kind: StripeKind, id: string, patch: Partial<StripeObject>): StripeObject;
  /** Removes an object and emits `<kind>.deleted`; false when there was none. */
  delete(kind: StripeKind, id: string): boolean;
  /** All stored events, newest first, including those past retention (which the API no longer returns). */
  events(): StripeEvent[];
  /** Appends an event of any type about an object. */
  emitEvent(type: string, object: StripeObject): StripeEvent;
}

export interface StripeSandbox {
  /** `http://127.0.0.1:<port>` */
  url: string;
  host: string;
  port: number;
  apiKey: string;
  webhookSecret: string;
  faults: Faults;
  readonly store: SandboxStore;
  readonly requests: RequestCounts;
  resetRequests(): void;
  /** Endpoints that get every new event (may be changed at runtime). */
  webhookEndpoints: string[];
  /** Outcomes of automatic deliveries, in completion order. */
  readonly webhookDeliveries: WebhookDelivery[];
  /** Waits until the automatic deliveries started so far have finished. */
  flushWebhooks(): Promise<void>;
  /** Sends one event (or an event id) to a URL, signed with the webhook secret and the sandbox clock. */
  sendWebhook(
    url: string,
    event: StripeEvent | string,
    options?: { secret?: string; timestamp?: number },
  ): Promise<{ status: number; body: string }>;
  /** `Stripe-Signature` header value for a body, with this sandbox's secret. */
  sign(body: string, timestamp?: number): string;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 1024 * 1024;
const IDEMPOTENCY_TTL_MS = 24 * 3600 * 1000;

interface IdempotentEntry {
  method: string;
  path: string;
  params: string;
  inFlight: boolean;
  status: number;
  body: string;
  requestId: string;
  savedAt: number;
}

interface Response {
  status: number;
  body: string;
  headers: Record<string, string>;
}

export async function startStripeSandbox(options: StripeSandboxOptions = {}): Promise<StripeSandbox> {
  const sandbox = new Sandbox(options);
  await sandbox.listen(options.port ?? 0, options.host ?? '127.0.0.1');
  return sandbox;
}

class Sandbox implements StripeSandbox {
  url = '';
  host = '';
  port = 0;
  readonly apiKey: string;
  readonly webhookSecret: string;
  faults: Faults;
  webhookEndpoints: string[];
  readonly webhookDeliveries: WebhookDelivery[] = [];
  readonly requests: RequestCounts = { total: 0, byStatus: {}, byRoute: {} };
  readonly store: SandboxStore;
  private readonly data: StripeStore;
  private readonly server: Server;
  private readonly faultRng: Rng;
  private readonly requestRng: Rng;
  private readonly nthCounters = new WeakMap<object, number>();
  private readonly idempotency = new Map<string, IdempotentEntry>();
  private readonly pendingWebhooks = new Set<Promise<void>>();
  private readonly shutdown = new AbortController();
  private requestSequence = 0;
  private mutations = 0;

  constructor(options: StripeSandboxOptions) {
    this.apiKey = options.apiKey ?? 'sk_test_sandbox';
    this.webhookSecret = options.webhookSecret ?? 'whsec_sandbox';
    this.faults = options.faults ?? {};
    this.webhookEndpoints = [...(options.webhookEndpoints ?? [])];
    const seed = options.seed ?? 1;
    this.faultRng = createRng(seed ^ 0xfa17);
    this.requestRng = createRng(seed ^ 0x4e9);
    this.data = new StripeStore(options.now ?? Date.now, seed);
    if (options.records) this.data.seedRecords(options.records);
    this.data.onEvent((event) => this.deliverAutomatically(event));
    this.store = createStoreFacade(this.data);
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) {
          const err = new StripeApiError(500, 'api_error', `Sandbox failure: ${String(error)}`);
          this.send(res, 'other', { status: 500, body: JSON.stringify(err.body()), headers: {} });
        } else res.destroy();
      });
    });
    this.server.keepAliveTimeout = 5000;
  }

  async listen(port: number, host: string): Promise<void> {
    this.server.listen(port, host);
    await once(this.server, 'listening');
    const address = this.server.address() as AddressInfo;
    this.host = host;
    this.port = address.port;
    this.url = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
  }

  resetRequests(): void {
    this.requests.total = 0;
    this.requests.byStatus = {};
    this.requests.byRoute = {};
  }

  sign(body: string, timestamp = this.data.now()): string {
    return signStripePayload(this.webhookSecret, body, timestamp);
  }

  async sendWebhook(
    url: string,
    event: StripeEvent | string,
    options: { secret?: string; timestamp?: number } = {},
  ): Promise<{ status: number; body: string }> {
    const resolved = typeof event === 'string' ? this.data.events.get(event) : event;
    if (!resolved) throw new Error(`sendWebhook: no such event ${String(event)}`);
    return postWebhook(url, resolved, {
      secret: options.secret ?? this.webhookSecret,
      timestamp: options.timestamp ?? this.data.now(),
      signal: AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(30_000)]),
    });
  }

  async flushWebhooks(): Promise<void> {
    while (this.pendingWebhooks.size > 0) await Promise.allSettled([...this.pendingWebhooks]);
  }

  async close(): Promise<void> {
    this.shutdown.abort();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
    await this.flushWebhooks();
  }

  private deliverAutomatically(event: StripeEvent): void {
    if (this.shutdown.signal.aborted) return;
    for (const url of this.webhookEndpoints) {
      const delivery: Promise<void> = this.sendWebhook(url, event).then(
        (r) => {
          this.webhookDeliveries.push({ eventId: event.id, url, status: r.status });
        },
        (error: unknown) => {
          this.webhookDeliveries.push({ eventId: event.id, url, error: String(error) });
        },
      );
      this.pendingWebhooks.add(delivery);
      void delivery.finally(() => this.pendingWebhooks.delete(delivery));
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = `req_${base62(++this.requestSequence, 6)}${randomBase62(this.requestRng, 8)}`;
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', 'http://sandbox');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const route = routeOf(method, path);
    const label = route ?? 'other';
    const headers: Record<string, string> = {
      'request-id': requestId,
      'stripe-version': headerValue(req.headers['stripe-version']) ?? SANDBOX_API_VERSION,
    };
    const reply = (response: Response) => this.send(res, label, response, headers);
    const fail = (error: StripeApiError) =>
      reply({ status: error.status, body: JSON.stringify(error.body()), headers: error.headers });

    let rawBody: string;
    try {
      rawBody = await readBody(req);
    } catch (error) {
      if (error instanceof StripeApiError) return fail(error);
      throw error;
    }

    const authError = this.authenticate(req.headers.authorization);
    if (authError) return fail(authError);

    const faults = this.faults;
    // Latency is spent while the request "executes": after the idempotency key is claimed, so that a concurrent
    // request with the same key sees it in flight (409), as on Stripe.
    const latency = async (): Promise<boolean> => {
      if (!faults.latencyMs || faults.latencyMs <= 0) return true;
      try {
        await sleep(faults.latencyMs, this.shutdown.signal);
        return true;
      } catch {
        res.destroy();
        return false;
      }
    };
    const rateLimited = this.rateLimitFault(faults);
    if (rateLimited) return (await latency()) ? fail(rateLimited) : undefined;
    const serverError = this.serverErrorFault(faults);
    const failAfterWrite = serverError !== null && method === 'POST' && faults.serverErrors?.afterWrite === true;
    if (serverError && !failAfterWrite) return (await latency()) ? fail(serverError) : undefined;

    if (!route) return fail(unrecognizedUrl(method, url.pathname));

    let params: FormObject;
    try {
      params = this.readParams(req, method, url, rawBody);
    } catch (error) {
      if (error instanceof StripeApiError) return fail(error);
      if (error instanceof FormEncodingError) return fail(invalidParam(error.message, error.param));
      throw error;
    }

    const idempotencyKey = method === 'POST' ? headerValue(req.headers['idempotency-key']) : undefined;
    let entry: IdempotentEntry | undefined;
    let entryKey = '';
    if (idempotencyKey !== undefined) {
      headers['idempotency-key'] = idempotencyKey;
      if (idempotencyKey.length > 255) {
        return fail(
          invalidParam(
            `Invalid Idempotency-Key: keys for idempotent requests can be at most 255 characters long, but the key given is ${idempotencyKey.length} characters long.`,
            'Idempotency-Key',
          ),
        );
      }
      entryKey = `${this.apiKey}\n${idempotencyKey}`;
      const canonical = canonicalParams(params);
      const existing = this.idempotency.get(entryKey);
      if (existing && this.data.nowMs() - existing.savedAt < IDEMPOTENCY_TTL_MS) {
        if (existing.inFlight) {
          return fail(
            new StripeApiError(
              409,
              'idempotency_error',
              `There is currently another in-progress request using this Idempotency-Key (that probably means you submitted twice, and the other request is still going through): ${idempotencyKey}. Please try again later.`,
              { code: 'idempotency_key_in_use' },
              false,
              { 'stripe-should-retry': 'true' },
            ),
          );
        }
        if (existing.method !== method || existing.path !== path || existing.params !== canonical) {
          return fail(
            new StripeApiError(
              400,
              'idempotency_error',
              `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${idempotencyKey}' if you meant to execute a different request.`,
              {},
              false,
            ),
          );
        }
        return reply({
          status: existing.status,
          body: existing.body,
          headers: { 'idempotent-replayed': 'true', 'original-request': existing.requestId },
        });
      }
      entry = {
        method,
        path,
        params: canonical,
        inFlight: true,
        status: 0,
        body: '',
        requestId,
        savedAt: this.data.nowMs(),
      };
      this.idempotency.set(entryKey, entry);
    }
    if (!(await latency())) {
      if (entry) this.idempotency.delete(entryKey);
      return;
    }

    const context: ApiContext = {
      store: this.data,
      request: { requestId, idempotencyKey: idempotencyKey ?? null },
      malformed: new Set(faults.malformed?.ids ?? []),
      mutateDuringList: faults.mutateDuringList === true,
      onMutation: () => ++this.mutations,
    };
    let response: Response;
    let saved = true;
    try {
      const result = handleApi(context, method, path, params);
      response = { status: result.status, body: JSON.stringify(result.body), headers: {} };
      if (failAfterWrite && serverError) {
        response = {
          status: 500,
          body: JSON.stringify(serverError.body()),
          headers: { 'stripe-should-retry': 'false' },
        };
      }
    } catch (error) {
      if (!(error instanceof StripeApiError)) {
        if (entry) this.idempotency.delete(entryKey);
        throw error;
      }
      response = { status: error.status, body: JSON.stringify(error.body()), headers: error.headers };
      saved = error.savedForIdempotency;
    }
    if (entry) {
      if (saved) {
        entry.inFlight = false;
        entry.status = response.status;
        entry.body = response.body;
      } else this.idempotency.delete(entryKey);
    }
    reply(response);
  }

  private authenticate(header: string | undefined): StripeApiError | null {
    let key: string | undefined;
    if (header?.startsWith('Bearer ')) key = header.slice(7).trim();
    else if (header?.startsWith('Basic ')) {
      const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
      key = decoded.split(':')[0];
    }
    if (!key) {
      return new StripeApiError(
        401,
        'invalid_request_error',
        "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
        {},
        false,
        { 'www-authenticate': 'Bearer realm="Stripe"' },
      );
    }
    if (key !== this.apiKey) {
      const masked =
        key.length > 8 ? `${key.slice(0, 8)}${'*'.repeat(Math.min(key.length - 12, 20))}${key.slice(-4)}` : '****';
      return new StripeApiError(401, 'invalid_request_error', `Invalid API Key provided: ${masked}`, {}, false, {
        'www-authenticate': 'Bearer realm="Stripe"',
      });
    }
    return null;
  }

  private rateLimitFault(faults: Faults): StripeApiError | null {
    const config = faults.rateLimit;
    if (!config) return null;
    let hit = false;
    if (config.nextN && config.nextN > 0) {
      config.nextN -= 1;
      hit = true;
    }
    if (!hit && config.everyNth && config.everyNth > 0) {
      const n = (this.nthCounters.get(config) ?? 0) + 1;
      this.nthCounters.set(config, n);
      if (n % config.everyNth === 0) hit = true;
    }
    if (!hit && config.share && config.share > 0 && this.faultRng() < config.share) hit = true;
    if (!hit) return null;
    return new StripeApiError(
      429,
      'invalid_request_error',
      'Request rate limit exceeded. You can learn more about rate limits here https://stripe.com/docs/rate-limits.',
      { code: 'rate_limit' },
      false,
      { 'retry-after': String(config.retryAfterSeconds ?? 1) },
    );
  }

  private serverErrorFault(faults: Faults): StripeApiError | null {
    const config = faults.serverErrors;
    if (!config) return null;
    let hit = false;
    if (config.nextN && config.nextN > 0) {
      config.nextN -= 1;
      hit = true;
    }
    if (!hit && config.share && config.share > 0 && this.faultRng() < config.share) hit = true;
    if (!hit) return null;
    const status = config.status ?? 500;
    return new StripeApiError(
      status,
      'api_error',
      status === 503
        ? 'The Stripe API is temporarily unavailable. Please try again later.'
        : 'An unknown error occurred while processing your request. Please try again later.',
      {},
      false,
      { 'stripe-should-retry': 'true' },
    );
  }

  private readParams(req: IncomingMessage, method: string, url: URL, body: string): FormObject {
    const entries: [string, string][] = [...url.searchParams];
    if (method !== 'GET' && body.length > 0) {
      const type = headerValue(req.headers['content-type']) ?? '';
      if (type && !type.toLowerCase().startsWith('application/x-www-form-urlencoded')) {
        throw invalidParam(
          `Invalid request: unsupported Content-Type ${type}. If error persists and you need assistance, please contact support: the v1 API takes application/x-www-form-urlencoded bodies.`,
        );
      }
      entries.push(...new URLSearchParams(body));
    }
    return parseForm(entries);
  }

  private send(res: ServerResponse, route: string, response: Response, base: Record<string, string> = {}): void {
    this.requests.total += 1;
    this.requests.byStatus[response.status] = (this.requests.byStatus[response.status] ?? 0) + 1;
    this.requests.byRoute[route] = (this.requests.byRoute[route] ?? 0) + 1;
    res.writeHead(response.status, {
      ...base,
      ...response.headers,
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(response.body)),
      'cache-control': 'no-cache, no-store',
    });
    res.end(response.body);
  }
}

function createStoreFacade(data: StripeStore): SandboxStore {
  return {
    get: (kind, id) => {
      const object = data.get(kind, id);
      return object ? structuredClone(object) : undefined;
    },
    list: (kind) => [...data.collections[kind].newestFirst()].map((o) => structuredClone(o)),
    ids: (kind) => [...data.collections[kind].newestFirst()].map((o) => o.id),
    count: (kind) => data.collections[kind].size,
    put: (kind, object) => {
      const existing = object.id !== undefined ? data.get(kind, object.id) : undefined;
      if (existing) {
        return structuredClone(data.update(kind, data.complete(kind, { created: existing.created, ...object })));
      }
      return structuredClone(data.create(kind, data.complete(kind, object)));
    },
    update: (kind, id, patch) => {
      const existing = data.get(kind, id);
      if (!existing) throw new Error(`store.update: no ${kind} ${id}`);
      return structuredClone(data.update(kind, { ...existing, ...structuredClone(patch), id } as StripeObject));
    },
    delete: (kind, id) => data.delete(kind, id) !== undefined,
    events: () => [...data.events.newestFirst()].map((e) => structuredClone(e)),
    emitEvent: (type, object) => structuredClone(data.emit(type, structuredClone(object), undefined)),
  };
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw invalidParam('Request body too large.');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
