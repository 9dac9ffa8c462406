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

/**
 * A ProviderError for an HTTP answer, with the provider's message when its body has one: a short sanitized
 * excerpt only (see `bodyExcerpt`); an HTML page is never quoted.
 */
export function httpError(provider: string, status: number, headers: Headers, body: unknown): ProviderError {
  const kind = classifyStatus(status, headers);
  const html = typeof body === 'string' && looksLikeHtml(body, headers.get('content-type'));
  const message = html ? `HTTP ${status} (an HTML page, not quoted)` : (providerMessage(body) ?? `HTTP ${status}`);
  const after = retryAfterMs(headers);
  return new ProviderError(kind, `${provider}: ${status} ${message}`, {
    status,
    ...(after !== undefined ? { retryAfterMs: after } : {}),
  });
}

/** How much of a response body an error message may quote. */
export const EXCERPT_CHARS = 200;

/**
 * A response body (or a message taken from one) as error messages may quote it: markup tags removed,
 * control and bidirectional-formatting characters replaced, whitespace collapsed, at most `max` characters
 * (an ellipsis marks the cut). Undefined when nothing readable is left.
 */
export function bodyExcerpt(text: string, max = EXCERPT_CHARS): string | undefined {
  const clean = text
    .slice(0, max * 20)
    .replace(/<[^>]{0,200}>/g, ' ')
    .replace(/[<>]/g, ' ')
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is removed
    .replace(/[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  if (clean === '') return undefined;
  return clean.length <= max ? clean : `${clean.slice(0, max - 1).trimEnd()}…`;
}

/** An HTML (or XML) page rather than a message: by its content type, or by how it starts. */
export function looksLikeHtml(text: string, contentType: string | null | undefined): boolean {
  if (contentType && /html|xml/i.test(contentType)) return true;
  return /^\s*<(!doctype|html|head|body|\?xml)/i.test(text);
}

/** Pulls a human message out of the usual error body shapes (`{error:{message}}`, `{message}`), as an excerpt. */
function providerMessage(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return typeof body === 'string' ? bodyExcerpt(body) : undefined;
  const b = body as { error?: unknown; message?: unknown };
  let message: string | undefined;
  if (
    typeof b.error === 'object' &&
    b.error !== null &&
    typeof (b.error as { message?: unknown }).message === 'string'
  ) {
    message = (b.error as { message: string }).message;
  } else if (typeof b.error === 'string') message = b.error;
  else if (typeof b.message === 'string') message = b.message;
  return message === undefined ? undefined : bodyExcerpt(message);
}
