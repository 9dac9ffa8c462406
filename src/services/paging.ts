import { type Selectable, type SelectQueryBuilder, sql } from 'kysely';
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

/**
 * The keys cursors carry: `time` (a row's `created_at` as PostgreSQL prints it, and its uuid) or `serial`
 * (`at` empty, a bigserial id).
 */
export type CursorKind = 'time' | 'serial';

const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(\.\d{1,6})?(?:([+-])(\d{2})(?::?(\d{2}))?|Z)?$/;
const MAX_BIGINT = 9223372036854775807n;

/** A timestamp PostgreSQL accepts as `timestamptz`: a real calendar date and time, an offset within ±15:59. */
function isTimestamp(text: string): boolean {
  const m = TIMESTAMP.exec(text);
  if (!m) return false;
  const [year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0] = m.slice(1, 7).map(Number);
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysInMonth) return false;
  if (hour > 23 || minute > 59 || second > 59) return false;
  if (m[8] !== undefined && (Number(m[9]) > 15 || Number(m[10] ?? 0) > 59)) return false;
  return true;
}

/** A positive bigserial id: digits, within PostgreSQL's bigint. */
function isSerial(text: string): boolean {
  return /^\d{1,19}$/.test(text) && BigInt(text) <= MAX_BIGINT;
}

/**
 * Reads a cursor made by `toPage`. Its values are checked as the database will read them (a real date, an
 * id within bigint), so a forged cursor is a `ValidationError` at `cursor`, never a database error. With
 * `kind`, a cursor of the other kind (from another list) is refused too.
 */
export function decodeCursor(cursor: string | null | undefined, kind?: CursorKind): { at: string; id: string } | null {
  if (cursor === undefined || cursor === null || cursor === '') return null;
  try {
    const [at, id, ...rest] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (typeof at === 'string' && typeof id === 'string' && rest.length === 0) {
      const found: CursorKind | null =
        at === '' ? (isSerial(id) ? 'serial' : null) : isUuid(id) && isTimestamp(at) ? 'time' : null;
      if (found !== null && (kind === undefined || kind === found)) return { at, id };
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

/**
 * A name search (`q`) as an ILIKE pattern matching names that contain it, case-insensitively; null for no
 * search (absent or blank). `%`, `_` and `\` in the search are literal characters, not wildcards.
 */
export function containsPattern(q: string | null | undefined): string | null {
  const text = q?.trim();
  if (!text) return null;
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** A page request as read: its size and where it starts (null: at the first row). */
export interface CreationPage {
  limit: number;
  after: { at: string; id: string } | null;
}

/**
 * Reads a page request of a creation-order list; a bad `limit` or a cursor that is not a creation-order one is a
 * ValidationError, before any query.
 */
export function checkPage(options: PageOptions): CreationPage {
  return { limit: pageLimit(options.limit), after: decodeCursor(options.cursor, 'time') };
}

/**
 * One keyset page of a table's rows in creation order (created_at, then id): `matching` is the table's query
 * with its filters and nothing selected yet; `page` the request as `checkPage` read it; `order` is `asc` (oldest
 * first) or `desc` (newest first). One query, `limit + 1` rows. `map` makes each row an item; the cursor carries
 * the last item's created_at and id.
 */
export async function pageByCreation<DB, TB extends keyof DB, T>(
  matching: SelectQueryBuilder<DB, TB, object>,
  { limit, after }: CreationPage,
  order: 'asc' | 'desc',
  map: (row: Selectable<DB[TB]>) => T,
): Promise<Page<T>> {
  let q = matching
    .selectAll()
    .select([sql<string>`created_at::text`.as('cursor_at'), sql<string>`id::text`.as('cursor_id')]);
  if (after) {
    const key = sql`(${after.at}::timestamptz, ${after.id}::uuid)`;
    q = q.where(order === 'asc' ? sql<boolean>`(created_at, id) > ${key}` : sql<boolean>`(created_at, id) < ${key}`);
  }
  const direction = order === 'asc' ? sql`asc` : sql`desc`;
  const rows = await q
    .orderBy(sql`created_at ${direction}`)
    .orderBy(sql`id ${direction}`)
    .limit(limit + 1)
    .execute();
  return toPage(
    rows as unknown as (Selectable<DB[TB]> & { cursor_at: string; cursor_id: string })[],
    limit,
    map,
    (r) => ({ at: r.cursor_at, id: r.cursor_id }),
  );
}

/** How many rows `matching` (a table's query with its filters, nothing selected) finds. */
export async function countOf<DB, TB extends keyof DB>(matching: SelectQueryBuilder<DB, TB, object>): Promise<number> {
  const row = await matching.select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow();
  return Number((row as { n: number }).n);
}
