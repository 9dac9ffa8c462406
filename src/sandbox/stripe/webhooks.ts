import { createHmac } from 'node:crypto';

/**
 * The `Stripe-Signature` header value for a webhook body: `t=<unix seconds>,v1=<hex HMAC-SHA256>` over
 * `"<t>.<raw body>"`, keyed with the endpoint secret (the whole `whsec_…` string, as Stripe's SDKs use it).
 */
export function signStripePayload(secret: string, body: string, t: number = Math.floor(Date.now() / 1000)): string {
  const v1 = createHmac('sha256', secret).update(`${t}.${body}`, 'utf8').digest('hex');
  return `t=${t},v1=${v1}`;
}

export interface WebhookDelivery {
  eventId: string;
  url: string;
  /** HTTP status of the endpoint's answer; absent when the request failed. */
  status?: number;
  error?: string;
}

export interface WebhookSendOptions {
  secret: string;
  /** Signature timestamp (unix seconds); the sandbox clock by default. */
  timestamp: number;
  signal?: AbortSignal;
}

/** POSTs an event as Stripe does: pretty-printed JSON, signed. */
export async function postWebhook(
  url: string,
  event: { id: string },
  options: WebhookSendOptions,
): Promise<{ status: number; body: string }> {
  const body = JSON.stringify(event, null, 2);
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json; charset=utf-8',
      'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
      'stripe-signature': signStripePayload(options.secret, body, options.timestamp),
    },
    body,
    signal: options.signal ?? AbortSignal.timeout(30_000),
  });
  return { status: response.status, body: await response.text() };
}
