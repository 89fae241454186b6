// The API asks for 15 minutes between start requests for a tenant and content type (reference §2.1). This is the
// in-process guard; the app can pass a durable implementation of the same interface later.

export const START_SPACING_MS = 15 * 60_000;

export interface StartGuard {
  /** Milliseconds still to wait before a start for `key` may be sent (0 = now). */
  check(key: string, nowMs: number): number;
  record(key: string, nowMs: number): void;
}

export function createStartGuard(spacingMs = START_SPACING_MS): StartGuard {
  const last = new Map<string, number>();
  return {
    check: (key, nowMs) => {
      const at = last.get(key);
      return at === undefined ? 0 : Math.max(0, at + spacingMs - nowMs);
    },
    record: (key, nowMs) => {
      last.set(key, nowMs);
    },
  };
}
