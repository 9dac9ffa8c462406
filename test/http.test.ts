import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { classifyStatus, retryAfterMs } from '../src/connectors/http/classify.ts';
import { HttpClient } from '../src/connectors/http/client.ts';
import { atPath, nextLinkFromHeader, nextOffset, nextPageNumber } from '../src/connectors/http/pagination.ts';
import { RateLimiter } from '../src/connectors/http/rate-limiter.ts';
import { ProviderError } from '../src/domain/errors.ts';

/** A real HTTP server whose next answers a test scripts. */
let server: Server;
let base: string;
let script: ((req: IncomingMessage, res: ServerResponse) => void)[] = [];
let seen: { method: string; url: string; body: string; at: number }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => {
      body += d;
    });
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, body, at: performance.now() });
      const next = script.shift();
      if (next) next(req, res);
      else json(res, 200, { ok: true });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));
beforeEach(() => {
  script = [];
  seen = [];
});

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

const fast = { attempts: 4, baseDelayMs: 5, maxDelayMs: 2000 };
const signal = () => new AbortController().signal;

describe('HttpClient', () => {
  it('returns 2xx JSON and sends JSON bodies', async () => {
    script.push((_q, r) => json(r, 201, { id: 'x1' }));
    const c = new HttpClient({ provider: 'test', retry: fast });
    const res = await c.request<{ id: string }>({
      method: 'POST',
      url: `${base}/things`,
      body: { a: 1 },
      signal: signal(),
    });
    expect([res.status, res.body.id]).toEqual([201, 'x1']);
    expect(seen[0]).toMatchObject({ method: 'POST', url: '/things', body: '{"a":1}' });
  });

  it('retries 429 honouring Retry-After, then succeeds', async () => {
    script.push((_q, r) => json(r, 429, { message: 'slow down' }, { 'retry-after': '0.2' }));
    script.push((_q, r) => json(r, 503, { message: 'busy' }));
    script.push((_q, r) => json(r, 200, { ok: 1 }));
    const c = new HttpClient({ provider: 'test', retry: fast });
    const res = await c.request({ url: `${base}/x`, signal: signal() });
    expect(res.status).toBe(200);
    expect(seen.length).toBe(3);
    expect(seen[1]!.at - seen[0]!.at).toBeGreaterThanOrEqual(190);
  });

  it('gives up after the policy attempts with a transient ProviderError', async () => {
    for (let i = 0; i < 4; i++) script.push((_q, r) => json(r, 502, { error: { message: 'bad gateway' } }));
    const c = new HttpClient({ provider: 'acme', retry: fast });
    const err = await c.request({ url: `${base}/x`, signal: signal() }).catch((e) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect([err.kind, err.status, err.message]).toEqual(['transient', 502, 'acme: 502 bad gateway']);
    expect(seen.length).toBe(4);
  });

  it('does not retry auth or record errors', async () => {
    script.push((_q, r) => json(r, 401, { error: { message: 'Invalid API Key provided' } }));
    const c = new HttpClient({ provider: 'stripe', retry: fast });
    const err = await c.request({ url: `${base}/x`, signal: signal() }).catch((e) => e);
    expect([err.kind, seen.length]).toEqual(['auth', 1]);
    script.push((_q, r) => json(r, 400, { error: { message: 'Invalid email' } }));
    const err2 = await c.request({ url: `${base}/x`, signal: signal() }).catch((e) => e);
    expect([err2.kind, err2.message]).toEqual(['record', 'stripe: 400 Invalid email']);
  });

  it('Stripe-Should-Retry overrides the status rule', async () => {
    script.push((_q, r) => json(r, 409, { message: 'lock timeout' }, { 'stripe-should-retry': 'true' }));
    script.push((_q, r) => json(r, 200, {}));
    const c = new HttpClient({ provider: 'stripe', retry: fast });
    expect((await c.request({ url: `${base}/x`, signal: signal() })).status).toBe(200);
    script.push((_q, r) => json(r, 500, { message: 'do not retry' }, { 'stripe-should-retry': 'false' }));
    const err = await c.request({ url: `${base}/x`, signal: signal() }).catch((e) => e);
    expect(err.kind).toBe('record');
  });

  it('times out a request that hangs, as a transient error', async () => {
    script.push(() => {}); // never answers
    script.push(() => {});
    const c = new HttpClient({
      provider: 'slow',
      timeoutMs: 100,
      retry: { attempts: 2, baseDelayMs: 5, maxDelayMs: 10 },
    });
    const err = await c.request({ url: `${base}/x`, signal: signal() }).catch((e) => e);
    expect([err.kind, err.message]).toEqual(['transient', 'slow: no response within 100 ms']);
  });

  it("the run's AbortSignal cancels a request in flight", async () => {
    script.push(() => {});
    const ac = new AbortController();
    const c = new HttpClient({ provider: 'x', retry: fast });
    const p = c.request({ url: `${base}/x`, signal: ac.signal });
    ac.abort(new Error('cancelled by request'));
    await expect(p).rejects.toThrow('cancelled by request');
  });

  it('a network error is transient', async () => {
    const c = new HttpClient({ provider: 'down', retry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 } });
    const err = await c.request({ url: 'http://127.0.0.1:1/x', signal: signal() }).catch((e) => e);
    expect(err.kind).toBe('transient');
    expect(err.message).toMatch(/^down: network error/);
  });

  it('shares a rate limiter across requests', async () => {
    const limiter = new RateLimiter(5, 200);
    const c = new HttpClient({ provider: 'x', retry: fast, limiter });
    const t0 = performance.now();
    await Promise.all(Array.from({ length: 10 }, () => c.request({ url: `${base}/x`, signal: signal() })));
    // 5 at once, the next 5 as tokens refill over 200 ms.
    expect(performance.now() - t0).toBeGreaterThanOrEqual(180);
    expect(seen.length).toBe(10);
  });
});

describe('classification and pagination helpers', () => {
  it('classifies statuses', () => {
    expect(
      [401, 403, 400, 404, 409, 422, 423, 429, 477, 500, 502, 503, 504, 524].map((s) => classifyStatus(s)),
    ).toEqual([
      'auth',
      'auth',
      'record',
      'record',
      'record',
      'record',
      'transient',
      'transient',
      'transient',
      'transient',
      'transient',
      'transient',
      'transient',
      'transient',
    ]);
  });
  it('reads Retry-After as seconds or a date', () => {
    expect(retryAfterMs(new Headers({ 'retry-after': '3' }))).toBe(3000);
    const now = Date.parse('2026-11-25T12:00:00Z');
    expect(retryAfterMs(new Headers({ 'retry-after': 'Wed, 25 Nov 2026 12:00:10 GMT' }), now)).toBe(10_000);
    expect(retryAfterMs(new Headers({}))).toBeUndefined();
  });
  it('follows Link headers, offsets and page numbers', () => {
    expect(nextLinkFromHeader('<https://a/x?page=2>; rel="next", <https://a/x?page=9>; rel="last"')).toBe(
      'https://a/x?page=2',
    );
    expect(nextLinkFromHeader('<https://a/x?page=9>; rel="last"')).toBeNull();
    expect(nextOffset(0, 100, 100)).toBe('100');
    expect(nextOffset(100, 100, 40)).toBeNull();
    expect(nextOffset(100, 100, 100, 200)).toBeNull();
    expect(nextPageNumber(1, 50, 50)).toBe('2');
    expect(nextPageNumber(3, 50, 50, 3)).toBeNull();
    // A short page is not the last when the answer's total says more follow (the API capped the page size).
    expect(nextOffset(0, 100, 40, 250)).toBe('40');
    expect(nextOffset(240, 100, 10, 250)).toBeNull();
    expect(nextOffset(40, 100, 0, 250)).toBeNull();
    expect(nextPageNumber(1, 100, 40, 7)).toBe('2');
    expect(nextPageNumber(7, 100, 10, 7)).toBeNull();
    expect(nextPageNumber(2, 100, 0, 7)).toBeNull();
    expect(atPath({ data: { items: [1] } }, 'data.items')).toEqual([1]);
    expect(atPath({ data: {} }, 'data.items')).toBeUndefined();
  });
});
