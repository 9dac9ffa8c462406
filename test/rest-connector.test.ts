import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRestProvider } from '../src/connectors/rest/index.ts';
import { ProviderError, ValidationError } from '../src/domain/errors.ts';
import type { Endpoint, WriteOp, WriteResult } from '../src/engine/endpoint.ts';
import { type RestPeopleServer, restPeopleConfig, startRestPeopleServer } from './contract/rest-server.ts';
import { counters, createHarness, type Harness, TEST_DATABASES } from './helpers/db.ts';

/**
 * A small REST API of "widgets" the project has never heard of, speaking each pagination style, served
 * over real HTTP. The connector is configured as data only.
 */
interface Widget {
  id: string;
  name: string;
  email: string | number;
  updated_at: string;
}
const TOKEN = 'test-token-not-real';
let widgets: Widget[] = [];
let failNext: { status: number; retryAfter?: string; count: number } = { status: 0, count: 0 };
/** The most records the API answers per page, whatever the request asks for (many APIs cap their page size). */
let maxPageSize = Number.POSITIVE_INFINITY;
let seen: { method: string; url: URL; headers: Record<string, string | string[] | undefined>; body: unknown }[] = [];
let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => {
      raw += d;
    });
    req.on('end', () => {
      const url = new URL(req.url!, 'http://x');
      seen.push({ method: req.method!, url, headers: req.headers, body: raw ? JSON.parse(raw) : undefined });
      const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(JSON.stringify(body));
      };
      if (req.headers.authorization !== `Bearer ${TOKEN}`) return send(401, { message: 'bad token' });
      if (failNext.count > 0) {
        failNext.count--;
        return send(
          failNext.status,
          { message: 'try later' },
          failNext.retryAfter ? { 'retry-after': failNext.retryAfter } : {},
        );
      }
      const since = url.searchParams.get('updated_since');
      const all = widgets.filter((w) => !since || w.updated_at >= since);
      const limit = Math.min(
        maxPageSize,
        Number(url.searchParams.get('limit') ?? url.searchParams.get('per_page') ?? 10),
      );
      const m = /^\/(cursor|offset|page|link)\/widgets(?:\/(.+))?$/.exec(url.pathname);
      if (!m) return send(404, { message: 'no route' });
      const [, style, id] = m;
      if (id && req.method === 'GET') {
        const w = widgets.find((x) => x.id === id);
        return w ? send(200, w) : send(404, { message: 'not found' });
      }
      if (id && req.method === 'PATCH') {
        const w = widgets.find((x) => x.id === id);
        if (!w) return send(404, { message: 'not found' });
        Object.assign(w, raw ? JSON.parse(raw) : {}, { updated_at: new Date().toISOString() });
        return send(200, w);
      }
      if (req.method === 'POST') {
        const body = JSON.parse(raw) as Partial<Widget>;
        if (typeof body.email !== 'string' || !body.email.includes('@'))
          return send(422, { message: 'email is invalid' });
        const key = req.headers['idempotency-key'];
        const existing = widgets.find((w) => (w as Widget & { key?: unknown }).key === key);
        if (existing) return send(201, existing);
        const w = { ...(body as Widget), id: `w${widgets.length + 1000}`, updated_at: new Date().toISOString(), key };
        widgets.push(w);
        return send(201, w);
      }
      if (style === 'cursor') {
        const after = url.searchParams.get('after');
        const start = after ? all.findIndex((w) => w.id === after) + 1 : 0;
        const page = all.slice(start, start + limit);
        return send(200, { data: { items: page }, next: start + limit < all.length ? page.at(-1)!.id : null });
      }
      if (style === 'offset') {
        const offset = Number(url.searchParams.get('offset') ?? 0);
        return send(200, { results: all.slice(offset, offset + limit), total: all.length });
      }
      if (style === 'page') {
        const page = Number(url.searchParams.get('page') ?? 1);
        return send(200, { rows: all.slice((page - 1) * limit, page * limit), pages: Math.ceil(all.length / limit) });
      }
      const start = Number(url.searchParams.get('from') ?? 0);
      const next =
        start + limit < all.length ? `<${base}/link/widgets?from=${start + limit}&limit=${limit}>; rel="next"` : '';
      return send(200, all.slice(start, start + limit), next ? { link: next } : {});
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

function seedWidgets(n: number) {
  widgets = Array.from({ length: n }, (_, i) => ({
    id: `w${String(i).padStart(4, '0')}`,
    name: `Widget ${i}`,
    email: `w${i}@x.test`,
    updated_at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
  }));
}

const PAGINATION = {
  cursor: { style: 'cursor', cursorParam: 'after', cursorPath: 'next', limitParam: 'limit' },
  offset: { style: 'offset', offsetParam: 'offset', limitParam: 'limit', totalPath: 'total' },
  page: { style: 'page', pageParam: 'page', limitParam: 'per_page', totalPagesPath: 'pages' },
  link: { style: 'link', limitParam: 'limit' },
} as const;
const RECORDS_PATH = { cursor: 'data.items', offset: 'results', page: 'rows', link: '' } as const;

function config(style: keyof typeof PAGINATION) {
  return {
    baseUrl: base,
    auth: { type: 'bearer' },
    entities: {
      customer: {
        listPath: `/${style}/widgets`,
        recordsPath: RECORDS_PATH[style],
        updatedAtField: 'updated_at',
        pagination: PAGINATION[style],
        incremental: { param: 'updated_since' },
        getPath: `/${style}/widgets/{id}`,
        create: { path: `/${style}/widgets`, idempotencyHeader: 'Idempotency-Key' },
        update: { path: `/${style}/widgets/{id}` },
      },
    },
  };
}

const RULES = ['name', 'email'].flatMap((f) => [
  { sourceField: f, targetField: f, direction: 'inbound' as const },
  { sourceField: f, targetField: f, direction: 'outbound' as const },
]);

describe('generic REST connector (PGlite)', () => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
    failNext = { status: 0, count: 0 };
    maxPageSize = Number.POSITIVE_INFINITY;
    seen = [];
  });

  async function setup(style: keyof typeof PAGINATION, token = TOKEN, direction = 'inbound') {
    h = await createHarness({ name: 'pglite' }, `rest-${style}-${direction}`, {
      providers: [createRestProvider({ retry: { attempts: 4, baseDelayMs: 5, maxDelayMs: 500 } })],
    });
    const conn = await h.engine.connections.create({
      name: 'Widgets',
      provider: 'rest',
      config: config(style),
      credentials: { token },
    });
    const job = await h.engine.jobs.create({
      connectionId: conn.id,
      name: 'Widgets',
      entityType: 'customer',
      direction,
      mode: 'incremental',
      fieldMappings: RULES,
    });
    return { conn, job };
  }

  for (const style of ['cursor', 'offset', 'page', 'link'] as const) {
    it(`${style} pagination: a full sync reads every record once`, async () => {
      seedWidgets(250);
      const { job } = await setup(style);
      const e = await h.engine.runJob(job.id);
      expect(e.status).toBe('completed');
      expect(counters(e)).toEqual({ processed: 250, created: 250, updated: 0, skipped: 0, failed: 0 });
      const n = await h.query<{ n: number }>('SELECT count(DISTINCT email)::int AS n FROM customers');
      expect(n[0]!.n).toBe(250);
      expect(seen.filter((s) => s.method === 'GET').length).toBe(3);
    });
  }

  for (const style of ['offset', 'page'] as const) {
    it(`${style} pagination: an API that caps its page size below the run's still yields every record (the total says more follow)`, async () => {
      seedWidgets(250);
      maxPageSize = 40; // the run asks for 100 a page
      const { job } = await setup(style);
      const e = await h.engine.runJob(job.id);
      expect(e.status).toBe('completed');
      expect(counters(e)).toEqual({ processed: 250, created: 250, updated: 0, skipped: 0, failed: 0 });
      const n = await h.query<{ n: number }>('SELECT count(DISTINCT email)::int AS n FROM customers');
      expect(n[0]!.n).toBe(250);
      expect(seen.filter((s) => s.method === 'GET').length).toBe(7);
    });
  }

  it('incremental runs send the cursor as the configured query parameter', async () => {
    seedWidgets(20);
    const { job } = await setup('cursor');
    await h.engine.runJob(job.id);
    expect(seen[0]!.url.searchParams.has('updated_since')).toBe(false); // the first run reads everything
    const cursor = (await h.engine.jobs.get(job.id)).cursor!;
    seen = [];
    await h.engine.runJob(job.id);
    expect(seen[0]!.url.searchParams.get('updated_since')).toBe(cursor.toISOString());
  });

  it('429 storms and 5xx bursts are retried; a bad token fails the run once, clearly', async () => {
    seedWidgets(30);
    const { job } = await setup('offset');
    failNext = { status: 429, retryAfter: '0', count: 3 };
    expect((await h.engine.runJob(job.id)).status).toBe('completed');
    await h.close();
    const bad = await setup('offset', 'wrong-token');
    const e = await h.engine.runJob(bad.job.id);
    expect(e.status).toBe('failed');
    expect(e.haltReason).toMatch(/^auth error: rest: 401 bad token/);
    expect(e.processed).toBe(0);
  });

  it('outbound: creates carry the idempotency key, updates go to the update path, bad records fail alone', async () => {
    seedWidgets(0);
    const { job } = await setup('cursor', TOKEN, 'outbound');
    // Changed a second before the first run: the incremental cursor (the run's start, kept to the millisecond)
    // cannot fall within the same millisecond and read B again in the second run.
    await h.query(
      "INSERT INTO customers (id, name, email, updated_at) VALUES (gen_random_uuid(), 'A', 'a@x.test', clock_timestamp() - interval '1 second'), (gen_random_uuid(), 'B', 'b@x.test', clock_timestamp() - interval '1 second')",
    );
    const e = await h.engine.runJob(job.id);
    expect(counters(e)).toEqual({ processed: 2, created: 2, updated: 0, skipped: 0, failed: 0 });
    const posts = seen.filter((s) => s.method === 'POST');
    expect(posts.map((p) => typeof p.headers['idempotency-key'])).toEqual(['string', 'string']);
    expect(widgets.map((w) => w.email).sort()).toEqual(['a@x.test', 'b@x.test']);
    await h.query(
      "UPDATE customers SET name = 'A2', updated_at = clock_timestamp() + interval '1 second' WHERE email = 'a@x.test'",
    );
    await h.query("INSERT INTO customers (id, name, email) VALUES (gen_random_uuid(), 'C', 'not-an-email')");
    const e2 = await h.engine.runJob(job.id);
    expect(counters(e2)).toEqual({ processed: 2, created: 0, updated: 1, skipped: 0, failed: 1 });
    expect(widgets.find((w) => w.email === 'a@x.test')!.name).toBe('A2');
    const [f] = await h.engine.executions.failures(e2.id);
    expect([f!.side, f!.errorKind, f!.message]).toEqual(['provider', 'record', 'rest: 422 email is invalid']);
  });

  it('refuses a bad config with paths, and entity types come from the config', async () => {
    h = await createHarness({ name: 'pglite' }, 'rest-config', { providers: [createRestProvider()] });
    const err = await h.engine.connections
      .create({
        name: 'W',
        provider: 'rest',
        config: {
          baseUrl: 'ftp://x',
          entities: { customer: { listPath: 'widgets', pagination: { style: 'sideways' } } },
        },
      })
      .catch((e) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.issues.map((i: { path: string }) => i.path)).toEqual([
      'config.baseUrl',
      'config.entities.customer.listPath',
      'config.entities.customer.pagination.style',
    ]);
    const conn = await h.engine.connections.create({
      name: 'W',
      provider: 'rest',
      config: config('cursor'),
      credentials: { token: TOKEN },
    });
    const bad = await h.engine.jobs
      .create({ connectionId: conn.id, name: 'x', entityType: 'invoice', direction: 'inbound' })
      .catch((e) => e);
    expect(bad.issues).toEqual([{ path: 'entityType', message: expect.stringMatching(/must be one of customer/) }]);
  });
});

/**
 * Writes against a provider that cannot dedupe (no idempotency header): a batch that fails part-way must report
 * per-op results, so that only what did not succeed is sent again; and lookup-before-create by an external-id field.
 */
describe('generic REST connector: partial batches and lookup-before-create', () => {
  /** The HTTP client's retry budget in these tests: 3 tries per request. */
  const HTTP_RETRY = { attempts: 3, baseDelayMs: 1, maxDelayMs: 10 };
  let server: RestPeopleServer;
  afterEach(async () => {
    await server?.close();
  });

  async function endpoint(options: { lookup?: boolean; retry?: typeof HTTP_RETRY } = {}): Promise<Endpoint> {
    server = await startRestPeopleServer();
    const provider = createRestProvider({ retry: options.retry ?? HTTP_RETRY });
    return provider.createEndpoint({
      id: 'c1',
      provider: 'rest',
      config: restPeopleConfig(server.url, { idempotencyHeader: false, lookup: options.lookup ?? false }),
      credentials: { token: server.token },
    });
  }

  const creates = (...ns: number[]): WriteOp[] =>
    ns.map((n) => ({
      action: 'create',
      targetId: null,
      data: { name: `Person ${n}`, email: `p${n}@x.test` },
      idempotencyKey: `key-${n}`,
      sourceId: `local-${n}`,
    }));
  const write = (ep: Endpoint, ops: WriteOp[]) =>
    ep.write({ entityType: 'person', ops, signal: new AbortController().signal });
  const kinds = (results: WriteResult[]) =>
    results.map((r) => (r.ok ? 'ok' : r.error instanceof ProviderError ? r.error.kind : 'other'));
  const emailsAtServer = () => [...server.people.values()].map((p) => p.email).sort();

  it('a transient failure part-way through a batch fails only the rest; sending those again makes no duplicates', async () => {
    const ep = await endpoint();
    // The 3rd create answers 503 longer than the HTTP client retries (3 tries).
    server.faults.creates = [{ email: 'p3@x.test', nextN: 3 }];
    const ops = creates(1, 2, 3, 4, 5);
    const results = await write(ep, ops);
    expect(kinds(results)).toEqual(['ok', 'ok', 'transient', 'transient', 'transient']);
    expect(server.requests.created.map((p) => p.email)).toEqual(['p1@x.test', 'p2@x.test']);
    // Records 4 and 5 were not attempted: the only POSTs are the two creates and the three tries of record 3.
    expect(server.requests.byRoute['POST /people']).toBe(5);
    expect(String((results[3] as { error: unknown }).error)).toMatch(/not attempted/);

    const failed = ops.filter((_, i) => !results[i]!.ok);
    const again = await write(ep, failed);
    expect(kinds(again)).toEqual(['ok', 'ok', 'ok']);
    expect(server.requests.created).toHaveLength(5);
    expect(emailsAtServer()).toEqual(['p1@x.test', 'p2@x.test', 'p3@x.test', 'p4@x.test', 'p5@x.test']);
  });

  it('a transient failure on the first op, before anything was applied, fails the whole call', async () => {
    const ep = await endpoint();
    server.faults.creates = [{ email: 'p1@x.test', nextN: 3 }];
    const err = await write(ep, creates(1, 2)).catch((e) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err.kind).toBe('transient');
    expect(server.requests.created).toHaveLength(0);
  });

  it('an auth error after some ops were applied is reported per op; the rest are not attempted', async () => {
    const ep = await endpoint();
    server.faults.creates = [{ email: 'p2@x.test', nextN: 1, status: 401 }];
    const results = await write(ep, creates(1, 2, 3));
    expect(kinds(results)).toEqual(['ok', 'auth', 'auth']);
    expect(server.requests.created.map((p) => p.email)).toEqual(['p1@x.test']);
    expect(server.requests.byRoute['POST /people']).toBe(2);
    // Before anything was applied, an auth error fails the call.
    server.faults.creates = [{ email: 'p4@x.test', nextN: 1, status: 401 }];
    const err = await write(ep, creates(4, 5)).catch((e) => e);
    expect([err instanceof ProviderError, err.kind]).toEqual([true, 'auth']);
  });

  it('through the engine: the batch is not sent again, only the failed creates are', async () => {
    const h = await createHarness(TEST_DATABASES[0]!, 'rest-partial-batch', {
      providers: [createRestProvider({ retry: HTTP_RETRY })],
      entities: { person: { table: 'customers', primaryKey: 'id', updatedAtColumn: 'updated_at' } },
    });
    try {
      server = await startRestPeopleServer();
      const conn = await h.engine.connections.create({
        name: 'People',
        provider: 'rest',
        config: restPeopleConfig(server.url, { idempotencyHeader: false }),
        credentials: { token: server.token },
      });
      const job = await h.engine.jobs.create({
        connectionId: conn.id,
        name: 'People out',
        entityType: 'person',
        direction: 'outbound',
        mode: 'full',
        fieldMappings: [
          { sourceField: 'name', targetField: 'name', direction: 'outbound' },
          { sourceField: 'email', targetField: 'email', direction: 'outbound' },
        ],
      });
      await h.query(
        "INSERT INTO customers (id, name, email) SELECT gen_random_uuid(), 'Person ' || i, 'p' || i || '@x.test' FROM generate_series(1, 5) i",
      );
      // One create answers 503 past the HTTP client's retries, then works on the engine's retry.
      server.faults.creates = [{ email: 'p3@x.test', nextN: 3 }];
      const e = await h.engine.runJob(job.id);
      expect(counters(e)).toEqual({ processed: 5, created: 5, updated: 0, skipped: 0, failed: 0 });
      expect(server.requests.created).toHaveLength(5);
      expect(emailsAtServer()).toEqual(['p1@x.test', 'p2@x.test', 'p3@x.test', 'p4@x.test', 'p5@x.test']);
    } finally {
      await h.close();
    }
  });

  it('through the engine, with lookup: a record carrying the local id is updated; lost answers duplicate nothing', async () => {
    const h = await createHarness(TEST_DATABASES[0]!, 'rest-lookup-engine', {
      providers: [createRestProvider({ retry: HTTP_RETRY })],
      entities: { person: { table: 'customers', primaryKey: 'id', updatedAtColumn: 'updated_at' } },
    });
    try {
      server = await startRestPeopleServer();
      const conn = await h.engine.connections.create({
        name: 'People',
        provider: 'rest',
        config: restPeopleConfig(server.url, { idempotencyHeader: false, lookup: true }),
        credentials: { token: server.token },
      });
      const job = await h.engine.jobs.create({
        connectionId: conn.id,
        name: 'People out',
        entityType: 'person',
        direction: 'outbound',
        mode: 'full',
        fieldMappings: [
          { sourceField: 'name', targetField: 'name', direction: 'outbound' },
          { sourceField: 'email', targetField: 'email', direction: 'outbound' },
        ],
      });
      const [row] = await h.query<{ id: string }>(
        "INSERT INTO customers (id, name, email) VALUES (gen_random_uuid(), 'Person 1', 'p1@x.test') RETURNING id::text",
      );
      await h.query(
        "INSERT INTO customers (id, name, email) SELECT gen_random_uuid(), 'Person ' || i, 'p' || i || '@x.test' FROM generate_series(2, 4) i",
      );
      // Written by an earlier run whose reference was lost.
      const earlier = server.put({ name: 'Old', email: 'old@x.test', external_id: row!.id });
      // Two creates are applied but answered 503: the retry looks them up first and finds them.
      server.faults.creates = [
        { email: 'p2@x.test', nextN: 1, afterWrite: true },
        { email: 'p3@x.test', nextN: 1, afterWrite: true },
      ];
      const e = await h.engine.runJob(job.id);
      expect(e.status).toBe('completed');
      expect(counters(e)).toEqual({ processed: 4, created: 4, updated: 0, skipped: 0, failed: 0 });
      expect(server.people.get(earlier.id)).toMatchObject({ name: 'Person 1', email: 'p1@x.test' });
      expect(emailsAtServer()).toEqual(['p1@x.test', 'p2@x.test', 'p3@x.test', 'p4@x.test']);
      expect(server.requests.created).toHaveLength(3);
      const again = await h.engine.runJob(job.id);
      expect(counters(again)).toEqual({ processed: 4, created: 0, updated: 0, skipped: 4, failed: 0 });
    } finally {
      await h.close();
    }
  });

  it('lookup-before-create: a record that already carries the source id is updated, not created', async () => {
    const ep = await endpoint({ lookup: true });
    const existing = server.put({ name: 'Old', email: 'old@x.test', external_id: 'local-1' });
    server.put({ name: 'Other', email: 'other@x.test', external_id: 'local-9' });
    const results = await write(ep, creates(1, 2));
    expect(results[0]).toEqual({ ok: true, id: existing.id });
    expect(server.people.get(existing.id)).toMatchObject({ name: 'Person 1', email: 'p1@x.test' });
    // The create carries the source id in the lookup field, so that the next lookup finds it.
    expect(server.requests.created.map((p) => [p.email, p.external_id])).toEqual([['p2@x.test', 'local-2']]);
    expect(results[1]).toEqual({ ok: true, id: server.requests.created[0]!.id });
    expect(server.requests.byRoute['GET /people?external_id']).toBe(2);
    expect(server.requests.byRoute['PATCH /people/:id']).toBe(1);
    expect(server.requests.byRoute['GET /people']).toBeUndefined();
    // Written again (say, after a lost reference): both are found, nothing is created.
    const again = await write(ep, creates(1, 2));
    expect(again).toEqual(results);
    expect(server.people.size).toBe(3);
  });

  it('lookup-before-create: a lost create response is looked up before the retry, inside one write', async () => {
    const ep = await endpoint({ lookup: true });
    server.faults.creates = [{ email: 'p1@x.test', nextN: 1, afterWrite: true }];
    const results = await write(ep, creates(1));
    expect(kinds(results)).toEqual(['ok']);
    expect(server.requests.created).toHaveLength(1);
    expect(results[0]).toEqual({ ok: true, id: server.requests.created[0]!.id });
    expect(server.people.size).toBe(1);
    expect(server.requests.byRoute['POST /people']).toBe(1);
  });

  it('lookup-before-create: a lost create response sent again by the engine never duplicates', async () => {
    // One try per request: the lost response surfaces as a transient failure of that op.
    const ep = await endpoint({ lookup: true, retry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 } });
    server.faults.creates = [{ email: 'p2@x.test', nextN: 1, afterWrite: true }];
    const ops = creates(1, 2, 3);
    const results = await write(ep, ops);
    expect(kinds(results)).toEqual(['ok', 'transient', 'transient']);
    expect(server.requests.created.map((p) => p.email)).toEqual(['p1@x.test', 'p2@x.test']);
    const again = await write(ep, ops.slice(1));
    expect(kinds(again)).toEqual(['ok', 'ok']);
    expect(again[0]).toEqual({ ok: true, id: server.requests.created[1]!.id });
    expect(emailsAtServer()).toEqual(['p1@x.test', 'p2@x.test', 'p3@x.test']);
    // The same on the first op of a call: the call fails, and the call sent again finds the record.
    server.faults.creates = [{ email: 'p4@x.test', nextN: 1, afterWrite: true }];
    await expect(write(ep, creates(4))).rejects.toMatchObject({ kind: 'transient' });
    expect(kinds(await write(ep, creates(4)))).toEqual(['ok']);
    expect(server.people.size).toBe(4);
    expect(new Set(emailsAtServer()).size).toBe(4);
  });

  it('refuses a bad lookup config, naming the field', async () => {
    const h = await createHarness(TEST_DATABASES[0]!, 'rest-lookup-config', { providers: [createRestProvider()] });
    try {
      const withLookup = (lookup: unknown, create = true) => {
        const c = restPeopleConfig('http://127.0.0.1:1', { idempotencyHeader: false }) as {
          entities: { person: Record<string, unknown> };
        };
        c.entities.person.lookup = lookup;
        if (!create) delete c.entities.person.create;
        return h.engine.connections
          .create({ name: 'P', provider: 'rest', config: c, credentials: { token: 't' } })
          .catch((e) => e);
      };
      const bad = await withLookup({ field: '', param: 7, extra: true });
      expect(bad).toBeInstanceOf(ValidationError);
      expect(bad.issues).toEqual([
        { path: 'config.entities.person.lookup.field', message: 'must name the field that holds the source id' },
        { path: 'config.entities.person.lookup.param', message: expect.stringMatching(/string/) },
        { path: 'config.entities.person.lookup.extra', message: 'is not a recognized field' },
      ]);
      const noCreate = await withLookup({ field: 'external_id' }, false);
      expect(noCreate.issues).toEqual([
        { path: 'config.entities.person.lookup', message: expect.stringMatching(/create/) },
      ]);
      // A valid lookup is accepted; the query parameter defaults to the field's name.
      const ok = await withLookup({ field: 'external_id' });
      expect(ok.id).toEqual(expect.any(String));
    } finally {
      await h.close();
    }
  });
});
