import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { type RunningServer, serve } from '../src/api/serve.ts';
import { signHubSpotV3 } from '../src/sandbox/hubspot/webhooks.ts';

/**
 * HubSpot's signature v3 covers the full URL HubSpot called. Behind a TLS-terminating proxy the server sees
 * http://<internal host>/…, not the public https URL: the public base URL setting says which URL was called.
 */
describe('webhooks behind a proxy (public base URL)', () => {
  let server: RunningServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  async function deliver(publicUrl: string | undefined) {
    server = await serve({
      database: 'memory://',
      host: '127.0.0.1',
      port: 0,
      logger: pino({ enabled: false }),
      ...(publicUrl ? { publicUrl } : {}),
    });
    const secret = randomBytes(16).toString('hex');
    const create = await fetch(`${server.url}/api/v1/connections`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'HubSpot',
        provider: 'hubspot',
        credentials: { accessToken: `pat-test-${randomBytes(8).toString('hex')}`, clientSecret: secret },
      }),
    });
    expect(create.status).toBe(201);
    const { id } = (await create.json()) as { id: string };
    const body = JSON.stringify([
      { eventId: 1, subscriptionType: 'contact.propertyChange', objectId: 101, occurredAt: Date.now() },
    ]);
    const timestamp = Date.now();
    // Signed as HubSpot signs it: over the public URL it called.
    const signature = signHubSpotV3(secret, 'POST', `https://sync.example.com/webhooks/${id}`, body, timestamp);
    return fetch(`${server.url}/webhooks/${id}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-hubspot-signature-v3': signature,
        'x-hubspot-request-timestamp': String(timestamp),
      },
      body,
    });
  }

  it('checks the signature over the public URL when one is configured', async () => {
    const res = await deliver('https://sync.example.com');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ accepted: 1, duplicates: 0 });
  });

  it('without it, the URL the server saw does not match the signature', async () => {
    const res = await deliver(undefined);
    expect(res.status).toBe(401);
  });

  it('a bad public URL stops the server at start, naming the setting', async () => {
    await expect(
      serve({
        database: 'memory://',
        host: '127.0.0.1',
        port: 0,
        logger: pino({ enabled: false }),
        publicUrl: 'ftp://sync.example.com/?x=1',
      }),
    ).rejects.toThrow(/publicUrl: must be an http\(s\) URL/);
  });
});
