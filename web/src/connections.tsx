/** Connected apps: the list, the connect/edit form, and a connection's detail view with its sync jobs. */
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { Link } from 'wouter';
import { ApiError, api, type Connection, type Provider, type Setting } from './api.ts';
import { scheduleInWords } from './cron.ts';
import { RangeLine, SearchBox, useDebounced, useSearchable } from './list-search.tsx';
import { navigate, paths } from './navigation.ts';
import { RestBuilder, restFormShows } from './rest-builder.tsx';
import { configForSave, credentialsFor, draftFromConfig } from './rest-draft.ts';
import {
  ConfirmButton,
  DateTime,
  DIRECTION_LABEL,
  Empty,
  ErrorState,
  Field,
  FormErrors,
  fieldErrorOf,
  Loading,
  MODE_LABEL,
  Pager,
  StatusBadge,
  useCursorPages,
  useDocumentTitle,
  useFocusFirstError,
} from './ui.tsx';

export function useProviders() {
  return useQuery({ queryKey: ['providers'], queryFn: api.providers, staleTime: 60_000 });
}

/** The server may answer with a path; shown in full so it can be pasted into the provider's dashboard. */
function absoluteUrl(url: string): string {
  try {
    return new URL(url, window.location.origin).href;
  } catch {
    return url;
  }
}

function providerName(providers: Provider[] | undefined, name: string): string {
  return providers?.find((p) => p.name === name)?.displayName ?? name;
}

// --- list --------------------------------------------------------------------------------------------

/** Connected apps a page at a time (the server pages and searches), so a fleet of any size lists at once. */
const CONNECTIONS_PAGE_SIZE = 50;
/** A connection's sync jobs a page at a time. */
const JOBS_PAGE_SIZE = 50;

export function ConnectionsPage() {
  useDocumentTitle('Connected apps');
  const [search, setSearch] = useState('');
  const q = useDebounced(search.trim());
  const pages = useCursorPages(q);
  const connections = useQuery({
    queryKey: ['connections', 'page', q, pages.cursor],
    queryFn: () => api.connectionsPage({ q, limit: CONNECTIONS_PAGE_SIZE, cursor: pages.cursor }),
    placeholderData: keepPreviousData,
    refetchInterval: 15_000,
  });
  const providers = useProviders();
  const items = connections.data?.items ?? [];
  const searchable = useSearchable(search, connections.data?.total, CONNECTIONS_PAGE_SIZE);
  return (
    <section aria-labelledby="connections-title">
      <div className="page-header">
        <h1 id="connections-title">Connected apps</h1>
        <Link to={paths.newConnection()} className="btn btn-primary">
          Connect a provider
        </Link>
      </div>
      {searchable && (
        <div className="filters">
          <SearchBox label="Search by name" value={search} onChange={setSearch} placeholder="e.g. Stripe" />
        </div>
      )}
      {connections.isPending ? (
        <Loading label="Loading connections…" />
      ) : connections.isError ? (
        <ErrorState error={connections.error} retry={() => connections.refetch()} />
      ) : items.length === 0 && q !== '' ? (
        <Empty>
          <p>No connected apps match “{q}”.</p>
        </Empty>
      ) : items.length === 0 ? (
        <Empty>
          <p>No connected apps yet.</p>
          <Link to={paths.newConnection()} className="btn btn-primary">
            Connect your first provider
          </Link>
        </Empty>
      ) : (
        <>
          <RangeLine
            page={pages.page}
            pageSize={CONNECTIONS_PAGE_SIZE}
            shown={items.length}
            total={connections.data.total}
            noun={['connected app', 'connected apps']}
            search={q}
          />
          <div className="table-wrap">
            <table className="table">
              <caption className="sr-only">Connected apps</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Provider</th>
                  <th scope="col">Status</th>
                  <th scope="col" className="num">
                    Jobs
                  </th>
                  <th scope="col">Last run</th>
                </tr>
              </thead>
              <tbody>
                {items.map((c) => (
                  <tr key={c.id}>
                    <th scope="row">
                      <Link to={paths.connection(c.id)}>{c.name}</Link>
                    </th>
                    <td>{providerName(providers.data, c.provider)}</td>
                    <td>
                      <StatusBadge status={c.status} />
                    </td>
                    <td className="num">{c.jobCount.toLocaleString()}</td>
                    <td>
                      {c.lastRun ? (
                        <span className="stack-inline">
                          <StatusBadge status={c.lastRun.status} />
                          <DateTime iso={c.lastRun.startedAt ?? c.lastRun.completedAt} />
                        </span>
                      ) : (
                        <span className="muted">Never run</span>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Pager
            label="Connected app pages"
            page={pages.page}
            hasPrev={pages.hasPrev}
            hasNext={Boolean(connections.data.nextCursor)}
            onPrev={pages.prev}
            onNext={() => pages.next(connections.data.nextCursor)}
          />
        </>
      )}
    </section>
  );
}

// --- connect / edit form -----------------------------------------------------------------------------

type Values = Record<string, string | boolean>;

function initialValues(settings: Setting[], current?: Record<string, unknown>): Values {
  const values: Values = {};
  for (const s of settings) {
    const v = current?.[s.name];
    if (s.type === 'boolean') values[s.name] = v === true;
    else if (v === undefined || v === null) values[s.name] = '';
    else values[s.name] = s.type === 'json' ? JSON.stringify(v, null, 2) : String(v);
  }
  return values;
}

/** Turns form values into the request object; blank optional values are left out. Throws on bad JSON. */
function toPayload(settings: Setting[], values: Values, prefix: string, keepBlank = false): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const problems: { path: string; message: string }[] = [];
  for (const s of settings) {
    const v = values[s.name];
    if (s.type === 'boolean') {
      out[s.name] = v === true;
      continue;
    }
    const str = typeof v === 'string' ? v.trim() : '';
    if (str === '') {
      if (keepBlank) continue;
      continue;
    }
    if (s.type === 'number') out[s.name] = Number(str);
    else if (s.type === 'json') {
      try {
        out[s.name] = JSON.parse(str);
      } catch {
        problems.push({ path: `${prefix}.${s.name}`, message: 'is not valid JSON' });
      }
    } else out[s.name] = str;
  }
  if (problems.length > 0) throw new LocalValidation(problems);
  return out;
}

/** Does a config setting decide where the credentials are sent? (The server's rule: `url` settings by default.) */
function isCredentialTarget(setting: Setting): boolean {
  return setting.credentialTarget ?? setting.type === 'url';
}

/** A form value as an address, so that `https://a.test` and `https://a.test/` compare equal (as on the server). */
function addressOf(value: string | boolean | undefined): string {
  const text = typeof value === 'string' ? value.trim() : String(value ?? '');
  return URL.canParse(text) ? new URL(text).href : text;
}

/** Credentials are text: the server refuses other values. */
function asText(values: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
}

class LocalValidation extends Error {
  constructor(readonly details: { path: string; message: string }[]) {
    super('Please correct the highlighted fields.');
  }
}

function SettingInput({
  setting,
  prefix,
  value,
  onChange,
  error,
  editing,
}: {
  setting: Setting;
  prefix: string;
  value: string | boolean;
  onChange: (v: string | boolean) => void;
  error?: string;
  editing: boolean;
}) {
  const keepHint = editing && setting.secret ? 'Stored encrypted; leave blank to keep the current value.' : undefined;
  const help = [setting.help, keepHint].filter(Boolean).join(' ') || undefined;
  const required = setting.required && !(editing && setting.secret);
  if (setting.type === 'boolean') {
    return (
      <div className={`field field-check${error ? ' field-invalid' : ''}`}>
        <label>
          <input
            type="checkbox"
            name={`${prefix}.${setting.name}`}
            checked={value === true}
            onChange={(e) => onChange(e.target.checked)}
          />{' '}
          {setting.label}
        </label>
        {help && <p className="help">{help}</p>}
        {error && <p className="field-error">{error}</p>}
      </div>
    );
  }
  return (
    <Field label={setting.label} help={help} error={error} required={required}>
      {(props) =>
        setting.type === 'json' ? (
          <textarea
            {...props}
            name={`${prefix}.${setting.name}`}
            rows={4}
            className="mono"
            value={String(value)}
            placeholder={setting.placeholder}
            required={required}
            onChange={(e) => onChange(e.target.value)}
          />
        ) : (
          <input
            {...props}
            name={`${prefix}.${setting.name}`}
            type={
              setting.secret
                ? 'password'
                : setting.type === 'number'
                  ? 'number'
                  : setting.type === 'url'
                    ? 'url'
                    : 'text'
            }
            autoComplete={setting.secret ? 'new-password' : 'off'}
            spellCheck={false}
            value={String(value)}
            placeholder={setting.placeholder}
            required={required}
            onChange={(e) => onChange(e.target.value)}
          />
        )
      }
    </Field>
  );
}

export function ConnectionForm({ connectionId }: { connectionId?: string }) {
  const editing = connectionId !== undefined;
  const providers = useProviders();
  const existing = useQuery({
    queryKey: ['connection', connectionId],
    queryFn: () => api.connection(connectionId!),
    enabled: editing,
  });
  useDocumentTitle(editing ? 'Edit connection' : 'Connect a provider');

  if (providers.isPending || (editing && existing.isPending)) return <Loading />;
  if (providers.isError) return <ErrorState error={providers.error} retry={() => providers.refetch()} />;
  if (editing && existing.isError) return <ErrorState error={existing.error} retry={() => existing.refetch()} />;
  if (providers.data.length === 0) return <Empty>The server has no providers.</Empty>;
  return <ConnectionFormBody providers={providers.data} existing={existing.data} />;
}

function ConnectionFormBody({ providers, existing }: { providers: Provider[]; existing?: Connection }) {
  const editing = existing !== undefined;
  const queryClient = useQueryClient();
  const [providerName, setProviderName] = useState(existing?.provider ?? providers[0]!.name);
  const provider = providers.find((p) => p.name === providerName);
  const [name, setName] = useState(existing?.name ?? '');
  const [config, setConfig] = useState<Values>(() => initialValues(provider?.config ?? [], existing?.config));
  const [savedConfig] = useState<Values>(() => initialValues(provider?.config ?? [], existing?.config));
  const [credentials, setCredentials] = useState<Values>(() => initialValues(provider?.credentials ?? []));
  const [testAfter, setTestAfter] = useState(true);
  /** The generic REST connector gets its own form (rest-builder.tsx) instead of JSON settings. */
  const rest = providerName === 'rest';
  const [restDraft, setRestDraft] = useState(() => draftFromConfig(existing?.config ?? {}).draft);
  const configValues: Values = rest ? { ...config, baseUrl: restDraft.baseUrl } : config;

  const chooseProvider = (p: string) => {
    setProviderName(p);
    const next = providers.find((x) => x.name === p);
    setConfig(initialValues(next?.config ?? []));
    setCredentials(initialValues(next?.credentials ?? []));
  };

  /**
   * Settings that decide where the credentials are sent and were changed: the server then needs the credentials
   * again (stored ones never follow a new address), and the ones entered replace them all.
   */
  const movedTargets = editing
    ? (provider?.config ?? []).filter(
        (s) => isCredentialTarget(s) && addressOf(configValues[s.name]) !== addressOf(savedConfig[s.name]),
      )
    : [];
  const reenter = movedTargets.length > 0;

  const save = useMutation({
    mutationFn: async () => {
      const cfg = rest
        ? configForSave(restDraft, credentials, { credentialsRequired: !editing || reenter })
        : toPayload(provider?.config ?? [], config, 'config');
      const creds = rest
        ? credentialsFor(restDraft.authType, credentials)
        : asText(toPayload(provider?.credentials ?? [], credentials, 'credentials', editing));
      const saved = editing
        ? await api.updateConnection(existing.id, {
            name: name.trim(),
            config: cfg,
            ...(Object.keys(creds).length > 0 || reenter ? { credentials: creds } : {}),
          })
        : await api.createConnection({ provider: providerName, name: name.trim(), config: cfg, credentials: creds });
      const test = testAfter ? await api.testConnection(saved.id).catch(() => null) : null;
      return { saved, test };
    },
    onSuccess: ({ saved, test }) => {
      void queryClient.invalidateQueries({ queryKey: ['connections'] });
      void queryClient.invalidateQueries({ queryKey: ['connection', saved.id] });
      if (test) sessionStorage.setItem(`otesse-sync.test.${saved.id}`, JSON.stringify(test));
      navigate(paths.connection(saved.id));
    },
  });

  const error = save.error;
  const errAt = (path: string) =>
    error instanceof LocalValidation ? error.details.find((d) => d.path === path)?.message : fieldErrorOf(error, path);
  /** Errors about a whole group (`config`, `credentials`), not about one of its settings. */
  const groupErr = (path: string) => (error instanceof ApiError ? error.fieldError(path) : undefined);
  const shown = (path: string) =>
    path === 'name' ||
    path === 'provider' ||
    (rest
      ? restFormShows(path, restDraft)
      : path === 'config' ||
        path === 'credentials' ||
        (provider?.config ?? []).some((s) => path === `config.${s.name}` || path.startsWith(`config.${s.name}.`)) ||
        (provider?.credentials ?? []).some((s) => path === `credentials.${s.name}`));

  const formRef = useFocusFirstError(save.error);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    save.mutate();
  };

  return (
    <section aria-labelledby="connect-title" className="narrow">
      <nav aria-label="Breadcrumb" className="breadcrumb">
        <Link to={paths.connections()}>Connected apps</Link>
        {editing && (
          <>
            {' / '}
            <Link to={paths.connection(existing.id)}>{existing.name}</Link>
          </>
        )}
      </nav>
      <h1 id="connect-title">{editing ? `Edit ${existing.name}` : 'Connect a provider'}</h1>
      <form ref={formRef} onSubmit={submit} noValidate className="form card" aria-describedby="connect-note">
        <p id="connect-note" className="muted">
          Secrets are stored encrypted and are never shown again.
        </p>
        {save.isError && <FormErrors error={error} shownPaths={shown} />}
        <Field label="Provider" required error={errAt('provider')}>
          {(props) => (
            <select
              {...props}
              name="provider"
              value={providerName}
              disabled={editing}
              onChange={(e) => chooseProvider(e.target.value)}
            >
              {providers.map((p) => (
                <option key={p.name} value={p.name}>
                  {p.displayName}
                </option>
              ))}
            </select>
          )}
        </Field>
        {provider?.description && <p className="help">{provider.description}</p>}
        <Field label="Name" required error={errAt('name')} help="How this connection is shown, e.g. “Stripe (live)”.">
          {(props) => <input {...props} name="name" value={name} required onChange={(e) => setName(e.target.value)} />}
        </Field>
        {rest && (
          <RestBuilder
            draft={restDraft}
            onDraft={setRestDraft}
            credentials={credentials}
            onCredential={(n, v) => setCredentials((c) => ({ ...c, [n]: v }))}
            credentialSettings={provider?.credentials ?? []}
            editing={editing}
            reenter={reenter}
            error={save.error}
          />
        )}
        {!rest && (provider?.config.length ?? 0) > 0 && (
          <fieldset>
            <legend>Configuration</legend>
            {groupErr('config') && <p className="field-error">{groupErr('config')}</p>}
            {provider!.config.map((s) => (
              <SettingInput
                key={s.name}
                setting={s}
                prefix="config"
                editing={editing}
                value={config[s.name] ?? ''}
                error={errAt(`config.${s.name}`)}
                onChange={(v) => setConfig((c) => ({ ...c, [s.name]: v }))}
              />
            ))}
          </fieldset>
        )}
        {!rest && (provider?.credentials.length ?? 0) > 0 && (
          <fieldset>
            <legend>Credentials</legend>
            {reenter && (
              <p className="notice notice-warn" role="status">
                You changed {movedTargets.map((s) => s.label).join(' and ')}: enter the credentials for the new address.
                The stored credentials are never sent to a changed address; the ones you enter replace them all.
              </p>
            )}
            {groupErr('credentials') && <p className="field-error">{groupErr('credentials')}</p>}
            {provider!.credentials.map((s) => (
              <SettingInput
                key={s.name}
                setting={s}
                prefix="credentials"
                editing={editing && !reenter}
                value={credentials[s.name] ?? ''}
                error={errAt(`credentials.${s.name}`)}
                onChange={(v) => setCredentials((c) => ({ ...c, [s.name]: v }))}
              />
            ))}
          </fieldset>
        )}
        <div className="field field-check">
          <label>
            <input type="checkbox" checked={testAfter} onChange={(e) => setTestAfter(e.target.checked)} /> Test the
            connection after saving
          </label>
        </div>
        <div className="actions">
          <button type="submit" className="btn btn-primary" disabled={save.isPending}>
            {save.isPending ? 'Saving…' : editing ? 'Save changes' : 'Connect'}
          </button>
          <Link to={editing ? paths.connection(existing.id) : paths.connections()} className="btn">
            Cancel
          </Link>
        </div>
      </form>
    </section>
  );
}

// --- detail ------------------------------------------------------------------------------------------

export function ConnectionDetail({ connectionId }: { connectionId: string }) {
  const queryClient = useQueryClient();
  const connection = useQuery({ queryKey: ['connection', connectionId], queryFn: () => api.connection(connectionId) });
  const [search, setSearch] = useState('');
  const q = useDebounced(search.trim());
  const pages = useCursorPages(`${connectionId} ${q}`);
  const jobs = useQuery({
    queryKey: ['jobs', connectionId, 'page', q, pages.cursor],
    queryFn: () => api.jobsPage({ connectionId, q, limit: JOBS_PAGE_SIZE, cursor: pages.cursor }),
    placeholderData: keepPreviousData,
    refetchInterval: 10_000,
  });
  const providers = useProviders();
  const searchable = useSearchable(search, jobs.data?.total, JOBS_PAGE_SIZE);
  useDocumentTitle(connection.data?.name);

  const [testResult, setTestResult] = useState<{ ok: boolean; message: string } | null>(() => {
    const key = `otesse-sync.test.${connectionId}`;
    const stored = sessionStorage.getItem(key);
    sessionStorage.removeItem(key);
    return stored ? (JSON.parse(stored) as { ok: boolean; message: string }) : null;
  });
  const test = useMutation({
    mutationFn: () => api.testConnection(connectionId),
    onMutate: () => setTestResult(null),
    onSuccess: (r) => {
      setTestResult(r);
      void queryClient.invalidateQueries({ queryKey: ['connection', connectionId] });
      void queryClient.invalidateQueries({ queryKey: ['connections'] });
    },
  });
  const remove = useMutation({
    mutationFn: () => api.deleteConnection(connectionId),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: ['connections'] });
      navigate(paths.connections());
    },
  });

  if (connection.isPending) return <Loading label="Loading connection…" />;
  if (connection.isError) return <ErrorState error={connection.error} retry={() => connection.refetch()} />;
  const c = connection.data;
  const provider = providers.data?.find((p) => p.name === c.provider);

  return (
    <section aria-labelledby="connection-title">
      <nav aria-label="Breadcrumb" className="breadcrumb">
        <Link to={paths.connections()}>Connected apps</Link>
      </nav>
      <div className="page-header">
        <div>
          <h1 id="connection-title">{c.name}</h1>
          <p className="subtitle">
            {provider?.displayName ?? c.provider} · <StatusBadge status={c.status} />
            {c.statusMessage && <span className="muted"> {c.statusMessage}</span>}
          </p>
        </div>
        <div className="actions">
          <button type="button" className="btn" onClick={() => test.mutate()} disabled={test.isPending}>
            {test.isPending ? 'Testing…' : 'Test connection'}
          </button>
          <Link to={paths.editConnection(c.id)} className="btn">
            Edit
          </Link>
          <ConfirmButton
            title={`Delete ${c.name}?`}
            message={
              c.jobCount > 0
                ? `This connection has ${c.jobCount} sync job(s); delete them first.`
                : 'The connection and its stored credentials will be removed.'
            }
            confirmLabel="Delete connection"
            onConfirm={() => remove.mutate()}
          >
            Delete
          </ConfirmButton>
        </div>
      </div>
      <div aria-live="polite">
        {testResult && (
          <p className={`notice ${testResult.ok ? 'notice-ok' : 'notice-bad'}`} role="status">
            <strong>{testResult.ok ? 'Connection works.' : 'Connection test failed.'}</strong> {testResult.message}
          </p>
        )}
        {test.isError && <ErrorState error={test.error} title="Could not test the connection" />}
        {remove.isError && <ErrorState error={remove.error} title="Could not delete the connection" />}
      </div>

      <dl className="props card">
        <div>
          <dt>Webhook URL</dt>
          <dd>
            <code>{absoluteUrl(c.webhookUrl)}</code>
          </dd>
        </div>
        {Object.entries(c.config ?? {}).map(([k, v]) => (
          <div key={k}>
            <dt>{provider?.config.find((s) => s.name === k)?.label ?? k}</dt>
            <dd>
              <code>{typeof v === 'string' ? v : JSON.stringify(v)}</code>
            </dd>
          </div>
        ))}
        <div>
          <dt>Created</dt>
          <dd>
            <DateTime iso={c.createdAt} />
          </dd>
        </div>
      </dl>

      <div className="section-header">
        <h2 id="jobs-title">Sync jobs</h2>
        <Link to={paths.newJob(c.id)} className="btn btn-primary">
          Add Sync Job
        </Link>
      </div>
      {searchable && (
        <div className="filters">
          <SearchBox label="Search jobs by name" value={search} onChange={setSearch} placeholder="e.g. customers" />
        </div>
      )}
      {jobs.isPending ? (
        <Loading label="Loading sync jobs…" />
      ) : jobs.isError ? (
        <ErrorState error={jobs.error} retry={() => jobs.refetch()} />
      ) : jobs.data.items.length === 0 ? (
        <Empty>
          <p>{q ? `No sync jobs match “${q}”.` : 'No sync jobs for this connection yet.'}</p>
        </Empty>
      ) : (
        <>
          <RangeLine
            page={pages.page}
            pageSize={JOBS_PAGE_SIZE}
            shown={jobs.data.items.length}
            total={jobs.data.total}
            noun={['sync job', 'sync jobs']}
            search={q}
          />
          <div className="table-wrap">
            <table className="table" aria-labelledby="jobs-title" aria-busy={jobs.isPlaceholderData}>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Entity type</th>
                  <th scope="col">Direction</th>
                  <th scope="col">Mode</th>
                  <th scope="col">Schedule</th>
                  <th scope="col">Last run</th>
                  <th scope="col">Next run</th>
                </tr>
              </thead>
              <tbody>
                {jobs.data.items.map((j) => (
                  <tr key={j.id} data-job-id={j.id}>
                    <th scope="row">
                      <Link to={paths.job(j.id)}>{j.name}</Link>
                      {!j.enabled && (
                        <>
                          {' '}
                          <StatusBadge status="disabled" />
                        </>
                      )}
                    </th>
                    <td>{provider?.entityTypes.find((t) => t.name === j.entityType)?.label ?? j.entityType}</td>
                    <td>{DIRECTION_LABEL[j.direction] ?? j.direction}</td>
                    <td>{MODE_LABEL[j.mode] ?? j.mode}</td>
                    <td>{scheduleInWords(j.schedule, j.timezone)}</td>
                    <td>
                      {j.lastRun ? (
                        <span className="stack-inline">
                          <StatusBadge status={j.lastRun.status} />
                          <DateTime iso={j.lastRun.startedAt ?? j.lastRunAt} />
                        </span>
                      ) : (
                        <span className="muted">Never run</span>
                      )}
                    </td>
                    <td>{j.schedule ? <DateTime iso={j.nextRunAt} /> : <span className="muted">Manual</span>}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Pager
            label="Sync job pages"
            page={pages.page}
            hasPrev={pages.hasPrev}
            hasNext={Boolean(jobs.data.nextCursor)}
            onPrev={pages.prev}
            onNext={() => pages.next(jobs.data.nextCursor)}
          />
        </>
      )}
    </section>
  );
}
