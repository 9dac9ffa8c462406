/**
 * Dead Letter Queue: records that failed in 3 runs, parked (skipped by every run) until a person retries them
 * or their source content changes; Retry / Discard for one or the selected ones; a record key opens the record
 * inspector.
 */
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link } from 'wouter';
import { api, type DeadLetter } from './api.ts';
import { paths } from './navigation.ts';
import { InspectLink } from './record-inspector.tsx';
import { DateTime, Empty, ErrorState, errorMessage, Loading, Pager, StatusBadge, useCursorPages } from './ui.tsx';

const PAGE_SIZE = 20;

export function DeadLetterQueue({ jobId }: { jobId: string }) {
  const queryClient = useQueryClient();
  const [status, setStatus] = useState<DeadLetter['status']>('open');
  const pages = useCursorPages(status);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [result, setResult] = useState<{ ok: boolean; text: string; executionId?: string } | null>(null);
  const letters = useQuery({
    queryKey: ['dead-letters', jobId, status, pages.cursor],
    queryFn: () => api.deadLetters(jobId, { status, limit: PAGE_SIZE, cursor: pages.cursor }),
    placeholderData: keepPreviousData,
    refetchInterval: 15_000,
  });

  const act = useMutation({
    mutationFn: async ({ action, ids }: { action: 'retry' | 'discard'; ids: string[] }) => {
      const outcomes = await Promise.allSettled(
        ids.map((id) => (action === 'retry' ? api.retryDeadLetter(id) : api.discardDeadLetter(id))),
      );
      return { action, ids, outcomes };
    },
    onMutate: () => setResult(null),
    onSuccess: ({ action, ids, outcomes }) => {
      const failed = outcomes.filter((o) => o.status === 'rejected') as PromiseRejectedResult[];
      const done = ids.length - failed.length;
      const executionIds = outcomes
        .filter((o): o is PromiseFulfilledResult<{ executionId: string }> => o.status === 'fulfilled')
        .map((o) => o.value?.executionId)
        .filter(Boolean) as string[];
      const verb = action === 'retry' ? 'Retry started for' : 'Discarded';
      let text = `${verb} ${done} record${done === 1 ? '' : 's'}.`;
      if (failed.length > 0) text += ` ${failed.length} failed: ${errorMessage(failed[0]!.reason)}`;
      setResult({ ok: failed.length === 0, text, executionId: action === 'retry' ? executionIds[0] : undefined });
      setSelected(new Set());
      void queryClient.invalidateQueries({ queryKey: ['dead-letters', jobId] });
      if (action === 'retry') void queryClient.invalidateQueries({ queryKey: ['executions', jobId] });
    },
  });

  const items = letters.data?.items ?? [];
  const selectable = items.filter((d) => d.status === 'open');
  const allSelected = selectable.length > 0 && selectable.every((d) => selected.has(d.id));
  const toggle = (id: string) =>
    setSelected((s) => {
      const n = new Set(s);
      if (n.has(id)) n.delete(id);
      else n.add(id);
      return n;
    });
  const selectedIds = [...selected].filter((id) => selectable.some((d) => d.id === id));

  return (
    <section aria-labelledby="dlq-title" className="panel">
      <div className="section-header">
        <h2 id="dlq-title">
          Dead Letter Queue
          {status === 'open' && letters.data && (
            <span className="count">
              {items.length}
              {letters.data.nextCursor ? '+' : ''}
              <span className="sr-only"> open</span>
            </span>
          )}
        </h2>
        <div className="filters">
          <label htmlFor="dlq-status">Show</label>
          <select
            id="dlq-status"
            value={status}
            onChange={(e) => {
              setStatus(e.target.value as DeadLetter['status']);
              setSelected(new Set());
            }}
          >
            <option value="open">Open</option>
            <option value="retried">Retried</option>
            <option value="resolved">Resolved</option>
            <option value="discarded">Discarded</option>
          </select>
        </div>
      </div>
      <p className="help">
        Records that failed in three runs. Parked records are skipped by every run until you Retry them here, or until
        their content at the source changes. A discarded record never comes back to this queue; it syncs again only if
        its source changes and the sync succeeds.
      </p>
      <div aria-live="polite">
        {result && (
          <p className={`notice ${result.ok ? 'notice-ok' : 'notice-bad'}`} role="status">
            {result.text}{' '}
            {result.executionId && (
              <Link to={paths.execution(jobId, result.executionId)}>View the retry execution</Link>
            )}
          </p>
        )}
        {act.isError && <ErrorState error={act.error} title="The action failed" />}
      </div>
      {letters.isPending ? (
        <Loading label="Loading dead letters…" />
      ) : letters.isError ? (
        <ErrorState error={letters.error} retry={() => letters.refetch()} />
      ) : items.length === 0 ? (
        <Empty>{status === 'open' ? 'No dead letters. Nothing needs attention.' : 'No dead letters here.'}</Empty>
      ) : (
        <>
          <div className="toolbar" role="toolbar" aria-label="Selected dead letters">
            <span>{selectedIds.length} selected</span>
            <button
              type="button"
              className="btn btn-small"
              disabled={selectedIds.length === 0 || act.isPending}
              onClick={() => act.mutate({ action: 'retry', ids: selectedIds })}
            >
              Retry selected
            </button>
            <button
              type="button"
              className="btn btn-small btn-danger"
              disabled={selectedIds.length === 0 || act.isPending}
              onClick={() => act.mutate({ action: 'discard', ids: selectedIds })}
            >
              Discard selected
            </button>
          </div>
          <div className="table-wrap">
            <table className="table" aria-labelledby="dlq-title">
              <thead>
                <tr>
                  <th scope="col">
                    <input
                      type="checkbox"
                      aria-label="Select all open dead letters on this page"
                      checked={allSelected}
                      disabled={selectable.length === 0}
                      onChange={() => setSelected(allSelected ? new Set() : new Set(selectable.map((d) => d.id)))}
                    />
                  </th>
                  <th scope="col">Record key</th>
                  <th scope="col">Side</th>
                  <th scope="col" className="num">
                    Failures
                  </th>
                  <th scope="col">Last error</th>
                  <th scope="col">First failure</th>
                  <th scope="col">Last failure</th>
                  <th scope="col">Parked since</th>
                  <th scope="col">Status</th>
                  <th scope="col">
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {items.map((d) => (
                  <DeadLetterRow
                    key={d.id}
                    letter={d}
                    jobId={jobId}
                    selected={selected.has(d.id)}
                    onSelect={() => toggle(d.id)}
                    busy={act.isPending}
                    onAction={(action) => act.mutate({ action, ids: [d.id] })}
                  />
                ))}
              </tbody>
            </table>
          </div>
          <Pager
            label="Dead letter pages"
            page={pages.page}
            hasPrev={pages.hasPrev}
            hasNext={Boolean(letters.data.nextCursor)}
            onPrev={pages.prev}
            onNext={() => pages.next(letters.data.nextCursor)}
          />
        </>
      )}
    </section>
  );
}

function DeadLetterRow({
  letter: d,
  jobId,
  selected,
  onSelect,
  busy,
  onAction,
}: {
  letter: DeadLetter;
  jobId: string;
  selected: boolean;
  onSelect: () => void;
  busy: boolean;
  onAction: (action: 'retry' | 'discard') => void;
}) {
  const open = d.status === 'open';
  return (
    <tr data-dead-letter={d.recordKey}>
      <td>
        <input
          type="checkbox"
          aria-label={`Select ${d.recordKey}`}
          checked={selected}
          disabled={!open}
          onChange={onSelect}
        />
      </td>
      <th scope="row">
        <InspectLink recordKey={d.recordKey} side={d.side}>
          <code>{d.recordKey}</code>
        </InspectLink>
      </th>
      <td>{d.side === 'provider' ? 'Provider' : 'Local'}</td>
      <td className="num">{d.failureCount}</td>
      <td className="message">
        {d.lastError ?? '—'}
        {d.lastExecutionId && (
          <>
            {' '}
            <Link to={paths.execution(jobId, d.lastExecutionId)} className="small">
              last execution
            </Link>
          </>
        )}
      </td>
      <td>
        <DateTime iso={d.firstFailedAt} />
      </td>
      <td>
        <DateTime iso={d.lastFailedAt} />
      </td>
      <td>
        <DateTime iso={d.createdAt} />
      </td>
      <td>
        <StatusBadge status={d.status} />
      </td>
      <td className="row-actions">
        {open && (
          <>
            <button
              type="button"
              className="btn btn-small"
              disabled={busy}
              aria-label={`Retry ${d.recordKey}`}
              onClick={() => onAction('retry')}
            >
              Retry
            </button>
            <button
              type="button"
              className="btn btn-small btn-ghost"
              disabled={busy}
              aria-label={`Discard ${d.recordKey}`}
              onClick={() => onAction('discard')}
            >
              Discard
            </button>
          </>
        )}
      </td>
    </tr>
  );
}
