import { useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useEffect, useRef, useState } from 'react';
import { Link, Route, Switch, useLocation, useRoute } from 'wouter';
import { AlertsPage } from './alerts.tsx';
import { api, getToken, onUnauthorized, setToken } from './api.ts';
import { ConnectionDetail, ConnectionForm, ConnectionsPage } from './connections.tsx';
import { FleetOverviewPage } from './fleet.tsx';
import { JobDetail } from './job-detail.tsx';
import { JobFormPage } from './job-form.tsx';
import { decodeParam, navigate, paths, takeFocusRequest } from './navigation.ts';
import { Empty, ErrorState, Loading } from './ui.tsx';

export function App() {
  const [pathname] = useLocation();
  const [home] = useRoute('/');
  const [connections] = useRoute('/connections');
  const [alertList] = useRoute('/alerts');
  const [alertChannel] = useRoute('/alerts/:id');
  const [, execution] = useRoute('/jobs/:id/executions/:executionId');
  const mainRef = useRef<HTMLElement>(null);
  // A job's screen stays the same screen while its executions are expanded and collapsed.
  const screen = execution ? `/jobs/${execution.id}` : pathname;
  const shownScreen = useRef(screen);

  // Move focus to the main region after a navigation to another screen so screen readers announce it.
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs on location changes only
  useEffect(() => {
    const requested = takeFocusRequest();
    if (requested && screen !== shownScreen.current) mainRef.current?.focus({ preventScroll: true });
    shownScreen.current = screen;
  }, [pathname]);

  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Link to={paths.fleet()} className="brand">
          <span className="brand-mark" aria-hidden="true">
            ⇄
          </span>{' '}
          otesse-sync
        </Link>
        <nav aria-label="Main">
          <Link to={paths.fleet()} aria-current={home ? 'page' : undefined}>
            Overview
          </Link>
          <Link to={paths.connections()} aria-current={connections ? 'page' : undefined}>
            Connected apps
          </Link>
          <Link to={paths.alerts()} aria-current={alertList || alertChannel ? 'page' : undefined}>
            Alerts
          </Link>
          <a href="/api/docs">API docs</a>
        </nav>
      </header>
      <main id="main" ref={mainRef} tabIndex={-1}>
        <Screens />
      </main>
      <TokenPrompt />
    </>
  );
}

/** The screen of each URL (see web/README.md). */
function Screens() {
  return (
    <Switch>
      <Route path="/">
        <FleetOverviewPage />
      </Route>
      <Route path="/connections">
        <ConnectionsPage />
      </Route>
      <Route path="/connections/new">
        <ConnectionForm />
      </Route>
      <Route path="/connections/:id">{(p) => <ConnectionDetail connectionId={decodeParam(p.id)} />}</Route>
      <Route path="/connections/:id/edit">{(p) => <ConnectionForm connectionId={decodeParam(p.id)} />}</Route>
      <Route path="/connections/:id/jobs/new">{(p) => <JobFormPage connectionId={decodeParam(p.id)} />}</Route>
      <Route path="/jobs/:id">{(p) => <JobDetail jobId={decodeParam(p.id)} />}</Route>
      <Route path="/jobs/:id/edit">{(p) => <JobFormPage jobId={decodeParam(p.id)} />}</Route>
      <Route path="/jobs/:id/executions/:executionId">
        {(p) => <JobDetail jobId={decodeParam(p.id)} executionId={decodeParam(p.executionId)} />}
      </Route>
      <Route path="/alerts">
        <AlertsPage />
      </Route>
      <Route path="/alerts/:id">{(p) => <AlertsPage channelId={decodeParam(p.id)} />}</Route>
      <Route path="/executions/:id">{(p) => <ExecutionRedirect executionId={decodeParam(p.id)} />}</Route>
      <Route>
        <NotFound />
      </Route>
    </Switch>
  );
}

function NotFound() {
  const [pathname] = useLocation();
  return (
    <Empty>
      <h1>Page not found</h1>
      <p>
        Nothing lives at <code>{pathname}</code>. <Link to={paths.connections()}>Go to connected apps</Link>.
      </p>
    </Empty>
  );
}

/** Asks for the API token when the server answers 401; keeps it in sessionStorage. */
function TokenPrompt() {
  const [open, setOpen] = useState(false);
  const [value, setValue] = useState('');
  const [hadToken, setHadToken] = useState(false);
  const dialog = useRef<HTMLDialogElement>(null);
  const queryClient = useQueryClient();

  useEffect(
    () =>
      onUnauthorized(() => {
        setHadToken(Boolean(getToken()));
        setOpen(true);
      }),
    [],
  );
  useEffect(() => {
    const d = dialog.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!value.trim()) return;
    setToken(value.trim());
    setValue('');
    setOpen(false);
    void queryClient.invalidateQueries();
  };

  return (
    <dialog
      ref={dialog}
      className="dialog"
      aria-labelledby="token-title"
      onCancel={(e) => e.preventDefault() /* the app is unusable without a token */}
    >
      <form onSubmit={submit}>
        <h2 id="token-title">API token required</h2>
        <p className="dialog-body">
          {hadToken
            ? 'The server refused the stored token. Enter a valid one.'
            : 'This server requires an API token (OTESSE_SYNC_API_TOKEN). It is kept for this browser tab only.'}
        </p>
        <div className="field">
          <label htmlFor="api-token">API token</label>
          <input
            id="api-token"
            type="password"
            autoComplete="off"
            value={value}
            onChange={(e) => setValue(e.target.value)}
            required
          />
        </div>
        <div className="actions">
          <button type="submit" className="btn btn-primary">
            Save token
          </button>
        </div>
      </form>
    </dialog>
  );
}

/** `/executions/{id}`: looks the execution up and shows it in its job's history. */
function ExecutionRedirect({ executionId }: { executionId: string }) {
  const execution = useQuery({ queryKey: ['execution', executionId], queryFn: () => api.execution(executionId) });
  useEffect(() => {
    if (execution.data) navigate(paths.execution(execution.data.jobId, execution.data.id), { replace: true });
  }, [execution.data]);
  if (execution.isError) return <ErrorState error={execution.error} retry={() => execution.refetch()} />;
  return <Loading label="Opening the execution…" />;
}
