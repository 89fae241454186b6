// The /subscriptions/content and /subscriptions/notifications window rules (reference §2.4): UTC times in
// the documented formats, both-or-neither, at most 24 h apart, start before end, start at most 7 days back.
import { apiError, type ApiError } from './errors.js';

const hour = 3_600_000;
const day = 24 * hour;

// Documented: YYYY-MM-DD, YYYY-MM-DDTHH:MM, YYYY-MM-DDTHH:MM:SS. Allowance: a fraction and a trailing Z, since
// both are still unambiguous UTC and ISO writers emit them. Offsets (+01:00) are refused.
const timePattern = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?)?Z?$/;

export function parseApiTime(text: string): Date | undefined {
  const m = timePattern.exec(text);
  if (!m) return undefined;
  const [y, mo, d, h = '0', mi = '0', s = '0', frac = ''] = m.slice(1);
  const ms = Number((frac + '000').slice(0, 3));
  const date = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms));
  // Date.UTC rolls 2024-02-30 over into March; a rolled date is not the date that was written.
  if (date.getUTCMonth() !== Number(mo) - 1 || date.getUTCDate() !== Number(d) || Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) {
    return undefined;
  }
  return date;
}

export interface TimeWindow {
  start: Date;
  end: Date;
  /** true when the caller gave no times and the default window applies. */
  implicit: boolean;
}

/** What an omitted window means; the reference page and the troubleshooting page disagree (§2.4). */
export type OmittedWindow = 'last24h' | 'sinceMidnight';

export type WindowResult = { ok: true; window: TimeWindow } | { ok: false; error: ApiError };

export function resolveWindow(
  startTime: string | undefined,
  endTime: string | undefined,
  now: Date,
  omitted: OmittedWindow = 'last24h',
): WindowResult {
  if (startTime === undefined && endTime === undefined) {
    // Up to and including "now", so a blob published at this very instant is listed.
    const end = new Date(now.getTime() + 1);
    const start =
      omitted === 'last24h'
        ? new Date(now.getTime() - day)
        : new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
    return { ok: true, window: { start, end, implicit: true } };
  }
  if (startTime === undefined || endTime === undefined) return { ok: false, error: apiError('AF20030') };
  const start = parseApiTime(startTime);
  if (!start) return { ok: false, error: apiError('AF20002', 'startTime', 'datetime') };
  const end = parseApiTime(endTime);
  if (!end) return { ok: false, error: apiError('AF20002', 'endTime', 'datetime') };
  if (start.getTime() >= end.getTime()) return { ok: false, error: apiError('AF20055') };
  if (end.getTime() - start.getTime() > day) return { ok: false, error: apiError('AF20030') };
  if (start.getTime() < now.getTime() - 7 * day) return { ok: false, error: apiError('AF20030') };
  return { ok: true, window: { start, end, implicit: false } };
}

/** The documented filter: startTime <= contentCreated < endTime, so consecutive windows do not overlap. */
export function inWindow(window: TimeWindow, created: Date): boolean {
  return window.start.getTime() <= created.getTime() && created.getTime() < window.end.getTime();
}
