/**
 * Cron expressions in plain words for the common forms ("every 15 minutes", "every day at 00:00",
 * "every weekday at 09:00"). Returns null for forms it does not know; the server validates every expression.
 */

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];
const DAY_NAMES: Record<string, number> = { sun: 0, mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6 };
const MONTH_NAMES: Record<string, number> = {
  jan: 1,
  feb: 2,
  mar: 3,
  apr: 4,
  may: 5,
  jun: 6,
  jul: 7,
  aug: 8,
  sep: 9,
  oct: 10,
  nov: 11,
  dec: 12,
};

const MACROS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

const isInt = (s: string) => /^\d+$/.test(s);
const pad = (n: number) => String(n).padStart(2, '0');

function plural(n: number, unit: string): string {
  return n === 1 ? unit : `${n} ${unit}s`;
}

function ordinal(n: number): string {
  const s = ['th', 'st', 'nd', 'rd'];
  const v = n % 100;
  return n + (s[(v - 20) % 10] ?? s[v] ?? s[0]!);
}

function list(items: string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

function dayNumber(s: string): number | null {
  const lower = s.toLowerCase();
  if (lower in DAY_NAMES) return DAY_NAMES[lower]!;
  if (!isInt(s)) return null;
  const n = Number(s);
  return n >= 0 && n <= 7 ? n % 7 : null;
}

function monthNumber(s: string): number | null {
  const lower = s.toLowerCase();
  if (lower in MONTH_NAMES) return MONTH_NAMES[lower]!;
  if (!isInt(s)) return null;
  const n = Number(s);
  return n >= 1 && n <= 12 ? n : null;
}

function describeDays(field: string): string | null {
  if (field === '*' || field === '?') return null;
  if (/^(1-5|mon-fri)$/i.test(field)) return 'every weekday';
  if (/^(0,6|6,0|sat,sun|sun,sat)$/i.test(field)) return 'every Saturday and Sunday';
  const range = /^(\w+)-(\w+)$/.exec(field);
  if (range) {
    const from = dayNumber(range[1]!);
    const to = dayNumber(range[2]!);
    if (from === null || to === null) return null;
    return `every day from ${DAYS[from]} to ${DAYS[to]}`;
  }
  const days = field.split(',').map(dayNumber);
  if (days.some((d) => d === null)) return null;
  return `every ${list(days.map((d) => DAYS[d!]!))}`;
}

function inRange(s: string, min: number, max: number): boolean {
  return isInt(s) && Number(s) >= min && Number(s) <= max;
}

export function cronToWords(expression: string): string | null {
  let expr = expression.trim().replace(/\s+/g, ' ');
  if (expr === '') return null;
  if (expr.toLowerCase() in MACROS) expr = MACROS[expr.toLowerCase()]!;
  const fields = expr.split(' ');
  if (fields.length !== 5) return null;
  const [min, hour, dom, month, dow] = fields as [string, string, string, string, string];
  const anyDate = dom === '*' && month === '*' && (dow === '*' || dow === '?');

  // Minute-level and hour-level repetition, every day.
  if (anyDate) {
    if (min === '*' && hour === '*') return 'every minute';
    const everyMin = /^(?:\*|0)\/(\d+)$/.exec(min);
    if (everyMin && hour === '*') return `every ${plural(Number(everyMin[1]), 'minute')}`;
    if (inRange(min, 0, 59) && hour === '*') {
      return Number(min) === 0 ? 'every hour' : `every hour at ${Number(min)} minutes past`;
    }
    const everyHour = /^(?:\*|0)\/(\d+)$/.exec(hour);
    if (everyHour && inRange(min, 0, 59)) {
      const n = Number(everyHour[1]);
      const at = Number(min) === 0 ? '' : ` at ${Number(min)} minutes past`;
      return `every ${plural(n, 'hour')}${at}`;
    }
    if (min.includes(',') && hour === '*' && min.split(',').every((m) => inRange(m, 0, 59))) {
      return `every hour at minutes ${list(min.split(','))}`;
    }
  }

  // A time of day (one or more hours at a fixed minute).
  if (!inRange(min, 0, 59)) return null;
  const hours = hour.split(',');
  if (!hours.every((h) => inRange(h, 0, 23))) return null;
  const times = list(hours.map((h) => `${pad(Number(h))}:${pad(Number(min))}`));

  if (anyDate) return `every day at ${times}`;
  if (dom === '*' && month === '*') {
    const days = describeDays(dow);
    return days ? `${days} at ${times}` : null;
  }
  if (dow !== '*' && dow !== '?') return null;
  if (!dom.split(',').every((d) => inRange(d, 1, 31))) return null;
  const dayList = list(dom.split(',').map((d) => ordinal(Number(d))));
  if (month === '*') return `on the ${dayList} of every month at ${times}`;
  const months = month.split(',').map(monthNumber);
  if (months.some((m) => m === null)) return null;
  if (months.length === 1 && !dom.includes(',')) return `every year on ${MONTHS[months[0]! - 1]} ${dom} at ${times}`;
  return `on the ${dayList} of ${list(months.map((m) => MONTHS[m! - 1]!))} at ${times}`;
}

/** A schedule for display: "Manual only", the words, or the expression itself. */
export function scheduleInWords(schedule: string | null, timezone?: string): string {
  if (!schedule) return 'Manual only';
  const words = cronToWords(schedule);
  const zone = timezone && timezone !== 'UTC' ? ` (${timezone})` : words ? ' (UTC)' : '';
  return words ? capitalize(words) + zone : `Cron ${schedule}${zone}`;
}

export function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

export const CRON_PRESETS: { label: string; cron: string }[] = [
  { label: 'Every 15 minutes', cron: '*/15 * * * *' },
  { label: 'Hourly', cron: '0 * * * *' },
  { label: 'Every 6 hours', cron: '0 */6 * * *' },
  { label: 'Daily at midnight', cron: '0 0 * * *' },
  { label: 'Weekdays at 09:00', cron: '0 9 * * 1-5' },
  { label: 'Weekly on Monday', cron: '0 0 * * 1' },
  { label: 'Monthly on the 1st', cron: '0 0 1 * *' },
];
