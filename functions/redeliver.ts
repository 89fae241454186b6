// Timer trigger: sends dead-lettered events back to their sinks once the sinks take them again.
import { app, type InvocationContext, type Timer } from '@azure/functions';
import { redeliver } from '../shared/pipeline/redeliver';
import { relayServices } from '../shared/services';

export async function redeliverDeadLetters(_timer: Timer, context: InvocationContext): Promise<void> {
  const s = relayServices();
  await s.ready();
  await s.tenantRecords(); // a registry tenant's own sink tokens (cached view)
  const report = await redeliver({ deadLetter: s.deadLetter, sinkNamed: s.sinkNamed, logger: s.logger, telemetry: s.telemetry });
  if (report.redelivered + report.left > 0) s.logger.info('dead letter re-delivery', { invocationId: context.invocationId, ...report });
}

app.timer('redeliver', { schedule: process.env.O365_REDELIVER_SCHEDULE ?? '0 */15 * * * *', runOnStartup: false, handler: redeliverDeadLetters });
