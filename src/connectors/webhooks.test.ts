import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { ProviderError } from '../domain/errors.ts';
import type { ConnectionContext, WebhookDelivery } from '../engine/endpoint.ts';
import { startHubSpotSandbox } from '../sandbox/hubspot/server.ts';
import { hubSpotSignatureV3, stripeSignatureHeader } from '../security/webhooks.ts';
import { verifyHubSpotWebhook } from './hubspot/index.ts';
import { builtInProviders } from './index.ts';
import { verifyStripeWebhook } from './stripe/index.ts';

const NOW = Date.UTC(2026, 0, 15, 12, 0, 0);

function conn(provider: string, credentials: Record<string, string>): ConnectionContext {
  return { id: '00000000-0000-4000-8000-000000000001', provider, config: {}, credentials };
}

function kindOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof ProviderError) return `${e.kind}: ${e.message}`;
    throw e;
  }
  throw new Error('expected a ProviderError');
}

describe('Stripe webhook.verify', () => {
  const secret = 'whsec_test_not_real';
  const connection = conn('stripe', { apiKey: 'sk_test_x', webhookSecret: secret });
  const event = {
    id: 'evt_1Abc',
    object: 'event',
    type: 'customer.updated',
    created: NOW / 1000,
    data: { object: { id: 'cus_123', object: 'customer', email: 'a@example.com' } },
  };
  const delivery = (body: string, header: string | undefined, now = NOW): WebhookDelivery => ({
    rawBody: Buffer.from(body),
    headers: header === undefined ? {} : { 'stripe-signature': header },
    method: 'POST',
    url: 'https://sync.example.test/webhooks/stripe/1',
    now,
  });
  const body = JSON.stringify(event);
  const signed = stripeSignatureHeader(body, secret, Math.floor(NOW / 1000));

  it('accepts a valid signature and names the changed record', () => {
    expect(verifyStripeWebhook(delivery(body, signed), connection)).toEqual([
      { eventId: 'evt_1Abc', entityType: 'customer', recordId: 'cus_123' },
    ]);
    // Within the 300 s tolerance either way.
    expect(verifyStripeWebhook(delivery(body, signed, NOW + 299_000), connection)).toHaveLength(1);
  });

  it('maps products, prices, invoices, customer sub-objects; ignores other events', () => {
    const check = (e: unknown) => {
      const b = JSON.stringify(e);
      return verifyStripeWebhook(delivery(b, stripeSignatureHeader(b, secret, NOW / 1000)), connection);
    };
    expect(check({ id: 'evt_2', type: 'price.created', data: { object: { id: 'price_1', object: 'price' } } })).toEqual(
      [{ eventId: 'evt_2', entityType: 'price', recordId: 'price_1' }],
    );
    expect(
      check({
        id: 'evt_3',
        type: 'invoice.paid',
        data: { object: { id: 'in_1', object: 'invoice', customer: 'cus_9' } },
      }),
    ).toEqual([{ eventId: 'evt_3', entityType: 'invoice', recordId: 'in_1' }]);
    expect(
      check({
        id: 'evt_4',
        type: 'customer.discount.created',
        data: { object: { id: 'di_1', object: 'discount', customer: 'cus_9' } },
      }),
    ).toEqual([{ eventId: 'evt_4', entityType: 'customer', recordId: 'cus_9' }]);
    expect(
      check({ id: 'evt_5', type: 'charge.succeeded', data: { object: { id: 'ch_1', object: 'charge' } } }),
    ).toEqual([]);
  });

  it('refuses a wrong secret, a stale timestamp, an altered body and a missing header as auth errors', () => {
    const wrong = stripeSignatureHeader(body, 'whsec_other', Math.floor(NOW / 1000));
    expect(kindOf(() => verifyStripeWebhook(delivery(body, wrong), connection))).toBe(
      'auth: stripe webhook: signature does not match',
    );
    expect(kindOf(() => verifyStripeWebhook(delivery(body, signed, NOW + 301_000), connection))).toBe(
      'auth: stripe webhook: timestamp outside the 300 s tolerance',
    );
    const altered = body.replace('cus_123', 'cus_999');
    expect(kindOf(() => verifyStripeWebhook(delivery(altered, signed), connection))).toBe(
      'auth: stripe webhook: signature does not match',
    );
    expect(kindOf(() => verifyStripeWebhook(delivery(body, undefined), connection))).toBe(
      'auth: stripe webhook: missing Stripe-Signature header',
    );
  });

  it('refuses an unreadable body (signed) as a record error, and a connection without a secret', () => {
    const garbage = 'not json{';
    const header = stripeSignatureHeader(garbage, secret, NOW / 1000);
    expect(kindOf(() => verifyStripeWebhook(delivery(garbage, header), connection))).toMatch(/^record: /);
    const notEvent = '{"hello":1}';
    expect(
      kindOf(() =>
        verifyStripeWebhook(delivery(notEvent, stripeSignatureHeader(notEvent, secret, NOW / 1000)), connection),
      ),
    ).toMatch(/^record: /);
    expect(kindOf(() => verifyStripeWebhook(delivery(body, signed), conn('stripe', { apiKey: 'x' })))).toMatch(
      /^config: /,
    );
  });
});

describe('HubSpot webhook.verify (signature v3)', () => {
  const secret = 'hubspot-client-secret-not-real';
  const connection = conn('hubspot', { accessToken: 'pat-x', clientSecret: secret });
  const url = 'https://sync.example.test/webhooks/hubspot/1?tenant=a';
  const events = [
    {
      eventId: 101,
      subscriptionId: 7,
      portalId: 555,
      occurredAt: NOW,
      subscriptionType: 'contact.propertyChange',
      objectId: 1001,
      propertyName: 'email',
    },
    {
      eventId: 102,
      subscriptionId: 8,
      portalId: 555,
      occurredAt: NOW,
      subscriptionType: 'deal.creation',
      objectId: 2002,
    },
    {
      eventId: 103,
      subscriptionId: 9,
      portalId: 555,
      occurredAt: NOW,
      subscriptionType: 'company.deletion',
      objectId: 3003,
    },
    {
      eventId: 104,
      subscriptionId: 10,
      portalId: 555,
      occurredAt: NOW,
      subscriptionType: 'ticket.creation',
      objectId: 4004,
    },
  ];
  const body = JSON.stringify(events);
  const delivery = (
    raw: string,
    headers: { signature?: string; timestamp?: string },
    now = NOW,
    target = url,
  ): WebhookDelivery => ({
    rawBody: Buffer.from(raw),
    headers: {
      ...(headers.signature !== undefined ? { 'x-hubspot-signature-v3': headers.signature } : {}),
      ...(headers.timestamp !== undefined ? { 'x-hubspot-request-timestamp': headers.timestamp } : {}),
    },
    method: 'POST',
    url: target,
    now,
  });
  const sign = (raw: string, ts = NOW, s = secret, target = url) => ({
    signature: hubSpotSignatureV3(s, 'POST', target, raw, ts),
    timestamp: String(ts),
  });

  it('accepts a valid signature; each event of a known object type names its record', () => {
    expect(verifyHubSpotWebhook(delivery(body, sign(body)), connection)).toEqual([
      { eventId: '555:7:101', entityType: 'contact', recordId: '1001' },
      { eventId: '555:8:102', entityType: 'deal', recordId: '2002' },
      { eventId: '555:9:103', entityType: 'company', recordId: '3003', deleted: true },
    ]);
    // HubSpot redelivers the same events later, newly signed: the event ids stay the same (replays dedupe).
    const later = NOW + 60_000;
    expect(verifyHubSpotWebhook(delivery(body, sign(body, later), later), connection).map((e) => e.eventId)).toEqual([
      '555:7:101',
      '555:8:102',
      '555:9:103',
    ]);
  });

  it('refuses a wrong secret, a stale timestamp, an altered body, another URL and missing headers', () => {
    expect(kindOf(() => verifyHubSpotWebhook(delivery(body, sign(body, NOW, 'other-secret')), connection))).toBe(
      'auth: hubspot webhook: signature does not match',
    );
    const stale = NOW - 5 * 60_000 - 1;
    expect(kindOf(() => verifyHubSpotWebhook(delivery(body, sign(body, stale)), connection))).toBe(
      'auth: hubspot webhook: timestamp older than 5 minutes',
    );
    const altered = body.replace('1001', '1002');
    expect(kindOf(() => verifyHubSpotWebhook(delivery(altered, sign(body)), connection))).toBe(
      'auth: hubspot webhook: signature does not match',
    );
    expect(
      kindOf(() => verifyHubSpotWebhook(delivery(body, sign(body), NOW, 'https://evil.example.test/hook'), connection)),
    ).toBe('auth: hubspot webhook: signature does not match');
    expect(kindOf(() => verifyHubSpotWebhook(delivery(body, { timestamp: String(NOW) }), connection))).toBe(
      'auth: hubspot webhook: missing X-HubSpot-Signature-v3 header',
    );
    expect(kindOf(() => verifyHubSpotWebhook(delivery(body, { signature: sign(body).signature }), connection))).toMatch(
      /^auth: hubspot webhook: missing or bad X-HubSpot-Request-Timestamp/,
    );
  });

  it('refuses an unreadable body as a record error, and a connection without a client secret', () => {
    for (const raw of ['{not json', '{"eventId":1}', '[{"eventId":1}]']) {
      expect(kindOf(() => verifyHubSpotWebhook(delivery(raw, sign(raw)), connection))).toMatch(
        /^record: hubspot webhook: /,
      );
    }
    expect(
      kindOf(() => verifyHubSpotWebhook(delivery(body, sign(body)), conn('hubspot', { accessToken: 'x' }))),
    ).toMatch(/^config: /);
  });
});

describe('built-in providers', () => {
  it('are Stripe, HubSpot and REST, each with info and the webhook handlers where the provider has them', () => {
    const providers = builtInProviders();
    expect(providers.map((p) => p.name)).toEqual(['stripe', 'hubspot', 'rest']);
    const [stripe, hubspot, rest] = providers;
    expect(stripe!.info?.displayName).toBe('Stripe');
    expect(stripe!.info?.entityTypes.map((t) => [t.name, t.supports.outbound])).toEqual([
      ['customer', true],
      ['product', true],
      ['price', false],
      ['invoice', false],
    ]);
    const customer = stripe!.info!.entityTypes[0]!.fields.map((f) => f.name);
    expect(customer).toEqual(
      expect.arrayContaining(['id', 'name', 'email', 'phone', 'balance', 'metadata', 'address.city']),
    );
    expect(stripe!.info!.credentials.map((c) => [c.name, c.secret])).toEqual([
      ['apiKey', true],
      ['webhookSecret', true],
    ]);
    expect(typeof stripe!.webhook?.verify).toBe('function');

    expect(hubspot!.info?.entityTypes.map((t) => t.name)).toEqual(['contact', 'company', 'deal']);
    expect(hubspot!.info!.entityTypes[0]!.fields.map((f) => f.name)).toEqual(
      expect.arrayContaining(['email', 'firstname', 'lastname', 'phone', 'company', 'lifecyclestage']),
    );
    expect(hubspot!.info!.credentials.map((c) => c.name)).toEqual(['accessToken', 'clientSecret']);
    expect(typeof hubspot!.webhook?.verify).toBe('function');
    // Every config setting the info offers is one the config schema accepts.
    const parsed = hubspot!.configSchema!.safeParse({
      apiBase: 'http://127.0.0.1:1',
      requestsPer10Seconds: 190,
      searchRequestsPerSecond: 4,
      timeoutMs: 5000,
      externalIdProperty: 'otesse_id',
      properties: { contact: ['email'] },
    });
    expect(parsed.success).toBe(true);
    expect(hubspot!.info!.config.map((c) => c.name)).toEqual([
      'apiBase',
      'requestsPer10Seconds',
      'searchRequestsPerSecond',
      'timeoutMs',
      'externalIdProperty',
      'properties',
    ]);

    expect(rest!.info?.displayName).toBe('REST API');
    expect(rest!.info!.config.find((c) => c.name === 'baseUrl')?.required).toBe(true);
    expect(rest!.info!.credentials.every((c) => c.secret)).toBe(true);
    expect(rest!.webhook).toBeUndefined();
  });
});

describe('webhook.verify against what the providers send', () => {
  it('Stripe: a header made by the official SDK verifies', () => {
    const secret = 'whsec_sdk_not_real';
    const payload = JSON.stringify({
      id: 'evt_sdk',
      type: 'product.updated',
      data: { object: { id: 'prod_1', object: 'product' } },
    });
    const header = Stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp: Math.floor(NOW / 1000) });
    const events = verifyStripeWebhook(
      {
        rawBody: Buffer.from(payload),
        headers: { 'stripe-signature': header },
        method: 'POST',
        url: 'https://x.test/h',
        now: NOW,
      },
      conn('stripe', { apiKey: 'sk_test_x', webhookSecret: secret }),
    );
    expect(events).toEqual([{ eventId: 'evt_sdk', entityType: 'product', recordId: 'prod_1' }]);
  });

  it('HubSpot: a delivery from the sandbox (signed like HubSpot) verifies at the URL it was sent to', async () => {
    const received: WebhookDelivery[] = [];
    const receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const headers: Record<string, string | undefined> = {};
        for (const [k, v] of Object.entries(req.headers)) headers[k] = Array.isArray(v) ? v.join(', ') : v;
        received.push({
          rawBody: Buffer.concat(chunks),
          headers,
          method: req.method ?? 'POST',
          url: `http://${req.headers.host}${req.url}`,
        });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const sandbox = await startHubSpotSandbox({ appSecret: 'app-secret-not-real', portalId: 42 });
    try {
      const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/webhooks/hubspot/c1?x=1`;
      await sandbox.sendWebhook(hook, [
        { objectId: 11, subscriptionType: 'contact.creation', subscriptionId: 3 },
        { objectId: 12, subscriptionType: 'deal.propertyChange', subscriptionId: 4 },
      ]);
      expect(received).toHaveLength(1);
      const connection = conn('hubspot', { accessToken: 'pat-x', clientSecret: 'app-secret-not-real' });
      const events = verifyHubSpotWebhook(received[0]!, connection);
      expect(events.map((e) => [e.entityType, e.recordId])).toEqual([
        ['contact', '11'],
        ['deal', '12'],
      ]);
      expect(events[0]!.eventId).toMatch(/^42:3:\d+$/);
      const wrong = conn('hubspot', { accessToken: 'pat-x', clientSecret: 'another-secret' });
      expect(kindOf(() => verifyHubSpotWebhook(received[0]!, wrong))).toMatch(/^auth: /);
    } finally {
      await sandbox.close();
      await new Promise((r) => receiver.close(r));
    }
  });
});
