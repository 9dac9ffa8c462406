/**
 * The record inspector: everything about one record of a job — the reference (ids on both sides, last synced
 * hashes and times), both sides read live with what the job maps each to, the executions that touched it, its
 * failures, retry and dead-letter state.
 *
 * It opens over the job's page as a dialog from the page's search (`?record=<id>&side=local|provider`), so it can be
 * linked to and survives a reload: the "Find a record" box on the job detail, failure rows and dead-letter rows link
 * to it; closing it takes the search off the URL.
 */
import { useQuery } from '@tanstack/react-query';
import { type FormEvent, type MouseEvent, type ReactNode, useEffect, useId, useRef, useState } from 'react';
import { useLocation, useSearch } from 'wouter';
import type { Job } from './api.ts';
import { revealExecution } from './executions.tsx';
import { navigate, paths } from './navigation.ts';
import { type InspectedSide, operatorApi, type RecordInspection, type RecordSide } from './operator-api.ts';
import { DateTime, ErrorState, Loading, StatusBadge, statusLabel, TRIGGER_LABEL } from './ui.tsx';

const RECORD_PARAM = 'record';
const SIDE_PARAM = 'side';

export const SIDE_LABEL: Record<RecordSide, string> = { local: 'Local', provider: 'Provider' };
const otherSide = (side: RecordSide): RecordSide => (side === 'local' ? 'provider' : 'local');

/** The URL of `pathname` with the inspector open on a record. */
export function inspectorHref(pathname: string, key: string, side: RecordSide): string {
  const q = new URLSearchParams({ [RECORD_PARAM]: key, [SIDE_PARAM]: side });
  return `${pathname}?${q.toString()}`;
}

/** The record the URL asks the inspector to show, if any. */
export function useInspectorTarget(): { key: string; side: RecordSide } | null {
  const search = useSearch();
  const q = new URLSearchParams(search);
  const key = q.get(RECORD_PARAM);
  if (!key) return null;
  return { key, side: q.get(SIDE_PARAM) === 'local' ? 'local' : 'provider' };
}

/** A plain left click navigates in the app without moving focus or scrolling (the dialog takes focus). */
function inApp(event: MouseEvent<HTMLAnchorElement>, go: () => void): void {
  if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  go();
}

/** A link opening the inspector on a record, over the current page. */
export function InspectLink({
  recordKey,
  side,
  children,
  className,
}: {
  recordKey: string;
  side: RecordSide;
  children: ReactNode;
  className?: string;
}) {
  const [pathname] = useLocation();
  const href = inspectorHref(pathname, recordKey, side);
  return (
    <a
      href={href}
      className={className}
      title={`Inspect this record (by its ${side} id)`}
      aria-label={`Inspect record ${recordKey}`}
      data-inspect={recordKey}
      onClick={(e) => inApp(e, () => navigate(href, { focus: false }))}
    >
      {children}
    </a>
  );
}

/** "Find a record": a record id and its side; opens the inspector. */
export function RecordFinder({ job }: { job: Job }) {
  const [pathname] = useLocation();
  const [key, setKey] = useState('');
  const [side, setSide] = useState<RecordSide>(job.direction === 'outbound' ? 'local' : 'provider');
  const uid = useId();
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const k = key.trim();
    if (!k) return;
    navigate(inspectorHref(pathname, k, side), { focus: false });
  };
  return (
    <section aria-labelledby={`${uid}-title`} className="panel record-finder">
      <h2 id={`${uid}-title`}>Find a record</h2>
      <form className="finder" onSubmit={submit} aria-labelledby={`${uid}-title`}>
        <div className="field">
          <label htmlFor={`${uid}-key`}>Record id</label>
          <input
            id={`${uid}-key`}
            name="record"
            className="mono"
            value={key}
            autoComplete="off"
            spellCheck={false}
            placeholder={side === 'provider' ? 'e.g. cus_…' : 'the local row id'}
            aria-describedby={`${uid}-help`}
            onChange={(e) => setKey(e.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor={`${uid}-side`}>Id on</label>
          <select id={`${uid}-side`} value={side} onChange={(e) => setSide(e.target.value as RecordSide)}>
            <option value="provider">Provider (provider id)</option>
            <option value="local">Local table (local id)</option>
          </select>
        </div>
        <button type="submit" className="btn" disabled={!key.trim()}>
          Inspect
        </button>
      </form>
      <p className="help" id={`${uid}-help`}>
        Shows the record on both sides (read now), how the job maps it, the executions that changed it, its failures and
        whether it waits for a retry or sits in the dead letter queue.
      </p>
    </section>
  );
}

/** The inspector dialog; `onClose` runs when it closes (Escape, Close). */
export function RecordInspectorDialog({
  job,
  recordKey,
  side,
  onClose,
}: {
  job: Job;
  recordKey: string;
  side: RecordSide;
  onClose: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const d = ref.current;
    // Unmounting takes the dialog out of the page (and the top layer): nothing to undo here.
    if (d && !d.open) d.showModal();
  }, []);
  const inspection = useQuery({
    queryKey: ['record', job.id, side, recordKey],
    queryFn: async () => {
      const found = await operatorApi.inspectRecord(job.id, recordKey, side);
      if (found.reference) return { inspection: found, swapped: false };
      // Not linked by this side's id: the id may be the other side's (e.g. a failure recorded on the side written).
      const other = await operatorApi.inspectRecord(job.id, recordKey, otherSide(side)).catch(() => null);
      return other?.reference ? { inspection: other, swapped: true } : { inspection: found, swapped: false };
    },
  });
  return (
    <dialog
      ref={ref}
      className="dialog dialog-wide inspector"
      aria-labelledby={titleId}
      data-testid="record-inspector"
      onClose={onClose}
    >
      <div className="section-header">
        <h2 id={titleId}>
          Record <code>{recordKey}</code>
        </h2>
        <div className="actions">
          <button
            type="button"
            className="btn btn-small"
            onClick={() => void inspection.refetch()}
            disabled={inspection.isFetching}
          >
            {inspection.isFetching ? 'Reading…' : 'Read again'}
          </button>
          <button type="button" className="btn btn-small" onClick={() => ref.current?.close()}>
            Close
          </button>
        </div>
      </div>
      {inspection.isPending ? (
        <Loading label="Reading the record on both sides…" />
      ) : inspection.isError ? (
        <ErrorState error={inspection.error} retry={() => inspection.refetch()} />
      ) : (
        <Inspection job={job} data={inspection.data.inspection} swapped={inspection.data.swapped} asked={side} />
      )}
    </dialog>
  );
}

function Inspection({
  job,
  data: r,
  swapped,
  asked,
}: {
  job: Job;
  data: RecordInspection;
  swapped: boolean;
  asked: RecordSide;
}) {
  const uid = useId();
  return (
    <div className="inspection" data-side={r.side}>
      <p className="subtitle">
        By its {r.side} id.
        {swapped && (
          <>
            {' '}
            <span className="muted">
              (No record is linked by this {asked} id; it is the {r.side} id of a linked record.)
            </span>
          </>
        )}
      </p>
      <StateLine job={job} r={r} />

      <h3 id={`${uid}-ref`}>Reference</h3>
      {r.reference ? (
        <dl className="props props-compact" aria-labelledby={`${uid}-ref`} data-testid="record-reference">
          <Prop term="Local id">
            <code>{r.reference.localId}</code>
          </Prop>
          <Prop term="Provider id">
            <code>{r.reference.externalId}</code>
          </Prop>
          <Prop term="Last synced">
            <DateTime iso={r.reference.lastSyncedAt} />
          </Prop>
          <Prop term="Linked since">
            <DateTime iso={r.reference.createdAt} />
          </Prop>
          {r.reference.deletedAt && (
            <Prop term="Deleted">
              <DateTime iso={r.reference.deletedAt} />
            </Prop>
          )}
          <Prop term="Last synced content">
            <span className="small">
              inbound <code title={r.reference.inboundHash ?? undefined}>{shortHash(r.reference.inboundHash)}</code>,
              outbound <code title={r.reference.outboundHash ?? undefined}>{shortHash(r.reference.outboundHash)}</code>
            </span>
          </Prop>
        </dl>
      ) : (
        <p className="muted" data-testid="record-reference">
          No reference: this job has not linked the record to the other side yet (never synced, or its sync failed).
        </p>
      )}

      <h3>Both sides, now</h3>
      <div className="sides">
        <SideCard
          title={`Local (${job.localEntity})`}
          side={r.local}
          which="local"
          mappedTitle={job.direction !== 'inbound' ? 'Mapped for the provider (outbound mappings)' : null}
          other={r.provider.content}
        />
        <SideCard
          title="Provider"
          side={r.provider}
          which="provider"
          mappedTitle={job.direction !== 'outbound' ? 'Mapped for the local table (inbound mappings)' : null}
          other={r.local.content}
        />
      </div>

      <History job={job} r={r} />
      <Failures job={job} r={r} />
    </div>
  );
}

function shortHash(hash: string | null): string {
  if (!hash) return '—';
  return hash.length > 12 ? `${hash.slice(0, 12)}…` : hash;
}

/** The record's standing: synced, waiting for a retry, parked, in conflict. */
function StateLine({ job, r }: { job: Job; r: RecordInspection }) {
  return (
    <ul className="state-line plain" aria-label="Record state">
      <li>
        {r.reference ? (
          r.reference.deletedAt ? (
            <span className="badge badge-neutral">Deleted</span>
          ) : (
            <span className="badge badge-ok">Linked</span>
          )
        ) : (
          <span className="badge badge-neutral">Not linked</span>
        )}
      </li>
      <li data-testid="record-retry">
        {r.retry ? (
          <span className="badge badge-warn" title={r.retry.lastError}>
            Waiting for a retry: failed in {r.retry.failureCount} run{r.retry.failureCount === 1 ? '' : 's'}, last{' '}
            <DateTime iso={r.retry.lastFailedAt} />
          </span>
        ) : (
          <span className="muted small">Not waiting for a retry</span>
        )}
      </li>
      <li data-testid="record-dead-letter">
        {r.deadLetter ? (
          <span className="stack-inline">
            Dead letter <StatusBadge status={r.deadLetter.status} /> after {r.deadLetter.failureCount} failed run
            {r.deadLetter.failureCount === 1 ? '' : 's'}
          </span>
        ) : (
          <span className="muted small">Not in the dead letter queue</span>
        )}
      </li>
      {r.openConflictId && (
        <li>
          <span className="badge badge-warn" data-testid="record-open-conflict">
            Open conflict{job.direction === 'bidirectional' ? ': resolve it under Conflicts' : ''}
          </span>
        </li>
      )}
    </ul>
  );
}

const STATE_LABEL: Record<InspectedSide['state'], string> = {
  found: 'Found',
  deleted: 'Deleted there',
  missing: 'Not found',
  unavailable: 'Could not be read',
};
const STATE_TONE: Record<InspectedSide['state'], string> = {
  found: 'ok',
  deleted: 'neutral',
  missing: 'warn',
  unavailable: 'bad',
};

/** Live content with more fields than this starts folded (when the mapped content is shown). */
const LONG_CONTENT = 12;

function SideCard({
  title,
  side: s,
  which,
  mappedTitle,
  other,
}: {
  title: string;
  side: InspectedSide;
  which: RecordSide;
  /** Null when the job never writes the other side from this one. */
  mappedTitle: string | null;
  /** The other side's live content: mapped fields that differ from it are marked. */
  other: Record<string, unknown> | null;
}) {
  const uid = useId();
  return (
    <section className="card side-card" aria-labelledby={`${uid}-title`} data-record-side={which}>
      <h4 id={`${uid}-title`}>{title}</h4>
      <p className="stack-inline">
        <span className={`badge badge-${STATE_TONE[s.state]}`} data-state={s.state}>
          {STATE_LABEL[s.state]}
        </span>
        {s.id ? <code>{s.id}</code> : <span className="muted">no id on this side</span>}
      </p>
      {s.updatedAt && (
        <p className="small muted">
          Updated <DateTime iso={s.updatedAt} />
        </p>
      )}
      {s.problem && (
        <p className="notice notice-bad" data-testid="side-problem">
          {s.problem}
        </p>
      )}
      {mappedTitle && s.mapped && (
        <>
          <h5 id={`${uid}-mapped`}>{mappedTitle}</h5>
          <FieldTable
            labelledBy={`${uid}-mapped`}
            rows={flatten(s.mapped)}
            changed={(path, value) => other !== null && !sameValue(getPath(other, path), value)}
          />
        </>
      )}
      {s.content && (
        // A long record (a provider's full object) starts folded, under what the job makes of it.
        <details open={Object.keys(s.content).length <= LONG_CONTENT || !mappedTitle || !s.mapped}>
          <summary id={`${uid}-content`}>Live content ({Object.keys(s.content).length} fields)</summary>
          <FieldTable labelledBy={`${uid}-content`} rows={Object.entries(s.content)} />
        </details>
      )}
    </section>
  );
}

function FieldTable({
  labelledBy,
  rows,
  changed,
}: {
  labelledBy: string;
  rows: [string, unknown][];
  changed?: (path: string, value: unknown) => boolean;
}) {
  if (rows.length === 0) return <p className="muted">No fields.</p>;
  return (
    <div className="table-wrap">
      <table className="table table-compact kv" aria-labelledby={labelledBy}>
        <tbody>
          {rows.map(([k, v]) => {
            const differs = changed?.(k, v) ?? false;
            return (
              <tr key={k} className={differs ? 'kv-changed' : undefined} data-field={k}>
                <th scope="row">
                  <code>{k}</code>
                </th>
                <td>
                  <Value value={v} />
                  {differs && <span className="kv-mark"> differs from the other side</span>}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

/** A field value, compact: empty values said in words, strings as they are, the rest as JSON. */
export function Value({ value }: { value: unknown }) {
  if (value === null || value === undefined) return <span className="muted">(empty)</span>;
  if (typeof value === 'string') return value === '' ? <span className="muted">(empty string)</span> : value;
  const text = JSON.stringify(value) ?? String(value);
  return <code className="value">{text.length > 300 ? `${text.slice(0, 297)}…` : text}</code>;
}

/** Nested objects as dot paths (`address.city`); arrays stay values. */
function flatten(value: Record<string, unknown>, prefix = ''): [string, unknown][] {
  return Object.entries(value).flatMap(([k, v]) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length > 0
      ? flatten(v as Record<string, unknown>, `${prefix}${k}.`)
      : [[`${prefix}${k}`, v] as [string, unknown]],
  );
}

function getPath(value: Record<string, unknown>, path: string): unknown {
  if (path in value) return value[path];
  let at: unknown = value;
  for (const part of path.split('.')) {
    if (at === null || typeof at !== 'object') return undefined;
    at = (at as Record<string, unknown>)[part];
  }
  return at;
}

function sameValue(a: unknown, b: unknown): boolean {
  const norm = (v: unknown) => (v === undefined ? null : v);
  return JSON.stringify(norm(a)) === JSON.stringify(norm(b));
}

const OUTCOME_TONE: Record<RecordInspection['history'][number]['outcome'], string> = {
  created: 'ok',
  updated: 'info',
  deleted: 'neutral',
  failed: 'bad',
  conflict: 'warn',
};
const OUTCOME_LABEL: Record<RecordInspection['history'][number]['outcome'], string> = {
  created: 'Created',
  updated: 'Updated',
  deleted: 'Deleted',
  failed: 'Failed',
  conflict: 'Conflict',
};

/** A link to an execution in the job's history; it closes the inspector and brings the execution into view. */
function ExecutionLink({ jobId, executionId, children }: { jobId: string; executionId: string; children: ReactNode }) {
  return (
    <a
      href={paths.execution(jobId, executionId)}
      data-execution-link={executionId}
      onClick={(e) => inApp(e, () => revealExecution(jobId, executionId))}
    >
      {children}
    </a>
  );
}

function History({ job, r }: { job: Job; r: RecordInspection }) {
  const uid = useId();
  return (
    <>
      <h3 id={`${uid}-title`}>History ({r.history.length})</h3>
      {r.history.length === 0 ? (
        <p className="muted">No execution changed or failed this record.</p>
      ) : (
        <div className="table-wrap">
          <table className="table table-compact" aria-labelledby={`${uid}-title`} data-testid="record-history">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Outcome</th>
                <th scope="col">Read from</th>
                <th scope="col">Execution</th>
              </tr>
            </thead>
            <tbody>
              {r.history.map((h, i) => (
                // biome-ignore lint/suspicious/noArrayIndexKey: an execution may touch the record twice
                <tr key={`${h.executionId}-${i}`} data-outcome={h.outcome}>
                  <td>
                    <DateTime iso={h.at} />
                  </td>
                  <td>
                    <span className={`badge badge-${OUTCOME_TONE[h.outcome] ?? 'neutral'}`}>
                      {OUTCOME_LABEL[h.outcome] ?? h.outcome}
                    </span>
                  </td>
                  <td>{SIDE_LABEL[h.side]}</td>
                  <td>
                    <ExecutionLink jobId={job.id} executionId={h.executionId}>
                      {TRIGGER_LABEL[h.trigger] ?? h.trigger} run
                      {h.startedAt ? (
                        <>
                          {' of '}
                          <DateTime iso={h.startedAt} />
                        </>
                      ) : null}
                    </ExecutionLink>{' '}
                    <span className="muted small">({statusLabel(h.status)})</span>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

function Failures({ job, r }: { job: Job; r: RecordInspection }) {
  const uid = useId();
  return (
    <>
      <h3 id={`${uid}-title`}>Failures ({r.failures.length})</h3>
      {r.failures.length === 0 ? (
        <p className="muted">This record has not failed.</p>
      ) : (
        <div className="table-wrap">
          <table className="table table-compact" aria-labelledby={`${uid}-title`} data-testid="record-failures">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Side</th>
                <th scope="col">Phase</th>
                <th scope="col">Kind</th>
                <th scope="col">Message</th>
                <th scope="col">Execution</th>
              </tr>
            </thead>
            <tbody>
              {r.failures.map((f, i) => (
                // biome-ignore lint/suspicious/noArrayIndexKey: failures have no id here
                <tr key={`${f.executionId}-${i}`} data-error-kind={f.errorKind}>
                  <td>
                    <DateTime iso={f.createdAt} />
                  </td>
                  <td>{SIDE_LABEL[f.side]}</td>
                  <td>{f.phase}</td>
                  <td>{f.errorKind}</td>
                  <td className="message">{f.message}</td>
                  <td>
                    <ExecutionLink jobId={job.id} executionId={f.executionId}>
                      View
                    </ExecutionLink>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {r.retry && (
        <p className="notice notice-warn" data-testid="record-retry-detail">
          Waiting for a retry: failed in {r.retry.failureCount} run{r.retry.failureCount === 1 ? '' : 's'} (the last{' '}
          <DateTime iso={r.retry.lastFailedAt} />
          ). The next runs try it first; after 3 failed runs it moves to the dead letter queue. Last error:{' '}
          <span className="pre">{r.retry.lastError}</span>
        </p>
      )}
      {r.deadLetter && (
        <p
          className={`notice ${r.deadLetter.status === 'open' ? 'notice-bad' : ''}`}
          data-testid="record-dead-letter-detail"
        >
          Dead letter ({statusLabel(r.deadLetter.status).toLowerCase()}, updated{' '}
          <DateTime iso={r.deadLetter.updatedAt} />
          ): failed in {r.deadLetter.failureCount} run{r.deadLetter.failureCount === 1 ? '' : 's'}.{' '}
          {r.deadLetter.status === 'open'
            ? 'Runs skip it until you retry it in the Dead Letter Queue or its content at the source changes.'
            : ''}{' '}
          Last error: <span className="pre">{r.deadLetter.lastError}</span>
        </p>
      )}
    </>
  );
}

function Prop({ term, children }: { term: string; children: ReactNode }) {
  return (
    <div>
      <dt>{term}</dt>
      <dd>{children}</dd>
    </div>
  );
}
