// The request limiter every caller of one deployment shares: per tenant, blocks of tokens are taken from a stored
// bucket (budget-bucket.ts; Table storage in shared/state/table-budget.ts) and spent here, so one write serves
// up to a block of requests. One take per tenant is in flight at a time in this process; everyone waiting for
// that tenant waits on it, and the block asked for grows with them. A throttle pauses the stored bucket, so every
// instance backs off, and drops what this one still holds.
import type { Clock } from './clock.js';
import { budgetPolicy, throttlePauseMs, type BudgetPolicy, type TakeDecision } from './budget-bucket.js';
import { apiError } from './errors.js';
import type { RequestLimiter } from './limiter.js';

/** Where the buckets live; `take` and `pause` do their own ETag-guarded read-decide-write. */
export interface BudgetStore {
  take(tenantId: string, want: number, policy: BudgetPolicy, now: number): Promise<TakeDecision>;
  pause(tenantId: string, until: number, policy: BudgetPolicy, now: number): Promise<void>;
}

export interface SharedLimiterOptions {
  store: BudgetStore;
  /** The tenant's budget per minute (O365_TENANTS[].requestsPerMinute, else O365_REQUESTS_PER_MINUTE). */
  perMinuteOf(tenantId: string): number;
  clock: Clock;
}

export interface SharedLimiterStats {
  /** Stored takes that granted a block, and the tokens they granted. */
  blocks: number;
  granted: number;
  /** Granted tokens dropped unspent (block expired or the tenant was throttled). */
  dropped: number;
}

export interface SharedLimiter extends RequestLimiter {
  throttled(key: string, retryAfterMs: number | undefined): Promise<void>;
  stats(): SharedLimiterStats;
}

interface Held {
  count: number;
  validAt: number;
  expiresAt: number;
}

interface TenantLane {
  policy: BudgetPolicy;
  held: Held | undefined;
  waiting: number;
  /** The take in flight, which every waiter of this tenant awaits. */
  take: Promise<void> | undefined;
  /** Known not to grant before this instant (paused, or reserved far ahead). */
  blockedUntil: number;
}

export function createSharedLimiter(options: SharedLimiterOptions): SharedLimiter {
  const { store, clock } = options;
  const lanes = new Map<string, TenantLane>();
  const stats: SharedLimiterStats = { blocks: 0, granted: 0, dropped: 0 };

  const laneOf = (key: string): TenantLane => {
    let lane = lanes.get(key);
    if (!lane) {
      lane = { policy: budgetPolicy(options.perMinuteOf(key)), held: undefined, waiting: 0, take: undefined, blockedUntil: 0 };
      lanes.set(key, lane);
    }
    return lane;
  };

  const drop = (lane: TenantLane) => {
    stats.dropped += lane.held?.count ?? 0;
    lane.held = undefined;
  };

  async function takeBlock(key: string, lane: TenantLane): Promise<void> {
    for (;;) {
      if (lane.waiting === 0) return; // everyone gave up while we waited: take nothing
      const now = clock.now();
      let decision: TakeDecision;
      try {
        decision = await store.take(key, Math.max(lane.policy.minBlock, lane.waiting), lane.policy, now);
      } catch (err) {
        throw apiError('ABORTED', { tenantId: key, detail: 'the shared request budget (table storage) did not answer', cause: err });
      }
      if (decision.kind === 'granted') {
        drop(lane);
        lane.held = { count: decision.count, validAt: decision.validAt, expiresAt: decision.validAt + lane.policy.blockTtlMs };
        lane.blockedUntil = 0;
        stats.blocks++;
        stats.granted += decision.count;
        return;
      }
      lane.blockedUntil = decision.until;
      if (decision.reason === 'paused') drop(lane);
      await clock.sleep(decision.until - now);
    }
  }

  /** Waits for `promise`, giving up (ABORTED, with when to come back) at the deadline or on the signal. */
  async function within<T>(promise: Promise<T>, key: string, signal: AbortSignal | undefined, deadline: number | undefined, retryAt: () => number): Promise<T> {
    if (deadline === undefined && signal === undefined) return promise;
    const stop = new AbortController();
    const timer = clock.sleep(deadline === undefined ? 2 ** 31 - 1 : Math.max(0, deadline - clock.now()), signal ? AbortSignal.any([signal, stop.signal]) : stop.signal)
      .then(() => 'deadline' as const, () => (signal?.aborted ? ('aborted' as const) : ('stopped' as const)));
    try {
      const first = await Promise.race([promise.then((value) => ({ value })), timer]);
      if (first === 'deadline') {
        throw apiError('ABORTED', { tenantId: key, detail: `the request budget for ${key} has no room before the deadline`, retryAfterMs: Math.max(0, retryAt() - clock.now()) });
      }
      if (first === 'aborted' || first === 'stopped') throw apiError('ABORTED', { tenantId: key, detail: 'cancelled while waiting for the request budget', cause: signal?.reason });
      return first.value;
    } finally {
      stop.abort();
    }
  }

  return {
    async acquire(key, { signal, deadline } = {}) {
      const lane = laneOf(key);
      lane.waiting++;
      try {
        for (;;) {
          if (signal?.aborted) throw apiError('ABORTED', { tenantId: key, detail: 'cancelled while waiting for the request budget', cause: signal.reason });
          const now = clock.now();
          const held = lane.held;
          if (held && held.count > 0 && now < held.expiresAt) {
            if (now >= held.validAt) {
              held.count--;
              return;
            }
            if (deadline !== undefined && held.validAt >= deadline) {
              throw apiError('ABORTED', { tenantId: key, detail: `the request budget for ${key} has no room before the deadline`, retryAfterMs: held.validAt - now });
            }
            await within(clock.sleep(held.validAt - now), key, signal, deadline, () => held.validAt);
            continue;
          }
          if (held && held.count > 0) drop(lane); // expired unspent
          if (deadline !== undefined && lane.blockedUntil >= deadline) {
            throw apiError('ABORTED', { tenantId: key, detail: `the request budget for ${key} has no room before the deadline`, retryAfterMs: lane.blockedUntil - now });
          }
          lane.take ??= takeBlock(key, lane).finally(() => {
            lane.take = undefined;
          });
          await within(lane.take, key, signal, deadline, () => lane.blockedUntil);
        }
      } finally {
        lane.waiting--;
      }
    },

    async throttled(key, retryAfterMs) {
      const lane = laneOf(key);
      const now = clock.now();
      const until = now + throttlePauseMs(retryAfterMs);
      drop(lane);
      lane.blockedUntil = Math.max(lane.blockedUntil, until);
      await store.pause(key, until, lane.policy, now);
    },

    stats: () => ({ ...stats }),
  };
}
