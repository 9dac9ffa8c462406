import { type ObjectSchema, type PropertyDefinition, parseDateValue } from './schema.ts';
import { type ObjectCollection, partitionPoint, type RecordVersion } from './store.ts';

/** HubSpot's documented search limits; the sandbox's defaults. */
export interface SearchLimits {
  /** Default: 5. */
  maxFilterGroups: number;
  /** Default: 6. */
  maxFiltersPerGroup: number;
  /** Default: 18. */
  maxFilters: number;
  /** Largest page. Default: 200. */
  maxLimit: number;
  /** Results reachable by paging (`after` at or past it is a 400). Default: 10,000. */
  maxResults: number;
}

export const DEFAULT_SEARCH_LIMITS: SearchLimits = {
  maxFilterGroups: 5,
  maxFiltersPerGroup: 6,
  maxFilters: 18,
  maxLimit: 200,
  maxResults: 10_000,
};

const OPERATORS = new Set([
  'EQ',
  'NEQ',
  'LT',
  'LTE',
  'GT',
  'GTE',
  'BETWEEN',
  'IN',
  'NOT_IN',
  'HAS_PROPERTY',
  'NOT_HAS_PROPERTY',
  'CONTAINS_TOKEN',
  'NOT_CONTAINS_TOKEN',
]);

interface Filter {
  propertyName: string;
  operator: string;
  value?: unknown;
  highValue?: unknown;
  values?: unknown[];
}

export type SearchResult =
  | { ok: true; total: number; results: RecordVersion[]; nextAfter: string | null; select: string[] | null }
  | { ok: false; message: string };

const fail = (message: string): SearchResult => ({ ok: false, message });

/** A compiled filter: a predicate, plus a key range when it bounds an indexed property. */
interface Compiled {
  test: (v: RecordVersion) => boolean;
  property: string;
  range?: { lo?: number; loInclusive: boolean; hi?: number; hiInclusive: boolean };
}

function typed(def: PropertyDefinition, raw: unknown): number | string {
  if (def.type === 'datetime') return parseDateValue(typeof raw === 'number' ? raw : String(raw));
  if (def.type === 'number') return Number(raw);
  return String(raw).toLowerCase();
}

function compile(schema: ObjectSchema, f: Filter): Compiled | string {
  if (!f || typeof f !== 'object' || typeof f.propertyName !== 'string') return 'filter needs a propertyName';
  const op = String(f.operator ?? 'EQ');
  if (!OPERATORS.has(op)) return `Unknown filter operator "${op}".`;
  const def = schema.properties.get(f.propertyName);
  if (!def) return `There was a problem with the request. Property "${f.propertyName}" does not exist.`;
  const name = f.propertyName;
  const read = (v: RecordVersion): string | undefined => v.properties[name];
  const typedValue = (v: RecordVersion): number | string | undefined => {
    const raw = read(v);
    return raw === undefined ? undefined : typed(def, raw);
  };
  const needValue = (raw: unknown): number | string | null => {
    if (raw === undefined || raw === null) return null;
    const t = typed(def, raw);
    return typeof t === 'number' && !Number.isFinite(t) ? null : t;
  };
  const cmp = (a: number | string, b: number | string) => (a < b ? -1 : a > b ? 1 : 0);
  switch (op) {
    case 'HAS_PROPERTY':
      return { property: name, test: (v) => (read(v) ?? '') !== '' };
    case 'NOT_HAS_PROPERTY':
      return { property: name, test: (v) => (read(v) ?? '') === '' };
    case 'IN':
    case 'NOT_IN': {
      if (!Array.isArray(f.values)) return `Operator ${op} needs "values".`;
      const set = new Set<number | string>();
      for (const raw of f.values) {
        const t = needValue(raw);
        if (t === null) return `Invalid value ${JSON.stringify(raw)} for ${name}.`;
        set.add(t);
      }
      return op === 'IN'
        ? { property: name, test: (v) => set.has(typedValue(v) as never) }
        : { property: name, test: (v) => !set.has(typedValue(v) as never) };
    }
    case 'CONTAINS_TOKEN':
    case 'NOT_CONTAINS_TOKEN': {
      if (f.value === undefined) return `Operator ${op} needs a "value".`;
      const pattern = String(f.value)
        .toLowerCase()
        .replace(/[.+?^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '.*');
      const re = new RegExp(`(^|[^a-z0-9])${pattern}($|[^a-z0-9])`);
      const has = (v: RecordVersion) => re.test((read(v) ?? '').toLowerCase());
      return op === 'CONTAINS_TOKEN' ? { property: name, test: has } : { property: name, test: (v) => !has(v) };
    }
    case 'BETWEEN': {
      const lo = needValue(f.value);
      const hi = needValue(f.highValue);
      if (lo === null || hi === null) return `Operator BETWEEN needs a valid "value" and "highValue" for ${name}.`;
      return {
        property: name,
        test: (v) => {
          const x = typedValue(v);
          return x !== undefined && cmp(x, lo) >= 0 && cmp(x, hi) <= 0;
        },
        range:
          typeof lo === 'number' && typeof hi === 'number'
            ? { lo, loInclusive: true, hi, hiInclusive: true }
            : undefined,
      };
    }
    default: {
      const target = needValue(f.value);
      if (target === null) return `Invalid value ${JSON.stringify(f.value)} for ${name} with operator ${op}.`;
      const test = (v: RecordVersion) => {
        const x = typedValue(v);
        if (x === undefined) return op === 'NEQ';
        const c = cmp(x, target);
        return op === 'EQ'
          ? c === 0
          : op === 'NEQ'
            ? c !== 0
            : op === 'LT'
              ? c < 0
              : op === 'LTE'
                ? c <= 0
                : op === 'GT'
                  ? c > 0
                  : c >= 0;
      };
      let range: Compiled['range'];
      if (typeof target === 'number' && op !== 'NEQ') {
        range =
          op === 'EQ'
            ? { lo: target, loInclusive: true, hi: target, hiInclusive: true }
            : op === 'GT' || op === 'GTE'
              ? { lo: target, loInclusive: op === 'GTE', hiInclusive: true }
              : { hi: target, hiInclusive: op === 'LTE', loInclusive: true };
      }
      return { property: name, test, range };
    }
  }
}

export interface SearchBody {
  filterGroups?: unknown;
  sorts?: unknown;
  properties?: unknown;
  limit?: unknown;
  after?: unknown;
  query?: unknown;
}

function parseSort(schema: ObjectSchema, sorts: unknown): { property: string; descending: boolean } | string {
  if (sorts === undefined || sorts === null) return { property: 'hs_object_id', descending: false };
  if (!Array.isArray(sorts)) return 'sorts must be an array';
  const first: unknown = sorts[0];
  if (first === undefined) return { property: 'hs_object_id', descending: false };
  let property: string;
  let descending = false;
  if (typeof first === 'string') {
    descending = first.startsWith('-');
    property = descending ? first.slice(1) : first;
  } else if (
    first &&
    typeof first === 'object' &&
    typeof (first as { propertyName?: unknown }).propertyName === 'string'
  ) {
    property = (first as { propertyName: string }).propertyName;
    const dir = String((first as { direction?: unknown }).direction ?? 'ASCENDING').toUpperCase();
    if (dir !== 'ASCENDING' && dir !== 'DESCENDING') return `Unknown sort direction "${dir}".`;
    descending = dir === 'DESCENDING';
  } else {
    return 'each sort needs a propertyName';
  }
  if (!schema.properties.has(property)) return `Sort property "${property}" does not exist.`;
  return { property, descending };
}

/**
 * Runs one search over the search index of `collection`. Sorting by the last-modified property or by
 * hs_object_id uses the index's sorted arrays, and a single filter group's range filters on that property
 * become a binary-searched slice, so the usual incremental query ("modified after X, ascending") costs
 * O(log n + page) however many records there are.
 */
export function runSearch(collection: ObjectCollection, body: SearchBody, limits: SearchLimits): SearchResult {
  const schema = collection.schema;
  const groupsRaw = body.filterGroups ?? [];
  if (!Array.isArray(groupsRaw)) return fail('filterGroups must be an array');
  if (groupsRaw.length > limits.maxFilterGroups) {
    return fail(
      `There were ${groupsRaw.length} filter groups, but only ${limits.maxFilterGroups} filter groups are allowed.`,
    );
  }
  let totalFilters = 0;
  const groups: Compiled[][] = [];
  for (const g of groupsRaw) {
    const filters: unknown = (g as { filters?: unknown } | null)?.filters ?? [];
    if (!Array.isArray(filters)) return fail('filterGroups[].filters must be an array');
    if (filters.length > limits.maxFiltersPerGroup) {
      return fail(
        `A filter group has ${filters.length} filters, but only ${limits.maxFiltersPerGroup} filters are allowed per group.`,
      );
    }
    totalFilters += filters.length;
    const compiled: Compiled[] = [];
    for (const f of filters) {
      const c = compile(schema, f as Filter);
      if (typeof c === 'string') return fail(c);
      compiled.push(c);
    }
    groups.push(compiled);
  }
  if (totalFilters > limits.maxFilters) {
    return fail(`There were ${totalFilters} filters, but only ${limits.maxFilters} filters are allowed in total.`);
  }

  const limit = body.limit === undefined || body.limit === null ? 10 : Number(body.limit);
  if (!Number.isInteger(limit) || limit < 1) return fail('limit must be a positive integer');
  if (limit > limits.maxLimit) return fail(`limit must be at most ${limits.maxLimit}, got ${limit}`);
  const afterRaw = body.after === undefined || body.after === null || body.after === '' ? '0' : String(body.after);
  if (!/^\d+$/.test(afterRaw)) return fail(`Invalid after value "${afterRaw}".`);
  const offset = Number(afterRaw);
  if (offset >= limits.maxResults) {
    return fail(
      `There was a problem with the request. The search endpoints are limited to ${limits.maxResults} results; cannot page past result ${limits.maxResults} (after=${offset}).`,
    );
  }
  let select: string[] | null = null;
  if (body.properties !== undefined && body.properties !== null) {
    if (!Array.isArray(body.properties) || body.properties.some((p) => typeof p !== 'string')) {
      return fail('properties must be an array of strings');
    }
    select = body.properties as string[];
  }
  const sort = parseSort(schema, body.sorts);
  if (typeof sort === 'string') return fail(sort);

  const predicates: ((v: RecordVersion) => boolean)[] = [];
  if (typeof body.query === 'string' && body.query.trim() !== '') {
    const q = body.query.trim().toLowerCase();
    predicates.push((v) => schema.queryProperties.some((p) => (v.properties[p] ?? '').toLowerCase().includes(q)));
  }

  // Choose the sorted array: by last-modified or by id; any other sort sorts the matches.
  const lastMod = schema.lastModifiedProperty;
  const indexed = sort.property === lastMod || sort.property === 'hs_object_id';
  const arr = sort.property === lastMod ? collection.indexByMod : collection.indexByNum;
  const keyOf: (v: RecordVersion) => number = sort.property === lastMod ? (v) => v.updatedAt : (v) => v.num;
  let lo = 0;
  let hi = arr.length;
  if (groups.length === 1 && indexed) {
    const residual: Compiled[] = [];
    for (const c of groups[0]!) {
      if (c.property !== sort.property || !c.range) {
        residual.push(c);
        continue;
      }
      const r = c.range;
      if (r.lo !== undefined) {
        const bound = r.lo;
        const from = partitionPoint(arr, r.loInclusive ? (v) => keyOf(v) < bound : (v) => keyOf(v) <= bound, lo, hi);
        lo = Math.max(lo, from);
      }
      if (r.hi !== undefined) {
        const bound = r.hi;
        const to = partitionPoint(arr, r.hiInclusive ? (v) => keyOf(v) <= bound : (v) => keyOf(v) < bound, lo, hi);
        hi = Math.min(hi, to);
      }
    }
    if (residual.length > 0) predicates.push((v) => residual.every((c) => c.test(v)));
  } else if (groups.length > 0) {
    predicates.push((v) => groups.some((g) => g.every((c) => c.test(v))));
  }
  if (hi < lo) hi = lo;
  const matches = (v: RecordVersion) => predicates.every((p) => p(v));

  let total: number;
  let results: RecordVersion[];
  if (!indexed) {
    const all: RecordVersion[] = [];
    for (let i = lo; i < hi; i++) if (matches(arr[i]!)) all.push(arr[i]!);
    const def = schema.properties.get(sort.property)!;
    const dir = sort.descending ? -1 : 1;
    all.sort((a, b) => {
      const x = a.properties[sort.property];
      const y = b.properties[sort.property];
      // Records without a value sort last whatever the direction.
      if (x === undefined || y === undefined) return x === y ? a.num - b.num : x === undefined ? 1 : -1;
      const tx = typed(def, x);
      const ty = typed(def, y);
      return (tx < ty ? -dir : tx > ty ? dir : 0) || a.num - b.num;
    });
    total = all.length;
    results = all.slice(offset, offset + limit);
  } else if (predicates.length === 0) {
    total = hi - lo;
    results = [];
    for (let k = offset; k < Math.min(total, offset + limit); k++) {
      results.push(arr[sort.descending ? hi - 1 - k : lo + k]!);
    }
  } else {
    total = 0;
    results = [];
    const step = sort.descending ? -1 : 1;
    for (let i = sort.descending ? hi - 1 : lo; i >= lo && i < hi; i += step) {
      const v = arr[i]!;
      if (!matches(v)) continue;
      if (total >= offset && results.length < limit) results.push(v);
      total++;
    }
  }
  const next = offset + limit;
  return { ok: true, total, results, nextAfter: next < total ? String(next) : null, select };
}
