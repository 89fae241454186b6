// Per-tenant request budget (a token bucket per key). The API throttles per tenant at about 2,000 requests/min;
// staying well below (default 600/min) leaves room for other tools working on the same tenant.
import type { Clock } from './clock.js';
import { apiError } from './errors.js';

export interface RequestLimiter {
  /** Waits until `key` may send one more request; refuses when that would be after `deadline`. */
  acquire(key: string, options?: { signal?: AbortSignal | undefined; deadline?: number | undefined }): Promise<void>;
  /**
   * The API throttled `key` (AF429 / HTTP 429): a shared limiter pauses it for every instance and caller. The
   * client calls it before its own retry backs off; a failure here is the limiter's to report, never the call's.
   */
  throttled?(key: string, retryAfterMs: number | undefined): Promise<void>;
}

export interface LimiterOptions {
  perMinute: number;
  /** Requests that may go out at once after a quiet period. Default: a tenth of a minute's budget. */
  burst?: number;
  clock: Clock;
}

export const DEFAULT_REQUESTS_PER_MINUTE = 600;

export function createRequestLimiter(options: LimiterOptions): RequestLimiter {
  if (!(options.perMinute > 0)) throw new RangeError('perMinute must be positive');
  const ratePerMs = options.perMinute / 60_000;
  const capacity = Math.max(1, options.burst ?? Math.ceil(options.perMinute / 10));
  const buckets = new Map<string, { tokens: number; at: number }>();
  const { clock } = options;

  return {
    async acquire(key, { signal, deadline } = {}) {
      const now = clock.now();
      const bucket = buckets.get(key) ?? { tokens: capacity, at: now };
      bucket.tokens = Math.min(capacity, bucket.tokens + (now - bucket.at) * ratePerMs);
      bucket.at = now;
      buckets.set(key, bucket);
      // Taking the token now (possibly going negative) queues callers fairly: each waits for its own refill.
      bucket.tokens -= 1;
      if (bucket.tokens >= 0) return;
      const waitMs = Math.ceil(-bucket.tokens / ratePerMs);
      if (deadline !== undefined && now + waitMs >= deadline) {
        bucket.tokens += 1;
        throw apiError('ABORTED', { detail: `the request budget for ${key} has no room before the deadline`, retryAfterMs: waitMs });
      }
      try {
        await clock.sleep(waitMs, signal);
      } catch (err) {
        bucket.tokens += 1;
        throw apiError('ABORTED', { detail: 'cancelled while waiting for the request budget', cause: err });
      }
    },
  };
}
