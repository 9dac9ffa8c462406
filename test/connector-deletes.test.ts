import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createHubSpotProvider, HUBSPOT_INFO, verifyHubSpotWebhook } from '../src/connectors/hubspot/index.ts';
import { createRestProvider, restEntityTypeInfo } from '../src/connectors/rest/index.ts';
import { createStripeProvider, STRIPE_INFO, verifyStripeWebhook } from '../src/connectors/stripe/index.ts';
import { ProviderError, ValidationError } from '../src/domain/errors.ts';
import type {
  ConnectionContext,
  Endpoint,
  EndpointRecord,
  ReadPage,
  WebhookDelivery,
  WriteOp,
  WriteResult,
} from '../src/engine/endpoint.ts';
import { type HubSpotSandbox, startHubSpotSandbox } from '../src/sandbox/hubspot/server.ts';
import { type StripeSandbox, startStripeSandbox } from '../src/sandbox/stripe/server.ts';
import { type RestPeopleServer, restPeopleConfig, startRestPeopleServer } from './contract/rest-server.ts';
import { createHarness, TEST_DATABASES } from './helpers/db.ts';

/**
 * The connector side of deletions (issue 13), each connector against its in-repo sandbox over real HTTP:
 * tombstones in incremental reads when the request asks for deletions (and the same requests as before when it
 * does not), outbound deletes (idempotent: deleting what is gone succeeds), delete webhooks, `supports.deletes`.
 */
const RETRY = { attempts: 3, baseDelayMs: 1, maxDelayMs: 10 };
const signal = () => new AbortController().signal;

/** Every page of a read, from the first cursor to the end. */
async function readAll(
  ep: Endpoint,
  entityType: string,
  since: Date | null,
  options: { deletions?: boolean; pageSize?: number } = {},
): Promise<{ records: EndpointRecord[]; pages: ReadPage[] }> {
  const pages: ReadPage[] = [];
  let cursor: string | null = null;
  for (let n = 0; n < 1000; n++) {
    const page = await ep.readPage({
      entityType,
      since,
      cursor,
      pageSize: options.pageSize ?? 100,
      signal: signal(),
      ...(options.deletions === undefined ? {} : { deletions: options.deletions }),
    });
    pages.push(page);
    cursor = page.nextCursor;
    if (cursor === null) break;
  }
  return { records: pages.flatMap((p) => p.records), pages };
}

const del = (targetId: string, extra: Partial<WriteOp> = {}): WriteOp => ({
  action: 'delete',
  targetId,
  data: {},
  idempotencyKey: `del-${targetId}`,
  sourceId: `local-${targetId}`,
  ...extra,
});
const outcome = (r: WriteResult) =>
  r.ok ? `ok ${r.id}` : r.error instanceof ProviderError ? `${r.error.kind}: ${r.error.message}` : String(r.error);

/** A receiver of webhook deliveries: each one as the server got it (raw body, headers, full URL). */
async function webhookReceiver(): Promise<{ url: string; deliveries: WebhookDelivery[]; close(): Promise<void> }> {
  const deliveries: WebhookDelivery[] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const headers: Record<string, string | undefined> = {};
      for (const [k, v] of Object.entries(req.headers)) headers[k] = Array.isArray(v) ? v.join(',') : v;
      deliveries.push({ rawBody: Buffer.concat(chunks), headers, method: req.method ?? 'POST', url: `${url}` });
      res.writeHead(200).end('{}');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
  return {
    url,
    deliveries,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

describe('Stripe deletes (sandbox over HTTP)', () => {
  const KEY = 'sk_test_deletes_not_real';
  let sandbox: StripeSandbox | undefined;
  afterEach(async () => {
    await sandbox?.close();
    sandbox = undefined;
  });

  async function setup(options: Parameters<typeof startStripeSandbox>[0] = {}) {
    sandbox = await startStripeSandbox({ apiKey: KEY, records: { customers: 6, products: 2 }, ...options });
    const connection: ConnectionContext = {
      id: 'stripe-deletes',
      provider: 'stripe',
      config: { apiBase: sandbox.url, requestsPerSecond: 1000 },
      credentials: { apiKey: KEY, webhookSecret: sandbox.webhookSecret },
    };
    const ep = await createStripeProvider({ retry: RETRY }).createEndpoint(connection);
    return { s: sandbox, ep, connection };
  }

  it('incremental reads with deletions: *.deleted events become tombstones, never fetched', async () => {
    const { s, ep } = await setup();
    const since = new Date(Date.now() - 2000);
    const [a, b] = s.store.ids('customer');
    s.store.update('customer', a!, { name: 'Changed A' });
    s.store.delete('customer', b!);
    const c = s.store.put('customer', { email: 'short-lived@example.com' });
    s.store.delete('customer', c.id);

    // Without deletions: the same requests as a job that ignores them (events of created/updated only; the
    // short-lived customer's creation is fetched and found deleted, so it is left out).
    s.resetRequests();
    const plain = await readAll(ep, 'customer', since);
    expect(plain.records.map((r) => [r.id, r.deleted])).toEqual([[a, undefined]]);
    expect(s.requests.byRoute['GET /v1/events']).toBe(1);
    expect(s.requests.byRoute['GET /v1/customers/:id']).toBe(2);

    s.resetRequests();
    const { records } = await readAll(ep, 'customer', since, { deletions: true });
    const byId = new Map(records.map((r) => [r.id, r]));
    expect([...byId.keys()].sort()).toEqual([a, b, c.id].sort());
    expect(byId.get(a!)).toMatchObject({ data: { name: 'Changed A' } });
    expect(byId.get(a!)!.deleted).toBeUndefined();
    const deletedEvents = s.store.events().filter((e) => e.type === 'customer.deleted');
    for (const id of [b!, c.id]) {
      const event = deletedEvents.find((e) => (e.data.object as { id: string }).id === id)!;
      expect(byId.get(id)).toEqual({
        id,
        data: {},
        deleted: true,
        updatedAt: new Date(event.created * 1000).toISOString(),
      });
    }
    // Only the changed customer was fetched: a tombstone needs no request, even for c's older created event.
    expect(s.requests.byRoute['GET /v1/customers/:id']).toBe(1);
    expect(s.requests.byRoute['GET /v1/customers']).toBeUndefined();

    // Page by page (one event a page): still one tombstone per deleted id, the deleted one's older events are
    // fetched and left out.
    const paged = await readAll(ep, 'customer', since, { deletions: true, pageSize: 1 });
    expect(
      paged.records
        .filter((r) => r.deleted)
        .map((r) => r.id)
        .sort(),
    ).toEqual([b, c.id].sort());
    expect(paged.records.filter((r) => !r.deleted).map((r) => r.id)).toEqual([a]);

    // A full read lists what exists: no tombstones, with or without deletions.
    const full = await readAll(ep, 'customer', null, { deletions: true });
    expect(full.records).toHaveLength(6 - 1);
    expect(full.records.some((r) => r.deleted)).toBe(false);

    // fetch leaves deleted records out, as before.
    const fetched = await ep.fetch({ entityType: 'customer', ids: [a!, b!, c.id], signal: signal() });
    expect(fetched.map((r) => r.id)).toEqual([a]);
  });

  it('outbound deletes call the delete API; what is gone is a success; soft deletes are refused per op', async () => {
    const { s, ep } = await setup();
    const [a, b, c] = s.store.ids('customer');
    s.store.delete('customer', b!);
    s.resetRequests();
    const results = await ep.write({
      entityType: 'customer',
      ops: [del(a!), del(b!), del('cus_never_existed'), del(c!, { soft: true, deletedAt: new Date().toISOString() })],
      signal: signal(),
    });
    expect(results.map(outcome)).toEqual([
      `ok ${a}`,
      `ok ${b}`,
      'ok cus_never_existed',
      expect.stringMatching(/^config: Stripe cannot soft-delete/),
    ]);
    expect(s.requests.byRoute['DELETE /v1/customers/:id']).toBe(3);
    expect(s.store.get('customer', a!)).toBeUndefined();
    expect(s.store.get('customer', c!)).toBeDefined();
    expect(s.store.events().filter((e) => e.type === 'customer.deleted')).toHaveLength(2);

    // Products: deleted; one with prices is refused by Stripe as that record's failure.
    const [p1, p2] = s.store.ids('product');
    s.store.put('price', { product: p2! });
    const products = await ep.write({ entityType: 'product', ops: [del(p1!), del(p2!)], signal: signal() });
    expect(products.map(outcome)).toEqual([`ok ${p1}`, expect.stringMatching(/^record: stripe: 400 /)]);
    expect(s.store.get('product', p1!)).toBeUndefined();
    expect(s.store.get('product', p2!)).toBeDefined();
    // Deleting again: gone is a success.
    expect((await ep.write({ entityType: 'product', ops: [del(p1!)], signal: signal() })).map(outcome)).toEqual([
      `ok ${p1}`,
    ]);
  });

  it('a customer.deleted webhook from the sandbox verifies as a deletion; supports.deletes is declared', async () => {
    const receiver = await webhookReceiver();
    try {
      const { s, ep, connection } = await setup({ webhookEndpoints: [receiver.url] });
      const [a, b] = s.store.ids('customer');
      await ep.write({ entityType: 'customer', ops: [del(a!)], signal: signal() });
      s.store.update('customer', b!, { name: 'Still here' });
      await s.flushWebhooks();
      // Deliveries may arrive in any order (as at Stripe).
      const events = receiver.deliveries.flatMap((d) => verifyStripeWebhook(d, connection));
      expect(events).toHaveLength(2);
      expect(events).toContainEqual({
        eventId: expect.stringMatching(/^evt_/),
        entityType: 'customer',
        recordId: a,
        deleted: true,
      });
      expect(events).toContainEqual({ eventId: expect.stringMatching(/^evt_/), entityType: 'customer', recordId: b });
    } finally {
      await receiver.close();
    }
    const deletes = Object.fromEntries(STRIPE_INFO.entityTypes.map((t) => [t.name, t.supports.deletes ?? false]));
    expect(deletes).toEqual({ customer: true, product: true, price: false, invoice: false });
  });
});

describe('HubSpot deletes (sandbox over HTTP)', () => {
  const TOKEN = 'pat-deletes-not-real';
  const SECRET = 'hubspot-app-secret-not-real';
  const T0 = Date.UTC(2026, 0, 15, 12, 0, 0);
  let sandbox: HubSpotSandbox | undefined;
  afterEach(async () => {
    await sandbox?.close();
    sandbox = undefined;
  });

  async function setup() {
    const clock = { t: T0 };
    sandbox = await startHubSpotSandbox({
      accessToken: TOKEN,
      appSecret: SECRET,
      records: { contacts: 8 },
      now: () => clock.t,
      rateLimit: { max: 1_000_000, searchPerSecond: 1000 },
    });
    const connection: ConnectionContext = {
      id: 'hubspot-deletes',
      provider: 'hubspot',
      config: { apiBase: sandbox.url, requestsPer10Seconds: 10_000, searchRequestsPerSecond: 1000 },
      credentials: { accessToken: TOKEN, clientSecret: SECRET },
    };
    const ep = await createHubSpotProvider({ retry: RETRY }).createEndpoint(connection);
    const ids = sandbox.store.list('contacts').map((c) => c.id);
    return { s: sandbox, ep, connection, clock, ids };
  }

  it('incremental reads with deletions page archived objects after the search: tombstones archived since', async () => {
    const { s, ep, clock, ids } = await setup();
    const [old, gone, changed, gone2] = ids;
    s.store.archive('contacts', old!); // archived before the cursor: not reported again
    clock.t = T0 + 60_000;
    const since = new Date(clock.t);
    clock.t += 1000;
    s.store.archive('contacts', gone!);
    s.store.update('contacts', changed!, { firstname: 'Changed' });
    clock.t += 1000;
    s.store.archive('contacts', gone2!);
    clock.t += 1000;

    const before = { ...s.requests.byOperation };
    const plain = await readAll(ep, 'contact', since);
    expect(plain.records.map((r) => r.id)).toEqual([changed]);
    expect(s.requests.byOperation.list ?? 0).toBe(before.list ?? 0); // no archived listing when not asked
    expect(s.requests.byOperation.search).toBe((before.search ?? 0) + 1);

    // Pages of 1: the search, then the archived list page by page.
    const { records } = await readAll(ep, 'contact', since, { deletions: true, pageSize: 1 });
    expect(records.filter((r) => !r.deleted).map((r) => r.id)).toEqual([changed]);
    expect(records.filter((r) => r.deleted)).toEqual([
      { id: gone, data: {}, deleted: true, updatedAt: new Date(T0 + 61_000).toISOString() },
      { id: gone2, data: {}, deleted: true, updatedAt: new Date(T0 + 62_000).toISOString() },
    ]);
    expect(s.requests.byOperation.list).toBe((before.list ?? 0) + 3); // three archived contacts, one a page

    // A full read lists live records only, with or without deletions (the engine sweeps).
    const full = await readAll(ep, 'contact', null, { deletions: true });
    expect(full.records).toHaveLength(8 - 3);
    expect(full.records.some((r) => r.deleted)).toBe(false);
    // fetch leaves archived records out, as before.
    const fetched = await ep.fetch({ entityType: 'contact', ids: [changed!, gone!], signal: signal() });
    expect(fetched.map((r) => r.id)).toEqual([changed]);
  });

  it('outbound deletes archive in batches; already archived is a success; soft and hard both archive', async () => {
    const { s, ep, ids } = await setup();
    const [a, b, c] = ids;
    s.store.archive('contacts', b!);
    const results = await ep.write({
      entityType: 'contact',
      ops: [del(a!), del(b!), del(c!, { soft: true }), del('987654321')],
      signal: signal(),
    });
    expect(results.map(outcome)).toEqual([`ok ${a}`, `ok ${b}`, `ok ${c}`, 'ok 987654321']);
    expect(s.requests.byOperation['batch/archive']).toBe(1);
    const archived = s.store.list('contacts', { archived: true });
    expect(archived.map((o) => o.id).sort()).toEqual([a, b, c].sort());
    expect(archived.every((o) => typeof o.archivedAt === 'string')).toBe(true);

    // More than 100 deletes go in batches of 100; creates and updates in the same call still work.
    for (let i = 0; i < 150; i++) s.store.put('contacts', { email: `bulk${i}@example.com` });
    const bulk = s.store.list('contacts').filter((o) => String(o.properties.email).startsWith('bulk'));
    const mixed = await ep.write({
      entityType: 'contact',
      ops: [
        ...bulk.map((o) => del(o.id)),
        {
          action: 'update',
          targetId: ids[4]!,
          data: { firstname: 'Kept' },
          idempotencyKey: 'u1',
          sourceId: 'local-u1',
        },
      ],
      signal: signal(),
    });
    expect(mixed.every((r) => r.ok)).toBe(true);
    expect(s.requests.byOperation['batch/archive']).toBe(1 + 2);
    expect(s.store.list('contacts', { archived: true })).toHaveLength(3 + 150);
    expect(s.store.get('contacts', ids[4]!)!.properties.firstname).toBe('Kept');
  });

  it('*.deletion webhooks verify as deletions; supports.deletes is declared', async () => {
    const { s, connection } = await setup();
    const receiver = await webhookReceiver();
    try {
      await s.sendWebhook(receiver.url, [
        { objectId: 11, subscriptionType: 'contact.deletion', eventId: 1 },
        { objectId: 12, subscriptionType: 'company.privacyDeletion', eventId: 2 },
        { objectId: 13, subscriptionType: 'deal.propertyChange', eventId: 3 },
        { objectId: 14, subscriptionType: 'contact.restore', eventId: 4 },
      ]);
      const events = receiver.deliveries.flatMap((d) => verifyHubSpotWebhook({ ...d, now: T0 }, connection));
      expect(events.map((e) => [e.entityType, e.recordId, e.deleted ?? false])).toEqual([
        ['contact', '11', true],
        ['company', '12', true],
        ['deal', '13', false],
        ['contact', '14', false],
      ]);
    } finally {
      await receiver.close();
    }
    expect(HUBSPOT_INFO.entityTypes.map((t) => t.supports.deletes)).toEqual([true, true, true]);
  });
});

describe('REST deletes (people contract server over HTTP)', () => {
  let server: RestPeopleServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  async function setup(config: Record<string, unknown> | ((url: string) => Record<string, unknown>) = {}) {
    server = await startRestPeopleServer({ records: 5 });
    const cfg = typeof config === 'function' ? config(server.url) : { ...restPeopleConfig(server.url), ...config };
    const ep = await createRestProvider({ retry: RETRY }).createEndpoint({
      id: 'rest-deletes',
      provider: 'rest',
      config: cfg,
      credentials: { token: server.token },
    });
    return { s: server, ep, config: cfg };
  }

  it('outbound deletes send the delete request; 404 and 410 are successes', async () => {
    const { s, ep } = await setup();
    s.faults.gone = ['p000003'];
    const results = await ep.write({
      entityType: 'person',
      ops: [del('p000001'), del('p000001'), del('p000002', { soft: true }), del('p000003')],
      signal: signal(),
    });
    expect(results.map(outcome)).toEqual(['ok p000001', 'ok p000001', 'ok p000002', 'ok p000003']);
    expect(s.requests.byRoute['DELETE /people/:id']).toBe(4);
    expect(s.requests.byStatus[204]).toBe(2);
    expect(s.requests.byStatus[404]).toBe(1);
    expect([...s.people.keys()]).toEqual(['p000003', 'p000004', 'p000005']);
  });

  it('a PATCH delete with a body marks the record (a soft delete the API defines)', async () => {
    const { s, ep } = await setup((url) => {
      const c = restPeopleConfig(url) as { entities: { person: Record<string, unknown> } };
      c.entities.person.delete = { method: 'PATCH', path: '/people/{id}', body: { name: '(deleted)' } };
      return c;
    });
    const results = await ep.write({ entityType: 'person', ops: [del('p000004'), del('p999999')], signal: signal() });
    expect(results.map(outcome)).toEqual(['ok p000004', 'ok p999999']);
    expect(s.people.get('p000004')!.name).toBe('(deleted)');
    expect(s.requests.byRoute['PATCH /people/:id']).toBe(2);
  });

  it('without a delete block, a delete op fails alone with a config error naming delete', async () => {
    const { s, ep } = await setup((url) => restPeopleConfig(url, { delete: false }));
    const results = await ep.write({
      entityType: 'person',
      ops: [
        del('p000001'),
        { action: 'update', targetId: 'p000002', data: { name: 'Renamed' }, idempotencyKey: 'u', sourceId: 'l2' },
      ],
      signal: signal(),
    });
    expect(results.map(outcome)).toEqual([
      expect.stringMatching(/^config: rest: entity "person" has no delete request \(delete\)/),
      'ok p000002',
    ]);
    expect(s.people.has('p000001')).toBe(true);
    expect(s.people.get('p000002')!.name).toBe('Renamed');
    expect(s.requests.byRoute['DELETE /people/:id']).toBeUndefined();
  });

  it('supports.deletes follows the delete block; a bad delete block is refused naming its fields', async () => {
    const url = 'http://127.0.0.1:1';
    expect(restEntityTypeInfo(restPeopleConfig(url))[0]!.supports.deletes).toBe(true);
    expect(restEntityTypeInfo(restPeopleConfig(url, { delete: false }))[0]!.supports.deletes).toBe(false);
    const h = await createHarness(TEST_DATABASES[0]!, 'rest-delete-config', { providers: [createRestProvider()] });
    try {
      const withDelete = (block: unknown) => {
        const c = restPeopleConfig(url) as { entities: { person: Record<string, unknown> } };
        c.entities.person.delete = block;
        return h.engine.connections
          .create({ name: 'P', provider: 'rest', config: c, credentials: { token: 't' } })
          .catch((e) => e);
      };
      const bad = await withDelete({ method: 'GET', path: 'people', body: [1], extra: true });
      expect(bad).toBeInstanceOf(ValidationError);
      expect(bad.issues.map((i: { path: string }) => i.path)).toEqual([
        'config.entities.person.delete.method',
        'config.entities.person.delete.path',
        'config.entities.person.delete.body',
        'config.entities.person.delete.extra',
      ]);
      const noId = await withDelete({ path: '/people' });
      expect(noId.issues).toEqual([
        { path: 'config.entities.person.delete.path', message: expect.stringMatching(/\{id\}/) },
      ]);
      const ok = await withDelete({ method: 'POST', path: '/people/{id}/archive', body: { reason: 'sync' } });
      expect(ok.id).toEqual(expect.any(String));
    } finally {
      await h.close();
    }
  });

  it('a page that left out items without an id is incomplete; a clean page is not', async () => {
    const { s, ep } = await setup();
    const clean = await ep.readPage({
      entityType: 'person',
      since: null,
      cursor: null,
      pageSize: 10,
      signal: signal(),
    });
    expect(clean.records).toHaveLength(5);
    expect(clean.incomplete).toBeUndefined();
    s.faults.withoutId = ['p000002'];
    const page = await ep.readPage({ entityType: 'person', since: null, cursor: null, pageSize: 10, signal: signal() });
    expect(page.records.map((r) => r.id)).toEqual(['p000001', 'p000003', 'p000004', 'p000005']);
    expect(page.incomplete).toBe(true);
    // A malformed record (with an id) is a record failure, not a hole: the page stays complete.
    s.faults.withoutId = undefined;
    s.faults.malformed = ['p000003'];
    const malformed = await ep.readPage({
      entityType: 'person',
      since: null,
      cursor: null,
      pageSize: 10,
      signal: signal(),
    });
    expect(malformed.records.find((r) => r.id === 'p000003')!.error).toBeInstanceOf(ProviderError);
    expect(malformed.incomplete).toBeUndefined();
  });
});
