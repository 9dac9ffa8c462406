/**
 * Conflicts (manual strategy): records both sides changed since the last sync, left for a person. Each open one
 * shows a side-by-side field diff; it is resolved by side (Keep local / Keep provider), field by field, or with
 * the selected ones (Resolve selected). The Resolved view says what was decided, by whom and when.
 */
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useId, useState } from 'react';
import { Link } from 'wouter';
import { ApiError, api } from './api.ts';
import { paths } from './navigation.ts';
import { DateTime, Empty, ErrorState, errorMessage, Loading, Pager, StatusBadge, useCursorPages } from './ui.tsx';

const PAGE_SIZE = 20;
const RESOLVER_KEY = 'otesse-sync.resolvedBy';

export type Conflict = Awaited<ReturnType<typeof api.conflicts>>['items'][number];
type Side = 'local' | 'provider';
type Status = Conflict['status'];
type Resolution = { winner: Side } | { fields: Record<string, Side> };

const SIDE_LABEL: Record<Side, string> = { local: 'Local', provider: 'Provider' };

/** How a conflict is named to people: its provider id (and its local id in the details). */
const recordLabel = (c: Conflict) => c.externalId;

function readResolver(): string {
  try {
    return localStorage.getItem(RESOLVER_KEY) ?? '';
  } catch {
    return '';
  }
}

function saveResolver(name: string): void {
  try {
    if (name.trim()) localStorage.setItem(RESOLVER_KEY, name.trim());
    else localStorage.removeItem(RESOLVER_KEY);
  } catch {
    // storage unavailable: the name is kept for this page only
  }
}

/** The fields to show: the differing ones first (in the server's order), then the others. */
function fieldsOf(c: Conflict): string[] {
  const rest = new Set([...Object.keys(c.localContent ?? {}), ...Object.keys(c.providerContent ?? {})]);
  for (const f of c.fields) rest.delete(f);
  return [...c.fields, ...[...rest].sort()];
}

function formatValue(value: unknown): { text: string; empty: boolean } {
  if (value === null || value === undefined) return { text: 'empty', empty: true };
  if (value === '') return { text: 'empty text', empty: true };
  if (typeof value === 'string') return { text: value, empty: false };
  return { text: JSON.stringify(value), empty: false };
}

function Value({ value }: { value: unknown }) {
  const { text, empty } = formatValue(value);
  return empty ? <span className="muted">({text})</span> : <span className="value">{text}</span>;
}

/** What a resolution did, in words. */
export function resolutionInWords(c: Conflict): string {
  const r = c.resolution as Partial<{ winner: Side; fields: Record<string, Side> }> | null;
  if (!r) return '—';
  if (r.winner === 'local') {
    if (c.providerDeleted) return 'Local kept: the record was created again at the provider';
    if (c.localDeleted) return 'Local kept: the record was deleted at the provider too';
    return 'Local kept: its values were written to the provider';
  }
  if (r.winner === 'provider') {
    if (c.providerDeleted) return 'Provider kept: the local record was deleted too';
    if (c.localDeleted) return 'Provider kept: the local record was written again';
    return 'Provider kept: its values were written to the local record';
  }
  if (r.fields) {
    // In the order of the differing fields (the stored object's key order is not kept).
    const order = [...c.fields, ...Object.keys(r.fields).filter((f) => !c.fields.includes(f))];
    const fields = r.fields;
    return `By field: ${order
      .filter((f) => fields[f])
      .map((f) => `${f} from ${SIDE_LABEL[fields[f]!]?.toLowerCase() ?? fields[f]}`)
      .join(', ')}`;
  }
  return JSON.stringify(r);
}

/** The values the differing fields have after the resolution (none when a deletion won). */
function resultOf(c: Conflict): [string, unknown][] | null {
  const r = c.resolution as Partial<{ winner: Side; fields: Record<string, Side> }> | null;
  if (!r) return null;
  const pick = (side: Side | undefined) => (side === 'provider' ? c.providerContent : c.localContent);
  if (r.winner) {
    const content = pick(r.winner);
    return content ? c.fields.map((f) => [f, content[f]]) : null;
  }
  if (r.fields) return c.fields.map((f) => [f, pick(r.fields![f])?.[f]]);
  return null;
}

/** The server's refusal in words: its message and, per field, what is wrong. */
function ResolveError({ error }: { error: unknown }) {
  const details = error instanceof ApiError ? error.details : [];
  return (
    <div className="state state-error" role="alert">
      <strong>Not resolved.</strong> {errorMessage(error)}
      {error instanceof ApiError && error.status === 409 && (
        <p className="small">Try again when the cause is fixed, or choose the other side.</p>
      )}
      {details.length > 0 && (
        <ul>
          {details.map((d) => (
            <li key={d.path + d.message}>
              <code>{d.path.replace(/^fields\./, '') || '(request)'}</code>: {d.message}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

export function ConflictsPanel({ jobId, openCount }: { jobId: string; openCount: number }) {
  const queryClient = useQueryClient();
  const [status, setStatus] = useState<Status>('open');
  const pages = useCursorPages(status);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [bulkWinner, setBulkWinner] = useState<Side>('local');
  const [bulkErrors, setBulkErrors] = useState<Map<string, unknown>>(new Map());
  const [result, setResult] = useState<{ ok: boolean; text: string } | null>(null);
  const [resolver, setResolver] = useState(readResolver);
  const resolverId = useId();
  const conflicts = useQuery({
    // The job's open count is in the key: a run that raises (or a resolution that closes) one refetches the list.
    queryKey: ['conflicts', jobId, status, pages.cursor, openCount],
    queryFn: () => api.conflicts(jobId, { status, limit: PAGE_SIZE, cursor: pages.cursor }),
    placeholderData: keepPreviousData,
    refetchInterval: 15_000,
  });

  const refresh = () => {
    void queryClient.invalidateQueries({ queryKey: ['conflicts', jobId] });
    void queryClient.invalidateQueries({ queryKey: ['job', jobId] });
    void queryClient.invalidateQueries({ queryKey: ['jobs'] });
  };
  const withResolver = (body: Resolution) => (resolver.trim() ? { ...body, resolvedBy: resolver.trim() } : body);

  const bulk = useMutation({
    mutationFn: async ({ ids, winner }: { ids: string[]; winner: Side }) => {
      // One at a time: each resolution writes to the provider, and its rate limits apply.
      const outcomes: PromiseSettledResult<Conflict>[] = [];
      for (const id of ids) {
        try {
          outcomes.push({ status: 'fulfilled', value: await api.resolveConflict(id, withResolver({ winner })) });
        } catch (reason) {
          outcomes.push({ status: 'rejected', reason });
        }
      }
      return { ids, winner, outcomes };
    },
    onMutate: () => {
      setResult(null);
      setBulkErrors(new Map());
    },
    onSuccess: ({ ids, winner, outcomes }) => {
      const errors = new Map<string, unknown>();
      outcomes.forEach((o, i) => {
        if (o.status === 'rejected') errors.set(ids[i]!, o.reason);
      });
      const done = ids.length - errors.size;
      let text = `Resolved ${done} conflict${done === 1 ? '' : 's'}: ${SIDE_LABEL[winner].toLowerCase()} kept.`;
      if (errors.size > 0) {
        const first = [...errors.values()][0];
        text += ` ${errors.size} not resolved: ${errorMessage(first)}`;
      }
      setResult({ ok: errors.size === 0, text });
      setBulkErrors(errors);
      setSelected(new Set([...errors.keys()]));
      refresh();
    },
  });

  const items = conflicts.data?.items ?? [];
  const selectable = items.filter((c) => c.status === 'open');
  const selectedIds = [...selected].filter((id) => selectable.some((c) => c.id === id));
  const allSelected = selectable.length > 0 && selectable.every((c) => selected.has(c.id));
  const toggle = (id: string) =>
    setSelected((s) => {
      const n = new Set(s);
      if (n.has(id)) n.delete(id);
      else n.add(id);
      return n;
    });

  return (
    <section aria-labelledby="conflicts-title" className="panel" id="conflicts">
      <div className="section-header">
        <h2 id="conflicts-title">
          Conflicts
          <span className="count" data-testid="open-conflicts-count" data-count={openCount}>
            {openCount}
            <span className="sr-only"> open</span>
          </span>
        </h2>
        <div className="filters">
          <label htmlFor="conflicts-status">Show</label>
          <select
            id="conflicts-status"
            value={status}
            onChange={(e) => {
              setStatus(e.target.value as Status);
              setSelected(new Set());
              setBulkErrors(new Map());
            }}
          >
            <option value="open">Open</option>
            <option value="resolved">Resolved</option>
          </select>
        </div>
      </div>
      <p className="help">
        Records changed on both sides since the last sync, while the job's conflict strategy is Manual review: runs
        write neither side until a person decides here. The chosen values are written to the other side; the next run
        then finds both sides in step. A new edit on both sides raises a new conflict.
      </p>
      <div aria-live="polite">
        {result && (
          <p className={`notice ${result.ok ? 'notice-ok' : 'notice-bad'}`} role="status">
            {result.text}
          </p>
        )}
        {bulk.isError && <ErrorState error={bulk.error} title="The action failed" />}
      </div>
      {conflicts.isPending ? (
        <Loading label="Loading conflicts…" />
      ) : conflicts.isError ? (
        <ErrorState error={conflicts.error} retry={() => conflicts.refetch()} />
      ) : items.length === 0 ? (
        <Empty>
          {status === 'open' ? 'No open conflicts. Nothing needs a decision.' : 'No resolved conflicts yet.'}
        </Empty>
      ) : status === 'open' ? (
        <>
          <div className="toolbar conflict-toolbar" role="toolbar" aria-label="Selected conflicts">
            <label className="check">
              <input
                type="checkbox"
                checked={allSelected}
                disabled={selectable.length === 0}
                onChange={() => setSelected(allSelected ? new Set() : new Set(selectable.map((c) => c.id)))}
              />{' '}
              Select all on this page
            </label>
            <span>{selectedIds.length} selected</span>
            <label htmlFor="conflicts-bulk-winner">Winner</label>
            <select
              id="conflicts-bulk-winner"
              value={bulkWinner}
              onChange={(e) => setBulkWinner(e.target.value as Side)}
            >
              <option value="local">Local (keep local)</option>
              <option value="provider">Provider (keep provider)</option>
            </select>
            <button
              type="button"
              className="btn btn-small"
              disabled={selectedIds.length === 0 || bulk.isPending}
              onClick={() => bulk.mutate({ ids: selectedIds, winner: bulkWinner })}
            >
              {bulk.isPending ? 'Resolving…' : 'Resolve selected'}
            </button>
            <span className="resolver">
              <label htmlFor={resolverId}>Resolved by</label>{' '}
              <input
                id={resolverId}
                value={resolver}
                placeholder="your name (optional)"
                autoComplete="name"
                maxLength={200}
                onChange={(e) => setResolver(e.target.value)}
                onBlur={() => saveResolver(resolver)}
              />
            </span>
          </div>
          <ul className="conflict-list">
            {items.map((c) => (
              <li key={c.id}>
                <ConflictCard
                  conflict={c}
                  jobId={jobId}
                  selected={selected.has(c.id)}
                  onSelect={() => toggle(c.id)}
                  busy={bulk.isPending}
                  bulkError={bulkErrors.get(c.id)}
                  resolve={(body) => api.resolveConflict(c.id, withResolver(body))}
                  onResolved={(done) => {
                    setResult({ ok: true, text: `Resolved ${recordLabel(done)}. ${resolutionInWords(done)}.` });
                    setSelected((s) => {
                      const n = new Set(s);
                      n.delete(done.id);
                      return n;
                    });
                    setBulkErrors((m) => {
                      const n = new Map(m);
                      n.delete(done.id);
                      return n;
                    });
                    refresh();
                  }}
                  onFailed={(failed, error) => {
                    setResult({ ok: false, text: `${recordLabel(failed)} was not resolved: ${errorMessage(error)}` });
                    // Resolved meanwhile (409) or changed by a run: the list shows the current state.
                    refresh();
                  }}
                />
              </li>
            ))}
          </ul>
        </>
      ) : (
        <ResolvedTable items={items} jobId={jobId} />
      )}
      {conflicts.isSuccess && (
        <Pager
          label="Conflict pages"
          page={pages.page}
          hasPrev={pages.hasPrev}
          hasNext={Boolean(conflicts.data.nextCursor)}
          onPrev={pages.prev}
          onNext={() => pages.next(conflicts.data.nextCursor)}
        />
      )}
    </section>
  );
}

function ConflictCard({
  conflict: c,
  jobId,
  selected,
  onSelect,
  busy,
  bulkError,
  resolve,
  onResolved,
  onFailed,
}: {
  conflict: Conflict;
  jobId: string;
  selected: boolean;
  onSelect: () => void;
  busy: boolean;
  bulkError: unknown;
  resolve: (body: Resolution) => Promise<Conflict>;
  onResolved: (c: Conflict) => void;
  onFailed: (c: Conflict, error: unknown) => void;
}) {
  const titleId = useId();
  const helpId = useId();
  const [choices, setChoices] = useState<Record<string, Side>>({});
  // Choices are read for the current differing fields only: a refetch that changes them asks again.
  const act = useMutation({ mutationFn: resolve, onSuccess: onResolved, onError: (error) => onFailed(c, error) });

  const deletion = c.localDeleted || c.providerDeleted;
  const differing = new Set(c.fields);
  const rows = fieldsOf(c);
  const chosenAll = c.fields.length > 0 && c.fields.every((f) => choices[f]);
  const disabled = busy || act.isPending;
  const error = act.error ?? bulkError;
  const fieldErrors = new Map(
    (error instanceof ApiError ? error.details : [])
      .filter((d) => d.path.startsWith('fields.'))
      .map((d) => [d.path.slice('fields.'.length), d.message]),
  );
  const label = recordLabel(c);

  const sideCell = (side: Side, field: string, first: boolean) => {
    const deleted = side === 'local' ? c.localDeleted : c.providerDeleted;
    if (deleted) {
      return first ? (
        <td rowSpan={rows.length} className="diff-deleted" data-side={side}>
          <strong>deleted</strong>
          <span className="help"> {side === 'local' ? 'in the local database' : 'at the provider'}</span>
        </td>
      ) : null;
    }
    const content = side === 'local' ? c.localContent : c.providerContent;
    const value = content?.[field];
    if (!differing.has(field) || deletion) {
      return (
        <td data-side={side}>
          <Value value={value} />
        </td>
      );
    }
    return (
      <td data-side={side} className={choices[field] === side ? 'diff-chosen' : undefined}>
        <label className="pick">
          <input
            type="radio"
            name={`${c.id}:${field}`}
            value={side}
            aria-label={`Use ${side} ${field}`}
            checked={choices[field] === side}
            disabled={disabled}
            onChange={() => setChoices((ch) => ({ ...ch, [field]: side }))}
          />{' '}
          <Value value={value} />
        </label>
      </td>
    );
  };

  return (
    <article
      className={`card conflict${selected ? ' conflict-selected' : ''}`}
      aria-labelledby={titleId}
      aria-describedby={deletion ? helpId : undefined}
      data-conflict-id={c.id}
      data-external-id={c.externalId}
    >
      <header className="conflict-header">
        <input type="checkbox" aria-label={`Select ${label}`} checked={selected} onChange={onSelect} />
        <h3 id={titleId}>
          Record <code>{label}</code>
        </h3>
        <StatusBadge status={c.status} />
        <span className="muted small">
          local id <code>{c.localId}</code> · raised <DateTime iso={c.createdAt} />
          {c.executionId && (
            <>
              {' '}
              by <Link to={paths.execution(jobId, c.executionId)}>an execution</Link>
            </>
          )}
        </span>
      </header>
      {deletion && (
        <p className="notice notice-warn" id={helpId}>
          {c.providerDeleted
            ? 'Deleted at the provider and changed locally. Keep local creates it at the provider again; Keep provider deletes the local record too.'
            : 'Deleted locally and changed at the provider. Keep local deletes it at the provider too; Keep provider writes it to the local database again.'}{' '}
          A deletion is resolved whole, not field by field.
        </p>
      )}
      <div className="table-wrap">
        <table className="table table-compact diff">
          <caption className="sr-only">
            Differences for {label}: {c.fields.length} differing field{c.fields.length === 1 ? '' : 's'}
          </caption>
          <thead>
            <tr>
              <th scope="col">Field</th>
              <th scope="col">Local</th>
              <th scope="col">Provider</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((f, i) => {
              const differs = differing.has(f);
              return (
                <tr
                  key={f}
                  data-field={f}
                  data-differs={differs ? 'true' : 'false'}
                  className={`${differs ? 'diff-changed' : 'diff-same'}${fieldErrors.has(f) ? ' diff-invalid' : ''}`}
                >
                  <th scope="row">
                    <code>{f}</code>
                    {differs && <span className="diff-mark"> differs</span>}
                    {fieldErrors.has(f) && <span className="field-error">{fieldErrors.get(f)}</span>}
                  </th>
                  {sideCell('local', f, i === 0)}
                  {sideCell('provider', f, i === 0)}
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      {error ? <ResolveError error={error} /> : null}
      <div className="actions">
        {!deletion && (
          <button
            type="button"
            className="btn btn-primary btn-small"
            disabled={disabled || !chosenAll}
            aria-label={`Resolve ${label} by field`}
            title={chosenAll ? undefined : 'Choose local or provider for every differing field first'}
            onClick={() => act.mutate({ fields: Object.fromEntries(c.fields.map((f) => [f, choices[f]!])) })}
          >
            Resolve by field
          </button>
        )}
        <button
          type="button"
          className="btn btn-small"
          disabled={disabled}
          aria-label={`Keep local for ${label}`}
          onClick={() => act.mutate({ winner: 'local' })}
        >
          Keep local
        </button>
        <button
          type="button"
          className="btn btn-small"
          disabled={disabled}
          aria-label={`Keep provider for ${label}`}
          onClick={() => act.mutate({ winner: 'provider' })}
        >
          Keep provider
        </button>
        {act.isPending && <span className="muted">Resolving…</span>}
        {!deletion && !chosenAll && (
          <span className="help">Resolve by field: choose Local or Provider for each differing field.</span>
        )}
      </div>
    </article>
  );
}

function ResolvedTable({ items, jobId }: { items: Conflict[]; jobId: string }) {
  return (
    <div className="table-wrap">
      <table className="table" aria-labelledby="conflicts-title">
        <thead>
          <tr>
            <th scope="col">Record</th>
            <th scope="col">Differing fields</th>
            <th scope="col">Resolution</th>
            <th scope="col">Values after</th>
            <th scope="col">Resolved by</th>
            <th scope="col">Resolved at</th>
            <th scope="col">Raised</th>
          </tr>
        </thead>
        <tbody>
          {items.map((c) => {
            const after = resultOf(c);
            return (
              <tr key={c.id} data-conflict-id={c.id} data-external-id={c.externalId}>
                <th scope="row">
                  <code>{recordLabel(c)}</code>
                  <div className="muted small">
                    local id <code>{c.localId}</code>
                  </div>
                </th>
                <td>
                  {c.fields.map((f, i) => (
                    <span key={f}>
                      {i > 0 && ', '}
                      <code>{f}</code>
                    </span>
                  ))}
                  {c.localDeleted && <div className="small">deleted locally</div>}
                  {c.providerDeleted && <div className="small">deleted at the provider</div>}
                </td>
                <td data-col="resolution">{resolutionInWords(c)}</td>
                <td data-col="after">
                  {after && after.length > 0 ? (
                    <ul className="plain">
                      {after.map(([f, v]) => (
                        <li key={f}>
                          <code>{f}</code>: <Value value={v} />
                        </li>
                      ))}
                    </ul>
                  ) : (
                    <span className="muted">—</span>
                  )}
                </td>
                <td data-col="resolved-by">{c.resolvedBy ?? <span className="muted">not recorded</span>}</td>
                <td data-col="resolved-at">
                  <DateTime iso={c.resolvedAt} />
                </td>
                <td>
                  <DateTime iso={c.createdAt} />
                  {c.executionId && (
                    <div className="small">
                      <Link to={paths.execution(jobId, c.executionId)}>execution</Link>
                    </div>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
