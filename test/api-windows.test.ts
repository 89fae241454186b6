import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { formatApiTime, HOUR_MS, isAcceptableWindow, MAX_WINDOW_MS, planWindows, RETENTION_MS } from '../shared/api/windows';

const now = new Date('2026-11-25T12:00:00.000Z');

describe('planWindows', () => {
  it('splits a range into contiguous windows of at most 24 h', () => {
    const since = new Date(now.getTime() - 3 * 24 * HOUR_MS - 5 * HOUR_MS);
    const { windows, clipped } = planWindows(since, now, now);
    assert.equal(clipped, null);
    assert.equal(windows.length, 4);
    assert.equal(windows[0]!.start.toISOString(), since.toISOString());
    assert.equal(windows.at(-1)!.end.toISOString(), now.toISOString());
    for (let i = 1; i < windows.length; i++) assert.equal(windows[i]!.start.getTime(), windows[i - 1]!.end.getTime());
  });

  it('clips a start older than 7 days minus the margin and reports it', () => {
    const since = new Date(now.getTime() - 10 * 24 * HOUR_MS);
    const { windows, clipped } = planWindows(since, now, now, { retentionMarginMs: 30 * 60_000 });
    assert.ok(clipped);
    assert.equal(clipped.effectiveSince.toISOString(), '2026-11-18T12:30:00.000Z');
    assert.equal(windows[0]!.start.toISOString(), '2026-11-18T12:30:00.000Z');
  });

  it('does not plan into the future of our clock and gives nothing for an empty range', () => {
    assert.equal(planWindows(now, new Date(now.getTime() + HOUR_MS), now).windows.length, 0);
    assert.equal(planWindows(now, now, now).windows.length, 0);
    const later = planWindows(new Date(now.getTime() - HOUR_MS), new Date(now.getTime() + HOUR_MS), now, { futureToleranceMs: 60_000 });
    assert.equal(later.windows.at(-1)!.end.toISOString(), '2026-11-25T12:01:00.000Z');
  });

  it('widens to whole seconds, so content of the last partial second is listed', () => {
    const since = new Date('2026-11-25T10:00:00.750Z');
    const until = new Date('2026-11-25T11:00:00.250Z');
    const { windows } = planWindows(since, until, now);
    assert.equal(windows[0]!.start.toISOString(), '2026-11-25T10:00:00.000Z');
    assert.equal(windows[0]!.end.toISOString(), '2026-11-25T11:00:01.000Z');
    const atNow = planWindows(new Date(now.getTime() - HOUR_MS), new Date(now.getTime() + 250), new Date(now.getTime() + 250));
    assert.equal(atNow.windows.at(-1)!.end.toISOString(), '2026-11-25T12:00:01.000Z');
  });

  it('property: sweeps that continue where the last one stopped leave no gap', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 6 * 24 * HOUR_MS }), fc.integer({ min: 1, max: 3 * 24 * HOUR_MS }), fc.integer({ min: 1, max: 3 * 24 * HOUR_MS }), (back, first, second) => {
        const since = new Date(now.getTime() - back - first - second);
        const middle = new Date(since.getTime() + first);
        const until = new Date(middle.getTime() + second);
        const clock = new Date(Math.max(until.getTime(), now.getTime()));
        const a = planWindows(since, middle, clock).windows;
        const b = planWindows(middle, until, clock).windows;
        if (a.length > 0 && b.length > 0) assert.ok(b[0]!.start.getTime() <= a.at(-1)!.end.getTime(), 'no gap');
        if (a.length > 0 && b.length > 0) assert.ok(a.at(-1)!.end.getTime() - b[0]!.start.getTime() <= 1000, 'overlap of at most a second');
      }),
    );
  });

  it('property: windows are in order, contiguous, ≤ 24 h, accepted by the API even if the API clock is ahead by less than the margin', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -20 * 24 * HOUR_MS, max: 2 * HOUR_MS }),
        fc.integer({ min: 0, max: 20 * 24 * HOUR_MS }),
        fc.integer({ min: 0, max: 29 * 60_000 }),
        (sinceOffset, length, skew) => {
          const since = new Date(now.getTime() + sinceOffset);
          const until = new Date(since.getTime() + length);
          const { windows } = planWindows(since, until, now);
          const serverNow = new Date(now.getTime() + skew);
          let previous: number | undefined;
          for (const w of windows) {
            assert.ok(w.end.getTime() - w.start.getTime() <= MAX_WINDOW_MS);
            assert.ok(isAcceptableWindow(w, serverNow), `${w.start.toISOString()}..${w.end.toISOString()}`);
            assert.equal(w.start.getTime() % 1000, 0);
            assert.equal(w.end.getTime() % 1000, 0);
            if (previous !== undefined) assert.equal(w.start.getTime(), previous);
            previous = w.end.getTime();
          }
          if (windows.length > 0) assert.ok(windows[0]!.start.getTime() >= now.getTime() - RETENTION_MS);
        },
      ),
    );
  });

  it('refuses invalid input', () => {
    assert.throws(() => planWindows(new Date('x'), now, now), RangeError);
    assert.throws(() => planWindows(now, now, now, { maxWindowMs: 10 }), RangeError);
  });
});

describe('formatApiTime', () => {
  it('formats UTC to the second without zone', () => {
    assert.equal(formatApiTime(new Date('2024-05-14T00:04:12.999Z')), '2024-05-14T00:04:12');
    assert.equal(formatApiTime(new Date('2024-05-14T02:04:12+02:00')), '2024-05-14T00:04:12');
  });
  it('matches the API format for any date', () => {
    fc.assert(
      fc.property(fc.date({ min: new Date('2000-01-01'), max: new Date('2099-12-31'), noInvalidDate: true }), (d) => {
        assert.match(formatApiTime(d), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/);
        assert.equal(new Date(formatApiTime(d) + 'Z').getTime(), Math.floor(d.getTime() / 1000) * 1000);
      }),
    );
  });
});
