/** The UI's cron-to-words preview (web/src/cron.ts) for the common forms. */
import { describe, expect, it } from 'vitest';
import { cronToWords, scheduleInWords } from '../../web/src/cron.ts';

describe('cronToWords', () => {
  it.each([
    ['* * * * *', 'every minute'],
    ['*/15 * * * *', 'every 15 minutes'],
    ['0/5 * * * *', 'every 5 minutes'],
    ['0 * * * *', 'every hour'],
    ['30 * * * *', 'every hour at 30 minutes past'],
    ['0 */6 * * *', 'every 6 hours'],
    ['15 */2 * * *', 'every 2 hours at 15 minutes past'],
    ['0 0 * * *', 'every day at 00:00'],
    ['@daily', 'every day at 00:00'],
    ['30 9 * * *', 'every day at 09:30'],
    ['0 9,17 * * *', 'every day at 09:00 and 17:00'],
    ['0 9 * * 1-5', 'every weekday at 09:00'],
    ['0 9 * * MON-FRI', 'every weekday at 09:00'],
    ['0 0 * * 1', 'every Monday at 00:00'],
    ['0 0 * * 0,6', 'every Saturday and Sunday at 00:00'],
    ['0 8 * * 1,3,5', 'every Monday, Wednesday and Friday at 08:00'],
    ['0 0 1 * *', 'on the 1st of every month at 00:00'],
    ['0 12 15 * *', 'on the 15th of every month at 12:00'],
    ['0 0 1 1 *', 'every year on January 1 at 00:00'],
    ['@hourly', 'every hour'],
  ])('%s → %s', (cron, words) => {
    expect(cronToWords(cron)).toBe(words);
  });

  it('returns null for what it does not know or cannot read', () => {
    expect(cronToWords('every tuesday-ish')).toBeNull();
    expect(cronToWords('0 0 * *')).toBeNull();
    expect(cronToWords('61 * * * *')).toBeNull();
    expect(cronToWords('0 25 * * *')).toBeNull();
    expect(cronToWords('')).toBeNull();
  });

  it('describes a job schedule', () => {
    expect(scheduleInWords(null)).toBe('Manual only');
    expect(scheduleInWords('*/15 * * * *', 'UTC')).toBe('Every 15 minutes (UTC)');
    expect(scheduleInWords('0 9 * * 1-5', 'Europe/Paris')).toBe('Every weekday at 09:00 (Europe/Paris)');
    expect(scheduleInWords('0 0 L * *')).toBe('Cron 0 0 L * *');
  });
});
