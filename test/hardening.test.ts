import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, serve } from '../src/api/serve.ts';
import { buildServer } from '../src/api/server.ts';
import { createMemoryProvider } from '../src/connectors/memory.ts';
import { schemaFor, TEST_DATABASES } from './helpers/db.ts';

/**
 * Hardening of the HTTP server, through the real server (`serve`, real HTTP) on PGlite and PostgreSQL:
 * an open (token-less) loopback server answers only to loopback Host names and refuses cross-site writes;
 * API bodies must be JSON; the UI carries the usual security headers; bad input (NUL characters, deep
 * JSON, forged cursors, database data exceptions, bad URLs) is a 4xx in the documented error shape.
 */

// biome-ignore lint/suspicious/noExplicitAny: JSON responses
type Json = any;

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: Json;
}

/** A raw HTTP request (fetch cannot set Host): every header as given, the body as given. */
function raw(
  base: string,
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<Answer> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        method,
        path,
        headers: options.headers ?? {},
        setHost: !options.headers?.host,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: Json;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      },
    );
    req.on('error', reject);
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

/** The documented error shape: `{ error: { code, message, details? } }` and nothing else. */
function expectErrorShape(answer: Answer, status: number, code?: string) {
  expect(answer.status, answer.text).toBe(status);
  expect(answer.headers['content-type']).toMatch(/^application\/json/);
  expect(Object.keys(answer.json)).toEqual(['error']);
  expect(typeof answer.json.error.code).toBe('string');
  expect(typeof answer.json.error.message).toBe('string');
  for (const key of Object.keys(answer.json.error)) expect(['code', 'message', 'details']).toContain(key);
  if (answer.json.error.details !== undefined) {
    expect(Array.isArray(answer.json.error.details)).toBe(true);
    for (const d of answer.json.error.details) {
      expect(typeof d.path).toBe('string');
      expect(typeof d.message).toBe('string');
    }
  }
  if (code) expect(answer.json.error.code).toBe(code);
}

const cursorOf = (at: string, id: string) => Buffer.from(JSON.stringify([at, id])).toString('base64url');

/** JSON text nested `depth` levels: `[[[…1…]]]`. */
const deepArray = (depth: number) => `${'['.repeat(depth)}1${']'.repeat(depth)}`;

describe.each(TEST_DATABASES)('hardening ($name)', (db) => {
  let server: RunningServer;
  let base: string;
  let dir: string | null = null;
  let connectionId: string;
  let jobId: string;
  let executionId: string;
  const json = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    raw(base, method, `/api/v1${path}`, {
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
  const counts = async () => {
    const d = server.engine.database.db;
    const n = async (table: 'connections' | 'sync_jobs' | 'field_mapping_rules' | 'sync_executions') =>
      Number(
        (
          await d
            .selectFrom(table)
            .select((eb) => eb.fn.countAll().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
    return {
      connections: await n('connections'),
      jobs: await n('sync_jobs'),
      rules: await n('field_mapping_rules'),
      executions: await n('sync_executions'),
    };
  };

  beforeAll(async () => {
    if (db.name === 'pglite') dir = mkdtempSync(join(tmpdir(), 'otesse-hardening-'));
    const memory = createMemoryProvider({ entityTypes: ['customer'] });
    server = await serve({
      database: dir ?? db.url!,
      schema: schemaFor(`hardening-${db.name}`),
      host: '127.0.0.1',
      port: 0,
      token: null,
      logger: pino({ enabled: false }),
      encryptionKeys: [randomBytes(32).toString('hex')],
      providers: [memory.definition],
    });
    base = server.url;
    const conn = await server.engine.connections.create({ name: 'Mem', provider: 'memory' });
    connectionId = conn.id;
    const job = await server.engine.jobs.create({
      connectionId,
      name: 'Customers',
      entityType: 'customer',
      direction: 'inbound',
      enabled: false,
      fieldMappings: [{ sourceField: 'email', targetField: 'email', direction: 'inbound' }],
    });
    jobId = job.id;
    executionId = (await server.engine.runJob(jobId)).id;
  }, 120_000);
  afterAll(async () => {
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  // ── item 3: an open loopback server is not reachable from a web page ─────────────────────────────────────

  it('token-less: answers only to loopback Host names (DNS rebinding gets nothing)', async () => {
    const rebound = await raw(base, 'GET', '/api/v1/connections', { headers: { host: 'rebind.attacker.example' } });
    expectErrorShape(rebound, 403, 'forbidden');
    expect(rebound.text).not.toContain(connectionId);
    const withPort = await raw(base, 'GET', '/api/v1/connections', {
      headers: { host: `rebind.attacker.example:${new URL(base).port}` },
    });
    expectErrorShape(withPort, 403, 'forbidden');
    // The UI and the docs are refused too (the page would run under the attacker's name).
    expect((await raw(base, 'GET', '/', { headers: { host: 'rebind.attacker.example' } })).status).toBe(403);
    expect((await raw(base, 'GET', '/api/openapi.json', { headers: { host: '10.0.0.7' } })).status).toBe(403);

    const port = new URL(base).port;
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`, `[::1]:${port}`, '127.0.0.2']) {
      const ok = await raw(base, 'GET', '/api/v1/connections', { headers: { host } });
      expect(ok.status, host).toBe(200);
      expect(ok.json.items.map((c: Json) => c.id)).toContain(connectionId);
    }
    // Webhooks keep answering under any name (their signature is their auth; tunnels rewrite Host).
    const hook = await raw(base, 'POST', `/webhooks/${randomUUID()}`, {
      headers: { host: 'hooks.example.com', 'content-type': 'application/json' },
      body: '{}',
    });
    expect(hook.status).toBe(404);
  });

  it('with a token, any Host is accepted (the token is the auth)', async () => {
    const token = randomBytes(16).toString('hex');
    const app = await buildServer({ engine: server.engine, token });
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const res = await raw(url, 'GET', '/api/v1/connections', {
        headers: { host: 'sync.example.com', authorization: `Bearer ${token}` },
      });
      expect(res.status).toBe(200);
    } finally {
      await app.close();
    }
  });

  it('refuses cross-site writes: a text/plain or form POST, or a POST from another origin, starts no run', async () => {
    const before = await counts();
    const plain = await json('POST', `/sync-jobs/${jobId}/run`, 'run please', { 'content-type': 'text/plain' });
    expectErrorShape(plain, 415, 'unsupported_media_type');
    const form = await json('POST', `/sync-jobs/${jobId}/run`, 'a=1', {
      'content-type': 'application/x-www-form-urlencoded',
    });
    expectErrorShape(form, 415, 'unsupported_media_type');
    const multipart = await json('POST', '/connections', '--x\r\n\r\n--x--', {
      'content-type': 'multipart/form-data; boundary=x',
    });
    expectErrorShape(multipart, 415, 'unsupported_media_type');
    // A form with no fields still names its type; a body without any type is refused as well.
    const emptyForm = await json('POST', `/sync-jobs/${jobId}/run`, '', { 'content-type': 'text/plain' });
    expectErrorShape(emptyForm, 415, 'unsupported_media_type');
    const untyped = await raw(base, 'POST', `/api/v1/sync-jobs/${jobId}/run`, { body: 'x' });
    expectErrorShape(untyped, 415, 'unsupported_media_type');
    // A body-less fetch(…, { mode: 'no-cors' }) carries no type: the Origin / Sec-Fetch-Site tell it apart.
    const foreign = await json('POST', `/sync-jobs/${jobId}/run`, undefined, { origin: 'https://attacker.example' });
    expectErrorShape(foreign, 403, 'forbidden');
    const otherPort = await json('POST', `/sync-jobs/${jobId}/run`, undefined, { origin: 'http://127.0.0.1:1' });
    expectErrorShape(otherPort, 403, 'forbidden');
    const crossSite = await json('DELETE', `/sync-jobs/${jobId}`, undefined, { 'sec-fetch-site': 'cross-site' });
    expectErrorShape(crossSite, 403, 'forbidden');
    expect(await counts()).toEqual(before);

    // The UI's own calls (same origin, JSON or no body) and clients without Origin still work.
    const sameOrigin = await json('POST', `/sync-jobs/${jobId}/run`, undefined, {
      origin: base,
      'sec-fetch-site': 'same-origin',
    });
    expect(sameOrigin.status).toBe(202);
    const patched = await json('PATCH', `/sync-jobs/${jobId}`, { name: 'Customers 2' }, { origin: base });
    expect(patched.status).toBe(200);
    const charset = await json('PATCH', `/sync-jobs/${jobId}`, JSON.stringify({ name: 'Customers' }), {
      'content-type': 'application/json; charset=utf-8',
    });
    expect(charset.status).toBe(200);
    expect((await counts()).executions).toBe(before.executions + 1);
  });

  it('serves the UI and the docs with CSP, nosniff, frame and referrer headers', async () => {
    for (const path of ['/', '/jobs/anything', '/api/docs', '/api/openapi.json', '/api/v1/connections', '/nope']) {
      const res = await raw(base, 'GET', path);
      expect(res.status, path).toBeLessThan(500);
      expect(res.headers['x-content-type-options'], path).toBe('nosniff');
      expect(res.headers['x-frame-options'], path).toBe('DENY');
      expect(res.headers['referrer-policy'], path).toBe('no-referrer');
      const csp = String(res.headers['content-security-policy']);
      expect(csp, path).toContain("frame-ancestors 'none'");
      expect(csp, path).toMatch(/object-src 'none'|default-src 'none'/);
    }
    const ui = await raw(base, 'GET', '/');
    const csp = String(ui.headers['content-security-policy']);
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
    // The built UI's assets too, when it is built.
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(ui.text)?.[1];
    if (asset) {
      const js = await raw(base, 'GET', asset);
      expect(js.status).toBe(200);
      expect(js.headers['x-content-type-options']).toBe('nosniff');
    }
  });

  // ── item 4: bad input is a 400 in the documented shape, never a 500 ─────────────────────────────────────

  it('refuses NUL characters in any string with the field path; nothing is written', async () => {
    const before = await counts();
    const cases: [string, string, unknown, string][] = [
      ['POST', '/connections', { name: 'a\u0000b', provider: 'memory' }, 'name'],
      ['POST', '/connections', { name: 'ok', provider: 'memory', config: { apiBase: 'x\u0000' } }, 'config.apiBase'],
      ['POST', '/connections', { name: 'ok', provider: 'memory', config: { 'k\u0000': 1 } }, 'config.k\\u0000'],
      [
        'POST',
        '/connections',
        { name: 'ok', provider: 'memory', credentials: { apiKey: '\u0000' } },
        'credentials.apiKey',
      ],
      ['PATCH', `/connections/${connectionId}`, { name: '\u0000' }, 'name'],
      ['PATCH', `/connections/${connectionId}`, { config: { nested: { deep: ['\u0000'] } } }, 'config.nested.deep.0'],
      ['POST', '/sync-jobs', { connectionId, name: 'n\u0000', entityType: 'customer', direction: 'inbound' }, 'name'],
      [
        'POST',
        '/sync-jobs',
        {
          connectionId,
          name: 'n',
          entityType: 'customer',
          direction: 'inbound',
          fieldMappings: [{ sourceField: 'email', targetField: 'email', defaultValue: { a: 'x\u0000' } }],
        },
        'fieldMappings.0.defaultValue.a',
      ],
      ['PATCH', `/sync-jobs/${jobId}`, { schedule: '0 6 * * *', timezone: 'UTC\u0000' }, 'timezone'],
      [
        'PATCH',
        `/sync-jobs/${jobId}`,
        {
          fieldMappings: [
            {
              sourceField: 'email',
              targetField: 'email',
              transform: 'template',
              transformArgs: { template: '\u0000' },
            },
          ],
        },
        'fieldMappings.0.transformArgs.template',
      ],
    ];
    for (const [method, path, body, field] of cases) {
      const res = await json(method, path, body);
      expectErrorShape(res, 400, 'validation_failed');
      expect(
        res.json.error.details.map((d: Json) => d.path),
        `${method} ${path} ${JSON.stringify(body)}`,
      ).toContain(field);
    }
    // Lone surrogates (JSON can carry "\ud800"; jsonb cannot store it) are refused the same way.
    const surrogate = await json('PATCH', `/connections/${connectionId}`, '{"config":{"a":"x\\ud800"}}');
    expectErrorShape(surrogate, 400, 'validation_failed');
    expect(surrogate.json.error.details).toEqual([
      { path: 'config.a', message: 'must be valid Unicode (it has a lone surrogate, \\ud800–\\udfff)' },
    ]);
    const query = await json('GET', `/sync-jobs?connectionId=${encodeURIComponent('\u0000')}`);
    expectErrorShape(query, 400, 'validation_failed');
    expect(await counts()).toEqual(before);
  });

  it('refuses JSON nested deeper than the limit before parsing it (1,500 levels, and 100,000 with a __proto__ probe)', async () => {
    const before = await counts();
    const rule = (extra: string) =>
      `{"connectionId":"${connectionId}","name":"deep","entityType":"customer","direction":"inbound",` +
      `"fieldMappings":[{"sourceField":"email","targetField":"email",${extra}}]}`;
    for (const body of [
      rule(`"defaultValue":${deepArray(1500)}`),
      rule(`"transform":"map_values","transformArgs":{"values":{"a":${deepArray(1500)}}}`),
      `{"name":"x","provider":"memory","config":{"a":${deepArray(100_000)}},"constructor":{}}`,
    ]) {
      const res = await json('POST', body.includes('"provider"') ? '/connections' : '/sync-jobs', body);
      expectErrorShape(res, 400);
      expect(res.json.error.message).toMatch(/nested/);
    }
    // A sane depth is still accepted.
    const ok = await json('PATCH', `/sync-jobs/${jobId}`, {
      fieldMappings: [{ sourceField: 'email', targetField: 'email', defaultValue: JSON.parse(deepArray(20)) }],
    });
    expect(ok.status, ok.text).toBe(200);
    expect((await counts()).jobs).toBe(before.jobs);
  });

  it('refuses keyset cursors the database would refuse, and maps database data exceptions to 400', async () => {
    const bad = [
      cursorOf('2024-13-45 99:99:99', randomUUID()),
      cursorOf('2024-02-30 10:00:00', randomUUID()),
      cursorOf('2024-01-01 24:00:00+00', randomUUID()),
      cursorOf('2024-01-01 10:00:00+99', randomUUID()),
      cursorOf('0000-01-01 10:00:00', randomUUID()),
      cursorOf('', '99999999999999999999999'),
      cursorOf('', '9223372036854775808'),
    ];
    for (const cursor of bad) {
      for (const path of [
        `/sync-jobs/${jobId}/executions`,
        `/sync-jobs/${jobId}/dead-letters`,
        `/executions/${executionId}/failures`,
      ]) {
        const res = await json('GET', `${path}?cursor=${cursor}`);
        expectErrorShape(res, 400, 'validation_failed');
        expect(res.json.error.details[0].path).toBe('cursor');
      }
    }
    // Good cursors of each kind still work; a cursor of one list is refused by the other.
    const timeCursor = cursorOf('2024-02-29 23:59:59.123456+00', randomUUID());
    expect((await json('GET', `/sync-jobs/${jobId}/executions?cursor=${timeCursor}`)).status).toBe(200);
    expect((await json('GET', `/sync-jobs/${jobId}/dead-letters?cursor=${timeCursor}`)).status).toBe(200);
    const serialCursor = cursorOf('', '9223372036854775807');
    expect((await json('GET', `/executions/${executionId}/failures?cursor=${serialCursor}`)).status).toBe(200);
    expectErrorShape(
      await json('GET', `/executions/${executionId}/failures?cursor=${timeCursor}`),
      400,
      'validation_failed',
    );
    expectErrorShape(
      await json('GET', `/sync-jobs/${jobId}/executions?cursor=${serialCursor}`),
      400,
      'validation_failed',
    );

    // Any PostgreSQL data exception (SQLSTATE class 22) that gets past validation is the client's: 400.
    const app = await buildServer({
      engine: {
        ...server.engine,
        executions: {
          ...server.engine.executions,
          get: async () => {
            await server.engine.database.exec(`SELECT '2024-13-45 99:99:99'::timestamptz`);
            throw new Error('unreachable');
          },
        },
      } as typeof server.engine,
    });
    try {
      const res = await app.inject({ method: 'GET', url: `/api/v1/executions/${executionId}` });
      const answer = { status: res.statusCode, headers: res.headers, text: res.body, json: res.json() };
      expectErrorShape(answer as Answer, 400, 'bad_request');
    } finally {
      await app.close();
    }
  });

  it('answers framework errors and the docs’ static files in the same shape', async () => {
    expectErrorShape(await raw(base, 'GET', '/api/v1/connections/%zz'), 400, 'bad_request');
    expectErrorShape(await raw(base, 'GET', `/api/v1/connections/${'a'.repeat(200)}`), 414);
    expectErrorShape(await raw(base, 'GET', '/api/docs/static/..%5c..%5cpackage.json'), 403, 'forbidden');
    expectErrorShape(await raw(base, 'GET', '/api/docs/static/a%00b'), 403, 'forbidden');
    expectErrorShape(await json('POST', '/connections', '{"name":'), 400, 'bad_request');
    expectErrorShape(await json('POST', '/connections', '{"__proto__":{"x":1}}'), 400, 'bad_request');
    expectErrorShape(await json('POST', '/connections', ''), 400, 'bad_request');
    // What Node's HTTP parser refuses never reaches a route; it is answered in the same shape.
    const overflow = await new Promise<string>((resolve, reject) => {
      const url = new URL(base);
      const socket = connect(Number(url.port), url.hostname, () => {
        socket.write(`GET /api/v1/connections HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
      });
      let text = '';
      socket.on('data', (c) => {
        text += c.toString();
      });
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
    });
    expect(overflow).toMatch(/^HTTP\/1\.1 431 /);
    const body = JSON.parse(overflow.slice(overflow.indexOf('\r\n\r\n') + 4));
    expect(body).toEqual({ error: { code: 'headers_too_large', message: 'malformed HTTP request' } });
  });
});
