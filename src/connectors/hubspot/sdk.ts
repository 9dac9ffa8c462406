import type { AsyncLocalStorage } from 'node:async_hooks';
import type { Client } from '@hubspot/api-client';
import type { RequestContext, ResponseContext } from '@hubspot/api-client/lib/codegen/crm/objects/http/http.js';
import { ProviderError } from '../../domain/errors.ts';
import { observedFetch } from '../../engine/telemetry.ts';
import { bodyExcerpt, classifyStatus, looksLikeHtml, retryAfterMs } from '../http/classify.ts';
import { guardErrorIn } from '../http/guard.ts';
import { loadOnFirstUse } from '../shared.ts';

/** The generic CRM object APIs of the official SDK (basic, batch, search), as the connector uses them. */
export type ObjectsApi = Client['crm']['objects'];

/** What the connector takes from the official SDK at run time. */
export interface HubSpotSdk {
  Client: typeof Client;
  ResponseContext: typeof ResponseContext;
  wrapHttpLibrary: typeof import('@hubspot/api-client/lib/codegen/crm/objects/http/http.js').wrapHttpLibrary;
}

/**
 * The SDK, loaded with the first HubSpot endpoint rather than with the engine: its generated clients are large
 * (loaded alone, some 18 MB of RSS), and an engine that syncs no HubSpot connection never needs them.
 */
export const loadHubSpotSdk = loadOnFirstUse(async (): Promise<HubSpotSdk> => {
  const [client, http] = await Promise.all([
    import('@hubspot/api-client'),
    import('@hubspot/api-client/lib/codegen/crm/objects/http/http.js'),
  ]);
  return { Client: client.Client, ResponseContext: http.ResponseContext, wrapHttpLibrary: http.wrapHttpLibrary };
});

/**
 * The official SDK, with every request it sends going through our own fetch: the run's AbortSignal (carried
 * per call in an AsyncLocalStorage, so concurrent calls of one endpoint each keep theirs) and a per-request
 * timeout, and `fetch`: the guarded fetch (outbound policy, same-origin redirects, body size cap). The SDK's own
 * retry and limiter decorators stay off: retries, backoff and the rate limits are the connector's, one policy
 * for every connector.
 */
export function createObjectsApi(
  sdk: HubSpotSdk,
  options: {
    accessToken: string;
    basePath: string;
    timeoutMs: number;
    signals: AsyncLocalStorage<AbortSignal>;
    fetch: typeof fetch;
  },
): ObjectsApi {
  const hubspotFetch = observedFetch('hubspot', options.fetch);
  const client = new sdk.Client({
    accessToken: options.accessToken,
    basePath: options.basePath.replace(/\/$/, ''),
    numberOfApiCallRetries: 0,
  });
  const objects = client.crm.objects;
  const http = sdk.wrapHttpLibrary({
    async send(request: RequestContext): Promise<ResponseContext> {
      const signal = options.signals.getStore();
      const timeout = AbortSignal.timeout(options.timeoutMs);
      const body = request.getBody();
      const res = await hubspotFetch(request.getUrl(), {
        method: request.getHttpMethod(),
        headers: request.getHeaders(),
        ...(body !== undefined ? { body: body as string } : {}),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
      const buf = Buffer.from(await res.arrayBuffer());
      const headers: Record<string, string> = {};
      res.headers.forEach((v, k) => {
        headers[k] = v;
      });
      return new sdk.ResponseContext(res.status, headers, {
        text: async () => buf.toString('utf8'),
        binary: async () => buf,
      });
    },
  });
  // The generated APIs send through their configuration's httpApi (a per-call override is ignored by the
  // SDK's ObservableAPI), so the shared configuration of the three object APIs gets ours.
  for (const api of [objects.basicApi, objects.batchApi, objects.searchApi]) {
    const inner = (api as unknown as { api?: { configuration?: { httpApi: unknown } } }).api;
    if (!inner?.configuration) throw new Error('hubspot: unexpected @hubspot/api-client layout (no configuration)');
    inner.configuration.httpApi = http;
  }
  return objects;
}

interface SdkApiException {
  code: number;
  body: unknown;
  headers: Record<string, string> | undefined;
}

function isApiException(err: unknown): err is SdkApiException {
  return (
    typeof err === 'object' &&
    err !== null &&
    typeof (err as { code?: unknown }).code === 'number' &&
    'body' in err &&
    err instanceof Error
  );
}

/** HubSpot's error body: `{ status: 'error', message, category, policyName?, correlationId }`. */
function bodyField(body: unknown, key: string): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const v = (body as Record<string, unknown>)[key];
  return typeof v === 'string' ? v : undefined;
}

/**
 * An SDK failure as a ProviderError: 401/403 → auth; 429 (HubSpot sends its policy, not always Retry-After:
 * the secondly search limit waits a second), 423 (at least 2 s), 477, 5xx and network errors → transient;
 * other 4xx → record. Messages carry HubSpot's own message, never the token.
 */
export function toProviderError(err: unknown, timeoutMs: number): ProviderError {
  const guarded = guardErrorIn(err);
  if (guarded) return guarded;
  if (isApiException(err)) {
    const status = err.code;
    const headers = new Headers();
    for (const [k, v] of Object.entries(err.headers ?? {})) if (typeof v === 'string') headers.set(k, v);
    // From the answer's body: a short sanitized excerpt at most, never an HTML page.
    const raw = bodyField(err.body, 'message') ?? (typeof err.body === 'string' ? err.body : '');
    const message =
      (looksLikeHtml(raw, headers.get('content-type')) ? 'an HTML page, not quoted' : bodyExcerpt(raw)) ?? 'error';
    let after = retryAfterMs(headers);
    const policy = bodyField(err.body, 'policyName');
    // HubSpot's rate-limit 429s name their policy and usually carry no Retry-After: the secondly search
    // limit frees within a second; the rolling 10-second one frees a slot as old requests leave the window.
    if (after === undefined && status === 429 && policy !== 'DAILY') after = 1000;
    if (after === undefined && status === 423) after = 2000;
    return new ProviderError(classifyStatus(status, headers), `hubspot: ${status} ${message}`, {
      cause: err,
      status,
      ...(after !== undefined ? { retryAfterMs: after } : {}),
    });
  }
  const e = err as Error | undefined;
  if (e?.name === 'TimeoutError') {
    return new ProviderError('transient', `hubspot: no response within ${timeoutMs} ms`, { cause: err });
  }
  return new ProviderError('transient', `hubspot: network error: ${e?.message ?? String(err)}`, {
    cause: err,
    unreachable: true,
  });
}
