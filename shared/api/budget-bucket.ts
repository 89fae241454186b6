// One tenant's request budget as a token bucket shared by every instance and caller (stored in Table storage by
// shared/state/table-budget.ts), decided here as pure functions over plain data. Tokens leave in blocks: an
// instance takes up to `maxBlock` with one ETag-guarded write and spends them itself within `blockTtlMs`.
//
// Why no minute can exceed the budget B: a block granted with `validAt` is spent in [validAt, validAt + ttl], and
// grants whose validAt falls in any span of length T total at most capacity + rate × T. So the requests of any
// 60 s window come from grants in a span of 60 s + ttl: at most capacity + rate × (60 s + ttl), which the rate
// below makes exactly B. The price is a steady rate a few percent under B (1800/min: 1,693/min).
import { z } from 'zod';

export interface BudgetPolicy {
  /** Requests per minute per tenant, for all instances and callers together (never exceeded in any 60 s window). */
  perMinute: number;
  /** Tokens the bucket holds at most (the largest burst after a quiet spell): one block. */
  capacity: number;
  ratePerMs: number;
  /** The most tokens one write takes; the least it asks for when anyone is waiting. */
  maxBlock: number;
  minBlock: number;
  /** A block's tokens are spent within this long after they become valid; the rest are dropped. */
  blockTtlMs: number;
  /** A block may be reserved at most this far ahead (the bucket in debt): beyond, the taker waits before asking. */
  maxAheadMs: number;
}

const blockTtlMs = 2_000;

export function budgetPolicy(perMinute: number): BudgetPolicy {
  if (!Number.isInteger(perMinute) || perMinute < 1) throw new RangeError('perMinute must be a positive integer');
  // About 1.5-3 s of budget per write: 50 at 1,800/min, 30 at 600/min, 3 at 60/min.
  const maxBlock = Math.max(1, Math.min(50, Math.floor(perMinute / 20)));
  const capacity = maxBlock;
  return {
    perMinute,
    capacity,
    ratePerMs: Math.max(perMinute - capacity, 1) / (60_000 + blockTtlMs),
    maxBlock,
    minBlock: Math.min(10, maxBlock),
    blockTtlMs,
    maxAheadMs: 5_000,
  };
}

/** The stored bucket: `tokens` may be negative (blocks reserved ahead); `at` is when it was last refilled. */
export const BucketState = z.object({
  tokens: z.number().finite(),
  at: z.number().int().nonnegative(),
  /** Epoch ms: nobody takes a token before it (the API throttled the tenant). 0 when not paused. */
  pausedUntil: z.number().int().nonnegative(),
});
export type BucketState = z.infer<typeof BucketState>;

export type TakeDecision =
  | { kind: 'granted'; count: number; validAt: number; next: BucketState }
  /** Nothing written: ask again at `until` (paused by a throttle, or the bucket is reserved too far ahead). */
  | { kind: 'wait'; until: number; reason: 'paused' | 'ahead' };

const refilled = (state: BucketState | undefined, policy: BudgetPolicy, now: number): BucketState => {
  if (state === undefined) return { tokens: policy.capacity, at: now, pausedUntil: 0 };
  // A clock behind the stored instant never takes the bucket back in time.
  const at = Math.max(now, state.at);
  return { tokens: Math.min(policy.capacity, state.tokens + (at - state.at) * policy.ratePerMs), at, pausedUntil: state.pausedUntil };
};

/** Takes `want` tokens (clamped to the policy's block) from the bucket as of `now`. */
export function decideTake(state: BucketState | undefined, want: number, policy: BudgetPolicy, now: number): TakeDecision {
  const bucket = refilled(state, policy, now);
  if (bucket.pausedUntil > now) return { kind: 'wait', until: bucket.pausedUntil, reason: 'paused' };
  const count = Math.max(1, Math.min(policy.maxBlock, Math.floor(want)));
  // When the bucket covers the whole block: now; else when the refill will have covered it (a reservation).
  const waitMs = Math.max(0, Math.ceil((count - bucket.tokens) / policy.ratePerMs));
  if (waitMs > policy.maxAheadMs) return { kind: 'wait', until: now + waitMs - policy.maxAheadMs, reason: 'ahead' };
  return { kind: 'granted', count, validAt: bucket.at + waitMs, next: { ...bucket, tokens: bucket.tokens - count } };
}

/** The API throttled the tenant: nobody takes a token until `until` (a later pause already stored stays). */
export function decidePause(state: BucketState | undefined, until: number, policy: BudgetPolicy, now: number): BucketState | undefined {
  const bucket = refilled(state, policy, now);
  if (bucket.pausedUntil >= until) return undefined; // nothing to write
  return { ...bucket, pausedUntil: until };
}

/** How long a throttled tenant pauses when the answer named no Retry-After, and at least. */
export const defaultThrottlePauseMs = 10_000;
export const minThrottlePauseMs = 1_000;

export const throttlePauseMs = (retryAfterMs: number | undefined): number =>
  Math.max(minThrottlePauseMs, retryAfterMs ?? defaultThrottlePauseMs);
