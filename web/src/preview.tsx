/**
 * The dry-run preview: what a run would do per record (create, update, skip, conflict, fail, delete), the side it
 * would write, the field-level diff (the target's current value → the new value) and why, with the counts per action.
 * Nothing is written by a preview. Used by the job detail (the saved job's next run) and the job form (the draft).
 */
import { useMutation } from '@tanstack/react-query';
import { useEffect, useId, useRef, useState } from 'react';
import { ApiError } from './api.ts';
import type { Preview, PreviewAction, PreviewItem } from './operator-api.ts';
import { InspectLink, SIDE_LABEL, Value } from './record-inspector.tsx';
import { ErrorState, Loading } from './ui.tsx';

const LIMITS = [5, 20, 50, 100, 200];
const DEFAULT_LIMIT = 20;

export const ACTIONS: PreviewAction[] = ['create', 'update', 'delete', 'skip', 'conflict', 'fail'];
const ACTION_LABEL: Record<PreviewAction, string> = {
  create: 'Create',
  update: 'Update',
  skip: 'Skip',
  conflict: 'Conflict',
  fail: 'Fail',
  delete: 'Delete',
};
const ACTION_TONE: Record<PreviewAction, string> = {
  create: 'ok',
  update: 'info',
  skip: 'neutral',
  conflict: 'warn',
  fail: 'bad',
  delete: 'bad',
};
const LEG_LABEL: Record<PreviewItem['leg'], string> = {
  inbound: 'provider → local',
  outbound: 'local → provider',
};

/** A preview's state: whether it is shown, the records to read, and the request. */
export function usePreview(run: (limit: number) => Promise<Preview>) {
  const [open, setOpen] = useState(false);
  const [limit, setLimit] = useState(DEFAULT_LIMIT);
  // The latest `run` is used (the form's current values).
  const mutation = useMutation({ mutationFn: (l: number) => run(l) });
  return {
    open,
    limit,
    setLimit,
    mutation,
    start: (l: number = limit) => {
      setOpen(true);
      mutation.mutate(l);
    },
    close: () => {
      setOpen(false);
      mutation.reset();
    },
  };
}

export type PreviewState = ReturnType<typeof usePreview>;

/** Whether a preview's error is a refusal of the draft's fields (shown at the form's fields). */
export function isFieldRefusal(error: unknown): error is ApiError {
  return error instanceof ApiError && error.status === 400 && error.details.length > 0;
}

export function PreviewPanel({
  preview,
  title,
  intro,
  inspect = false,
  fieldErrorsShownAbove = false,
}: {
  preview: PreviewState;
  title: string;
  intro: string;
  /** Record keys link to the inspector (a saved job). */
  inspect?: boolean;
  /** A refusal's field errors are shown at the form's fields. */
  fieldErrorsShownAbove?: boolean;
}) {
  const uid = useId();
  const ref = useRef<HTMLElement>(null);
  const { mutation } = preview;
  // A result takes focus (announced; in view).
  useEffect(() => {
    if (mutation.data) ref.current?.focus();
  }, [mutation.data]);
  if (!preview.open) return null;
  return (
    <section
      ref={ref}
      tabIndex={-1}
      className="panel card preview"
      aria-labelledby={`${uid}-title`}
      aria-busy={mutation.isPending}
      data-testid="preview"
    >
      <div className="section-header">
        <h2 id={`${uid}-title`}>{title}</h2>
        <div className="filters">
          <label htmlFor={`${uid}-limit`}>Records to read</label>
          <select id={`${uid}-limit`} value={preview.limit} onChange={(e) => preview.setLimit(Number(e.target.value))}>
            {LIMITS.map((n) => (
              <option key={n} value={n}>
                {n} per direction
              </option>
            ))}
          </select>
          <button type="button" className="btn btn-small" onClick={() => preview.start()} disabled={mutation.isPending}>
            Preview again
          </button>
          <button type="button" className="btn btn-small btn-ghost" onClick={preview.close}>
            Close preview
          </button>
        </div>
      </div>
      <p className="help">{intro}</p>
      <p className="notice" role="note" data-testid="preview-nothing-written">
        <strong>Nothing was written.</strong> A preview only reads: no record was created, changed or deleted on either
        side, and no reference, cursor or execution was recorded.
      </p>
      {mutation.isPending ? (
        <Loading label="Reading the source records…" />
      ) : mutation.isError ? (
        fieldErrorsShownAbove && isFieldRefusal(mutation.error) ? (
          <div className="state state-error" role="alert" data-testid="preview-refused">
            <strong>The preview was refused.</strong>
            <p>Correct the highlighted fields of the form, then preview again.</p>
          </div>
        ) : (
          <ErrorState error={mutation.error} title="The preview failed" retry={() => preview.start()} />
        )
      ) : mutation.data ? (
        <PreviewResult preview={mutation.data} labelledBy={`${uid}-title`} inspect={inspect} />
      ) : null}
    </section>
  );
}

function PreviewResult({ preview, labelledBy, inspect }: { preview: Preview; labelledBy: string; inspect: boolean }) {
  const legs = new Set(preview.items.map((i) => i.leg));
  const total = preview.items.length;
  return (
    <>
      <ul className="preview-summary plain" aria-label="Planned actions per kind" data-testid="preview-summary">
        {ACTIONS.map((a) => (
          <li key={a} data-action={a} data-count={preview.summary[a]}>
            <span className={`badge badge-${preview.summary[a] > 0 ? ACTION_TONE[a] : 'neutral'}`}>
              {ACTION_LABEL[a]} <strong>{preview.summary[a]}</strong>
            </span>
          </li>
        ))}
      </ul>
      <p className="sr-only" role="status">
        Preview ready: {total} record{total === 1 ? '' : 's'} read.
      </p>
      {total === 0 ? (
        <p className="muted">No source record to read: a run would do nothing.</p>
      ) : (
        <div className="table-wrap">
          <table className="table table-compact preview-table" aria-labelledby={labelledBy}>
            <thead>
              <tr>
                <th scope="col">Record</th>
                <th scope="col">Action</th>
                <th scope="col">Side written</th>
                <th scope="col">Changes (current → new)</th>
                <th scope="col">Reason</th>
              </tr>
            </thead>
            <tbody>
              {preview.items.map((item) => (
                <PreviewRow
                  key={`${item.leg}:${item.recordKey}`}
                  item={item}
                  showLeg={legs.size > 1}
                  inspect={inspect}
                />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

function PreviewRow({ item, showLeg, inspect }: { item: PreviewItem; showLeg: boolean; inspect: boolean }) {
  // The key is the record's id on the side the leg reads.
  const keySide = item.leg === 'inbound' ? 'provider' : 'local';
  return (
    <tr data-record-key={item.recordKey} data-action={item.action} data-leg={item.leg}>
      <th scope="row">
        {inspect ? (
          <InspectLink recordKey={item.recordKey} side={keySide}>
            <code>{item.recordKey}</code>
          </InspectLink>
        ) : (
          <code>{item.recordKey}</code>
        )}
        {showLeg && <span className="muted small block">{LEG_LABEL[item.leg]}</span>}
      </th>
      <td>
        <span className={`badge badge-${ACTION_TONE[item.action]}`}>{ACTION_LABEL[item.action] ?? item.action}</span>
      </td>
      <td>
        {item.writes ? SIDE_LABEL[item.writes] : <span className="muted">—</span>}
        {item.targetId && <code className="small block">{item.targetId}</code>}
      </td>
      <td>
        {item.diff.length === 0 ? (
          <span className="muted">—</span>
        ) : (
          <ul className="diff-list plain">
            {item.diff.map((d) => (
              <li key={d.field} data-field={d.field}>
                <code>{d.field}</code>:{' '}
                {item.action !== 'create' && (
                  <>
                    <span className="diff-from">
                      <Value value={d.from} />
                    </span>{' '}
                    <span aria-hidden="true">→</span>
                    <span className="sr-only"> becomes</span>{' '}
                  </>
                )}
                <span className="diff-to">
                  <Value value={d.to} />
                </span>
              </li>
            ))}
          </ul>
        )}
      </td>
      <td className="message">{item.reason ?? <span className="muted">—</span>}</td>
    </tr>
  );
}
