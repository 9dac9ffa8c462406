/** A tiny history-based router: the server falls back to index.html, so every screen has its own URL. */
import { type AnchorHTMLAttributes, type MouseEvent, useSyncExternalStore } from 'react';

const listeners = new Set<() => void>();
function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  window.addEventListener('popstate', listener);
  return () => {
    listeners.delete(listener);
    window.removeEventListener('popstate', listener);
  };
}
const snapshot = () => window.location.pathname + window.location.search;

let focusRequested = false;
/** True once after a navigation the user asked for (the app then moves focus to the new screen). */
export function takeFocusRequest(): boolean {
  const requested = focusRequested;
  focusRequested = false;
  return requested;
}

export function navigate(to: string, options: { replace?: boolean; focus?: boolean } = {}): void {
  if (to === snapshot()) return;
  focusRequested = options.focus ?? !options.replace;
  if (options.replace) window.history.replaceState(null, '', to);
  else window.history.pushState(null, '', to);
  for (const l of listeners) l();
  if (!options.replace) window.scrollTo(0, 0);
}

export type Route =
  | { name: 'connections' }
  | { name: 'newConnection' }
  | { name: 'connection'; connectionId: string }
  | { name: 'editConnection'; connectionId: string }
  | { name: 'newJob'; connectionId: string }
  | { name: 'job'; jobId: string; executionId?: string }
  | { name: 'editJob'; jobId: string }
  | { name: 'execution'; executionId: string }
  | { name: 'notFound'; path: string };

export function parseRoute(pathname: string): Route {
  const parts = pathname
    .split('/')
    .filter(Boolean)
    .map((p) => decodeURIComponent(p));
  const [a, b, c, d] = parts;
  if (parts.length === 0) return { name: 'connections' };
  if (a === 'connections') {
    if (parts.length === 1) return { name: 'connections' };
    if (b === 'new' && parts.length === 2) return { name: 'newConnection' };
    if (b && parts.length === 2) return { name: 'connection', connectionId: b };
    if (b && c === 'edit' && parts.length === 3) return { name: 'editConnection', connectionId: b };
    if (b && c === 'jobs' && d === 'new' && parts.length === 4) return { name: 'newJob', connectionId: b };
  }
  if (a === 'jobs' && b) {
    if (parts.length === 2) return { name: 'job', jobId: b };
    if (c === 'edit' && parts.length === 3) return { name: 'editJob', jobId: b };
    if (c === 'executions' && d && parts.length === 4) return { name: 'job', jobId: b, executionId: d };
  }
  if (a === 'executions' && b && parts.length === 2) return { name: 'execution', executionId: b };
  return { name: 'notFound', path: pathname };
}

export function useLocation(): { pathname: string; search: URLSearchParams } {
  const loc = useSyncExternalStore(subscribe, snapshot);
  const url = new URL(loc, 'http://x');
  return { pathname: url.pathname, search: url.searchParams };
}

export function useRoute(): Route {
  return parseRoute(useLocation().pathname);
}

const e = encodeURIComponent;
export const paths = {
  connections: () => '/',
  newConnection: () => '/connections/new',
  connection: (id: string) => `/connections/${e(id)}`,
  editConnection: (id: string) => `/connections/${e(id)}/edit`,
  newJob: (connectionId: string) => `/connections/${e(connectionId)}/jobs/new`,
  job: (id: string) => `/jobs/${e(id)}`,
  editJob: (id: string) => `/jobs/${e(id)}/edit`,
  execution: (jobId: string, executionId: string) => `/jobs/${e(jobId)}/executions/${e(executionId)}`,
};

/** An anchor that navigates without a reload (modifier clicks keep the browser's behaviour). */
export function Link({ to, onClick, ...rest }: { to: string } & AnchorHTMLAttributes<HTMLAnchorElement>) {
  const handle = (event: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(event);
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
    event.preventDefault();
    navigate(to);
  };
  return <a href={to} onClick={handle} {...rest} />;
}
