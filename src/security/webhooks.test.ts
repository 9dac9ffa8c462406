import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { stripeSignatureHeader, verifyHubSpotSignatureV3, verifyStripeSignature } from './webhooks.ts';

// Obviously fake secrets.
const SECRET = 'whsec_test_not_a_real_secret';
const body = JSON.stringify({ id: 'evt_1', type: 'customer.updated', data: { object: { id: 'cus_1' } } });
const now = Date.parse('2026-11-25T12:00:00Z');
const t = Math.floor(now / 1000);

describe('Stripe signatures', () => {
  it('accepts a valid signature', () => {
    expect(verifyStripeSignature(body, stripeSignatureHeader(body, SECRET, t), SECRET, { nowMs: now })).toEqual({
      ok: true,
      timestamp: t,
    });
  });
  it('accepts when any v1 matches (rotating secrets)', () => {
    const good = stripeSignatureHeader(body, SECRET, t).split(',')[1];
    const header = `t=${t},v1=${'0'.repeat(64)},${good}`;
    expect(verifyStripeSignature(body, header, SECRET, { nowMs: now }).ok).toBe(true);
  });
  it('refuses a wrong secret, an altered body, a stale timestamp, a missing header', () => {
    const header = stripeSignatureHeader(body, SECRET, t);
    expect(verifyStripeSignature(body, header, 'whsec_other', { nowMs: now })).toEqual({
      ok: false,
      reason: 'signature does not match',
    });
    expect(verifyStripeSignature(`${body} `, header, SECRET, { nowMs: now }).ok).toBe(false);
    expect(verifyStripeSignature(body, header, SECRET, { nowMs: now + 301_000 })).toEqual({
      ok: false,
      reason: 'timestamp outside the 300 s tolerance',
    });
    expect(verifyStripeSignature(body, null, SECRET).ok).toBe(false);
    expect(verifyStripeSignature(body, 'v1=abc', SECRET).ok).toBe(false);
  });
});

describe('HubSpot v3 signatures', () => {
  const uri = 'https://example.test/webhooks/abc?x=1';
  const ts = String(now);
  const sign = (secret: string, b = body, u = uri, time = ts) =>
    createHmac('sha256', secret).update(`POST${u}${b}${time}`).digest('base64');
  it('accepts a valid signature', () => {
    const r = verifyHubSpotSignatureV3(
      { method: 'POST', uri, rawBody: body, signature: sign(SECRET), timestamp: ts },
      SECRET,
      {
        nowMs: now + 1000,
      },
    );
    expect(r.ok).toBe(true);
  });
  it('refuses a wrong secret, an altered body, an old timestamp', () => {
    const input = { method: 'POST', uri, rawBody: body, signature: sign('other-secret'), timestamp: ts };
    expect(verifyHubSpotSignatureV3(input, SECRET, { nowMs: now }).ok).toBe(false);
    expect(
      verifyHubSpotSignatureV3({ ...input, signature: sign(SECRET), rawBody: `${body}x` }, SECRET, { nowMs: now }).ok,
    ).toBe(false);
    expect(
      verifyHubSpotSignatureV3({ ...input, signature: sign(SECRET) }, SECRET, { nowMs: now + 5 * 60_000 + 1 }),
    ).toEqual({ ok: false, reason: 'timestamp older than 5 minutes' });
  });
});
