// The shared per-tenant request budget: the bucket's decisions (pure, property-tested: no window ever holds more
// than the budget allows), then the Table storage bucket on Azurite with several instances taking at once
// (bounded in every window, used up to the limit, conflicts counted), a throttle pausing every instance, and the
// per-tenant setting.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { budgetPolicy, decidePause, decideTake, type BucketState } from '../shared/api/budget-bucket';
import { parseSettings } from '../shared/config';
import { perMinuteFromSettings } from '../shared/state/table-budget';
import { startAzurite, type RunningAzurite } from '../dev/azurite';
import { budgetInstance, busiestWindow, runBudgetLoad } from '../dev/budget-load';

const tenantId = '3e1a9b42-f5fb-49f0-ad1b-05d97491bc66';
const otherTenant = '0b7d2c11-4a3e-4f5b-9c8d-112233445566';

/** The most tokens of `grants` whose spending span [validAt, validAt + ttl] can fall in one window of `windowMs`. */
function busiestGrantWindow(grants: ReadonlyArray<{ validAt: number; count: number }>, windowMs: number, ttlMs: number): number {
  const sorted = [...grants].sort((a, b) => a.validAt - b.validAt);
  let best = 0;
  for (const [i, first] of sorted.entries()) {
    let sum = 0;
    for (const g of sorted.slice(i)) if (g.validAt < first.validAt + windowMs + ttlMs) sum += g.count;
    best = Math.max(best, sum);
  }
  return best;
}

describe('budget bucket (pure)', () => {
  it('never lets any 60 s window hold more than the budget, whatever the takers ask and when', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2000 }),
        fc.array(fc.record({ gapMs: fc.integer({ min: 0, max: 3_000 }), want: fc.integer({ min: 1, max: 80 }) }), { minLength: 1, maxLength: 400 }),
        (perMinute, takes) => {
          const policy = budgetPolicy(perMinute);
          let state: BucketState | undefined;
          let now = 1_700_000_000_000;
          const grants: Array<{ validAt: number; count: number }> = [];
          for (const { gapMs, want } of takes) {
            now += gapMs;
            const decision = decideTake(state, want, policy, now);
            if (decision.kind === 'wait') {
              assert.ok(decision.until > now);
              continue;
            }
            assert.ok(decision.count >= 1 && decision.count <= policy.maxBlock && decision.validAt >= now);
            assert.ok(decision.validAt - now <= policy.maxAheadMs);
            grants.push({ validAt: decision.validAt, count: decision.count });
            state = decision.next;
          }
          assert.ok(busiestGrantWindow(grants, 60_000, policy.blockTtlMs) <= perMinute);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('grants the whole budget over a busy minute (a few percent held back for the block lifetime)', () => {
    const policy = budgetPolicy(1800);
    let state: BucketState | undefined;
    let granted = 0;
    for (let now = 0; now < 60_000; now += 100) {
      const decision = decideTake(state, 50, policy, now);
      if (decision.kind === 'granted' && decision.validAt < 60_000) {
        granted += decision.count;
        state = decision.next;
      }
    }
    assert.ok(granted >= 0.93 * 1800 && granted <= 1800, `${granted} of 1800`);
  });

  it('a pause stops every grant until it ends, and only ever moves later', () => {
    const policy = budgetPolicy(600);
    const paused = decidePause(undefined, 5_000, policy, 0)!;
    assert.deepEqual(decideTake(paused, 10, policy, 4_999), { kind: 'wait', until: 5_000, reason: 'paused' });
    assert.equal(decideTake(paused, 10, policy, 5_000).kind, 'granted');
    assert.equal(decidePause(paused, 3_000, policy, 1_000), undefined, 'an earlier end does not shorten it');
    assert.equal(decidePause(paused, 9_000, policy, 1_000)?.pausedUntil, 9_000);
  });

  it('reads each tenant\'s budget from O365_TENANTS, the rest from O365_REQUESTS_PER_MINUTE, and refuses a bad one by name', () => {
    const base = { O365_TENANT_ID: `${tenantId},${otherTenant}`, O365_CLIENT_ID: '676e8273-3c93-4205-910f-614bb4396a55', O365_CLIENT_SECRET: 'x', O365_REQUESTS_PER_MINUTE: '900' };
    const settings = parseSettings({ ...base, O365_TENANTS: JSON.stringify([{ tenantId: tenantId.toUpperCase(), requestsPerMinute: 1800 }]) });
    const perMinute = perMinuteFromSettings(settings);
    assert.deepEqual([perMinute(tenantId), perMinute(otherTenant)], [1800, 900]);
    for (const bad of [0, 2001, 1.5, '600']) {
      assert.throws(() => parseSettings({ ...base, O365_TENANTS: JSON.stringify([{ tenantId, requestsPerMinute: bad }]) }), /O365_TENANTS.*requestsPerMinute/s, String(bad));
    }
  });
});

describe('shared budget on Table storage (Azurite)', () => {
  let azurite: RunningAzurite;
  before(async () => {
    azurite = await startAzurite({ blob: false, queue: false, table: true });
  });
  after(async () => {
    await azurite.close();
  });

  it('six instances taking at once: no window over the budget, the budget used up, conflicts counted', async () => {
    const perMinute = 1200;
    const policy = budgetPolicy(perMinute);
    const durationMs = 12_000;
    const load = await runBudgetLoad({ connectionString: azurite.connectionString, tableName: 'budgetload', tenantId, perMinute, instances: 6, callersPerInstance: 3, durationMs });
    // A window of W holds at most capacity + rate x (W + block lifetime): for 60 s that is the budget itself.
    for (const windowMs of [1_000, 5_000, 10_000]) {
      const bound = Math.floor(policy.capacity + policy.ratePerMs * (windowMs + policy.blockTtlMs));
      const busiest = busiestWindow(load.spent, windowMs);
      assert.ok(busiest <= bound, `${busiest} tokens in ${windowMs} ms, bound ${bound}`);
    }
    const possible = policy.capacity + policy.ratePerMs * durationMs;
    assert.ok(load.spent.length >= 0.85 * possible, `used ${load.spent.length} of ${Math.round(possible)} while there was work`);
    assert.ok(load.granted >= load.spent.length, 'no token spent that was not granted');
    assert.ok(load.writes >= load.blocks && load.blocks < load.spent.length / 5, `${load.blocks} block writes for ${load.spent.length} requests`);
    const conflictRate = load.conflicts / (load.writes + load.conflicts);
    console.log(JSON.stringify({ test: 'budget-load', instances: 6, callers: 18, perMinute, durationMs, requests: load.spent.length, writes: load.writes, conflicts: load.conflicts, conflictRate: Number(conflictRate.toFixed(3)), dropped: load.dropped }));
    assert.ok(conflictRate < 0.5, `conflict rate ${conflictRate}`);
  });

  it('a throttle seen by one instance pauses the tenant for every instance, and only that tenant', async () => {
    const a = budgetInstance(azurite.connectionString, 'budgetpause', 600);
    const b = budgetInstance(azurite.connectionString, 'budgetpause', 600);
    await a.limiter.acquire(tenantId);
    await b.limiter.acquire(otherTenant);
    const pausedAt = Date.now();
    await a.limiter.throttled(tenantId, 1_500);
    const waited = await Promise.all([a, b].map(async ({ limiter }) => {
      await limiter.acquire(tenantId);
      return Date.now() - pausedAt;
    }));
    for (const ms of waited) assert.ok(ms >= 1_400, `took a token ${ms} ms after the pause`);
    const start = Date.now();
    await b.limiter.acquire(otherTenant);
    assert.ok(Date.now() - start < 1_000, 'the other tenant is not paused');
    // A caller whose deadline falls inside a pause is told at once, with when to come back. (Tokens another
    // instance already holds, at most one block, stay spendable for the block's 2 s lifetime: let them lapse.)
    await a.limiter.throttled(tenantId, 5_000);
    await new Promise((resolve) => setTimeout(resolve, budgetPolicy(600).blockTtlMs + 100));
    await assert.rejects(b.limiter.acquire(tenantId, { deadline: Date.now() + 1_000 }), (err: Error & { code?: string; retryAfterMs?: number }) =>
      err.code === 'ABORTED' && (err.retryAfterMs ?? 0) > 1_000);
  });
});
