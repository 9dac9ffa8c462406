/**
 * Cron schedules: validation and next fire time, computed with croner without ever starting a timer.
 *
 * Accepted expressions: classic 5 fields (`minute hour day-of-month month day-of-week`), croner's 6 fields
 * with seconds first, and croner's nicknames (`@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly`).
 * Times are computed in an IANA time zone, DST included: a fixed-time job whose time falls in a DST gap
 * runs at the first valid time after it, and runs once when its time occurs twice.
 */
import { Cron } from 'croner';
import { ValidationError } from './errors.ts';

/** Builds a croner job for computing times only: no callback, paused, so croner never schedules a timer. */
function makeCron(expr: string, timezone: string): Cron {
  return new Cron(expr, { paused: true, timezone, mode: '5-or-6-parts' });
}

/** Null when `timezone` is a valid IANA time zone name (e.g. `Europe/Berlin`, `UTC`), else why not. */
export function validateTimezone(timezone: string): string | null {
  if (timezone.trim() === '') return 'is required';
  // Intl accepts UTC offsets such as "+02:00" too; they are not zones (no DST rules), so refuse them.
  if (/^[+-]\d/.test(timezone)) return `must be an IANA time zone name such as Europe/Berlin, not an offset`;
  try {
    new Intl.DateTimeFormat(undefined, { timeZone: timezone });
    return null;
  } catch {
    return `must be a valid IANA time zone such as UTC, Europe/Berlin or America/New_York (got "${timezone}")`;
  }
}

/** Null when the expression alone (time zone aside) is a valid 5- or 6-field cron expression or nickname. */
function validateCronSyntax(expr: string): string | null {
  const trimmed = expr.trim();
  if (trimmed === '') return 'is required';
  // croner reads any string containing ':' as a one-off date ("2026-05-01T00:00"): not a schedule.
  if (trimmed.includes(':')) return `must be a cron expression, not a date or time (got "${trimmed}")`;
  if (!trimmed.startsWith('@')) {
    const fields = trimmed.split(/\s+/).length;
    if (fields !== 5 && fields !== 6) {
      return `must have 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first (got ${fields})`;
    }
  }
  return null;
}

function cronerMessage(err: unknown): string {
  const raw = err instanceof Error ? err.message : String(err);
  return raw.replace(/^Cron(Pattern|Options|Date)?: /, '');
}

/**
 * Null when `expr` is a valid cron expression with at least one future run in `timezone`,
 * else an error message (about the time zone if that is what is wrong).
 */
export function validateCron(expr: string, timezone: string): string | null {
  const tzProblem = validateTimezone(timezone);
  if (tzProblem !== null) return `timezone ${tzProblem}`;
  const syntax = validateCronSyntax(expr);
  if (syntax !== null) return syntax;
  let job: Cron | undefined;
  try {
    job = makeCron(expr.trim(), timezone);
    if (job.nextRun(new Date()) === null) return `never fires: no future date matches "${expr.trim()}"`;
    return null;
  } catch (err) {
    return `is not a valid cron expression: ${cronerMessage(err)}`;
  } finally {
    job?.stop();
  }
}

/**
 * The next fire time of `expr` in `timezone` strictly after `after` (whole seconds), or null when there is none.
 * Throws a `ValidationError` (paths `schedule.cron` / `schedule.timezone`) when the expression or zone is invalid.
 */
export function nextRunAt(expr: string, timezone: string, after: Date): Date | null {
  if (Number.isNaN(after.getTime())) throw new RangeError('nextRunAt: `after` is an invalid Date');
  const tzProblem = validateTimezone(timezone);
  if (tzProblem !== null) throw new ValidationError([{ path: 'schedule.timezone', message: tzProblem }]);
  const syntax = validateCronSyntax(expr);
  if (syntax !== null) throw new ValidationError([{ path: 'schedule.cron', message: syntax }]);
  let job: Cron | undefined;
  try {
    job = makeCron(expr.trim(), timezone);
  } catch (err) {
    throw new ValidationError(
      [{ path: 'schedule.cron', message: `is not a valid cron expression: ${cronerMessage(err)}` }],
      { cause: err },
    );
  }
  try {
    return job.nextRun(after);
  } finally {
    job.stop();
  }
}
