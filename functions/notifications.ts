// HTTP trigger for the Management API's webhook: the validation handshake and content notifications.
// Parse the request, call the core, answer; the queue write happens inside, before the 200.
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { errorFields } from '../shared/log';
import { acceptWebhookRequest, countByStream } from '../shared/pipeline/accept-notifications';
import { relayServices, relayWebhookContext } from '../shared/services';

/**
 * The last-notification row is written at most every 30 s per stream from one instance: health needs minutes of
 * precision, and a burst of concurrent POSTs would otherwise race on one row's ETag.
 */
const noteEveryMs = 30_000;
const lastNoted = new Map<string, number>();
function dueForNote({ tenantId, contentType }: { tenantId: string; contentType: string }, now: number): boolean {
  const key = `${tenantId}/${contentType}`;
  if (now - (lastNoted.get(key) ?? 0) < noteEveryMs) return false;
  lastNoted.set(key, now);
  return true;
}

export async function notifications(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const { currentPolicy, logger, telemetry } = relayWebhookContext();
  // The registry's tenants through a cached view (30 s): unknown, paused and removed tenants are refused as 'tenant'.
  const policy = await currentPolicy();
  const body = async () => new Uint8Array(await request.arrayBuffer());
  const answer = await acceptWebhookRequest({ header: (name) => request.headers.get(name), body }, policy, async (messages) => {
    // Only a notification batch builds the storage clients; the handshake never does.
    const services = relayServices();
    await services.ready();
    await services.queue.enqueue(messages);
    // For the health check; losing this write must not make the API resend the batch.
    const now = new Date();
    await Promise.all(countByStream(messages).filter(([stream]) => dueForNote(stream, now.getTime())).map(([{ tenantId, contentType }]) =>
      services.ledger.setLastNotification(tenantId, contentType, now).catch((err: unknown) =>
        logger.warn('last notification time not recorded', { tenantId, contentType, ...errorFields(err) }))));
  }, telemetry);
  if (answer.status !== 200 || answer.body.rejected && Object.keys(answer.body.rejected).length > 0) {
    logger.warn('webhook request refused or partly dropped', { invocationId: context.invocationId, status: answer.status, ...answer.body });
  }
  return { status: answer.status, jsonBody: answer.body };
}

app.http('notifications', { methods: ['POST'], authLevel: 'anonymous', route: 'notifications', handler: notifications });
