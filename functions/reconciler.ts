// Timer trigger: plans, never lists. Opens a plan per stream (tenant × content type) whose previous plan finished
// or expired and sends one o365-reconcile message per tenant with its planned streams; functions/reconcileStream
// lists, on any instance, so a missed or disabled webhook costs at most one interval however many tenants there are.
import { app, type InvocationContext, type Timer } from '@azure/functions';
import { planReconcile } from '../shared/pipeline/fan-out';
import { relayServices } from '../shared/services';

export async function reconciler(_timer: Timer, context: InvocationContext): Promise<void> {
  const s = relayServices();
  await s.ready();
  const report = await planReconcile({
    ledger: s.ledger,
    // The settings' tenants and the registry's active ones: a tenant added or paused is followed at the next run.
    tenants: await s.followed(),
    enqueue: (messages) => s.reconcileQueue.enqueue(messages),
    now: () => new Date(),
    logger: s.logger,
  });
  s.telemetry.metric('reconciler.planned', report.planned);
  s.telemetry.metric('reconciler.busy', report.busy.length);
  // A busy stream is one whose last plan is still listing (a big backlog, throttling): worth a line, not an error.
  if (report.busy.length > 0) s.logger.info('streams still reconciling: not planned again', { invocationId: context.invocationId, count: report.busy.length, first: report.busy.slice(0, 5) });
  s.logger.info('reconcile planned', { invocationId: context.invocationId, planned: report.planned, messages: report.messages, busy: report.busy.length, failed: report.failed });
}

app.timer('reconciler', { schedule: process.env.O365_RECONCILE_SCHEDULE ?? '0 */10 * * * *', runOnStartup: false, handler: reconciler });
