import { type ErrorKind, ProviderError } from '../../domain/errors.ts';

/** Statuses that mean "try again later" across providers (HubSpot adds 423, 477 and Cloudflare's 52x). */
const TRANSIENT = new Set([408, 423, 425, 429, 477, 500, 502, 503, 504, 521, 522, 523, 524]);

/**
 * How a provider's HTTP answer should be treated:
 * 401/403 → `auth` (the run fails once); 429, 5xx and friends → `transient` (retried with backoff);
 * other 4xx → `record` (this record was rejected). `Stripe-Should-Retry` overrides the status rule.
 */
export function classifyStatus(status: number, headers?: Headers): ErrorKind {
  const should = headers?.get('stripe-should-retry');
  if (should === 'true') return 'transient';
  if (should === 'false' && status !== 401 && status !== 403) return 'record';
  if (status === 401 || status === 403) return 'auth';
  if (TRANSIENT.has(status) || status >= 500) return 'transient';
  return 'record';
}

/** `Retry-After` as milliseconds: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(headers: Headers, now = Date.now()): number | undefined {
  const value = headers.get('retry-after');
  if (value === null || value.trim() === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Math.round(Number(value) * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** A ProviderError for an HTTP answer, with the provider's message when its body has one. */
export function httpError(provider: string, status: number, headers: Headers, body: unknown): ProviderError {
  const kind = classifyStatus(status, headers);
  const message = providerMessage(body) ?? `HTTP ${status}`;
  const after = retryAfterMs(headers);
  return new ProviderError(kind, `${provider}: ${status} ${message}`, {
    status,
    ...(after !== undefined ? { retryAfterMs: after } : {}),
  });
}

/** Pulls a human message out of the usual error body shapes (`{error:{message}}`, `{message}`). */
function providerMessage(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null)
    return typeof body === 'string' && body ? body.slice(0, 300) : undefined;
  const b = body as { error?: unknown; message?: unknown };
  if (
    typeof b.error === 'object' &&
    b.error !== null &&
    typeof (b.error as { message?: unknown }).message === 'string'
  ) {
    return (b.error as { message: string }).message;
  }
  if (typeof b.error === 'string') return b.error;
  if (typeof b.message === 'string') return b.message;
  return undefined;
}
