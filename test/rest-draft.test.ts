/**
 * The REST form's model (web/src/rest-draft.ts, issue 16) against the connector's own schema: a config survives
 * config → form → config; what the form's checks refuse is what the server refuses, at the same input; and the
 * server's field paths land on the form's inputs.
 */
import { describe, expect, it } from 'vitest';
import { restConfigSchema } from '../src/connectors/rest/index.ts';
import { toFieldIssues } from '../src/domain/validate.ts';
import {
  checkDraft,
  configFromDraft,
  draftFromConfig,
  emptyEntity,
  inputIdFor,
  paginationFrom,
  type RestDraft,
  restEntityTypes,
} from '../web/src/rest-draft.ts';

const FULL = {
  baseUrl: 'https://api.example.test/v1',
  auth: { type: 'header', name: 'X-Api-Key' },
  rateLimit: { requests: 10, perSeconds: 1.5 },
  timeoutMs: 20_000,
  entities: {
    people: {
      listPath: '/people',
      recordsPath: 'data.items',
      idField: 'person_id',
      updatedAtField: 'meta.modified_at',
      pagination: { style: 'cursor', cursorParam: 'after', cursorPath: 'paging.next', limitParam: 'limit' },
      incremental: { param: 'since', format: 'unix' },
      getPath: '/people/{id}',
      create: { method: 'PUT', path: '/people', idPath: 'data.id', idempotencyHeader: 'Idempotency-Key' },
      update: { method: 'PATCH', path: '/people/{id}' },
      delete: { method: 'PATCH', path: '/people/{id}', body: { archived: true } },
      lookup: { field: 'external_id', param: 'ext' },
      fields: [
        { name: 'email', type: 'string', required: true },
        { name: 'age', type: 'number' },
      ],
    },
    orders: {
      listPath: '/orders',
      pagination: { style: 'page', pageParam: 'p', limitParam: 'per_page', firstPage: 0, totalPagesPath: 'pages' },
    },
    events: { listPath: '/events', pagination: { style: 'offset', offsetParam: 'skip', limitParam: 'take' } },
    logs: { listPath: '/logs', pagination: { style: 'link' } },
  },
};

/** The server's refusal of a config, as the API reports it (`config.…` paths). */
function serverIssues(config: unknown): { path: string; message: string }[] {
  const parsed = restConfigSchema.safeParse(config);
  if (parsed.success) return [];
  return toFieldIssues(parsed.error.issues as Parameters<typeof toFieldIssues>[0], ['config']);
}

const NO_CREDENTIALS = { credentialsRequired: false };

function withEntity(patch: (e: ReturnType<typeof emptyEntity>) => void): RestDraft {
  const { draft } = draftFromConfig({ baseUrl: 'https://a.test', entities: {} });
  const e = emptyEntity('people');
  e.listPath = '/people';
  e.pagination = { ...e.pagination, style: 'link' };
  patch(e);
  draft.entities.push(e);
  return draft;
}

describe('REST form model', () => {
  it('round-trips a config through the form, every setting kept', () => {
    const { draft, problems } = draftFromConfig(FULL);
    expect(problems).toEqual([]);
    expect(configFromDraft(draft)).toEqual(FULL);
    expect(restConfigSchema.safeParse(configFromDraft(draft)).success).toBe(true);
    expect(checkDraft(draft, {}, NO_CREDENTIALS)).toEqual({});
  });

  it('keeps keys the form has no input for, and says what it cannot show', () => {
    const { draft } = draftFromConfig({ ...FULL, future: 1, entities: { a: { listPath: '/a', extra: true } } });
    expect(configFromDraft(draft)).toMatchObject({ future: 1, entities: { a: { listPath: '/a', extra: true } } });
    expect(draftFromConfig({ baseUrl: 5 }).problems).toEqual([]);
    expect(draftFromConfig({ auth: { type: 'oauth' } }).problems).toEqual([
      'auth.type must be one of none, bearer, basic, header, query',
    ]);
    expect(draftFromConfig({ entities: { a: { listPath: ['x'] } } }).problems).toEqual([
      'entities.a.listPath must be text',
    ]);
    expect(draftFromConfig([]).problems).toEqual(['the configuration must be a JSON object']);
  });

  it('keeps the rows of entity types by name when the JSON changes (their panels stay)', () => {
    const { draft } = draftFromConfig(FULL);
    const { draft: next } = draftFromConfig(
      { ...FULL, entities: { logs: FULL.entities.logs, people: FULL.entities.people } },
      draft,
    );
    expect(next.entities.map((e) => e.key)).toEqual([
      draft.entities.find((e) => e.name === 'logs')!.key,
      draft.entities.find((e) => e.name === 'people')!.key,
    ]);
  });

  it.each<[string, (e: ReturnType<typeof emptyEntity>) => void, string, string]>([
    ['a list path without /', (e) => (e.listPath = 'people'), 'listPath', 'must start with /'],
    ['a blank list path', (e) => (e.listPath = ''), 'listPath', 'is required'],
    ['a get path without /', (e) => (e.getPath = 'people/{id}'), 'getPath', 'must start with /'],
    ['an upper-case name', (e) => (e.name = 'People'), 'name', 'lowercase'],
    [
      'cursor pagination without its parameter',
      (e) => (e.pagination = { ...e.pagination, style: 'cursor', cursorPath: 'next' }),
      'pagination.cursorParam',
      'is required',
    ],
    [
      'offset pagination without a limit parameter',
      (e) => (e.pagination = { ...e.pagination, style: 'offset', offsetParam: 'o' }),
      'pagination.limitParam',
      'is required',
    ],
    [
      'a negative first page',
      (e) => (e.pagination = { ...e.pagination, style: 'page', pageParam: 'p', limitParam: 'l', firstPage: '-1' }),
      'pagination.firstPage',
      'whole number',
    ],
    ['a create without a path', (e) => (e.create = { ...e.create, on: true }), 'create.path', 'is required'],
    [
      'a delete path without {id}',
      (e) => (e.delete = { ...e.delete, on: true, path: '/people' }),
      'delete.path',
      '{id}',
    ],
    [
      'a delete body that is a list',
      (e) => (e.delete = { ...e.delete, on: true, path: '/p/{id}', body: '[1]' }),
      'delete.body',
      'JSON object',
    ],
    ['a lookup without a create', (e) => (e.lookup = { on: true, field: 'ext', param: '' }), 'lookup.field', 'create'],
    [
      'a field without a name',
      (e) => e.fields.push({ name: '', type: 'string', required: false }),
      'fields.0.name',
      'is required',
    ],
  ])('refuses %s at the input the server names', (_, patch, input, message) => {
    const draft = withEntity(patch);
    const key = draft.entities[0]!.key;
    const local = checkDraft(draft, {}, NO_CREDENTIALS);
    expect(local[`entities.#${key}.${input}`]).toContain(message);
    // The server refuses it too, at a path the form shows at the same input.
    const issues = serverIssues(configFromDraft(draft));
    expect(issues.length).toBeGreaterThan(0);
    expect(issues.map((i) => inputIdFor(i.path, draft))).toContain(`entities.#${key}.${input}`);
  });

  it('refuses what the server refuses at the top level, at the same inputs', () => {
    const draft = withEntity(() => {});
    Object.assign(draft, {
      baseUrl: 'ftp://a.test',
      authType: 'query',
      authName: '',
      rateRequests: '0',
      ratePerSeconds: '1',
      timeoutMs: '50',
    });
    const local = checkDraft(draft, {}, NO_CREDENTIALS);
    const mapped = serverIssues(configFromDraft(draft)).map((i) => inputIdFor(i.path, draft));
    for (const id of ['baseUrl', 'auth.name', 'rateLimit.requests', 'timeoutMs']) {
      expect(local[id], id).toBeDefined();
      expect(mapped, id).toContain(id);
    }
  });

  it('asks for the credentials of the auth type, only when they are needed', () => {
    const draft = withEntity(() => {});
    draft.authType = 'basic';
    expect(checkDraft(draft, { username: 'u' }, { credentialsRequired: true })).toEqual({
      'credentials.password': 'is required for basic auth',
    });
    expect(checkDraft(draft, {}, { credentialsRequired: false })).toEqual({});
  });

  it('maps the server’s paths onto the inputs shown, and leaves the others to the list above the form', () => {
    const { draft } = draftFromConfig(FULL);
    const people = draft.entities[0]!.key;
    const orders = draft.entities[1]!.key;
    expect(inputIdFor('config.baseUrl', draft)).toBe('baseUrl');
    expect(inputIdFor('config.entities.people.listPath', draft)).toBe(`entities.#${people}.listPath`);
    expect(inputIdFor('config.entityTypes.people.listPath', draft)).toBe(`entities.#${people}.listPath`);
    expect(inputIdFor('config.entities.people.pagination.cursorPath', draft)).toBe(
      `entities.#${people}.pagination.cursorPath`,
    );
    // A pagination setting of another style: at the style.
    expect(inputIdFor('config.entities.people.pagination.pageParam', draft)).toBe(
      `entities.#${people}.pagination.style`,
    );
    expect(inputIdFor('config.entities.orders.pagination', draft)).toBe(`entities.#${orders}.pagination.style`);
    expect(inputIdFor('config.entities.people.fields.1.type', draft)).toBe(`entities.#${people}.fields.1.type`);
    expect(inputIdFor('config.entities.people.fields.7', draft)).toBe(`entities.#${people}.fields`);
    expect(inputIdFor('config.entities.people.lookup', draft)).toBe(`entities.#${people}.lookup.field`);
    expect(inputIdFor('config.entities.people', draft)).toBe(`entities.#${people}.name`);
    expect(inputIdFor('config.auth.name', draft)).toBe('auth.name');
    expect(inputIdFor('credentials.apiKey', draft)).toBe('credentials.apiKey');
    // Not shown: another auth type's credential, a write request that is off, a key the form does not know.
    expect(inputIdFor('credentials.token', draft)).toBe(null);
    expect(inputIdFor('config.entities.orders.create.path', draft)).toBe(null);
    expect(inputIdFor('config.entities.people.future', draft)).toBe(null);
    expect(inputIdFor('config.entities.nobody.listPath', draft)).toBe(null);
    expect(inputIdFor('name', draft)).toBe(null);
  });

  it('takes detected pagination over the current one, keeping what it does not name', () => {
    const current = draftFromConfig(FULL).draft.entities[0]!.pagination;
    expect(paginationFrom({ style: 'cursor', cursorParam: 'after', cursorPath: 'next' }, current)).toMatchObject({
      style: 'cursor',
      cursorParam: 'after',
      cursorPath: 'next',
      limitParam: 'limit',
    });
    expect(
      paginationFrom({ style: 'page', pageParam: 'page', limitParam: 'per_page', firstPage: 1 }, current),
    ).toMatchObject({
      style: 'page',
      pageParam: 'page',
      firstPage: '1',
    });
  });

  it('lists the entity types a connection declares, with what they support', () => {
    expect(
      restEntityTypes(FULL).map((t) => [t.name, t.supports.outbound, t.supports.incremental, t.supports.deletes]),
    ).toEqual([
      ['people', true, true, true],
      ['orders', false, false, false],
      ['events', false, false, false],
      ['logs', false, false, false],
    ]);
    expect(restEntityTypes(FULL)[0]!.fields).toEqual([
      { name: 'email', type: 'string' },
      { name: 'age', type: 'number' },
    ]);
  });
});
