// HTTP trigger GET /api/health (function key): reads the subscriptions as the keeper last stored them, the
// ledger's stream instants, the queues and the dead letter, then lets the pure assessHealth decide. 200 for
// ok/degraded, 503 for failing, so a plain availability test alerts on failing. Health never spends the tenants'
// API budget by itself: `?refresh=true` asks the API once per tenant (e.g. after fixing a subscription) and stores
// what it answers, as the keeper would.
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { errorFields } from '../shared/log';
import { assessHealth, type StreamProbe, type SubscriptionView } from '../shared/pipeline/health';
import { snapshotOf, viewOfSnapshot, type SubscriptionSnapshot } from '../shared/pipeline/subscription-state';
import { relayServices, type RelayServices, type TenantStreams } from '../shared/services';

/** Counting stops here: past it the number only says "a lot". */
const deadLetterCountCap = 10_000;
const refusedCountCap = 1_000;

const errorName = (err: unknown): string => (err instanceof Error ? (err as { code?: string }).code ?? err.name : 'error');

/** Each tenant's subscriptions: stored by the keeper, or (refresh) listed now and stored; an error stands for the tenant. */
async function subscriptionStates(s: RelayServices, tenants: readonly TenantStreams[], refresh: boolean): Promise<Map<string, SubscriptionSnapshot | Error>> {
  if (!refresh) return s.ledger.subscriptionSnapshots();
  const states = new Map<string, SubscriptionSnapshot | Error>();
  await Promise.all(tenants.map(async ({ tenantId }) => {
    try {
      const snapshot = snapshotOf(tenantId, await s.client.tenant(tenantId).listSubscriptions({ deadline: Date.now() + 20_000 }), new Date());
      states.set(tenantId, snapshot);
      await s.ledger.setSubscriptionSnapshot(snapshot).catch((err: unknown) => s.logger.warn('could not store the refreshed subscription state', { tenantId, ...errorFields(err) }));
    } catch (err) {
      states.set(tenantId, err instanceof Error ? err : new Error(String(err)));
    }
  }));
  return states;
}

function viewOf(state: SubscriptionSnapshot | Error | undefined, contentType: string, unreadable: string | undefined): SubscriptionView {
  if (unreadable !== undefined) return { kind: 'unknown', error: unreadable };
  if (state instanceof Error) return { kind: 'unknown', error: errorName(state) };
  return viewOfSnapshot(state, contentType);
}

async function countDeadLetters(s: RelayServices): Promise<number> {
  let count = 0;
  for await (const _entry of s.deadLetter.list()) if (++count >= deadLetterCountCap) break;
  return count;
}

export async function health(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const s = relayServices();
  const refresh = request.query.get('refresh') === 'true';
  const probeErrors: string[] = [];
  const failed = (what: string) => (err: unknown) => {
    s.logger.warn(`health probe failed: ${what}`, { invocationId: context.invocationId, ...errorFields(err) });
    probeErrors.push(`${what} unavailable`);
    return undefined;
  };
  await s.ready().catch(failed('storage'));
  // The followed tenants (settings and the registry's active ones); the settings' alone when the registry cannot be used.
  const tenants: readonly TenantStreams[] = (await s.followed().catch(failed('tenant registry (or it disagrees with the settings)'))) ?? s.tenants;
  let unreadable: string | undefined;
  const states = await subscriptionStates(s, tenants, refresh).catch((err: unknown) => {
    unreadable = `stored subscription state unreadable (${errorName(err)})`;
    return failed('stored subscription state')(err);
  });
  const [streams, depth, deadLetterCount] = await Promise.all([
    Promise.all(tenants.flatMap(({ tenantId, contentTypes }) => contentTypes.map(async (contentType): Promise<StreamProbe> => {
      const subscription = viewOf(states?.get(tenantId), contentType, unreadable);
      const [stream, refused] = await Promise.all([
        s.ledger.getStream(tenantId, contentType).catch(failed(`ledger row of ${tenantId}/${contentType}`)),
        s.ledger.countRefused(tenantId, contentType, refusedCountCap).catch(failed(`refused items of ${tenantId}/${contentType}`)),
      ]);
      return { tenantId, contentType, subscription, ...stream, refused };
    }))),
    s.queue.depth().catch(failed('queue counts')),
    countDeadLetters(s).catch(failed('dead-letter count')),
  ]);
  const report = assessHealth({
    now: new Date(),
    webhookConfigured: s.settings.relay.webhook !== undefined,
    streams,
    queueBacklog: depth?.backlog,
    poisonCount: depth?.poison,
    deadLetterCount,
    probeErrors,
  });
  return { status: report.status === 'failing' ? 503 : 200, jsonBody: report, headers: { 'Cache-Control': 'no-store' } };
}

app.http('health', { methods: ['GET'], authLevel: 'function', route: 'health', handler: health });
