import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client, Signature } from '@hubspot/api-client';
import type { FilterOperatorEnum } from '@hubspot/api-client/lib/codegen/crm/contacts/index.js';
import { afterEach, describe, expect, it } from 'vitest';
import { parseHubSpotSandboxArgs, runHubSpotSandboxCli } from '../src/sandbox/hubspot/cli.ts';
import {
  type HubSpotSandbox,
  type HubSpotSandboxOptions,
  signHubSpotV3,
  startHubSpotSandbox,
  verifyHubSpotV3,
} from '../src/sandbox/hubspot/server.ts';
import { verifyHubSpotSignatureV3 } from '../src/security/webhooks.ts';

const TOKEN = 'pat-sandbox';
const T0 = Date.UTC(2025, 0, 1);

const running: HubSpotSandbox[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});

async function start(options: HubSpotSandboxOptions = {}) {
  const sandbox = await startHubSpotSandbox(options);
  running.push(sandbox);
  return sandbox;
}

/** A fake clock: `clock.t` is "now" for the sandbox; tests move it instead of sleeping. */
function fakeClock(t = T0) {
  const clock = { t, now: () => clock.t };
  return clock;
}

/** The official SDK pointed at the sandbox, with its retry decorator off (retries are the connector's job). */
function sdk(sandbox: HubSpotSandbox, accessToken = TOKEN) {
  return new Client({ accessToken, basePath: sandbox.url, numberOfApiCallRetries: 0 });
}

interface SdkError {
  code: number;
  body: Record<string, unknown>;
  headers: Record<string, string>;
}

async function rejected(p: Promise<unknown>): Promise<SdkError> {
  try {
    await p;
  } catch (e) {
    return e as SdkError;
  }
  throw new Error('expected the call to fail');
}

// biome-ignore lint/suspicious/noExplicitAny: raw JSON responses are inspected field by field
type Json = any;

async function call(
  sandbox: HubSpotSandbox,
  method: string,
  path: string,
  body?: unknown,
  token: string | null = TOKEN,
) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${sandbox.url}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : null) as Json };
}

const GT = 'GT' as FilterOperatorEnum;
const EQ = 'EQ' as FilterOperatorEnum;

describe('HubSpot sandbox: reads', () => {
  it('pages through 250 contacts with limit 100 in 3 pages without duplicates', async () => {
    const sandbox = await start({ records: { contacts: 250 } });
    const client = sdk(sandbox);
    const pages: number[] = [];
    const ids: string[] = [];
    let after: string | undefined;
    do {
      const page = await client.crm.contacts.basicApi.getPage(100, after);
      pages.push(page.results.length);
      ids.push(...page.results.map((r) => r.id));
      after = page.paging?.next?.after;
    } while (after);
    expect(pages).toEqual([100, 100, 50]);
    expect(new Set(ids).size).toBe(250);
    expect(ids[0]).toBe('1');
    expect(ids.at(-1)).toBe('250');
    // The last page carries no paging; the others link to the next page.
    const second = await call(sandbox, 'GET', '/crm/v3/objects/contacts?limit=100&after=101');
    expect(second.body.paging.next.after).toBe('201');
    expect(second.body.paging.next.link).toBe(`${sandbox.url}/crm/v3/objects/contacts?limit=100&after=201`);
    const last = await call(sandbox, 'GET', '/crm/v3/objects/contacts?limit=100&after=201');
    expect(last.body.results).toHaveLength(50);
    expect(last.body.paging).toBeUndefined();
    // Default limit 10; more than 100 is capped at 100.
    expect((await call(sandbox, 'GET', '/crm/v3/objects/contacts')).body.results).toHaveLength(10);
    expect((await call(sandbox, 'GET', '/crm/v3/objects/contacts?limit=500')).body.results).toHaveLength(100);
  });

  it('returns only the requested properties plus the defaults HubSpot always adds', async () => {
    const sandbox = await start({ records: { contacts: 3, companies: 2, deals: 1 } });
    const client = sdk(sandbox);
    const page = await client.crm.contacts.basicApi.getPage(1, undefined, ['firstname']);
    expect(page.results[0]!.properties).toEqual({
      firstname: 'Grace',
      createdate: '2024-01-01T00:01:00.000Z',
      hs_object_id: '1',
      lastmodifieddate: page.results[0]!.updatedAt.toISOString(),
    });
    // Without properties=: the default set, unset values as null.
    const plain = await call(sandbox, 'GET', '/crm/v3/objects/contacts?limit=1');
    expect(Object.keys(plain.body.results[0].properties).sort()).toEqual([
      'createdate',
      'email',
      'firstname',
      'hs_object_id',
      'lastmodifieddate',
      'lastname',
    ]);
    // Comma-separated form, an unknown property (left out) and a known unset one (null).
    const comma = await call(sandbox, 'GET', '/crm/v3/objects/contacts?limit=1&properties=email,phone,nope');
    expect(comma.body.results[0].properties).toEqual({
      email: 'contact1@example.com',
      phone: null,
      createdate: '2024-01-01T00:01:00.000Z',
      hs_object_id: '1',
      lastmodifieddate: comma.body.results[0].updatedAt,
    });
    // Companies and deals use hs_lastmodifieddate; ids come from one sequence.
    const companies = await client.crm.companies.basicApi.getPage(10, undefined, ['name']);
    expect(companies.results.map((c) => [c.id, c.properties.name])).toEqual([
      ['4', 'Company 1'],
      ['5', 'Company 2'],
    ]);
    expect(Object.keys(companies.results[0]!.properties).sort()).toEqual([
      'createdate',
      'hs_lastmodifieddate',
      'hs_object_id',
      'name',
    ]);
    const deal = await client.crm.deals.basicApi.getById('6');
    expect(deal.properties).toMatchObject({ dealname: 'Deal 1', amount: '470', pipeline: 'default' });
  });

  it('reads by id, by a unique idProperty, and answers 404 in the HubSpot error shape', async () => {
    const sandbox = await start({ records: { contacts: 10 } });
    const client = sdk(sandbox);
    const seven = await client.crm.contacts.basicApi.getById('7', ['email']);
    expect(seven.id).toBe('7');
    expect(seven.properties.email).toBe('contact7@example.com');
    expect(seven.archived).toBe(false);
    const byEmail = await client.crm.contacts.basicApi.getById(
      'CONTACT3@example.com',
      ['firstname'],
      undefined,
      undefined,
      false,
      'email',
    );
    expect(byEmail.id).toBe('3');
    const missing = await rejected(client.crm.contacts.basicApi.getById('999'));
    expect(missing.code).toBe(404);
    expect(missing.body).toMatchObject({
      status: 'error',
      category: 'OBJECT_NOT_FOUND',
      message: 'Object not found.  objectId are usually numeric.',
      context: { id: ['999'] },
    });
    expect(missing.body.correlationId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('batch reads, reporting missing ids with 207', async () => {
    const sandbox = await start({ records: { contacts: 10 } });
    const client = sdk(sandbox);
    const ok = await client.crm.contacts.batchApi.read({
      inputs: [{ id: '2' }, { id: '9' }],
      properties: ['email'],
      propertiesWithHistory: [],
    });
    expect(ok.results.map((r) => [r.id, r.properties.email])).toEqual([
      ['2', 'contact2@example.com'],
      ['9', 'contact9@example.com'],
    ]);
    const partial = await call(sandbox, 'POST', '/crm/v3/objects/contacts/batch/read', {
      inputs: [{ id: '1' }, { id: '404' }, { id: '405' }],
      properties: ['lastname'],
    });
    expect(partial.status).toBe(207);
    expect(partial.body.status).toBe('COMPLETE');
    expect(partial.body.results.map((r: Json) => r.id)).toEqual(['1']);
    expect(partial.body.numErrors).toBe(1);
    expect(partial.body.errors).toEqual([
      {
        status: 'error',
        category: 'OBJECT_NOT_FOUND',
        message: 'Could not get some CONTACT objects, they may be deleted or not exist. Check that ids are valid.',
        context: { ids: ['404', '405'] },
        errors: [],
      },
    ]);
    // By a unique property.
    const byEmail = await call(sandbox, 'POST', '/crm/v3/objects/contacts/batch/read', {
      inputs: [{ id: 'contact4@example.com' }],
      idProperty: 'email',
      properties: [],
    });
    expect(byEmail.body.results.map((r: Json) => r.id)).toEqual(['4']);
  });

  it('serves a malformed record with properties: null when the fault names it', async () => {
    const sandbox = await start({ records: { contacts: 6 }, faults: { malformed: { ids: ['5'] } } });
    const client = sdk(sandbox);
    const page = await client.crm.contacts.basicApi.getPage(10);
    expect(page.results[4]!.id).toBe('5');
    expect(page.results[4]!.properties).toBeNull();
    expect(page.results[3]!.properties.email).toBe('contact4@example.com');
    expect((await client.crm.contacts.basicApi.getById('5')).properties).toBeNull();
    sandbox.faults.malformed = undefined;
    expect((await client.crm.contacts.basicApi.getById('5')).properties.email).toBe('contact5@example.com');
  });

  it('mutates records while a listing is paged when mutateDuringList is on', async () => {
    const clock = fakeClock();
    const sandbox = await start({ records: { contacts: 250 }, now: clock.now, faults: { mutateDuringList: true } });
    const client = sdk(sandbox);
    const ids: string[] = [];
    let after: string | undefined;
    do {
      const page = await client.crm.contacts.basicApi.getPage(100, after);
      ids.push(...page.results.map((r) => r.id));
      after = page.paging?.next?.after;
    } while (after);
    // The record created during the first page shows up at the end of the same listing.
    expect(ids).toHaveLength(251);
    expect(ids.at(-1)).toBe('251');
    expect(sandbox.store.get('contacts', '251')!.properties.email).toBe('mid-list-1@example.com');
    // The first record of each served page was changed after it was served.
    for (const [id, seq] of [
      ['1', 1],
      ['101', 2],
      ['201', 3],
    ] as const) {
      const stored = sandbox.store.get('contacts', id)!;
      expect(stored.properties.firstname).toBe(`Mutated ${seq}`);
      expect(stored.properties.lastmodifieddate).toBe(new Date(T0).toISOString());
    }
  });
});

describe('HubSpot sandbox: search', () => {
  it('filters GT on lastmodifieddate, sorts ascending and pages to the end', async () => {
    const sandbox = await start({ records: { contacts: 250 }, rateLimit: { searchPerSecond: 100 } });
    const client = sdk(sandbox);
    const cutoff = Date.UTC(2024, 0, 15);
    const expected = sandbox.store
      .list('contacts')
      .filter((c) => Date.parse(c.updatedAt) > cutoff)
      .sort((a, b) => Date.parse(a.updatedAt) - Date.parse(b.updatedAt) || Number(a.id) - Number(b.id))
      .map((c) => c.id);
    expect(expected.length).toBe(134);
    const seen: string[] = [];
    const pages: number[] = [];
    let after: string | undefined;
    do {
      const res = await client.crm.contacts.searchApi.doSearch({
        filterGroups: [{ filters: [{ propertyName: 'lastmodifieddate', operator: GT, value: String(cutoff) }] }],
        sorts: [{ propertyName: 'lastmodifieddate', direction: 'ASCENDING' }] as unknown as string[],
        properties: ['email'],
        limit: 50,
        after,
      });
      expect(res.total).toBe(134);
      pages.push(res.results.length);
      seen.push(...res.results.map((r) => r.id));
      after = res.paging?.next?.after;
    } while (after);
    expect(pages).toEqual([50, 50, 34]);
    expect(seen).toEqual(expected);
    // ISO values work as well as epoch milliseconds; EQ on a string property is case-insensitive.
    const iso = await call(sandbox, 'POST', '/crm/v3/objects/contacts/search', {
      filterGroups: [
        { filters: [{ propertyName: 'lastmodifieddate', operator: 'GT', value: new Date(cutoff).toISOString() }] },
      ],
      limit: 1,
    });
    expect(iso.body.total).toBe(134);
    const eq = await client.crm.contacts.searchApi.doSearch({
      filterGroups: [{ filters: [{ propertyName: 'email', operator: EQ, value: 'Contact42@Example.com' }] }],
    });
    expect(eq.results.map((r) => r.id)).toEqual(['42']);
  });

  it('caps paging at 10,000 results (400) and the GT-forward workaround reaches the rest', async () => {
    const sandbox = await start({ records: { contacts: 10_050 } });
    const body = (after: string) => ({
      sorts: [{ propertyName: 'lastmodifieddate', direction: 'ASCENDING' }],
      properties: ['email'],
      limit: 200,
      after,
    });
    const last = await call(sandbox, 'POST', '/crm/v3/objects/contacts/search', body('9800'));
    expect(last.status).toBe(200);
    expect(last.body.total).toBe(10_050);
    expect(last.body.results).toHaveLength(200);
    expect(last.body.paging.next.after).toBe('10000');
    const past = await call(sandbox, 'POST', '/crm/v3/objects/contacts/search', body('10000'));
    expect(past.status).toBe(400);
    expect(past.body).toMatchObject({ status: 'error', category: 'VALIDATION_ERROR' });
    expect(past.body.message).toContain('10000');
    // Move a "greater than" filter forward from the last value seen instead of paging further.
    const lastSeen = last.body.results.at(-1).properties.lastmodifieddate as string;
    const rest = await call(sandbox, 'POST', '/crm/v3/objects/contacts/search', {
      filterGroups: [{ filters: [{ propertyName: 'lastmodifieddate', operator: 'GT', value: lastSeen }] }],
      sorts: [{ propertyName: 'lastmodifieddate', direction: 'ASCENDING' }],
      limit: 100,
    });
    const remaining = sandbox.store.list('contacts').filter((c) => c.updatedAt > lastSeen).length;
    expect(rest.body.total).toBe(remaining);
    expect(remaining).toBe(50);
  });

  it('rejects too many filter groups or filters with 400', async () => {
    const sandbox = await start({ records: { contacts: 5 }, rateLimit: { searchPerSecond: 100 } });
    const filter = { propertyName: 'email', operator: 'HAS_PROPERTY' };
    const search = (groups: number, perGroup: number) =>
      call(sandbox, 'POST', '/crm/v3/objects/contacts/search', {
        filterGroups: Array.from({ length: groups }, () => ({
          filters: Array.from({ length: perGroup }, () => filter),
        })),
      });
    const ok = await search(5, 3);
    expect(ok.status).toBe(200);
    expect(ok.body.total).toBe(5);
    const sixGroups = await search(6, 1);
    expect(sixGroups.status).toBe(400);
    expect(sixGroups.body.message).toBe('There were 6 filter groups, but only 5 filter groups are allowed.');
    const sevenFilters = await search(1, 7);
    expect(sevenFilters.status).toBe(400);
    expect(sevenFilters.body.message).toBe('A filter group has 7 filters, but only 6 filters are allowed per group.');
    const tooManyInTotal = await search(4, 5);
    expect(tooManyInTotal.status).toBe(400);
    expect(tooManyInTotal.body.message).toBe('There were 20 filters, but only 18 filters are allowed in total.');
    const bigPage = await call(sandbox, 'POST', '/crm/v3/objects/contacts/search', { limit: 201 });
    expect(bigPage.status).toBe(400);
    const unknown = await call(sandbox, 'POST', '/crm/v3/objects/contacts/search', {
      filterGroups: [{ filters: [{ propertyName: 'shoe_size', operator: 'EQ', value: '9' }] }],
    });
    expect(unknown.status).toBe(400);
  });

  it('shows a write in search only after searchDelayMs', async () => {
    const clock = fakeClock();
    const sandbox = await start({ records: { contacts: 20 }, now: clock.now, searchDelayMs: 5_000 });
    const recent = {
      filterGroups: [{ filters: [{ propertyName: 'lastmodifieddate', operator: 'GTE', value: String(T0) }] }],
      properties: ['firstname'],
    };
    sandbox.store.update('contacts', '3', { firstname: 'Changed' });
    expect(sandbox.store.get('contacts', '3')!.properties.lastmodifieddate).toBe(new Date(T0).toISOString());
    const before = await call(sandbox, 'POST', '/crm/v3/objects/contacts/search', recent);
    expect(before.body.total).toBe(0);
    // The stale version is what search still serves.
    const stale = await call(sandbox, 'POST', '/crm/v3/objects/contacts/search', {
      filterGroups: [{ filters: [{ propertyName: 'hs_object_id', operator: 'EQ', value: '3' }] }],
      properties: ['firstname'],
    });
    expect(stale.body.results[0].properties.firstname).toBe('Edsger');
    clock.t += 4_999;
    expect((await call(sandbox, 'POST', '/crm/v3/objects/contacts/search', recent)).body.total).toBe(0);
    clock.t += 1;
    const after = await call(sandbox, 'POST', '/crm/v3/objects/contacts/search', recent);
    expect(after.body.total).toBe(1);
    expect(after.body.results[0]).toMatchObject({ id: '3', properties: { firstname: 'Changed' } });
  });

  it('keeps list and search fast with 100,000 records', async () => {
    const started = performance.now();
    const sandbox = await start({ records: { contacts: 100_000 }, rateLimit: { searchPerSecond: 1_000 } });
    const seeded = performance.now() - started;
    const t1 = performance.now();
    const page = await call(sandbox, 'GET', '/crm/v3/objects/contacts?limit=100&after=99951');
    expect(page.body.results).toHaveLength(50);
    expect(page.body.results[0].id).toBe('99951');
    expect(page.body.paging).toBeUndefined();
    const cutoff = Date.UTC(2024, 2, 1);
    let after = '0';
    let seen = 0;
    for (let i = 0; i < 5; i++) {
      const res = await call(sandbox, 'POST', '/crm/v3/objects/contacts/search', {
        filterGroups: [{ filters: [{ propertyName: 'lastmodifieddate', operator: 'GT', value: String(cutoff) }] }],
        sorts: [{ propertyName: 'lastmodifieddate', direction: 'ASCENDING' }],
        limit: 200,
        after,
      });
      seen += res.body.results.length;
      after = res.body.paging.next.after;
      expect(Date.parse(res.body.results[0].properties.lastmodifieddate)).toBeGreaterThan(cutoff);
    }
    expect(seen).toBe(1_000);
    const requestsMs = performance.now() - t1;
    // Generous bounds: an indexed page costs well under a millisecond; a scan per page would cost far more.
    expect(seeded).toBeLessThan(10_000);
    expect(requestsMs).toBeLessThan(3_000);
  });
});

describe('HubSpot sandbox: writes', () => {
  it('batch create: 207 with exact results and errors when one email is bad (objectWriteTraceId)', async () => {
    const clock = fakeClock();
    const sandbox = await start({ records: { contacts: 2 }, now: clock.now });
    const client = sdk(sandbox);
    const res = await client.crm.contacts.batchApi.createWithHttpInfo({
      inputs: [
        { properties: { email: 'New@Example.com', firstname: 'New' }, associations: [], objectWriteTraceId: 'a' },
        { properties: { email: 'not-an-email' }, associations: [], objectWriteTraceId: 'b' },
        { properties: { email: 'contact1@example.com' }, associations: [], objectWriteTraceId: 'c' },
      ],
    } as Parameters<typeof client.crm.contacts.batchApi.create>[0]);
    expect(res.httpStatusCode).toBe(207);
    const raw = await call(sandbox, 'GET', '/crm/v3/objects/contacts/3?properties=email,firstname');
    expect(raw.body).toEqual({
      id: '3',
      properties: {
        email: 'new@example.com',
        firstname: 'New',
        createdate: '2025-01-01T00:00:00.000Z',
        hs_object_id: '3',
        lastmodifieddate: '2025-01-01T00:00:00.000Z',
      },
      createdAt: '2025-01-01T00:00:00.000Z',
      updatedAt: '2025-01-01T00:00:00.000Z',
      archived: false,
    });
    const body = res.data as unknown as Json;
    expect(body.status).toBe('COMPLETE');
    expect(body.numErrors).toBe(2);
    expect(body.results.map((r: Json) => [r.id, r.objectWriteTraceId, r.properties.email])).toEqual([
      ['3', 'a', 'new@example.com'],
    ]);
    // The SDK turns the error list into StandardError objects (`in` → `_in`); compare the wire form.
    const wire = await call(sandbox, 'POST', '/crm/v3/objects/contacts/batch/create', {
      inputs: [
        { properties: { email: 'x@y' }, objectWriteTraceId: 'd' },
        { properties: { email: 'third@example.com' }, objectWriteTraceId: 'e' },
      ],
    });
    expect(wire.status).toBe(207);
    expect(wire.body.results.map((r: Json) => r.id)).toEqual(['4']);
    expect(wire.body.errors).toEqual([
      {
        status: 'error',
        category: 'VALIDATION_ERROR',
        message:
          'Property values were not valid: [{"isValid":false,"message":"Email address x@y is invalid","error":"INVALID_EMAIL","name":"email"}]',
        context: { objectWriteTraceId: ['d'] },
        errors: [{ message: 'Email address x@y is invalid', code: 'INVALID_EMAIL', in: 'email' }],
      },
    ]);
    const conflict = (body.errors as Json[]).find((e) => e.category === 'CONFLICT');
    expect(conflict).toMatchObject({
      status: 'error',
      message: 'Contact already exists. Existing ID: 1',
      context: { objectWriteTraceId: ['c'] },
    });
    expect(sandbox.store.count('contacts')).toBe(4);
  });

  it('batch create without objectWriteTraceIds rejects the whole batch for one bad input', async () => {
    const sandbox = await start({ records: { contacts: 2 } });
    const bad = await call(sandbox, 'POST', '/crm/v3/objects/contacts/batch/create', {
      inputs: [{ properties: { email: 'ok@example.com' } }, { properties: { email: 'nope' } }],
    });
    expect(bad.status).toBe(400);
    expect(bad.body.category).toBe('VALIDATION_ERROR');
    expect(bad.body.message).toContain('INVALID_EMAIL');
    const dupe = await call(sandbox, 'POST', '/crm/v3/objects/contacts/batch/create', {
      inputs: [{ properties: { email: 'ok@example.com' } }, { properties: { email: 'contact2@example.com' } }],
    });
    expect(dupe.status).toBe(409);
    expect(dupe.body).toMatchObject({ category: 'CONFLICT', message: 'Contact already exists. Existing ID: 2' });
    expect(sandbox.store.count('contacts')).toBe(2);
    const unknown = await call(sandbox, 'POST', '/crm/v3/objects/contacts/batch/create', {
      inputs: [{ properties: { shoe_size: '9' } }],
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body.message).toContain('PROPERTY_DOESNT_EXIST');
    const good = await call(sandbox, 'POST', '/crm/v3/objects/contacts/batch/create', {
      inputs: [{ properties: { email: 'ok@example.com' } }],
    });
    expect(good.status).toBe(201);
    expect(good.body.errors).toBeUndefined();
  });

  it('has no idempotency: repeating a create makes a duplicate', async () => {
    const sandbox = await start();
    const client = sdk(sandbox);
    const input = { properties: { name: 'Acme', domain: 'acme.test' }, associations: [] };
    const a = await client.crm.companies.basicApi.create(input);
    const b = await client.crm.companies.basicApi.create(input);
    expect(a.id).not.toBe(b.id);
    expect(sandbox.store.list('companies').map((c) => c.properties.name)).toEqual(['Acme', 'Acme']);
  });

  it('rejects batches of more than 100 inputs with 400', async () => {
    const sandbox = await start();
    const inputs = Array.from({ length: 101 }, (_, i) => ({ properties: { email: `u${i}@example.com` } }));
    for (const op of ['create', 'update', 'upsert', 'read']) {
      const res = await call(sandbox, 'POST', `/crm/v3/objects/contacts/batch/${op}`, { inputs });
      expect(res.status).toBe(400);
      expect(res.body.message).toBe('Batch input contains 101 inputs; the limit is 100.');
    }
    expect(sandbox.store.count('contacts')).toBe(0);
  });

  it('upserts by a unique property (email, or the custom otesse_id)', async () => {
    const clock = fakeClock();
    const sandbox = await start({ records: { contacts: 3, companies: 1 }, now: clock.now });
    const client = sdk(sandbox);
    const res = await client.crm.contacts.batchApi.upsert({
      inputs: [
        { id: 'contact2@example.com', idProperty: 'email', properties: { firstname: 'Updated' } },
        { id: 'fresh@example.com', idProperty: 'email', properties: { firstname: 'Fresh' } },
      ],
    });
    expect(res.results.map((r) => [r.id, r._new, r.properties.firstname, r.properties.email])).toEqual([
      ['2', false, 'Updated', 'contact2@example.com'],
      ['5', true, 'Fresh', 'fresh@example.com'],
    ]);
    expect(sandbox.store.get('contacts', '2')!.properties).toMatchObject({
      firstname: 'Updated',
      lastmodifieddate: '2025-01-01T00:00:00.000Z',
    });
    // Upsert by the external id twice: the second call updates the record the first created.
    const byExternalId = (name: string) =>
      call(sandbox, 'POST', '/crm/v3/objects/companies/batch/upsert', {
        inputs: [{ id: 'otesse-42', idProperty: 'otesse_id', properties: { name } }],
      });
    const first = await byExternalId('Globex');
    expect(first.status).toBe(200);
    expect(first.body.results[0]).toMatchObject({ id: '6', new: true });
    const second = await byExternalId('Globex Corp');
    expect(second.body.results[0]).toMatchObject({ id: '6', new: false, properties: { name: 'Globex Corp' } });
    expect(sandbox.store.count('companies')).toBe(2);
    // A property without unique values cannot be an idProperty; a bad input fails alone (207).
    const notUnique = await call(sandbox, 'POST', '/crm/v3/objects/contacts/batch/upsert', {
      inputs: [{ id: 'x', idProperty: 'firstname', properties: {} }],
    });
    expect(notUnique.status).toBe(400);
    const partial = await call(sandbox, 'POST', '/crm/v3/objects/contacts/batch/upsert', {
      inputs: [
        { id: 'broken', idProperty: 'email', properties: {} },
        { id: 'contact3@example.com', idProperty: 'email', properties: { lastname: 'Okay' } },
      ],
    });
    expect(partial.status).toBe(207);
    expect(partial.body.results.map((r: Json) => r.id)).toEqual(['3']);
    expect(partial.body.errors[0]).toMatchObject({ category: 'VALIDATION_ERROR', context: { ids: ['broken'] } });
  });

  it('batch update: per-input errors with 207, duplicates rejected, last-modified bumped', async () => {
    const clock = fakeClock();
    const sandbox = await start({ records: { contacts: 3 }, now: clock.now });
    const res = await call(sandbox, 'POST', '/crm/v3/objects/contacts/batch/update', {
      inputs: [
        { id: '1', properties: { lastname: 'One' } },
        { id: '77', properties: { lastname: 'Ghost' } },
        { id: '2', properties: { email: 'contact3@example.com' } },
      ],
    });
    expect(res.status).toBe(207);
    expect(res.body.results).toEqual([
      {
        id: '1',
        properties: {
          lastname: 'One',
          createdate: '2024-01-01T00:01:00.000Z',
          hs_object_id: '1',
          lastmodifieddate: '2025-01-01T00:00:00.000Z',
        },
        createdAt: '2024-01-01T00:01:00.000Z',
        updatedAt: '2025-01-01T00:00:00.000Z',
        archived: false,
      },
    ]);
    expect(res.body.errors.map((e: Json) => [e.category, e.context.ids])).toEqual([
      ['OBJECT_NOT_FOUND', ['77']],
      ['CONFLICT', ['2']],
    ]);
    const dupes = await call(sandbox, 'POST', '/crm/v3/objects/contacts/batch/update', {
      inputs: [
        { id: '1', properties: {} },
        { id: '1', properties: {} },
      ],
    });
    expect(dupes.status).toBe(400);
    expect(dupes.body.message).toBe('Duplicate IDs found in batch input: [1]. IDs must be unique');
  });
});

describe('HubSpot sandbox: archive (delete) and restore', () => {
  // HubSpot CRM v3 objects API: DELETE /crm/v3/objects/{type}/{id} archives (204); POST …/batch/archive (204);
  // archived objects leave lists, reads and search, and are listed with ?archived=true, with archivedAt.
  it('archives one by one and in batches; archived objects are listed apart, with archivedAt', async () => {
    const clock = fakeClock();
    const sandbox = await start({ records: { contacts: 6 }, now: clock.now });
    clock.t = T0 + 90 * 86_400_000;
    expect((await call(sandbox, 'DELETE', '/crm/v3/objects/contacts/2')).status).toBe(204);
    // Archiving again, or an id that does not exist, is still a 204.
    expect((await call(sandbox, 'DELETE', '/crm/v3/objects/contacts/2')).status).toBe(204);
    expect((await call(sandbox, 'DELETE', '/crm/v3/objects/contacts/999')).status).toBe(204);
    clock.t += 1000;
    const batch = await call(sandbox, 'POST', '/crm/v3/objects/contacts/batch/archive', {
      inputs: [{ id: '3' }, { id: '2' }, { id: '998' }],
    });
    expect(batch.status).toBe(204);
    expect(sandbox.requests.byOperation).toMatchObject({ archive: 3, 'batch/archive': 1 });

    expect((await call(sandbox, 'GET', '/crm/v3/objects/contacts/2')).status).toBe(404);
    const read = await call(sandbox, 'GET', '/crm/v3/objects/contacts/2?archived=true');
    expect(read.body).toMatchObject({
      id: '2',
      archived: true,
      archivedAt: new Date(T0 + 90 * 86_400_000).toISOString(),
    });
    const live = await call(sandbox, 'GET', '/crm/v3/objects/contacts?limit=100');
    expect(live.body.results.map((o: Json) => o.id)).toEqual(['1', '4', '5', '6']);
    const archived = await call(sandbox, 'GET', '/crm/v3/objects/contacts?limit=1&archived=true');
    expect(archived.body.results).toEqual([expect.objectContaining({ id: '2', archived: true })]);
    expect(archived.body.paging.next.after).toBe('3');
    const rest = await call(sandbox, 'GET', '/crm/v3/objects/contacts?limit=1&archived=true&after=3');
    expect(rest.body.results).toEqual([
      expect.objectContaining({ id: '3', archived: true, archivedAt: new Date(clock.t).toISOString() }),
    ]);
    expect(rest.body.paging).toBeUndefined();
    const found = await call(sandbox, 'POST', '/crm/v3/objects/contacts/search', { limit: 100 });
    expect(found.body.results.map((o: Json) => o.id)).toEqual(['1', '4', '5', '6']);
  });

  it('delivers creation, propertyChange, deletion and restore webhooks to webhookUrl as records change', async () => {
    const received: { body: string; signature: string; timestamp: string }[] = [];
    const receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({
          body: Buffer.concat(chunks).toString('utf8'),
          signature: String(req.headers['x-hubspot-signature-v3']),
          timestamp: String(req.headers['x-hubspot-request-timestamp']),
        });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    try {
      const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
      await expect(startHubSpotSandbox({ webhookUrl: hookUrl })).rejects.toThrow(/appSecret/);
      const sandbox = await start({ records: { contacts: 3 }, appSecret: 'app-secret', webhookUrl: hookUrl });
      const created = await call(sandbox, 'POST', '/crm/v3/objects/contacts', {
        properties: { email: 'new@example.com', firstname: 'New' },
      });
      await call(sandbox, 'PATCH', '/crm/v3/objects/contacts/1', { properties: { firstname: 'Renamed' } });
      await call(sandbox, 'DELETE', '/crm/v3/objects/contacts/2');
      await call(sandbox, 'DELETE', '/crm/v3/objects/contacts/2'); // already archived: no second event
      await sandbox.flushWebhooks();
      sandbox.store.restore('contacts', '2');
      expect(() => sandbox.store.restore('contacts', '3')).toThrow(/not archived/);
      await sandbox.flushWebhooks();

      // One delivery per tick of changes here (each request was awaited); order is not guaranteed, as at HubSpot.
      expect(sandbox.webhookDeliveries.every((d) => d.status === 204)).toBe(true);
      const events = received
        .flatMap((r) => JSON.parse(r.body) as Json[])
        .sort((a: Json, b: Json) => a.eventId - b.eventId);
      expect(events.map((e) => [e.subscriptionType, String(e.objectId), e.propertyName ?? null])).toEqual([
        ['contact.creation', created.body.id, null],
        ['contact.propertyChange', '1', 'firstname'],
        ['contact.deletion', '2', null],
        ['contact.restore', '2', null],
      ]);
      expect(events[1]).toMatchObject({ propertyValue: 'Renamed', portalId: 1234567, attemptNumber: 0 });
      for (const r of received) {
        expect(r.signature).toBe(signHubSpotV3('app-secret', 'POST', hookUrl, r.body, r.timestamp));
      }
      // The restored record is back in reads and search.
      expect((await call(sandbox, 'GET', '/crm/v3/objects/contacts/2')).body).toMatchObject({ archived: false });
      expect(sandbox.store.get('contacts', '2')!.archivedAt).toBeUndefined();

      // The changes of one tick go out together, at most 100 events a request.
      received.length = 0;
      const before = sandbox.webhookDeliveries.length;
      for (let i = 0; i < 150; i++) sandbox.store.put('contacts', { email: `bulk${i}@example.com` });
      await sandbox.flushWebhooks();
      expect(sandbox.webhookDeliveries.slice(before).map((d) => [d.status, d.events])).toEqual([
        [204, 100],
        [204, 50],
      ]);
      expect(received.map((r) => JSON.parse(r.body)[0].subscriptionType)).toEqual([
        'contact.creation',
        'contact.creation',
      ]);
    } finally {
      await new Promise((r) => receiver.close(r));
    }
  });
});

describe('HubSpot sandbox: auth, limits and faults', () => {
  it('answers 401 INVALID_AUTHENTICATION for a wrong or missing token', async () => {
    const sandbox = await start({ records: { contacts: 1 } });
    const wrong = await rejected(sdk(sandbox, 'pat-wrong').crm.contacts.basicApi.getPage());
    expect(wrong.code).toBe(401);
    expect(wrong.body).toMatchObject({ status: 'error', category: 'INVALID_AUTHENTICATION' });
    expect(typeof wrong.body.message).toBe('string');
    expect(wrong.body.correlationId).toMatch(/^[0-9a-f-]{36}$/);
    const missing = await call(sandbox, 'GET', '/crm/v3/objects/contacts', undefined, null);
    expect(missing.status).toBe(401);
    expect(missing.headers.get('x-hubspot-ratelimit-max')).toBeNull();
    expect(sandbox.requests.byStatus[401]).toBe(2);
  });

  it('limits requests per token per rolling 10 s with 429 TEN_SECONDLY_ROLLING and rate-limit headers', async () => {
    const clock = fakeClock();
    const sandbox = await start({
      records: { contacts: 1 },
      now: clock.now,
      accessToken: [TOKEN, 'pat-other'],
      rateLimit: { max: 3 },
    });
    const remaining: (string | null)[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await call(sandbox, 'GET', '/crm/v3/objects/contacts');
      expect(res.status).toBe(200);
      expect(res.headers.get('x-hubspot-ratelimit-max')).toBe('3');
      expect(res.headers.get('x-hubspot-ratelimit-interval-milliseconds')).toBe('10000');
      remaining.push(res.headers.get('x-hubspot-ratelimit-remaining'));
      clock.t += 1_000;
    }
    expect(remaining).toEqual(['2', '1', '0']);
    const limited = await rejected(sdk(sandbox).crm.contacts.basicApi.getPage());
    expect(limited.code).toBe(429);
    expect(limited.body).toMatchObject({
      status: 'error',
      errorType: 'RATE_LIMIT',
      policyName: 'TEN_SECONDLY_ROLLING',
      message: 'You have reached your ten_secondly_rolling limit.',
    });
    expect(limited.headers['x-hubspot-ratelimit-remaining']).toBe('0');
    expect(limited.headers['retry-after']).toBeUndefined();
    // Limits are per token.
    expect((await call(sandbox, 'GET', '/crm/v3/objects/contacts', undefined, 'pat-other')).status).toBe(200);
    // The first request leaves the window 10 s after it was made (t0 + 10 s); Retry-After when asked for.
    sandbox.config.sendRetryAfter = true;
    clock.t = T0 + 9_999;
    const still = await call(sandbox, 'GET', '/crm/v3/objects/contacts');
    expect(still.status).toBe(429);
    expect(still.headers.get('retry-after')).toBe('1');
    clock.t = T0 + 10_000;
    const again = await call(sandbox, 'GET', '/crm/v3/objects/contacts');
    expect(again.status).toBe(200);
    expect(again.headers.get('x-hubspot-ratelimit-remaining')).toBe('0');
  });

  it('limits search to 5 requests per second per token', async () => {
    const clock = fakeClock();
    const sandbox = await start({ records: { contacts: 1 }, now: clock.now });
    const client = sdk(sandbox);
    for (let i = 0; i < 5; i++) expect((await client.crm.contacts.searchApi.doSearch({})).total).toBe(1);
    const limited = await rejected(client.crm.contacts.searchApi.doSearch({}));
    expect(limited.code).toBe(429);
    expect(limited.body).toMatchObject({ policyName: 'SECONDLY', message: 'You have reached your secondly limit.' });
    // Other endpoints are not held back by the search limit.
    expect((await client.crm.contacts.basicApi.getPage()).results).toHaveLength(1);
    clock.t += 1_000;
    expect((await client.crm.contacts.searchApi.doSearch({})).total).toBe(1);
  });

  it('injects 429s and 5xx by count and by seeded share', async () => {
    const sandbox = await start({
      records: { contacts: 1 },
      seed: 7,
      rateLimit: { max: 10_000 },
      faults: { rateLimit: { nextN: 1 }, serverErrors: { nextN: 2, status: 502 } },
    });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await call(sandbox, 'GET', '/crm/v3/objects/contacts')).status);
    expect(statuses).toEqual([429, 502, 502, 200]);
    sandbox.faults.serverErrors = { share: 0.25 };
    const shareStatuses: number[] = [];
    for (let i = 0; i < 200; i++) shareStatuses.push((await call(sandbox, 'GET', '/crm/v3/objects/contacts')).status);
    const errors = shareStatuses.filter((s) => s === 503).length;
    expect(errors).toBe(52);
    expect(shareStatuses.filter((s) => s === 200).length).toBe(200 - errors);
    expect(sandbox.requests.byStatus).toEqual({ 200: 1 + 200 - errors, 429: 1, 502: 2, 503: errors });
    expect(sandbox.requests.total).toBe(204);
    // The same seed draws the same faults.
    const twin = await start({ records: { contacts: 1 }, seed: 7, rateLimit: { max: 10_000 } });
    twin.faults.serverErrors = { share: 0.25 };
    const twinStatuses: number[] = [];
    for (let i = 0; i < 200; i++) twinStatuses.push((await call(twin, 'GET', '/crm/v3/objects/contacts')).status);
    expect(twinStatuses).toEqual(shareStatuses);
  });

  it('loses the response of an applied write when serverErrors.afterWrite is set', async () => {
    const sandbox = await start({ records: { contacts: 2 }, faults: { serverErrors: { nextN: 1, afterWrite: true } } });
    // Reads are not hit.
    expect((await call(sandbox, 'GET', '/crm/v3/objects/contacts')).status).toBe(200);
    const lost = await call(sandbox, 'POST', '/crm/v3/objects/contacts/batch/create', {
      inputs: [{ properties: { email: 'lost@example.com' }, objectWriteTraceId: '0' }],
    });
    expect(lost.status).toBe(503);
    // The write happened all the same.
    expect(sandbox.store.list('contacts').map((c) => c.properties.email)).toContain('lost@example.com');
    expect(sandbox.faults.serverErrors!.nextN).toBe(0);
    const next = await call(sandbox, 'POST', '/crm/v3/objects/contacts', { properties: { email: 'ok@example.com' } });
    expect(next.status).toBe(201);
  });

  it('adds latency per request when asked', async () => {
    const sandbox = await start({ records: { contacts: 1 }, faults: { latencyMs: 60 } });
    const t = performance.now();
    await call(sandbox, 'GET', '/crm/v3/objects/contacts');
    expect(performance.now() - t).toBeGreaterThanOrEqual(55);
  });
});

describe('HubSpot sandbox: webhooks and CLI', () => {
  it('signs v3 like HubSpot: base64(HMAC-SHA256(secret, method + uri + body + timestamp))', () => {
    const body = '[{"eventId":1}]';
    const uri = 'https://app.example.test/hooks/hubspot?x=1';
    const sig = signHubSpotV3('s3cret', 'POST', uri, body, 1_700_000_000_000);
    expect(sig).toBe(createHmac('sha256', 's3cret').update(`POST${uri}${body}1700000000000`).digest('base64'));
    // HubSpot decodes some escapes in the URI before signing.
    expect(signHubSpotV3('s3cret', 'POST', 'https://a.test/h%3Ax', '', 1)).toBe(
      signHubSpotV3('s3cret', 'POST', 'https://a.test/h:x', '', 1),
    );
    const check = { appSecret: 's3cret', method: 'POST', uri, body, signature: sig, timestamp: 1_700_000_000_000 };
    expect(verifyHubSpotV3({ ...check, now: 1_700_000_000_000 + 299_000 })).toBe(true);
    expect(verifyHubSpotV3({ ...check, now: 1_700_000_000_000 + 301_000 })).toBe(false);
    expect(verifyHubSpotV3({ ...check, body: '[]', now: 1_700_000_000_000 })).toBe(false);
  });

  it('delivers signed webhook batches of at most 100 events', async () => {
    const received: { headers: Record<string, string | string[] | undefined>; body: string; url: string }[] = [];
    const receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), url: req.url ?? '' });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    try {
      const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/hubspot?tenant=a`;
      const sandbox = await start({ appSecret: 'app-secret', portalId: 555 });
      const events = Array.from({ length: 150 }, (_, i) => ({
        objectId: 1000 + i,
        propertyName: 'email',
        propertyValue: `u${i}@example.com`,
      }));
      const deliveries = await sandbox.sendWebhook(hookUrl, events);
      expect(deliveries.map((d) => [d.status, d.events])).toEqual([
        [204, 100],
        [204, 50],
      ]);
      expect(received).toHaveLength(2);
      const first = received[0]!;
      const parsed = JSON.parse(first.body);
      expect(parsed).toHaveLength(100);
      expect(parsed[0]).toMatchObject({
        eventId: 1,
        subscriptionId: 1,
        portalId: 555,
        subscriptionType: 'contact.propertyChange',
        objectId: 1000,
        propertyName: 'email',
        propertyValue: 'u0@example.com',
        attemptNumber: 0,
      });
      expect(JSON.parse(received[1]!.body)[0].eventId).toBe(101);
      const signature = String(first.headers['x-hubspot-signature-v3']);
      const timestamp = String(first.headers['x-hubspot-request-timestamp']);
      expect(signature).toBe(signHubSpotV3('app-secret', 'POST', hookUrl, first.body, timestamp));
      // The official SDK's validator and the project's verifier both accept it.
      expect(
        Signature.isValid({
          signatureVersion: 'v3',
          signature,
          clientSecret: 'app-secret',
          requestBody: first.body,
          url: hookUrl,
          method: 'POST',
          timestamp: Number(timestamp),
        }),
      ).toBe(true);
      const check = verifyHubSpotSignatureV3(
        { method: 'POST', uri: hookUrl, rawBody: first.body, signature, timestamp },
        'app-secret',
      );
      expect(check.ok).toBe(true);
    } finally {
      await new Promise((r) => receiver.close(r));
    }
  });

  it('starts from CLI arguments and prints its URL', async () => {
    expect(
      parseHubSpotSandboxArgs(['--records', 'contacts=5,deals=2', '--rate-limit-share', '0.1', '--latency-ms', '3']),
    ).toMatchObject({
      port: 0,
      records: { contacts: 5, deals: 2 },
      faults: { rateLimit: { share: 0.1 }, latencyMs: 3 },
    });
    expect(() => parseHubSpotSandboxArgs(['--error-share', '2'])).toThrow('--error-share must be a number from 0 to 1');
    const lines: string[] = [];
    const sandbox = await runHubSpotSandboxCli(['--port', '0', '--records', '4', '--error-share', '0'], {
      out: (l) => lines.push(l),
    });
    expect(sandbox).not.toBeNull();
    running.push(sandbox!);
    expect(lines).toEqual([sandbox!.url]);
    expect(sandbox!.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const page = await call(sandbox!, 'GET', '/crm/v3/objects/deals?limit=100');
    expect(page.body.results).toHaveLength(4);
  });
});
