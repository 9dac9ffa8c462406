/**
 * Execution History (paginated, filterable, live over SSE) and Execution Detail (pie chart, errors, conflicts
 * left for review, failures, and the per-direction counters of a bidirectional run).
 */
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Fragment, lazy, Suspense, useEffect, useState } from 'react';
import {
  api,
  type Counters,
  EXECUTION_STATUSES,
  type Execution,
  executionEventsUrl,
  isActive,
  type Job,
  type RecordFailure,
} from './api.ts';
import { navigate, paths } from './navigation.ts';
import {
  ConfirmButton,
  DateTime,
  Empty,
  ErrorState,
  formatDuration,
  Loading,
  Pager,
  StatusBadge,
  statusLabel,
  TRIGGER_LABEL,
  useCursorPages,
  useElapsed,
} from './ui.tsx';

const RecordPie = lazy(() => import('./pie-chart.tsx'));
const PAGE_SIZE = 20;

/** An execution kept current by its SSE stream while it is queued or running. */
export function useLiveExecution(initial: Execution): [Execution, (e: Execution) => void] {
  const queryClient = useQueryClient();
  const [live, setLive] = useState<Execution | null>(null);
  const active = isActive(initial.status);
  const id = initial.id;
  useEffect(() => {
    if (!active) return;
    const source = new EventSource(executionEventsUrl(id));
    const update = (event: MessageEvent<string>) => {
      try {
        setLive(JSON.parse(event.data) as Execution);
      } catch {
        // ignore a malformed frame
      }
    };
    source.addEventListener('progress', update as EventListener);
    source.addEventListener('done', ((event: MessageEvent<string>) => {
      update(event);
      source.close();
      void queryClient.invalidateQueries({ queryKey: ['executions', initial.jobId] });
      void queryClient.invalidateQueries({ queryKey: ['execution', id] });
      void queryClient.invalidateQueries({ queryKey: ['failures', id] });
      void queryClient.invalidateQueries({ queryKey: ['dead-letters', initial.jobId] });
      void queryClient.invalidateQueries({ queryKey: ['job', initial.jobId] });
      void queryClient.invalidateQueries({ queryKey: ['jobs'] });
    }) as EventListener);
    return () => source.close();
  }, [active, id, initial.jobId, queryClient]);
  // The list's copy wins once it reports a final state; the stream's copy wins while running.
  const current = active && live && live.id === id ? live : initial;
  return [current, setLive];
}

export function ExecutionHistory({ job, executionId }: { job: Job; executionId?: string }) {
  const [status, setStatus] = useState('');
  const [trigger, setTrigger] = useState('');
  const pages = useCursorPages(`${status}|${trigger}`);
  const executions = useQuery({
    queryKey: ['executions', job.id, status, trigger, pages.cursor],
    queryFn: () => api.executions(job.id, { status, trigger, limit: PAGE_SIZE, cursor: pages.cursor }),
    placeholderData: keepPreviousData,
    // Polling backs up the live stream: new runs (scheduled, webhook, retries) appear on their own.
    refetchInterval: (q) => (q.state.data?.items.some((e) => isActive(e.status)) ? 3_000 : 10_000),
  });
  const inPage = executions.data?.items.some((e) => e.id === executionId) ?? false;
  // Fetch the chart's code while the page is idle, so expanding a row shows the chart at once.
  useEffect(() => {
    const t = setTimeout(() => void import('./pie-chart.tsx'), 300);
    return () => clearTimeout(t);
  }, []);

  return (
    <section aria-labelledby="history-title" className="panel">
      <div className="section-header">
        <h2 id="history-title">Execution History</h2>
        <div className="filters">
          <label htmlFor="status-filter">Status</label>
          <select id="status-filter" value={status} onChange={(e) => setStatus(e.target.value)}>
            <option value="">All statuses</option>
            {EXECUTION_STATUSES.map((s) => (
              <option key={s} value={s}>
                {statusLabel(s)}
              </option>
            ))}
          </select>
          <label htmlFor="trigger-filter">Trigger</label>
          <select id="trigger-filter" value={trigger} onChange={(e) => setTrigger(e.target.value)}>
            <option value="">All triggers</option>
            {Object.entries(TRIGGER_LABEL).map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </div>
      </div>
      {executionId && executions.isSuccess && !inPage && (
        <StandaloneExecution executionId={executionId} onClose={() => navigate(paths.job(job.id), { focus: false })} />
      )}
      {executions.isPending ? (
        <Loading label="Loading executions…" />
      ) : executions.isError ? (
        <ErrorState error={executions.error} retry={() => executions.refetch()} />
      ) : executions.data.items.length === 0 ? (
        <Empty>
          {status || trigger ? 'No executions match these filters.' : 'This job has not run yet. Click Run Now.'}
        </Empty>
      ) : (
        <>
          <div className="table-wrap">
            <table className="table executions" aria-labelledby="history-title" aria-busy={executions.isFetching}>
              <thead>
                <tr>
                  <th scope="col">
                    <span className="sr-only">Details</span>
                  </th>
                  <th scope="col">Status</th>
                  <th scope="col">Trigger</th>
                  <th scope="col" className="num">
                    Attempt
                  </th>
                  <th scope="col">Started</th>
                  <th scope="col" className="num">
                    Duration
                  </th>
                  <th scope="col" className="num">
                    Processed
                  </th>
                  <th scope="col" className="num">
                    Created
                  </th>
                  <th scope="col" className="num">
                    Updated
                  </th>
                  <th scope="col" className="num">
                    Deleted
                  </th>
                  <th scope="col" className="num">
                    Skipped
                  </th>
                  <th scope="col" className="num">
                    Failed
                  </th>
                  <th scope="col">
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {executions.data.items.map((e) => (
                  <ExecutionRow
                    key={e.id}
                    execution={e}
                    expanded={e.id === executionId}
                    onToggle={() =>
                      navigate(e.id === executionId ? paths.job(job.id) : paths.execution(job.id, e.id), {
                        focus: false,
                      })
                    }
                  />
                ))}
              </tbody>
            </table>
          </div>
          <Pager
            label="Execution history pages"
            page={pages.page}
            hasPrev={pages.hasPrev}
            hasNext={Boolean(executions.data.nextCursor)}
            onPrev={pages.prev}
            onNext={() => pages.next(executions.data.nextCursor)}
          />
        </>
      )}
    </section>
  );
}

function CancelButton({ execution, onCancelled }: { execution: Execution; onCancelled: (e: Execution) => void }) {
  const queryClient = useQueryClient();
  const cancel = useMutation({
    mutationFn: () => api.cancelExecution(execution.id),
    onSuccess: (e) => {
      onCancelled(e);
      void queryClient.invalidateQueries({ queryKey: ['executions', execution.jobId] });
    },
  });
  return (
    <>
      <button
        type="button"
        className="btn btn-small btn-danger"
        onClick={() => cancel.mutate()}
        disabled={cancel.isPending}
        aria-label={`Cancel execution ${execution.id}`}
      >
        {cancel.isPending ? 'Cancelling…' : 'Cancel'}
      </button>
      {cancel.isError && (
        <span className="field-error" role="alert">
          {(cancel.error as Error).message}
        </span>
      )}
    </>
  );
}

function ExecutionRow({
  execution: initial,
  expanded,
  onToggle,
}: {
  execution: Execution;
  expanded: boolean;
  onToggle: () => void;
}) {
  const [e, setLive] = useLiveExecution(initial);
  const active = isActive(e.status);
  const elapsed = useElapsed(e.startedAt, active && !e.completedAt);
  const detailId = `execution-${e.id}`;
  return (
    <Fragment>
      <tr className={expanded ? 'row-expanded' : undefined} data-execution-id={e.id} data-status={e.status}>
        <td>
          <button
            type="button"
            className="disclosure-btn"
            aria-expanded={expanded}
            aria-controls={expanded ? detailId : undefined}
            aria-label={`${expanded ? 'Hide' : 'Show'} details of the ${TRIGGER_LABEL[e.trigger]?.toLowerCase() ?? ''} run started ${e.startedAt ? new Date(e.startedAt).toLocaleString() : 'not yet'}`}
            onClick={onToggle}
          >
            <span aria-hidden="true">{expanded ? '▾' : '▸'}</span>
          </button>
        </td>
        <td>
          <StatusBadge status={e.status} reason={e.haltReason ?? e.error} />
        </td>
        <td>{TRIGGER_LABEL[e.trigger] ?? e.trigger}</td>
        <td className="num">{e.attempt}</td>
        <td>
          <DateTime iso={e.startedAt ?? e.createdAt} />
        </td>
        <td className="num">{formatDuration(active ? elapsed : e.durationSeconds)}</td>
        <td className="num" data-col="processed">
          {e.processed}
        </td>
        <td className="num" data-col="created">
          {e.created}
        </td>
        <td className="num" data-col="updated">
          {e.updated}
        </td>
        <td
          className="num"
          data-col="deleted"
          title={
            e.haltKind === 'mass_delete' && e.heldDeletions
              ? `${e.heldDeletions} deletions held back by the mass-delete protection`
              : undefined
          }
        >
          {e.deleted}
        </td>
        <td
          className="num"
          data-col="skipped"
          title={e.conflicts > 0 ? `${e.conflicts} of them left in conflict for review (manual strategy)` : undefined}
        >
          {e.skipped}
        </td>
        <td className={`num${e.failed > 0 ? ' text-bad' : ''}`} data-col="failed">
          {e.failed}
        </td>
        <td>{active && <CancelButton execution={e} onCancelled={setLive} />}</td>
      </tr>
      {expanded && (
        <tr className="detail-row">
          <td colSpan={13} id={detailId}>
            <ExecutionDetail execution={e} />
          </td>
        </tr>
      )}
    </Fragment>
  );
}

/** A deep-linked execution that is not on the current page of the table. */
function StandaloneExecution({ executionId, onClose }: { executionId: string; onClose: () => void }) {
  const execution = useQuery({ queryKey: ['execution', executionId], queryFn: () => api.execution(executionId) });
  return (
    <section className="card standalone" aria-label="Selected execution">
      <div className="section-header">
        <h3>Execution {executionId}</h3>
        <button type="button" className="btn btn-small" onClick={onClose}>
          Close
        </button>
      </div>
      {execution.isPending ? (
        <Loading label="Loading execution…" />
      ) : execution.isError ? (
        <ErrorState error={execution.error} retry={() => execution.refetch()} />
      ) : (
        <LiveDetail execution={execution.data} />
      )}
    </section>
  );
}

function LiveDetail({ execution }: { execution: Execution }) {
  const [e, setLive] = useLiveExecution(execution);
  return (
    <>
      <p className="stack-inline">
        <StatusBadge status={e.status} reason={e.haltReason ?? e.error} /> {TRIGGER_LABEL[e.trigger]} run, attempt{' '}
        {e.attempt}
        {isActive(e.status) && <CancelButton execution={e} onCancelled={setLive} />}
      </p>
      <ExecutionDetail execution={e} />
    </>
  );
}

export function ExecutionDetail({ execution: e }: { execution: Execution }) {
  const data = [
    { name: 'Created', value: e.created, color: '#2f855a' },
    { name: 'Updated', value: e.updated, color: '#2b6cb0' },
    { name: 'Deleted', value: e.deleted, color: '#6b46c1' },
    { name: 'Skipped', value: e.skipped, color: '#a0aec0' },
    { name: 'Failed', value: e.failed, color: '#c53030' },
  ];
  const total = data.reduce((n, d) => n + d.value, 0);
  return (
    <div className="execution-detail" data-testid="execution-detail">
      <div className="detail-grid">
        <div>
          <h3>Record breakdown</h3>
          {total === 0 ? (
            <Empty>{isActive(e.status) ? 'No records written yet.' : 'No records were processed.'}</Empty>
          ) : (
            <Suspense fallback={<Loading label="Loading chart…" />}>
              <RecordPie data={data} />
            </Suspense>
          )}
        </div>
        <div>
          <h3>Summary</h3>
          <dl className="props props-compact">
            <div>
              <dt>Execution</dt>
              <dd>
                <code>{e.id}</code>
              </dd>
            </div>
            <div>
              <dt>Status</dt>
              <dd>
                <StatusBadge status={e.status} reason={e.haltReason ?? e.error} />
              </dd>
            </div>
            <div>
              <dt>Trigger</dt>
              <dd>
                {TRIGGER_LABEL[e.trigger] ?? e.trigger} (attempt {e.attempt})
              </dd>
            </div>
            <div>
              <dt>Started</dt>
              <dd>
                <DateTime iso={e.startedAt} />
              </dd>
            </div>
            <div>
              <dt>Completed</dt>
              <dd>
                <DateTime iso={e.completedAt} />
              </dd>
            </div>
            <div>
              <dt>Duration</dt>
              <dd>{formatDuration(e.durationSeconds)}</dd>
            </div>
            <div>
              <dt>Processed</dt>
              <dd>{e.processed}</dd>
            </div>
            {e.conflicts > 0 && (
              <div data-testid="conflicts-count">
                <dt>Conflicts</dt>
                <dd>
                  {e.conflicts} <span className="muted">left for review (manual strategy)</span>
                </dd>
              </div>
            )}
            {e.recordKeys && e.recordKeys.length > 0 && (
              <div>
                <dt>Records</dt>
                <dd>
                  <code>{e.recordKeys.join(', ')}</code>
                </dd>
              </div>
            )}
          </dl>
          {e.haltKind === 'mass_delete' ? (
            <MassDeleteNotice execution={e} />
          ) : (
            e.haltReason && (
              <div className="notice notice-bad" role="alert">
                <strong>Halted:</strong> {e.haltReason}
              </div>
            )
          )}
          {e.error && (
            <div className="notice notice-bad" role="alert">
              <strong>Error:</strong> <span className="pre">{e.error}</span>
            </div>
          )}
        </div>
      </div>
      {e.directions && <DirectionsTable executionId={e.id} directions={e.directions} />}
      <FailuresTable execution={e} />
    </div>
  );
}

/**
 * A run stopped by the mass-delete protection: why, and "Apply deletions", which applies the held deletions in a
 * new execution and selects it.
 */
function MassDeleteNotice({ execution: e }: { execution: Execution }) {
  const queryClient = useQueryClient();
  const apply = useMutation({
    mutationFn: () => api.applyDeletions(e.id),
    onSuccess: async ({ executionId }) => {
      void queryClient.invalidateQueries({ queryKey: ['execution', e.id] });
      void queryClient.invalidateQueries({ queryKey: ['job', e.jobId] });
      void queryClient.invalidateQueries({ queryKey: ['jobs'] });
      // The history lists the new execution before it is selected (expanded in place, live).
      await queryClient.invalidateQueries({ queryKey: ['executions', e.jobId] });
      navigate(paths.execution(e.jobId, executionId), { focus: false });
    },
  });
  const held = e.heldDeletions;
  // The reason starts with the protection's name, which the notice already says.
  const reason = (e.haltReason ?? '').replace(/^mass-delete protection:\s*/i, '');
  const heldWords = held === null ? 'the held deletions' : `${held} held deletion${held === 1 ? '' : 's'}`;
  return (
    <div className="notice notice-warn mass-delete" data-testid="mass-delete" role="status">
      <p>
        <strong>Mass-delete protection:</strong>{' '}
        {reason ? reason.charAt(0).toUpperCase() + reason.slice(1) : 'This run would have deleted too many records.'}
      </p>
      {held === 0 ? (
        <p>The held deletions were applied (or none is left to apply).</p>
      ) : (
        <>
          <p>
            Apply deletions applies {heldWords} in a new execution: records still gone at the source are deleted (or
            marked deleted) at the target; records that came back since are kept.
          </p>
          <div className="actions">
            <ConfirmButton
              title={`Apply ${heldWords}?`}
              message={
                <p>
                  A new execution deletes (or marks deleted, under the Mark deleted policy) the target records of{' '}
                  {heldWords} that are still gone at the source. This cannot be undone.
                </p>
              }
              confirmLabel="Apply deletions"
              className="btn btn-small btn-danger"
              disabled={apply.isPending}
              onConfirm={() => apply.mutate()}
            >
              {apply.isPending ? 'Applying…' : 'Apply deletions'}
            </ConfirmButton>
          </div>
        </>
      )}
      {apply.isError && (
        <p className="field-error" role="alert">
          {(apply.error as Error).message}
        </p>
      )}
    </div>
  );
}

const COUNTER_COLUMNS: { key: keyof Counters; label: string }[] = [
  { key: 'processed', label: 'Processed' },
  { key: 'created', label: 'Created' },
  { key: 'updated', label: 'Updated' },
  { key: 'deleted', label: 'Deleted' },
  { key: 'skipped', label: 'Skipped' },
  { key: 'failed', label: 'Failed' },
  { key: 'conflicts', label: 'Conflicts' },
];

/** The counters of a bidirectional run, one row per direction. */
function DirectionsTable({
  executionId,
  directions,
}: {
  executionId: string;
  directions: { inbound: Counters; outbound: Counters };
}) {
  const titleId = `directions-${executionId}`;
  const rows = [
    { name: 'Inbound', hint: 'provider → local', counters: directions.inbound },
    { name: 'Outbound', hint: 'local → provider', counters: directions.outbound },
  ];
  return (
    <div className="directions">
      <h3 id={titleId}>By direction</h3>
      <p className="help">
        A record synced both ways counts once in each direction, so the run's totals can exceed the number of distinct
        records. Conflicts are also counted in Skipped.
      </p>
      <div className="table-wrap">
        <table className="table table-compact" aria-labelledby={titleId} data-testid="direction-counters">
          <thead>
            <tr>
              <th scope="col">Direction</th>
              {COUNTER_COLUMNS.map((c) => (
                <th scope="col" className="num" key={c.key}>
                  {c.label}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.name} data-direction={r.name.toLowerCase()}>
                <th scope="row">
                  {r.name} <span className="muted small">({r.hint})</span>
                </th>
                {COUNTER_COLUMNS.map((c) => (
                  <td className="num" key={c.key} data-col={c.key}>
                    {r.counters[c.key]}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}

/** A conflict left for review (manual strategy) is listed with the failures, under this kind. */
const CONFLICT_KIND = 'conflict';

/**
 * The run's record failures, with the conflicts left for review (errorKind `conflict`) in a table of their own:
 * they are not failures (the run counts them in Skipped) but need a person's decision.
 */
function FailuresTable({ execution }: { execution: Execution }) {
  const pages = useCursorPages(execution.id);
  const failures = useQuery({
    queryKey: ['failures', execution.id, pages.cursor, execution.failed, execution.conflicts],
    queryFn: () => api.failures(execution.id, { limit: PAGE_SIZE, cursor: pages.cursor }),
    placeholderData: keepPreviousData,
  });
  const titleId = `failures-${execution.id}`;
  const items = failures.data?.items ?? [];
  const conflicts = items.filter((f) => f.errorKind === CONFLICT_KIND);
  const failed = items.filter((f) => f.errorKind !== CONFLICT_KIND);
  const paged = pages.hasPrev || Boolean(failures.data?.nextCursor);
  return (
    <>
      {(execution.conflicts > 0 || conflicts.length > 0) && (
        <div className="conflicts">
          <h3 id={`conflicts-${execution.id}`}>Conflicts left for review ({execution.conflicts})</h3>
          <p className="help">
            Both sides changed these records since the last sync and the job's conflict strategy is Manual review:
            neither side was written. They are counted in Skipped.
          </p>
          {failures.isPending ? (
            <Loading label="Loading conflicts…" />
          ) : failures.isError ? null : conflicts.length === 0 ? (
            <p className="muted">{paged ? 'No conflict on this page; see the other pages.' : 'No conflict listed.'}</p>
          ) : (
            <RecordTable labelledBy={`conflicts-${execution.id}`} rows={conflicts} conflict />
          )}
        </div>
      )}
      <div className="failures">
        <h3 id={titleId}>Failed records ({execution.failed})</h3>
        {failures.isPending ? (
          <Loading label="Loading failures…" />
        ) : failures.isError ? (
          <ErrorState error={failures.error} retry={() => failures.refetch()} />
        ) : failed.length === 0 ? (
          <p className="muted">
            {execution.failed > 0 && paged
              ? 'No failed record on this page; see the other pages.'
              : 'No record failed in this execution.'}
          </p>
        ) : (
          <RecordTable labelledBy={titleId} rows={failed} />
        )}
        {failures.isSuccess && (
          <Pager
            label="Failure pages"
            page={pages.page}
            hasPrev={pages.hasPrev}
            hasNext={Boolean(failures.data.nextCursor)}
            onPrev={pages.prev}
            onNext={() => pages.next(failures.data.nextCursor)}
          />
        )}
      </div>
    </>
  );
}

function RecordTable({
  labelledBy,
  rows,
  conflict = false,
}: {
  labelledBy: string;
  rows: RecordFailure[];
  conflict?: boolean;
}) {
  return (
    <div className="table-wrap">
      <table className="table table-compact" aria-labelledby={labelledBy}>
        <thead>
          <tr>
            <th scope="col">Record key</th>
            <th scope="col">Side</th>
            {!conflict && (
              <>
                <th scope="col">Phase</th>
                <th scope="col">Kind</th>
              </>
            )}
            <th scope="col">{conflict ? 'Details' : 'Message'}</th>
            <th scope="col">Time</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((f) => (
            <tr key={f.id} data-record-failure={f.errorKind}>
              <td>
                <code>{f.recordKey}</code>
              </td>
              <td>{f.side === 'provider' ? 'Provider' : 'Local'}</td>
              {!conflict && (
                <>
                  <td>{f.phase}</td>
                  <td>{f.errorKind}</td>
                </>
              )}
              <td className="message">{f.message}</td>
              <td>
                <DateTime iso={f.createdAt} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
