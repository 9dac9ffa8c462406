import { ProviderError } from '../../domain/errors.ts';
import { DEFAULT_TRANSIENT_RETRY, type TransientRetryPolicy, waitToRetry } from '../../engine/retry.ts';
import { observedFetch } from '../../engine/telemetry.ts';
import { httpError } from './classify.ts';
import { DEFAULT_OUTBOUND_POLICY, guardedFetch, type OutboundPolicy } from './guard.ts';
import type { RateLimiter } from './rate-limiter.ts';

export interface HttpRequest {
  method?: string;
  url: string;
  headers?: Record<string, string>;
  /** JSON-encoded unless it is already a string. */
  body?: unknown;
  signal: AbortSignal;
  /**
   * false: one try only, transient failures are thrown at once. For a create that has no idempotency key,
   * whose retry must look the record up first (its response may have been lost after it was applied).
   */
  retry?: boolean;
}

export interface HttpResponse<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
}

export interface HttpClientOptions {
  /** Name used in error messages (never credentials). */
  provider: string;
  /** Per-request timeout. Default: 30 s. */
  timeoutMs?: number;
  retry?: TransientRetryPolicy;
  limiter?: RateLimiter;
  /** Where requests may go (SSRF guard), redirects, the response size cap. Default: DEFAULT_OUTBOUND_POLICY. */
  outbound?: OutboundPolicy;
  /** For tests: the fetch to use instead of the guarded one (no outbound policy then). */
  fetch?: typeof fetch;
}

/**
 * The HTTP behaviour every connector shares: a rate limiter per connection, a per-request timeout, the
 * run's AbortSignal on the request in flight, retries of 429/5xx/network errors with exponential backoff
 * and jitter honouring Retry-After, and failures classified (transient, record, auth, config); requests go
 * through the outbound guard (see guard.ts: refused addresses, same-origin redirects, a body size cap).
 * Returns 2xx responses (207 included); throws ProviderError otherwise (quoting at most a short excerpt of
 * an error body).
 */
export class HttpClient {
  private readonly timeoutMs: number;
  private readonly retry: TransientRetryPolicy;
  private readonly fetchFn: typeof fetch;

  constructor(private readonly options: HttpClientOptions) {
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.retry = options.retry ?? DEFAULT_TRANSIENT_RETRY;
    this.fetchFn = observedFetch(
      options.provider,
      options.fetch ?? guardedFetch(options.outbound ?? DEFAULT_OUTBOUND_POLICY, options.provider),
    );
  }

  async request<T = unknown>(req: HttpRequest): Promise<HttpResponse<T>> {
    for (let attempt = 1; ; attempt++) {
      let error: ProviderError;
      try {
        await this.options.limiter?.acquire(req.signal);
        const res = await this.fetchFn(req.url, {
          method: req.method ?? 'GET',
          headers: {
            accept: 'application/json',
            ...(req.body !== undefined && typeof req.body !== 'string' ? { 'content-type': 'application/json' } : {}),
            ...req.headers,
          },
          ...(req.body !== undefined
            ? { body: typeof req.body === 'string' ? req.body : JSON.stringify(req.body) }
            : {}),
          signal: AbortSignal.any([req.signal, AbortSignal.timeout(this.timeoutMs)]),
        });
        const text = await res.text();
        let body: unknown = text;
        if (text !== '' && (res.headers.get('content-type') ?? '').includes('json')) {
          try {
            body = JSON.parse(text);
          } catch (cause) {
            throw new ProviderError('transient', `${this.options.provider}: response is not valid JSON`, { cause });
          }
        }
        if (res.status >= 200 && res.status < 300) return { status: res.status, headers: res.headers, body: body as T };
        error = httpError(this.options.provider, res.status, res.headers, body);
      } catch (err) {
        if (req.signal.aborted) throw req.signal.reason;
        if (err instanceof ProviderError) error = err;
        else {
          const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
          error = new ProviderError(
            'transient',
            `${this.options.provider}: ${timedOut ? `no response within ${this.timeoutMs} ms` : `network error: ${(err as Error).message}`}`,
            // No answer at all, and not merely a slow one: the provider could not be reached.
            { cause: err, unreachable: !timedOut },
          );
        }
      }
      if (error.kind !== 'transient' || req.retry === false || attempt >= this.retry.attempts) throw error;
      await waitToRetry(this.options.provider, this.retry, attempt, error, req.signal);
    }
  }
}
