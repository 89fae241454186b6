// Queue trigger: keeps one tenant's feed subscriptions started with our webhook, warming our own webhook first
// (best effort: a refused or silent warm-up never stops a start). A lease per tenant and the stored last start
// (15-minute rule) make a message handled twice, or by two instances at once, harmless.
import { app, type InvocationContext } from '@azure/functions';
import { keepSubscriptions } from '../shared/pipeline/keep-subscriptions';
import { KeepMessage } from '../shared/pipeline/reconcile-plan';
import { warmUpWebhook } from '../shared/pipeline/warm-webhook';
import { keepQueueName } from '../shared/state/plan-queues';
import { relayServices } from '../shared/services';

export async function keepTenant(queued: unknown, context: InvocationContext): Promise<void> {
  const s = relayServices();
  const message = KeepMessage.safeParse(queued);
  if (!message.success) throw new Error(`not a keep message: ${message.error.issues.map((i) => `${i.path.join('.') || '(message)'}: ${i.message}`).join(', ')}`);
  const tenant = (await s.followed()).find((t) => t.tenantId === message.data.tenantId);
  if (tenant === undefined) {
    // A tenant removed from the settings, or paused or removed in the registry, since the timer planned.
    s.logger.warn('keep message for a tenant not followed (settings or registry): ignored', { invocationId: context.invocationId, tenantId: message.data.tenantId });
    return;
  }
  await s.ready();
  const hook = s.settings.relay.webhook;
  const results = await keepSubscriptions({
    ledger: s.ledger,
    feed: (tenantId) => s.client.tenant(tenantId),
    tenants: [tenant],
    webhook: hook === undefined ? undefined : { address: hook.address, authId: hook.authIds[0] },
    restartDisabled: s.settings.api.restartDisabledSubscriptions,
    warmWebhook: () => (hook === undefined ? Promise.resolve({ state: 'warm' as const }) : warmUpWebhook(hook.address, hook.authIds[0]!)),
    now: () => new Date(),
    owner: `${s.instanceId}/${context.invocationId}`,
    lease: `subscription-keeper/${tenant.tenantId}`,
    logger: s.logger,
    telemetry: s.telemetry,
  });
  s.logger.info('subscriptions kept', { invocationId: context.invocationId, results });
}

app.storageQueue('keepTenant', { queueName: keepQueueName, connection: 'AzureWebJobsStorage', handler: keepTenant });
