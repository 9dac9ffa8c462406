/**
 * Execution History (paginated, filterable, live over SSE) and Execution Detail (the timing summary; a Details tab
 * with the pie chart, errors, conflicts left for review, failures, and the per-direction counters of a bidirectional
 * run; a Log tab with the run log).
 */
import { keepPreviousData, useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Fragment, type KeyboardEvent, lazy, Suspense, useEffect, useId, useRef, useState } from 'react';
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
import { type ExecutionTiming, type LogEntry, operatorApi, type RecordSide } from './operator-api.ts';
import { InspectLink } from './record-inspector.tsx';
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
const LOG_PAGE_SIZE = 50;

/** An execution to bring into view (scrolled to, its row focused) once it is shown expanded. */
let revealRequest: string | null = null;

/** Opens an execution in its job's history and brings it into view (e.g. from the record inspector). */
export function revealExecution(jobId: string, executionId: string): void {
  revealRequest = executionId;
  navigate(paths.execution(jobId, executionId), { focus: false });
}

/** True once for the execution `revealExecution` asked to show. */
function takeReveal(executionId: string): boolean {
  if (revealRequest !== executionId) return false;
  revealRequest = null;
  return true;
}

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
  const rowRef = useRef<HTMLTableRowElement>(null);
  const toggleRef = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (!expanded || !takeReveal(e.id)) return;
    rowRef.current?.scrollIntoView({ block: 'start' });
    toggleRef.current?.focus({ preventScroll: true });
  }, [expanded, e.id]);
  return (
    <Fragment>
      <tr
        ref={rowRef}
        className={expanded ? 'row-expanded' : undefined}
        data-execution-id={e.id}
        data-status={e.status}
      >
        <td>
          <button
            ref={toggleRef}
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
  const ref = useRef<HTMLElement>(null);
  useEffect(() => {
    if (!takeReveal(executionId)) return;
    ref.current?.scrollIntoView({ block: 'start' });
    ref.current?.focus({ preventScroll: true });
  }, [executionId]);
  return (
    <section ref={ref} tabIndex={-1} className="card standalone" aria-label="Selected execution">
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

type DetailTab = 'details' | 'log';
const DETAIL_TABS: { id: DetailTab; label: string }[] = [
  { id: 'details', label: 'Details' },
  { id: 'log', label: 'Log' },
];

/** An execution's detail: the timing summary, then the Details and Log tabs. */
export function ExecutionDetail({ execution: e }: { execution: Execution }) {
  const [tab, setTab] = useState<DetailTab>('details');
  const uid = useId();
  const tabId = (t: DetailTab) => `${uid}-tab-${t}`;
  const panelId = (t: DetailTab) => `${uid}-panel-${t}`;
  const tabRefs = useRef(new Map<DetailTab, HTMLButtonElement>());
  // Arrow keys, Home and End move between the tabs (and select them), as the ARIA tabs pattern has it.
  const onKeyDown = (event: KeyboardEvent<HTMLButtonElement>) => {
    const at = DETAIL_TABS.findIndex((t) => t.id === tab);
    const next =
      event.key === 'ArrowRight'
        ? (at + 1) % DETAIL_TABS.length
        : event.key === 'ArrowLeft'
          ? (at - 1 + DETAIL_TABS.length) % DETAIL_TABS.length
          : event.key === 'Home'
            ? 0
            : event.key === 'End'
              ? DETAIL_TABS.length - 1
              : null;
    if (next === null) return;
    event.preventDefault();
    const t = DETAIL_TABS[next]!.id;
    setTab(t);
    tabRefs.current.get(t)?.focus();
  };
  return (
    <div className="execution-detail" data-testid="execution-detail">
      <TimingLine execution={e} />
      <div className="tabs" role="tablist" aria-label={`Execution ${e.id}`}>
        {DETAIL_TABS.map((t) => (
          <button
            key={t.id}
            ref={(el) => {
              if (el) tabRefs.current.set(t.id, el);
              else tabRefs.current.delete(t.id);
            }}
            type="button"
            role="tab"
            id={tabId(t.id)}
            className="tab"
            aria-selected={tab === t.id}
            aria-controls={panelId(t.id)}
            tabIndex={tab === t.id ? 0 : -1}
            onClick={() => setTab(t.id)}
            onKeyDown={onKeyDown}
          >
            {t.label}
          </button>
        ))}
      </div>
      {DETAIL_TABS.map((t) => (
        <div
          key={t.id}
          role="tabpanel"
          id={panelId(t.id)}
          aria-labelledby={tabId(t.id)}
          className="tab-panel"
          hidden={tab !== t.id}
        >
          {/* Details stay mounted (their pages and chart kept); the log is read once its tab is opened. */}
          {t.id === 'details' ? <DetailsPanel execution={e} /> : tab === 'log' && <ExecutionLog execution={e} />}
        </div>
      ))}
    </div>
  );
}

/** Seconds as the timing line says them: "2.5 s", "1 min 3 s". */
function formatMs(ms: number): string {
  if (ms <= 0) return '0 s';
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return formatDuration(ms / 1000);
}

/** Where the run's time went: reading, writing, waiting on rate limits, retrying. */
function TimingLine({ execution: e }: { execution: Execution }) {
  const t: ExecutionTiming | null = e.timing;
  if (!t) return null;
  const running = isActive(e.status);
  return (
    <p className="timing" data-testid="execution-timing">
      <span className="timing-label">Time spent{running ? ' so far' : ''}:</span>{' '}
      <span data-timing="read">Reading {formatMs(t.readMs)}</span>,{' '}
      <span data-timing="write">writing {formatMs(t.writeMs)}</span>,{' '}
      <span data-timing="rate-limit" className={t.rateLimitWaitMs > 0 ? 'text-warn' : undefined}>
        waiting on rate limits {formatMs(t.rateLimitWaitMs)}
      </span>
      ,{' '}
      <span data-timing="retry" className={t.retryWaitMs > 0 ? 'text-warn' : undefined}>
        retrying {formatMs(t.retryWaitMs)}
      </span>
      . <span className="help">Waits are part of reading and writing.</span>
    </p>
  );
}

const LOG_EVENT_LABEL: Record<string, string> = {
  start: 'Start',
  resumed: 'Resumed',
  page: 'Page',
  retry: 'Retry',
  rate_limited: 'Rate limited',
  released: 'Released',
  circuit_breaker: 'Circuit breaker',
  timed_out: 'Timed out',
  cancelled: 'Cancelled',
  connection_lost: 'Connection lost',
  error: 'Error',
  configuration: 'Configuration',
  mass_delete: 'Mass delete',
  log_truncated: 'Log truncated',
  finished: 'Finished',
};
const LOG_LEVEL_TONE: Record<LogEntry['level'], string> = { info: 'neutral', warn: 'warn', error: 'bad' };
const LOG_LEVEL_LABEL: Record<LogEntry['level'], string> = { info: 'Info', warn: 'Warning', error: 'Error' };

/** A log entry's time of day, to the millisecond (the date in the tooltip). */
function LogTime({ iso }: { iso: string }) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return <span>{iso}</span>;
  const time = d.toLocaleTimeString(undefined, {
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    fractionalSecondDigits: 3,
  } as Intl.DateTimeFormatOptions);
  return (
    <time dateTime={iso} title={d.toLocaleString()}>
      {time}
    </time>
  );
}

/** A value of a log entry's data, compact: strings as they are, the rest as JSON. */
function compactValue(v: unknown): string {
  if (typeof v === 'string') return v;
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 160 ? `${text.slice(0, 157)}…` : text;
}

function LogData({ data }: { data: LogEntry['data'] }) {
  const entries = Object.entries(data ?? {});
  if (entries.length === 0) return <span className="muted">—</span>;
  return (
    <ul className="log-data">
      {entries.map(([k, v]) => (
        <li key={k}>
          <span className="log-key">{k}</span> <code>{compactValue(v)}</code>
        </li>
      ))}
    </ul>
  );
}

/** The run log, oldest first, a page at a time ("Load more"); followed while the run is active. */
function ExecutionLog({ execution: e }: { execution: Execution }) {
  const active = isActive(e.status);
  const log = useInfiniteQuery({
    // The status in the key: the log is read again once the run finishes.
    queryKey: ['execution-log', e.id, e.status],
    queryFn: ({ pageParam }) => operatorApi.log(e.id, { limit: LOG_PAGE_SIZE, cursor: pageParam }),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.nextCursor,
    placeholderData: keepPreviousData,
    refetchInterval: active ? 3_000 : false,
  });
  const titleId = `log-${e.id}`;
  const entries = log.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <div className="run-log">
      <h3 id={titleId}>Run log</h3>
      <p className="help">
        What the run did, oldest first: start, each page committed, provider retries and rate-limit waits, halts and the
        final status. Ids and figures only, never credentials or record content.
      </p>
      {log.isPending ? (
        <Loading label="Loading the run log…" />
      ) : log.isError ? (
        <ErrorState error={log.error} retry={() => log.refetch()} />
      ) : entries.length === 0 ? (
        <p className="muted">{active ? 'Nothing logged yet.' : 'This execution has no log entries.'}</p>
      ) : (
        <>
          <div className="table-wrap">
            <table
              className="table table-compact log-table"
              aria-labelledby={titleId}
              aria-busy={log.isFetching}
              data-testid="run-log"
            >
              <thead>
                <tr>
                  <th scope="col">Time</th>
                  <th scope="col">Level</th>
                  <th scope="col">Event</th>
                  <th scope="col">Message</th>
                  <th scope="col">Data</th>
                </tr>
              </thead>
              <tbody>
                {entries.map((entry) => (
                  <tr key={entry.id} data-event={entry.event} data-level={entry.level}>
                    <td className="nowrap">
                      <LogTime iso={entry.at} />
                    </td>
                    <td>
                      <span className={`badge badge-${LOG_LEVEL_TONE[entry.level] ?? 'neutral'}`}>
                        {LOG_LEVEL_LABEL[entry.level] ?? entry.level}
                      </span>
                    </td>
                    <td className="nowrap" title={entry.event}>
                      {LOG_EVENT_LABEL[entry.event] ?? entry.event}
                    </td>
                    <td className="message">{entry.message}</td>
                    <td>
                      <LogData data={entry.data} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <p className="log-footer">
            <span className="muted" aria-live="polite">
              {entries.length} entr{entries.length === 1 ? 'y' : 'ies'} shown
              {log.hasNextPage ? ', more to load' : ''}.
            </span>{' '}
            {log.hasNextPage && (
              <button
                type="button"
                className="btn btn-small"
                onClick={() => void log.fetchNextPage()}
                disabled={log.isFetchingNextPage}
              >
                {log.isFetchingNextPage ? 'Loading…' : 'Load more'}
              </button>
            )}
          </p>
        </>
      )}
    </div>
  );
}

function DetailsPanel({ execution: e }: { execution: Execution }) {
  const data = [
    { name: 'Created', value: e.created, color: '#2f855a' },
    { name: 'Updated', value: e.updated, color: '#2b6cb0' },
    { name: 'Deleted', value: e.deleted, color: '#6b46c1' },
    { name: 'Skipped', value: e.skipped, color: '#a0aec0' },
    { name: 'Failed', value: e.failed, color: '#c53030' },
  ];
  const total = data.reduce((n, d) => n + d.value, 0);
  return (
    <>
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
    </>
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

const otherSide = (side: RecordSide): RecordSide => (side === 'local' ? 'provider' : 'local');

/**
 * The side whose id a failure's record key is. The key is always the id on the side the record was read from; the
 * failure's side is that side for fetch and map failures and conflicts left for review, and the side written (the
 * other one) for write failures and conflict-phase failures. (The inspector also looks on the other side when the
 * id has no reference on this one.)
 */
function keySide(f: RecordFailure): RecordSide {
  if (f.errorKind === CONFLICT_KIND || f.phase === 'fetch' || f.phase === 'map') return f.side;
  return otherSide(f.side);
}

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
                <InspectLink recordKey={f.recordKey} side={keySide(f)}>
                  <code>{f.recordKey}</code>
                </InspectLink>
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
