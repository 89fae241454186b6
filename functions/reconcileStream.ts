// Queue trigger: one step of one stream's reconcile plan (shared/pipeline/reconcile.ts reconcileStep): one listing
// window, what the ledger has not seen goes to o365-content, the rest of the range to a follow-up message.
// A message that is not a plan step throws (poison queue after maxDequeueCount); so does a listing that failed for
// a passing reason, which the host retries (the plan stays at its step; a plan left behind expires and the timer
// plans the stream again). A stream the API refuses to list for good (AF20022/AF20023, consent) is logged, counted
// (`reconciler.failed`) and left to the next timer run.
import { app, type InvocationContext } from '@azure/functions';
import { ReconcileMessage } from '../shared/pipeline/reconcile-plan';
import { reconcileStep } from '../shared/pipeline/reconcile';
import { reconcileQueueName } from '../shared/state/plan-queues';
import { ManagementApiError } from '../shared/api/errors';
import { errorFields } from '../shared/log';
import { relayServices, type RelayServices } from '../shared/services';

export async function reconcileStream(queued: unknown, context: InvocationContext): Promise<void> {
  const s = relayServices();
  const message = ReconcileMessage.safeParse(queued);
  if (!message.success) {
    // Names the fields, never their values.
    throw new Error(`not a reconcile message: ${message.error.issues.map((i) => `${i.path.join('.') || '(message)'}: ${i.message}`).join(', ')}`);
  }
  await s.ready();
  const report = await reconcileStep(message.data, stepDeps(s)).catch((err: unknown) => {
    // The API will not list this stream until the keeper or a person acts (no subscription yet, disabled, consent):
    // retrying now cannot help and would only fill the poison queue. The plan expires; the next timer run tries again.
    if (!(err instanceof ManagementApiError) || err.retryable) throw err;
    const { tenantId, contentType } = message.data;
    s.logger.warn('stream not reconciled', { invocationId: context.invocationId, tenantId, contentType, ...errorFields(err) });
    s.telemetry.metric('reconciler.failed', 1, { tenantId, contentType, code: err.code });
    return undefined;
  });
  if (report === undefined) return;
  s.logger.info(report.outcome === 'stale' ? 'reconcile message is not the plan\'s current step: nothing to do' : 'stream reconciled', {
    invocationId: context.invocationId,
    dequeueCount: context.triggerMetadata?.dequeueCount,
    ...report,
  });
}

function stepDeps(s: RelayServices): Parameters<typeof reconcileStep>[1] {
  return {
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
  };
}

app.storageQueue('reconcileStream', { queueName: reconcileQueueName, connection: 'AzureWebJobsStorage', handler: reconcileStream });
