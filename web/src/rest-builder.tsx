/**
 * The REST connection form (issue 16, "Connect any REST API without writing JSON"): base URL, auth with its
 * credentials, rate limit, and per entity type its list request, pagination, incremental parameter, one-record
 * and write requests and fields; each checked as it is typed. "Test stream" tries an entity type live with the
 * unsaved settings; an OpenAPI document or an example can fill the form. The config's JSON stays available
 * ("Advanced (JSON)"), in step with the form both ways.
 *
 * The draft lives in the connection form (it saves it); its model and checks are in rest-draft.ts. The server's
 * refusals (`config.entities.people.listPath`) are shown at their inputs; an error stays until its input is
 * changed, then the input's own check speaks.
 */
import { createContext, type ReactNode, type SetStateAction, useContext, useEffect, useRef, useState } from 'react';
import { ApiError, type Setting } from './api.ts';
import type { DetectedShape, ImportedEntity, OpenApiImport } from './rest-builder-api.ts';
import {
  AUTH_TYPES,
  type AuthType,
  CREATE_METHODS,
  CREDENTIALS_OF,
  checkDraft,
  configFromDraft,
  credentialsFor,
  DELETE_METHODS,
  draftFromConfig,
  type EntityDraft,
  emptyEntity,
  entityFromConfig,
  FIELD_TYPES,
  type FieldType,
  inputIdFor,
  PAGINATION_INPUTS,
  PAGINATION_STYLES,
  type PaginationDraft,
  type PaginationStyle,
  paginationFrom,
  type RestDraft,
  UPDATE_METHODS,
} from './rest-draft.ts';
import { OpenApiImportPanel, StartFromExample } from './rest-import.tsx';
import { StreamTestPanel } from './rest-stream-test.tsx';
import { Field } from './ui.tsx';

const AUTH_LABEL: Record<AuthType, string> = {
  none: 'None',
  bearer: 'Bearer token',
  basic: 'Basic (username and password)',
  header: 'API key in a header',
  query: 'API key in a query parameter',
};
const PAGINATION_LABEL: Record<PaginationStyle, string> = {
  cursor: 'Cursor (the answer names the next page’s cursor)',
  offset: 'Offset and limit',
  page: 'Page number',
  link: 'Link header (rel="next")',
};
const PAGINATION_FIELD: Record<
  keyof Omit<PaginationDraft, 'style'>,
  { label: string; placeholder: string; help?: string }
> = {
  cursorParam: { label: 'Cursor parameter', placeholder: 'after', help: 'The query parameter that sends the cursor.' },
  cursorPath: {
    label: 'Next cursor path',
    placeholder: 'next',
    help: 'Where the next cursor sits in the answer (dot path); missing or empty means the last page.',
  },
  limitParam: { label: 'Page size parameter', placeholder: 'limit', help: 'Optional for cursor and Link pagination.' },
  offsetParam: { label: 'Offset parameter', placeholder: 'offset' },
  totalPath: { label: 'Total count path', placeholder: 'total', help: 'Optional: where the answer says how many.' },
  pageParam: { label: 'Page parameter', placeholder: 'page' },
  firstPage: { label: 'First page number', placeholder: '1' },
  totalPagesPath: { label: 'Total pages path', placeholder: 'total_pages', help: 'Optional.' },
};
const FIELD_TYPE_LABEL: Record<FieldType, string> = {
  string: 'Text',
  number: 'Number',
  boolean: 'Yes/no',
  datetime: 'Date and time',
  object: 'Object',
  array: 'List',
};

/** Turns the connection form's refusal (the server's, or the draft's own checks) into messages per input. */
interface Messages {
  /** The message to show at an input, if any. */
  at(id: string): string | undefined;
  /** The input was changed: the server's error there no longer applies. */
  changed(id: string): void;
  /** The input was left: its own check may speak from now on. */
  touched(id: string): void;
}
const MessagesContext = createContext<Messages>({ at: () => undefined, changed: () => {}, touched: () => {} });

/** Whether the REST form shows the server's error at `path` (else the connection form lists it above). */
export function restFormShows(path: string, draft: RestDraft): boolean {
  return inputIdFor(path, draft) !== null;
}

export function RestBuilder({
  draft,
  onDraft,
  credentials,
  onCredential,
  credentialSettings,
  editing,
  reenter,
  error,
}: {
  draft: RestDraft;
  onDraft: (update: SetStateAction<RestDraft>) => void;
  /** The credential inputs' values by name (`token`, `username`, `password`, `apiKey`). */
  credentials: Record<string, string | boolean>;
  onCredential: (name: string, value: string) => void;
  /** The provider's credential settings: their labels and help. */
  credentialSettings: Setting[];
  editing: boolean;
  /** The base URL changed while editing: the credentials must be entered again. */
  reenter: boolean;
  /** The last refused save (ApiError from the server, or RestDraftInvalid from the checks). */
  error: unknown;
}) {
  const credentialsRequired = !editing || reenter;
  const local = checkDraft(draft, credentials, { credentialsRequired });
  const [touched, setTouched] = useState<ReadonlySet<string>>(new Set());
  const [changed, setChanged] = useState<ReadonlySet<string>>(new Set());
  // A new refusal: every input shows it again.
  const [seenError, setSeenError] = useState(error);
  if (seenError !== error) {
    setSeenError(error);
    setChanged(new Set());
  }
  const server = new Map<string, string[]>();
  if (error instanceof ApiError) {
    for (const d of error.details) {
      const id = inputIdFor(d.path, draft);
      if (id !== null) server.set(id, [...(server.get(id) ?? []), d.message]);
    }
  }
  const messages: Messages = {
    at: (id) => {
      const fromServer = server.get(id);
      if (fromServer && !changed.has(id)) return fromServer.join('; ');
      return touched.has(id) || error ? local[id] : undefined;
    },
    changed: (id) => {
      if (!changed.has(id)) setChanged((s) => new Set(s).add(id));
    },
    touched: (id) => {
      if (!touched.has(id)) setTouched((s) => new Set(s).add(id));
    },
  };

  const setEntity = (key: number, update: (e: EntityDraft) => EntityDraft) =>
    onDraft((d) => ({ ...d, entities: d.entities.map((e) => (e.key === key ? update(e) : e)) }));
  const addImported = (entities: ImportedEntity[], from: Pick<OpenApiImport, 'baseUrl' | 'auth'>) =>
    onDraft((d) => {
      const names = new Set(d.entities.map((e) => e.name.trim()));
      const added = entities.map(({ name, notes: _notes, ...e }) => {
        let unique = name;
        for (let i = 2; names.has(unique); i++) unique = `${name}_${i}`;
        names.add(unique);
        return entityFromConfig(unique, e as unknown as Record<string, unknown>);
      });
      const auth = draftFromConfig({ auth: from.auth }).draft;
      return {
        ...d,
        baseUrl: d.baseUrl.trim() === '' && from.baseUrl ? from.baseUrl : d.baseUrl,
        ...(d.authType === 'none' && auth.authType !== 'none'
          ? { authType: auth.authType, authName: auth.authName }
          : {}),
        entities: [...d.entities, ...added],
      };
    });
  const testRequest = () => ({
    config: configFromDraft(draft),
    credentials: credentialsFor(draft.authType, credentials),
  });
  const missingForTest = CREDENTIALS_OF[draft.authType].some((n) => !String(credentials[n] ?? '').trim());
  const credentialsHint =
    editing && missingForTest
      ? 'A test does not use the stored credentials: enter them above to test with them.'
      : undefined;

  return (
    <MessagesContext.Provider value={messages}>
      <div className="rest-builder">
        <StartFromExample onPick={(x) => onDraft((d) => draftFromConfig(x.config, d).draft)} />
        <OpenApiImportPanel onAdd={addImported} />
        {messages.at('config') && <p className="field-error">{messages.at('config')}</p>}

        <fieldset>
          <legend>API</legend>
          <TextInput
            id="baseUrl"
            label="Base URL"
            required
            type="url"
            placeholder="https://api.example.com/v1"
            help="Request paths are relative to it. The credentials are sent to this address only."
            value={draft.baseUrl}
            onChange={(v) => onDraft((d) => ({ ...d, baseUrl: v }))}
          />
          <div className="grid-3">
            <TextInput
              id="rateLimit.requests"
              label="Rate limit: requests"
              type="number"
              placeholder="10"
              help="Optional: at most this many requests…"
              value={draft.rateRequests}
              onChange={(v) => onDraft((d) => ({ ...d, rateRequests: v }))}
            />
            <TextInput
              id="rateLimit.perSeconds"
              label="Rate limit: per seconds"
              type="number"
              placeholder="1"
              help="…in this many seconds."
              value={draft.ratePerSeconds}
              onChange={(v) => onDraft((d) => ({ ...d, ratePerSeconds: v }))}
            />
            <TextInput
              id="timeoutMs"
              label="Request timeout (ms)"
              type="number"
              placeholder="30000"
              value={draft.timeoutMs}
              onChange={(v) => onDraft((d) => ({ ...d, timeoutMs: v }))}
            />
          </div>
        </fieldset>

        <fieldset>
          <legend>Authentication</legend>
          {messages.at('credentials') && <p className="field-error">{messages.at('credentials')}</p>}
          {reenter && (
            <p className="notice notice-warn" role="status">
              You changed the Base URL: enter the credentials for the new address. The stored credentials are never sent
              to a changed address; the ones you enter replace them all.
            </p>
          )}
          <SelectInput
            id="auth.type"
            label="Authentication type"
            value={draft.authType}
            options={AUTH_TYPES.map((t) => [t, AUTH_LABEL[t]])}
            onChange={(v) => onDraft((d) => ({ ...d, authType: v as AuthType }))}
          />
          {(draft.authType === 'header' || draft.authType === 'query') && (
            <TextInput
              id="auth.name"
              label={draft.authType === 'header' ? 'Header name' : 'Query parameter name'}
              required
              placeholder={draft.authType === 'header' ? 'X-API-Key' : 'api_key'}
              value={draft.authName}
              onChange={(v) => onDraft((d) => ({ ...d, authName: v }))}
            />
          )}
          {CREDENTIALS_OF[draft.authType].map((name) => {
            const s = credentialSettings.find((x) => x.name === name);
            const keep = editing && !reenter ? 'Stored encrypted; leave blank to keep the current value.' : undefined;
            return (
              <TextInput
                key={name}
                id={`credentials.${name}`}
                name={`credentials.${name}`}
                label={s?.label ?? name}
                type="password"
                required={credentialsRequired}
                help={keep ?? 'Stored encrypted; never shown again.'}
                value={String(credentials[name] ?? '')}
                onChange={(v) => onCredential(name, v)}
              />
            );
          })}
        </fieldset>

        <section className="rest-entities" aria-labelledby="rest-entities-title">
          <div className="section-header">
            <h2 id="rest-entities-title">Entity types</h2>
            <button
              type="button"
              className="btn"
              onClick={() => onDraft((d) => ({ ...d, entities: [...d.entities, emptyEntity()] }))}
            >
              Add entity type
            </button>
          </div>
          {messages.at('entities') && <p className="field-error">{messages.at('entities')}</p>}
          {draft.entities.length === 0 && (
            <p className="muted">
              No entity types yet: add one, import them from an OpenAPI document, or start from an example. Sync jobs
              pick one of them.
            </p>
          )}
          {draft.entities.map((e, i) => (
            <EntityEditor
              key={e.key}
              entity={e}
              index={i}
              onChange={(update) => setEntity(e.key, update)}
              onRemove={() => onDraft((d) => ({ ...d, entities: d.entities.filter((x) => x.key !== e.key) }))}
              testRequest={testRequest}
              credentialsHint={credentialsHint}
            />
          ))}
        </section>

        <JsonView draft={draft} onDraft={onDraft} />
      </div>
    </MessagesContext.Provider>
  );
}

// --- one entity type ----------------------------------------------------------------------------------------

function EntityEditor({
  entity: e,
  index,
  onChange,
  onRemove,
  testRequest,
  credentialsHint,
}: {
  entity: EntityDraft;
  index: number;
  onChange: (update: (e: EntityDraft) => EntityDraft) => void;
  onRemove: () => void;
  testRequest: () => { config: Record<string, unknown>; credentials: Record<string, string> };
  credentialsHint?: string;
}) {
  const at = `entities.#${e.key}.`;
  const set = <K extends keyof EntityDraft>(k: K, v: EntityDraft[K]) => onChange((x) => ({ ...x, [k]: v }));
  const setPage = (k: keyof PaginationDraft, v: string) =>
    onChange((x) => ({ ...x, pagination: { ...x.pagination, [k]: v } }));
  const title = e.name.trim() || `${index + 1} (unnamed)`;
  const applyDetected = (d: DetectedShape) =>
    onChange((x) => ({
      ...x,
      recordsPath: d.recordsPath ?? x.recordsPath,
      idField: d.idField ?? x.idField,
      updatedAtField: d.updatedAtField ?? x.updatedAtField,
      pagination: d.pagination ? paginationFrom(d.pagination, x.pagination) : x.pagination,
    }));

  return (
    <fieldset className="rest-entity" data-entity={e.name.trim()}>
      <legend>Entity type {title}</legend>
      <div className="grid-2">
        <TextInput
          id={`${at}name`}
          label="Entity type name"
          required
          placeholder="people"
          help="A lowercase identifier (a–z, 0–9, _); sync jobs name it."
          value={e.name}
          onChange={(v) => set('name', v)}
        />
        <TextInput
          id={`${at}listPath`}
          label="List path"
          required
          placeholder="/v2/people"
          help="The list request (GET), after the base URL."
          value={e.listPath}
          onChange={(v) => set('listPath', v)}
        />
      </div>
      <div className="grid-3">
        <TextInput
          id={`${at}recordsPath`}
          label="Records path"
          placeholder="data"
          help="Where the records sit in the answer (dot path); blank: the answer is the list."
          value={e.recordsPath}
          onChange={(v) => set('recordsPath', v)}
        />
        <TextInput
          id={`${at}idField`}
          label="ID field"
          placeholder="id"
          help="The record’s id (dot path); blank: id."
          value={e.idField}
          onChange={(v) => set('idField', v)}
        />
        <TextInput
          id={`${at}updatedAtField`}
          label="Updated-at field"
          placeholder="updated_at"
          help="When the record last changed (dot path); optional."
          value={e.updatedAtField}
          onChange={(v) => set('updatedAtField', v)}
        />
      </div>

      <fieldset>
        <legend>Pagination</legend>
        <SelectInput
          id={`${at}pagination.style`}
          label="Pagination style"
          value={e.pagination.style}
          options={PAGINATION_STYLES.map((s) => [s, PAGINATION_LABEL[s]])}
          onChange={(v) => setPage('style', v as PaginationStyle)}
        />
        <div className="grid-3">
          {PAGINATION_INPUTS[e.pagination.style].map((k) => (
            <TextInput
              key={k}
              id={`${at}pagination.${k}`}
              label={PAGINATION_FIELD[k].label}
              required={
                (e.pagination.style === 'cursor' && (k === 'cursorParam' || k === 'cursorPath')) ||
                ((e.pagination.style === 'offset' || e.pagination.style === 'page') &&
                  (k === 'offsetParam' || k === 'pageParam' || k === 'limitParam'))
              }
              type={k === 'firstPage' ? 'number' : 'text'}
              placeholder={PAGINATION_FIELD[k].placeholder}
              help={
                k === 'limitParam' && e.pagination.style !== 'cursor' && e.pagination.style !== 'link'
                  ? undefined
                  : PAGINATION_FIELD[k].help
              }
              value={e.pagination[k]}
              onChange={(v) => setPage(k, v)}
            />
          ))}
        </div>
      </fieldset>

      <div className="grid-3">
        <TextInput
          id={`${at}incremental.param`}
          label="Incremental parameter"
          placeholder="updated_since"
          help="Optional: the query parameter that gets the last run’s time, so incremental runs read changes only."
          value={e.incrementalParam}
          onChange={(v) => set('incrementalParam', v)}
        />
        <SelectInput
          id={`${at}incremental.format`}
          label="Incremental time format"
          value={e.incrementalFormat}
          options={[
            ['iso', 'ISO 8601 (2026-01-31T12:00:00Z)'],
            ['unix', 'Unix seconds'],
          ]}
          disabled={e.incrementalParam.trim() === ''}
          onChange={(v) => set('incrementalFormat', v as 'iso' | 'unix')}
        />
        <TextInput
          id={`${at}getPath`}
          label="Get path (one record)"
          placeholder="/v2/people/{id}"
          help="Optional; {id} is replaced. Needed for retries and conflict checks."
          value={e.getPath}
          onChange={(v) => set('getPath', v)}
        />
      </div>

      <WriteRequests entity={e} at={at} onChange={onChange} />
      <FieldList entity={e} at={at} onChange={onChange} />

      <StreamTestPanel
        entityName={e.name}
        request={testRequest}
        onUseDetected={applyDetected}
        credentialsHint={credentialsHint}
      />
      <div className="actions rest-entity-actions">
        <button type="button" className="btn btn-small btn-danger" onClick={onRemove}>
          Remove entity type {e.name.trim()}
        </button>
      </div>
    </fieldset>
  );
}

function WriteRequests({
  entity: e,
  at,
  onChange,
}: {
  entity: EntityDraft;
  at: string;
  onChange: (update: (e: EntityDraft) => EntityDraft) => void;
}) {
  const setIn = <K extends 'create' | 'update' | 'delete' | 'lookup'>(k: K, patch: Partial<EntityDraft[K]>) =>
    onChange((x) => ({ ...x, [k]: { ...x[k], ...patch } }));
  return (
    <fieldset className="rest-writes">
      <legend>Writes (outbound sync)</legend>
      <CheckInput label="Creates records" checked={e.create.on} onChange={(on) => setIn('create', { on })} />
      {e.create.on && (
        <div className="grid-4">
          <SelectInput
            id={`${at}create.method`}
            label="Create method"
            value={e.create.method}
            options={CREATE_METHODS.map((m) => [m, m])}
            onChange={(v) => setIn('create', { method: v as EntityDraft['create']['method'] })}
          />
          <TextInput
            id={`${at}create.path`}
            label="Create path"
            required
            placeholder="/v2/people"
            value={e.create.path}
            onChange={(v) => setIn('create', { path: v })}
          />
          <TextInput
            id={`${at}create.idPath`}
            label="New id path"
            placeholder="id"
            help="Where the answer holds the new id."
            value={e.create.idPath}
            onChange={(v) => setIn('create', { idPath: v })}
          />
          <TextInput
            id={`${at}create.idempotencyHeader`}
            label="Idempotency header"
            placeholder="Idempotency-Key"
            help="Optional, when the API supports one."
            value={e.create.idempotencyHeader}
            onChange={(v) => setIn('create', { idempotencyHeader: v })}
          />
        </div>
      )}
      <CheckInput label="Updates records" checked={e.update.on} onChange={(on) => setIn('update', { on })} />
      {e.update.on && (
        <div className="grid-4">
          <SelectInput
            id={`${at}update.method`}
            label="Update method"
            value={e.update.method}
            options={UPDATE_METHODS.map((m) => [m, m])}
            onChange={(v) => setIn('update', { method: v as EntityDraft['update']['method'] })}
          />
          <TextInput
            id={`${at}update.path`}
            label="Update path"
            required
            placeholder="/v2/people/{id}"
            value={e.update.path}
            onChange={(v) => setIn('update', { path: v })}
          />
        </div>
      )}
      <CheckInput label="Deletes records" checked={e.delete.on} onChange={(on) => setIn('delete', { on })} />
      {e.delete.on && (
        <div className="grid-4">
          <SelectInput
            id={`${at}delete.method`}
            label="Delete method"
            value={e.delete.method}
            options={DELETE_METHODS.map((m) => [m, m])}
            onChange={(v) => setIn('delete', { method: v as EntityDraft['delete']['method'] })}
          />
          <TextInput
            id={`${at}delete.path`}
            label="Delete path"
            required
            placeholder="/v2/people/{id}"
            help="404 and 410 count as already deleted."
            value={e.delete.path}
            onChange={(v) => setIn('delete', { path: v })}
          />
          <TextInput
            id={`${at}delete.body`}
            label="Delete body (JSON)"
            placeholder='{"archived": true}'
            help="Optional, for an API whose delete is a mark."
            value={e.delete.body}
            onChange={(v) => setIn('delete', { body: v })}
          />
        </div>
      )}
      <CheckInput
        label="Looks up before creating (for APIs without idempotency keys)"
        checked={e.lookup.on}
        onChange={(on) => setIn('lookup', { on })}
      />
      {e.lookup.on && (
        <div className="grid-2">
          <TextInput
            id={`${at}lookup.field`}
            label="Source id field"
            required
            placeholder="external_id"
            help="The record field that holds the source record’s id (creates set it)."
            value={e.lookup.field}
            onChange={(v) => setIn('lookup', { field: v })}
          />
          <TextInput
            id={`${at}lookup.param`}
            label="Lookup parameter"
            placeholder="external_id"
            help="The list path’s filter parameter; blank: the field’s name."
            value={e.lookup.param}
            onChange={(v) => setIn('lookup', { param: v })}
          />
        </div>
      )}
    </fieldset>
  );
}

function FieldList({
  entity: e,
  at,
  onChange,
}: {
  entity: EntityDraft;
  at: string;
  onChange: (update: (e: EntityDraft) => EntityDraft) => void;
}) {
  const messages = useContext(MessagesContext);
  const setField = (i: number, patch: Partial<EntityDraft['fields'][number]>) =>
    onChange((x) => ({ ...x, fields: x.fields.map((f, j) => (j === i ? { ...f, ...patch } : f)) }));
  return (
    <fieldset className="rest-fields">
      <legend>Fields</legend>
      <p className="help">
        Optional: the record’s fields, offered in the field mapping editor and checked on read (a record missing a
        required field, or holding another type, fails alone).
      </p>
      {messages.at(`${at}fields`) && <p className="field-error">{messages.at(`${at}fields`)}</p>}
      {e.fields.length > 0 && (
        <ol className="rest-field-list">
          {e.fields.map((f, i) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: the server names fields by position (fields.2.name)
            <li key={i} className="rest-field-row">
              <TextInput
                id={`${at}fields.${i}.name`}
                label={`Field ${i + 1} name`}
                required
                placeholder="email"
                value={f.name}
                onChange={(v) => setField(i, { name: v })}
              />
              <SelectInput
                id={`${at}fields.${i}.type`}
                label={`Field ${i + 1} type`}
                value={f.type}
                options={FIELD_TYPES.map((t) => [t, FIELD_TYPE_LABEL[t]])}
                onChange={(v) => setField(i, { type: v as FieldType })}
              />
              <CheckInput
                label={`Field ${i + 1} required`}
                checked={f.required}
                onChange={(required) => setField(i, { required })}
              />
              <button
                type="button"
                className="btn btn-small"
                aria-label={`Remove field ${i + 1}`}
                onClick={() => onChange((x) => ({ ...x, fields: x.fields.filter((_, j) => j !== i) }))}
              >
                Remove
              </button>
            </li>
          ))}
        </ol>
      )}
      <div>
        <button
          type="button"
          className="btn btn-small"
          onClick={() =>
            onChange((x) => ({ ...x, fields: [...x.fields, { name: '', type: 'string', required: false }] }))
          }
        >
          Add field
        </button>
      </div>
    </fieldset>
  );
}

// --- the JSON view ------------------------------------------------------------------------------------------

const pretty = (d: RestDraft) => JSON.stringify(configFromDraft(d), null, 2);

/** The config as JSON, in step with the form: form edits rewrite it; JSON that parses updates the form. */
function JsonView({ draft, onDraft }: { draft: RestDraft; onDraft: (update: SetStateAction<RestDraft>) => void }) {
  const [text, setText] = useState(() => pretty(draft));
  const [problem, setProblem] = useState<string | null>(null);
  /** The draft this view made from its own text: it must not rewrite the text being typed. */
  const fromText = useRef<RestDraft | null>(null);
  useEffect(() => {
    if (draft === fromText.current) return;
    setText(pretty(draft));
    setProblem(null);
  }, [draft]);

  const edit = (value: string) => {
    setText(value);
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch (err) {
      setProblem(`Not valid JSON yet (${(err as Error).message}); the form keeps its values.`);
      return;
    }
    const { draft: next, problems } = draftFromConfig(parsed, draft);
    if (problems.length > 0) {
      setProblem(`The form cannot show this: ${problems.join('; ')}.`);
      return;
    }
    setProblem(null);
    fromText.current = next;
    onDraft(next);
  };

  return (
    <details className="rest-panel rest-json">
      <summary>Advanced (JSON)</summary>
      <Field
        label="Configuration (JSON)"
        error={problem ?? undefined}
        help="The same settings as the form (credentials aside). Edits here show in the form as soon as they parse."
      >
        {(props) => (
          <textarea
            {...props}
            name="config.json"
            className="mono"
            rows={18}
            spellCheck={false}
            value={text}
            onChange={(e) => edit(e.target.value)}
          />
        )}
      </Field>
    </details>
  );
}

// --- inputs -------------------------------------------------------------------------------------------------

function TextInput({
  id,
  name,
  label,
  value,
  onChange,
  help,
  placeholder,
  required,
  type = 'text',
}: {
  /** The input id (see rest-draft.ts): where its errors are found. */
  id: string;
  /** The form control's name; default `config.<id>`. */
  name?: string;
  label: string;
  value: string;
  onChange: (v: string) => void;
  help?: ReactNode;
  placeholder?: string;
  required?: boolean;
  type?: 'text' | 'url' | 'number' | 'password';
}) {
  const messages = useContext(MessagesContext);
  return (
    <Field label={label} help={help} error={messages.at(id)} required={required}>
      {(props) => (
        <input
          {...props}
          name={name ?? `config.${id}`}
          type={type}
          inputMode={type === 'number' ? 'decimal' : undefined}
          autoComplete={type === 'password' ? 'new-password' : 'off'}
          spellCheck={false}
          required={required}
          placeholder={placeholder}
          value={value}
          onChange={(e) => {
            messages.changed(id);
            onChange(e.target.value);
          }}
          onBlur={() => messages.touched(id)}
        />
      )}
    </Field>
  );
}

function SelectInput({
  id,
  label,
  value,
  options,
  onChange,
  disabled,
}: {
  id: string;
  label: string;
  value: string;
  options: [string, string][];
  onChange: (v: string) => void;
  disabled?: boolean;
}) {
  const messages = useContext(MessagesContext);
  return (
    <Field label={label} error={messages.at(id)}>
      {(props) => (
        <select
          {...props}
          name={`config.${id}`}
          value={value}
          disabled={disabled}
          onChange={(e) => {
            messages.changed(id);
            onChange(e.target.value);
          }}
        >
          {options.map(([v, text]) => (
            <option key={v} value={v}>
              {text}
            </option>
          ))}
        </select>
      )}
    </Field>
  );
}

function CheckInput({ label, checked, onChange }: { label: string; checked: boolean; onChange: (v: boolean) => void }) {
  return (
    <div className="field field-check">
      <label>
        <input type="checkbox" checked={checked} onChange={(e) => onChange(e.target.checked)} /> {label}
      </label>
    </div>
  );
}
