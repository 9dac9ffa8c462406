/**
 * Reading an unknown JSON API's answer the way a person would, to propose the REST connector's settings: where
 * the records sit (`recordsPath`), which field is their id and which their change time, and how the API pages.
 * Pure functions over a parsed response body (and its headers): the connection builder (`builder.ts`) runs them on
 * the first page it reads. Every guess is a proposal shown to the user, never applied silently.
 */
import { atPath, nextLinkFromHeader } from '../http/pagination.ts';

/** How deep into a response body the search goes (records under `response.data.items` are 3 levels down). */
const MAX_DEPTH = 4;
/** Records looked at per guess: enough to see a field's values vary, bounded for huge pages. */
const SAMPLE = 50;

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** An array of objects found in a body: its dot path ('' = the body itself) and length. */
export interface ArrayFound {
  path: string;
  length: number;
}

/** Names that usually hold the records, for telling apart lists of equal length (empty pages included). */
const RECORD_NAMES = ['data', 'items', 'results', 'records', 'entries', 'rows', 'list', 'values', 'objects', 'nodes'];

/**
 * Every array of objects in `body` (an empty array counts: a page may be empty), largest first, then the
 * shallowest, then the usual record names. Keys holding a dot are skipped: a dot path could not name them.
 */
export function arraysOfObjects(body: unknown): ArrayFound[] {
  const found: (ArrayFound & { depth: number; named: boolean })[] = [];
  const walk = (value: unknown, path: string[], depth: number) => {
    if (Array.isArray(value)) {
      if (value.every(isObject)) {
        const last = path.at(-1) ?? '';
        found.push({ path: path.join('.'), length: value.length, depth, named: RECORD_NAMES.includes(last) });
      }
      return;
    }
    if (!isObject(value) || depth >= MAX_DEPTH) return;
    for (const [k, v] of Object.entries(value)) if (!k.includes('.') && k !== '') walk(v, [...path, k], depth + 1);
  };
  walk(body, [], 0);
  found.sort((a, b) => b.length - a.length || a.depth - b.depth || Number(b.named) - Number(a.named));
  return found.map(({ path, length }) => ({ path, length }));
}

/** The dot path of the largest array of objects in the body ('' when the body is one), or null when there is none. */
export function detectRecordsPath(body: unknown): string | null {
  return arraysOfObjects(body)[0]?.path ?? null;
}

/** "`items` (array of 25)", "the body (array of 3)": a list as problem texts name it. */
export function describeArray(a: ArrayFound): string {
  const where = a.path === '' ? 'the body itself' : `\`${a.path}\``;
  return `${where} (array of ${a.length})`;
}

/**
 * What a body holds, for a problem text that follows "the response has": its lists of objects, or else its
 * top-level keys, or its type.
 */
export function describeBody(body: unknown): string {
  const arrays = arraysOfObjects(body).slice(0, 3);
  if (arrays.length > 0) return arrays.map(describeArray).join(', ');
  if (Array.isArray(body)) return `no list of records (the body is an array of ${body.length} non-objects)`;
  if (isObject(body)) {
    const keys = Object.keys(body).slice(0, 8);
    return keys.length === 0
      ? 'no list of records (an empty object)'
      : `no list of records (keys: ${keys.map((k) => `\`${k}\``).join(', ')})`;
  }
  return `no list of records (it is ${body === null ? 'null' : `a ${typeof body}`})`;
}

const idLike = (v: unknown) => (typeof v === 'string' && v !== '') || (typeof v === 'number' && Number.isFinite(v));

/**
 * The field that identifies a record: `id`, then `uuid`, then a `*_id` / `*Id` field, then `key`; a candidate
 * must hold a string or number in every sampled record, each value different. Null when none qualifies.
 */
export function detectIdField(records: readonly unknown[]): string | null {
  const sample = records.filter(isObject).slice(0, SAMPLE);
  if (sample.length === 0) return null;
  const qualifies = (key: string) => {
    const values = sample.map((r) => r[key]);
    if (!values.every(idLike)) return false;
    return new Set(values.map(String)).size === values.length;
  };
  const keys = Object.keys(sample[0]!);
  const ordered = [
    ...keys.filter((k) => k === 'id'),
    ...keys.filter((k) => k.toLowerCase() === 'uuid'),
    ...keys.filter((k) => /_id$/i.test(k) || /[a-z]Id$/.test(k) || k === 'ID' || k === 'Id'),
    ...keys.filter((k) => k === 'key'),
  ];
  return ordered.find(qualifies) ?? null;
}

/** Change-time field names, lower-cased without `_` and `-`: `updated_at`, `lastModified`, `SystemModstamp`, … */
const UPDATED_NAMES = new Set([
  'updatedat',
  'updatedon',
  'updated',
  'updatedtime',
  'updateddate',
  'updatedtimestamp',
  'updatetime',
  'modified',
  'modifiedat',
  'modifiedon',
  'modifiedtime',
  'modifieddate',
  'datemodified',
  'dateupdated',
  'lastmodified',
  'lastmodifiedat',
  'lastmodifieddate',
  'lastmodifiedtime',
  'lastmodifieddatetime',
  'lastupdated',
  'lastupdatedat',
  'lastchanged',
  'changedat',
  'hslastmodifieddate',
  'systemmodstamp',
]);

/** Whether a field name reads as "when this record last changed". */
export function isUpdatedAtName(name: string): boolean {
  return UPDATED_NAMES.has(name.toLowerCase().replace(/[_-]/g, ''));
}

/** An ISO-like date string, or Unix seconds or milliseconds of this era (2001–2286). */
export function isDateLike(v: unknown): boolean {
  if (typeof v === 'number') return (v >= 1e9 && v < 1e10) || (v >= 1e12 && v < 1e13);
  if (typeof v !== 'string') return false;
  if (/^\d{9,13}$/.test(v)) return isDateLike(Number(v));
  return /^\d{4}-\d{2}-\d{2}/.test(v) && !Number.isNaN(Date.parse(v));
}

/**
 * The field that holds a record's change time: a change-time name (`updated_at`, `updatedAt`, `modified`,
 * `lastModified`, …) whose values are dates in most sampled records, at the top level or one object down
 * (`properties.hs_lastmodifieddate`). Null when none.
 */
export function detectUpdatedAtField(records: readonly unknown[]): string | null {
  const sample = records.filter(isObject).slice(0, SAMPLE);
  if (sample.length === 0) return null;
  const candidates: string[] = [];
  for (const [k, v] of Object.entries(sample[0]!)) {
    if (k.includes('.')) continue;
    if (isUpdatedAtName(k)) candidates.push(k);
    else if (isObject(v)) {
      for (const inner of Object.keys(v))
        if (!inner.includes('.') && isUpdatedAtName(inner)) candidates.push(`${k}.${inner}`);
    }
  }
  const dated = (path: string) => sample.filter((r) => isDateLike(atPath(r, path))).length;
  return candidates.find((path) => dated(path) * 2 > sample.length) ?? null;
}

/** The keys the other record fields have, for "they have `contact_id`, `email`, …" in problem texts. */
export function describeKeys(records: readonly unknown[], max = 6): string {
  const first = records.find(isObject);
  if (!first) return 'no fields';
  const keys = Object.keys(first);
  const shown = keys.slice(0, max).map((k) => `\`${k}\``);
  return keys.length > max ? `${shown.join(', ')}, …` : shown.join(', ');
}

// ── pagination ────────────────────────────────────────────────────────────────────────────────────────────

/** A pagination config of the REST connector (see its `pagination` setting). */
export type PaginationProposal =
  | {
      style: 'cursor';
      cursorParam: string;
      cursorPath?: string;
      cursorField?: string;
      hasMorePath?: string;
      limitParam?: string;
    }
  | { style: 'offset'; offsetParam: string; limitParam: string; totalPath?: string }
  | { style: 'page'; pageParam: string; limitParam: string; firstPage: number; totalPagesPath?: string }
  | { style: 'link'; limitParam?: string };

/**
 * Next-cursor field names → the query parameter APIs usually take it back in. `strong` names mean a cursor
 * even when null (the last page); the others only with a value.
 */
const CURSOR_FIELDS: { name: string; param: string; strong: boolean }[] = [
  { name: 'next_cursor', param: 'cursor', strong: true },
  { name: 'nextCursor', param: 'cursor', strong: true },
  { name: 'next_page_token', param: 'page_token', strong: true },
  { name: 'nextPageToken', param: 'pageToken', strong: true },
  { name: 'next_token', param: 'next_token', strong: true },
  { name: 'nextToken', param: 'nextToken', strong: true },
  { name: 'continuation_token', param: 'continuation_token', strong: true },
  { name: 'continuationToken', param: 'continuationToken', strong: true },
  { name: 'end_cursor', param: 'after', strong: false },
  { name: 'endCursor', param: 'after', strong: false },
  { name: 'after', param: 'after', strong: false },
  { name: 'cursor', param: 'cursor', strong: false },
  { name: 'next', param: 'cursor', strong: false },
];
/** Total-pages field names (page style) and total-count names (offset style). */
const TOTAL_PAGES_FIELDS = ['total_pages', 'totalPages', 'page_count', 'pageCount', 'last_page', 'lastPage', 'pages'];
const TOTAL_FIELDS = ['total', 'total_count', 'totalCount', 'total_results', 'totalResults', 'count'];
/** Objects that usually hold paging details. */
const PAGING_OBJECTS = ['meta', 'pagination', 'paging', 'page_info', 'pageInfo', 'response_metadata', 'links', 'page'];

/** Paths to look at for paging fields: the top level, then paging objects one or two levels down. */
function pagingPaths(body: Json, names: readonly string[]): string[] {
  const out: string[] = [];
  for (const n of names) out.push(n);
  for (const obj of PAGING_OBJECTS) {
    const inner = body[obj];
    if (!isObject(inner)) continue;
    for (const n of names) out.push(`${obj}.${n}`);
    // HubSpot: paging.next.after
    for (const [k, v] of Object.entries(inner)) if (isObject(v)) for (const n of names) out.push(`${obj}.${k}.${n}`);
  }
  return out;
}

const looksLikeUrl = (v: unknown) => typeof v === 'string' && /^(https?:\/\/|\/)/.test(v);

/** Where the next cursor sits in the body (a path to a token, not to a URL), with the parameter it goes back in. */
export function findCursorField(body: unknown): { path: string; param: string; value: unknown } | null {
  if (!isObject(body)) return null;
  for (const field of CURSOR_FIELDS) {
    for (const path of pagingPaths(body, [field.name])) {
      if (!Object.hasOwn(Object(atPath(body, path.split('.').slice(0, -1).join('.'))), field.name)) continue;
      const value = atPath(body, path);
      if (looksLikeUrl(value) || typeof value === 'boolean' || isObject(value) || Array.isArray(value)) continue;
      const hasValue = (typeof value === 'string' && value !== '') || typeof value === 'number';
      if (hasValue || (field.strong && (value === null || value === ''))) return { path, param: field.param, value };
    }
  }
  return null;
}

/** The first number found at one of `names` (top level or in a paging object). */
function findNumber(body: unknown, names: readonly string[]): { path: string; value: number } | null {
  if (!isObject(body)) return null;
  for (const path of pagingPaths(body, names)) {
    const v = atPath(body, path);
    if (typeof v === 'number' && Number.isFinite(v)) return { path, value: v };
  }
  return null;
}

const HAS_MORE_FIELDS = ['has_more', 'hasMore', 'hasNextPage', 'has_next_page', 'more'];

/** Where the body says whether more pages follow (`has_more`, `hasNextPage`, …: a boolean), or null. */
export function hasMoreField(body: unknown): string | null {
  if (!isObject(body)) return null;
  for (const path of pagingPaths(body, HAS_MORE_FIELDS)) if (typeof atPath(body, path) === 'boolean') return path;
  return null;
}

/** Whether the body says more pages follow (`has_more: true`, `hasNextPage`, `more`), or null when it does not say. */
export function saysMore(body: unknown): boolean | null {
  const path = hasMoreField(body);
  return path === null ? null : (atPath(body, path) as boolean);
}

export interface PaginationGuess {
  /** A pagination config that would page this API, or null when the answer does not show how. */
  pagination: PaginationProposal | null;
  /** Why not, or what to check, in words (e.g. has_more without a cursor). */
  hint: string | null;
  /** For page and offset styles: how many records or pages the answer says there are. */
  totalPages: number | null;
  total: number | null;
}

/**
 * How the API pages, from one answer: a `Link: <…>; rel="next"` header → link style; a next-cursor field →
 * cursor style; `has_more` without one → cursor style after the last record's id (Stripe); a total-pages field →
 * page style; a total with an `offset` → offset style. Names the current
 * config already uses (its limitParam, cursorParam, pageParam) are kept.
 */
export function detectPagination(
  body: unknown,
  headers: Headers | null,
  current: { style: string; limitParam?: string; cursorParam?: string; pageParam?: string; offsetParam?: string },
  /** The records' id field (detected or configured): what a Stripe-style cursor pages after. */
  idField: string | null = null,
): PaginationGuess {
  const limitParam = current.limitParam;
  const totalPages = findNumber(body, TOTAL_PAGES_FIELDS);
  const total = findNumber(body, TOTAL_FIELDS);
  const base = { hint: null, totalPages: totalPages?.value ?? null, total: total?.value ?? null };
  if (headers && nextLinkFromHeader(headers.get('link')) !== null) {
    return { ...base, pagination: { style: 'link', ...(limitParam ? { limitParam } : {}) } };
  }
  const cursor = findCursorField(body);
  if (cursor) {
    const cursorParam = current.style === 'cursor' && current.cursorParam ? current.cursorParam : cursor.param;
    return {
      ...base,
      pagination: { style: 'cursor', cursorParam, cursorPath: cursor.path, ...(limitParam ? { limitParam } : {}) },
    };
  }
  const hasMore = hasMoreField(body);
  if (hasMore) {
    // Stripe style: `?starting_after=<the last record's id>` while `has_more` is true.
    if (idField === null) {
      return {
        ...base,
        pagination: null,
        hint: `the response says whether more pages follow (\`${hasMore}\`) but carries no next cursor, and the records have no id field to page after`,
      };
    }
    const cursorParam = current.style === 'cursor' && current.cursorParam ? current.cursorParam : 'starting_after';
    return {
      ...base,
      pagination: {
        style: 'cursor',
        cursorParam,
        cursorField: idField,
        hasMorePath: hasMore,
        ...(limitParam ? { limitParam } : {}),
      },
    };
  }
  if (totalPages) {
    return {
      ...base,
      pagination: {
        style: 'page',
        pageParam: current.style === 'page' && current.pageParam ? current.pageParam : 'page',
        limitParam: limitParam ?? 'per_page',
        firstPage: 1,
        totalPagesPath: totalPages.path,
      },
    };
  }
  const offset = findNumber(body, ['offset', 'skip', 'start']);
  if (offset && total) {
    return {
      ...base,
      pagination: {
        style: 'offset',
        offsetParam:
          current.style === 'offset' && current.offsetParam ? current.offsetParam : offset.path.split('.').at(-1)!,
        limitParam: limitParam ?? 'limit',
        totalPath: total.path,
      },
    };
  }
  return { ...base, pagination: null };
}
