/**
 * OpenAPI import: proposes a REST connection (base URL, auth, entity types) from an OpenAPI 3.x document, so a user
 * starts from the API's own description rather than from an empty JSON box.
 *
 * The document is parsed here (JSON, or YAML with the `yaml` library: errors name the line), then checked and
 * dereferenced with `@scalar/openapi-parser` (maintained, ESM-native, and it never reads files or URLs itself: an
 * external `$ref` is reported, not fetched, so nothing leaves this server but the one fetch of `url`, which goes
 * through the outbound guard). Each proposed entity type passes the connector's own entity schema.
 *
 * Collections are GET paths without path parameters whose success answer is a list, or an object holding one;
 * `/things/{thing_id}` next to `/things` gives getPath/update/delete (the parameter renamed `{id}`), a POST on the
 * collection gives create. Pagination comes from the query parameters (cursor, page or offset, and the limit).
 */
import { z } from 'zod';
import { ProviderError, ValidationError } from '../../domain/errors.ts';
import { parseInput } from '../../domain/validate.ts';
import { isUpdatedAtName, type PaginationProposal } from './detect.ts';
import { restEntitySchema } from './index.ts';

/** Longest wait for a document at a URL. */
export const OPENAPI_FETCH_TIMEOUT_MS = 15_000;
/** Deepest nesting of a JSON document read (schemas nest deeper than API bodies). */
const MAX_DOCUMENT_DEPTH = 200;
/** Entity types proposed at most (large APIs have a few hundred collections). */
const MAX_ENTITIES = 500;
/** Fields listed per entity at most. */
const MAX_FIELDS = 200;

export const openApiImportInput = z
  .strictObject({
    /** The document's text, JSON or YAML. */
    document: z.string().min(1).optional(),
    /** Where to fetch it (through the outbound guard). */
    url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  })
  .superRefine((v, ctx) => {
    if ((v.document === undefined) === (v.url === undefined)) {
      ctx.addIssue({ code: 'custom', path: [], message: 'give exactly one of document (the text) or url' });
    }
  });

type FieldType = 'string' | 'number' | 'boolean' | 'datetime' | 'object' | 'array';

export interface ProposedEntity {
  name: string;
  listPath: string;
  recordsPath: string;
  idField: string;
  updatedAtField?: string;
  pagination: PaginationProposal;
  incremental?: { param: string; format: 'iso' | 'unix' };
  getPath?: string;
  create?: { method: 'POST'; path: string; idPath: string; idempotencyHeader?: string };
  update?: { method: 'PATCH' | 'PUT'; path: string };
  delete?: { method: 'DELETE'; path: string };
  fields?: { name: string; type: FieldType; required: boolean }[];
  /** Guesses to check, in words. */
  notes: string[];
}

export interface OpenApiImport {
  title: string;
  /** `servers[0].url` (variables filled with their defaults); null when absent or not an absolute http(s) URL. */
  baseUrl: string | null;
  /** The connector's auth config the security schemes map onto, or null. */
  auth: { type: 'none' | 'bearer' | 'basic' } | { type: 'header' | 'query'; name: string } | null;
  entities: ProposedEntity[];
  warnings: string[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Imports an OpenAPI 3.x document given as text or fetched from `url` with `fetch` (the server's guarded fetch).
 * Throws ValidationError (→ 400) for input that cannot be imported: not JSON or YAML (with the line), not OpenAPI
 * 3.x, no paths, a URL that cannot be fetched.
 */
export async function importOpenApi(input: unknown, options: { fetch: typeof fetch }): Promise<OpenApiImport> {
  const { document, url } = parseInput(openApiImportInput, input);
  const source = url === undefined ? 'document' : 'url';
  const text = document ?? (await fetchDocument(url!, options.fetch));
  // The parsers load with the first import, not with the server: few processes ever import a document.
  const [{ dereference }, yaml] = await Promise.all([import('@scalar/openapi-parser'), import('yaml')]);
  const raw = parseText(text, source, yaml);
  checkVersion(raw, source);
  const warnings: string[] = [];

  // References resolved (internal ones only: nothing is fetched). Full schema validation is left out on purpose:
  // it took seconds on large documents and only produced warnings; what matters is checked above and below.
  const derefd = dereference(raw);
  for (const e of (derefd.errors ?? []).slice(0, 5))
    warnings.push(`${e.message} (only references inside the document are followed; what it describes is left out)`);
  const doc = isObj(derefd.schema) ? derefd.schema : raw;

  const title = isObj(doc.info) && typeof doc.info.title === 'string' ? doc.info.title : 'Untitled API';
  const baseUrl = serverUrl(doc, url ?? null, warnings);
  const auth = proposeAuth(doc, warnings);
  const entities = proposeEntities(doc.paths as Obj, warnings);
  if (entities.length === 0) {
    warnings.push('no collection endpoints found (GET paths without path parameters whose answer is a list)');
  }
  return { title, baseUrl, auth, entities, warnings };
}

// ── reading the document ──────────────────────────────────────────────────────────────────────────────────

async function fetchDocument(url: string, fetchFn: typeof fetch): Promise<string> {
  const refuse = (message: string): never => {
    throw new ValidationError([{ path: 'url', message }]);
  };
  let res: Response;
  try {
    res = await fetchFn(url, {
      headers: { accept: 'application/json, application/yaml, text/yaml, */*;q=0.5' },
      signal: AbortSignal.timeout(OPENAPI_FETCH_TIMEOUT_MS),
    });
  } catch (err) {
    if (err instanceof ProviderError) return refuse(`could not be fetched: ${err.message}`);
    const name = err instanceof Error ? err.name : '';
    if (name === 'TimeoutError' || name === 'AbortError') {
      return refuse(`could not be fetched: no answer within ${OPENAPI_FETCH_TIMEOUT_MS / 1000} s`);
    }
    return refuse(`could not be fetched: ${networkReason(err)}`);
  }
  let text: string;
  try {
    text = await res.text();
  } catch (err) {
    return refuse(`could not be read: ${err instanceof ProviderError ? err.message : networkReason(err)}`);
  }
  if (res.status < 200 || res.status >= 300) return refuse(`could not be fetched: HTTP ${res.status}`);
  if (text.trim() === '') return refuse('answered an empty document');
  return text;
}

function networkReason(err: unknown): string {
  let cur: unknown = err;
  for (let depth = 0; depth < 5 && typeof cur === 'object' && cur !== null; depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return `could not connect (${code})`;
    cur = (cur as { cause?: unknown }).cause;
  }
  return err instanceof Error ? err.message : String(err);
}

/** JSON (when it starts with `{` or `[`) or YAML; errors name the line and column. */
function parseText(input: string, source: string, yaml: typeof import('yaml')): Obj {
  const fail = (message: string): never => {
    throw new ValidationError([{ path: source, message }]);
  };
  const text = input.replace(/^\uFEFF/, '');
  let value: unknown;
  if (/^\s*[{[]/.test(text)) {
    if (jsonDepthOver(text, MAX_DOCUMENT_DEPTH)) fail(`is nested more than ${MAX_DOCUMENT_DEPTH} levels deep`);
    try {
      value = JSON.parse(text);
    } catch (err) {
      fail(`is not valid JSON: ${jsonErrorAt(text, err)}`);
    }
  } else {
    try {
      value = yaml.parse(text, { maxAliasCount: 100, prettyErrors: true });
    } catch (err) {
      if (err instanceof yaml.YAMLParseError) {
        const pos = err.linePos?.[0];
        const what = err.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
        fail(`is not valid JSON or YAML: ${pos ? `line ${pos.line}, column ${pos.col}: ` : ''}${what}`);
      }
      fail(`is not valid JSON or YAML: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (!isObj(value)) {
    const what = Array.isArray(value)
      ? 'a list'
      : value === null
        ? 'empty'
        : `plain ${typeof value === 'string' ? 'text' : typeof value}`;
    fail(`is not an OpenAPI document: it is ${what}, not a JSON or YAML object`);
  }
  return value as Obj;
}

/** Whether brackets nest deeper than `max` outside strings (JSON.parse would recurse that deep). */
function jsonDepthOver(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/** "line 3, column 7: Unexpected token …" from a JSON.parse error (its position, when it gives one). */
function jsonErrorAt(text: string, err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const lineCol = /\(line (\d+) column (\d+)\)/.exec(message);
  const cleaned = message.replace(/,? ?"[^"]{20,}"\.{3}.*$/, '').replace(/\s*\(line \d+ column \d+\)/, '');
  if (lineCol) return `line ${lineCol[1]}, column ${lineCol[2]}: ${cleaned}`;
  const at = /at position (\d+)/.exec(message);
  if (!at) return cleaned;
  const before = text.slice(0, Number(at[1]));
  const line = before.split('\n').length;
  const col = Number(at[1]) - before.lastIndexOf('\n');
  return `line ${line}, column ${col}: ${cleaned.replace(/\s*in JSON at position \d+.*$/, '')}`;
}

function checkVersion(doc: Obj, source: string): void {
  const fail = (message: string): never => {
    throw new ValidationError([{ path: source, message }]);
  };
  if (typeof doc.swagger === 'string' || typeof doc.swagger === 'number') {
    fail(
      `is Swagger ${String(doc.swagger)}: only OpenAPI 3.x documents can be imported (convert it first, e.g. with swagger2openapi or the Swagger Editor)`,
    );
  }
  if (doc.openapi === undefined) fail('is not an OpenAPI document: it has no `openapi` version field');
  if (typeof doc.openapi !== 'string' || !/^3\.\d+(\.\d+)?/.test(doc.openapi)) {
    fail(`is OpenAPI ${JSON.stringify(doc.openapi)}: only OpenAPI 3.x documents can be imported`);
  }
  if (!isObj(doc.paths) || Object.keys(doc.paths).length === 0) {
    fail('has no paths: there is nothing to import (the document must list its endpoints under `paths`)');
  }
}

// ── base URL and auth ─────────────────────────────────────────────────────────────────────────────────────

function serverUrl(doc: Obj, fetchedFrom: string | null, warnings: string[]): string | null {
  const server = Array.isArray(doc.servers) ? doc.servers.find(isObj) : undefined;
  if (!server || typeof server.url !== 'string' || server.url === '') {
    warnings.push('the document names no server (servers[0].url): fill in the base URL');
    return null;
  }
  let url = server.url;
  const vars = isObj(server.variables) ? server.variables : {};
  url = url.replace(/\{([^}]+)\}/g, (whole, name: string) => {
    const v = vars[name];
    return isObj(v) && typeof v.default === 'string' ? v.default : whole;
  });
  if (url.includes('{')) {
    warnings.push(`the server URL ${server.url} has variables without defaults: fill in the base URL`);
    return null;
  }
  try {
    const absolute = fetchedFrom ? new URL(url, fetchedFrom) : new URL(url);
    if (absolute.protocol !== 'https:' && absolute.protocol !== 'http:') throw new Error('not http');
    return absolute.href.replace(/\/$/, '');
  } catch {
    warnings.push(`the server URL ${server.url} is not an absolute http(s) URL: fill in the base URL`);
    return null;
  }
}

function proposeAuth(doc: Obj, warnings: string[]): OpenApiImport['auth'] {
  const components = isObj(doc.components) ? doc.components : {};
  const schemes = isObj(components.securitySchemes) ? components.securitySchemes : {};
  // The schemes the document requires first (global security), then the others it declares.
  const required = (Array.isArray(doc.security) ? doc.security : []).filter(isObj).flatMap((r) => Object.keys(r));
  const names = [...new Set([...required, ...Object.keys(schemes)])];
  if (names.length === 0) return null;
  const skipped: string[] = [];
  for (const name of names) {
    const s = schemes[name];
    if (!isObj(s)) continue;
    const scheme = typeof s.scheme === 'string' ? s.scheme.toLowerCase() : '';
    if (s.type === 'http' && scheme === 'bearer') return { type: 'bearer' };
    if (s.type === 'http' && scheme === 'basic') return { type: 'basic' };
    if (s.type === 'apiKey' && typeof s.name === 'string' && (s.in === 'header' || s.in === 'query')) {
      return { type: s.in, name: s.name };
    }
    if (s.type === 'oauth2' || s.type === 'openIdConnect') {
      warnings.push(
        `security scheme "${name}" is ${s.type}: proposed bearer auth; get an access token from the API and enter it as the token (the connector does not run the OAuth flow)`,
      );
      return { type: 'bearer' };
    }
    skipped.push(`"${name}" (${String(s.type)}${s.in ? ` in ${String(s.in)}` : ''})`);
  }
  warnings.push(
    `no security scheme maps onto the connector's auth types (bearer, basic, header, query): ${skipped.join(', ')}`,
  );
  return null;
}

// ── schemas ───────────────────────────────────────────────────────────────────────────────────────────────

/** Flattened schemas by identity: a dereferenced document shares one object per `$ref` target. */
const flattened = new WeakMap<Obj, Obj>();

/** A schema with `allOf` merged and the first object-ish `oneOf`/`anyOf` option taken (cycles stop at depth 8). */
function flat(schema: unknown, depth = 0): Obj {
  if (!isObj(schema) || depth > 8) return {};
  const known = flattened.get(schema);
  if (known) return known;
  const out = flatten(schema, depth);
  flattened.set(schema, out);
  return out;
}

function flatten(schema: Obj, depth: number): Obj {
  let out: Obj = { ...schema };
  if (Array.isArray(schema.allOf)) {
    const parts = schema.allOf.map((p) => flat(p, depth + 1));
    const properties: Obj = {};
    const required: string[] = [];
    for (const p of [schema, ...parts]) {
      if (isObj(p.properties)) Object.assign(properties, p.properties);
      if (Array.isArray(p.required)) required.push(...p.required.filter((r): r is string => typeof r === 'string'));
    }
    out = { ...Object.assign({}, ...parts), ...out, properties, required };
    delete out.allOf;
  }
  for (const key of ['oneOf', 'anyOf'] as const) {
    const options = out[key];
    if (Array.isArray(options) && out.properties === undefined && out.items === undefined) {
      const pick = options.map((o) => flat(o, depth + 1)).find((o) => typeOf(o) !== 'null');
      if (pick) out = { ...pick, ...Object.fromEntries(Object.entries(out).filter(([k]) => k !== key)) };
    }
  }
  return out;
}

/** The schema's one non-null type (`type: [string, null]` → string), inferred from properties/items when absent. */
function typeOf(schema: Obj): string | null {
  const t = schema.type;
  if (typeof t === 'string') return t;
  if (Array.isArray(t)) {
    const types = t.filter((x) => x !== 'null');
    return types.length === 1 ? String(types[0]) : types.length === 0 ? 'null' : null;
  }
  if (isObj(schema.properties)) return 'object';
  if (schema.items !== undefined) return 'array';
  return null;
}

const props = (schema: Obj): Obj => (isObj(schema.properties) ? schema.properties : {});

/** The JSON schema of an operation's success answer (200, 201, another 2xx, `2XX`, `default`), or null. */
function successSchema(op: Obj): Obj | null {
  const responses = isObj(op.responses) ? op.responses : {};
  const codes = Object.keys(responses);
  const order = ['200', '201', ...codes.filter((c) => /^2\d\d$/.test(c)), '2XX', '2xx', 'default'];
  for (const code of order) {
    const r = responses[code];
    if (!isObj(r) || !isObj(r.content)) continue;
    const types = Object.keys(r.content);
    const json = types.find((t) => /^application\/json/i.test(t)) ?? types.find((t) => /json/i.test(t));
    const media = json ? r.content[json] : undefined;
    if (isObj(media) && isObj(media.schema)) return flat(media.schema);
  }
  return null;
}

/** Whether a success answer declares a `Link` header (link pagination). */
function declaresLinkHeader(op: Obj): boolean {
  const responses = isObj(op.responses) ? op.responses : {};
  return Object.entries(responses).some(
    ([code, r]) =>
      /^2/.test(code) && isObj(r) && isObj(r.headers) && Object.keys(r.headers).some((h) => h.toLowerCase() === 'link'),
  );
}

const RECORD_NAMES = ['data', 'items', 'results', 'records', 'entries', 'rows', 'list', 'values', 'objects', 'nodes'];
const isObjectSchema = (s: Obj) => typeOf(s) === 'object';

/** Where the records sit in a list answer: '' for an array body, else the dot path of an array of objects. */
function recordsIn(schema: Obj): { path: string; item: Obj } | null {
  if (typeOf(schema) === 'array') {
    const item = flat(schema.items);
    return isObjectSchema(item) || Object.keys(item).length === 0 ? { path: '', item } : null;
  }
  if (typeOf(schema) !== 'object') return null;
  const found: { path: string; item: Obj; named: boolean; depth: number }[] = [];
  const walk = (s: Obj, path: string[], depth: number) => {
    for (const [k, v] of Object.entries(props(s))) {
      if (k.includes('.')) continue;
      const child = flat(v);
      if (typeOf(child) === 'array') {
        const item = flat(child.items);
        if (isObjectSchema(item))
          found.push({ path: [...path, k].join('.'), item, named: RECORD_NAMES.includes(k), depth });
      } else if (typeOf(child) === 'object' && depth < 2) walk(child, [...path, k], depth + 1);
    }
  };
  walk(schema, [], 0);
  found.sort((a, b) => Number(b.named) - Number(a.named) || a.depth - b.depth);
  return found[0] ?? null;
}

/**
 * The dot path of the first property named one of `names` (in that order of preference), at the top level, then one
 * and two objects down (`meta.next_cursor`, `paging.next.after`); `skip` is a path not to return (the records).
 */
function findProperty(schema: Obj, names: readonly string[], skip = ''): string | null {
  let level: { s: Obj; path: string[] }[] = [{ s: schema, path: [] }];
  for (let depth = 0; depth < 3 && level.length > 0; depth++) {
    for (const name of names) {
      for (const { s, path } of level) {
        const at = [...path, name].join('.');
        if (Object.hasOwn(props(s), name) && at !== skip) return at;
      }
    }
    const children: { s: Obj; path: string[] }[] = [];
    for (const { s, path } of level) {
      for (const [k, v] of Object.entries(props(s))) {
        const child = flat(v);
        if (typeOf(child) === 'object' && !k.includes('.')) children.push({ s: child, path: [...path, k] });
      }
    }
    level = children;
  }
  return null;
}

// ── entities ──────────────────────────────────────────────────────────────────────────────────────────────

const norm = (name: string) => name.toLowerCase().replace(/[^a-z0-9]/g, '');
const CURSOR_PARAMS = new Set([
  'cursor',
  'startingafter',
  'after',
  'pagetoken',
  'nexttoken',
  'nextcursor',
  'continuationtoken',
  'continuation',
  'pagecursor',
  'pageafter',
]);
const PAGE_PARAMS = new Set(['page', 'pagenumber', 'pagenum', 'pageno', 'pageindex']);
const OFFSET_PARAMS = new Set(['offset', 'skip', 'start', 'startindex', 'pageoffset']);
const LIMIT_PARAMS = new Set([
  'limit',
  'perpage',
  'pagesize',
  'size',
  'count',
  'maxresults',
  'pagelimit',
  'take',
  'max',
]);
const SINCE_PARAMS = new Set([
  'updatedsince',
  'updatedafter',
  'updatedfrom',
  'updatedatgte',
  'updatedatfrom',
  'updatedatafter',
  'modifiedsince',
  'modifiedafter',
  'lastmodifiedsince',
  'changedsince',
  'changedafter',
  'since',
]);
const CURSOR_FIELDS = [
  'next_cursor',
  'nextCursor',
  'next_page_token',
  'nextPageToken',
  'next_token',
  'nextToken',
  'continuation_token',
  'continuationToken',
  'end_cursor',
  'endCursor',
  'after',
  'cursor',
];
const TOTAL_PAGES_FIELDS = ['total_pages', 'totalPages', 'page_count', 'pageCount', 'last_page', 'lastPage', 'pages'];
const TOTAL_FIELDS = ['total', 'total_count', 'totalCount', 'total_results', 'totalResults', 'count'];

interface Param {
  name: string;
  in: string;
  schema: Obj;
}

/** An operation's parameters, path-level ones included (the operation's win by name and place). */
function paramsOf(item: Obj, op: Obj): Param[] {
  const byKey = new Map<string, Param>();
  for (const list of [item.parameters, op.parameters]) {
    if (!Array.isArray(list)) continue;
    for (const p of list) {
      if (!isObj(p) || typeof p.name !== 'string' || typeof p.in !== 'string') continue;
      byKey.set(`${p.in}:${p.name}`, { name: p.name, in: p.in, schema: flat(p.schema) });
    }
  }
  return [...byKey.values()];
}

/** `/v1/things/{thing_id}` → `{ parent: '/v1/things', param: 'thing_id' }` when only the last segment is a parameter. */
function itemPathOf(path: string): { parent: string; param: string } | null {
  const m = /^(.*)\/\{([^}/]+)\}\/?$/.exec(path);
  if (!m || m[1]!.includes('{') || m[1] === '') return null;
  return { parent: m[1]!, param: m[2]! };
}

function entityName(path: string, taken: Set<string>): string | null {
  const segments = path.split('/').filter((s) => s !== '' && !s.includes('{'));
  const clean = (s: string) =>
    s
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '_')
      .replace(/^_+|_+$/g, '');
  const last = clean(segments.at(-1) ?? '');
  if (last === '') return null;
  const base = /^[a-z]/.test(last) ? last : `e_${last}`;
  if (!taken.has(base)) return base;
  const longer = clean(segments.join('_'));
  const candidate = /^[a-z]/.test(longer) ? longer : `e_${longer}`;
  if (!taken.has(candidate)) return candidate;
  for (let i = 2; ; i++) if (!taken.has(`${base}_${i}`)) return `${base}_${i}`;
}

function fieldType(schema: Obj): FieldType | null {
  const t = typeOf(schema);
  if (t === 'string') return schema.format === 'date-time' || schema.format === 'date' ? 'datetime' : 'string';
  if (t === 'integer' || t === 'number') return 'number';
  if (t === 'boolean' || t === 'object' || t === 'array') return t;
  return null;
}

function proposeEntities(paths: Obj, warnings: string[]): ProposedEntity[] {
  const out: ProposedEntity[] = [];
  const taken = new Set<string>();
  const nested: string[] = [];
  for (const path of Object.keys(paths).sort()) {
    const item = paths[path];
    if (!isObj(item) || !isObj(item.get) || !path.startsWith('/')) continue;
    if (path.includes('{')) {
      // Nested collections (`/accounts/{id}/contacts`) need a value the connector cannot fill in.
      if (!itemPathOf(path)) nested.push(path);
      continue;
    }
    const schema = successSchema(item.get);
    const records = schema ? recordsIn(schema) : null;
    if (!schema || !records) continue;
    if (out.length >= MAX_ENTITIES) {
      warnings.push(`more than ${MAX_ENTITIES} collections: only the first ${MAX_ENTITIES} (by path) were proposed`);
      break;
    }
    const name = entityName(path, taken);
    if (!name) continue;
    const entity = proposeEntity(name, path, item, item.get, schema, records, paths);
    const { name: _name, notes: _notes, ...config } = entity;
    const checked = restEntitySchema.safeParse(config);
    if (!checked.success) {
      warnings.push(
        `${path}: left out, its proposal does not pass the connector's entity schema (${checked.error.message})`,
      );
      continue;
    }
    taken.add(name);
    out.push(entity);
  }
  if (nested.length > 0) {
    warnings.push(
      `${nested.length} collection path${nested.length === 1 ? '' : 's'} with path parameters left out (the list path must be fixed), e.g. ${nested.slice(0, 3).join(', ')}`,
    );
  }
  return out;
}

function proposeEntity(
  name: string,
  path: string,
  item: Obj,
  get: Obj,
  schema: Obj,
  records: { path: string; item: Obj },
  paths: Obj,
): ProposedEntity {
  const notes: string[] = [];
  const properties = props(records.item);
  const keys = Object.keys(properties).filter((k) => !k.includes('.'));
  const singular = name.replace(/ies$/, 'y').replace(/s$/, '');

  // id and change time
  const idField =
    keys.find((k) => k === 'id') ??
    keys.find((k) => k.toLowerCase() === 'uuid') ??
    keys.find((k) => norm(k) === `${norm(singular)}id`) ??
    keys.find((k) => /_id$/i.test(k) || /[a-z]Id$/.test(k)) ??
    keys.find((k) => k === 'key');
  if (!idField) notes.push('no id property in the record schema: idField `id` is a guess');
  const dated = (k: string) => {
    const t = fieldType(flat(properties[k]));
    return t === 'datetime' || t === 'number' || t === 'string';
  };
  const updatedAtField = keys.find((k) => isUpdatedAtName(k) && dated(k));
  if (!updatedAtField)
    notes.push('no change-time property (updated_at, modified, …): incremental runs need updatedAtField');

  // pagination
  const params = paramsOf(item, get).filter((p) => p.in === 'query');
  const find = (set: Set<string>) => params.find((p) => set.has(norm(p.name)))?.name;
  const cursorParam = find(CURSOR_PARAMS);
  const pageParam = find(PAGE_PARAMS);
  const offsetParam = find(OFFSET_PARAMS);
  const limitParam = find(LIMIT_PARAMS);
  let pagination: PaginationProposal;
  if (cursorParam) {
    const cursorPath = findProperty(schema, CURSOR_FIELDS, records.path);
    const hasMorePath = findProperty(schema, ['has_more', 'hasMore', 'hasNextPage', 'has_next_page']);
    const limit = limitParam ? { limitParam } : {};
    if (cursorPath) pagination = { style: 'cursor', cursorParam, cursorPath, ...limit };
    else if (hasMorePath || ['startingafter', 'after'].includes(norm(cursorParam))) {
      // Stripe style: the next page starts after the last record's id.
      pagination = {
        style: 'cursor',
        cursorParam,
        cursorField: idField ?? 'id',
        ...(hasMorePath ? { hasMorePath } : {}),
        ...limit,
      };
      notes.push(
        `no next-cursor property in the answer: pages start after the last record's \`${idField ?? 'id'}\` (cursorField)${hasMorePath ? ` while \`${hasMorePath}\` is true` : ', while pages come back full'}`,
      );
    } else {
      pagination = { style: 'cursor', cursorParam, cursorPath: 'next_cursor', ...limit };
      notes.push(
        'no next-cursor property in the answer schema: cursorPath `next_cursor` is a guess (check it with Test stream)',
      );
    }
  } else if (pageParam) {
    const totalPagesPath = findProperty(schema, TOTAL_PAGES_FIELDS);
    if (!limitParam) notes.push('no page-size parameter declared: limitParam `per_page` is a guess');
    pagination = {
      style: 'page',
      pageParam,
      limitParam: limitParam ?? 'per_page',
      firstPage: 1,
      ...(totalPagesPath ? { totalPagesPath } : {}),
    };
  } else if (offsetParam) {
    const totalPath = findProperty(schema, TOTAL_FIELDS);
    if (!limitParam) notes.push('no page-size parameter declared: limitParam `limit` is a guess');
    pagination = {
      style: 'offset',
      offsetParam,
      limitParam: limitParam ?? 'limit',
      ...(totalPath ? { totalPath } : {}),
    };
  } else {
    pagination = { style: 'link', ...(limitParam ? { limitParam } : {}) };
    if (!declaresLinkHeader(get)) {
      notes.push('no pagination parameters: read as one page, unless the API sends Link headers (link pagination)');
    }
  }

  // incremental reads
  const since = params.find((p) => SINCE_PARAMS.has(norm(p.name)));
  const incremental = since
    ? {
        param: since.name,
        format: (['integer', 'number'].includes(typeOf(since.schema) ?? '') ? 'unix' : 'iso') as 'iso' | 'unix',
      }
    : undefined;

  // one record, create, update, delete
  const entity: ProposedEntity = {
    name,
    listPath: path,
    recordsPath: records.path,
    idField: idField ?? 'id',
    ...(updatedAtField ? { updatedAtField } : {}),
    pagination,
    ...(incremental ? { incremental } : {}),
    notes,
  };
  for (const [candidate, value] of Object.entries(paths)) {
    const ip = itemPathOf(candidate);
    if (!ip || ip.parent !== path || !isObj(value)) continue;
    const one = `${path}/{id}`;
    if (isObj(value.get)) entity.getPath = one;
    if (isObj(value.patch)) entity.update = { method: 'PATCH', path: one };
    else if (isObj(value.put)) entity.update = { method: 'PUT', path: one };
    if (isObj(value.delete)) entity.delete = { method: 'DELETE', path: one };
    if (ip.param !== 'id') notes.push(`\`${candidate}\` is used as \`${one}\` (the record's id fills it)`);
    break;
  }
  if (isObj(item.post)) {
    const created = successSchema(item.post);
    const idPath =
      created && Object.hasOwn(props(created), idField ?? 'id')
        ? (idField ?? 'id')
        : created && isObj(props(created).data) && Object.hasOwn(props(flat(props(created).data)), idField ?? 'id')
          ? `data.${idField ?? 'id'}`
          : (idField ?? 'id');
    const idempotency = paramsOf(item, item.post).find((p) => p.in === 'header' && /idempotency/i.test(p.name));
    entity.create = {
      method: 'POST',
      path,
      idPath,
      ...(idempotency ? { idempotencyHeader: idempotency.name } : {}),
    };
  }

  // fields, as the record schema declares them
  const required = new Set(Array.isArray(records.item.required) ? records.item.required.map(String) : []);
  const fields = keys
    .map((k) => ({ name: k, type: fieldType(flat(properties[k])), required: required.has(k) }))
    .filter((f): f is { name: string; type: FieldType; required: boolean } => f.type !== null)
    .slice(0, MAX_FIELDS);
  if (fields.length > 0) entity.fields = fields;
  return entity;
}
