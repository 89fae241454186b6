// Timer trigger (hourly, never runOnStartup: that fires on every scale-out): keeps the feed subscriptions started
// with our webhook, warming our own webhook first (best effort: a refused or silent warm-up never stops a start).
import { app, type InvocationContext, type Timer } from '@azure/functions';
import { keepSubscriptions } from '../shared/pipeline/keep-subscriptions';
import { warmUpWebhook } from '../shared/pipeline/warm-webhook';
import { relayServices } from '../shared/services';

export async function subscriptionKeeper(_timer: Timer, context: InvocationContext): Promise<void> {
  const s = relayServices();
  await s.ready();
  const hook = s.settings.relay.webhook;
  const results = await keepSubscriptions({
    ledger: s.ledger,
    feed: (tenantId) => s.client.tenant(tenantId),
    tenants: s.tenants,
    webhook: hook === undefined ? undefined : { address: hook.address, authId: hook.authIds[0] },
    restartDisabled: s.settings.api.restartDisabledSubscriptions,
    warmWebhook: () => (hook === undefined ? Promise.resolve({ state: 'warm' as const }) : warmUpWebhook(hook.address, hook.authIds[0]!)),
    now: () => new Date(),
    owner: `${s.instanceId}/${context.invocationId}`,
    logger: s.logger,
    telemetry: s.telemetry,
  });
  s.logger.info('subscriptions kept', { invocationId: context.invocationId, results });
  // The API forgets content after 7 days; so does the ledger (with a day of margin).
  await s.ledger.purge(new Date(Date.now() - 8 * 86_400_000));
}

app.timer('subscriptionKeeper', { schedule: process.env.O365_KEEPER_SCHEDULE ?? '0 7 * * * *', runOnStartup: false, handler: subscriptionKeeper });
