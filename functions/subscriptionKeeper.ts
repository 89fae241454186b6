// Timer trigger (hourly, never runOnStartup: that fires on every scale-out): plans the subscription checks, one
// o365-keep message per tenant (functions/keepTenant does them, on any instance), and purges the ledger.
import { app, type InvocationContext, type Timer } from '@azure/functions';
import { keepMessages } from '../shared/pipeline/fan-out';
import { contentKeptMs } from '../shared/pipeline/ledger';
import { relayServices } from '../shared/services';

export async function subscriptionKeeper(_timer: Timer, context: InvocationContext): Promise<void> {
  const s = relayServices();
  await s.ready();
  const messages = keepMessages(await s.followed());
  await s.keepQueue.enqueue(messages);
  s.logger.info('subscription checks planned', { invocationId: context.invocationId, tenants: messages.length });
  // The API forgets content after 7 days; so does the ledger (with a day of margin).
  await s.ledger.purge(new Date(Date.now() - contentKeptMs));
}

app.timer('subscriptionKeeper', { schedule: process.env.O365_KEEPER_SCHEDULE ?? '0 7 * * * *', runOnStartup: false, handler: subscriptionKeeper });
