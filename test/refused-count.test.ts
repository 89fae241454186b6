// The refused count health shows for a stream, from its row's two fields (pure): the count while the newest
// refused row can still be in the ledger, 0 once the keeper's purge age has passed; new refusals after that start
// the count again instead of adding to rows long gone.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { contentKeptMs } from '../shared/pipeline/ledger';
import { refusedKept, withRefused, type RefusedTally } from '../shared/pipeline/refused-count';

const t0 = new Date('2026-11-20T08:00:00.000Z');
const later = (ms: number) => new Date(t0.getTime() + ms);

describe('refused count (pure)', () => {
  it('is 0 for a stream that never had one', () => {
    assert.equal(refusedKept({}, t0), 0);
    assert.equal(refusedKept({ refusedCount: 3 }, t0), 0, 'a count without its time is not trusted');
  });

  it('shows the count until the purge age (8 days) has passed since the last refusal, then 0', () => {
    const tally = withRefused(withRefused({}, 2, t0), 1, later(86_400_000));
    assert.deepEqual(tally, { refusedCount: 3, lastRefusedAt: later(86_400_000) });
    assert.equal(contentKeptMs, 8 * 86_400_000, 'the keeper purges content older than 8 days');
    assert.equal(refusedKept(tally, later(86_400_000 + contentKeptMs - 1)), 3);
    assert.equal(refusedKept(tally, later(86_400_000 + contentKeptMs)), 0);
  });

  it('starts again from the new refusals when the earlier ones were all purged', () => {
    const old = withRefused<RefusedTally>({}, 5, t0);
    assert.deepEqual(withRefused(old, 2, later(contentKeptMs + 60_000)), { refusedCount: 2, lastRefusedAt: later(contentKeptMs + 60_000) });
    assert.equal(withRefused(old, 2, later(contentKeptMs - 60_000)).refusedCount, 7);
  });

  it('keeps the other fields of the row and changes nothing for no new refusal', () => {
    const row = { cursor: t0, refusedCount: 1, lastRefusedAt: t0 };
    assert.equal(withRefused(row, 0, later(1)), row);
    assert.deepEqual(withRefused(row, 1, later(1)), { cursor: t0, refusedCount: 2, lastRefusedAt: later(1) });
  });

  it('never shows more than were recorded, nor any once the last is older than the purge age (property)', () => {
    const step = fc.record({ added: fc.integer({ min: 0, max: 50 }), gapMs: fc.integer({ min: 0, max: 3 * contentKeptMs }) });
    fc.assert(fc.property(fc.array(step, { maxLength: 30 }), fc.integer({ min: 0, max: 2 * contentKeptMs }), (steps, lookMs) => {
      let tally: RefusedTally = {};
      let at = t0.getTime();
      let recorded = 0;
      let lastAt: number | undefined;
      for (const { added, gapMs } of steps) {
        at += gapMs;
        tally = withRefused(tally, added, new Date(at));
        recorded += added;
        if (added > 0) lastAt = at;
      }
      const shown = refusedKept(tally, new Date(at + lookMs));
      assert.ok(shown >= 0 && shown <= recorded);
      if (lastAt === undefined || at + lookMs - lastAt >= contentKeptMs) assert.equal(shown, 0);
      else assert.ok(shown > 0, 'a refusal within the purge age is shown');
    }));
  });
});
