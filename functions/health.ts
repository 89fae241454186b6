// HTTP trigger GET /api/health (function key): reads the subscriptions as the keeper last stored them, the
// ledger's stream rows (all tenants in one paged query, refused counts included), the queues and the dead letter,
// then lets the pure assessHealth decide. 200 for
// ok/degraded, 503 for failing, so a plain availability test alerts on failing. Health never spends the tenants'
// API budget by itself: `?refresh=true` asks the API once per tenant (e.g. after fixing a subscription) and stores
// what it answers, as the keeper would.
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { errorFields, type Logger } from '../shared/log';
import { mapLimited } from '../shared/map-limited';
import { assessHealth, type StreamProbe, type SubscriptionView } from '../shared/pipeline/health';
import type { Ledger, OddStreamRow, StreamStatus } from '../shared/pipeline/ledger';
import { refusedKept } from '../shared/pipeline/refused-count';
import { snapshotOf, viewOfSnapshot, type SubscriptionSnapshot } from '../shared/pipeline/subscription-state';
import { relayServices, type RelayServices, type TenantStreams } from '../shared/services';

/** Counting stops here: past it the number only says "a lot". */
const deadLetterCountCap = 10_000;
/** Tenants asked at once on `?refresh=true`: 1,000 tenants are not 1,000 requests in flight. */
const refreshConcurrency = 16;

const errorName = (err: unknown): string => (err instanceof Error ? (err as { code?: string }).code ?? err.name : 'error');

/** Each tenant's subscriptions: stored by the keeper, or (refresh) listed now and stored; an error stands for the tenant. */
async function subscriptionStates(s: RelayServices, tenants: readonly TenantStreams[], refresh: boolean): Promise<Map<string, SubscriptionSnapshot | Error>> {
  if (!refresh) return s.ledger.subscriptionSnapshots();
  const states = new Map<string, SubscriptionSnapshot | Error>();
  await mapLimited(tenants, refreshConcurrency, async ({ tenantId }) => {
    try {
      const snapshot = snapshotOf(tenantId, await s.client.tenant(tenantId).listSubscriptions({ deadline: Date.now() + 20_000 }), new Date());
      states.set(tenantId, snapshot);
      await s.ledger.setSubscriptionSnapshot(snapshot).catch((err: unknown) => s.logger.warn('could not store the refreshed subscription state', { tenantId, ...errorFields(err) }));
    } catch (err) {
      states.set(tenantId, err instanceof Error ? err : new Error(String(err)));
    }
  });
  return states;
}

function viewOf(state: SubscriptionSnapshot | Error | undefined, contentType: string, unreadable: string | undefined): SubscriptionView {
  if (unreadable !== undefined) return { kind: 'unknown', error: unreadable };
  if (state instanceof Error) return { kind: 'unknown', error: errorName(state) };
  return viewOfSnapshot(state, contentType);
}

const streamKey = (tenantId: string, contentType: string) => JSON.stringify([tenantId, contentType]);

/** Odd stream rows already logged by this process: each is logged once, not at every probe (every 5 min). */
const loggedOddRows = new Set<string>();

/** Every stream row (one paged query), by stream; an odd row stands for its stream as undefined and is logged once. */
async function streamRows(ledger: Ledger, logger: Logger): Promise<{ rows: Map<string, StreamStatus | undefined>; odd: OddStreamRow[] }> {
  const { streams, odd } = await ledger.allStreams();
  const rows = new Map<string, StreamStatus | undefined>(streams.map(({ tenantId, contentType, ...status }) => [streamKey(tenantId, contentType), status]));
  for (const row of odd) {
    if (row.tenantId !== undefined && row.contentType !== undefined) rows.set(streamKey(row.tenantId, row.contentType), undefined);
    const logged = `${row.key}\n${row.problem}`;
    if (loggedOddRows.has(logged)) continue;
    loggedOddRows.add(logged);
    logger.warn('ledger stream row unreadable: health cannot read its stream until it is fixed', { key: row.key, tenantId: row.tenantId, contentType: row.contentType, problem: row.problem });
  }
  return { rows, odd };
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
  const [stored, depth, deadLetterCount] = await Promise.all([
    streamRows(s.ledger, s.logger).catch(failed('ledger stream rows')),
    s.queue.depth().catch(failed('queue counts')),
    countDeadLetters(s).catch(failed('dead-letter count')),
  ]);
  const now = new Date();
  const followed = new Set(tenants.flatMap(({ tenantId, contentTypes }) => contentTypes.map((contentType) => streamKey(tenantId, contentType))));
  // An unreadable row is named where it hides a followed stream, or when its columns do not say whose it is.
  for (const row of stored?.odd ?? []) {
    if (row.tenantId === undefined || row.contentType === undefined) probeErrors.push(`ledger stream row ${row.key} unavailable`);
    else if (followed.has(streamKey(row.tenantId, row.contentType))) probeErrors.push(`ledger row of ${row.tenantId}/${row.contentType} unavailable`);
  }
  const streams = tenants.flatMap(({ tenantId, contentTypes }) => contentTypes.map((contentType): StreamProbe => {
    const subscription = viewOf(states?.get(tenantId), contentType, unreadable);
    const key = streamKey(tenantId, contentType);
    // No row is a stream never written (as getStream's {}); an odd row or a failed query leaves it unknown.
    const row = stored === undefined ? undefined : stored.rows.has(key) ? stored.rows.get(key) : {};
    if (row === undefined) return { tenantId, contentType, subscription };
    const { cursor, lastStart, lastNotification, lastReconciled, plannedAt } = row;
    return { tenantId, contentType, subscription, cursor, lastStart, lastNotification, lastReconciled, plannedAt, refused: refusedKept(row, now) };
  }));
  const report = assessHealth({
    now,
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
