// Timer schedules as Azure Functions reads them: a six-field NCRONTAB expression
// `{second} {minute} {hour} {day} {month} {day-of-week}` (NCrontab semantics: day AND day-of-week must both match,
// `a/n` steps from a to the field's maximum, names match by prefix), or a TimeSpan interval `hh:mm:ss`.
// Pure: no clock, no timers; times are UTC (the host's default without WEBSITE_TIME_ZONE).
import { parseTimeSpan } from './host-config';

export type Schedule =
  | { kind: 'cron'; expression: string; fields: readonly ReadonlySet<number>[] }
  | { kind: 'interval'; expression: string; intervalMs: number };

interface FieldSpec { name: string; min: number; max: number; names?: readonly string[] }

const fieldSpecs: readonly FieldSpec[] = [
  { name: 'second', min: 0, max: 59 },
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'] },
  { name: 'day-of-week', min: 0, max: 6, names: ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'] },
];

export class ScheduleError extends Error {
  override name = 'ScheduleError';
}

function parseValue(text: string, spec: FieldSpec): number {
  if (/^\d+$/.test(text)) return Number(text);
  const lower = text.toLowerCase();
  const index = spec.names?.findIndex((n) => lower.length > 0 && n.startsWith(lower)) ?? -1;
  if (index < 0) throw new ScheduleError(`"${text}" is not a valid ${spec.name} value.`);
  return index + spec.min;
}

function parseItem(item: string, spec: FieldSpec, into: Set<number>): void {
  const [range = '', stepText, extra] = item.split('/');
  if (extra !== undefined || range === '') throw new ScheduleError(`"${item}" is not a valid ${spec.name} item.`);
  const step = stepText === undefined ? 1 : Number(stepText);
  if (!Number.isInteger(step) || step < 1 || (stepText !== undefined && !/^\d+$/.test(stepText))) {
    throw new ScheduleError(`"${item}" has an invalid step.`);
  }
  let first: number;
  let last: number;
  if (range === '*') {
    [first, last] = [spec.min, spec.max];
  } else if (range.includes('-')) {
    const [a = '', b = ''] = range.split('-');
    [first, last] = [parseValue(a, spec), parseValue(b, spec)];
  } else {
    first = parseValue(range, spec);
    last = stepText === undefined ? first : spec.max;
  }
  if (first < spec.min || last > spec.max || first > last) {
    throw new ScheduleError(`"${item}" is out of range for ${spec.name} (${spec.min}-${spec.max}).`);
  }
  for (let v = first; v <= last; v += step) into.add(v);
}

export function parseSchedule(expression: string): Schedule {
  const trimmed = expression.trim();
  if (/^(\d+\.)?\d{1,2}:\d{1,2}:\d{1,2}$/.test(trimmed)) {
    const intervalMs = parseTimeSpan(trimmed);
    if (intervalMs <= 0) throw new ScheduleError(`"${expression}": the interval must be positive.`);
    return { kind: 'interval', expression: trimmed, intervalMs };
  }
  const parts = trimmed.split(/\s+/);
  if (parts.length !== fieldSpecs.length) {
    throw new ScheduleError(`"${expression}" must have 6 fields: second minute hour day month day-of-week.`);
  }
  const fields = fieldSpecs.map((spec, i) => {
    const set = new Set<number>();
    for (const item of (parts[i] ?? '').split(',')) parseItem(item, spec, set);
    return set;
  });
  return { kind: 'cron', expression: trimmed, fields };
}

/** Searching further than this finds nothing new: 28 years cover every (Feb 29, weekday) combination. */
const SEARCH_YEARS = 29;

/** The first occurrence strictly after `after`, or undefined if the schedule can never fire (e.g. 31 Feb). */
export function nextOccurrence(schedule: Schedule, after: Date): Date | undefined {
  if (schedule.kind === 'interval') return new Date(after.getTime() + schedule.intervalMs);
  const [seconds, minutes, hours, days, months, weekdays] = schedule.fields as [Set<number>, Set<number>, Set<number>, Set<number>, Set<number>, Set<number>];
  const t = new Date(Math.floor(after.getTime() / 1000) * 1000 + 1000);
  const limit = after.getUTCFullYear() + SEARCH_YEARS;
  while (t.getUTCFullYear() <= limit) {
    if (!months.has(t.getUTCMonth() + 1)) {
      t.setUTCMonth(t.getUTCMonth() + 1, 1);
      t.setUTCHours(0, 0, 0, 0);
    } else if (!days.has(t.getUTCDate()) || !weekdays.has(t.getUTCDay())) {
      t.setUTCDate(t.getUTCDate() + 1);
      t.setUTCHours(0, 0, 0, 0);
    } else if (!hours.has(t.getUTCHours())) {
      t.setUTCHours(t.getUTCHours() + 1, 0, 0, 0);
    } else if (!minutes.has(t.getUTCMinutes())) {
      t.setUTCMinutes(t.getUTCMinutes() + 1, 0, 0);
    } else if (!seconds.has(t.getUTCSeconds())) {
      t.setUTCSeconds(t.getUTCSeconds() + 1, 0);
    } else {
      return t;
    }
  }
  return undefined;
}
