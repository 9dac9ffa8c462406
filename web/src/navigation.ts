/**
 * URLs of the screens and navigation (wouter does the routing: App.tsx). The server falls back to index.html,
 * so every screen has its own URL.
 *
 * Focus: after a navigation the user asked for (a link, a button that opens another screen) App.tsx moves focus
 * to the new screen so screen readers announce it; on the first load, back/forward and redirects it stays
 * where the browser puts it (the first Tab reaches the skip link).
 */
import type { AroundNavHandler } from 'wouter';
import { navigate as browserNavigate } from 'wouter/use-browser-location';

const e = encodeURIComponent;
export const paths = {
  /** The fleet overview: the home screen. */
  fleet: () => '/',
  connections: () => '/connections',
  newConnection: () => '/connections/new',
  connection: (id: string) => `/connections/${e(id)}`,
  editConnection: (id: string) => `/connections/${e(id)}/edit`,
  newJob: (connectionId: string) => `/connections/${e(connectionId)}/jobs/new`,
  job: (id: string) => `/jobs/${e(id)}`,
  editJob: (id: string) => `/jobs/${e(id)}/edit`,
  execution: (jobId: string, executionId: string) => `/jobs/${e(jobId)}/executions/${e(executionId)}`,
  /** Notification channels; with a channel, its delivery log. */
  alerts: (channelId?: string) => (channelId ? `/alerts/${e(channelId)}` : '/alerts'),
};

let focusRequested = false;
/** True once after a navigation the user asked for (the app then moves focus to the new screen). */
export function takeFocusRequest(): boolean {
  const requested = focusRequested;
  focusRequested = false;
  return requested;
}

export interface NavigateOptions {
  /** Replace the current history entry (a redirect) instead of adding one. */
  replace?: boolean;
  /** Move focus to the new screen and scroll to the top; default: unless `replace`. */
  focus?: boolean;
}

/** Goes to `to` (nothing when already there). */
export function navigate(to: string, options: NavigateOptions = {}): void {
  go(to, options, () => browserNavigate(to, { replace: options.replace ?? false }));
}

/** wouter's navigations (`<Link>`, `<Redirect>`) take the same path as `navigate`: a link click moves focus. */
export const aroundNav: AroundNavHandler = (nav, to, options) => go(to, options ?? {}, () => nav(to, options));

function go(to: string, options: NavigateOptions, nav: () => void): void {
  if (to === window.location.pathname + window.location.search) return;
  const focus = options.focus ?? !options.replace;
  focusRequested = focus;
  nav();
  if (focus) window.scrollTo(0, 0);
}

/** A route parameter as `paths` encoded it. */
export function decodeParam(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part; // a malformed escape: kept as typed (the screen then reports what it cannot find)
  }
}
