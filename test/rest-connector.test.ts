import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRestProvider } from '../src/connectors/rest/index.ts';
import { ValidationError } from '../src/domain/errors.ts';
import { counters, createHarness, type Harness } from './helpers/db.ts';

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
      const limit = Number(url.searchParams.get('limit') ?? url.searchParams.get('per_page') ?? 10);
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
    expect(e.haltReason).toBe('auth error: rest: 401 bad token');
    expect(e.processed).toBe(0);
  });

  it('outbound: creates carry the idempotency key, updates go to the update path, bad records fail alone', async () => {
    seedWidgets(0);
    const { job } = await setup('cursor', TOKEN, 'outbound');
    await h.query(
      "INSERT INTO customers (id, name, email) VALUES (gen_random_uuid(), 'A', 'a@x.test'), (gen_random_uuid(), 'B', 'b@x.test')",
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
