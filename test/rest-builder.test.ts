import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { stringify as toYaml } from 'yaml';
import { buildServer } from '../src/api/server.ts';
import type { OutboundPolicy } from '../src/connectors/http/guard.ts';
import { CURSOR_EXAMPLE, PAGE_EXAMPLE, REST_EXAMPLES } from '../src/connectors/rest/examples.ts';
import { createRestProvider, restConfigSchema, restEntitySchema } from '../src/connectors/rest/index.ts';
import { createHarness, type Harness, TEST_DATABASES } from './helpers/db.ts';

/**
 * The REST connection builder through the real API (`buildServer` on an engine with the REST provider): "Test
 * stream" against two local APIs served over real HTTP — a cursor-paginated one (`/v1/contacts`, bearer token or
 * `?api_key=`) and a page-numbered one (`/members`, an X-Api-Key header) — OpenAPI import from text and from a URL,
 * and the two ready examples syncing end to end.
 */

// biome-ignore lint/suspicious/noExplicitAny: JSON answers
type Json = any;
const TOKEN = 'tok-SECRET-1234567890';
const API_KEY = 'key-SECRET-abcdefghij';

interface Contact {
  id: string;
  name: string;
  email: string;
  updated_at: string;
}
interface Member {
  member_id: string;
  name: string;
  email: string;
  modified_at: string;
}
let contacts: Contact[] = [];
let members: Member[] = [];
/** The page-numbered API's largest page (it ignores a larger per_page, as many APIs do). */
let memberPageCap = 1000;
let seen: { method: string; url: string }[] = [];
let documents: Record<string, { type: string; body: string }> = {};
let api: Server;
let base: string;

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function handle(req: IncomingMessage, res: ServerResponse, raw: string) {
  const url = new URL(req.url!, 'http://x');
  seen.push({ method: req.method!, url: url.pathname + url.search });
  const body = raw ? JSON.parse(raw) : undefined;
  const doc = documents[url.pathname];
  if (doc) {
    res.writeHead(200, { 'content-type': doc.type });
    return res.end(doc.body);
  }
  if (url.pathname.startsWith('/v1/')) {
    const bearer = req.headers.authorization === `Bearer ${TOKEN}`;
    if (!bearer && url.searchParams.get('api_key') !== API_KEY) {
      // Some APIs quote what they were sent: the builder must not pass it on.
      const sent = (req.headers.authorization ?? '').replace(/^Bearer /, '') || url.searchParams.get('api_key');
      return send(res, 401, { message: `token ${sent} is not valid` });
    }
    if (url.pathname === '/v1/linked') {
      // A bare array, the next page in a Link header.
      const from = Number(url.searchParams.get('from') ?? 0);
      const limit = Number(url.searchParams.get('limit') ?? 10);
      const next =
        from + limit < contacts.length ? `<${base}/v1/linked?from=${from + limit}&limit=${limit}>; rel="next"` : '';
      return send(res, 200, contacts.slice(from, from + limit), next ? { link: next } : {});
    }
    if (url.pathname === '/v1/charges') {
      // Stripe style: `starting_after=<last id>`, `has_more`.
      const limit = Number(url.searchParams.get('limit') ?? 10);
      const after = url.searchParams.get('starting_after');
      const start = after ? contacts.findIndex((c) => c.id === after) + 1 : 0;
      const page = contacts.slice(start, start + limit);
      return send(res, 200, { object: 'list', data: page, has_more: start + limit < contacts.length });
    }
    if (url.pathname === '/v1/html') {
      res.writeHead(200, { 'content-type': 'text/html' });
      return res.end('<html><body>Sign in</body></html>');
    }
    const m = /^\/v1\/contacts(?:\/([^/]+))?$/.exec(url.pathname);
    if (!m) return send(res, 404, { message: 'no route' });
    const id = m[1] ? decodeURIComponent(m[1]) : null;
    const now = new Date().toISOString();
    if (id) {
      const c = contacts.find((x) => x.id === id);
      if (!c) return send(res, 404, { message: 'not found' });
      if (req.method === 'PATCH') Object.assign(c, body, { updated_at: now });
      if (req.method === 'DELETE') contacts = contacts.filter((x) => x !== c);
      return send(res, 200, c);
    }
    if (req.method === 'POST') {
      const c = { ...body, id: `n${contacts.length}`, updated_at: now } as Contact;
      contacts.push(c);
      return send(res, 201, c);
    }
    const since = url.searchParams.get('updated_since');
    const all = contacts.filter((c) => !since || c.updated_at >= since);
    const limit = Number(url.searchParams.get('limit') ?? 10);
    const cursor = url.searchParams.get('cursor');
    const start = cursor ? all.findIndex((c) => c.id === cursor) + 1 : 0;
    const page = all.slice(start, start + limit);
    return send(res, 200, { data: page, next_cursor: start + limit < all.length ? page.at(-1)!.id : null });
  }
  if (url.pathname.startsWith('/members')) {
    if (req.headers['x-api-key'] !== API_KEY) return send(res, 401, { message: 'missing or wrong X-Api-Key' });
    const m = /^\/members(?:\/([^/]+))?$/.exec(url.pathname);
    if (!m) return send(res, 404, { message: 'no route' });
    if (m[1]) {
      const x = members.find((y) => y.member_id === m[1]);
      if (!x) return send(res, 404, { message: 'not found' });
      if (req.method === 'PUT') Object.assign(x, body, { modified_at: new Date().toISOString() });
      return send(res, 200, x);
    }
    if (req.method === 'POST') {
      const x = { ...body, member_id: `m${members.length}`, modified_at: new Date().toISOString() } as Member;
      members.push(x);
      return send(res, 201, x);
    }
    const perPage = Math.min(Number(url.searchParams.get('per_page') ?? 20), memberPageCap);
    const page = Number(url.searchParams.get('page') ?? 1);
    return send(res, 200, {
      results: members.slice((page - 1) * perPage, page * perPage),
      page,
      total_pages: Math.ceil(members.length / perPage),
    });
  }
  return send(res, 404, { message: 'no route' });
}

beforeAll(async () => {
  api = createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => {
      raw += d;
    });
    req.on('end', () => handle(req, res, raw));
  });
  await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
});
afterAll(async () => {
  api.closeAllConnections();
  await new Promise<void>((r) => api.close(() => r()));
});
beforeEach(() => {
  seen = [];
  documents = {};
  memberPageCap = 1000;
  contacts = Array.from({ length: 25 }, (_, i) => ({
    id: `c${String(i).padStart(4, '0')}`,
    name: `Contact ${i}`,
    email: `c${i}@x.test`,
    updated_at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
  }));
  members = Array.from({ length: 25 }, (_, i) => ({
    member_id: `m${String(i).padStart(4, '0')}`,
    name: `Member ${i}`,
    email: `m${i}@x.test`,
    modified_at: new Date(Date.UTC(2026, 1, 1, 0, 0, i)).toISOString(),
  }));
});

/** The cursor example, pointed at the local API. */
const cursorConfig = (entity: Record<string, unknown> = {}, top: Record<string, unknown> = {}) => {
  const c = structuredClone(CURSOR_EXAMPLE.config) as Json;
  c.baseUrl = `${base}/v1`;
  Object.assign(c.entities.contacts, entity);
  return { ...c, ...top };
};
const pageConfig = (entity: Record<string, unknown> = {}) => {
  const c = structuredClone(PAGE_EXAMPLE.config) as Json;
  c.baseUrl = base;
  Object.assign(c.entities.members, entity);
  return c;
};

let h: Harness | null = null;
let app: Awaited<ReturnType<typeof buildServer>> | null = null;
afterEach(async () => {
  await app?.close();
  await h?.close();
  app = null;
  h = null;
});

/** An API server on an engine whose REST provider has `outbound` as its policy (default: loopback allowed). */
async function start(outbound?: OutboundPolicy) {
  h = await createHarness({ name: 'pglite' }, `rest-builder-${outbound ? 'policy' : 'default'}`, {
    providers: [createRestProvider(outbound ? { outbound } : {})],
  });
  app = await buildServer({ engine: h.engine, token: null });
  return async (method: string, path: string, payload?: unknown): Promise<{ status: number; body: Json }> => {
    const res = await app!.inject({
      method: method as 'GET',
      url: `/api/v1${path}`,
      ...(payload === undefined ? {} : { payload: payload as object, headers: { 'content-type': 'application/json' } }),
    });
    return { status: res.statusCode, body: res.json() };
  };
}

describe('POST /providers/rest/test-stream', () => {
  it('reads two pages of a cursor API: records, detected fields and pagination, the next cursor', async () => {
    const call = await start();
    const res = await call('POST', '/providers/rest/test-stream', {
      config: cursorConfig(),
      credentials: { token: TOKEN },
      entityType: 'contacts',
      pageSize: 10,
    });
    expect(res.status).toBe(200);
    const r = res.body;
    expect(r.problems).toEqual([]);
    expect(r.ok).toBe(true);
    expect(
      r.pages.map((p: Json) => [new URL(p.url).pathname + new URL(p.url).search, p.status, p.recordCount]),
    ).toEqual([
      ['/v1/contacts?limit=10', 200, 10],
      ['/v1/contacts?limit=10&cursor=c0009', 200, 10],
    ]);
    expect(r.pages.map((p: Json) => p.nextCursor)).toEqual(['c0009', 'c0019']);
    expect(r.pages.every((p: Json) => Number.isInteger(p.ms) && p.ms >= 0)).toBe(true);
    expect(r.records).toHaveLength(10);
    expect(r.records[0]).toEqual(contacts[0]);
    expect(r.detected).toEqual({
      recordsPath: 'data',
      idField: 'id',
      updatedAtField: 'updated_at',
      pagination: { style: 'cursor', cursorParam: 'cursor', cursorPath: 'next_cursor', limitParam: 'limit' },
    });
    expect(r.nextCursor).toBe('c0019');
    expect(r.timing.totalMs).toBeGreaterThanOrEqual(0);
    expect(JSON.stringify(r)).not.toContain(TOKEN);
  });

  it('reads a page-numbered API, and proposes what it sees', async () => {
    const call = await start();
    const res = await call('POST', '/providers/rest/test-stream', {
      config: pageConfig(),
      credentials: { apiKey: API_KEY },
      entityType: 'members',
      pageSize: 10,
    });
    expect(res.status).toBe(200);
    expect(res.body.problems).toEqual([]);
    expect(res.body.pages.map((p: Json) => p.recordCount)).toEqual([10, 10]);
    expect(res.body.nextCursor).toBe('3');
    expect(res.body.detected).toEqual({
      recordsPath: 'results',
      idField: 'member_id',
      updatedAtField: 'modified_at',
      pagination: {
        style: 'page',
        pageParam: 'page',
        limitParam: 'per_page',
        firstPage: 1,
        totalPagesPath: 'total_pages',
      },
    });
  });

  it('a Link-header API whose body is the list: recordsPath "" and link pagination are detected', async () => {
    const call = await start();
    const res = await call('POST', '/providers/rest/test-stream', {
      config: cursorConfig({
        listPath: '/linked',
        recordsPath: '',
        pagination: { style: 'link', limitParam: 'limit' },
      }),
      credentials: { token: TOKEN },
      entityType: 'contacts',
      pageSize: 10,
    });
    expect(res.body.problems).toEqual([]);
    expect(res.body.pages.map((p: Json) => p.url.replace(base, ''))).toEqual([
      '/v1/linked?limit=10',
      '/v1/linked?from=10&limit=10',
    ]);
    expect(res.body.detected).toMatchObject({
      recordsPath: '',
      idField: 'id',
      pagination: { style: 'link', limitParam: 'limit' },
    });
    expect(res.body.nextCursor).toBe(`${base}/v1/linked?from=20&limit=10`);
  });

  it('a Stripe-style API (starting_after the last id while has_more): proposed, and it pages', async () => {
    const call = await start();
    const stripeStyle = {
      style: 'cursor',
      cursorParam: 'starting_after',
      cursorField: 'id',
      hasMorePath: 'has_more',
      limitParam: 'limit',
    };
    // Configured as a plain cursor API, the test proposes the Stripe style.
    const guessed = await call('POST', '/providers/rest/test-stream', {
      config: cursorConfig({ listPath: '/charges' }),
      credentials: { token: TOKEN },
      entityType: 'contacts',
      pageSize: 10,
    });
    expect(guessed.body.detected.pagination).toEqual({ ...stripeStyle, cursorParam: 'cursor' });
    expect(guessed.body.problems).toEqual([
      'cursor path `next_cursor` not found in the response: a run would stop after the first page; the response says whether more follow at `has_more` (page after the last record: cursorField)',
    ]);
    const res = await call('POST', '/providers/rest/test-stream', {
      config: cursorConfig({ listPath: '/charges', pagination: stripeStyle }),
      credentials: { token: TOKEN },
      entityType: 'contacts',
      pageSize: 10,
    });
    expect(res.body.problems).toEqual([]);
    expect(res.body.pages.map((p: Json) => p.url.replace(base, ''))).toEqual([
      '/v1/charges?limit=10',
      '/v1/charges?limit=10&starting_after=c0009',
    ]);
    expect(res.body.detected.pagination).toEqual(stripeStyle);
    expect(res.body.nextCursor).toBe('c0019');
  });

  it('an answer that is not JSON is a problem that says what it is', async () => {
    const call = await start();
    const res = await call('POST', '/providers/rest/test-stream', {
      config: cursorConfig({ listPath: '/html' }),
      credentials: { token: TOKEN },
      entityType: 'contacts',
    });
    expect(res.body.ok).toBe(false);
    expect(res.body.problems).toEqual([
      'GET /v1/html?limit=100 answered `text/html`, not JSON (application/json): the connector reads JSON answers',
    ]);
    expect(res.body.detected).toEqual({ recordsPath: null, idField: null, updatedAtField: null, pagination: null });
  });

  it('query-parameter auth: the API key never shows in URLs or cursors', async () => {
    const call = await start();
    const res = await call('POST', '/providers/rest/test-stream', {
      config: cursorConfig({}, { auth: { type: 'query', name: 'api_key' } }),
      credentials: { apiKey: API_KEY },
      entityType: 'contacts',
      pageSize: 10,
    });
    expect(res.body.ok).toBe(true);
    expect(seen[0]!.url).toContain(`api_key=${API_KEY}`); // it was sent…
    expect(JSON.stringify(res.body)).not.toContain(API_KEY); // …and not returned
    expect(res.body.pages[0].url).toBe(`${base}/v1/contacts?limit=10`);
  });

  it('user info in the base URL is never returned', async () => {
    const call = await start();
    const res = await call('POST', '/providers/rest/test-stream', {
      config: cursorConfig({}, { baseUrl: `${base.replace('http://', 'http://admin:pa55-w0rd@')}/v1` }),
      credentials: { token: TOKEN },
      entityType: 'contacts',
    });
    expect(res.status).toBe(200);
    expect(res.body.ok).toBe(false);
    expect(JSON.stringify(res.body)).not.toContain('pa55-w0rd');
    expect(res.body.pages[0].url).toBe(`${base}/v1/contacts?limit=100`);
    expect(res.body.problems).toEqual([
      `GET /v1/contacts?limit=100 failed: network error: Request cannot be constructed from a URL that includes credentials: ${base.replace('http://', 'http://***:***@')}/v1/contacts?limit=100`,
    ]);
  });

  it('a wrong records path: the problem names what the response has; the records found are shown', async () => {
    const call = await start();
    const res = await call('POST', '/providers/rest/test-stream', {
      config: cursorConfig({ recordsPath: 'items' }),
      credentials: { token: TOKEN },
      entityType: 'contacts',
      pageSize: 10,
    });
    expect(res.status).toBe(200);
    expect(res.body.ok).toBe(false);
    expect(res.body.problems).toEqual(['records path `items` not found; the response has `data` (array of 10)']);
    expect(res.body.detected.recordsPath).toBe('data');
    expect(res.body.records).toHaveLength(10);
    expect(res.body.pages).toHaveLength(1);
    expect(res.body.nextCursor).toBeNull();
  });

  it('a wrong list path: HTTP 404, in words', async () => {
    const call = await start();
    const res = await call('POST', '/providers/rest/test-stream', {
      config: cursorConfig({ listPath: '/contactz' }),
      credentials: { token: TOKEN },
      entityType: 'contacts',
    });
    expect(res.status).toBe(200);
    expect(res.body.ok).toBe(false);
    expect(res.body.pages).toEqual([
      { url: `${base}/v1/contactz?limit=100`, status: 404, ms: expect.any(Number), recordCount: 0, nextCursor: null },
    ]);
    expect(res.body.problems).toEqual([
      'HTTP 404 from GET /v1/contactz?limit=100: check the list path (`/contactz`) and the base URL (the API says: no route)',
    ]);
  });

  it('wrong credentials: HTTP 401, and what the API echoes of them is masked', async () => {
    const call = await start();
    const wrong = 'wrong-token-0987654321';
    const res = await call('POST', '/providers/rest/test-stream', {
      config: cursorConfig(),
      credentials: { token: wrong },
      entityType: 'contacts',
    });
    expect(res.status).toBe(200);
    expect(res.body.ok).toBe(false);
    expect(res.body.problems).toEqual([
      'HTTP 401 from GET /v1/contacts?limit=100: check the credentials (the API says: token *** is not valid)',
    ]);
    expect(JSON.stringify(res.body)).not.toContain(wrong);
    expect(res.body.records).toEqual([]);
  });

  it('pagination that does not advance: the second page repeated the first', async () => {
    const call = await start();
    const res = await call('POST', '/providers/rest/test-stream', {
      // The API takes the cursor as `cursor`; `after` is ignored, so every request reads the first page.
      config: cursorConfig({
        pagination: { style: 'cursor', cursorParam: 'after', cursorPath: 'next_cursor', limitParam: 'limit' },
      }),
      credentials: { token: TOKEN },
      entityType: 'contacts',
      pageSize: 10,
    });
    expect(res.body.ok).toBe(false);
    expect(res.body.pages.map((p: Json) => p.url.replace(base, ''))).toEqual([
      '/v1/contacts?limit=10',
      '/v1/contacts?limit=10&after=c0009',
    ]);
    expect(res.body.problems).toEqual([
      'the second page repeated the first page: pagination does not advance (check cursorParam `after`)',
    ]);
  });

  it('a cursor path the response does not have, and a page size the API caps: a run would stop early', async () => {
    const call = await start();
    const cursor = await call('POST', '/providers/rest/test-stream', {
      config: cursorConfig({
        pagination: { style: 'cursor', cursorParam: 'cursor', cursorPath: 'next', limitParam: 'limit' },
      }),
      credentials: { token: TOKEN },
      entityType: 'contacts',
      pageSize: 10,
    });
    expect(cursor.body.problems).toEqual([
      'cursor path `next` not found in the response: a run would stop after the first page; the response has a next cursor at `next_cursor`',
    ]);
    expect(cursor.body.detected.pagination.cursorPath).toBe('next_cursor');

    memberPageCap = 5;
    // With the page count configured (totalPagesPath), the count decides: a short page is not the last.
    const counted = await call('POST', '/providers/rest/test-stream', {
      config: pageConfig(),
      credentials: { apiKey: API_KEY },
      entityType: 'members',
      pageSize: 10,
    });
    expect(counted.body.problems).toEqual([]);
    expect(counted.body.nextCursor).toBe('3'); // after the two pages the stream test reads
    // Without it, a run takes the short page for the last one.
    const uncounted = pageConfig();
    delete uncounted.entities.members.pagination.totalPagesPath;
    const page = await call('POST', '/providers/rest/test-stream', {
      config: uncounted,
      credentials: { apiKey: API_KEY },
      entityType: 'members',
      pageSize: 10,
    });
    expect(page.body.ok).toBe(false);
    expect(page.body.problems).toEqual([
      'the first page has 5 records where 10 were asked for (limitParam `per_page`), yet the response says more follow: a run takes a short page for the last one and would stop here (check limitParam; the API may cap its page size: set `totalPagesPath` so that the total decides)',
    ]);
  });

  it('problems with the records: a missing id field and a change-time field that holds no date', async () => {
    const call = await start();
    const res = await call('POST', '/providers/rest/test-stream', {
      config: cursorConfig({ idField: 'contact_id', updatedAtField: 'name' }),
      credentials: { token: TOKEN },
      entityType: 'contacts',
      pageSize: 10,
    });
    expect(res.body.problems).toEqual([
      '10 of 10 records have no `contact_id` (idField): they would be skipped; the records have `id`, `name`, `email`, `updated_at`; try `id`',
      'updatedAtField `name` holds no date in the records; try `updated_at`: incremental runs and conflict checks need it',
    ]);
  });

  it('invalid input is a 400 naming the field: the config (the connector’s schema), the entity type, credentials', async () => {
    const call = await start();
    const bad = await call('POST', '/providers/rest/test-stream', {
      config: cursorConfig({ listPath: 'contacts' }),
      credentials: { token: TOKEN },
      entityType: 'contacts',
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('validation_failed');
    expect(bad.body.error.details).toEqual([
      { path: 'config.entities.contacts.listPath', message: 'must start with /' },
    ]);

    const style = await call('POST', '/providers/rest/test-stream', {
      config: cursorConfig({ pagination: { style: 'sideways' } }),
      entityType: 'contacts',
    });
    expect(style.body.error.details.map((d: Json) => d.path)).toEqual(['config.entities.contacts.pagination.style']);

    const noCursor = await call('POST', '/providers/rest/test-stream', {
      config: cursorConfig({ pagination: { style: 'cursor', cursorParam: 'cursor' } }),
      credentials: { token: TOKEN },
      entityType: 'contacts',
    });
    expect(noCursor.body.error.details.map((d: Json) => d.path)).toEqual([
      'config.entities.contacts.pagination.cursorPath',
    ]);

    const entity = await call('POST', '/providers/rest/test-stream', {
      config: cursorConfig(),
      credentials: { token: TOKEN },
      entityType: 'deals',
    });
    expect(entity.status).toBe(400);
    expect(entity.body.error.details).toEqual([
      { path: 'entityType', message: "must be one of contacts (the config's entities)" },
    ]);

    const creds = await call('POST', '/providers/rest/test-stream', { config: cursorConfig(), entityType: 'contacts' });
    expect(creds.status).toBe(400);
    expect(creds.body.error.details).toEqual([{ path: 'credentials.token', message: 'is required for bearer auth' }]);

    const missing = await call('POST', '/providers/rest/test-stream', {});
    expect(missing.status).toBe(400);
    expect(missing.body.error.details.map((d: Json) => d.path).sort()).toEqual(['config', 'entityType']);
    expect(seen).toEqual([]);
  });

  it('the outbound guard: a refused address is a problem in words, and nothing is sent', async () => {
    const call = await start({ allowPrivate: false, allowed: [] });
    const res = await call('POST', '/providers/rest/test-stream', {
      config: cursorConfig(),
      credentials: { token: TOKEN },
      entityType: 'contacts',
    });
    expect(res.status).toBe(200);
    expect(res.body.ok).toBe(false);
    expect(res.body.pages).toEqual([
      { url: `${base}/v1/contacts?limit=100`, status: 0, ms: expect.any(Number), recordCount: 0, nextCursor: null },
    ]);
    expect(res.body.problems).toEqual([
      'GET /v1/contacts?limit=100 was not sent: outbound request to 127.0.0.1 refused: 127.0.0.1 is a loopback address (allow it with OTESSE_SYNC_ALLOWED_HOSTS)',
    ]);
    expect(seen).toEqual([]);

    // Cloud metadata: refused whatever the policy.
    const meta = await call('POST', '/providers/rest/test-stream', {
      config: { ...cursorConfig(), baseUrl: 'http://169.254.169.254/latest' },
      credentials: { token: TOKEN },
      entityType: 'contacts',
    });
    expect(meta.body.problems[0]).toMatch(
      /^GET \/latest\/contacts\?limit=100 was not sent: outbound request to 169\.254\.169\.254 refused: .*link-local.*never allowed/,
    );
  });

  it('the outbound guard: an allow-listed loopback address is reached', async () => {
    const call = await start({ allowPrivate: false, allowed: ['127.0.0.1'] });
    const res = await call('POST', '/providers/rest/test-stream', {
      config: cursorConfig(),
      credentials: { token: TOKEN },
      entityType: 'contacts',
    });
    expect(res.body.problems).toEqual([]);
    expect(res.body.notes).toEqual(['the first page was the last one (no next page): pagination could not be tried']);
    expect(res.body.pages.map((p: Json) => p.recordCount)).toEqual([25]);
  });

  it('an unreachable API: no answer, in words', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const call = await start();
    const res = await call('POST', '/providers/rest/test-stream', {
      config: { ...cursorConfig(), baseUrl: `http://127.0.0.1:${port}/v1` },
      credentials: { token: TOKEN },
      entityType: 'contacts',
    });
    expect(res.body.ok).toBe(false);
    expect(res.body.problems).toEqual(['GET /v1/contacts?limit=100 got no answer: could not connect (ECONNREFUSED)']);
  });
});

// ── OpenAPI import ──────────────────────────────────────────────────────────────────────────────────────────

const contactSchema = {
  type: 'object',
  required: ['id', 'email'],
  properties: {
    id: { type: 'string' },
    name: { type: ['string', 'null'] },
    email: { type: 'string' },
    score: { type: 'integer' },
    updated_at: { type: 'string', format: 'date-time' },
  },
};
const openApiDoc = (servers: unknown[] = [{ url: 'https://api.example.com/v1' }]) => ({
  openapi: '3.1.0',
  info: { title: 'Example CRM', version: '1.0' },
  servers,
  security: [{ token: [] }],
  components: {
    securitySchemes: { token: { type: 'http', scheme: 'bearer' } },
    schemas: {
      Contact: contactSchema,
      ContactList: {
        type: 'object',
        properties: {
          data: { type: 'array', items: { $ref: '#/components/schemas/Contact' } },
          next_cursor: { type: ['string', 'null'] },
        },
      },
      Member: {
        allOf: [
          { type: 'object', properties: { member_id: { type: 'string' } }, required: ['member_id'] },
          { type: 'object', properties: { email: { type: 'string' }, modified_at: { type: 'string' } } },
        ],
      },
    },
  },
  paths: {
    '/contacts': {
      get: {
        parameters: [
          { name: 'limit', in: 'query', schema: { type: 'integer' } },
          { name: 'cursor', in: 'query', schema: { type: 'string' } },
          { name: 'updated_since', in: 'query', schema: { type: 'string', format: 'date-time' } },
        ],
        responses: {
          200: {
            description: 'A page of contacts',
            content: { 'application/json': { schema: { $ref: '#/components/schemas/ContactList' } } },
          },
        },
      },
      post: {
        parameters: [{ name: 'Idempotency-Key', in: 'header', schema: { type: 'string' } }],
        responses: {
          201: {
            description: 'Created',
            content: { 'application/json': { schema: { $ref: '#/components/schemas/Contact' } } },
          },
        },
      },
    },
    '/contacts/{contact_id}': {
      parameters: [{ name: 'contact_id', in: 'path', required: true, schema: { type: 'string' } }],
      get: {
        responses: {
          200: {
            description: 'One',
            content: { 'application/json': { schema: { $ref: '#/components/schemas/Contact' } } },
          },
        },
      },
      patch: { responses: { 200: { description: 'Updated' } } },
      delete: { responses: { 204: { description: 'Deleted' } } },
    },
    '/charges': {
      get: {
        parameters: [
          { name: 'limit', in: 'query', schema: { type: 'integer' } },
          { name: 'starting_after', in: 'query', schema: { type: 'string' } },
        ],
        responses: {
          200: {
            description: 'Stripe-style list',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  properties: {
                    object: { type: 'string' },
                    data: { type: 'array', items: { $ref: '#/components/schemas/Contact' } },
                    has_more: { type: 'boolean' },
                  },
                },
              },
            },
          },
        },
      },
    },
    '/members': {
      get: {
        parameters: [
          { name: 'page', in: 'query', schema: { type: 'integer' } },
          { name: 'per_page', in: 'query', schema: { type: 'integer' } },
        ],
        responses: {
          200: {
            description: 'A page of members',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  properties: {
                    results: { type: 'array', items: { $ref: '#/components/schemas/Member' } },
                    total_pages: { type: 'integer' },
                  },
                },
              },
            },
          },
        },
      },
    },
    '/events': {
      get: {
        responses: {
          200: {
            description: 'Events',
            content: {
              'application/json': {
                schema: { type: 'array', items: { type: 'object', properties: { uuid: { type: 'string' } } } },
              },
            },
          },
        },
      },
    },
    '/accounts/{account_id}/notes': {
      get: {
        parameters: [{ name: 'account_id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: {
          200: {
            description: 'Notes',
            content: { 'application/json': { schema: { type: 'array', items: { type: 'object' } } } },
          },
        },
      },
    },
    '/status': {
      get: {
        responses: {
          200: {
            description: 'Not a list',
            content: { 'application/json': { schema: { type: 'object', properties: { ok: { type: 'boolean' } } } } },
          },
        },
      },
    },
    '/tags': {
      get: {
        responses: {
          200: {
            description: 'Strings, not records',
            content: { 'application/json': { schema: { type: 'array', items: { type: 'string' } } } },
          },
        },
      },
    },
  },
});

const EXPECTED_CONTACTS = {
  name: 'contacts',
  listPath: '/contacts',
  recordsPath: 'data',
  idField: 'id',
  updatedAtField: 'updated_at',
  pagination: { style: 'cursor', cursorParam: 'cursor', cursorPath: 'next_cursor', limitParam: 'limit' },
  incremental: { param: 'updated_since', format: 'iso' },
  getPath: '/contacts/{id}',
  update: { method: 'PATCH', path: '/contacts/{id}' },
  delete: { method: 'DELETE', path: '/contacts/{id}' },
  create: { method: 'POST', path: '/contacts', idPath: 'id', idempotencyHeader: 'Idempotency-Key' },
  fields: [
    { name: 'id', type: 'string', required: true },
    { name: 'name', type: 'string', required: false },
    { name: 'email', type: 'string', required: true },
    { name: 'score', type: 'number', required: false },
    { name: 'updated_at', type: 'datetime', required: false },
  ],
  notes: ["`/contacts/{contact_id}` is used as `/contacts/{id}` (the record's id fills it)"],
};

/** Each proposed entity passes the connector's entity schema, and all of them make a valid connection config. */
function expectValidProposal(body: Json, baseUrl = 'https://api.example.com/v1') {
  for (const { name: _n, notes: _notes, ...entity } of body.entities) {
    expect(restEntitySchema.safeParse(entity).success, JSON.stringify(entity)).toBe(true);
  }
  const config = {
    baseUrl: body.baseUrl ?? baseUrl,
    auth: body.auth,
    entities: Object.fromEntries(body.entities.map(({ name, notes: _notes, ...e }: Json) => [name, e])),
  };
  expect(restConfigSchema.safeParse(config).success).toBe(true);
}

describe('POST /providers/rest/openapi-import', () => {
  it('proposes base URL, auth and entity types from a JSON document, each valid for the connector', async () => {
    const call = await start();
    const res = await call('POST', '/providers/rest/openapi-import', { document: JSON.stringify(openApiDoc()) });
    expect(res.status).toBe(200);
    const r = res.body;
    expect(r.title).toBe('Example CRM');
    expect(r.baseUrl).toBe('https://api.example.com/v1');
    expect(r.auth).toEqual({ type: 'bearer' });
    expect(r.entities.map((e: Json) => e.name)).toEqual(['charges', 'contacts', 'events', 'members']);
    const byName = (name: string) => r.entities.find((e: Json) => e.name === name);
    expect(byName('contacts')).toEqual(EXPECTED_CONTACTS);
    expect(byName('charges').pagination).toEqual({
      style: 'cursor',
      cursorParam: 'starting_after',
      cursorField: 'id',
      hasMorePath: 'has_more',
      limitParam: 'limit',
    });
    expect(byName('events')).toEqual({
      name: 'events',
      listPath: '/events',
      recordsPath: '',
      idField: 'uuid',
      pagination: { style: 'link' },
      fields: [{ name: 'uuid', type: 'string', required: false }],
      notes: [
        'no change-time property (updated_at, modified, …): incremental runs need updatedAtField',
        'no pagination parameters: read as one page, unless the API sends Link headers (link pagination)',
      ],
    });
    expect(byName('members')).toMatchObject({
      name: 'members',
      recordsPath: 'results',
      idField: 'member_id',
      updatedAtField: 'modified_at',
      pagination: {
        style: 'page',
        pageParam: 'page',
        limitParam: 'per_page',
        firstPage: 1,
        totalPagesPath: 'total_pages',
      },
    });
    expect(r.warnings).toEqual([
      '1 collection path with path parameters left out (the list path must be fixed), e.g. /accounts/{account_id}/notes',
    ]);
    expectValidProposal(r);
  });

  it('reads YAML the same way', async () => {
    const call = await start();
    const json = await call('POST', '/providers/rest/openapi-import', { document: JSON.stringify(openApiDoc()) });
    const yaml = await call('POST', '/providers/rest/openapi-import', { document: toYaml(openApiDoc()) });
    expect(yaml.status).toBe(200);
    expect(yaml.body).toEqual(json.body);
    // Documents are larger than API bodies (256 KiB): this route takes up to 10 MiB.
    const big = openApiDoc() as Json;
    big.info.description = 'x'.repeat(1024 * 1024);
    const large = await call('POST', '/providers/rest/openapi-import', { document: JSON.stringify(big) });
    expect(large.status).toBe(200);
    expect(large.body.entities).toEqual(json.body.entities);
  });

  it('maps API-key and OAuth security schemes onto the connector’s auth types', async () => {
    const call = await start();
    const withScheme = (scheme: object) => {
      const d = openApiDoc() as Json;
      d.components.securitySchemes = { s: scheme };
      d.security = [{ s: [] }];
      return JSON.stringify(d);
    };
    const header = await call('POST', '/providers/rest/openapi-import', {
      document: withScheme({ type: 'apiKey', in: 'header', name: 'X-Api-Key' }),
    });
    expect(header.body.auth).toEqual({ type: 'header', name: 'X-Api-Key' });
    const query = await call('POST', '/providers/rest/openapi-import', {
      document: withScheme({ type: 'apiKey', in: 'query', name: 'api_key' }),
    });
    expect(query.body.auth).toEqual({ type: 'query', name: 'api_key' });
    const oauth = await call('POST', '/providers/rest/openapi-import', {
      document: withScheme({
        type: 'oauth2',
        flows: { clientCredentials: { tokenUrl: 'https://x.test/t', scopes: {} } },
      }),
    });
    expect(oauth.body.auth).toEqual({ type: 'bearer' });
    expect(oauth.body.warnings[0]).toMatch(/oauth2: proposed bearer auth/);
    const cookie = await call('POST', '/providers/rest/openapi-import', {
      document: withScheme({ type: 'apiKey', in: 'cookie', name: 'sid' }),
    });
    expect(cookie.body.auth).toBeNull();
    expect(cookie.body.warnings[0]).toMatch(/no security scheme maps onto the connector's auth types/);
  });

  it('refuses what it cannot import with a 400 that says why', async () => {
    const call = await start();
    const refused = async (payload: unknown) => {
      const res = await call('POST', '/providers/rest/openapi-import', payload);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('validation_failed');
      return res.body.error.details as { path: string; message: string }[];
    };
    expect(await refused({ document: 'just some words' })).toEqual([
      { path: 'document', message: 'is not an OpenAPI document: it is plain text, not a JSON or YAML object' },
    ]);
    const [json] = await refused({ document: '{\n  "openapi": "3.0.0",\n  "paths": {,}\n}' });
    expect(json!.message).toMatch(/^is not valid JSON: line 3, column 13: /);
    const [yaml] = await refused({ document: 'openapi: 3.0.0\npaths:\n  /a: [b\n  c: d: e\n' });
    expect(yaml!.message).toMatch(/^is not valid JSON or YAML: line \d+, column \d+: /);
    const [swagger] = await refused({ document: JSON.stringify({ swagger: '2.0', info: {}, paths: { '/a': {} } }) });
    expect(swagger!.message).toMatch(/^is Swagger 2\.0: only OpenAPI 3\.x documents can be imported/);
    const [noPaths] = await refused({ document: JSON.stringify({ ...openApiDoc(), paths: {} }) });
    expect(noPaths!.message).toMatch(/^has no paths/);
    const [noVersion] = await refused({ document: 'info:\n  title: x\npaths:\n  /a: {}\n' });
    expect(noVersion!.message).toBe('is not an OpenAPI document: it has no `openapi` version field');
    expect(await refused({})).toEqual([{ path: '', message: 'give exactly one of document (the text) or url' }]);
    expect(await refused({ document: 'x', url: 'https://x.test/a' })).toEqual([
      { path: '', message: 'give exactly one of document (the text) or url' },
    ]);
    expect((await refused({ url: 'ftp://x.test/a' }))[0]!.path).toBe('url');
  });

  it('imports from a URL through the outbound guard; a relative server URL is taken from it', async () => {
    documents['/specs/crm.yaml'] = { type: 'application/yaml', body: toYaml(openApiDoc([{ url: '/v1' }])) };
    const call = await start();
    const res = await call('POST', '/providers/rest/openapi-import', { url: `${base}/specs/crm.yaml` });
    expect(res.status).toBe(200);
    expect(res.body.baseUrl).toBe(`${base}/v1`);
    expect(res.body.entities.find((e: Json) => e.name === 'contacts')).toEqual(EXPECTED_CONTACTS);
    expectValidProposal(res.body);

    const missing = await call('POST', '/providers/rest/openapi-import', { url: `${base}/specs/none.json` });
    expect(missing.status).toBe(400);
    expect(missing.body.error.details).toEqual([{ path: 'url', message: 'could not be fetched: HTTP 404' }]);
  });

  it('a URL the outbound guard refuses is a 400 at url; nothing is fetched', async () => {
    documents['/specs/crm.json'] = { type: 'application/json', body: JSON.stringify(openApiDoc()) };
    const call = await start({ allowPrivate: false, allowed: [] });
    const res = await call('POST', '/providers/rest/openapi-import', { url: `${base}/specs/crm.json` });
    expect(res.status).toBe(400);
    expect(res.body.error.details).toEqual([
      {
        path: 'url',
        message:
          'could not be fetched: outbound request to 127.0.0.1 refused: 127.0.0.1 is a loopback address (allow it with OTESSE_SYNC_ALLOWED_HOSTS)',
      },
    ]);
    expect(seen).toEqual([]);
  });

  it('does not follow external references (nothing leaves but the one guarded fetch)', async () => {
    const d = openApiDoc() as Json;
    d.paths['/contacts'].get.responses[200].content['application/json'].schema = { $ref: `${base}/specs/remote.json` };
    const call = await start();
    const res = await call('POST', '/providers/rest/openapi-import', { document: JSON.stringify(d) });
    expect(res.status).toBe(200);
    expect(seen).toEqual([]);
    expect(res.body.entities.map((e: Json) => e.name)).toEqual(['charges', 'events', 'members']);
    expect(res.body.warnings[0]).toBe(
      `Can't resolve external reference: ${base}/specs/remote.json (only references inside the document are followed; what it describes is left out)`,
    );
  });
});

// ── examples ────────────────────────────────────────────────────────────────────────────────────────────────

describe('GET /providers/rest/examples', () => {
  it('lists the two examples; each is a valid REST config', async () => {
    const call = await start();
    const res = await call('GET', '/providers/rest/examples');
    expect(res.status).toBe(200);
    expect(res.body.map((e: Json) => e.name)).toEqual(['Cursor-paginated API', 'Page-numbered API']);
    for (const e of res.body) expect(restConfigSchema.safeParse(e.config).success).toBe(true);
    expect(res.body).toEqual(REST_EXAMPLES.map((e) => ({ ...e })));
  });
});

describe('README: the REST section', () => {
  it('shows two configs the connector accepts', async () => {
    const { readFileSync } = await import('node:fs');
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('### Connecting any REST API'), readme.indexOf('## The CLI'));
    const blocks = [...section.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => JSON.parse(m[1]!));
    expect(blocks).toHaveLength(2);
    for (const config of blocks) expect(restConfigSchema.safeParse(config).error).toBeUndefined();
  });
});

describe.each(TEST_DATABASES)('the examples sync end to end ($name)', (db) => {
  const RULES = ['name', 'email'].map((f) => ({ sourceField: f, targetField: f, direction: 'inbound' as const }));

  async function syncOnce(entity: 'contacts' | 'members', config: Json, credentials: Record<string, string>) {
    h = await createHarness(db, `rest-example-${entity}`, {
      providers: [createRestProvider()],
      entities: { [entity]: { table: 'customers', primaryKey: 'id', updatedAtColumn: 'updated_at' } },
    });
    const conn = await h.engine.connections.create({ name: entity, provider: 'rest', config, credentials });
    const job = await h.engine.jobs.create({
      connectionId: conn.id,
      name: entity,
      entityType: entity,
      direction: 'inbound',
      mode: 'incremental',
      fieldMappings: RULES,
    });
    return { job, run: await h.engine.runJob(job.id) };
  }

  it('the cursor example: every contact once, over three pages; then only what changed', async () => {
    contacts = Array.from({ length: 250 }, (_, i) => ({
      id: `c${String(i).padStart(4, '0')}`,
      name: `Contact ${i}`,
      email: `c${i}@x.test`,
      updated_at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
    }));
    const { job, run } = await syncOnce('contacts', cursorConfig(), { token: TOKEN });
    expect(run.status).toBe('completed');
    expect([run.processed, run.created, run.failed]).toEqual([250, 250, 0]);
    expect(seen.filter((s) => s.url.startsWith('/v1/contacts?')).length).toBe(3);
    const rows = await h!.query<{ n: number }>('SELECT count(DISTINCT email)::int AS n FROM customers');
    expect(rows[0]!.n).toBe(250);

    contacts[7]!.name = 'Renamed';
    contacts[7]!.updated_at = new Date().toISOString();
    seen = [];
    const again = await h!.engine.runJob(job.id);
    expect(again.status).toBe('completed');
    expect(seen[0]!.url).toMatch(/updated_since=/);
    const renamed = await h!.query<{ name: string }>("SELECT name FROM customers WHERE email = 'c7@x.test'");
    expect(renamed[0]!.name).toBe('Renamed');
  });

  it('a Stripe-style API (cursorField, hasMorePath): every record once, over three pages', async () => {
    contacts = Array.from({ length: 250 }, (_, i) => ({
      id: `c${String(i).padStart(4, '0')}`,
      name: `Contact ${i}`,
      email: `c${i}@x.test`,
      updated_at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
    }));
    const config = cursorConfig({
      listPath: '/charges',
      pagination: {
        style: 'cursor',
        cursorParam: 'starting_after',
        cursorField: 'id',
        hasMorePath: 'has_more',
        limitParam: 'limit',
      },
    });
    const { run } = await syncOnce('contacts', config, { token: TOKEN });
    expect(run.status).toBe('completed');
    expect([run.processed, run.created, run.failed]).toEqual([250, 250, 0]);
    expect(seen.filter((s) => s.url.startsWith('/v1/charges?')).map((s) => s.url)).toEqual([
      '/v1/charges?limit=100',
      '/v1/charges?limit=100&starting_after=c0099',
      '/v1/charges?limit=100&starting_after=c0199',
    ]);
  });

  it('the page-numbered example: every member once, over three pages', async () => {
    members = Array.from({ length: 250 }, (_, i) => ({
      member_id: `m${String(i).padStart(4, '0')}`,
      name: `Member ${i}`,
      email: `m${i}@x.test`,
      modified_at: new Date(Date.UTC(2026, 1, 1, 0, 0, i)).toISOString(),
    }));
    const { run } = await syncOnce('members', pageConfig(), { apiKey: API_KEY });
    expect(run.status).toBe('completed');
    expect([run.processed, run.created, run.failed]).toEqual([250, 250, 0]);
    expect(
      seen.filter((s) => s.url.startsWith('/members?')).map((s) => new URL(s.url, base).searchParams.get('page')),
    ).toEqual(['1', '2', '3']);
    const rows = await h!.query<{ n: number }>('SELECT count(DISTINCT email)::int AS n FROM customers');
    expect(rows[0]!.n).toBe(250);
  });
});
