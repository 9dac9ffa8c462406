import { timingSafeEqual } from 'node:crypto';
import { hubSpotSignatureV3 } from '../../security/webhooks.ts';

/** One webhook event as HubSpot delivers it (a POST carries an array of up to 100). */
export interface HubSpotWebhookEvent {
  eventId: number;
  subscriptionId: number;
  portalId: number;
  appId: number;
  occurredAt: number;
  subscriptionType: string;
  attemptNumber: number;
  objectId: number;
  changeSource?: string;
  propertyName?: string;
  propertyValue?: string;
}

/**
 * HubSpot's v3 request signature: base64(HMAC-SHA256(appSecret, method + uri + body + timestamp)), where
 * `uri` is the full URL called (scheme, host, path, query), `body` the raw request body and `timestamp`
 * the `X-HubSpot-Request-Timestamp` value in milliseconds.
 *
 * @example
 * const sig = signHubSpotV3('secret', 'POST', 'https://app.example/hooks/hubspot', '[]', 1_700_000_000_000);
 */
export function signHubSpotV3(
  appSecret: string,
  method: string,
  uri: string,
  body: string,
  timestamp: number | string,
): string {
  return hubSpotSignatureV3(appSecret, method, uri, body, timestamp);
}

/** Checks a v3 signature and that the timestamp is within `maxAgeMs` (HubSpot: reject after 5 minutes). */
export function verifyHubSpotV3(input: {
  appSecret: string;
  method: string;
  uri: string;
  body: string;
  signature: string | undefined | null;
  timestamp: string | number | undefined | null;
  now?: number;
  maxAgeMs?: number;
}): boolean {
  if (!input.signature || input.timestamp === undefined || input.timestamp === null) return false;
  const ts = Number(input.timestamp);
  if (!Number.isFinite(ts)) return false;
  if (Math.abs((input.now ?? Date.now()) - ts) > (input.maxAgeMs ?? 300_000)) return false;
  const expected = Buffer.from(signHubSpotV3(input.appSecret, input.method, input.uri, input.body, input.timestamp));
  const given = Buffer.from(input.signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

export interface WebhookDelivery {
  status: number;
  body: string;
  events: number;
}

/**
 * Posts events as HubSpot does: JSON arrays of at most 100 events, signed (v3) with the app secret, with a
 * 5 s timeout. More than 100 events go out as several requests, one after the other.
 */
export async function deliverWebhook(
  url: string,
  events: readonly HubSpotWebhookEvent[],
  appSecret: string,
  now: () => number,
): Promise<WebhookDelivery[]> {
  const out: WebhookDelivery[] = [];
  for (let i = 0; i < events.length; i += 100) {
    const chunk = events.slice(i, i + 100);
    const body = JSON.stringify(chunk);
    const timestamp = String(now());
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'HubSpot Connect 2.0 (http://dev.hubspot.com/) (namespace: webhooks-nio)',
        'x-hubspot-signature-v3': signHubSpotV3(appSecret, 'POST', url, body, timestamp),
        'x-hubspot-request-timestamp': timestamp,
      },
      body,
      signal: AbortSignal.timeout(5_000),
    });
    out.push({ status: res.status, body: await res.text(), events: chunk.length });
  }
  return out;
}
