// Health: the pure assessment (thresholds and subscription states as data), the ledger's stream instants on
// Azurite, and GET /api/health on the local stack (keeper ran, content delivered -> ok with the right fields and
// no API call: the subscriptions come from the keeper's stored state; a poison message -> degraded; a disabled
// subscription -> failing once refreshed from the API, and stored).
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { QueueClient } from '@azure/storage-queue';
import { contentTypes, type ContentType } from '../shared/api/content-types';
import { createLogger } from '../shared/log';
import { assessHealth, defaultThresholds, type HealthProbe, type HealthReport, type StreamProbe } from '../shared/pipeline/health';
import { snapshotOf, viewOfSnapshot } from '../shared/pipeline/subscription-state';
import { contentQueueName } from '../shared/state/content-queue';
import { createTableLedger } from '../shared/state/table-ledger';
import { startAzurite } from '../dev/azurite';
import { startLocalStack, type LocalStack } from '../dev/local-stack';
import { generateRecords } from '../dev/record-generator';
import { repoRoot } from './support/fixtures';

const tenant = '3e1a9b42-f5fb-49f0-ad1b-05d97491bc66';
const now = new Date('2026-11-25T12:00:00.000Z');
const minutes = (n: number) => new Date(now.getTime() - n * 60_000);

const healthyStream = (contentType: ContentType): StreamProbe => ({
  tenantId: tenant,
  contentType,
  subscription: { kind: 'listed', status: 'enabled', webhookStatus: 'enabled', webhookAddress: 'https://relay.example/api/notifications' },
  cursor: minutes(5),
  lastStart: minutes(60),
  lastNotification: minutes(2),
});
const probe = (changes: Partial<HealthProbe> = {}): HealthProbe => ({
  now,
  webhookConfigured: true,
  streams: [healthyStream('Audit.Exchange'), healthyStream('DLP.All')],
  queueBacklog: 3,
  poisonCount: 0,
  deadLetterCount: 0,
  probeErrors: [],
  ...changes,
});

describe('assessHealth (pure)', () => {
  it('names a stream whose reconcile plan missed two intervals, and only that one', () => {
    const late = { ...healthyStream('Audit.Exchange'), lastReconciled: minutes(25), plannedAt: minutes(24) };
    const stuck = { ...healthyStream('Audit.General'), plannedAt: minutes(21) }; // opened, never finished
    const fine = { ...healthyStream('DLP.All'), lastReconciled: minutes(9), plannedAt: minutes(1) };
    const fresh = { ...healthyStream('Audit.SharePoint'), plannedAt: minutes(3) }; // first plan, just opened
    const report = assessHealth(probe({ streams: [late, stuck, fine, fresh] }));
    const byType = new Map(report.streams.map((s) => [s.contentType, s]));
    assert.match(byType.get('Audit.Exchange')!.reasons.join(), /missed two reconcile intervals \(last plan finished 2026-11-25T11:35:00\.000Z\)/);
    assert.match(byType.get('Audit.General')!.reasons.join(), /missed two reconcile intervals \(first plan opened, never finished/);
    assert.equal(byType.get('DLP.All')!.status, 'ok');
    assert.equal(byType.get('Audit.SharePoint')!.status, 'ok');
    assert.equal(report.status, 'degraded');
  });

  it('is ok with every field when all is well', () => {
    const report = assessHealth(probe());
    assert.equal(report.status, 'ok');
    assert.deepEqual(report.reasons, []);
    assert.deepEqual(report.queue, { backlog: 3, poison: 0 });
    assert.deepEqual(report.deadLetter, { count: 0 });
    assert.deepEqual(report.streams[0], {
      tenantId: tenant,
      contentType: 'Audit.Exchange',
      status: 'ok',
      reasons: [],
      subscription: { status: 'enabled', webhookStatus: 'enabled' },
      subscriptionCheckedAt: null,
      lastNotification: minutes(2).toISOString(),
      lastReconcile: minutes(5).toISOString(),
      cursor: minutes(5).toISOString(),
      reconcileLagMs: 5 * 60_000,
      notificationAgeMs: 2 * 60_000,
      refused: null,
    });
  });

  it('fails on a disabled or missing subscription, naming the stream', () => {
    const disabled = { ...healthyStream('DLP.All'), subscription: { kind: 'listed' as const, status: 'disabled', webhookStatus: null, webhookAddress: null } };
    const report = assessHealth(probe({ streams: [healthyStream('Audit.Exchange'), disabled] }));
    assert.equal(report.status, 'failing');
    assert.ok(report.reasons.includes(`${tenant}/DLP.All: subscription disabled`), report.reasons.join('; '));
    assert.equal(report.streams[0]!.status, 'ok');
    const missing = assessHealth(probe({ streams: [{ ...healthyStream('DLP.All'), subscription: { kind: 'missing' } }] }));
    assert.deepEqual([missing.status, missing.reasons], ['failing', [`${tenant}/DLP.All: no subscription`]]);
  });

  it('degrades on a disabled webhook (the reconciler still finds the content) and only when a webhook is configured', () => {
    const webhookOff = { ...healthyStream('Audit.Exchange'), subscription: { kind: 'listed' as const, status: 'enabled', webhookStatus: 'disabled', webhookAddress: null } };
    assert.equal(assessHealth(probe({ streams: [webhookOff] })).status, 'degraded');
    const noWebhook = { ...healthyStream('Audit.Exchange'), subscription: { kind: 'listed' as const, status: 'enabled', webhookStatus: null, webhookAddress: null } };
    assert.equal(assessHealth(probe({ streams: [noWebhook], webhookConfigured: false })).status, 'ok');
    assert.equal(assessHealth(probe({ streams: [noWebhook], webhookConfigured: true })).status, 'degraded');
  });

  it('bands counters and lag by the thresholds it is given, worst reason first', () => {
    assert.equal(assessHealth(probe({ poisonCount: 1 })).status, 'degraded');
    assert.equal(assessHealth(probe({ poisonCount: 100 })).status, 'failing');
    const lagging = assessHealth(probe({ streams: [{ ...healthyStream('Audit.Exchange'), cursor: minutes(45) }], deadLetterCount: 20_000 }));
    assert.equal(lagging.status, 'failing');
    assert.deepEqual(lagging.reasons, ['20000 dead-letter entr(y/ies) waiting for re-delivery', `${tenant}/Audit.Exchange: not reconciled for 45 min`]);
    const lenient = { ...defaultThresholds, deadLetterCount: { degraded: 50_000, failing: 100_000 }, reconcileLagMs: { degraded: 60 * 60_000, failing: 120 * 60_000 } };
    assert.equal(assessHealth(probe({ streams: [{ ...healthyStream('Audit.Exchange'), cursor: minutes(45) }], deadLetterCount: 20_000 }), lenient).status, 'ok');
  });

  it('degrades a stream with refused listed items (never failing for them), and says how many', () => {
    const report = assessHealth(probe({ streams: [{ ...healthyStream('Audit.Exchange'), refused: 3 }, { ...healthyStream('DLP.All'), refused: 0 }] }));
    assert.equal(report.status, 'degraded');
    assert.deepEqual(report.reasons, [`${tenant}/Audit.Exchange: 3 listed item(s) refused, not fetched (ledger state refused; raw items in the dead letter)`]);
    assert.deepEqual(report.streams.map((s) => [s.status, s.refused]), [['degraded', 3], ['ok', 0]]);
    assert.equal(assessHealth(probe({ streams: [{ ...healthyStream('Audit.Exchange'), refused: 1_000_000 }] })).status, 'degraded');
  });

  it('reads the keeper\'s stored state: its age is shown, degraded once three keeper runs were missed; a tenant never stored is unknown', () => {
    const stored = (checkedMinutesAgo: number): StreamProbe => ({
      ...healthyStream('Audit.Exchange'),
      subscription: viewOfSnapshot(snapshotOf(tenant, [{ contentType: 'Audit.Exchange', status: 'enabled', webhook: { status: 'enabled', address: 'https://relay.example/api/notifications', authId: null, expiration: null } } as never], minutes(checkedMinutesAgo)), 'Audit.Exchange'),
    });
    const fresh = assessHealth(probe({ streams: [stored(50)] }));
    assert.deepEqual([fresh.status, fresh.streams[0]!.subscription, fresh.streams[0]!.subscriptionCheckedAt], ['ok', { status: 'enabled', webhookStatus: 'enabled' }, minutes(50).toISOString()]);
    const stale = assessHealth(probe({ streams: [stored(200)] }));
    assert.deepEqual([stale.status, stale.reasons], ['degraded', [`${tenant}/Audit.Exchange: subscription state last checked 200 min ago`]]);
    const otherType = viewOfSnapshot(snapshotOf(tenant, [], minutes(5)), 'DLP.All');
    assert.equal(assessHealth(probe({ streams: [{ ...healthyStream('DLP.All'), subscription: otherType }] })).reasons[0], `${tenant}/DLP.All: no subscription`);
    const never = assessHealth(probe({ streams: [{ ...healthyStream('DLP.All'), subscription: viewOfSnapshot(undefined, 'DLP.All') }] }));
    assert.deepEqual([never.status, never.reasons], ['degraded', [`${tenant}/DLP.All: subscription list unavailable: not yet checked by the subscription keeper`]]);
  });

  it('degrades when a probe failed or a stream was never looked at', () => {
    const blind = assessHealth(probe({ queueBacklog: undefined, poisonCount: undefined, probeErrors: ['queue counts unavailable'] }));
    assert.deepEqual([blind.status, blind.reasons, blind.queue], ['degraded', ['queue counts unavailable'], { backlog: null, poison: null }]);
    const fresh = assessHealth(probe({ streams: [{ tenantId: tenant, contentType: 'Audit.General', subscription: { kind: 'unknown', error: 'AF429' } }] }));
    assert.equal(fresh.status, 'degraded');
    assert.deepEqual(fresh.streams[0]!.reasons, ['subscription list unavailable: AF429', 'never reconciled nor subscribed']);
  });
});

describe('health end to end (local stack)', () => {
  let stack: LocalStack;
  before(async () => {
    stack = await startLocalStack({
      port: 0,
      hostJsonPath: path.join(repoRoot, 'test', 'support', 'relay-e2e-host.json'),
      overrides: { O365_BLOB_FORMAT: 'json', O365_RECONCILE_SCHEDULE: '0 0 0 1 1 *', O365_LOG_LEVEL: 'error' },
      simulator: { notifyRetryDelaysMs: [200, 400, 800] },
      logger: createLogger({ level: 'error' }),
    });
  });
  after(async () => {
    await stack?.close();
  });

  const getHealth = async (query = ''): Promise<{ status: number; body: HealthReport }> => {
    const response = await fetch(`${stack.host.url}/api/health${query}`);
    return { status: response.status, body: (await response.json()) as HealthReport };
  };
  const listCalls = () => stack.simulator.journal.filter((e) => e.direction === 'in' && e.path.endsWith('/subscriptions/list')).length;

  it('reports ok with subscriptions, last notification and counts after the keeper ran and content was delivered', async () => {
    await stack.host.fireTimer('subscriptionKeeper');
    await stack.host.idle({ timeoutMs: 30_000 }); // the timer plans one o365-keep message per tenant
    const records = [...generateRecords(5, { seed: 3 })].map((r) => ({ ...r, OrganizationId: stack.tenantId }));
    await stack.simulator.publish(stack.tenantId, 'Audit.Exchange', records);
    await stack.simulator.flushNotifications();
    await stack.host.idle({ timeoutMs: 30_000 });

    const before = listCalls();
    const { status, body } = await getHealth();
    assert.equal(status, 200);
    assert.equal(body.status, 'ok', body.reasons.join('; '));
    assert.deepEqual(body.queue, { backlog: 0, poison: 0 });
    assert.deepEqual(body.deadLetter, { count: 0 });
    assert.deepEqual(body.streams.map((s) => s.contentType).sort(), [...contentTypes].sort());
    for (const s of body.streams) {
      assert.deepEqual(s.subscription, { status: 'enabled', webhookStatus: 'enabled' }, s.contentType);
      assert.ok(s.subscriptionCheckedAt !== null && Date.parse(s.subscriptionCheckedAt) <= Date.parse(body.checkedAt), 'the keeper\'s stored state, with when it was read');
      assert.equal(s.status, 'ok');
      assert.ok(s.reconcileLagMs !== null && s.reconcileLagMs < 60_000, `${s.contentType}: lag from the keeper's start`);
    }
    const exchange = body.streams.find((s) => s.contentType === 'Audit.Exchange')!;
    assert.ok(exchange.lastNotification !== null && Date.parse(exchange.lastNotification) <= Date.parse(body.checkedAt));
    assert.equal(body.streams.find((s) => s.contentType === 'DLP.All')!.lastNotification, null);
    assert.equal(listCalls() - before, 0, 'health read the stored state: no subscription list');
  });

  it('degrades with the reason once a message sits in the poison queue, without listing subscriptions', async () => {
    const poison = new QueueClient(stack.azurite.connectionString, `${contentQueueName}-poison`);
    await poison.createIfNotExists();
    await poison.sendMessage(Buffer.from('{"not":"content"}').toString('base64'));
    const before = listCalls();
    const { status, body } = await getHealth();
    assert.equal(status, 200);
    assert.equal(body.status, 'degraded');
    assert.deepEqual(body.reasons, ['1 poison message(s): content that failed every attempt']);
    assert.equal(body.queue.poison, 1);
    assert.equal(listCalls(), before, 'the subscriptions came from the stored state');
  });

  it('fails with 503 naming the stream once a subscription is disabled (seen on refresh)', async () => {
    stack.simulator.disableSubscription(stack.tenantId, 'Audit.General');
    assert.equal((await getHealth()).body.status, 'degraded', 'still the stored state');
    const before = listCalls();
    const { status, body } = await getHealth('?refresh=true');
    assert.equal(listCalls() - before, 1, 'refresh: one list for the one tenant');
    assert.equal(status, 503);
    assert.equal(body.status, 'failing');
    assert.deepEqual(body.reasons, [`${stack.tenantId}/Audit.General: subscription disabled`, '1 poison message(s): content that failed every attempt']);
    assert.equal(body.streams.find((s) => s.contentType === 'Audit.General')!.subscription?.status, 'disabled');
    // What the refresh saw is stored: the next plain probe says the same without asking.
    const again = await getHealth();
    assert.deepEqual([again.status, again.body.status, listCalls() - before], [503, 'failing', 1]);
  });
  it('names a stream whose listing had a foreign item once the reconciler ran; the good blob beside it is delivered', async () => {
    const contentType = 'Audit.SharePoint';
    const records = [...generateRecords(3, { seed: 11 })].map((r) => ({ ...r, OrganizationId: stack.tenantId }));
    const good = await stack.simulator.publish(stack.tenantId, contentType, records);
    stack.simulator.injectListingItem(stack.tenantId, contentType, {
      ...good,
      contentId: `${good.contentId}x`,
      contentUri: `https://evil.example/api/v1.0/${stack.tenantId}/activity/feed/audit/${good.contentId}x`,
    });
    // The webhook delivers the good blob first (a worker holding its claim would make the reconciler's copy wait).
    await stack.simulator.flushNotifications();
    await stack.host.idle({ timeoutMs: 30_000 });
    await stack.host.fireTimer('reconciler');
    await stack.host.idle({ timeoutMs: 30_000 });
    const { body } = await getHealth();
    const stream = body.streams.find((s) => s.contentType === contentType)!;
    assert.equal(stream.refused, 1);
    assert.equal(stream.status, 'degraded');
    assert.ok(body.reasons.includes(`${stack.tenantId}/${contentType}: 1 listed item(s) refused, not fetched (ledger state refused; raw items in the dead letter)`), body.reasons.join('; '));
    const ledger = createTableLedger({ connectionString: stack.azurite.connectionString });
    assert.equal((await ledger.get({ tenantId: stack.tenantId, contentId: good.contentId }))?.state, 'delivered');
    assert.equal((await ledger.get({ tenantId: stack.tenantId, contentId: `${good.contentId}x` }))?.state, 'refused');
    assert.ok(stream.cursor !== null && Date.parse(stream.cursor) > Date.parse(good.contentCreated), 'the cursor advanced past the page');
  });
});

describe('ledger stream instants (Azurite)', () => {
  it('keeps the newest notification time and reads a stream in one call', async () => {
    const azurite = await startAzurite({ blob: false, queue: false, table: true });
    try {
      const ledger = createTableLedger({ connectionString: azurite.connectionString, tableName: 'healthstreams' });
      assert.deepEqual(await ledger.getStream(tenant, 'Audit.Exchange'), {});
      await ledger.setCursor(tenant, 'Audit.Exchange', minutes(10));
      await ledger.setLastNotification(tenant, 'Audit.Exchange', minutes(3));
      await ledger.setLastNotification(tenant, 'Audit.Exchange', minutes(7)); // late, from another instance
      assert.deepEqual(await ledger.getStream(tenant, 'Audit.Exchange'), { cursor: minutes(10), lastNotification: minutes(3) });
      await ledger.setLastNotification(tenant, 'Audit.Exchange', minutes(1));
      assert.deepEqual((await ledger.getStream(tenant, 'Audit.Exchange')).lastNotification, minutes(1));
      assert.equal(await ledger.getCursor(tenant, 'Audit.Exchange').then((d) => d?.toISOString()), minutes(10).toISOString());
    } finally {
      await azurite.close();
    }
  });
});
