import type { ProviderError } from '../domain/errors.ts';
import type { EndpointRecord } from '../engine/endpoint.ts';

/**
 * A record the provider returned in a shape the connector cannot trust (a missing or mistyped field). It
 * carries the error instead of content: the run counts it as one record failure (phase `fetch`, kind `record`,
 * the message naming the record and the field) and puts it in the retry set, while the rest of the page is
 * written. Nothing of the broken payload reaches the other side.
 */
export function malformedRecord(id: string, error: ProviderError): EndpointRecord {
  return { id, data: {}, updatedAt: null, error };
}
