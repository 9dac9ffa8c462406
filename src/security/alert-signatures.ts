import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Signatures of the alerts otesse-sync sends to webhook channels, as Stripe signs its events:
 *
 *     Otesse-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>", keyed with the channel's secret>
 *
 * The key is the signing secret as shown at creation (`whsec_…`), its UTF-8 bytes. A receiver recomputes the
 * HMAC over the raw body it received, compares in constant time, and refuses timestamps too far from its clock
 * (5 minutes is usual): a replayed request carries an old `t`. Each attempt is signed again with its own `t`.
 */
export const SIGNATURE_HEADER = 'Otesse-Signature';

/** A new signing secret: `whsec_` and 32 random bytes (base64url). */
export function newSigningSecret(): string {
  return `whsec_${randomBytes(32).toString('base64url')}`;
}

/** The `Otesse-Signature` header value for `body`, sent at `nowMs`. */
export function signAlert(body: string, secret: string, nowMs = Date.now()): string {
  const t = Math.floor(nowMs / 1000);
  const v1 = createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
  return `t=${t},v1=${v1}`;
}

/**
 * Checks an `Otesse-Signature` header (for receivers written in TypeScript, and for tests): any `v1` may match,
 * and `t` must be within `toleranceSeconds` (default 300) of now.
 */
export function verifyAlertSignature(
  body: Buffer | string,
  header: string | null | undefined,
  secret: string,
  options: { toleranceSeconds?: number; nowMs?: number } = {},
): { ok: true; timestamp: number } | { ok: false; reason: string } {
  if (!header) return { ok: false, reason: `missing ${SIGNATURE_HEADER} header` };
  let t: number | undefined;
  const v1: string[] = [];
  for (const part of header.split(',')) {
    const [k, v] = part.split('=', 2).map((s) => s.trim());
    if (k === 't' && v && /^\d+$/.test(v)) t = Number(v);
    else if (k === 'v1' && v && /^[0-9a-f]{64}$/i.test(v)) v1.push(v.toLowerCase());
  }
  if (t === undefined) return { ok: false, reason: 'no timestamp (t=)' };
  if (v1.length === 0) return { ok: false, reason: 'no v1 signature' };
  const tolerance = options.toleranceSeconds ?? 300;
  if (Math.abs(Math.floor((options.nowMs ?? Date.now()) / 1000) - t) > tolerance) {
    return { ok: false, reason: `timestamp outside the ${tolerance} s tolerance` };
  }
  const expected = createHmac('sha256', secret)
    .update(`${t}.`)
    .update(typeof body === 'string' ? Buffer.from(body) : body)
    .digest();
  return v1.some((sig) => timingSafeEqual(Buffer.from(sig, 'hex'), expected))
    ? { ok: true, timestamp: t }
    : { ok: false, reason: 'signature does not match' };
}
