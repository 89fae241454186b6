// Queue trigger: one step of one stream's reconcile plan (shared/pipeline/reconcile.ts reconcileStep): one listing
// window, what the ledger has not seen goes to o365-content, the rest of the range to a follow-up message.
// A message that is not a plan step throws (poison queue after maxDequeueCount); so does a failed listing, which
// the host retries (the plan stays at its step; a plan left behind expires and the timer plans the stream again).
import { app, type InvocationContext } from '@azure/functions';
import { ReconcileMessage } from '../shared/pipeline/reconcile-plan';
import { reconcileStep } from '../shared/pipeline/reconcile';
import { reconcileQueueName } from '../shared/state/plan-queues';
import { relayServices } from '../shared/services';

export async function reconcileStream(queued: unknown, context: InvocationContext): Promise<void> {
  const s = relayServices();
  const message = ReconcileMessage.safeParse(queued);
  if (!message.success) {
    // Names the fields, never their values.
    throw new Error(`not a reconcile message: ${message.error.issues.map((i) => `${i.path.join('.') || '(message)'}: ${i.message}`).join(', ')}`);
  }
  await s.ready();
  const report = await reconcileStep(message.data, {
    ledger: s.ledger,
    listContent: (t, ct, range) => s.client.tenant(t).listContentRange(ct, range),
    enqueue: (messages) => s.queue.enqueue(messages),
    enqueueStep: (next) => s.reconcileQueue.enqueue([next]),
    deadLetter: s.deadLetter,
    now: () => new Date(),
    overlapMs: s.settings.relay.reconcileOverlapMs,
    initialLookbackMs: s.settings.relay.initialLookbackMs,
    logger: s.logger,
    telemetry: s.telemetry,
  });
  s.logger.info(report.outcome === 'stale' ? 'reconcile message is not the plan\'s current step: nothing to do' : 'stream reconciled', {
    invocationId: context.invocationId,
    dequeueCount: context.triggerMetadata?.dequeueCount,
    ...report,
  });
}

app.storageQueue('reconcileStream', { queueName: reconcileQueueName, connection: 'AzureWebJobsStorage', handler: reconcileStream });
