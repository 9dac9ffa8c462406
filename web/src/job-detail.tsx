/**
 * The sync job detail view: Preview (the next run, dry), Configuration, Find a record (the record inspector),
 * Execution History (with Execution Detail), Conflicts (bidirectional jobs), Dead Letter Queue.
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useId, useRef, useState } from 'react';
import { Link, useLocation } from 'wouter';
import { api, type Job } from './api.ts';
import { ConflictsPanel } from './conflicts.tsx';
import { useProviders } from './connections.tsx';
import { scheduleInWords } from './cron.ts';
import { DeadLetterQueue } from './dead-letters.tsx';
import { ExecutionHistory } from './executions.tsx';
import { DELETE_POLICY_HELP, DELETE_POLICY_LABEL } from './job-form.tsx';
import { navigate, paths } from './navigation.ts';
import { operatorApi } from './operator-api.ts';
import { PreviewPanel, usePreview } from './preview.tsx';
import { RecordFinder, RecordInspectorDialog, useInspectorTarget } from './record-inspector.tsx';
import {
  CONFLICT_LABEL,
  ConfirmButton,
  DateTime,
  DIRECTION_LABEL,
  DISABLED_HELP,
  ErrorState,
  Loading,
  MODE_LABEL,
  StatusBadge,
  useDocumentTitle,
} from './ui.tsx';

export function JobDetail({ jobId, executionId }: { jobId: string; executionId?: string }) {
  const queryClient = useQueryClient();
  const job = useQuery({ queryKey: ['job', jobId], queryFn: () => api.job(jobId), refetchInterval: 15_000 });
  const connection = useQuery({
    queryKey: ['connection', job.data?.connectionId],
    queryFn: () => api.connection(job.data!.connectionId),
    enabled: job.isSuccess,
  });
  useDocumentTitle(job.data?.name);
  const [notice, setNotice] = useState<string | null>(null);
  const preview = usePreview((limit) => operatorApi.previewJob(jobId, limit));
  const inspect = useInspectorTarget();
  const [pathname] = useLocation();

  const invalidate = () => {
    void queryClient.invalidateQueries({ queryKey: ['job', jobId] });
    void queryClient.invalidateQueries({ queryKey: ['jobs'] });
    void queryClient.invalidateQueries({ queryKey: ['connections'] });
  };
  const run = useMutation({
    mutationFn: () => api.runJob(jobId),
    onMutate: () => setNotice(null),
    onSuccess: ({ executionId: id }) => {
      setNotice(`Run started (execution ${id}).`);
      void queryClient.invalidateQueries({ queryKey: ['executions', jobId] });
      invalidate();
    },
  });
  const toggle = useMutation({
    mutationFn: (enabled: boolean) => api.updateJob(jobId, { enabled }),
    onSuccess: (saved) => {
      queryClient.setQueryData(['job', jobId], saved);
      setNotice(saved.enabled ? 'Job enabled.' : DISABLED_HELP);
      invalidate();
    },
  });
  const remove = useMutation({
    mutationFn: (purge: boolean) => (purge ? api.purgeJob(jobId) : api.deleteJob(jobId)),
    onSuccess: () => {
      const connId = job.data?.connectionId;
      queryClient.removeQueries({ queryKey: ['job', jobId] });
      invalidate();
      if (connId) void queryClient.invalidateQueries({ queryKey: ['connection', connId] });
      navigate(connId ? paths.connection(connId) : paths.connections());
    },
  });

  if (job.isPending) return <Loading label="Loading sync job…" />;
  if (job.isError) return <ErrorState error={job.error} retry={() => job.refetch()} />;
  const j = job.data;
  const actionError = run.error ?? toggle.error ?? remove.error;

  return (
    <section aria-labelledby="job-title">
      <nav aria-label="Breadcrumb" className="breadcrumb">
        <Link to={paths.connections()}>Connected apps</Link> /{' '}
        <Link to={paths.connection(j.connectionId)}>{connection.data?.name ?? 'Connection'}</Link>
      </nav>
      <div className="page-header">
        <div>
          <h1 id="job-title">{j.name}</h1>
          <p className="subtitle">
            <StatusBadge status={j.archivedAt ? 'archived' : j.enabled ? 'enabled' : 'disabled'} />{' '}
            {scheduleInWords(j.schedule, j.timezone)}
            {j.schedule && j.enabled && !j.archivedAt && j.nextRunAt && (
              <>
                {' · next run '}
                <DateTime iso={j.nextRunAt} />
              </>
            )}
            {j.openConflicts > 0 && (
              <>
                {' · '}
                <a href="#conflicts" className="badge badge-warn" data-testid="job-open-conflicts">
                  {j.openConflicts} open conflict{j.openConflicts === 1 ? '' : 's'}
                </a>
              </>
            )}
          </p>
        </div>
        <div className="actions">
          {!j.archivedAt && (
            <>
              <button type="button" className="btn btn-primary" onClick={() => run.mutate()} disabled={run.isPending}>
                {run.isPending ? 'Starting…' : 'Run Now'}
              </button>
              <button
                type="button"
                className="btn"
                onClick={() => preview.start()}
                disabled={preview.mutation.isPending}
                title="What the next run would do per record, writing nothing"
              >
                {preview.mutation.isPending ? 'Previewing…' : 'Preview'}
              </button>
              <button
                type="button"
                className="btn"
                onClick={() => toggle.mutate(!j.enabled)}
                disabled={toggle.isPending}
              >
                {j.enabled ? 'Disable' : 'Enable'}
              </button>
              <Link to={paths.editJob(j.id)} className="btn">
                Edit
              </Link>
              <ConfirmButton
                title={`Delete ${j.name}?`}
                message="The job is archived: it stops running and leaves the job lists. Its execution history and dead letters are kept and stay readable. Records already synced stay."
                confirmLabel="Delete sync job"
                onConfirm={() => remove.mutate(false)}
              >
                Delete
              </ConfirmButton>
            </>
          )}
          <PurgeButton job={j} onConfirm={() => remove.mutate(true)} />
        </div>
      </div>
      {j.archivedAt && (
        <p className="notice" role="status">
          Archived <DateTime iso={j.archivedAt} />: this job no longer runs. Its history is kept.
        </p>
      )}
      <div aria-live="polite">
        {notice && (
          <p className="notice notice-ok" role="status">
            {notice}
          </p>
        )}
        {actionError && <ErrorState error={actionError} title="The action failed" />}
      </div>

      <PreviewPanel
        preview={preview}
        title="Preview of the next run"
        intro="What the next run would do with the first source records it would read (from where it would start), per record: the action, the side written and the field changes."
        inspect
      />
      <Configuration job={j} />
      <RecordFinder job={j} />
      <ExecutionHistory job={j} executionId={executionId} />
      {(j.direction === 'bidirectional' || j.openConflicts > 0) && (
        <ConflictsPanel jobId={j.id} openCount={j.openConflicts} />
      )}
      <DeadLetterQueue jobId={j.id} />
      {inspect && (
        <RecordInspectorDialog
          key={`${inspect.side}:${inspect.key}`}
          job={j}
          recordKey={inspect.key}
          side={inspect.side}
          onClose={() => navigate(pathname, { replace: true, focus: false })}
        />
      )}
    </section>
  );
}

/** "Delete permanently": the job and its whole history; typing the job's name confirms it. */
function PurgeButton({ job, onConfirm }: { job: Job; onConfirm: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const inputId = useId();
  const [typed, setTyped] = useState('');
  const confirmed = typed.trim() === job.name.trim();
  return (
    <>
      <button
        type="button"
        className="btn btn-danger"
        onClick={() => {
          setTyped('');
          ref.current?.showModal();
        }}
      >
        Delete permanently
      </button>
      <dialog ref={ref} className="dialog" aria-labelledby={titleId}>
        <form method="dialog">
          <h2 id={titleId}>Permanently delete {job.name}?</h2>
          <div className="dialog-body">
            <p>
              The job, all its executions, record failures and dead letters are deleted. This cannot be undone. Records
              already synced stay.
            </p>
            <label htmlFor={inputId}>Type the job name to confirm</label>
            <input
              id={inputId}
              name="confirmName"
              autoComplete="off"
              value={typed}
              onChange={(e) => setTyped(e.target.value)}
            />
          </div>
          <div className="actions">
            <button type="submit" className="btn" value="cancel">
              Cancel
            </button>
            <button
              type="button"
              className="btn btn-danger"
              disabled={!confirmed}
              onClick={() => {
                ref.current?.close();
                onConfirm();
              }}
            >
              Delete permanently
            </button>
          </div>
        </form>
      </dialog>
    </>
  );
}

function Configuration({ job }: { job: Job }) {
  const providers = useProviders();
  const connection = useQuery({
    queryKey: ['connection', job.connectionId],
    queryFn: () => api.connection(job.connectionId),
  });
  const entity = providers.data
    ?.find((p) => p.name === connection.data?.provider)
    ?.entityTypes.find((t) => t.name === job.entityType);
  const [open, setOpen] = useState(true);
  return (
    <section aria-labelledby="config-title" className="panel">
      <div className="section-header">
        <h2 id="config-title">
          <button
            type="button"
            className="disclosure"
            aria-expanded={open}
            aria-controls="config-body"
            onClick={() => setOpen(!open)}
          >
            Configuration
          </button>
        </h2>
      </div>
      {open && (
        <div id="config-body">
          <dl className="props card">
            <Prop term="Name">{job.name}</Prop>
            <Prop term="Entity type">{entity?.label ?? job.entityType}</Prop>
            <Prop term="Local entity">{job.localEntity}</Prop>
            <Prop term="Direction">{DIRECTION_LABEL[job.direction] ?? job.direction}</Prop>
            <Prop term="Mode">{MODE_LABEL[job.mode] ?? job.mode}</Prop>
            <Prop term="Schedule">
              {scheduleInWords(job.schedule, job.timezone)}
              {job.schedule && (
                <>
                  {' '}
                  <code>{job.schedule}</code>
                </>
              )}
            </Prop>
            <Prop term="Time zone">{job.timezone}</Prop>
            <Prop term="Retry on failure">{job.retryOnFailure ? 'Yes' : 'No'}</Prop>
            <Prop term="Max retries">{job.maxRetries}</Prop>
            <Prop term="Timeout">{job.timeoutMinutes} minutes</Prop>
            {job.direction === 'bidirectional' && (
              <Prop term="Conflict strategy">
                {job.conflictStrategy ? (CONFLICT_LABEL[job.conflictStrategy] ?? job.conflictStrategy) : '—'}
              </Prop>
            )}
            <Prop term="When a record is deleted at the source">
              <span data-testid="delete-policy" data-policy={job.deletePolicy}>
                <strong>{DELETE_POLICY_LABEL[job.deletePolicy] ?? job.deletePolicy}</strong>{' '}
                <span className="help">{DELETE_POLICY_HELP[job.deletePolicy]}</span>
              </span>
            </Prop>
            {job.deletePolicy !== 'ignore' && (
              <Prop term="Mass-delete protection">
                <span data-testid="mass-delete-threshold">
                  {job.massDeleteThreshold}%{' '}
                  <span className="help">
                    (a run that would delete more than this share of the synced records deletes nothing and waits for
                    Apply deletions)
                  </span>
                </span>
              </Prop>
            )}
            <Prop term="Enabled">
              {job.enabled ? (
                'Yes'
              ) : (
                <>
                  No <span className="help">({DISABLED_HELP})</span>
                </>
              )}
            </Prop>
            <Prop term="Last run">
              {job.lastRun ? (
                <span className="stack-inline">
                  <StatusBadge status={job.lastRun.status} /> <DateTime iso={job.lastRunAt ?? job.lastRun.startedAt} />
                </span>
              ) : (
                'Never'
              )}
            </Prop>
            <Prop term="Next run">
              {!job.schedule ? 'Manual only' : job.enabled ? <DateTime iso={job.nextRunAt} /> : 'None while disabled'}
            </Prop>
            <Prop term="Created">
              <DateTime iso={job.createdAt} />
            </Prop>
            <Prop term="Updated">
              <DateTime iso={job.updatedAt} />
            </Prop>
          </dl>
          <h3 id="mappings-title">Field mappings</h3>
          {job.fieldMappings.length === 0 ? (
            <p className="muted">None: records are copied field by field under the same names.</p>
          ) : (
            <div className="table-wrap">
              <table className="table table-compact" aria-labelledby="mappings-title">
                <thead>
                  <tr>
                    <th scope="col">Direction</th>
                    <th scope="col">Source field</th>
                    <th scope="col">Target field</th>
                    <th scope="col">Transform</th>
                    <th scope="col">Default</th>
                  </tr>
                </thead>
                <tbody>
                  {job.fieldMappings.map((m, i) => (
                    // biome-ignore lint/suspicious/noArrayIndexKey: mappings have no id and are not reordered here
                    <tr key={i}>
                      <td>{DIRECTION_LABEL[m.direction]}</td>
                      <td>
                        <code>{m.sourceField}</code>
                      </td>
                      <td>
                        <code>{m.targetField}</code>
                      </td>
                      <td>
                        {m.transform ?? '—'}
                        {m.transformArgs && Object.keys(m.transformArgs).length > 0 && (
                          <code className="muted"> {JSON.stringify(m.transformArgs)}</code>
                        )}
                      </td>
                      <td>
                        {m.defaultValue === undefined || m.defaultValue === null ? '—' : JSON.stringify(m.defaultValue)}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </div>
      )}
    </section>
  );
}

function Prop({ term, children }: { term: string; children: React.ReactNode }) {
  return (
    <div>
      <dt>{term}</dt>
      <dd>{children}</dd>
    </div>
  );
}
