// The health verdict as metrics, for the heartbeat timer: nothing polls /api/health in Azure (the service-tag
// restriction blocks availability tests), so the workbook and the alert rules read these instead. Pure: a
// HealthReport in, the metrics out. Per stream only the streams that are not ok, so 1,000 healthy tenants cost
// a handful of rows per beat, not 5,000.
import type { HealthLevel, HealthReport, StreamHealth } from './health';

export interface MetricPoint {
  name: string;
  value: number;
  properties?: Record<string, string>;
}

/** The metric names, as the workbook and the alert rules query them (test/observability.test.ts keeps them in step). */
export const healthMetricNames = {
  heartbeat: 'heartbeat',
  status: 'health.status',
  streams: 'health.streams',
  stream: 'health.stream',
  queueBacklog: 'health.queueBacklog',
  poison: 'health.poison',
  deadLetters: 'health.deadLetters',
} as const;

/** A level as a number a chart can draw and an alert can compare: 0 ok, 1 degraded, 2 failing. */
export const levelValue: Record<HealthLevel, number> = { ok: 0, degraded: 1, failing: 2 };

const levels = Object.keys(levelValue) as HealthLevel[];

/** The counters of the report, each with the metric it becomes; a counter the probe could not read (null) is left out. */
const counters: ReadonlyArray<{ name: string; of: (r: HealthReport) => number | null }> = [
  { name: healthMetricNames.queueBacklog, of: (r) => r.queue.backlog },
  { name: healthMetricNames.poison, of: (r) => r.queue.poison },
  { name: healthMetricNames.deadLetters, of: (r) => r.deadLetter.count },
];

/**
 * The subscription's state as one word. A report names a missing subscription only in its reasons (its
 * `subscription` is null both when the list had none and when the list could not be read, e.g. sign-in failed:
 * then the reason carries the error code).
 */
function subscriptionState(s: StreamHealth): string {
  if (s.subscription) return s.subscription.status?.toLowerCase() ?? 'none';
  return s.reasons.includes('no subscription') ? 'missing' : 'unknown';
}

export function healthMetrics(report: HealthReport): MetricPoint[] {
  const points: MetricPoint[] = [{ name: healthMetricNames.status, value: levelValue[report.status], properties: { status: report.status } }];
  // Every level every beat, zeros included, so a chart of streams per level has no gaps.
  for (const level of levels) {
    points.push({ name: healthMetricNames.streams, value: report.streams.filter((s) => s.status === level).length, properties: { status: level } });
  }
  for (const { name, of } of counters) {
    const value = of(report);
    if (value !== null) points.push({ name, value });
  }
  for (const s of report.streams) {
    if (s.status === 'ok') continue;
    points.push({
      name: healthMetricNames.stream,
      value: levelValue[s.status],
      properties: {
        tenantId: s.tenantId,
        contentType: s.contentType,
        status: s.status,
        subscription: subscriptionState(s),
        webhook: s.subscription ? (s.subscription.webhookStatus ?? 'none') : 'unknown',
        reasons: s.reasons.join('; '),
      },
    });
  }
  return points;
}
