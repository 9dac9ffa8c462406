import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../src/api/server.ts';
import { createHarness, customerJobs, type Harness, TEST_DATABASES } from './helpers/db.ts';

/**
 * Fuzzing the REST API through the real server (Fastify `inject`, the whole request pipeline) on PGlite and
 * PostgreSQL. Every `/api/v1` route is taken from the server's own OpenAPI document, plus the webhook route.
 * Generated requests mix valid and invalid ids (existing rows, unknown uuids, garbage, bad percent-escapes,
 * NUL characters, over-long ids), query strings (known and unknown keys, wrong types, repeated keys, forged
 * cursors) and bodies (wrong types, unknown fields, missing fields, huge, deeply nested and NUL strings,
 * arrays for objects, malformed JSON, other content types, cross-site headers).
 *
 * Asserted for every request: no 5xx; every 4xx is `{ error: { code, message, details? } }` as JSON; and a
 * refused request writes nothing: a fingerprint (row count and md5 of every row) of each of the engine's
 * tables (and the local table) is taken after every request, and must not change across a 4xx. Nothing
 * else writes meanwhile: no worker runs, and a dead letter retry's background run (with any whole-run
 * retry it queues) is awaited after its 202.
 *
 * FUZZ_SEED fixes the seed (printed either way), FUZZ_RUNS the number of requests per database (default
 * 2,000).
 */

const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Date.now() % 2_147_483_647;
const RUNS = process.env.FUZZ_RUNS ? Number(process.env.FUZZ_RUNS) : 2000;
const FINAL = ['completed', 'completed_with_errors', 'failed', 'timed_out', 'cancelled'];

// biome-ignore lint/suspicious/noExplicitAny: generated JSON
type Json = any;
type Kind = 'connection' | 'job' | 'execution' | 'deadLetter';

/** One route of the API: method, path template, and what its `{id}` names. */
interface Route {
  method: string;
  path: string;
  idKind: Kind | null;
}

/** Which pool a path's id is drawn from. */
function idKindOf(path: string): Kind | null {
  if (!path.includes('{')) return null;
  if (path.startsWith('/api/v1/connections/') || path.startsWith('/webhooks/')) return 'connection';
  if (path.startsWith('/api/v1/sync-jobs/')) return 'job';
  if (path.startsWith('/api/v1/executions/')) return 'execution';
  return 'deadLetter';
}

// ── generators ────────────────────────────────────────────────────────────────────────────────────────────

/** Percent-encodes text for a URL; lone surrogates (which encodeURIComponent refuses) become their UTF-8 bytes. */
function encode(text: string): string {
  try {
    return encodeURIComponent(text);
  } catch {
    return [...text]
      .map((ch) => {
        const code = ch.codePointAt(0)!;
        if (code < 0xd800 || code > 0xdfff) return encodeURIComponent(ch);
        return `%${(0xe0 | (code >> 12)).toString(16)}%${(0x80 | ((code >> 6) & 0x3f)).toString(16)}%${(0x80 | (code & 0x3f)).toString(16)}`;
      })
      .join('');
  }
}

/** An id in a URL: an existing row (resolved when sent), an unknown uuid, or garbage (sent as written). */
type IdSpec = { pool: number } | { literal: string };

const hostile = fc.constantFrom(
  '%00',
  '%zz',
  '%',
  '%2e%2e',
  '..%2f..%2fetc%2fpasswd',
  'a'.repeat(101),
  'x'.repeat(5000),
  '00000000-0000-0000-0000-000000000000',
  'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF',
  '%F0%9F%98%80',
  '%ED%A0%80',
  '1%27%20OR%201%3D1',
  '__proto__',
  'constructor',
  'null',
  '-1',
  '9223372036854775808',
);
const idSpec: fc.Arbitrary<IdSpec> = fc.oneof(
  { weight: 6, arbitrary: fc.nat().map((pool) => ({ pool })) },
  { weight: 2, arbitrary: fc.uuid().map((literal) => ({ literal })) },
  { weight: 2, arbitrary: hostile.map((literal) => ({ literal })) },
  {
    weight: 2,
    arbitrary: fc.string({ unit: 'binary', maxLength: 40 }).map((s) => ({ literal: encode(s) || 'x' })),
  },
);

/** Strings that databases, parsers and validators find hard. */
const nastyString = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    'a\u0000b',
    '\ud800',
    '\udfff x',
    '😀',
    '\u202e',
    'x'.repeat(300),
    'x'.repeat(20_000),
    '<script>alert(1)</script>',
    "'; DROP TABLE connections; --",
    '{{first}}',
    '__proto__',
    'constructor',
    '0 6 * * *',
    '*/0 * * * *',
    '61 * * * *',
    'Europe/Berlin',
    'Mars/Olympus',
    'customer',
    'inbound',
    'bidirectional',
    'provider_wins',
    'memory',
    'stripe',
    'https://example.com',
    'not a url',
    '2024-13-45 99:99:99',
    'NaN',
    '1e309',
  ),
);

const nested = (depth: number, leaf: unknown = 1): unknown => {
  let v: unknown = leaf;
  for (let i = 0; i < depth; i++) v = i % 2 ? { a: v } : [v];
  return v;
};

/** Any JSON value, including the hard ones. */
const nastyValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: nastyString },
  {
    weight: 2,
    arbitrary: fc.oneof(
      fc.integer(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.constantFrom(0, -1, 1, 10, 11, 1440, 1441, 2 ** 31, 2 ** 53, -(2 ** 63), 1e308, 0.5),
    ),
  },
  { weight: 1, arbitrary: fc.constantFrom(true, false, null) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.constantFrom(nested(31), nested(40), nested(1500), nested(5, '\u0000')) },
  { weight: 1, arbitrary: fc.array(nastyString, { maxLength: 5 }) },
  { weight: 1, arbitrary: fc.dictionary(nastyString, nastyString, { maxKeys: 4 }) },
);

type BodySpec =
  | { kind: 'none' }
  | { kind: 'json'; mutations: Mutation[]; unchanged: boolean }
  | { kind: 'raw'; text: string };
type Mutation =
  | { op: 'set'; field: string; value: unknown }
  | { op: 'delete'; field: string }
  | { op: 'replace'; value: unknown };

const fieldNames = fc.constantFrom(
  'name',
  'provider',
  'config',
  'credentials',
  'connectionId',
  'entityType',
  'localEntity',
  'direction',
  'mode',
  'schedule',
  'timezone',
  'retryOnFailure',
  'maxRetries',
  'timeoutMinutes',
  'conflictStrategy',
  'enabled',
  'fieldMappings',
  'fieldMappings.0',
  'fieldMappings.0.sourceField',
  'fieldMappings.0.targetField',
  'fieldMappings.0.transform',
  'fieldMappings.0.transformArgs',
  'fieldMappings.0.defaultValue',
  'fieldMappings.0.direction',
  'config.apiBase',
  'credentials.apiKey',
  'colour',
  '__proto__',
  'constructor',
  'id',
  'createdAt',
);
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant('set' as const), field: fieldNames, value: nastyValue }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), field: fieldNames }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('replace' as const),
      value: fc.oneof(nastyValue, fc.constant([]), fc.constant([{}]), fc.constant(null)),
    }),
  },
);
const rawBody = fc.oneof(
  fc.constantFrom(
    '',
    '{',
    '{"name":',
    'null',
    '[]',
    '"text"',
    '1',
    '{"__proto__":{"admin":true}}',
    '{"constructor":{"prototype":{"admin":true}}}',
    `${'['.repeat(100_000)}${']'.repeat(100_000)}`,
    `{"a":${'['.repeat(2000)}${']'.repeat(2000)},"constructor":{}}`,
    '{"name":"a\\u0000b","provider":"memory"}',
    '{"name":"\\ud800","provider":"memory"}',
    '\u0000',
    '\uFEFF{}',
  ),
  fc.string({ unit: 'binary', maxLength: 60 }),
);
const bodySpec: fc.Arbitrary<BodySpec> = fc.oneof(
  { weight: 2, arbitrary: fc.constant({ kind: 'none' as const }) },
  {
    weight: 7,
    arbitrary: fc.record({
      kind: fc.constant('json' as const),
      mutations: fc.array(mutation, { minLength: 1, maxLength: 3 }),
      unchanged: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('raw' as const), text: rawBody }) },
);

const contentType = fc.oneof(
  { weight: 12, arbitrary: fc.constant('application/json') },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      undefined,
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'APPLICATION/JSON; charset=utf-8',
      'application/json; charset=latin1',
      'application/json-patch+json',
      'application/vnd.api+json',
      '*/*',
      ';',
      'application/json, text/plain',
    ),
  },
);

/** Browser-ish headers now and then: another origin, a cross-site fetch, a foreign Host. */
const extraHeaders = fc.oneof(
  { weight: 20, arbitrary: fc.constant({} as Record<string, string>) },
  {
    weight: 1,
    arbitrary: fc.constantFrom<Record<string, string>>(
      { origin: 'https://attacker.example' },
      { origin: 'null' },
      { 'sec-fetch-site': 'cross-site' },
      { host: 'rebind.attacker.example' },
      { origin: 'http://localhost:80', 'sec-fetch-site': 'same-origin' },
      { 'content-length': '5' },
    ),
  },
);

type QueryValue = { text: string } | { cursor: 'pool' | 'forged'; at: string; id: string };
const queryValue: fc.Arbitrary<QueryValue> = fc.oneof(
  { weight: 4, arbitrary: nastyString.map((text) => ({ text })) },
  {
    weight: 3,
    arbitrary: fc
      .constantFrom(
        '1',
        '2',
        '50',
        '500',
        '501',
        '0',
        '-1',
        '1.5',
        '1e3',
        'abc',
        '',
        'open',
        'discarded',
        'failed,completed',
        'manual',
        'exploded',
        'queued,running,',
        ' 5 ',
      )
      .map((text) => ({ text })),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      cursor: fc.constantFrom('pool' as const, 'forged' as const),
      at: fc.oneof(
        fc.constantFrom(
          '',
          '2024-13-45 99:99:99',
          '2024-02-29 23:59:59.123456+00',
          '2024-01-01 24:00:00',
          '0000-01-01 00:00:00',
          '2024-01-01 10:00:00+99',
        ),
        fc.date({ noInvalidDate: true }).map((d) => d.toISOString().replace('T', ' ').replace('Z', '+00')),
        fc.string({ maxLength: 12 }),
      ),
      id: fc.oneof(
        fc.uuid(),
        fc.constantFrom('1', '0', '9223372036854775807', '9223372036854775808', '99999999999999999999999', '-1', 'x'),
      ),
    }),
  },
);
const queryKey = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('limit', 'cursor', 'status', 'trigger', 'connectionId', 'access_token') },
  { weight: 1, arbitrary: fc.constantFrom('colour', '__proto__', 'constructor', 'limit[]', 'status[0]', '') },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 10 }) },
);
const querySpec = fc.array(fc.tuple(queryKey, queryValue), { maxLength: 4 });

interface RequestSpec {
  route: number;
  wrongMethod: string | null;
  id: IdSpec;
  query: [string, QueryValue][];
  body: BodySpec;
  contentType: string | undefined;
  headers: Record<string, string>;
}

const requestSpec = (routes: number): fc.Arbitrary<RequestSpec> =>
  fc.record({
    route: fc.nat({ max: routes - 1 }),
    wrongMethod: fc.oneof(
      { weight: 30, arbitrary: fc.constant(null) },
      { weight: 1, arbitrary: fc.constantFrom('PUT', 'OPTIONS', 'DELETE', 'PATCH', 'POST', 'GET', 'HEAD') },
    ),
    id: idSpec,
    query: querySpec,
    body: bodySpec,
    contentType,
    headers: extraHeaders,
  });

// ── the valid bodies that mutations start from ──────────────────────────────────────────────────────────

function validBody(route: Route, pools: Pools, n: number): Record<string, unknown> {
  const connectionId = pools.connection[n % pools.connection.length] ?? randomUUID();
  if (route.path === '/api/v1/connections' && route.method === 'POST') {
    return { name: `Fuzz ${n}`, provider: 'memory', config: {}, credentials: { apiKey: 'k' } };
  }
  if (route.path.startsWith('/api/v1/connections/')) return { name: `Renamed ${n}`, config: {} };
  if (route.path === '/api/v1/sync-jobs' && route.method === 'POST') {
    return {
      connectionId,
      name: `Fuzz job ${n}`,
      entityType: 'customer',
      localEntity: 'customer',
      direction: 'inbound',
      mode: 'full',
      schedule: null,
      timezone: 'UTC',
      maxRetries: 3,
      timeoutMinutes: 60,
      fieldMappings: [{ sourceField: 'email', targetField: 'email', transform: 'lowercase', direction: 'inbound' }],
    };
  }
  if (route.path.startsWith('/api/v1/sync-jobs/')) {
    return {
      name: `Patched ${n}`,
      enabled: n % 2 === 0,
      schedule: n % 3 === 0 ? '*/15 * * * *' : null,
      fieldMappings: [
        { sourceField: 'email', targetField: 'email', direction: 'inbound' },
        { sourceField: 'name', targetField: 'name', defaultValue: { nested: [1, 'two'] }, direction: 'inbound' },
      ],
    };
  }
  return {};
}

/**
 * Applies a mutation at a dot path (creating objects on the way); `replace` swaps the whole body. Values are
 * copied: generated constants are shared between requests and must not be changed by later mutations.
 */
function mutate(body: unknown, m: Mutation): unknown {
  if (m.op === 'replace') return structuredClone(m.value);
  if (typeof body !== 'object' || body === null) return body;
  const segments = m.field.split('.');
  let target = body as Record<string, unknown>;
  for (const seg of segments.slice(0, -1)) {
    const next = target[seg];
    if (typeof next !== 'object' || next === null) target[seg] = {};
    target = target[seg] as Record<string, unknown>;
  }
  const last = segments.at(-1)!;
  if (m.op === 'delete') delete target[last];
  else {
    const value = structuredClone(m.value);
    Object.defineProperty(target, last, { value, enumerable: true, writable: true, configurable: true });
  }
  return body;
}

// ── the run ───────────────────────────────────────────────────────────────────────────────────────────────

interface Pools {
  connection: string[];
  job: string[];
  execution: string[];
  deadLetter: string[];
  cursors: string[];
}

describe.each(TEST_DATABASES)('API fuzz ($name)', (db) => {
  let h: Harness;
  let app: Awaited<ReturnType<typeof buildServer>>;
  const background: Promise<unknown>[] = [];
  const helpers = customerJobs(() => h);

  beforeAll(async () => {
    h = await createHarness(db, `fuzz-${db.name}`);
    // A dead letter retry runs in the background after its 202 (and may queue a whole-run retry when it
    // fails): the fuzz waits for that work before it fingerprints the tables again.
    const engine = h.engine;
    app = await buildServer({
      engine: {
        ...engine,
        deadLetters: {
          ...engine.deadLetters,
          startRetry: async (id: string) => {
            const started = await engine.deadLetters.startRetry(id);
            background.push(started.done.catch(() => undefined));
            return started;
          },
        },
      },
    });
    // Rows to address: two connections, jobs with completed and failing runs, record failures, dead letters.
    const ok = await helpers.job();
    helpers.seed(8, (i) => i % 4 === 0);
    const failing = await helpers.job({ name: 'Failing' });
    for (let i = 0; i < 3; i++) await h.engine.runJob(failing.id);
    await h.engine.runJob(ok.id);
  }, 120_000);
  afterAll(async () => {
    await app?.close();
    await h?.close();
  });

  it(`sends ${RUNS} generated requests across every route: no 5xx, every 4xx in the error shape, nothing written by a refused request`, async () => {
    console.log(`[fuzz ${db.name}] seed ${SEED} (FUZZ_SEED=${SEED} repeats this run), ${RUNS} requests`);

    // Every route, from the server's own OpenAPI document.
    const openapi = (await app.inject({ method: 'GET', url: '/api/openapi.json' })).json() as Json;
    const routes: Route[] = [];
    for (const [path, ops] of Object.entries(openapi.paths as Record<string, Record<string, unknown>>)) {
      if (!path.startsWith('/api/v1/') && !path.startsWith('/webhooks/')) continue;
      for (const method of Object.keys(ops)) {
        routes.push({
          method: method.toUpperCase(),
          path,
          idKind: idKindOf(path),
        });
      }
    }
    expect(routes.length).toBeGreaterThanOrEqual(22);
    // The document lists every route the server has under /api/v1 (checked against Fastify's route tree).
    const registered = new Set<string>();
    const stack: string[] = [];
    for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
      const m = /^((?:[│ ] {3}|[├└]── )*)(\S[^(]*?) \(([^)]+)\)$/.exec(line);
      if (!m) continue;
      const level = m[1]!.length / 4 - 1;
      stack.length = level;
      stack.push(m[2]!);
      const path = stack.join('');
      for (const method of m[3]!.split(', ')) {
        if (method !== 'HEAD' && path.startsWith('/api/v1/')) registered.add(`${method} ${path}`);
      }
    }
    const documented = routes
      .filter((r) => r.path.startsWith('/api/v1/'))
      .map((r) => `${r.method} ${r.path.replace(/\{(\w+)\}/g, ':$1')}`);
    expect([...registered].sort()).toEqual(documented.sort());

    // Fingerprints of every table of the engine (and the local table): row count and md5 of all rows.
    const tables = (
      await h.query<{ name: string }>(
        `SELECT table_name AS name FROM information_schema.tables
          WHERE table_schema = $1 AND table_type = 'BASE TABLE' AND table_name <> 'schema_migrations' ORDER BY 1`,
        [h.schema],
      )
    ).map((r) => r.name);
    expect(tables).toEqual(expect.arrayContaining(['connections', 'sync_jobs', 'sync_executions', 'dead_letters']));
    const fingerprintSql = `SELECT ${tables
      .map(
        (t) =>
          `(SELECT count(*) || ':' || coalesce(md5(string_agg(r::text, '|' ORDER BY r::text)), '') FROM "${h.schema}"."${t}" r) AS "${t}"`,
      )
      .join(', ')}`;
    const fingerprint = async () => JSON.stringify((await h.query(fingerprintSql))[0]);

    const pools: Pools = { connection: [], job: [], execution: [], deadLetter: [], cursors: [] };
    const refreshPools = async () => {
      const ids = async (sql: string) => (await h.query<{ id: string }>(sql)).map((r) => r.id);
      pools.connection = await ids('SELECT id::text AS id FROM connections ORDER BY created_at, id');
      const jobIds = () => ids('SELECT id::text AS id FROM sync_jobs ORDER BY created_at, id');
      pools.job = await jobIds();
      if (pools.job.length < 2) {
        // Deletions emptied the pool: add a job (between checked requests).
        await helpers.job({ name: 'Refill' });
        pools.job = await jobIds();
      }
      // Only final executions: the progress stream of an unfinished one lasts until it finishes.
      pools.execution = await ids(
        `SELECT id::text AS id FROM sync_executions WHERE status IN (${FINAL.map((s) => `'${s}'`).join(',')}) ORDER BY created_at, id`,
      );
      pools.deadLetter = await ids('SELECT id::text AS id FROM dead_letters ORDER BY created_at, id');
    };
    await refreshPools();
    expect(pools.deadLetter.length).toBeGreaterThan(0);
    expect(pools.execution.length).toBeGreaterThan(0);
    // Real cursors, to be sent to their own list and to the others.
    for (const [url, id] of [
      ['/api/v1/sync-jobs/{id}/executions?limit=1', pools.job[1]],
      ['/api/v1/executions/{id}/failures?limit=1', pools.execution[0]],
      ['/api/v1/sync-jobs/{id}/dead-letters?limit=1', pools.job[1]],
    ] as const) {
      const page = (await app.inject({ method: 'GET', url: url.replace('{id}', id!) })).json() as Json;
      if (page.nextCursor) pools.cursors.push(page.nextCursor);
    }
    expect(pools.cursors.length).toBeGreaterThan(0);

    const specs = fc.sample(requestSpec(routes.length), { seed: SEED, numRuns: RUNS });
    const byStatus = new Map<number, number>();
    const byRoute = new Map<string, Map<string, number>>();
    const problems: string[] = [];
    let refusedChecked = 0;
    let before = await fingerprint();
    const started = Date.now();

    for (const [n, spec] of specs.entries()) {
      const route = routes[spec.route]!;
      const method = spec.wrongMethod ?? route.method;
      let url = route.path;
      if (route.idKind) {
        const pool = pools[route.idKind];
        const id =
          'pool' in spec.id ? (pool.length > 0 ? pool[spec.id.pool % pool.length]! : randomUUID()) : spec.id.literal;
        url = url.replace(/\{\w+\}/, id);
      }
      if (spec.query.length > 0) {
        const parts = spec.query.map(([key, value]) => {
          let text: string;
          if ('text' in value) text = value.text;
          else if (value.cursor === 'pool' && pools.cursors.length > 0) text = pools.cursors[n % pools.cursors.length]!;
          else text = Buffer.from(JSON.stringify([value.at, value.id])).toString('base64url');
          return `${encode(key)}=${encode(text)}`;
        });
        url += `?${parts.join('&')}`;
      }
      let payload: string | undefined;
      if (spec.body.kind === 'json') {
        let body: unknown = validBody(route, pools, n);
        if (!spec.body.unchanged) for (const m of spec.body.mutations) body = mutate(body, m);
        payload = JSON.stringify(body) ?? 'null';
      } else if (spec.body.kind === 'raw') payload = spec.body.text;
      const headers: Record<string, string> = { ...spec.headers };
      if (payload !== undefined && spec.contentType !== undefined) headers['content-type'] = spec.contentType;

      const label = `#${n} ${method} ${url.slice(0, 200)} ${headers['content-type'] ?? ''} ${(payload ?? '').slice(0, 200)}`;
      let res: Awaited<ReturnType<typeof app.inject>>;
      try {
        res = await app.inject({
          method: method as 'GET',
          url,
          headers,
          ...(payload === undefined ? {} : { payload }),
        });
      } catch (err) {
        problems.push(`${label}: inject threw ${(err as Error).message}`);
        continue;
      }
      const status = res.statusCode;
      byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
      const routeKey = `${route.method} ${route.path}`;
      const counts = byRoute.get(routeKey) ?? new Map<string, number>();
      counts.set(`${Math.floor(status / 100)}xx`, (counts.get(`${Math.floor(status / 100)}xx`) ?? 0) + 1);
      byRoute.set(routeKey, counts);

      if (status >= 500) problems.push(`${label}: ${status} ${res.body.slice(0, 300)}`);
      if (status >= 400 && method !== 'HEAD') {
        let body: Json;
        try {
          body = res.json();
        } catch {
          body = undefined;
        }
        const e = body?.error;
        const shapeOk =
          String(res.headers['content-type']).startsWith('application/json') &&
          Object.keys(body ?? {}).join() === 'error' &&
          typeof e?.code === 'string' &&
          typeof e?.message === 'string' &&
          Object.keys(e).every((k) => ['code', 'message', 'details'].includes(k)) &&
          (e.details === undefined ||
            (Array.isArray(e.details) &&
              e.details.every((d: Json) => typeof d?.path === 'string' && typeof d?.message === 'string')));
        if (!shapeOk) problems.push(`${label}: ${status} not in the error shape: ${res.body.slice(0, 300)}`);
      }

      if (status >= 200 && status < 300) {
        await Promise.all(background.splice(0));
        await refreshPools();
        before = await fingerprint();
      } else {
        const after = await fingerprint();
        if (status >= 400) {
          refusedChecked++;
          if (after !== before) problems.push(`${label}: refused with ${status} but wrote:\n  ${before}\n  ${after}`);
        }
        before = after;
      }
    }

    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    const statusLine = [...byStatus.entries()]
      .sort(([a], [b]) => a - b)
      .map(([s, c]) => `${s}: ${c}`)
      .join(', ');
    console.log(
      `[fuzz ${db.name}] ${specs.length} requests over ${routes.length} routes in ${seconds} s (seed ${SEED}); ` +
        `by status: ${statusLine}; refused requests checked for writes: ${refusedChecked}; problems: ${problems.length}`,
    );
    console.log(
      [...byRoute.entries()]
        .map(([r, c]) => `  ${r.padEnd(48)} ${[...c.entries()].map(([k, v]) => `${k} ${v}`).join(', ')}`)
        .join('\n'),
    );
    expect(problems.slice(0, 20), `seed ${SEED}`).toEqual([]);
    // Every route was exercised, and both kinds of answers were seen.
    expect(byRoute.size).toBe(routes.length);
    expect([...byStatus.keys()].some((s) => s < 300)).toBe(true);
    expect(refusedChecked).toBeGreaterThan(RUNS / 2);
  }, 120_000);
});
