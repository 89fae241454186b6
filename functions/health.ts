// HTTP trigger GET /api/health (function key): probes the subscriptions, the ledger's stream instants, the
// queues and the dead letter, then lets the pure assessHealth decide. 200 for ok/degraded, 503 for failing, so a
// plain availability test alerts on failing. The subscription list is cached for a minute per tenant: health
// probes must not spend the API's request budget (`?refresh=true` skips it once, e.g. after fixing a subscription).
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import type { Subscription } from '../shared/api/schemas';
import { errorFields } from '../shared/log';
import { assessHealth, type StreamProbe, type SubscriptionView } from '../shared/pipeline/health';
import { relayServices, type RelayServices } from '../shared/services';

const subscriptionTtlMs = 60_000;
/** Counting stops here: past it the number only says "a lot". */
const deadLetterCountCap = 10_000;
const refusedCountCap = 1_000;

const subscriptionCache = new Map<string, { at: number; list: Promise<Subscription[]> }>();

function subscriptionsOf(s: RelayServices, tenantId: string, refresh: boolean): Promise<Subscription[]> {
  const cached = subscriptionCache.get(tenantId);
  if (!refresh && cached && Date.now() - cached.at < subscriptionTtlMs) return cached.list;
  const list = s.client.tenant(tenantId).listSubscriptions({ deadline: Date.now() + 20_000 });
  subscriptionCache.set(tenantId, { at: Date.now(), list });
  list.catch(() => subscriptionCache.delete(tenantId)); // a failure is not cached
  return list;
}

function viewOf(list: Subscription[], contentType: string): SubscriptionView {
  const sub = list.find((x) => x.contentType === contentType);
  if (!sub) return { kind: 'missing' };
  return { kind: 'listed', status: sub.status ?? null, webhookStatus: sub.webhook?.status ?? null, webhookAddress: sub.webhook?.address ?? null };
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
  const [streams, depth, deadLetterCount] = await Promise.all([
    Promise.all(s.tenants.flatMap(({ tenantId, contentTypes }) => contentTypes.map(async (contentType): Promise<StreamProbe> => {
      const [subscription, stream, refused] = await Promise.all([
        subscriptionsOf(s, tenantId, refresh).then(
          (list) => viewOf(list, contentType),
          (err: unknown): SubscriptionView => ({ kind: 'unknown', error: err instanceof Error ? (err as { code?: string }).code ?? err.name : 'error' }),
        ),
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
