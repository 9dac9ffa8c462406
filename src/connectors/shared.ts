/** Pieces every connector's description and webhook handler use the same way. */
import { ProviderError } from '../domain/errors.ts';
import type { SettingInfo } from '../engine/endpoint.ts';

/** The per-request timeout setting of an HTTP connector's config. */
export const TIMEOUT_SETTING: SettingInfo = {
  name: 'timeoutMs',
  label: 'Request timeout (ms)',
  type: 'number',
  required: false,
  secret: false,
  placeholder: '30000',
};

/** A webhook body as JSON, after its signature was checked; an unreadable body is a `record` error. */
export function parseWebhookJson(provider: string, rawBody: Buffer): unknown {
  try {
    return JSON.parse(rawBody.toString('utf8'));
  } catch (cause) {
    throw new ProviderError('record', `${provider} webhook: the body is not JSON`, { cause });
  }
}

/**
 * A module (an SDK) loaded on first call rather than at start: later calls share the one load. A failed load (a
 * broken install) is not kept: the next call tries again.
 */
export function loadOnFirstUse<T>(load: () => Promise<T>): () => Promise<T> {
  let loaded: Promise<T> | undefined;
  return () => {
    if (loaded === undefined) {
      loaded = load();
      loaded.catch(() => {
        loaded = undefined;
      });
    }
    return loaded;
  };
}
