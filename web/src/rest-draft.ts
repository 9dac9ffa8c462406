/**
 * The REST connection form's model (issue 16): a draft of the generic REST connector's config as the form holds
 * it (text as typed), its conversions to and from the config object (the JSON the server validates with
 * src/connectors/rest/index.ts `restConfigSchema`), the checks done as the user types, and the mapping of the
 * server's field paths (`config.entities.people.listPath`) onto the form's inputs.
 *
 * Words: an *input id* names one input of the form. It is the server's path without `config.`, with an entity
 * type named by its row (`entities.#3.listPath`) so that it survives a rename; credentials keep their path
 * (`credentials.token`). Nothing here renders.
 */

export const AUTH_TYPES = ['none', 'bearer', 'basic', 'header', 'query'] as const;
export type AuthType = (typeof AUTH_TYPES)[number];
export const PAGINATION_STYLES = ['cursor', 'offset', 'page', 'link'] as const;
export type PaginationStyle = (typeof PAGINATION_STYLES)[number];
export const FIELD_TYPES = ['string', 'number', 'boolean', 'datetime', 'object', 'array'] as const;
export type FieldType = (typeof FIELD_TYPES)[number];
export const CREATE_METHODS = ['POST', 'PUT'] as const;
export const UPDATE_METHODS = ['PATCH', 'PUT', 'POST'] as const;
export const DELETE_METHODS = ['DELETE', 'POST', 'PATCH'] as const;

/** The credentials each auth type sends (the connector's rule: bearer → token, basic → username and password…). */
export const CREDENTIALS_OF: Record<AuthType, readonly string[]> = {
  none: [],
  bearer: ['token'],
  basic: ['username', 'password'],
  header: ['apiKey'],
  query: ['apiKey'],
};

export interface PaginationDraft {
  style: PaginationStyle;
  cursorParam: string;
  cursorPath: string;
  limitParam: string;
  offsetParam: string;
  totalPath: string;
  pageParam: string;
  firstPage: string;
  totalPagesPath: string;
}

/** Which pagination inputs each style shows (one page-size input serves them all). */
export const PAGINATION_INPUTS: Record<PaginationStyle, readonly (keyof Omit<PaginationDraft, 'style'>)[]> = {
  cursor: ['cursorParam', 'cursorPath', 'limitParam'],
  offset: ['offsetParam', 'limitParam', 'totalPath'],
  page: ['pageParam', 'limitParam', 'firstPage', 'totalPagesPath'],
  link: ['limitParam'],
};
const REQUIRED_PAGINATION: Record<PaginationStyle, readonly string[]> = {
  cursor: ['cursorParam', 'cursorPath'],
  offset: ['offsetParam', 'limitParam'],
  page: ['pageParam', 'limitParam'],
  link: [],
};

export interface FieldDraft {
  name: string;
  type: FieldType;
  required: boolean;
}

export interface EntityDraft {
  /** Stable across renames: names the row's inputs and React keys. */
  key: number;
  name: string;
  listPath: string;
  recordsPath: string;
  idField: string;
  updatedAtField: string;
  pagination: PaginationDraft;
  incrementalParam: string;
  incrementalFormat: 'iso' | 'unix';
  getPath: string;
  create: {
    on: boolean;
    method: (typeof CREATE_METHODS)[number];
    path: string;
    idPath: string;
    idempotencyHeader: string;
  };
  update: { on: boolean; method: (typeof UPDATE_METHODS)[number]; path: string };
  /** `body` is JSON text (an object), sent with the delete request when given. */
  delete: { on: boolean; method: (typeof DELETE_METHODS)[number]; path: string; body: string };
  lookup: { on: boolean; field: string; param: string };
  fields: FieldDraft[];
  /** Keys the form has no input for: kept as they are, so that the JSON round-trips (the server judges them). */
  extra: Record<string, unknown>;
}

export interface RestDraft {
  baseUrl: string;
  authType: AuthType;
  /** The header or query parameter name (header and query auth). */
  authName: string;
  rateRequests: string;
  ratePerSeconds: string;
  timeoutMs: string;
  entities: EntityDraft[];
  extra: Record<string, unknown>;
}

export type Config = Record<string, unknown>;

let nextKey = 0;

export function emptyPagination(style: PaginationStyle = 'cursor'): PaginationDraft {
  return {
    style,
    cursorParam: '',
    cursorPath: '',
    limitParam: '',
    offsetParam: '',
    totalPath: '',
    pageParam: '',
    firstPage: '',
    totalPagesPath: '',
  };
}

export function emptyEntity(name = ''): EntityDraft {
  return {
    key: ++nextKey,
    name,
    listPath: '',
    recordsPath: '',
    idField: '',
    updatedAtField: '',
    pagination: emptyPagination(),
    incrementalParam: '',
    incrementalFormat: 'iso',
    getPath: '',
    create: { on: false, method: 'POST', path: '', idPath: '', idempotencyHeader: '' },
    update: { on: false, method: 'PATCH', path: '' },
    delete: { on: false, method: 'DELETE', path: '', body: '' },
    lookup: { on: false, field: '', param: '' },
    fields: [],
    extra: {},
  };
}

export function emptyDraft(): RestDraft {
  return {
    baseUrl: '',
    authType: 'none',
    authName: '',
    rateRequests: '',
    ratePerSeconds: '',
    timeoutMs: '',
    entities: [],
    extra: {},
  };
}

// --- config → draft ------------------------------------------------------------------------------------------

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reads values off a config object, noting what the form cannot show (then the JSON must be fixed first). */
class Reader {
  readonly problems: string[] = [];

  text(obj: Record<string, unknown>, key: string, at: string): string {
    const v = obj[key];
    if (v === undefined || v === null) return '';
    if (typeof v === 'string') return v;
    if (typeof v === 'number') return String(v);
    this.problems.push(`${at}${key} must be text`);
    return '';
  }

  choice<T extends string>(
    obj: Record<string, unknown>,
    key: string,
    at: string,
    options: readonly T[],
    fallback: T,
  ): T {
    const v = obj[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v === 'string' && (options as readonly string[]).includes(v)) return v as T;
    this.problems.push(`${at}${key} must be one of ${options.join(', ')}`);
    return fallback;
  }

  object(obj: Record<string, unknown>, key: string, at: string): Record<string, unknown> | undefined {
    const v = obj[key];
    if (v === undefined || v === null) return undefined;
    if (isObject(v)) return v;
    this.problems.push(`${at}${key} must be an object`);
    return undefined;
  }
}

/** The keys of `obj` other than `known`. */
function extraOf(obj: Record<string, unknown>, known: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(obj).filter(([k]) => !known.includes(k)));
}

const CONFIG_KEYS = ['baseUrl', 'auth', 'rateLimit', 'timeoutMs', 'entities'] as const;
const ENTITY_KEYS = [
  'listPath',
  'recordsPath',
  'idField',
  'updatedAtField',
  'pagination',
  'incremental',
  'getPath',
  'create',
  'update',
  'delete',
  'lookup',
  'fields',
] as const;

function paginationOf(p: Record<string, unknown> | undefined, r: Reader, at: string): PaginationDraft {
  if (!p) return emptyPagination();
  const out = emptyPagination(r.choice(p, 'style', at, PAGINATION_STYLES, 'cursor'));
  for (const k of [
    'cursorParam',
    'cursorPath',
    'limitParam',
    'offsetParam',
    'totalPath',
    'pageParam',
    'firstPage',
    'totalPagesPath',
  ] as const) {
    out[k] = r.text(p, k, at);
  }
  const unknown = Object.keys(extraOf(p, ['style', ...PAGINATION_INPUTS[out.style]]));
  if (unknown.length > 0)
    r.problems.push(
      `${at}${unknown.join(', ')} ${unknown.length > 1 ? 'are' : 'is'} not used by ${out.style} pagination`,
    );
  return out;
}

/** One entity type's config as a form row; `key` keeps the row of the same entity type in the current draft. */
export function entityFromConfig(
  name: string,
  e: Record<string, unknown>,
  r = new Reader(),
  key?: number,
): EntityDraft {
  const at = `entities.${name}.`;
  const draft = emptyEntity(name);
  if (key !== undefined) draft.key = key;
  draft.listPath = r.text(e, 'listPath', at);
  draft.recordsPath = r.text(e, 'recordsPath', at);
  draft.idField = r.text(e, 'idField', at);
  draft.updatedAtField = r.text(e, 'updatedAtField', at);
  draft.pagination = paginationOf(r.object(e, 'pagination', at), r, `${at}pagination.`);
  const inc = r.object(e, 'incremental', at);
  if (inc) {
    draft.incrementalParam = r.text(inc, 'param', `${at}incremental.`);
    draft.incrementalFormat = r.choice(inc, 'format', `${at}incremental.`, ['iso', 'unix'] as const, 'iso');
  }
  draft.getPath = r.text(e, 'getPath', at);
  const create = r.object(e, 'create', at);
  if (create) {
    const c = `${at}create.`;
    draft.create = {
      on: true,
      method: r.choice(create, 'method', c, CREATE_METHODS, 'POST'),
      path: r.text(create, 'path', c),
      idPath: r.text(create, 'idPath', c),
      idempotencyHeader: r.text(create, 'idempotencyHeader', c),
    };
  }
  const update = r.object(e, 'update', at);
  if (update) {
    const c = `${at}update.`;
    draft.update = {
      on: true,
      method: r.choice(update, 'method', c, UPDATE_METHODS, 'PATCH'),
      path: r.text(update, 'path', c),
    };
  }
  const del = r.object(e, 'delete', at);
  if (del) {
    const c = `${at}delete.`;
    const body = r.object(del, 'body', c);
    draft.delete = {
      on: true,
      method: r.choice(del, 'method', c, DELETE_METHODS, 'DELETE'),
      path: r.text(del, 'path', c),
      body: body ? JSON.stringify(body) : '',
    };
  }
  const lookup = r.object(e, 'lookup', at);
  if (lookup) {
    draft.lookup = {
      on: true,
      field: r.text(lookup, 'field', `${at}lookup.`),
      param: r.text(lookup, 'param', `${at}lookup.`),
    };
  }
  const fields = e.fields;
  if (Array.isArray(fields)) {
    draft.fields = fields.map((f, i) => {
      const c = `${at}fields.${i}.`;
      if (!isObject(f)) {
        r.problems.push(`${at}fields.${i} must be an object`);
        return { name: '', type: 'string', required: false };
      }
      return {
        name: r.text(f, 'name', c),
        type: r.choice(f, 'type', c, FIELD_TYPES, 'string'),
        required: f.required === true,
      };
    });
  } else if (fields !== undefined && fields !== null) r.problems.push(`${at}fields must be a list`);
  draft.extra = extraOf(e, ENTITY_KEYS);
  return draft;
}

/**
 * A config object (the JSON view, a stored connection, an example) as a draft. `problems` lists what the form
 * cannot show (a value of the wrong kind, an unknown auth type); `previous` lends its rows' keys to the entity
 * types of the same name (or position), so that their open panels and test results stay.
 */
export function draftFromConfig(config: unknown, previous?: RestDraft): { draft: RestDraft; problems: string[] } {
  const r = new Reader();
  const draft = emptyDraft();
  if (!isObject(config)) return { draft, problems: ['the configuration must be a JSON object'] };
  draft.baseUrl = r.text(config, 'baseUrl', '');
  const auth = r.object(config, 'auth', '');
  if (auth) {
    draft.authType = r.choice(auth, 'type', 'auth.', AUTH_TYPES, 'none');
    draft.authName = r.text(auth, 'name', 'auth.');
  }
  const rate = r.object(config, 'rateLimit', '');
  if (rate) {
    draft.rateRequests = r.text(rate, 'requests', 'rateLimit.');
    draft.ratePerSeconds = r.text(rate, 'perSeconds', 'rateLimit.');
  }
  draft.timeoutMs = r.text(config, 'timeoutMs', '');
  const entities = r.object(config, 'entities', '') ?? {};
  const taken = new Set<number>();
  draft.entities = Object.entries(entities).map(([name, e], i) => {
    const before = previous?.entities.find((x) => x.name === name) ?? previous?.entities[i];
    const key = before && !taken.has(before.key) ? before.key : undefined;
    if (key !== undefined) taken.add(key);
    if (!isObject(e)) {
      r.problems.push(`entities.${name} must be an object`);
      return emptyEntity(name);
    }
    return entityFromConfig(name, e, r, key);
  });
  draft.extra = extraOf(config, CONFIG_KEYS);
  return { draft, problems: r.problems };
}

// --- draft → config ------------------------------------------------------------------------------------------

/** Text as typed, trimmed; blank → undefined (left out). */
const opt = (s: string): string | undefined => (s.trim() === '' ? undefined : s.trim());
/** A number as typed; text that is not one is sent as is, for the server to name. */
const num = (s: string): number | string | undefined => {
  const t = s.trim();
  if (t === '') return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : t;
};
/** `obj` without its undefined values (JSON.stringify drops them too; the object stays readable). */
function defined(obj: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined));
}

function paginationConfig(p: PaginationDraft): Config {
  const out: Config = { style: p.style };
  for (const k of PAGINATION_INPUTS[p.style]) {
    const required = REQUIRED_PAGINATION[p.style].includes(k);
    out[k] = k === 'firstPage' ? num(p[k]) : required ? p[k].trim() : opt(p[k]);
  }
  return defined(out);
}

export function entityConfig(e: EntityDraft): Config {
  let body: unknown;
  if (e.delete.on && e.delete.body.trim() !== '') {
    try {
      body = JSON.parse(e.delete.body);
    } catch {
      body = e.delete.body;
    }
  }
  return defined({
    listPath: e.listPath.trim(),
    recordsPath: opt(e.recordsPath),
    idField: opt(e.idField),
    updatedAtField: opt(e.updatedAtField),
    pagination: paginationConfig(e.pagination),
    incremental: opt(e.incrementalParam)
      ? { param: e.incrementalParam.trim(), format: e.incrementalFormat }
      : undefined,
    getPath: opt(e.getPath),
    create: e.create.on
      ? defined({
          method: e.create.method,
          path: e.create.path.trim(),
          idPath: opt(e.create.idPath),
          idempotencyHeader: opt(e.create.idempotencyHeader),
        })
      : undefined,
    update: e.update.on ? { method: e.update.method, path: e.update.path.trim() } : undefined,
    delete: e.delete.on ? defined({ method: e.delete.method, path: e.delete.path.trim(), body }) : undefined,
    lookup: e.lookup.on ? defined({ field: e.lookup.field.trim(), param: opt(e.lookup.param) }) : undefined,
    fields:
      e.fields.length > 0
        ? e.fields.map((f) => ({ name: f.name.trim(), type: f.type, ...(f.required ? { required: true } : {}) }))
        : undefined,
    ...e.extra,
  });
}

/** The config object of a draft as typed (what the JSON view shows and the server is sent; it judges it). */
export function configFromDraft(d: RestDraft): Config {
  const rate =
    opt(d.rateRequests) || opt(d.ratePerSeconds)
      ? { requests: num(d.rateRequests) ?? '', perSeconds: num(d.ratePerSeconds) ?? '' }
      : undefined;
  return defined({
    baseUrl: d.baseUrl.trim(),
    auth:
      d.authType === 'header' || d.authType === 'query'
        ? { type: d.authType, name: d.authName.trim() }
        : { type: d.authType },
    rateLimit: rate,
    timeoutMs: num(d.timeoutMs),
    entities: Object.fromEntries(d.entities.map((e) => [e.name.trim(), entityConfig(e)])),
    ...d.extra,
  });
}

/** The credentials the auth type sends, trimmed; blank ones left out (kept on the server when editing). */
export function credentialsFor(authType: AuthType, values: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of CREDENTIALS_OF[authType]) {
    const v = values[name];
    if (typeof v === 'string' && v.trim() !== '') out[name] = v.trim();
  }
  return out;
}

// --- checks as typed ----------------------------------------------------------------------------------------

const ENTITY_NAME = /^[a-z][a-z0-9_]*$/;

function isHttpUrl(s: string): boolean {
  if (!URL.canParse(s)) return false;
  const p = new URL(s).protocol;
  return p === 'http:' || p === 'https:';
}

/** Problems with the draft by input id, with messages that complete "<label> …" as the server's do. */
export function checkDraft(
  d: RestDraft,
  credentials: Record<string, unknown>,
  options: { credentialsRequired: boolean },
): Record<string, string> {
  const out: Record<string, string> = {};
  const need = (id: string, value: string, message = 'is required') => {
    if (value.trim() === '') out[id] = message;
  };
  need('baseUrl', d.baseUrl);
  if (d.baseUrl.trim() !== '' && !isHttpUrl(d.baseUrl.trim())) out.baseUrl = 'must be an http(s) URL';
  if (d.authType === 'header' || d.authType === 'query') need('auth.name', d.authName);
  if (options.credentialsRequired) {
    for (const name of CREDENTIALS_OF[d.authType]) {
      const v = credentials[name];
      if (typeof v !== 'string' || v.trim() === '') out[`credentials.${name}`] = `is required for ${d.authType} auth`;
    }
  }
  if (opt(d.rateRequests) || opt(d.ratePerSeconds)) {
    const n = Number(d.rateRequests.trim());
    if (!Number.isInteger(n) || n < 1 || d.rateRequests.trim() === '')
      out['rateLimit.requests'] = 'must be a whole number, 1 or more';
    const s = Number(d.ratePerSeconds.trim());
    if (!(s > 0) || d.ratePerSeconds.trim() === '') out['rateLimit.perSeconds'] = 'must be a number above 0';
  }
  if (opt(d.timeoutMs)) {
    const t = Number(d.timeoutMs.trim());
    if (!Number.isInteger(t) || t < 100 || t > 600_000)
      out.timeoutMs = 'must be a whole number of milliseconds, 100 to 600000';
  }
  const names = new Map<string, number>();
  for (const e of d.entities) names.set(e.name.trim(), (names.get(e.name.trim()) ?? 0) + 1);
  for (const e of d.entities) {
    const at = `entities.#${e.key}.`;
    const name = e.name.trim();
    if (name === '') out[`${at}name`] = 'is required';
    else if (!ENTITY_NAME.test(name))
      out[`${at}name`] = 'must be a lowercase identifier: a–z, 0–9 and _, starting with a letter';
    else if ((names.get(name) ?? 0) > 1) out[`${at}name`] = 'is the name of another entity type';
    path(out, `${at}listPath`, e.listPath, true);
    path(out, `${at}getPath`, e.getPath, false, true);
    const p = e.pagination;
    for (const k of REQUIRED_PAGINATION[p.style]) need(`${at}pagination.${k}`, p[k as keyof PaginationDraft]);
    if (p.style === 'page' && opt(p.firstPage)) {
      const n = Number(p.firstPage.trim());
      if (!Number.isInteger(n) || n < 0) out[`${at}pagination.firstPage`] = 'must be a whole number, 0 or more';
    }
    if (e.create.on) path(out, `${at}create.path`, e.create.path, true);
    if (e.update.on) path(out, `${at}update.path`, e.update.path, true, true);
    if (e.delete.on) {
      path(out, `${at}delete.path`, e.delete.path, true, true);
      if (e.delete.body.trim() !== '') {
        try {
          if (!isObject(JSON.parse(e.delete.body))) out[`${at}delete.body`] = 'must be a JSON object';
        } catch {
          out[`${at}delete.body`] = 'is not valid JSON';
        }
      }
    }
    if (e.lookup.on) {
      need(`${at}lookup.field`, e.lookup.field, 'must name the field that holds the source id');
      if (!e.create.on) out[`${at}lookup.field`] ??= 'needs a create request: turn on “Creates records”';
    }
    for (const [i, f] of e.fields.entries()) need(`${at}fields.${i}.name`, f.name);
  }
  return out;
}

/** A request path: starts with `/`; a path naming one record also holds `{id}`. */
function path(out: Record<string, string>, id: string, value: string, required: boolean, withId = false): void {
  const v = value.trim();
  if (v === '') {
    if (required) out[id] = 'is required';
    return;
  }
  if (!v.startsWith('/')) out[id] = withId ? 'must start with / and contain {id}' : 'must start with /';
  else if (withId && !v.includes('{id}')) out[id] = 'must contain {id} (where the record’s id goes)';
}

// --- the server's paths → inputs ----------------------------------------------------------------------------

const SIMPLE_ENTITY_INPUTS = ['listPath', 'recordsPath', 'idField', 'updatedAtField', 'getPath'];
const REQUEST_INPUTS: Record<'create' | 'update' | 'delete' | 'lookup', { inputs: string[]; main: string }> = {
  create: { inputs: ['method', 'path', 'idPath', 'idempotencyHeader'], main: 'path' },
  update: { inputs: ['method', 'path'], main: 'path' },
  delete: { inputs: ['method', 'path', 'body'], main: 'path' },
  lookup: { inputs: ['field', 'param'], main: 'field' },
};

/**
 * The input that shows an error the server reported at `path` (`config.entities.people.pagination.cursorParam`),
 * or null when the form has no input for it (it is then listed above the form). `config` and `credentials`
 * alone name the groups (shown at their heads). `config.entityTypes.…` is read as `config.entities.…`.
 */
export function inputIdFor(serverPath: string, d: RestDraft): string | null {
  if (serverPath === 'config' || serverPath === 'credentials') return serverPath;
  if (serverPath.startsWith('credentials.')) {
    const name = serverPath.slice('credentials.'.length);
    return CREDENTIALS_OF[d.authType].includes(name) ? serverPath : null;
  }
  if (!serverPath.startsWith('config.')) return null;
  const p = serverPath.slice('config.'.length).replace(/^entityTypes(?=\.|$)/, 'entities');
  if (p === 'baseUrl' || p === 'timeoutMs') return p;
  if (p === 'auth' || p === 'auth.type') return 'auth.type';
  if (p === 'auth.name') return d.authType === 'header' || d.authType === 'query' ? p : 'auth.type';
  if (p === 'rateLimit') return 'rateLimit.requests';
  if (p === 'rateLimit.requests' || p === 'rateLimit.perSeconds') return p;
  if (p === 'entities') return 'entities';
  if (!p.startsWith('entities.')) return null;
  // Entity names are identifiers (no dots); a refused name with a dot is matched whole.
  const rest = p.slice('entities.'.length);
  const e =
    d.entities.find((x) => rest === x.name.trim() || rest.startsWith(`${x.name.trim()}.`)) ??
    (d.entities.length === 1 && !rest.includes('.') ? d.entities[0] : undefined);
  if (!e) return null;
  const at = `entities.#${e.key}.`;
  const sub = rest === e.name.trim() ? '' : rest.slice(e.name.trim().length + 1);
  if (sub === '') return `${at}name`;
  const [head, ...tail] = sub.split('.') as [string, ...string[]];
  const leaf = tail.join('.');
  if (SIMPLE_ENTITY_INPUTS.includes(head) && tail.length === 0) return at + head;
  if (head === 'pagination') {
    const shown = PAGINATION_INPUTS[e.pagination.style] as readonly string[];
    return shown.includes(leaf) ? `${at}pagination.${leaf}` : `${at}pagination.style`;
  }
  if (head === 'incremental') {
    if (!opt(e.incrementalParam)) return null;
    return leaf === 'format' ? `${at}incremental.format` : `${at}incremental.param`;
  }
  if (head === 'create' || head === 'update' || head === 'delete' || head === 'lookup') {
    const r = REQUEST_INPUTS[head];
    if (!e[head].on) return null;
    const input = tail[0] ?? '';
    return `${at}${head}.${r.inputs.includes(input) ? input : r.main}`;
  }
  if (head === 'fields') {
    if (tail.length === 0) return `${at}fields`;
    const i = Number(tail[0]);
    if (!Number.isInteger(i) || i < 0 || i >= e.fields.length) return `${at}fields`;
    const input = tail[1] === 'type' || tail[1] === 'required' ? tail[1] : 'name';
    return `${at}fields.${i}.${input}`;
  }
  return null;
}

/** The detected (or imported) pagination over the current one: its style and the parameters it names. */
export function paginationFrom(detected: Record<string, unknown>, current: PaginationDraft): PaginationDraft {
  const r = new Reader();
  const style = r.choice(detected, 'style', '', PAGINATION_STYLES, current.style);
  const out: PaginationDraft = { ...current, style };
  for (const k of Object.keys(current) as (keyof PaginationDraft)[]) {
    if (k === 'style') continue;
    const v = detected[k];
    if (typeof v === 'string' || typeof v === 'number') out[k] = String(v);
  }
  return out;
}

/** The draft's config for saving, after the checks; they refuse it with the problems at their inputs. */
export function configForSave(
  d: RestDraft,
  credentials: Record<string, unknown>,
  options: { credentialsRequired: boolean },
): Config {
  const problems = checkDraft(d, credentials, options);
  if (Object.keys(problems).length > 0) throw new RestDraftInvalid(problems);
  return configFromDraft(d);
}

/** Problems found before sending: the form shows each at its input (by input id). */
export class RestDraftInvalid extends Error {
  constructor(readonly problems: Record<string, string>) {
    super('Please correct the highlighted fields.');
    this.name = 'RestDraftInvalid';
  }
}

/**
 * The entity types a REST connection declares, as the providers list describes entity types (the REST provider
 * lists none of its own: each connection's config names them). Mirrors `restEntityTypeInfo` on the server, for
 * the job form and the connection's job list.
 */
export function restEntityTypes(config: unknown): {
  name: string;
  label: string;
  fields: { name: string; type: FieldType }[];
  supports: { inbound: boolean; outbound: boolean; incremental: boolean; webhooks: boolean; deletes: boolean };
}[] {
  const { draft } = draftFromConfig(config);
  return draft.entities.map((e) => ({
    name: e.name,
    label: e.name,
    fields: e.fields.map((f) => ({ name: f.name, type: f.type })),
    supports: {
      inbound: true,
      outbound: e.create.on || e.update.on,
      incremental: e.incrementalParam.trim() !== '',
      webhooks: false,
      deletes: e.delete.on,
    },
  }));
}
