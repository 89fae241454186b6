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
