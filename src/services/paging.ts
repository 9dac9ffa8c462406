import { ValidationError } from '../domain/errors.ts';

/** Ids are uuids: anything else cannot name a row (and is answered as not found, never sent to SQL). */
export const isUuid = (s: string) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s);

/** One record's row plus its job; convenience for list views. */
export interface ListOptions {
  limit?: number;
}

/** Keyset pagination: pass a page's `nextCursor` back as `cursor` for the next page; null at the end. */
export interface PageOptions {
  limit?: number;
  cursor?: string | null;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export function pageLimit(limit: number | undefined): number {
  if (limit === undefined) return 50;
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) {
    throw new ValidationError([{ path: 'limit', message: 'must be an integer between 1 and 500' }]);
  }
  return limit;
}

/** Cursors are opaque to callers: base64url of the last row's sort key. */
function encodeCursor(key: { at: string; id: string }): string {
  return Buffer.from(JSON.stringify([key.at, key.id])).toString('base64url');
}

export function decodeCursor(cursor: string | null | undefined): { at: string; id: string } | null {
  if (cursor === undefined || cursor === null || cursor === '') return null;
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (typeof at === 'string' && typeof id === 'string' && (at === '' ? /^\d+$/.test(id) : isUuid(id))) {
      if (at === '' || /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}(:?\d{2})?|Z)?$/.test(at)) {
        return { at, id };
      }
    }
  } catch {
    // reported below
  }
  throw new ValidationError([{ path: 'cursor', message: 'is not a cursor returned by this API' }]);
}

/** A page of `limit` rows out of `limit + 1` read: the extra row only says there is a next page. */
export function toPage<R, T>(
  rows: R[],
  limit: number,
  map: (row: R) => T,
  key: (row: R) => { at: string; id: string },
): Page<T> {
  const more = rows.length > limit;
  const page = more ? rows.slice(0, limit) : rows;
  return { items: page.map(map), nextCursor: more ? encodeCursor(key(page[page.length - 1]!)) : null };
}
