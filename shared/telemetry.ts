// Counters and events the relay reports, behind a small interface: no-op by default (tests, CLI), Application
// Insights when configured (loaded only then: the SDK is heavy and throws without a connection string).

export interface Telemetry {
  metric(name: string, value: number, properties?: Record<string, string>): void;
  event(name: string, properties?: Record<string, string>): void;
}

export const noTelemetry: Telemetry = { metric: () => undefined, event: () => undefined };

/** A telemetry that keeps everything in memory: for tests and for the local host's summary. */
export function recordingTelemetry(): Telemetry & { metrics: Array<{ name: string; value: number; properties?: Record<string, string> }>; total(name: string): number } {
  const metrics: Array<{ name: string; value: number; properties?: Record<string, string> }> = [];
  return {
    metrics,
    metric: (name, value, properties) => void metrics.push({ name, value, ...(properties ? { properties } : {}) }),
    event: () => undefined,
    total: (name) => metrics.filter((m) => m.name === name).reduce((sum, m) => sum + m.value, 0),
  };
}
