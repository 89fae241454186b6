// The one retry policy for every call: only errors flagged `retryable` are retried, with exponential backoff and
// jitter, at least as long as a Retry-After asks, bounded in attempts and by the caller's deadline and signal.
import type { Clock } from './clock.js';
import { apiError, ManagementApiError } from './errors.js';

export interface RetryPolicy {
  /** Attempts in total, the first included. */
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** A Retry-After longer than this is not waited for in-process: the error goes back to the caller. */
  readonly maxRetryAfterMs: number;
}

export const defaultRetryPolicy: RetryPolicy = {
  maxAttempts: 6,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
  maxRetryAfterMs: 120_000,
};

/** Delay before retry number `retry` (1 = the first retry): equal jitter over an exponential ceiling. */
export function backoffDelay(retry: number, policy: RetryPolicy, random: () => number, retryAfterMs?: number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, retry - 1));
  const jittered = ceiling / 2 + random() * (ceiling / 2);
  return Math.round(retryAfterMs === undefined ? jittered : Math.max(retryAfterMs, jittered));
}

/** `Retry-After` as milliseconds: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | string[] | undefined, nowMs: number): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined || text.trim() === '') return undefined;
  if (/^\s*\d+\s*$/.test(text)) return Number(text.trim()) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}

export interface RetryContext {
  policy?: RetryPolicy;
  clock: Clock;
  random: () => number;
  /** Epoch ms after which no new attempt starts (the caller's remaining time). */
  deadline?: number | undefined;
  signal?: AbortSignal | undefined;
  onRetry?: (info: { attempt: number; delayMs: number; error: ManagementApiError }) => void;
}

function aborted(signal: AbortSignal | undefined, cause: unknown): ManagementApiError {
  return apiError('ABORTED', { detail: 'the caller cancelled the call', cause: signal?.reason ?? cause });
}

export async function withRetry<T>(operation: (attempt: number) => Promise<T>, context: RetryContext): Promise<T> {
  const policy = context.policy ?? defaultRetryPolicy;
  for (let attempt = 1; ; attempt++) {
    if (context.signal?.aborted) throw aborted(context.signal, undefined);
    try {
      return await operation(attempt);
    } catch (err) {
      if (!(err instanceof ManagementApiError) || !err.retryable) throw err;
      if (context.signal?.aborted) throw aborted(context.signal, err);
      if (attempt >= policy.maxAttempts) throw err;
      if (err.retryAfterMs !== undefined && err.retryAfterMs > policy.maxRetryAfterMs) throw err;
      const delayMs = backoffDelay(attempt, policy, context.random, err.retryAfterMs);
      // Giving the error back beats waiting past the deadline: the caller can re-enqueue with this delay.
      if (context.deadline !== undefined && context.clock.now() + delayMs >= context.deadline) throw err;
      context.onRetry?.({ attempt, delayMs, error: err });
      try {
        await context.clock.sleep(delayMs, context.signal);
      } catch (sleepErr) {
        throw aborted(context.signal, sleepErr);
      }
    }
  }
}
