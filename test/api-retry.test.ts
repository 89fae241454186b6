// The one retry policy, the per-tenant limiter and the start guard, driven by a fake clock and fixed randomness.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Clock } from '../shared/api/clock';
import { apiError, ManagementApiError } from '../shared/api/errors';
import { createRequestLimiter } from '../shared/api/limiter';
import { backoffDelay, defaultRetryPolicy, parseRetryAfter, withRetry } from '../shared/api/retry';
import { createStartGuard, START_SPACING_MS } from '../shared/api/start-guard';

/** A clock that only moves when someone sleeps; records every sleep. */
function fakeClock(start = 1_000_000): Clock & { sleeps: number[] } {
  let t = start;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => t,
    sleep: async (ms, signal) => {
      if (signal?.aborted) throw signal.reason;
      sleeps.push(ms);
      t += ms;
    },
  };
}

function failing(errors: ManagementApiError[], value = 'ok') {
  let calls = 0;
  const op = async () => {
    const err = errors[calls++];
    if (err) throw err;
    return value;
  };
  return { op, calls: () => calls };
}

describe('withRetry', () => {
  it('retries AF429, AF50000, 5xx and network errors, then succeeds', async () => {
    const clock = fakeClock();
    const { op, calls } = failing([
      apiError('AF429', { status: 403 }),
      apiError('AF50000', { status: 500 }),
      apiError('SERVER_ERROR', { status: 503 }),
      apiError('NETWORK'),
    ]);
    assert.equal(await withRetry(op, { clock, random: () => 0.5 }), 'ok');
    assert.equal(calls(), 5);
    assert.equal(clock.sleeps.length, 4);
  });

  it('uses exponential backoff with jitter inside [ceiling/2, ceiling]', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.double({ min: 0, max: 0.999999, noNaN: true }), (retry, r) => {
        const d = backoffDelay(retry, defaultRetryPolicy, () => r);
        const ceiling = Math.min(defaultRetryPolicy.maxDelayMs, defaultRetryPolicy.baseDelayMs * 2 ** (retry - 1));
        assert.ok(d >= Math.floor(ceiling / 2) && d <= ceiling, `${d} vs ${ceiling}`);
      }),
    );
    const policy = { ...defaultRetryPolicy, maxDelayMs: 1e9 };
    assert.deepEqual([1, 2, 3, 4].map((n) => backoffDelay(n, policy, () => 1)), [500, 1000, 2000, 4000]);
  });

  it('waits at least as long as Retry-After asks', async () => {
    const clock = fakeClock();
    const { op } = failing([apiError('AF429', { status: 429, retryAfterMs: 7000 })]);
    await withRetry(op, { clock, random: () => 0 });
    assert.deepEqual(clock.sleeps, [7000]);
  });

  it('does not retry non-retryable errors (configuration, expired content, refused URLs)', async () => {
    for (const code of ['AF10001', 'AF20051', 'URL_REFUSED', 'UNAUTHORIZED', 'AF20023'] as const) {
      const clock = fakeClock();
      const { op, calls } = failing([apiError(code)]);
      await assert.rejects(withRetry(op, { clock, random: () => 0.5 }), (e: unknown) => (e as ManagementApiError).code === code);
      assert.equal(calls(), 1, code);
      assert.equal(clock.sleeps.length, 0);
    }
  });

  it('is bounded in attempts and returns the last retryable error', async () => {
    const clock = fakeClock();
    const { op, calls } = failing(Array.from({ length: 20 }, () => apiError('AF50000')));
    await assert.rejects(withRetry(op, { clock, random: () => 0.5, policy: { ...defaultRetryPolicy, maxAttempts: 3 } }), (e: unknown) => (e as ManagementApiError).retryable);
    assert.equal(calls(), 3);
  });

  it('gives up instead of sleeping past the deadline', async () => {
    const clock = fakeClock();
    const { op, calls } = failing(Array.from({ length: 20 }, () => apiError('AF429', { retryAfterMs: 10_000 })));
    await assert.rejects(withRetry(op, { clock, random: () => 0.5, deadline: clock.now() + 25_000 }), (e: unknown) => (e as ManagementApiError).code === 'AF429');
    assert.equal(calls(), 3);
    assert.ok(clock.now() <= 1_000_000 + 25_000);
  });

  it('does not wait in-process for a Retry-After longer than the policy allows', async () => {
    const clock = fakeClock();
    const { op, calls } = failing([apiError('AF429', { retryAfterMs: 3_600_000 })]);
    await assert.rejects(withRetry(op, { clock, random: () => 0.5 }), (e: unknown) => (e as ManagementApiError).retryAfterMs === 3_600_000);
    assert.equal(calls(), 1);
  });

  it('stops on abort with a typed ABORTED error', async () => {
    const controller = new AbortController();
    const clock = fakeClock();
    let calls = 0;
    const op = async () => {
      calls++;
      controller.abort();
      throw apiError('AF50000');
    };
    await assert.rejects(withRetry(op, { clock, random: () => 0.5, signal: controller.signal }), (e: unknown) => (e as ManagementApiError).code === 'ABORTED');
    assert.equal(calls, 1);
  });

  it('lets programming errors through untouched', async () => {
    await assert.rejects(withRetry(async () => { throw new TypeError('bug'); }, { clock: fakeClock(), random: () => 0 }), TypeError);
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates', () => {
    assert.equal(parseRetryAfter('60', 0), 60_000);
    assert.equal(parseRetryAfter(['2'], 0), 2000);
    assert.equal(parseRetryAfter('Wed, 25 Nov 2026 12:00:10 GMT', Date.parse('2026-11-25T12:00:00Z')), 10_000);
    assert.equal(parseRetryAfter(undefined, 0), undefined);
    assert.equal(parseRetryAfter('soon', 0), undefined);
  });
});

describe('request limiter', () => {
  it('lets a burst through, then spaces requests to the per-minute budget, per tenant', async () => {
    const clock = fakeClock();
    const limiter = createRequestLimiter({ perMinute: 60, burst: 5, clock });
    for (let i = 0; i < 5; i++) await limiter.acquire('a');
    assert.equal(clock.sleeps.length, 0);
    await limiter.acquire('a');
    assert.deepEqual(clock.sleeps, [1000]);
    await limiter.acquire('b'); // another tenant has its own budget
    assert.deepEqual(clock.sleeps, [1000]);
  });

  it('never exceeds the budget over any run of requests', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 2000 }), fc.integer({ min: 1, max: 300 }), async (perMinute, n) => {
        const clock = fakeClock(0);
        const burst = Math.ceil(perMinute / 10);
        const limiter = createRequestLimiter({ perMinute, clock });
        for (let i = 0; i < n; i++) await limiter.acquire('t');
        // n requests need at least (n - burst) refills at perMinute/60000 per ms.
        const minimum = Math.max(0, ((n - burst) * 60_000) / perMinute);
        assert.ok(clock.now() >= minimum - 1, `${clock.now()} < ${minimum}`);
      }),
      { numRuns: 200 },
    );
  });

  it('refuses to wait past the deadline with a retryable error', async () => {
    const clock = fakeClock();
    const limiter = createRequestLimiter({ perMinute: 6, burst: 1, clock });
    await limiter.acquire('a');
    await assert.rejects(limiter.acquire('a', { deadline: clock.now() + 1000 }), (e: unknown) => (e as ManagementApiError).retryable && (e as ManagementApiError).retryAfterMs === 10_000);
  });
});

describe('start guard', () => {
  it('asks for 15 minutes between starts per key', () => {
    const guard = createStartGuard();
    assert.equal(guard.check('t|Audit.General', 0), 0);
    guard.record('t|Audit.General', 0);
    assert.equal(guard.check('t|Audit.General', 60_000), START_SPACING_MS - 60_000);
    assert.equal(guard.check('t|Audit.Exchange', 60_000), 0);
    assert.equal(guard.check('t|Audit.General', START_SPACING_MS), 0);
  });
});
