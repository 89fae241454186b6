// --since / --until: a duration back from now (90m, 2h, 3d) or an ISO 8601 time (UTC when no zone is given).
import { UsageError } from './usage-error';

const unitMs: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseTimeArg(value: string, flag: string, now: Date): Date {
  const relative = /^(\d+(?:\.\d+)?)([smhd])$/.exec(value.trim());
  if (relative) return new Date(now.getTime() - Number(relative[1]) * unitMs[relative[2]!]!);
  if (/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:\d{2})?$/.test(value.trim())) {
    const text = /T.*(Z|[+-]\d{2}:\d{2})$/.test(value) || !value.includes('T') ? value : `${value}Z`;
    const date = new Date(text);
    if (!Number.isNaN(date.getTime())) return date;
  }
  throw new UsageError(`${flag} ${value}: expected a duration such as 90m, 2h or 3d, or an ISO 8601 time`);
}
