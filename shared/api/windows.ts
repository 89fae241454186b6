// Planning of listing windows (pure). The API lists by contentCreated with `start <= contentCreated < end`,
// windows of at most 24 h, starting at most 7 days back (reference §2.4). The API takes whole seconds, so a
// range widens outwards to whole seconds (start down, end up): consecutive calls where one's `until` is the
// next one's `since` may overlap by at most a second (content is deduplicated by contentId anyway) but never
// leave a gap, and content created in the last partial second is not missed.

export const HOUR_MS = 3_600_000;
export const MAX_WINDOW_MS = 24 * HOUR_MS;
export const RETENTION_MS = 7 * 24 * HOUR_MS;

export interface Window {
  readonly start: Date;
  readonly end: Date;
}

export interface WindowPlanOptions {
  /** Kept away from the 7-day edge so a clock that is behind the API's does not cause AF20030. Default 30 min. */
  retentionMarginMs?: number;
  /** Largest window. Default (and maximum) 24 h. */
  maxWindowMs?: number;
  /** Windows never end later than `now + futureToleranceMs`, rounded up to the second. Default 0. */
  futureToleranceMs?: number;
}

export interface WindowPlan {
  readonly windows: Window[];
  /**
   * Set when `since` was older than the API still serves: content created in [requestedSince, effectiveSince)
   * can no longer be listed. The caller reports it; it is not an error.
   */
  readonly clipped: { readonly requestedSince: Date; readonly effectiveSince: Date } | null;
}

const floorSecond = (ms: number): number => Math.floor(ms / 1000) * 1000;
const ceilSecond = (ms: number): number => Math.ceil(ms / 1000) * 1000;

/** Splits `[since, until)` into windows the API accepts, relative to our clock `now`. */
export function planWindows(since: Date, until: Date, now: Date, options: WindowPlanOptions = {}): WindowPlan {
  const margin = options.retentionMarginMs ?? 30 * 60_000;
  const maxWindow = Math.min(options.maxWindowMs ?? MAX_WINDOW_MS, MAX_WINDOW_MS);
  if (!(maxWindow >= 1000)) throw new RangeError('maxWindowMs must be at least one second');
  if (!(margin >= 0 && margin < RETENTION_MS)) throw new RangeError('retentionMarginMs must be within 0..7 days');
  for (const [name, d] of [['since', since], ['until', until], ['now', now]] as const) {
    if (Number.isNaN(d.getTime())) throw new RangeError(`${name} is not a valid date`);
  }
  const earliest = ceilSecond(now.getTime() - RETENTION_MS + margin);
  const latest = ceilSecond(now.getTime() + (options.futureToleranceMs ?? 0));
  const requested = floorSecond(since.getTime());
  const start = Math.max(requested, earliest);
  const end = Math.min(ceilSecond(until.getTime()), latest);
  const clipped = requested < earliest ? { requestedSince: new Date(requested), effectiveSince: new Date(earliest) } : null;
  const windows: Window[] = [];
  for (let s = start; s < end; s += maxWindow) {
    windows.push({ start: new Date(s), end: new Date(Math.min(s + maxWindow, end)) });
  }
  return { windows, clipped };
}

/** The time format the API accepts: `YYYY-MM-DDTHH:MM:SS`, UTC, no zone suffix. */
export function formatApiTime(date: Date): string {
  const ms = date.getTime();
  if (Number.isNaN(ms)) throw new RangeError('not a valid date');
  return new Date(floorSecond(ms)).toISOString().slice(0, 19);
}

/** True when a single window is one the API accepts at `now` (used to refuse bad input before asking). */
export function isAcceptableWindow(window: Window, now: Date, retentionMarginMs = 0): boolean {
  const s = window.start.getTime();
  const e = window.end.getTime();
  return s < e && e - s <= MAX_WINDOW_MS && s >= now.getTime() - RETENTION_MS + retentionMarginMs;
}
