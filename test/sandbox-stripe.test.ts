import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { afterEach, describe, expect, it } from 'vitest';
import { parseStripeSandboxArgs, runStripeSandboxCli } from '../src/sandbox/stripe/cli.ts';
import {
  EVENT_RETENTION_SECONDS,
  type StripeSandbox,
  type StripeSandboxOptions,
  signStripePayload,
  startStripeSandbox,
} from '../src/sandbox/stripe/server.ts';

const open: StripeSandbox[] = [];

afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

async function sandbox(options: StripeSandboxOptions = {}): Promise<StripeSandbox> {
  const s = await startStripeSandbox(options);
  open.push(s);
  return s;
}

function sdk(s: StripeSandbox, key = s.apiKey): Stripe {
  return new Stripe(key, { host: '127.0.0.1', port: s.port, protocol: 'http', maxNetworkRetries: 0 });
}

/** A loose view of a sandbox JSON answer: a list, an object or an error. */
interface Body {
  object?: string;
  id?: string;
  data: { id: string; [field: string]: unknown }[];
  has_more: boolean;
  error: { type: string; message: string; code?: string; param?: string };
}

async function get(s: StripeSandbox, path: string, init: RequestInit = {}) {
  const response = await fetch(`${s.url}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${s.apiKey}`, ...(init.headers as Record<string, string>) },
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Body };
}

function post(s: StripeSandbox, path: string, form: string, headers: Record<string, string> = {}) {
  return get(s, path, {
    method: 'POST',
    body: form,
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
  });
}

/** A clock the test moves by hand (milliseconds). */
function manualClock(start = Date.UTC(2026, 0, 15, 12, 0, 0)) {
  let now = start;
  return {
    now: () => now,
    advanceSeconds: (s: number) => {
      now += s * 1000;
    },
    seconds: () => Math.floor(now / 1000),
  };
}

async function caught(promise: Promise<unknown>): Promise<InstanceType<typeof Stripe.errors.StripeError>> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof Stripe.errors.StripeError) return error;
    throw error;
  }
  throw new Error('expected a rejection');
}

describe('Stripe sandbox: lists', () => {
  it('pages 250 customers with limit 100 in 3 pages, newest first, without duplicates', async () => {
    const s = await sandbox({ records: { customers: 250 } });
    const stripe = sdk(s);
    const pages: Stripe.ApiList<Stripe.Customer>[] = [];
    let startingAfter: string | undefined;
    do {
      const page = await stripe.customers.list({ limit: 100, starting_after: startingAfter });
      pages.push(page);
      startingAfter = page.data.at(-1)?.id;
      if (!page.has_more) break;
    } while (pages.length < 10);

    expect(pages.map((p) => p.data.length)).toEqual([100, 100, 50]);
    expect(pages.map((p) => p.has_more)).toEqual([true, true, false]);
    expect(pages[0]!.object).toBe('list');
    expect(pages[0]!.url).toBe('/v1/customers');
    const all = pages.flatMap((p) => p.data);
    expect(new Set(all.map((c) => c.id)).size).toBe(250);
    for (let i = 1; i < all.length; i++) {
      const a = all[i - 1]!;
      const b = all[i]!;
      expect(a.created > b.created || (a.created === b.created && a.id > b.id)).toBe(true);
    }
    // Same order as the store, which was seeded deterministically.
    expect(all.map((c) => c.id)).toEqual(s.store.list('customer').map((c) => c.id));
    const first = all[0]!;
    expect(first.id).toMatch(/^cus_[0-9A-Za-z]{14}$/);
    expect(first.object).toBe('customer');
    expect(first.livemode).toBe(false);
    expect(first.email).toMatch(/^[a-z]+\.[a-z]+\.249@example\.com$/);
    expect(all.at(-1)!.email).toMatch(/\.0@example\.com$/);
    // Three list requests, all 200.
    expect(s.requests.byRoute['GET /v1/customers']).toBe(3);
    expect(s.requests.byStatus[200]).toBe(3);
  });

  it('seeds the same data for the same seed', async () => {
    const a = await sandbox({
      records: { customers: 5, products: 2, prices: 3, invoices: 4 },
      seed: 7,
      now: () => 1e12,
    });
    const b = await sandbox({
      records: { customers: 5, products: 2, prices: 3, invoices: 4 },
      seed: 7,
      now: () => 1e12,
    });
    for (const kind of ['customer', 'product', 'price', 'invoice'] as const) {
      expect(a.store.list(kind)).toEqual(b.store.list(kind));
    }
    expect(a.store.count('price')).toBe(3);
    const price = a.store.list('price')[0]!;
    expect(a.store.get('product', price.product as string)).toBeDefined();
    const invoice = a.store.list('invoice')[0]!;
    expect(invoice.id).toMatch(/^in_/);
    expect(a.store.get('customer', invoice.customer as string)).toBeDefined();
    expect(invoice.total).toBe(invoice.amount_due);
  });

  it('supports starting_after and ending_before, and refuses both or an unknown cursor', async () => {
    const s = await sandbox({ records: { customers: 30 } });
    const stripe = sdk(s);
    const ids = s.store.list('customer').map((c) => c.id);

    const second = await stripe.customers.list({ limit: 10, starting_after: ids[9] });
    expect(second.data.map((c) => c.id)).toEqual(ids.slice(10, 20));
    expect(second.has_more).toBe(true);

    const back = await stripe.customers.list({ limit: 10, ending_before: ids[10] });
    expect(back.data.map((c) => c.id)).toEqual(ids.slice(0, 10));
    expect(back.has_more).toBe(false);

    const middle = await stripe.customers.list({ limit: 5, ending_before: ids[20] });
    expect(middle.data.map((c) => c.id)).toEqual(ids.slice(15, 20));
    expect(middle.has_more).toBe(true);

    const last = await stripe.customers.list({ limit: 10, starting_after: ids[25] });
    expect(last.data.map((c) => c.id)).toEqual(ids.slice(26));
    expect(last.has_more).toBe(false);

    const both = await get(s, `/v1/customers?starting_after=${ids[1]}&ending_before=${ids[5]}`);
    expect(both.status).toBe(400);
    expect(both.body.error.type).toBe('invalid_request_error');
    expect(both.body.error.message).toBe(
      'You may only specify one of these parameters: ending_before, starting_after.',
    );

    const unknown = await caught(stripe.customers.list({ starting_after: 'cus_doesnotexist' }));
    expect(unknown).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(unknown.statusCode).toBe(400);
    expect(unknown.code).toBe('resource_missing');
    expect(unknown.param).toBe('starting_after');

    const tooMany = await get(s, '/v1/customers?limit=101');
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error.param).toBe('limit');
    const zero = await get(s, '/v1/customers?limit=0');
    expect(zero.status).toBe(400);
    const defaultLimit = await get(s, '/v1/customers');
    expect(defaultLimit.body.data).toHaveLength(10);
    const unknownParam = await get(s, '/v1/customers?colour=red');
    expect(unknownParam.status).toBe(400);
    expect(unknownParam.body.error).toMatchObject({ code: 'parameter_unknown', param: 'colour' });
  });

  it('filters lists by created and by field, with the cursor still working', async () => {
    const clock = manualClock();
    const s = await sandbox({ now: clock.now });
    const stripe = sdk(s);
    const made: string[] = [];
    for (let i = 0; i < 6; i++) {
      made.push((await stripe.customers.create({ email: `c${i}@example.com` })).id);
      clock.advanceSeconds(10);
    }
    const t0 = clock.seconds() - 60; // creation time of made[0]
    const window = await stripe.customers.list({ created: { gt: t0 + 10, lte: t0 + 40 } });
    expect(window.data.map((c) => c.id)).toEqual([made[4], made[3], made[2]]);
    const exact = await get(s, `/v1/customers?created=${t0 + 20}`);
    expect(exact.body.data.map((c) => c.id)).toEqual([made[2]]);
    const byEmail = await stripe.customers.list({ email: 'c3@example.com' });
    expect(byEmail.data.map((c) => c.id)).toEqual([made[3]]);
  });

  it('pages 100,000 customers by Map-indexed cursors', async () => {
    const s = await sandbox({ records: { customers: 100_000 } });
    const ids = s.store.ids('customer');
    expect(ids).toHaveLength(100_000);
    const started = performance.now();
    for (let k = 0; k < 50; k++) {
      const at = 99_000 - k * 1000;
      const page = await get(s, `/v1/customers?limit=100&starting_after=${ids[at]}`);
      expect(page.body.data[0]!.id).toBe(ids[at + 1]);
      expect(page.body.data).toHaveLength(Math.min(99_999 - at, 100));
    }
    const elapsed = performance.now() - started;
    expect(elapsed).toBeLessThan(5000);
    const tail = await get(s, `/v1/customers?limit=100&starting_after=${ids[99_949]}`);
    expect(tail.body.data.map((c) => c.id)).toEqual(ids.slice(99_950));
    expect(tail.body.has_more).toBe(false);
  });
});

describe('Stripe sandbox: objects', () => {
  it('retrieves a customer and answers 404 resource_missing for an unknown one', async () => {
    const s = await sandbox({ records: { customers: 3 } });
    const stripe = sdk(s);
    const known = s.store.list('customer')[1]!;
    const customer = await stripe.customers.retrieve(known.id);
    expect(customer).toMatchObject({ id: known.id, object: 'customer', email: known.email, created: known.created });

    const missing = await caught(stripe.customers.retrieve('cus_missing'));
    expect(missing).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(missing.statusCode).toBe(404);
    expect(missing.code).toBe('resource_missing');
    expect(missing.message).toBe("No such customer: 'cus_missing'");
    const raw = await get(s, '/v1/products/prod_missing');
    expect(raw.status).toBe(404);
    expect(raw.body).toEqual({
      error: {
        type: 'invalid_request_error',
        code: 'resource_missing',
        param: 'id',
        message: "No such product: 'prod_missing'",
        doc_url: 'https://stripe.com/docs/error-codes/resource-missing',
      },
    });
    const nowhere = await get(s, '/v1/charges');
    expect(nowhere.status).toBe(404);
    expect(nowhere.body.error.message).toContain('Unrecognized request URL (GET: /v1/charges)');
  });

  it('replays a create for the same Idempotency-Key and refuses the key with other parameters', async () => {
    const s = await sandbox();
    const stripe = sdk(s);
    const params = { email: 'ada@example.com', name: 'Ada', metadata: { local_id: '42' } };
    const first = await stripe.customers.create(params, { idempotencyKey: 'create-ada' });
    const again = await stripe.customers.create(params, { idempotencyKey: 'create-ada' });
    expect(again.id).toBe(first.id);
    expect(again.lastResponse.headers['idempotent-replayed']).toBe('true');
    expect(first.metadata).toEqual({ local_id: '42' });
    expect(s.store.count('customer')).toBe(1);
    expect(s.store.events().filter((e) => e.type === 'customer.created')).toHaveLength(1);

    const reused = await caught(
      stripe.customers.create({ ...params, name: 'Grace' }, { idempotencyKey: 'create-ada' }),
    );
    expect(reused).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
    expect(reused.type).toBe('StripeIdempotencyError');
    expect(reused.statusCode).toBe(400);
    expect(reused.rawType).toBe('idempotency_error');
    expect(s.store.count('customer')).toBe(1);

    const long = await post(s, '/v1/customers', 'email=a%40b.co', { 'idempotency-key': 'k'.repeat(256) });
    expect(long.status).toBe(400);
    expect(s.store.count('customer')).toBe(1);
  });

  it('rejects a bad email with param email, without consuming the idempotency key', async () => {
    const s = await sandbox();
    const stripe = sdk(s);
    const bad = await caught(stripe.customers.create({ email: 'not-an-email' }, { idempotencyKey: 'k1' }));
    expect(bad).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(bad.statusCode).toBe(400);
    expect(bad.param).toBe('email');
    expect(bad.code).toBe('email_invalid');
    const nested = await post(s, '/v1/customers', 'email[x]=1');
    expect(nested.status).toBe(400);
    expect(nested.body.error.param).toBe('email');
    // The failed validation was not saved: the key is free for a corrected request.
    const good = await stripe.customers.create({ email: 'ok@example.com' }, { idempotencyKey: 'k1' });
    expect(good.email).toBe('ok@example.com');
    const json = await get(s, '/v1/customers', {
      method: 'POST',
      body: JSON.stringify({ email: 'x@y.z' }),
      headers: { 'content-type': 'application/json' },
    });
    expect(json.status).toBe(400);
    const unknown = await caught(stripe.customers.create({ email: 'a@b.co', favourite_colour: 'red' } as never));
    expect(unknown.code).toBe('parameter_unknown');
    expect(unknown.param).toBe('favourite_colour');
    expect(s.store.count('customer')).toBe(1);
  });

  it('updates a customer and emits customer.updated with previous_attributes', async () => {
    const clock = manualClock();
    const s = await sandbox({ now: clock.now });
    const stripe = sdk(s);
    const created = await stripe.customers.create({
      email: 'old@example.com',
      name: 'Old',
      metadata: { a: '1', b: '2' },
    });
    clock.advanceSeconds(5);
    const updated = await stripe.customers.update(created.id, { name: 'New', metadata: { a: '', c: '3' } });
    expect(updated.name).toBe('New');
    expect(updated.metadata).toEqual({ b: '2', c: '3' });
    expect(updated.created).toBe(created.created);

    const events = await stripe.events.list({ type: 'customer.updated' });
    expect(events.data).toHaveLength(1);
    const event = events.data[0]!;
    expect(event.id).toMatch(/^evt_/);
    expect(event.object).toBe('event');
    expect(event.created).toBe(clock.seconds());
    expect((event.data.object as Stripe.Customer).name).toBe('New');
    expect(event.data.previous_attributes).toEqual({ name: 'Old', metadata: { a: '1', b: '2' } });
    expect(event.request?.idempotency_key).toMatch(/^stripe-node-retry-/);

    const unchanged = await stripe.customers.update(created.id, { name: 'New' });
    expect(unchanged.name).toBe('New');
    expect((await stripe.events.list({ type: 'customer.updated' })).data).toHaveLength(1);

    const missing = await caught(stripe.customers.update('cus_gone', { name: 'x' }));
    expect(missing.statusCode).toBe(404);

    await stripe.customers.del(created.id);
    const deleted = await stripe.customers.retrieve(created.id);
    expect(deleted).toMatchObject({ id: created.id, deleted: true });
    expect((await stripe.events.list({ type: 'customer.deleted' })).data[0]!.data.object).toMatchObject({
      id: created.id,
    });
  });

  it('deletes like Stripe: deleted customers retrieve as deleted, products 404, gone is resource_missing', async () => {
    // Stripe API reference: "Delete a customer" / "Delete a product" answer { id, object, deleted: true };
    // "Retrieve a customer" of a deleted one answers { id, object, deleted: true }; products cannot be deleted
    // while they have prices; each deletion emits <kind>.deleted carrying the object as it was.
    const clock = manualClock();
    const s = await sandbox({ now: clock.now });
    const stripe = sdk(s);
    const customer = await stripe.customers.create({ email: 'gone@example.com', name: 'Gone' });
    const product = await stripe.products.create({ name: 'Short-lived' });
    const priced = await stripe.products.create({ name: 'Priced' });
    await stripe.prices.create({ product: priced.id, currency: 'usd', unit_amount: 100 });
    clock.advanceSeconds(5);
    expect(await stripe.customers.del(customer.id)).toEqual({ id: customer.id, object: 'customer', deleted: true });
    expect(await stripe.products.del(product.id)).toEqual({ id: product.id, object: 'product', deleted: true });
    const again = await caught(stripe.customers.del(customer.id));
    expect([again.statusCode, again.code]).toEqual([404, 'resource_missing']);
    expect(await stripe.customers.retrieve(customer.id)).toEqual({
      id: customer.id,
      object: 'customer',
      deleted: true,
    });
    const product404 = await caught(stripe.products.retrieve(product.id));
    expect([product404.statusCode, product404.code]).toEqual([404, 'resource_missing']);
    const refused = await caught(stripe.products.del(priced.id));
    expect([refused.statusCode, refused.message]).toEqual([
      400,
      'This product cannot be deleted because it has one or more user-created prices.',
    ]);
    // Deleted objects leave the lists; their deletion events are listed by types[], newest first.
    expect((await stripe.customers.list()).data).toEqual([]);
    const deletions = await stripe.events.list({ types: ['customer.deleted', 'product.deleted'] });
    expect(deletions.data.map((e) => [e.type, (e.data.object as { id: string }).id, e.created])).toEqual([
      ['product.deleted', product.id, clock.seconds()],
      ['customer.deleted', customer.id, clock.seconds()],
    ]);
    expect(deletions.data[1]!.data.object).toMatchObject({ object: 'customer', email: 'gone@example.com' });
  });

  it('creates and updates products (custom id, unset rules) and prices', async () => {
    const s = await sandbox();
    const stripe = sdk(s);
    const product = await stripe.products.create({ id: 'gold', name: 'Gold', metadata: { tier: '3' } });
    expect(product).toMatchObject({ id: 'gold', object: 'product', name: 'Gold', active: true, default_price: null });
    const dup = await caught(stripe.products.create({ id: 'gold', name: 'Gold' }));
    expect(dup.code).toBe('resource_already_exists');
    const noName = await caught(stripe.products.create({} as never));
    expect(noName.code).toBe('parameter_missing');
    expect(noName.param).toBe('name');
    const emptyName = await post(s, '/v1/products/gold', 'name=');
    expect(emptyName.status).toBe(400);
    expect(emptyName.body.error.code).toBe('parameter_invalid_empty');

    const price = await stripe.prices.create({
      product: 'gold',
      currency: 'EUR',
      unit_amount: 1999,
      recurring: { interval: 'month' },
    });
    expect(price).toMatchObject({
      object: 'price',
      product: 'gold',
      currency: 'eur',
      unit_amount: 1999,
      type: 'recurring',
      recurring: { interval: 'month', interval_count: 1, usage_type: 'licensed' },
    });
    expect(String(price.unit_amount_decimal)).toBe('1999'); // the SDK turns it into a Decimal
    const withDefault = await stripe.products.update('gold', { default_price: price.id, active: false });
    expect(withDefault.default_price).toBe(price.id);
    expect(withDefault.active).toBe(false);
    const expanded = await stripe.prices.retrieve(price.id, { expand: ['product'] });
    expect((expanded.product as Stripe.Product).name).toBe('Gold');
    const badExpand = await get(s, `/v1/prices/${price.id}?expand[]=customer`);
    expect(badExpand.status).toBe(400);
    const types = s.store.events().map((e) => e.type);
    expect(types).toEqual(['product.updated', 'price.created', 'product.created']);
  });
});

describe('Stripe sandbox: events', () => {
  it('filters events by types[] and created[gt]', async () => {
    const clock = manualClock();
    const s = await sandbox({ now: clock.now });
    const stripe = sdk(s);
    const c = await stripe.customers.create({ email: 'e@example.com' });
    const t0 = clock.seconds();
    clock.advanceSeconds(10);
    await stripe.customers.update(c.id, { name: 'A' });
    await stripe.products.create({ name: 'P' });
    clock.advanceSeconds(10);
    await stripe.customers.update(c.id, { name: 'B' });

    const all = await stripe.events.list();
    expect(all.data.map((e) => e.type)).toEqual([
      'customer.updated',
      'product.created',
      'customer.updated',
      'customer.created',
    ]);
    const customerOnly = await stripe.events.list({ types: ['customer.created', 'customer.updated'] });
    expect(customerOnly.data.map((e) => e.type)).toEqual(['customer.updated', 'customer.updated', 'customer.created']);
    const plainFetch = await get(s, `/v1/events?types[]=customer.updated&created[gt]=${t0}`);
    expect(plainFetch.body.data.map((e) => (e.data as { object: { name: string } }).object.name)).toEqual(['B', 'A']);
    const after = await stripe.events.list({ created: { gt: t0 + 10 } });
    expect(after.data.map((e) => e.type)).toEqual(['customer.updated']);
    const gte = await stripe.events.list({ created: { gte: t0 + 10 }, limit: 2 });
    expect(gte.data).toHaveLength(2);
    expect(gte.has_more).toBe(true);
    const next = await stripe.events.list({ created: { gte: t0 + 10 }, limit: 2, starting_after: gte.data[1]!.id });
    expect(next.data.map((e) => e.type)).toEqual(['customer.updated']);
    expect(next.has_more).toBe(false);
    const wildcard = await stripe.events.list({ type: 'product.*' });
    expect(wildcard.data.map((e) => e.type)).toEqual(['product.created']);
    const both = await get(s, '/v1/events?type=customer.created&types[]=customer.updated');
    expect(both.status).toBe(400);
    const retrieved = await stripe.events.retrieve(all.data[0]!.id);
    expect(retrieved.id).toBe(all.data[0]!.id);
  });

  it('stops returning events older than 30 days', async () => {
    const clock = manualClock();
    const s = await sandbox({ now: clock.now });
    const stripe = sdk(s);
    await stripe.customers.create({ email: 'old@example.com' });
    const oldEvent = (await stripe.events.list()).data[0]!;
    clock.advanceSeconds(20 * 86400);
    await stripe.customers.create({ email: 'new@example.com' });
    expect((await stripe.events.list()).data).toHaveLength(2);

    clock.advanceSeconds(EVENT_RETENTION_SECONDS - 20 * 86400 + 1); // the first event is now 30 days + 1 s old
    const listed = await stripe.events.list();
    expect(listed.data).toHaveLength(1);
    expect((listed.data[0]!.data.object as Stripe.Customer).email).toBe('new@example.com');
    const gone = await caught(stripe.events.retrieve(oldEvent.id));
    expect(gone.statusCode).toBe(404);
    const cursor = await caught(stripe.events.list({ starting_after: oldEvent.id }));
    expect(cursor.statusCode).toBe(400);
    expect(cursor.param).toBe('starting_after');
    // The customers themselves are not affected by event retention.
    expect((await stripe.customers.list()).data).toHaveLength(2);
    expect(s.store.events()).toHaveLength(2);
  });

  it('emits events for store writes, and an update for the cursor object when mutateDuringList is on', async () => {
    const s = await sandbox({ records: { customers: 25 }, faults: { mutateDuringList: true } });
    const stripe = sdk(s);
    const put = s.store.put('customer', { email: 'direct@example.com' });
    expect(put.id).toMatch(/^cus_/);
    s.store.update('customer', put.id, { name: 'Direct' });
    expect(s.store.events().map((e) => e.type)).toEqual(['customer.updated', 'customer.created']);

    const seen: string[] = [];
    for await (const customer of stripe.customers.list({ limit: 10 })) seen.push(customer.id);
    expect(new Set(seen).size).toBe(26);
    const mutations = await stripe.events.list({ type: 'customer.updated', limit: 100 });
    // Pages 2 and 3 each changed the customer their cursor named (already delivered on the previous page).
    expect(mutations.data.map((e) => (e.data.object as Stripe.Customer).id)).toEqual([seen[19], seen[9], put.id]);
    expect(s.store.get('customer', seen[9]!)!.metadata).toEqual(expect.objectContaining({ sandbox_mutation: '1' }));
  });
});

describe('Stripe sandbox: authentication and faults', () => {
  it('answers 401 for a missing or wrong key and accepts Bearer and Basic', async () => {
    const s = await sandbox({ apiKey: 'sk_test_right', records: { customers: 1 } });
    const none = await fetch(`${s.url}/v1/customers`);
    expect(none.status).toBe(401);
    const body = (await none.json()) as Body;
    expect(body.error.type).toBe('invalid_request_error');
    expect(body.error.message).toContain('You did not provide an API key');
    const wrong = await caught(sdk(s, 'sk_test_wrong_key_1234').customers.list());
    expect(wrong).toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
    expect(wrong.statusCode).toBe(401);
    const basic = await fetch(`${s.url}/v1/customers`, {
      headers: { authorization: `Basic ${Buffer.from('sk_test_right:').toString('base64')}` },
    });
    expect(basic.status).toBe(200);
    expect((await sdk(s).customers.list()).data).toHaveLength(1);
    expect(s.requests.byStatus).toEqual({ 200: 2, 401: 2 });
  });

  it('answers 429 rate_limit with Retry-After on every Nth request', async () => {
    const s = await sandbox({ records: { customers: 2 } });
    s.faults.rateLimit = { everyNth: 3, retryAfterSeconds: 7 };
    const statuses: number[] = [];
    let limited: Awaited<ReturnType<typeof get>> | undefined;
    for (let i = 0; i < 6; i++) {
      const r = await get(s, '/v1/customers');
      statuses.push(r.status);
      if (r.status === 429) limited = r;
    }
    expect(statuses).toEqual([200, 200, 429, 200, 200, 429]);
    expect(limited!.headers.get('retry-after')).toBe('7');
    expect(limited!.body.error).toMatchObject({ type: 'invalid_request_error', code: 'rate_limit' });

    s.faults = { rateLimit: { share: 1, retryAfterSeconds: 2 } };
    const viaSdk = await caught(sdk(s).customers.list());
    expect(viaSdk).toBeInstanceOf(Stripe.errors.StripeRateLimitError);
    expect(viaSdk.headers?.['retry-after']).toBe('2');
    s.faults = {};
    expect((await get(s, '/v1/customers')).status).toBe(200);
    expect(s.requests.byStatus[429]).toBe(3);

    // The next N requests, decremented in place.
    s.faults = { rateLimit: { nextN: 2, retryAfterSeconds: 1 } };
    const burst: number[] = [];
    for (let i = 0; i < 3; i++) burst.push((await get(s, '/v1/customers')).status);
    expect(burst).toEqual([429, 429, 200]);
    expect(s.faults.rateLimit!.nextN).toBe(0);
  });

  it('answers a deterministic share of requests with 5xx and Stripe-Should-Retry', async () => {
    const run = async () => {
      const s = await sandbox({ records: { customers: 1 }, seed: 3, faults: { serverErrors: { share: 0.25 } } });
      const statuses: number[] = [];
      for (let i = 0; i < 80; i++) statuses.push((await get(s, '/v1/customers')).status);
      return { s, statuses };
    };
    const a = await run();
    const b = await run();
    expect(a.statuses).toEqual(b.statuses);
    const failures = a.statuses.filter((x) => x === 500).length;
    expect(failures).toBe(a.s.requests.byStatus[500]);
    expect(failures).toBeGreaterThan(8);
    expect(failures).toBeLessThan(35);
    expect(failures + (a.s.requests.byStatus[200] ?? 0)).toBe(80);

    const s = a.s;
    s.faults = { serverErrors: { nextN: 2, status: 503 } };
    const first = await get(s, '/v1/customers');
    expect(first.status).toBe(503);
    expect(first.headers.get('stripe-should-retry')).toBe('true');
    expect(first.body.error.type).toBe('api_error');
    const viaSdk = await caught(sdk(s).customers.list());
    expect(viaSdk).toBeInstanceOf(Stripe.errors.StripeAPIError);
    expect(viaSdk.statusCode).toBe(503);
    expect(s.faults.serverErrors!.nextN).toBe(0);
    expect((await get(s, '/v1/customers')).status).toBe(200);

    // The SDK's own retries follow Stripe-Should-Retry.
    s.faults = { serverErrors: { nextN: 1 } };
    s.resetRequests();
    const retrying = new Stripe(s.apiKey, { host: '127.0.0.1', port: s.port, protocol: 'http', maxNetworkRetries: 2 });
    expect((await retrying.customers.list()).data).toHaveLength(1);
    expect(s.requests.byStatus).toEqual({ 500: 1, 200: 1 });
  });

  it('saves a 500 that happened after the write and replays it for the same key', async () => {
    const s = await sandbox({ faults: { serverErrors: { nextN: 1, afterWrite: true } } });
    const first = await post(s, '/v1/customers', 'email=lost%40example.com', { 'idempotency-key': 'lost-1' });
    expect(first.status).toBe(500);
    expect(first.headers.get('stripe-should-retry')).toBe('false');
    expect(s.store.count('customer')).toBe(1);
    const replay = await post(s, '/v1/customers', 'email=lost%40example.com', { 'idempotency-key': 'lost-1' });
    expect(replay.status).toBe(500);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body).toEqual(first.body);
    expect(s.store.count('customer')).toBe(1);
  });

  it('waits latencyMs before answering, with the idempotency key held in flight', async () => {
    const s = await sandbox({ faults: { latencyMs: 60 } });
    const started = performance.now();
    expect((await get(s, '/v1/customers')).status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(55);

    // A second request with the same key while the first is executing: 409 idempotency_key_in_use.
    const [a, b] = await Promise.all([
      post(s, '/v1/customers', 'email=twice%40example.com', { 'idempotency-key': 'double-click' }),
      post(s, '/v1/customers', 'email=twice%40example.com', { 'idempotency-key': 'double-click' }),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 409]);
    expect((a.status === 409 ? a : b).body.error.code).toBe('idempotency_key_in_use');
    expect(s.store.count('customer')).toBe(1);
    const later = await post(s, '/v1/customers', 'email=twice%40example.com', { 'idempotency-key': 'double-click' });
    expect(later.status).toBe(200);
    expect(later.headers.get('idempotent-replayed')).toBe('true');
    expect(later.body.id).toBe((a.status === 200 ? a : b).body.id);
  });

  it('serves malformed records with a broken shape in retrieve, list and events', async () => {
    const s = await sandbox({ records: { customers: 3 } });
    const stripe = sdk(s);
    const target = s.store.list('customer')[1]!;
    s.faults.malformed = { ids: [target.id] };
    const retrieved = (await stripe.customers.retrieve(target.id)) as unknown as Record<string, unknown>;
    expect(retrieved.email).toBe(12345);
    expect('created' in retrieved).toBe(false);
    expect(retrieved.id).toBe(target.id);
    const listed = await stripe.customers.list();
    const broken = listed.data.find((c) => c.id === target.id) as unknown as Record<string, unknown>;
    expect(broken.email).toBe(12345);
    expect(broken.created).toBeUndefined();
    expect(listed.data.filter((c) => typeof c.email === 'string')).toHaveLength(2);
    s.store.update('customer', target.id, { name: 'Changed' });
    const event = (await stripe.events.list()).data[0]!;
    expect((event.data.object as unknown as Record<string, unknown>).email).toBe(12345);
    // The stored object itself is intact.
    expect(s.store.get('customer', target.id)!.email).toBe(target.email);
  });
});

describe('Stripe sandbox: webhooks and CLI', () => {
  it('signs payloads that the SDK verifies, and delivers signed events to endpoints', async () => {
    const stripe = new Stripe('sk_test_x');
    const body = JSON.stringify({ id: 'evt_1', object: 'event', type: 'customer.created' });
    const t = Math.floor(Date.now() / 1000);
    const header = signStripePayload('whsec_test', body, t);
    expect(header).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    const event = stripe.webhooks.constructEvent(body, header, 'whsec_test');
    expect(event.id).toBe('evt_1');
    expect(header).toBe(
      stripe.webhooks.generateTestHeaderString({ payload: body, secret: 'whsec_test', timestamp: t }),
    );
    expect(() => stripe.webhooks.constructEvent(`${body} `, header, 'whsec_test')).toThrow(
      Stripe.errors.StripeSignatureVerificationError,
    );
    expect(() => stripe.webhooks.constructEvent(body, header, 'whsec_other')).toThrow(
      Stripe.errors.StripeSignatureVerificationError,
    );

    const received: Stripe.Event[] = [];
    const receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        try {
          const raw = Buffer.concat(chunks).toString('utf8');
          received.push(stripe.webhooks.constructEvent(raw, String(req.headers['stripe-signature']), 'whsec_hook'));
          res.writeHead(200).end('{}');
        } catch {
          res.writeHead(400).end('bad signature');
        }
      });
    });
    receiver.listen(0, '127.0.0.1');
    await once(receiver, 'listening');
    const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    try {
      const s = await sandbox({ webhookSecret: 'whsec_hook', webhookEndpoints: [hookUrl] });
      const customer = await sdk(s).customers.create({ email: 'hook@example.com' });
      await s.flushWebhooks();
      expect(s.webhookDeliveries).toEqual([{ eventId: expect.stringMatching(/^evt_/), url: hookUrl, status: 200 }]);
      expect(received.map((e) => [e.type, (e.data.object as Stripe.Customer).id])).toEqual([
        ['customer.created', customer.id],
      ]);
      const manual = await s.sendWebhook(hookUrl, received[0]!.id);
      expect(manual.status).toBe(200);
      expect(received).toHaveLength(2);
      expect(received[1]!.id).toBe(received[0]!.id);
      const forged = await s.sendWebhook(hookUrl, received[0]!.id, { secret: 'whsec_forged' });
      expect(forged.status).toBe(400);
    } finally {
      receiver.close();
    }
  });

  it('starts from the command line and prints its URL', async () => {
    const out: string[] = [];
    const s = await runStripeSandboxCli(
      ['--port', '0', '--records', '20', '--rate-limit-share', '0', '--error-share', '0', '--latency-ms', '0'],
      { write: (text) => out.push(text) },
    );
    expect(s).not.toBeNull();
    open.push(s!);
    expect(out.join('')).toContain(`Stripe sandbox listening on ${s!.url}`);
    expect(s!.store.count('customer')).toBe(20);
    expect(s!.store.count('invoice')).toBe(10);
    const page = await sdk(s!).customers.list({ limit: 100 });
    expect(page.data).toHaveLength(20);
    expect(parseStripeSandboxArgs(['--error-share', '0.5', '--latency-ms=20'])).toMatchObject({
      faults: { serverErrors: { share: 0.5 }, latencyMs: 20 },
    });
    expect(() => parseStripeSandboxArgs(['--error-share', '2'])).toThrow('--error-share');
    expect(() => parseStripeSandboxArgs(['--bogus'])).toThrow('unknown option --bogus');
    expect(await runStripeSandboxCli(['--help'], { write: (text) => out.push(text) })).toBeNull();
  });
});
