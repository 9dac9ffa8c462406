import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Webhook signature checks, always on the raw request body (a re-serialised JSON body would not match).
 * Each returns `{ ok: true }` or `{ ok: false, reason }`; the reason is safe to log (no secret, no body).
 */
export type SignatureCheck = { ok: true; timestamp: number } | { ok: false; reason: string };

function safeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Stripe: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=…]`, v1 = HMAC-SHA256(secret, `${t}.${rawBody}`),
 * timestamp within `toleranceSeconds` (default 300) of now. Any v1 may match (secret rotation).
 */
export function verifyStripeSignature(
  rawBody: Buffer | string,
  header: string | undefined | null,
  secret: string,
  options: { toleranceSeconds?: number; nowMs?: number } = {},
): SignatureCheck {
  if (!header) return { ok: false, reason: 'missing Stripe-Signature header' };
  let t: number | undefined;
  const v1: string[] = [];
  for (const part of header.split(',')) {
    const [k, v] = part.split('=', 2).map((s) => s.trim());
    if (k === 't' && v && /^\d+$/.test(v)) t = Number(v);
    else if (k === 'v1' && v && /^[0-9a-f]+$/i.test(v)) v1.push(v.toLowerCase());
  }
  if (t === undefined) return { ok: false, reason: 'Stripe-Signature has no timestamp' };
  if (v1.length === 0) return { ok: false, reason: 'Stripe-Signature has no v1 signature' };
  const tolerance = options.toleranceSeconds ?? 300;
  const now = Math.floor((options.nowMs ?? Date.now()) / 1000);
  if (Math.abs(now - t) > tolerance) return { ok: false, reason: `timestamp outside the ${tolerance} s tolerance` };
  const expected = createHmac('sha256', secret)
    .update(`${t}.`)
    .update(typeof rawBody === 'string' ? Buffer.from(rawBody) : rawBody)
    .digest();
  return v1.some((sig) => safeEqual(Buffer.from(sig, 'hex'), expected))
    ? { ok: true, timestamp: t }
    : { ok: false, reason: 'signature does not match' };
}

/**
 * HubSpot v3: `X-HubSpot-Signature-v3` = base64(HMAC-SHA256(appSecret, method + uri + rawBody + timestamp)),
 * `X-HubSpot-Request-Timestamp` in milliseconds, rejected when older than 5 minutes. `uri` is the full URL
 * HubSpot called (scheme, host, path and query).
 */
export function verifyHubSpotSignatureV3(
  input: {
    method: string;
    uri: string;
    rawBody: Buffer | string;
    signature?: string | null;
    timestamp?: string | null;
  },
  appSecret: string,
  options: { maxAgeMs?: number; nowMs?: number } = {},
): SignatureCheck {
  if (!input.signature) return { ok: false, reason: 'missing X-HubSpot-Signature-v3 header' };
  if (!input.timestamp || !/^\d+$/.test(input.timestamp)) {
    return { ok: false, reason: 'missing or bad X-HubSpot-Request-Timestamp header' };
  }
  const ts = Number(input.timestamp);
  const maxAge = options.maxAgeMs ?? 5 * 60_000;
  const now = options.nowMs ?? Date.now();
  if (now - ts > maxAge || ts - now > maxAge) return { ok: false, reason: 'timestamp older than 5 minutes' };
  const body = typeof input.rawBody === 'string' ? input.rawBody : input.rawBody.toString('utf8');
  const expected = Buffer.from(hubSpotSignatureV3(appSecret, input.method, input.uri, body, input.timestamp), 'base64');
  let given: Buffer;
  try {
    given = Buffer.from(input.signature, 'base64');
  } catch {
    return { ok: false, reason: 'signature is not base64' };
  }
  return safeEqual(given, expected) ? { ok: true, timestamp: ts } : { ok: false, reason: 'signature does not match' };
}

/** The v3 signature HubSpot computes: base64(HMAC-SHA256(appSecret, method + uri + body + timestamp)). */
export function hubSpotSignatureV3(
  appSecret: string,
  method: string,
  uri: string,
  body: string,
  timestamp: number | string,
): string {
  return createHmac('sha256', appSecret)
    .update(`${method.toUpperCase()}${decodeHubSpotUri(uri)}${body}${timestamp}`)
    .digest('base64');
}

/** HubSpot signs the URI with these characters decoded. */
function decodeHubSpotUri(uri: string): string {
  const map: Record<string, string> = {
    '%3A': ':',
    '%2F': '/',
    '%3F': '?',
    '%40': '@',
    '%21': '!',
    '%24': '$',
    '%27': "'",
    '%28': '(',
    '%29': ')',
    '%2A': '*',
    '%2C': ',',
    '%3B': ';',
  };
  return uri.replace(/%3A|%2F|%3F|%40|%21|%24|%27|%28|%29|%2A|%2C|%3B/gi, (m) => map[m.toUpperCase()] ?? m);
}

/** Signs like Stripe does; for sandboxes and tests. */
export function stripeSignatureHeader(rawBody: string, secret: string, timestampSeconds: number): string {
  const sig = createHmac('sha256', secret).update(`${timestampSeconds}.${rawBody}`).digest('hex');
  return `t=${timestampSeconds},v1=${sig}`;
}
