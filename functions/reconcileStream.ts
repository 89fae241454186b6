// Queue trigger: one tenant's o365-reconcile message, a step of each of its planned streams run together
// (shared/pipeline/reconcile-batch.ts): one listing window each, what the ledger has not seen goes to o365-content,
// the rest of a stream's range to a follow-up message of its own. A message that is not a reconcile message throws (poison queue
// after maxDequeueCount). A stream the API refuses to list for good (AF20022/AF20023, consent) is logged, counted
// (`reconciler.failed`) and left to the next timer run. A stream whose listing failed for a passing reason makes
// the message throw once the others finished, and the host retries it: the finished streams' steps are then stale
// and list nothing (a plan left behind expires and the timer plans the stream again).
import { app, type InvocationContext } from '@azure/functions';
import { ReconcileMessage, reconcileMessageIssues } from '../shared/pipeline/reconcile-plan';
import { reconcileBatch, type BatchDeps } from '../shared/pipeline/reconcile-batch';
import { reconcileQueueName } from '../shared/state/plan-queues';
import { errorFields } from '../shared/log';
import { relayServices, type RelayServices } from '../shared/services';

export async function reconcileStream(queued: unknown, context: InvocationContext): Promise<void> {
  const s = relayServices();
  const message = ReconcileMessage.safeParse(queued);
  if (!message.success) {
    throw new Error(`not a reconcile message: ${reconcileMessageIssues(queued, message.error).join(', ')}`);
  }
  await s.ready();
  const { tenantId } = message.data;
  const report = await reconcileBatch(message.data, batchDeps(s));
  const common = { invocationId: context.invocationId, dequeueCount: context.triggerMetadata?.dequeueCount };
  for (const step of report.steps) {
    s.logger.info(step.outcome === 'stale' ? 'reconcile step is not the plan\'s current step: nothing to do' : 'stream reconciled', { ...common, ...step });
  }
  // The API will not list these streams until the keeper or a person acts (no subscription yet, disabled, consent):
  // retrying now cannot help and would only fill the poison queue. The plan expires; the next timer run tries again.
  for (const { contentType, error } of report.refused) {
    s.logger.warn('stream not reconciled', { ...common, tenantId, contentType, ...errorFields(error) });
    s.telemetry.metric('reconciler.failed', 1, { tenantId, contentType, code: error.code });
  }
  if (report.retry.length > 0) {
    for (const { contentType, error } of report.retry) s.logger.warn('stream step failed: the message will be retried', { ...common, tenantId, contentType, ...errorFields(error) });
    const [first] = report.retry;
    throw new Error(`reconcile of ${report.retry.map((r) => r.contentType).join(', ')} failed (retried by the host)`, { cause: first?.error });
  }
}

function batchDeps(s: RelayServices): BatchDeps {
  return {
    ledger: s.ledger,
    listContent: (t, ct, range) => s.client.tenant(t).listContentRange(ct, range),
    enqueue: (messages) => s.queue.enqueue(messages),
    enqueueFollowUp: (next) => s.reconcileQueue.enqueue([next]),
    deadLetter: s.deadLetter,
    now: () => new Date(),
    overlapMs: s.settings.relay.reconcileOverlapMs,
    initialLookbackMs: s.settings.relay.initialLookbackMs,
    logger: s.logger,
    telemetry: s.telemetry,
  };
}

app.storageQueue('reconcileStream', { queueName: reconcileQueueName, connection: 'AzureWebJobsStorage', handler: reconcileStream });
