// Counters and events the relay reports, behind a small interface: no-op by default (tests, CLI), Application
// Insights when configured (loaded only then: the SDK is heavy and throws without a connection string).

export interface Telemetry {
  metric(name: string, value: number, properties?: Record<string, string>): void;
  event(name: string, properties?: Record<string, string>): void;
}

export const noTelemetry: Telemetry = { metric: () => undefined, event: () => undefined };

/** A telemetry that keeps everything in memory: for tests and for the local host's summary. */
export function recordingTelemetry(): Telemetry & {
  metrics: Array<{ name: string; value: number; properties?: Record<string, string> }>;
  events: Array<{ name: string; properties?: Record<string, string> }>;
  total(name: string, where?: Record<string, string>): number;
} {
  const metrics: Array<{ name: string; value: number; properties?: Record<string, string> }> = [];
  const events: Array<{ name: string; properties?: Record<string, string> }> = [];
  // `where` narrows to the metrics whose dimensions include every given one.
  const matches = (properties: Record<string, string> | undefined, where: Record<string, string>) =>
    Object.entries(where).every(([k, v]) => properties?.[k] === v);
  return {
    metrics,
    events,
    metric: (name, value, properties) => void metrics.push({ name, value, ...(properties ? { properties } : {}) }),
    event: (name, properties) => void events.push({ name, ...(properties ? { properties } : {}) }),
    total: (name, where = {}) => metrics.filter((m) => m.name === name && matches(m.properties, where)).reduce((sum, m) => sum + m.value, 0),
  };
}
