// Queue trigger: one content blob per message. Waiting failures are re-enqueued with a delay and this message
// completes; deterministic failures throw, so the host retries and finally moves the message to the poison queue.
import { app, type InvocationContext } from '@azure/functions';
import { systemClock } from '../shared/api/clock';
import { ContentMessage, ContentMessageError } from '../shared/pipeline/content-message';
import { processContent } from '../shared/pipeline/process-content';
import { contentQueueName } from '../shared/state/content-queue';
import { relayServices } from '../shared/services';

/** host.json functionTimeout is 10 minutes: finish (or hand back) well before it; the claim (O365_CLAIM_LEASE_SECONDS, default 12 min) lasts longer. */
const workBudgetMs = 8 * 60_000;

export async function contentWorker(queued: unknown, context: InvocationContext): Promise<void> {
  const message = ContentMessage.safeParse(queued);
  const s = relayServices();
  if (!message.success) {
    // Names the fields, never their values. The host retries and then moves it to the poison queue (health counts it).
    const error = new ContentMessageError(`not a content message: ${message.error.issues.map((i) => `${i.path.join('.') || '(message)'}: ${i.message}`).join(', ')}`);
    if (isLastAttempt(context.triggerMetadata?.dequeueCount)) {
      s.telemetry.metric('messages.poisoned', 1, { reason: error.code });
      s.logger.error('queue message refused: it goes to the poison queue', { invocationId: context.invocationId, detail: error.message });
    }
    throw error;
  }
  await s.ready();
  await s.tenantRecords(); // a registry tenant's own sinks (cached view)
  const outcome = await processContent(message.data, {
    ledger: s.ledger,
    fetchContent: (tenantId, contentId, options) => s.client.fetchContent(tenantId, contentId, options),
    sinksFor: s.sinksFor,
    deadLetter: s.deadLetter,
    filter: s.filter,
    redactDlpDetections: s.settings.relay.redactDlpDetections,
    maxRecordBytes: s.settings.relay.maxRecordBytes,
    clock: systemClock,
    random: Math.random,
    owner: `${s.instanceId}/${context.invocationId}`,
    claimLeaseMs: s.settings.relay.claimLeaseMs,
    deadline: Date.now() + workBudgetMs,
    logger: s.logger,
    telemetry: s.telemetry,
  }).catch((err: unknown) => {
    // The host moves the message to the poison queue after this attempt: content a person must look at.
    if (isLastAttempt(context.triggerMetadata?.dequeueCount)) {
      s.telemetry.metric('messages.poisoned', 1, { tenantId: message.data.tenantId, contentType: message.data.contentType });
    }
    throw err;
  });
  if (outcome.kind === 'wait') await s.queue.requeue({ ...message.data, ...outcome.next }, outcome.delayMs);
  s.logger.info('content processed', {
    invocationId: context.invocationId,
    tenantId: message.data.tenantId,
    contentType: message.data.contentType,
    contentId: message.data.contentId,
    dequeueCount: context.triggerMetadata?.dequeueCount,
    ...outcome,
  });
}

/** host.json extensions.queues.maxDequeueCount (an app setting can override it, as the host reads it). */
const maxDequeueCount = Number(process.env.AzureFunctionsJobHost__extensions__queues__maxDequeueCount ?? 5);

function isLastAttempt(dequeueCount: unknown): boolean {
  return typeof dequeueCount === 'number' && dequeueCount >= maxDequeueCount;
}

app.storageQueue('contentWorker', { queueName: contentQueueName, connection: 'AzureWebJobsStorage', handler: contentWorker });
