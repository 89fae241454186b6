// What the test app's handlers saw, for test/host.test.ts: the host loads the app into the test's own process,
// so both share this module instance.
export interface ProbeCall {
  fn: string;
  id: string;
  dequeueCount?: number;
  at: number;
  detail?: unknown;
}

export const probeCalls: ProbeCall[] = [];

export function record(call: Omit<ProbeCall, 'at'>): void {
  probeCalls.push({ ...call, at: Date.now() });
}

export function callsFor(fn: string, id: string): ProbeCall[] {
  return probeCalls.filter((c) => c.fn === fn && c.id === id);
}

/** Highest number of invocations of one function seen running at once. */
const running = new Map<string, number>();
export const maxRunning = new Map<string, number>();

export async function whileRunning(fn: string, work: () => Promise<void>): Promise<void> {
  const now = (running.get(fn) ?? 0) + 1;
  running.set(fn, now);
  maxRunning.set(fn, Math.max(maxRunning.get(fn) ?? 0, now));
  try {
    await work();
  } finally {
    running.set(fn, (running.get(fn) ?? 1) - 1);
  }
}
