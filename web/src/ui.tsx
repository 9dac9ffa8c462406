/** Shared pieces: status badges, loading/empty/error states, form fields, dates and durations, confirm dialog. */
import { type ReactNode, useEffect, useId, useRef, useState } from 'react';
import { ApiError, type ExecutionStatus } from './api.ts';

const STATUS_LABEL: Record<string, string> = {
  queued: 'Queued',
  running: 'Running',
  completed: 'Completed',
  completed_with_errors: 'Completed with errors',
  failed: 'Failed',
  timed_out: 'Timed out',
  cancelled: 'Cancelled',
  connected: 'Connected',
  error: 'Error',
  untested: 'Untested',
  open: 'Open',
  retried: 'Retried',
  resolved: 'Resolved',
  discarded: 'Discarded',
  enabled: 'Enabled',
  disabled: 'Disabled',
  archived: 'Archived',
};

const STATUS_TONE: Record<string, string> = {
  queued: 'neutral',
  running: 'info',
  completed: 'ok',
  completed_with_errors: 'warn',
  failed: 'bad',
  timed_out: 'bad',
  cancelled: 'neutral',
  connected: 'ok',
  error: 'bad',
  untested: 'neutral',
  open: 'warn',
  retried: 'info',
  resolved: 'ok',
  discarded: 'neutral',
  enabled: 'ok',
  disabled: 'neutral',
  archived: 'neutral',
};

/** What disabling a job stops, and what it does not. */
export const DISABLED_HELP = 'Disabled: it no longer runs on schedule or from webhooks. Run Now still runs it.';

/** What a status means, where its name alone could mislead (shown as the badge's tooltip). */
const STATUS_HELP: Record<string, string> = {
  failed:
    'Failed: every record failed, the circuit breaker halted it (over half of 10+ records failed), or an error stopped it (e.g. bad credentials)',
  timed_out: "Timed out: the run went past the job's timeout and was stopped",
  cancelled:
    "Cancelled: stopped by a person, or connection lost: the provider could not be reached at all (no response) through the run's retries",
  disabled: DISABLED_HELP,
  archived: 'Archived (deleted): it no longer runs; its execution history and dead letters are kept',
};
/** A failed run's halt reason when its worker stopped (crash) without finishing it. */
const WORKER_LOST = 'worker lost';
const WORKER_LOST_HELP =
  'Failed: the worker running it stopped (crash). Its retry resumes from its checkpoint (when Retry on failure is on).';

export function statusLabel(status: string): string {
  return STATUS_LABEL[status] ?? status;
}

/** The tooltip of a status badge; `reason` is the run's halt reason or error, when there is one. */
function statusHelp(status: string, reason?: string | null): string | undefined {
  if (status === 'failed' && reason?.startsWith(WORKER_LOST)) return WORKER_LOST_HELP;
  return STATUS_HELP[status];
}

export function StatusBadge({ status, reason }: { status: ExecutionStatus | string; reason?: string | null }) {
  return (
    <span
      className={`badge badge-${STATUS_TONE[status] ?? 'neutral'}`}
      data-status={status}
      title={statusHelp(status, reason)}
    >
      {status === 'running' && <span className="spinner-dot" aria-hidden="true" />}
      {statusLabel(status)}
    </span>
  );
}

export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <p className="state state-loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" /> {label}
    </p>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="state state-empty">{children}</div>;
}

export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}

export function ErrorState({ error, retry, title }: { error: unknown; retry?: () => void; title?: string }) {
  const notFound = error instanceof ApiError && error.status === 404;
  const unauthorized = error instanceof ApiError && error.status === 401;
  if (unauthorized) {
    return (
      <div className="state state-empty" role="status">
        <strong>API token required.</strong> Enter it in the dialog to continue.
        {retry && (
          <p>
            <button type="button" className="btn" onClick={retry}>
              Try again
            </button>
          </p>
        )}
      </div>
    );
  }
  return (
    <div className="state state-error" role="alert">
      <strong>{title ?? (notFound ? 'Not found' : 'Something went wrong')}</strong>
      <p>{errorMessage(error)}</p>
      {notFound && (
        <p>
          <a href="/connections">Back to connected apps</a>
        </p>
      )}
      {retry && !notFound && (
        <button type="button" className="btn" onClick={retry}>
          Try again
        </button>
      )}
    </div>
  );
}

/** After a refused submit, moves focus to the first invalid control (or the error summary). */
export function useFocusFirstError(error: unknown) {
  const ref = useRef<HTMLFormElement>(null);
  useEffect(() => {
    if (!error || !ref.current) return;
    const target =
      ref.current.querySelector<HTMLElement>('[aria-invalid="true"]') ??
      ref.current.querySelector<HTMLElement>('.form-errors');
    target?.focus();
  }, [error]);
  return ref;
}

/** Validation details from the server that no field on the form shows. */
export function FormErrors({ error, shownPaths }: { error: unknown; shownPaths?: (path: string) => boolean }) {
  if (!error) return null;
  const details = error instanceof ApiError ? error.details : [];
  const rest = details.filter((d) => !shownPaths?.(d.path));
  return (
    <div className="form-errors" role="alert" tabIndex={-1}>
      <strong>{details.length > 0 ? 'Please correct the highlighted fields.' : errorMessage(error)}</strong>
      {rest.length > 0 && (
        <ul>
          {rest.map((d) => (
            <li key={d.path + d.message}>
              <code>{d.path || '(request)'}</code>: {d.message}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** The server's messages for a field path and the paths below it (e.g. `schedule` and `schedule.cron`). */
export function fieldErrorOf(error: unknown, ...paths: string[]): string | undefined {
  if (!(error instanceof ApiError)) return undefined;
  const msgs = error.details
    .filter((d) => paths.some((p) => d.path === p || d.path.startsWith(`${p}.`)))
    .map((d) => d.message);
  return msgs.length > 0 ? msgs.join('; ') : undefined;
}

/** A labelled control with help and error text wired through aria-describedby. */
export function Field({
  label,
  help,
  error,
  required,
  children,
  className,
}: {
  label: ReactNode;
  help?: ReactNode;
  error?: string;
  required?: boolean;
  className?: string;
  children: (props: { id: string; 'aria-describedby'?: string; 'aria-invalid'?: boolean }) => ReactNode;
}) {
  const id = useId();
  const helpId = `${id}-help`;
  const errorId = `${id}-error`;
  const describedBy = [help ? helpId : null, error ? errorId : null].filter(Boolean).join(' ') || undefined;
  return (
    <div className={`field${error ? ' field-invalid' : ''}${className ? ` ${className}` : ''}`}>
      <label htmlFor={id}>
        {label}
        {required && (
          <span className="required" aria-hidden="true">
            {' '}
            *
          </span>
        )}
      </label>
      {children({ id, 'aria-describedby': describedBy, 'aria-invalid': error ? true : undefined })}
      {help && (
        <p className="help" id={helpId}>
          {help}
        </p>
      )}
      {error && (
        <p className="field-error" id={errorId}>
          {error}
        </p>
      )}
    </div>
  );
}

export function formatDate(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(undefined, {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
}

export function relativeTime(iso: string | null | undefined): string {
  if (!iso) return '';
  const ms = new Date(iso).getTime() - Date.now();
  if (Number.isNaN(ms)) return '';
  const abs = Math.abs(ms);
  const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
  if (abs < 60_000) return rtf.format(Math.round(ms / 1000), 'second');
  if (abs < 3_600_000) return rtf.format(Math.round(ms / 60_000), 'minute');
  if (abs < 86_400_000) return rtf.format(Math.round(ms / 3_600_000), 'hour');
  return rtf.format(Math.round(ms / 86_400_000), 'day');
}

export function DateTime({ iso }: { iso: string | null | undefined }) {
  if (!iso) return <span className="muted">—</span>;
  return (
    <time dateTime={iso} title={relativeTime(iso)}>
      {formatDate(iso)}
    </time>
  );
}

export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return '—';
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  const m = Math.floor(seconds / 60);
  const s = Math.round(seconds % 60);
  if (m < 60) return `${m} min ${s} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** Seconds since `startedAt` for a running execution, ticking every second. */
export function useElapsed(startedAt: string | null, active: boolean): number | null {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (!active) return;
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, [active]);
  if (!startedAt) return null;
  return Math.max(0, (now - new Date(startedAt).getTime()) / 1000);
}

/** A button that asks for confirmation in a modal dialog before acting. */
export function ConfirmButton({
  children,
  title,
  message,
  confirmLabel,
  onConfirm,
  className = 'btn btn-danger',
  disabled,
}: {
  children: ReactNode;
  title: string;
  message: ReactNode;
  confirmLabel: string;
  onConfirm: () => void;
  className?: string;
  disabled?: boolean;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  return (
    <>
      <button type="button" className={className} disabled={disabled} onClick={() => ref.current?.showModal()}>
        {children}
      </button>
      <dialog ref={ref} className="dialog" aria-labelledby={titleId}>
        <form method="dialog">
          <h2 id={titleId}>{title}</h2>
          <div className="dialog-body">{message}</div>
          <div className="actions">
            <button type="submit" className="btn" value="cancel">
              Cancel
            </button>
            <button
              type="button"
              className="btn btn-danger"
              onClick={() => {
                ref.current?.close();
                onConfirm();
              }}
            >
              {confirmLabel}
            </button>
          </div>
        </form>
      </dialog>
    </>
  );
}

export function Pager({
  page,
  hasPrev,
  hasNext,
  onPrev,
  onNext,
  label,
}: {
  page: number;
  hasPrev: boolean;
  hasNext: boolean;
  onPrev: () => void;
  onNext: () => void;
  label: string;
}) {
  if (!hasPrev && !hasNext) return null;
  return (
    <nav className="pager" aria-label={label}>
      <button type="button" className="btn btn-small" onClick={onPrev} disabled={!hasPrev}>
        ← Previous
      </button>
      <span aria-live="polite">Page {page}</span>
      <button type="button" className="btn btn-small" onClick={onNext} disabled={!hasNext}>
        Next →
      </button>
    </nav>
  );
}

/** Cursor pagination state: a stack of cursors, the current one last. */
export function useCursorPages(resetKey: string) {
  const [stack, setStack] = useState<(string | null)[]>([null]);
  const [key, setKey] = useState(resetKey);
  if (key !== resetKey) {
    setKey(resetKey);
    setStack([null]);
  }
  const cursor = stack[stack.length - 1] ?? null;
  return {
    cursor,
    page: stack.length,
    hasPrev: stack.length > 1,
    next: (c: string | null) => c && setStack((s) => [...s, c]),
    prev: () => setStack((s) => (s.length > 1 ? s.slice(0, -1) : s)),
    reset: () => setStack([null]),
  };
}

export function useDocumentTitle(title: string | undefined): void {
  useEffect(() => {
    document.title = title ? `${title} · otesse-sync` : 'otesse-sync';
  }, [title]);
}

export const DIRECTION_LABEL: Record<string, string> = {
  inbound: 'Inbound',
  outbound: 'Outbound',
  bidirectional: 'Bidirectional',
};
export const MODE_LABEL: Record<string, string> = { full: 'Full', incremental: 'Incremental' };
export const TRIGGER_LABEL: Record<string, string> = {
  manual: 'Manual',
  scheduled: 'Scheduled',
  webhook: 'Webhook',
  retry: 'Retry',
};
export const CONFLICT_LABEL: Record<string, string> = {
  provider_wins: 'Provider wins',
  local_wins: 'Local wins',
  newest_wins: 'Newest wins',
  manual: 'Manual review',
};
