import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HttpClient } from '../src/connectors/http/client.ts';
import type { OutboundPolicy } from '../src/connectors/http/guard.ts';
import { createHubSpotProvider } from '../src/connectors/hubspot/index.ts';
import { createRestProvider } from '../src/connectors/rest/index.ts';
import { createStripeProvider } from '../src/connectors/stripe/index.ts';
import { ProviderError } from '../src/domain/errors.ts';
import type { Endpoint, ProviderDefinition } from '../src/engine/endpoint.ts';

/**
 * Where the server may send requests (SSRF guard), through real HTTP servers: one on 127.0.0.1 (the "internal
 * service" the tests point connectors at) and one on 127.0.0.2 (another host: redirects and DNS answers that
 * change must never reach it). Each server records what it received, so "refused before connecting" is seen.
 */
type Handler = (req: IncomingMessage, res: ServerResponse) => void;
interface Recorder {
  server: Server;
  port: number;
  seen: { method: string; url: string; headers: IncomingMessage['headers'] }[];
  script: Handler[];
}

async function recorder(host: string): Promise<Recorder> {
  const r: Recorder = { server: createServer(), port: 0, seen: [], script: [] };
  r.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on('end', () => {
      r.seen.push({ method: req.method!, url: req.url!, headers: req.headers });
      const next = r.script.shift();
      if (next) next(req, res);
      else json(res, 200, [{ id: 'a1', name: 'A' }]);
    });
  });
  await new Promise<void>((done) => r.server.listen(0, host, done));
  r.port = (r.server.address() as AddressInfo).port;
  return r;
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

let inside: Recorder; // 127.0.0.1
let other: Recorder; // 127.0.0.2
beforeAll(async () => {
  inside = await recorder('127.0.0.1');
  other = await recorder('127.0.0.2');
});
afterAll(async () => {
  for (const r of [inside, other]) {
    r.server.closeAllConnections();
    await new Promise<void>((done) => r.server.close(() => done()));
  }
});
beforeEach(() => {
  for (const r of [inside, other]) {
    r.seen = [];
    r.script = [];
  }
});

const fast = { attempts: 3, baseDelayMs: 5, maxDelayMs: 50 };
const signal = () => new AbortController().signal;
const LENIENT: OutboundPolicy = { allowPrivate: true, allowed: [] };
const STRICT: OutboundPolicy = { allowPrivate: false, allowed: [] };
/** A DNS answer chosen by the test, per call. */
const answers = (...addresses: string[][]) => {
  let call = 0;
  const calls: string[] = [];
  const resolve = async (hostname: string) => {
    calls.push(hostname);
    const list = addresses[Math.min(call++, addresses.length - 1)]!;
    return list.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return { resolve, calls };
};
const client = (outbound: OutboundPolicy, timeoutMs = 3000) =>
  new HttpClient({ provider: 'acme', retry: fast, timeoutMs, outbound });
/** Any C0 control character or DEL. */
const hasControl = (s: string) => [...s].some((c) => c.charCodeAt(0) < 32 || c.charCodeAt(0) === 127);
const failure = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error('expected the request to fail');
    },
    (e: unknown) => e as ProviderError,
  );

describe('outbound guard: link-local and cloud metadata are always refused', () => {
  it('refuses the metadata address, before any connection attempt, as a config error', async () => {
    const started = performance.now();
    const err = await failure(
      client(LENIENT).request({ url: 'http://169.254.169.254/latest/meta-data/', signal: signal() }),
    );
    expect(err).toBeInstanceOf(ProviderError);
    expect(err.kind).toBe('config');
    expect(err.message).toMatch(/^outbound request to 169\.254\.169\.254 refused: 169\.254\.169\.254 is a link-local/);
    expect(performance.now() - started).toBeLessThan(1000); // no connect attempt (it would time out)
  });

  it('refuses a name that resolves to the metadata address (checked at connect time; nothing reached)', async () => {
    const dns = answers(['127.0.0.1', '169.254.169.254']);
    const err = await failure(
      client({ ...LENIENT, resolve: dns.resolve }).request({
        url: `http://imds.test:${inside.port}/x`,
        signal: signal(),
      }),
    );
    expect(err.kind).toBe('config');
    expect(err.message).toContain('outbound request to imds.test refused: imds.test resolves to 169.254.169.254');
    expect(dns.calls).toEqual(['imds.test']);
    expect(inside.seen).toEqual([]); // one bad address refuses the name: not even the good one is tried
  });

  it('refuses metadata host names, IPv6 link-local and IPv4-mapped metadata addresses, even when allow-listed', async () => {
    const everything = { allowPrivate: false, allowed: ['0.0.0.0/0', '::/0'] };
    for (const url of [
      'http://metadata.google.internal/computeMetadata/v1/',
      'http://[fe80::1]/',
      'http://[::ffff:169.254.169.254]/',
      'http://[::ffff:a9fe:a9fe]/',
    ]) {
      const err = await failure(client(everything).request({ url, signal: signal() }));
      expect([url, err.kind]).toEqual([url, 'config']);
      expect(err.message).toMatch(/^outbound request to .* refused: .*never allowed/);
    }
  });
});

describe('outbound guard: loopback and private ranges under the strict policy (API token, non-loopback listen)', () => {
  it('refuses loopback, names resolving to private ranges, and says how to allow them', async () => {
    const url = `http://127.0.0.1:${inside.port}/things`;
    const err = await failure(client(STRICT).request({ url, signal: signal() }));
    expect([err.kind, err.message]).toEqual([
      'config',
      'outbound request to 127.0.0.1 refused: 127.0.0.1 is a loopback address (allow it with OTESSE_SYNC_ALLOWED_HOSTS)',
    ]);
    const dns = answers(['10.1.2.3']);
    const viaName = await failure(
      client({ ...STRICT, resolve: dns.resolve }).request({ url: 'http://crm.internal/x', signal: signal() }),
    );
    expect(viaName.message).toBe(
      'outbound request to crm.internal refused: crm.internal resolves to 10.1.2.3, a private address (allow it with OTESSE_SYNC_ALLOWED_HOSTS)',
    );
    expect(inside.seen).toEqual([]);
  });

  it('allows what the allow-list names: an address, a CIDR, a host name', async () => {
    const url = `http://127.0.0.1:${inside.port}/things`;
    for (const allowed of [['127.0.0.1'], ['127.0.0.0/8'], ['10.0.0.0/8', '127.0.0.0/30']]) {
      const res = await client({ allowPrivate: false, allowed }).request({ url, signal: signal() });
      expect([allowed, res.status]).toEqual([allowed, 200]);
    }
    const byName = await client({ allowPrivate: false, allowed: ['localhost'] }).request({
      url: `http://localhost:${inside.port}/things`,
      signal: signal(),
    });
    expect(byName.status).toBe(200);
    // A CIDR that does not cover the address allows nothing.
    const err = await failure(
      client({ allowPrivate: false, allowed: ['10.0.0.0/8'] }).request({ url, signal: signal() }),
    );
    expect(err.kind).toBe('config');
    expect(inside.seen.length).toBe(4);
  });

  it('checks the address at every connect: a DNS answer that changes to a refused address is refused', async () => {
    // The first connection resolves to the allowed 127.0.0.1; the server closes it, and the next connect's
    // answer is 127.0.0.2 (not allowed): DNS rebinding. Nothing reaches 127.0.0.2.
    const dns = answers(['127.0.0.1'], ['127.0.0.2']);
    const c = client({ allowPrivate: false, allowed: ['127.0.0.1'], resolve: dns.resolve });
    inside.script.push((_q, r) => json(r, 200, { ok: 1 }, { connection: 'close' }));
    const ok = await c.request({ url: `http://rebind.test:${inside.port}/a`, signal: signal() });
    expect(ok.status).toBe(200);
    other.script.push((_q, r) => json(r, 200, { stolen: true }));
    const err = await failure(c.request({ url: `http://rebind.test:${inside.port}/b`, signal: signal() }));
    expect(err.kind).toBe('config');
    expect(err.message).toContain('rebind.test resolves to 127.0.0.2, a loopback address');
    expect(dns.calls).toEqual(['rebind.test', 'rebind.test']);
    expect(other.seen).toEqual([]);
  });
});

describe('outbound guard: redirects, body size, error excerpts', () => {
  it('does not follow a redirect to another host (the credentials would go with it)', async () => {
    inside.script.push((_q, r) => {
      r.writeHead(302, { location: `http://127.0.0.2:${other.port}/steal` });
      r.end();
    });
    const err = await failure(
      client(LENIENT).request({
        url: `http://127.0.0.1:${inside.port}/things`,
        headers: { authorization: 'Bearer secret-token' },
        signal: signal(),
      }),
    );
    expect(err.kind).toBe('config');
    expect(err.message).toBe(
      `acme: 302 redirect to another host (127.0.0.2:${other.port}) not followed; redirects are followed within the same origin only`,
    );
    expect(other.seen).toEqual([]);
  });

  it('follows a redirect within the same origin, a few times at most', async () => {
    inside.script.push((_q, r) => {
      r.writeHead(301, { location: '/moved' });
      r.end();
    });
    const res = await client(LENIENT).request({ url: `http://127.0.0.1:${inside.port}/things`, signal: signal() });
    expect(res.status).toBe(200);
    expect(inside.seen.map((s) => s.url)).toEqual(['/things', '/moved']);
    for (let i = 0; i < 5; i++)
      inside.script.push((_q, r) => {
        r.writeHead(307, { location: `/loop${i}` });
        r.end();
      });
    const err = await failure(client(LENIENT).request({ url: `http://127.0.0.1:${inside.port}/x`, signal: signal() }));
    expect([err.kind, err.message]).toEqual(['config', 'acme: more than 3 redirects; not followed']);
  });

  it('stops reading a response body past 10 MiB with a clear, non-retried error', async () => {
    const chunk = Buffer.alloc(1024 * 1024, 'a');
    // Streamed without a length, so the cap must count bytes as they arrive.
    inside.script.push((_q, r) => {
      r.writeHead(200, { 'content-type': 'application/json' });
      let sent = 0;
      const more = () => {
        while (sent < 11) {
          sent++;
          if (!r.write(chunk)) return void r.once('drain', more);
        }
        r.end();
      };
      r.on('error', () => {});
      more();
    });
    const err = await failure(
      client(LENIENT).request({ url: `http://127.0.0.1:${inside.port}/big`, signal: signal() }),
    );
    expect([err.kind, err.message]).toEqual([
      'config',
      'acme: the response body is larger than 10 MiB (10485760 bytes); not read further',
    ]);
    expect(inside.seen.length).toBe(1); // not retried
    // With a Content-Length above the cap, nothing is read at all.
    inside.script.push((_q, r) => {
      r.writeHead(200, { 'content-type': 'application/json', 'content-length': String(11 * 1024 * 1024) });
      r.on('error', () => {});
      r.write(chunk);
    });
    const declared = await failure(
      client(LENIENT).request({ url: `http://127.0.0.1:${inside.port}/big`, signal: signal() }),
    );
    expect(declared.message).toBe('acme: the response body is larger than 10 MiB (10485760 bytes); not read further');
    // A small compressed body that inflates past the cap (its Content-Length is the compressed size).
    const bomb = gzipSync(Buffer.alloc(11 * 1024 * 1024, 'a'));
    inside.script.push((_q, r) => {
      r.writeHead(200, {
        'content-type': 'application/json',
        'content-encoding': 'gzip',
        'content-length': String(bomb.length),
      });
      r.end(bomb);
    });
    const inflated = await failure(
      client(LENIENT).request({ url: `http://127.0.0.1:${inside.port}/big`, signal: signal() }),
    );
    expect(inflated.message).toBe('acme: the response body is larger than 10 MiB (10485760 bytes); not read further');
  });

  it('quotes an error body only as a short excerpt without control characters or markup', async () => {
    const secret = 'INTERNAL-SECRET-PAST-THE-EXCERPT';
    const text = `line one\u0000\u001b[31m red\r\nline two ${'x'.repeat(400)} ${secret}`;
    inside.script.push((_q, r) => {
      r.writeHead(400, { 'content-type': 'text/plain' });
      r.end(text);
    });
    const err = await failure(client(LENIENT).request({ url: `http://127.0.0.1:${inside.port}/e`, signal: signal() }));
    expect(err.kind).toBe('record');
    expect(err.message.startsWith('acme: 400 line one [31m red line two xxx')).toBe(true);
    expect(err.message).not.toContain(secret);
    expect(hasControl(err.message)).toBe(false);
    expect(err.message.length).toBeLessThanOrEqual('acme: 400 '.length + 200);
    inside.script.push((_q, r) => {
      r.writeHead(404, { 'content-type': 'text/html' });
      r.end(`<!doctype html><html><head><title>Admin</title></head><body><pre>${secret}</pre></body></html>`);
    });
    const html = await failure(client(LENIENT).request({ url: `http://127.0.0.1:${inside.port}/e`, signal: signal() }));
    expect(html.message).toBe('acme: 404 HTTP 404 (an HTML page, not quoted)');
    inside.script.push((_q, r) => json(r, 422, { error: { message: `bad <b>field</b>\u0007 ${'y'.repeat(500)}` } }));
    const long = await failure(client(LENIENT).request({ url: `http://127.0.0.1:${inside.port}/e`, signal: signal() }));
    expect(long.message.startsWith('acme: 422 bad field yyy')).toBe(true);
    expect(long.message.endsWith('…')).toBe(true);
    expect(long.message.length).toBeLessThanOrEqual('acme: 422 '.length + 200);
  });
});

describe('outbound guard in the connectors', () => {
  const endpointOf = (
    definition: ProviderDefinition,
    config: Record<string, unknown>,
    credentials: Record<string, string>,
  ): Promise<Endpoint> =>
    Promise.resolve(
      definition.createEndpoint({ id: `conn-${definition.name}`, provider: definition.name, config, credentials }),
    );
  const read = (entityType: string) => ({ entityType, since: null, cursor: null, pageSize: 10, signal: signal() });

  it('REST refuses a forbidden base URL under the strict policy, and a next-page link to another host', async () => {
    const config = {
      baseUrl: `http://127.0.0.1:${inside.port}`,
      entities: { widget: { listPath: '/widgets', pagination: { style: 'link' } } },
    };
    const strict = await endpointOf(createRestProvider({ retry: fast, outbound: STRICT }), config, {});
    const err = await failure(strict.readPage(read('widget')));
    expect([err.kind, err.message]).toEqual([
      'config',
      'outbound request to 127.0.0.1 refused: 127.0.0.1 is a loopback address (allow it with OTESSE_SYNC_ALLOWED_HOSTS)',
    ]);
    expect(inside.seen).toEqual([]);
    const lenient = await endpointOf(createRestProvider({ retry: fast, outbound: LENIENT }), config, {});
    const evil = `http://127.0.0.2:${other.port}/widgets?page=2`;
    const link = await failure(lenient.readPage({ ...read('widget'), cursor: evil }));
    expect([link.kind, link.message]).toEqual([
      'config',
      `rest: the next-page link points to another origin (http://127.0.0.2:${other.port}); not followed`,
    ]);
    expect(other.seen).toEqual([]);
  });

  it('Stripe refuses a forbidden apiBase under the strict policy (config error, not retried, nothing sent)', async () => {
    const stripe = (outbound: OutboundPolicy, apiBase: string) =>
      endpointOf(createStripeProvider({ retry: fast, outbound }), { apiBase }, { apiKey: 'sk_test_x' });
    const err = await failure((await stripe(STRICT, `http://127.0.0.1:${inside.port}`)).readPage(read('customer')));
    expect([err.kind, err.message]).toEqual([
      'config',
      'outbound request to 127.0.0.1 refused: 127.0.0.1 is a loopback address (allow it with OTESSE_SYNC_ALLOWED_HOSTS)',
    ]);
    const meta = await failure((await stripe(LENIENT, 'http://169.254.169.254')).readPage(read('customer')));
    expect([meta.kind, meta.message]).toEqual([
      'config',
      'outbound request to 169.254.169.254 refused: 169.254.169.254 is a link-local address (never allowed)',
    ]);
    expect(inside.seen).toEqual([]);
  });

  it('HubSpot refuses a forbidden apiBase under the strict policy (config error, not retried, nothing sent)', async () => {
    const hubspot = (outbound: OutboundPolicy, apiBase: string) =>
      endpointOf(createHubSpotProvider({ retry: fast, outbound }), { apiBase }, { accessToken: 'pat-x' });
    const err = await failure((await hubspot(STRICT, `http://127.0.0.1:${inside.port}`)).readPage(read('contact')));
    expect([err.kind, err.message]).toEqual([
      'config',
      'outbound request to 127.0.0.1 refused: 127.0.0.1 is a loopback address (allow it with OTESSE_SYNC_ALLOWED_HOSTS)',
    ]);
    const meta = await failure((await hubspot(LENIENT, 'http://169.254.169.254')).readPage(read('contact')));
    expect(meta.kind).toBe('config');
    expect(inside.seen).toEqual([]);
  });

  it('Stripe and HubSpot quote error bodies only as a short excerpt', async () => {
    const secret = 'INTERNAL-SECRET-PAST-THE-EXCERPT';
    const message = `denied\u0000 ${'z'.repeat(400)} ${secret}`;
    const apiBase = `http://127.0.0.1:${inside.port}`;
    inside.script.push((_q, r) => json(r, 400, { error: { type: 'invalid_request_error', message } }));
    const stripe = await endpointOf(createStripeProvider({ retry: fast }), { apiBase }, { apiKey: 'sk_test_x' });
    const s = await failure(stripe.readPage(read('customer')));
    expect(s.message.startsWith('stripe: 400 denied zzz')).toBe(true);
    expect(s.message).not.toContain(secret);
    expect(hasControl(s.message)).toBe(false);
    expect(s.message.length).toBeLessThanOrEqual('stripe: 400 '.length + 200);
    inside.script.push((_q, r) => json(r, 400, { status: 'error', message, category: 'VALIDATION_ERROR' }));
    const hubspot = await endpointOf(createHubSpotProvider({ retry: fast }), { apiBase }, { accessToken: 'pat-x' });
    const h = await failure(hubspot.readPage(read('contact')));
    expect(h.message.startsWith('hubspot: 400 denied zzz')).toBe(true);
    expect(h.message).not.toContain(secret);
    expect(hasControl(h.message)).toBe(false);
    expect(h.message.length).toBeLessThanOrEqual('hubspot: 400 '.length + 200);
  });
});
