import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { scheduledJobs } from 'croner';
import { describe, expect, it } from 'vitest';
import { nextRunAt, validateCron, validateTimezone } from './cron.ts';
import { ValidationError } from './errors.ts';

const at = (iso: string) => new Date(iso);
const iso = (d: Date | null) => d?.toISOString() ?? null;

/** Successive fire times after `from`. */
function runs(expr: string, tz: string, from: string, n: number): string[] {
  const out: string[] = [];
  let after = at(from);
  for (let i = 0; i < n; i++) {
    const next = nextRunAt(expr, tz, after);
    if (next === null) break;
    out.push(next.toISOString());
    after = next;
  }
  return out;
}

function validationIssues(fn: () => unknown) {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    return (err as ValidationError).issues;
  }
  throw new Error('expected a ValidationError');
}

describe('validateTimezone', () => {
  it('accepts IANA zone names', () => {
    for (const tz of ['UTC', 'Etc/UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata', 'Etc/GMT+2']) {
      expect(validateTimezone(tz)).toBeNull();
    }
  });

  it('refuses unknown zones, empty strings and UTC offsets', () => {
    expect(validateTimezone('Mars/Olympus_Mons')).toBe(
      'must be a valid IANA time zone such as UTC, Europe/Berlin or America/New_York (got "Mars/Olympus_Mons")',
    );
    expect(validateTimezone('')).toBe('is required');
    expect(validateTimezone('  ')).toBe('is required');
    expect(validateTimezone('+02:00')).toBe('must be an IANA time zone name such as Europe/Berlin, not an offset');
  });
});

describe('validateCron', () => {
  it('accepts 5-field expressions, 6-field expressions with seconds, and nicknames', () => {
    expect(validateCron('*/15 * * * *', 'UTC')).toBeNull();
    expect(validateCron('0 0 * * *', 'America/New_York')).toBeNull();
    expect(validateCron('30 9 * * MON-FRI', 'Europe/Berlin')).toBeNull();
    expect(validateCron('  0 12 1 * *  ', 'UTC')).toBeNull();
    expect(validateCron('*/10 * * * * *', 'UTC')).toBeNull();
    expect(validateCron('@daily', 'UTC')).toBeNull();
    expect(validateCron('0 0 29 2 *', 'UTC')).toBeNull(); // leap days do come around
  });

  it('refuses malformed expressions with a message naming the problem', () => {
    expect(validateCron('', 'UTC')).toBe('is required');
    expect(validateCron('* * * *', 'UTC')).toBe(
      'must have 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first (got 4)',
    );
    expect(validateCron('0 0 0 * * * 2030', 'UTC')).toBe(
      'must have 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first (got 7)',
    );
    expect(validateCron('61 * * * *', 'UTC')).toBe('is not a valid cron expression: Invalid value for minute: 61');
    expect(validateCron('0 25 * * *', 'UTC')).toBe('is not a valid cron expression: Invalid value for hour: 25');
    expect(validateCron('every day', 'UTC')).toBe(
      'must have 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first (got 2)',
    );
    expect(validateCron('x * * * *', 'UTC')).toMatch(/^is not a valid cron expression: /);
    expect(validateCron('@reboot', 'UTC')).toMatch(/^is not a valid cron expression: @reboot is not supported/);
  });

  it('refuses dates and times, which croner would read as a one-off run', () => {
    expect(validateCron('2030-05-01T00:00:00', 'UTC')).toBe(
      'must be a cron expression, not a date or time (got "2030-05-01T00:00:00")',
    );
    expect(validateCron('0 0 * * * 12:00', 'UTC')).toMatch(/^must be a cron expression, not a date or time/);
  });

  it('refuses an expression with no future run', () => {
    expect(validateCron('0 0 30 2 *', 'UTC')).toBe('never fires: no future date matches "0 0 30 2 *"');
    expect(validateCron('0 0 31 4 *', 'Europe/Berlin')).toBe('never fires: no future date matches "0 0 31 4 *"');
  });

  it('refuses a bad time zone', () => {
    expect(validateCron('*/15 * * * *', 'Nowhere/City')).toBe(
      'timezone must be a valid IANA time zone such as UTC, Europe/Berlin or America/New_York (got "Nowhere/City")',
    );
    expect(validateCron('*/15 * * * *', '')).toBe('timezone is required');
  });
});

describe('nextRunAt', () => {
  it('every 15 minutes: the next quarter hour strictly after `after`', () => {
    expect(iso(nextRunAt('*/15 * * * *', 'UTC', at('2026-01-01T00:00:00.000Z')))).toBe('2026-01-01T00:15:00.000Z');
    expect(iso(nextRunAt('*/15 * * * *', 'UTC', at('2026-01-01T00:07:30.250Z')))).toBe('2026-01-01T00:15:00.000Z');
    expect(iso(nextRunAt('*/15 * * * *', 'UTC', at('2026-01-01T00:14:59.999Z')))).toBe('2026-01-01T00:15:00.000Z');
    // Exactly on a fire time: that time is not "after", the next one is.
    expect(iso(nextRunAt('*/15 * * * *', 'UTC', at('2026-01-01T00:15:00.000Z')))).toBe('2026-01-01T00:30:00.000Z');
    expect(runs('*/15 * * * *', 'UTC', '2026-01-01T23:40:00Z', 3)).toEqual([
      '2026-01-01T23:45:00.000Z',
      '2026-01-02T00:00:00.000Z',
      '2026-01-02T00:15:00.000Z',
    ]);
  });

  it('every 15 minutes in a zone with a half-hour offset keeps local quarter hours', () => {
    // Asia/Kolkata is UTC+05:30, so local :00/:15/:30/:45 are also UTC quarter hours.
    expect(iso(nextRunAt('*/15 * * * *', 'Asia/Kolkata', at('2026-01-01T00:01:00Z')))).toBe('2026-01-01T00:15:00.000Z');
    // Local 09:00 in Kolkata is 03:30 UTC.
    expect(iso(nextRunAt('0 9 * * *', 'Asia/Kolkata', at('2026-01-01T00:00:00Z')))).toBe('2026-01-01T03:30:00.000Z');
  });

  it('6-field expressions fire on seconds', () => {
    expect(runs('*/10 * * * * *', 'UTC', '2026-03-07T12:00:00Z', 3)).toEqual([
      '2026-03-07T12:00:10.000Z',
      '2026-03-07T12:00:20.000Z',
      '2026-03-07T12:00:30.000Z',
    ]);
  });

  it('daily at midnight in America/New_York across the March DST change (UTC-5 → UTC-4)', () => {
    // DST starts Sunday 2026-03-08 at 02:00 local.
    expect(runs('0 0 * * *', 'America/New_York', '2026-03-07T12:00:00Z', 3)).toEqual([
      '2026-03-08T05:00:00.000Z', // midnight EST
      '2026-03-09T04:00:00.000Z', // midnight EDT
      '2026-03-10T04:00:00.000Z',
    ]);
  });

  it('daily at midnight in America/New_York across the November DST change (UTC-4 → UTC-5)', () => {
    // DST ends Sunday 2026-11-01 at 02:00 local.
    expect(runs('0 0 * * *', 'America/New_York', '2026-10-31T12:00:00Z', 3)).toEqual([
      '2026-11-01T04:00:00.000Z', // midnight EDT
      '2026-11-02T05:00:00.000Z', // midnight EST
      '2026-11-03T05:00:00.000Z',
    ]);
  });

  it('a fixed time inside the New York spring-forward gap runs at the first valid time after it', () => {
    // 02:30 does not exist on 2026-03-08 in New York; the run happens at 03:00 EDT (07:00Z).
    expect(runs('30 2 * * *', 'America/New_York', '2026-03-07T12:00:00Z', 3)).toEqual([
      '2026-03-08T07:00:00.000Z',
      '2026-03-09T06:30:00.000Z',
      '2026-03-10T06:30:00.000Z',
    ]);
  });

  it('daily at midnight in Europe/Berlin, before and after its DST change', () => {
    expect(iso(nextRunAt('0 0 * * *', 'Europe/Berlin', at('2026-03-07T12:00:00Z')))).toBe('2026-03-07T23:00:00.000Z');
    // DST starts Sunday 2026-03-29 at 02:00 local (UTC+1 → UTC+2).
    expect(runs('0 0 * * *', 'Europe/Berlin', '2026-03-28T12:00:00Z', 2)).toEqual([
      '2026-03-28T23:00:00.000Z', // midnight CET
      '2026-03-29T22:00:00.000Z', // midnight CEST
    ]);
  });

  it('a fixed time that occurs twice when Berlin falls back runs once', () => {
    // DST ends Sunday 2026-10-25 at 03:00 local: 02:30 happens at 00:30Z (CEST) and 01:30Z (CET).
    expect(runs('30 2 * * *', 'Europe/Berlin', '2026-10-24T12:00:00Z', 2)).toEqual([
      '2026-10-25T00:30:00.000Z',
      '2026-10-26T01:30:00.000Z',
    ]);
  });

  it('weekdays only, in Berlin', () => {
    // 2026-03-06 is a Friday; the next weekday 09:30 after Friday 12:00 is Monday 2026-03-09.
    expect(iso(nextRunAt('30 9 * * 1-5', 'Europe/Berlin', at('2026-03-06T12:00:00Z')))).toBe(
      '2026-03-09T08:30:00.000Z',
    );
  });

  it('returns null when there is no run after `after`', () => {
    expect(nextRunAt('0 0 30 2 *', 'UTC', at('2026-01-01T00:00:00Z'))).toBeNull();
  });

  it('throws a ValidationError at schedule.cron or schedule.timezone for bad input', () => {
    expect(validationIssues(() => nextRunAt('61 * * * *', 'UTC', at('2026-01-01T00:00:00Z')))).toEqual([
      { path: 'schedule.cron', message: 'is not a valid cron expression: Invalid value for minute: 61' },
    ]);
    expect(validationIssues(() => nextRunAt('* * *', 'UTC', at('2026-01-01T00:00:00Z')))).toEqual([
      {
        path: 'schedule.cron',
        message: 'must have 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first (got 3)',
      },
    ]);
    expect(validationIssues(() => nextRunAt('* * * * *', 'Bad/Zone', at('2026-01-01T00:00:00Z')))).toEqual([
      {
        path: 'schedule.timezone',
        message: 'must be a valid IANA time zone such as UTC, Europe/Berlin or America/New_York (got "Bad/Zone")',
      },
    ]);
  });

  it('throws a RangeError for an invalid `after` date', () => {
    expect(() => nextRunAt('* * * * *', 'UTC', new Date(Number.NaN))).toThrow(RangeError);
  });
});

describe('no timers', () => {
  it('leaves no timer or registered croner job behind', () => {
    const timersBefore = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const jobsBefore = scheduledJobs.length;
    for (let i = 0; i < 50; i++) {
      validateCron('*/15 * * * *', 'Europe/Berlin');
      validateCron('0 0 30 2 *', 'UTC');
      nextRunAt('*/10 * * * * *', 'America/New_York', new Date());
    }
    expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length).toBe(timersBefore);
    expect(scheduledJobs.length).toBe(jobsBefore);
  });

  it('a process that uses cron.ts exits on its own', () => {
    const root = fileURLToPath(new URL('../../', import.meta.url));
    const script = [
      "const { nextRunAt, validateCron } = await import('./src/domain/cron.ts');",
      "const ok = validateCron('*/15 * * * *', 'UTC') === null;",
      "const next = nextRunAt('0 0 * * *', 'America/New_York', new Date('2026-03-07T12:00:00Z'));",
      'console.log(ok, next.toISOString());',
    ].join('\n');
    const started = Date.now();
    // A live croner timer would hold the process for at least 30 s (croner re-arms every 30 s at most).
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: root,
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(out.trim()).toBe('true 2026-03-08T05:00:00.000Z');
    expect(Date.now() - started).toBeLessThan(20_000);
  });
});
