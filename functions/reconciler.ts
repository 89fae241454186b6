// Timer trigger: lists what the API has for every tenant and content type and enqueues what the ledger has not
// seen, so a missed or disabled webhook costs at most one interval.
import { app, type InvocationContext, type Timer } from '@azure/functions';
import { errorFields } from '../shared/log';
import { reconcileStream } from '../shared/pipeline/reconcile';
import { relayServices } from '../shared/services';

export async function reconciler(_timer: Timer, context: InvocationContext): Promise<void> {
  const s = relayServices();
  await s.ready();
  for (const { tenantId, contentTypes } of s.tenants) {
    for (const contentType of contentTypes) {
      try {
        const report = await reconcileStream(tenantId, contentType, {
          ledger: s.ledger,
          listContent: (t, ct, range) => s.client.tenant(t).listContentRange(ct, range),
          enqueue: (messages) => s.queue.enqueue(messages),
          deadLetter: s.deadLetter,
          now: () => new Date(),
          overlapMs: s.settings.relay.reconcileOverlapMs,
          initialLookbackMs: s.settings.relay.initialLookbackMs,
          logger: s.logger,
          telemetry: s.telemetry,
        });
        s.logger.info('stream reconciled', { invocationId: context.invocationId, ...report });
      } catch (err) {
        // One stream's failure (a disabled subscription, throttling) must not stop the others; its cursor stays.
        s.logger.error('stream not reconciled', { invocationId: context.invocationId, tenantId, contentType, ...errorFields(err) });
      }
    }
  }
}

app.timer('reconciler', { schedule: process.env.O365_RECONCILE_SCHEDULE ?? '0 */10 * * * *', runOnStartup: false, handler: reconciler });
