import { createHash, hash } from 'node:crypto';

/**
 * JSON with object keys sorted, so that equal content always gives equal text whatever the key order
 * a provider or a mapping produced. Dates become ISO strings, bigints decimal strings, undefined is dropped.
 */
export function stableStringify(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      return JSON.stringify(value.toString());
    case 'object': {
      if (value instanceof Date) return JSON.stringify(value.toISOString());
      if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
      const obj = value as Record<string, unknown>;
      const keys = Object.keys(obj).sort();
      let out = '{';
      let first = true;
      for (const k of keys) {
        const v = obj[k];
        if (v === undefined) continue;
        out += `${first ? '' : ','}${JSON.stringify(k)}:${stableStringify(v)}`;
        first = false;
      }
      return `${out}}`;
    }
    default:
      return 'null';
  }
}

/** Content hash of a mapped record: compared with the hash stored on the ExternalReference. */
export function contentHash(value: unknown): string {
  // One-shot hash: the same digest as createHash('sha1').update(text).digest('base64url'), without a Hash
  // object per record.
  return hash('sha1', stableStringify(value), 'base64url');
}

/** Idempotency key for an outbound write: the same job, record and content always give the same key. */
export function idempotencyKey(jobId: string, sourceId: string, hash: string): string {
  return `otesse-${createHash('sha256').update(`${jobId}\u0000${sourceId}\u0000${hash}`).digest('hex')}`;
}
