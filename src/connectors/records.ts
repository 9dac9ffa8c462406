import type { ProviderError } from '../domain/errors.ts';
import type { EndpointRecord } from '../engine/endpoint.ts';

/**
 * A record the provider returned in a shape the connector cannot trust (a missing or mistyped field). The
 * Endpoint interface has no per-record read error, so the record travels with data that throws `error` on
 * any access: the run's mapping step fails for this record alone, which the engine counts as one record
 * failure (kind `record`, message naming the record and the field) and puts in the retry set, while the
 * rest of the page is written. Nothing of the broken payload reaches the local table.
 */
export function malformedRecord(id: string, error: ProviderError): EndpointRecord {
  const fail = (): never => {
    throw error;
  };
  const data = new Proxy({} as Record<string, unknown>, {
    get: fail,
    has: fail,
    ownKeys: fail,
    getOwnPropertyDescriptor: fail,
  });
  return { id, data, updatedAt: null };
}

/** Whether a record came from `malformedRecord` (reading its data throws). */
export function isMalformedRecord(record: EndpointRecord): boolean {
  try {
    Object.keys(record.data);
    return false;
  } catch {
    return true;
  }
}
