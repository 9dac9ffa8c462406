import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, serve } from '../src/api/serve.ts';
import { createStripeProvider } from '../src/connectors/index.ts';
import { ValidationError } from '../src/domain/errors.ts';
import type { ProviderDefinition } from '../src/engine/endpoint.ts';
import { createHarness, type Harness, schemaFor, TEST_DATABASES } from './helpers/db.ts';

/**
 * Hardening, "Stored credentials follow a changed URL": changing where a connection sends its credentials
 * (Stripe/HubSpot `apiBase`, REST `baseUrl`) needs the credentials again in the same request, and the stored
 * ones never reach the new address.
 */

// biome-ignore lint/suspicious/noExplicitAny: JSON responses
type Json = any;

/** An HTTP server that remembers every Authorization header it was sent and answers an empty list. */
async function captureServer() {
  const seen: string[] = [];
  const server: Server = createServer((req, res) => {
    seen.push(String(req.headers.authorization ?? ''));
    res.setHeader('content-type', 'application/json');
    if (req.url?.startsWith('/v1/')) res.end(JSON.stringify({ object: 'list', data: [], has_more: false }));
    else if (req.url?.startsWith('/crm/')) res.end(JSON.stringify({ results: [] }));
    else res.end('[]');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    /** Everything received, as one string (Basic credentials decoded). */
    received: () =>
      seen.map((h) => (h.startsWith('Basic ') ? Buffer.from(h.slice(6), 'base64').toString('utf8') : h)).join('\n'),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

const secret = (label: string) => `${label}_${randomBytes(8).toString('hex')}`;

describe.each(TEST_DATABASES)('a changed credential address needs the credentials again: API ($name)', (db) => {
  let server: RunningServer;
  let dir: string | null = null;
  let hostA: Awaited<ReturnType<typeof captureServer>>;
  let hostB: Awaited<ReturnType<typeof captureServer>>;
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${server.url}/api/v1${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };

  beforeAll(async () => {
    if (db.name === 'pglite') dir = mkdtempSync(join(tmpdir(), 'otesse-hardening-cred-'));
    server = await serve({
      database: dir ?? db.url!,
      schema: schemaFor(`hardening-cred-${db.name}`),
      host: '127.0.0.1',
      port: 0,
      token: null,
      logger: pino({ enabled: false }),
      encryptionKeys: [randomBytes(32).toString('hex')],
    });
    hostA = await captureServer();
    hostB = await captureServer();
  }, 120_000);
  afterAll(async () => {
    await server?.close();
    await hostA?.close();
    await hostB?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const cases = [
    {
      provider: 'stripe',
      key: 'apiBase',
      config: (url: string) => ({ apiBase: url }),
      credentials: (s: string) => ({ apiKey: s }),
    },
    {
      provider: 'hubspot',
      key: 'apiBase',
      config: (url: string) => ({ apiBase: url }),
      credentials: (s: string) => ({ accessToken: s }),
    },
    {
      provider: 'rest',
      key: 'baseUrl',
      config: (url: string) => ({
        baseUrl: url,
        auth: { type: 'bearer' },
        entities: { customer: { listPath: '/customers', pagination: { style: 'link' } } },
      }),
      credentials: (s: string) => ({ token: s }),
    },
  ];

  it.each(cases)(
    '$provider: PATCH of $key alone is refused (400 credentials); the key never reaches the new host',
    async (c) => {
      const oldKey = secret('old');
      const created = await api('POST', '/connections', {
        provider: c.provider,
        name: `${c.provider} A`,
        config: c.config(hostA.url),
        credentials: c.credentials(oldKey),
      });
      expect(created.status).toBe(201);
      const id = created.body.id;

      const moved = await api('PATCH', `/connections/${id}`, { config: c.config(hostB.url) });
      expect(moved.status).toBe(400);
      expect(moved.body.error.code).toBe('validation_failed');
      expect(moved.body.error.details.map((d: Json) => d.path)).toEqual(['credentials']);
      expect(moved.body.error.details[0].message).toContain(`config.${c.key}`);
      // Nothing was written: the connection still points at host A.
      expect((await api('GET', `/connections/${id}`)).body.config[c.key]).toBe(hostA.url);
      await api('POST', `/connections/${id}/test`);
      expect(hostB.received()).not.toContain(oldKey);

      // With the credentials in the same request, the move is accepted and only the new ones go there.
      const newKey = secret('new');
      const withCredentials = await api('PATCH', `/connections/${id}`, {
        config: c.config(hostB.url),
        credentials: c.credentials(newKey),
      });
      expect(withCredentials.status).toBe(200);
      expect(withCredentials.body.config[c.key]).toBe(hostB.url);
      await api('POST', `/connections/${id}/test`);
      expect(hostB.received()).toContain(newKey);
      expect(hostB.received()).not.toContain(oldKey);

      // Other settings (and a URL that only differs in form) change without the credentials.
      const sameHost = await api('PATCH', `/connections/${id}`, { name: 'renamed', config: c.config(`${hostB.url}/`) });
      expect(sameHost.status).toBe(200);
      await api('DELETE', `/connections/${id}`);
    },
  );

  it('stripe: dropping apiBase (back to api.stripe.com) also needs the credentials', async () => {
    const created = await api('POST', '/connections', {
      provider: 'stripe',
      name: 'sandbox',
      config: { apiBase: hostA.url },
      credentials: { apiKey: secret('sk_test') },
    });
    const moved = await api('PATCH', `/connections/${created.body.id}`, { config: {} });
    expect(moved.status).toBe(400);
    expect(moved.body.error.details.map((d: Json) => d.path)).toEqual(['credentials']);
    const missingRequired = await api('PATCH', `/connections/${created.body.id}`, {
      config: { apiBase: hostB.url },
      credentials: { webhookSecret: 'whsec_x' },
    });
    expect(missingRequired.status).toBe(400);
    expect(missingRequired.body.error.details.map((d: Json) => d.path)).toEqual(['credentials.apiKey']);
    await api('DELETE', `/connections/${created.body.id}`);
  });

  it('rest: the new address gets only what the request gives (stored credentials are replaced, not merged)', async () => {
    const user = secret('user');
    const config = (url: string) => ({
      baseUrl: url,
      auth: { type: 'basic' },
      entities: { customer: { listPath: '/customers', pagination: { style: 'link' } } },
    });
    const created = await api('POST', '/connections', {
      provider: 'rest',
      name: 'basic',
      config: config(hostA.url),
      credentials: { username: user, password: secret('pw') },
    });
    const moved = await api('PATCH', `/connections/${created.body.id}`, {
      config: config(hostB.url),
      credentials: { password: secret('pw2') },
    });
    expect(moved.status).toBe(200);
    await api('POST', `/connections/${created.body.id}/test`);
    expect(hostB.received()).not.toContain(user);
    await api('DELETE', `/connections/${created.body.id}`);
  });

  it('marks the settings that decide where credentials go', async () => {
    const providers = (await api('GET', '/providers')).body.items as Json[];
    const targets = Object.fromEntries(
      providers.map((p) => [p.name, p.config.filter((s: Json) => s.credentialTarget).map((s: Json) => s.name)]),
    );
    expect(targets).toMatchObject({ stripe: ['apiBase'], hubspot: ['apiBase'], rest: ['baseUrl'] });
  });
});

describe.each(TEST_DATABASES)('a changed credential address needs the credentials again: library ($name)', (db) => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  it('connections.update refuses a new apiBase without credentials, for declared and url-typed settings', async () => {
    // A provider that declares nothing: its settings of type `url` are where credentials go.
    const custom: ProviderDefinition = {
      name: 'custom',
      entityTypes: ['customer'],
      info: {
        displayName: 'Custom',
        config: [{ name: 'endpoint', label: 'Endpoint', type: 'url', required: true, secret: false }],
        credentials: [{ name: 'key', label: 'Key', type: 'string', required: true, secret: true }],
        entityTypes: [],
      },
      createEndpoint() {
        throw new Error('not used');
      },
    };
    h = await createHarness(db, 'hardening-cred-library', { providers: [createStripeProvider(), custom] });
    const stripe = await h.engine.connections.create({
      name: 's',
      provider: 'stripe',
      config: { apiBase: 'http://127.0.0.1:1' },
      credentials: { apiKey: 'sk_test_x' },
    });
    const err = await h.engine.connections
      .update(stripe.id, { config: { apiBase: 'https://attacker.example' } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).issues.map((i) => i.path)).toEqual(['credentials']);
    expect((await h.engine.connections.get(stripe.id)).config.apiBase).toBe('http://127.0.0.1:1');

    const other = await h.engine.connections.create({
      name: 'c',
      provider: 'custom',
      config: { endpoint: 'https://a.example' },
      credentials: { key: 'k' },
    });
    const err2 = await h.engine.connections
      .update(other.id, { config: { endpoint: 'https://b.example' } })
      .catch((e: unknown) => e);
    expect((err2 as ValidationError).issues?.map((i) => i.path)).toEqual(['credentials']);
    const ok = await h.engine.connections.update(other.id, {
      config: { endpoint: 'https://b.example' },
      credentials: { key: 'k2' },
    });
    expect(ok.config.endpoint).toBe('https://b.example');
  });
});
