/**
 * The lock on a PGlite data directory. PGlite is a single-process database: two processes (or two instances in one
 * process) on one directory see different data and can corrupt it. The first opener writes `otesse-sync.lock` into
 * the directory (its pid, host, start time, and once a server listens, its URL); a second opener is refused with
 * a message that names the holder and what to do. A lock whose process is gone (killed, crashed) is taken over.
 *
 * The lock file is created whole or not at all (written to a private temporary file, then hard-linked into place,
 * which fails when the name exists), so a reader never sees half of one. Node has no advisory file locks, and the
 * usual lock libraries record no owner; the pid is what the message and the CLI's server discovery need.
 */
import { linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';

export const LOCK_FILE = 'otesse-sync.lock';

export interface LockHolder {
  pid: number;
  hostname: string;
  startedAt: string;
  /** What holds it: `serve`, `worker`, `cli`, or the library (`engine`). */
  command: string;
  /** Set by a server once it listens: where its REST API is. */
  url?: string;
}

export class DataDirectoryLockedError extends Error {
  override readonly name = 'DataDirectoryLockedError';
  readonly code = 'data_directory_locked';
  constructor(
    readonly dir: string,
    readonly holder: LockHolder,
  ) {
    const what = holder.url ? `otesse-sync ${holder.command} at ${holder.url}` : `otesse-sync ${holder.command}`;
    const where = holder.hostname === hostname() ? '' : ` on host ${holder.hostname}`;
    super(
      `the data directory ${dir} is in use by process ${holder.pid}${where} (${what}, since ${holder.startedAt}). ` +
        'PGlite is a single-process database: stop that process first, or run the operator commands ' +
        '(jobs, run, executions, dlq) against its server (found automatically, or --server URL / OTESSE_SYNC_URL), ' +
        'or use PostgreSQL (DATABASE_URL) to run several processes on one database.',
    );
  }
}

export interface DataDirectoryLock {
  readonly dir: string;
  /** Records the server's URL in the lock, for the CLI to find it. */
  setUrl(url: string): void;
  release(): void;
}

/** Whether a process with this pid runs on this machine (signal 0 checks without sending anything). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

function parse(text: string): LockHolder | null {
  try {
    const value = JSON.parse(text) as Partial<LockHolder>;
    if (typeof value.pid !== 'number' || typeof value.hostname !== 'string') return null;
    return {
      pid: value.pid,
      hostname: value.hostname,
      startedAt: String(value.startedAt ?? ''),
      command: String(value.command ?? 'engine'),
      ...(typeof value.url === 'string' ? { url: value.url } : {}),
    };
  } catch {
    return null;
  }
}

/**
 * Who holds the directory's lock, when a live process does (on this host; a lock written on another host is
 * assumed live: its process cannot be checked from here). Null when there is no lock or it is stale.
 */
export function lockHolder(dir: string): LockHolder | null {
  let text: string;
  try {
    text = readFileSync(join(dir, LOCK_FILE), 'utf8');
  } catch {
    return null;
  }
  const holder = parse(text);
  if (!holder) return null;
  if (holder.hostname === hostname() && !alive(holder.pid)) return null;
  return holder;
}

/** Locks held by this process, released at exit when the application did not close them. */
const held = new Set<string>();
let exitHook = false;

/** Takes the directory's lock or throws `DataDirectoryLockedError`. The directory must exist. */
export function lockDataDirectory(dir: string, command = processCommand()): DataDirectoryLock {
  const path = join(resolve(dir), LOCK_FILE);
  const mine: LockHolder = { pid: process.pid, hostname: hostname(), startedAt: new Date().toISOString(), command };
  const write = (holder: LockHolder) => {
    const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}`;
    writeFileSync(tmp, `${JSON.stringify(holder)}\n`, { mode: 0o600 });
    return tmp;
  };
  for (let attempt = 0; ; attempt++) {
    const tmp = write(mine);
    try {
      linkSync(tmp, path);
      unlinkSync(tmp);
      break;
    } catch (err) {
      unlinkSync(tmp);
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 5) throw err;
    }
    const existing = (() => {
      try {
        return readFileSync(path, 'utf8');
      } catch {
        return null; // released meanwhile: try again
      }
    })();
    if (existing === null) continue;
    const holder = parse(existing);
    if (holder && (holder.hostname !== hostname() || alive(holder.pid))) {
      throw new DataDirectoryLockedError(resolve(dir), holder);
    }
    // Stale (its process is gone) or unreadable: move it aside, and only drop it if it is still the one we read
    // (another process may have taken it over in between; then put theirs back).
    const aside = `${path}.stale.${process.pid}`;
    try {
      renameSync(path, aside);
    } catch {
      continue;
    }
    if (readFileSync(aside, 'utf8') === existing) unlinkSync(aside);
    else {
      try {
        linkSync(aside, path);
      } catch {
        // Someone locked meanwhile; the next attempt reads theirs.
      }
      unlinkSync(aside);
    }
  }
  held.add(path);
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => {
      for (const p of held) releasePath(p);
    });
  }
  let current = mine;
  return {
    dir: resolve(dir),
    setUrl(url) {
      current = { ...current, url };
      const tmp = write(current);
      renameSync(tmp, path);
    },
    release() {
      if (!held.delete(path)) return;
      releasePath(path);
    },
  };
}

/** Removes the lock file if this process holds it. */
function releasePath(path: string): void {
  try {
    const holder = parse(readFileSync(path, 'utf8'));
    if (holder?.pid === process.pid && holder.hostname === hostname()) unlinkSync(path);
  } catch {
    // Gone already.
  }
}

/** `serve`, `worker`, … for the CLI; `engine` for an application using the library. */
function processCommand(): string {
  const script = process.argv[1] ?? '';
  if (/otesse-sync(\.js)?$|cli[/\\]main\.[jt]s$/.test(script)) return process.argv[2] ?? 'cli';
  return 'engine';
}
