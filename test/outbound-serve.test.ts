import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, type ServeOptions, serve } from '../src/api/serve.ts';
import { ValidationError } from '../src/domain/errors.ts';

/**
 * The SSRF guard through the real server: `POST /api/v1/connections/{id}/test` against an "internal service"
 * on 127.0.0.1 whose answers hold secrets. On loopback (private targets allowed) the test's message quotes
 * a short sanitized excerpt at most; with an API token on a non-loopback address the request is refused
 * before any connection, unless OTESSE_SYNC_ALLOWED_HOSTS names the target.
 */
const SECRET = 'db_password=hunter2-INTERNAL';
const TOKEN = randomBytes(24).toString('hex');
// biome-ignore lint/suspicious/noExplicitAny: JSON responses
type Json = any;
/** Any C0 control character or DEL. */
const hasControl = (s: string) => [...s].some((c) => c.charCodeAt(0) < 32 || c.charCodeAt(0) === 127);

let internal: Server;
let internalUrl: string;
let hits: string[] = [];
const dirs: string[] = [];
const servers: RunningServer[] = [];

beforeAll(async () => {
  internal = createServer((req, res) => {
    hits.push(req.url!);
    if (req.url!.startsWith('/html')) {
      res.writeHead(404, { 'content-type': 'text/html' });
      res.end(`<html><head><title>Admin console</title></head><body><pre>${SECRET}</pre></body></html>`);
      return;
    }
    res.writeHead(400, { 'content-type': 'text/plain' });
    res.end(`internal service says no.\u001b[2J ${'.'.repeat(600)} ${SECRET}`);
  });
  await new Promise<void>((done) => internal.listen(0, '127.0.0.1', done));
  internalUrl = `http://127.0.0.1:${(internal.address() as AddressInfo).port}`;
});
afterAll(async () => {
  for (const s of servers) await s.close();
  await new Promise<void>((done) => internal.close(() => done()));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function start(options: Partial<ServeOptions> & Record<string, unknown>): Promise<RunningServer> {
  const dir = mkdtempSync(join(tmpdir(), 'otesse-outbound-'));
  dirs.push(dir);
  const server = await serve({
    database: dir,
    host: '127.0.0.1',
    port: 0,
    token: null,
    logger: pino({ enabled: false }),
    encryptionKeys: [randomBytes(32).toString('hex')],
    ...options,
  } as ServeOptions);
  servers.push(server);
  return server;
}

function client(url: string, token: string | null) {
  return async (method: string, path: string, body?: unknown): Promise<{ status: number; body: Json }> => {
    const res = await fetch(`${url}/api/v1${path}`, {
      method,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: await res.json() };
  };
}

const restConnection = (listPath: string) => ({
  provider: 'rest',
  name: `internal ${listPath}`,
  config: {
    baseUrl: internalUrl,
    entities: { thing: { listPath, pagination: { style: 'page', pageParam: 'page', limitParam: 'limit' } } },
  },
  credentials: {},
});

describe('connection test through the real server (SSRF guard)', () => {
  it('on loopback: an internal service is reached, but its body is quoted only as a short sanitized excerpt', async () => {
    const server = await start({});
    const api = client(server.url, null);
    for (const path of ['/text', '/html']) {
      const created = await api('POST', '/connections', restConnection(path));
      expect(created.status).toBe(201);
      hits = [];
      const tested = await api('POST', `/connections/${created.body.id}/test`);
      expect(tested.status).toBe(200);
      expect(tested.body.ok).toBe(false);
      expect(hits.length).toBe(1);
      const message: string = tested.body.message;
      expect(message).not.toContain(SECRET);
      expect(message).not.toMatch(/[<>]/);
      expect(hasControl(message)).toBe(false);
      expect(message.length).toBeLessThanOrEqual(220);
      expect((await api('GET', `/connections/${created.body.id}`)).body.statusMessage).toBe(message);
    }
  });

  it('with an API token on a non-loopback address: private targets are refused unless allow-listed', async () => {
    const strict = await start({ host: '0.0.0.0', token: TOKEN, allowedHosts: '' });
    const url = strict.url.replace('0.0.0.0', '127.0.0.1');
    const api = client(url, TOKEN);
    const created = await api('POST', '/connections', restConnection('/text'));
    expect(created.status).toBe(201);
    hits = [];
    const tested = await api('POST', `/connections/${created.body.id}/test`);
    expect(tested.body).toEqual({
      ok: false,
      message:
        'outbound request to 127.0.0.1 refused: 127.0.0.1 is a loopback address (allow it with OTESSE_SYNC_ALLOWED_HOSTS)',
    });
    expect(hits).toEqual([]);

    const allowing = await start({ host: '0.0.0.0', token: TOKEN, allowedHosts: 'crm.internal, 127.0.0.0/8' });
    const api2 = client(allowing.url.replace('0.0.0.0', '127.0.0.1'), TOKEN);
    const again = await api2('POST', '/connections', restConnection('/text'));
    const reached = await api2('POST', `/connections/${again.body.id}/test`);
    expect(reached.body.ok).toBe(false);
    expect(reached.body.message).toMatch(/^rest: 400 internal service says no\./);
    expect(hits.length).toBe(1);
  });

  it('refuses to start with a bad OTESSE_SYNC_ALLOWED_HOSTS entry, naming it', async () => {
    const err = await start({ allowedHosts: 'crm.internal, http://10.0.0.5:8080/' }).catch((e) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.issues).toEqual([
      {
        path: 'OTESSE_SYNC_ALLOWED_HOSTS',
        message:
          '"http://10.0.0.5:8080/" is not a host name, an IP address or a CIDR (e.g. crm.internal, 10.0.0.5, 10.0.0.0/8)',
      },
    ]);
    const never = await start({ allowedHosts: '169.254.169.254' }).catch((e) => e);
    expect(never).toBeInstanceOf(ValidationError);
    expect(never.issues[0].message).toBe('"169.254.169.254" is a link-local address: it is never allowed');
  });
});
