// Timer trigger: the relay's own heartbeat. Every beat emits the metric `heartbeat` (an alert fires when it stops)
// and the health verdict as metrics (shared/pipeline/health-metrics.ts): in Azure nothing polls /api/health, and
// the service-tag restriction blocks availability tests. The verdict is the health function's own, probed the same
// way (subscriptions cached for a minute, so a beat and a GET share one list per tenant).
import { app, HttpRequest, type InvocationContext, type Timer } from '@azure/functions';
import { errorFields } from '../shared/log';
import type { HealthReport } from '../shared/pipeline/health';
import { healthMetricNames, healthMetrics } from '../shared/pipeline/health-metrics';
import { relayWebhookContext } from '../shared/services';
import { health } from './health';

export async function heartbeat(_timer: Timer, context: InvocationContext): Promise<void> {
  // Settings that do not load throw here, with no beat: the app cannot work, and the missing beat alerts on it.
  const { telemetry, logger } = relayWebhookContext();
  // Before the probe, which may fail: the beat says the app runs and its timers fire.
  telemetry.metric(healthMetricNames.heartbeat, 1);
  try {
    const answer = await health(new HttpRequest({ method: 'GET', url: 'http://heartbeat.invalid/api/health' }), context);
    // The health function's body is the HealthReport assessHealth built, in this process (not input from outside).
    const report = answer.jsonBody as HealthReport;
    for (const point of healthMetrics(report)) telemetry.metric(point.name, point.value, point.properties);
    if (report.status !== 'ok') logger.info('heartbeat: health is not ok', { invocationId: context.invocationId, status: report.status, reasons: report.reasons.slice(0, 20) });
  } catch (err) {
    // No verdict this beat (e.g. the settings cannot build the services): the beat itself went out; the missing
    // health.status rows show on the workbook.
    logger.error('heartbeat: health not assessed', { invocationId: context.invocationId, ...errorFields(err) });
  }
}

app.timer('heartbeat', { schedule: process.env.O365_HEARTBEAT_SCHEDULE ?? '0 */5 * * * *', runOnStartup: false, handler: heartbeat });
