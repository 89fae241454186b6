// Isolating the bad events of a rejected batch, against model destinations: one that rejects any span holding a
// bad event (a plain 400), one that also names the first bad event (Splunk HEC), one that refuses spans over a
// size (413), and one that rejects at random (no model at all: only correctness is checked there).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { ceilLog2, deliverIsolating, type Span, type SpanVerdict } from '../shared/sinks/batch-isolation';

type Destination = (span: Span) => SpanVerdict;

const plain = (bad: ReadonlySet<number>): Destination => (span) => {
  for (let i = span.start; i < span.end; i++) if (bad.has(i)) return { kind: 'rejected', reason: `bad ${i}` };
  return { kind: 'accepted' };
};

const naming = (bad: ReadonlySet<number>): Destination => (span) => {
  for (let i = span.start; i < span.end; i++) if (bad.has(i)) return { kind: 'rejected', reason: `bad ${i}`, firstBad: i - span.start };
  return { kind: 'accepted' };
};

/** Spans of more than `limit` events are too large, and so is any span holding one of the `huge` events. */
const sized = (limit: number, huge: ReadonlySet<number>): Destination => (span) => {
  let tooLarge = span.end - span.start > limit;
  for (let i = span.start; i < span.end && !tooLarge; i++) tooLarge = huge.has(i);
  return tooLarge ? { kind: 'rejected', reason: 'too large', tooLarge: true } : { kind: 'accepted' };
};

async function run(size: number, destination: Destination) {
  const kept: number[] = [];
  const rejected: Array<{ index: number; reason: string }> = [];
  /** Every settled event, in the order settled: must be 0, 1, 2, ... */
  const settled: number[] = [];
  const result = await deliverIsolating(size, {
    send: async (span) => {
      assert.ok(span.start >= 0 && span.end <= size && span.start < span.end, `span ${span.start}..${span.end}`);
      assert.ok(span.start >= settled.length, 'a settled event is never sent again');
      return destination(span);
    },
    accepted: async (span) => {
      for (let i = span.start; i < span.end; i++) (kept.push(i), settled.push(i));
    },
    rejected: async (index, reason) => {
      rejected.push({ index, reason });
      settled.push(index);
    },
  });
  assert.deepEqual(settled, Array.from({ length: size }, (_, i) => i), 'every event settled once, in blob order');
  return { kept, rejected, requests: result.requests };
}

const batches = fc.integer({ min: 1, max: 300 }).chain((size) =>
  fc.record({ size: fc.constant(size), bad: fc.uniqueArray(fc.integer({ min: 0, max: size - 1 }), { maxLength: Math.min(size, 12) }) }),
);

describe('isolating bad events in a rejected batch', () => {
  test('a plain rejection: only the bad events are rejected, with their reason, within ⌈log₂ n⌉ + 2 requests each', async () => {
    await fc.assert(
      fc.asyncProperty(batches, async ({ size, bad }) => {
        const badSet = new Set(bad);
        const { kept, rejected, requests } = await run(size, plain(badSet));
        assert.deepEqual(rejected.map((r) => r.index), [...badSet].sort((a, b) => a - b));
        for (const r of rejected) assert.equal(r.reason, `bad ${r.index}`);
        assert.equal(kept.length, size - badSet.size);
        assert.ok(requests <= 1 + badSet.size * (ceilLog2(size) + 2), `${requests} requests for ${badSet.size} bad of ${size}`);
      }),
      { numRuns: 400 },
    );
  });

  test('the destination names the first bad event: one request per bad event', async () => {
    await fc.assert(
      fc.asyncProperty(batches, async ({ size, bad }) => {
        const badSet = new Set(bad);
        const { rejected, requests } = await run(size, naming(badSet));
        assert.deepEqual(rejected.map((r) => r.index), [...badSet].sort((a, b) => a - b));
        assert.ok(requests <= 1 + badSet.size);
      }),
      { numRuns: 300 },
    );
  });

  test('every event bad: each rejected, at most about 3n requests (plain halving once bad events are dense)', async () => {
    for (const size of [1, 2, 3, 7, 8, 64, 500]) {
      const all = new Set(Array.from({ length: size }, (_, i) => i));
      const { rejected, requests } = await run(size, plain(all));
      assert.equal(rejected.length, size);
      assert.ok(requests <= 3 * size + 2 * ceilLog2(size) + 2, `${requests} requests for ${size} bad events`);
    }
  });

  test('too large (413): halves are sent, nothing is inferred, only a single event still too large is rejected', async () => {
    await fc.assert(
      fc.asyncProperty(batches, fc.integer({ min: 1, max: 64 }), async ({ size, bad }, limit) => {
        const badSet = new Set(bad);
        const { rejected, kept } = await run(size, sized(limit, badSet));
        assert.deepEqual(rejected.map((r) => r.index), [...badSet].sort((a, b) => a - b));
        assert.equal(kept.length, size - badSet.size);
      }),
      { numRuns: 200 },
    );
  });

  test('a destination that rejects at random: no event is rejected unless it was rejected alone or named', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 120 }), fc.infiniteStream(fc.nat(99)), async (size, rolls) => {
        const roll = rolls[Symbol.iterator]();
        const alone = new Set<number>();
        const named = new Set<number>();
        const { rejected } = await run(size, (span) => {
          const r = roll.next().value as number;
          if (r < 60) return { kind: 'accepted' };
          if (span.end - span.start === 1) alone.add(span.start);
          if (r < 70) {
            const firstBad = r % (span.end - span.start);
            named.add(span.start + firstBad);
            return { kind: 'rejected', reason: 'named', firstBad };
          }
          return { kind: 'rejected', reason: 'no', tooLarge: r > 95 };
        });
        for (const { index } of rejected) assert.ok(alone.has(index) || named.has(index), `event ${index} rejected without evidence`);
      }),
      { numRuns: 300 },
    );
  });

  test('a firstBad outside the span is ignored (halving instead)', async () => {
    const badSet = new Set([5]);
    const { rejected } = await run(10, (span) => {
      const v = plain(badSet)(span);
      return v.kind === 'rejected' ? { ...v, firstBad: 99 } : v;
    });
    assert.deepEqual(rejected.map((r) => r.index), [5]);
  });
});
