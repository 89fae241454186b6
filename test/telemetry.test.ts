// Metrics through the pipeline functions (webhook, content worker, keeper) with a recording telemetry, and the
// Application Insights adapter's wiring without the SDK: it is chosen only with a connection string, and calls
// made while the SDK loads are forwarded once it has (or dropped if it fails). App Insights itself never starts here.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TenantFeed } from '../shared/api/client';
import type { ContentType } from '../shared/api/content-types';
import { createLogger } from '../shared/log';
import { acceptWebhookRequest, type WebhookPolicy, type WebhookRequest } from '../shared/pipeline/accept-notifications';
import { keepSubscriptions } from '../shared/pipeline/keep-subscriptions';
import { processContent } from '../shared/pipeline/process-content';
import { compileFilter } from '../shared/records/filters';
import { createTableLedger } from '../shared/state/table-ledger';
import { recordingTelemetry } from '../shared/telemetry';
import { appInsightsTelemetry, deferredTelemetry, type AppInsightsClient } from '../shared/telemetry/app-insights';
import { startAzurite, type RunningAzurite } from '../dev/azurite';
import { generateRecords } from '../dev/record-generator';
import { switchableSink } from './support/switchable-sink';
import { workerDeps } from './support/worker-deps';

const tenant = '3e1a9b42-f5fb-49f0-ad1b-05d97491bc66';
const clientId = '676e8273-3c93-4205-910f-614bb4396a55';
const authId = 'relay-test-auth-id-0123456789';
const logger = createLogger({ level: 'error' });
let azurite: RunningAzurite;

before(async () => {
  azurite = await startAzurite({ blob: false, queue: false, table: true });
});
after(async () => {
  await azurite.close();
});

const policy: WebhookPolicy = {
  clientId,
  tenants: new Map([[tenant, new Set<ContentType>(['Audit.Exchange', 'Audit.SharePoint'])]]),
  authIds: [{ value: authId }],
  apiOrigin: 'https://manage.office.com',
  maxBodyBytes: 1024 * 1024,
};
const request = (body: unknown, auth: string | null = authId): WebhookRequest => ({
  header: (name) => (name.toLowerCase() === 'webhook-authid' ? auth : null),
  body: async () => Buffer.from(JSON.stringify(body)),
});
const item = (contentType: string, n: number, changes: Record<string, string> = {}) => {
  const contentId = `20261125000000000000${n}$x$${contentType.replace('.', '_')}$na0034`;
  return {
    tenantId: tenant,
    clientId,
    contentType,
    contentId,
    contentUri: `https://manage.office.com/api/v1.0/${tenant}/activity/feed/audit/${contentId}`,
    contentCreated: '2026-11-25T10:00:00.000Z',
    contentExpiration: '2026-12-02T10:00:00.000Z',
    ...changes,
  };
};

describe('webhook metrics', () => {
  it('counts received notifications per tenant and content type, and refusals by reason only', async () => {
    const telemetry = recordingTelemetry();
    const answer = await acceptWebhookRequest(
      request([item('Audit.Exchange', 1), item('Audit.Exchange', 2), item('Audit.SharePoint', 3), item('Audit.General', 4), item('Audit.Exchange', 5, { clientId: '11111111-2222-4333-8444-555555555555' })]),
      policy,
      async () => undefined,
      telemetry,
    );
    assert.equal(answer.status, 200);
    assert.equal(telemetry.total('notifications.received', { tenantId: tenant, contentType: 'Audit.Exchange' }), 2);
    assert.equal(telemetry.total('notifications.received', { tenantId: tenant, contentType: 'Audit.SharePoint' }), 1);
    assert.equal(telemetry.total('notifications.refused', { reason: 'contentType' }), 1);
    assert.equal(telemetry.total('notifications.refused', { reason: 'clientId' }), 1);
    // A forger controls the tenant and content type of a refused item: they never become dimensions.
    assert.ok(telemetry.metrics.filter((m) => m.name === 'notifications.refused').every((m) => Object.keys(m.properties ?? {}).join() === 'reason'));

    const refused = await acceptWebhookRequest(request([item('Audit.Exchange', 6)], 'wrong'), policy, async () => undefined, telemetry);
    assert.equal(refused.status, 401);
    assert.equal(telemetry.total('notifications.refused', { reason: 'http-401' }), 1);
  });

  it('counts nothing as received when the queue did not take the batch', async () => {
    const telemetry = recordingTelemetry();
    const answer = await acceptWebhookRequest(request([item('Audit.Exchange', 7)]), policy, () => Promise.reject(new Error('queue down')), telemetry);
    assert.equal(answer.status, 503);
    assert.equal(telemetry.total('notifications.received'), 0);
    assert.equal(telemetry.total('notifications.refused', { reason: 'http-503' }), 1);
  });
});

describe('content worker metrics', () => {
  it('reports the blob, records in / filtered / delivered per sink, and both lags', async () => {
    const now = Date.parse('2026-11-25T12:00:00.000Z');
    const records: Array<Record<string, unknown>> = [...generateRecords(12, { seed: 41 })].map((r, i) => ({
      ...r,
      OrganizationId: tenant,
      // Zone-less, as the API writes it: the oldest is 3 hours old.
      CreationTime: new Date(now - (3 * 60 - i) * 60_000).toISOString().slice(0, 19),
    }));
    const keptType = records[0]!['RecordType'] as number;
    const kept = records.filter((r) => r['RecordType'] === keptType).length;
    const a = switchableSink('a');
    const b = switchableSink('b');
    a.state.down = b.state.down = false;
    const telemetry = recordingTelemetry();
    const outcome = await processContent(
      { tenantId: tenant, contentType: 'Audit.Exchange', contentId: 'metrics$0001', contentCreated: new Date(now - 90 * 60_000).toISOString(), contentExpiration: new Date(now + 86_400_000).toISOString(), waits: 0 },
      workerDeps({
        ledger: createTableLedger({ connectionString: azurite.connectionString, tableName: 'telemetrytest' }),
        records,
        sinksFor: () => [a.sink, b.sink],
        filter: compileFilter({ include: { recordTypes: [keptType] } }),
        clock: { now: () => now, sleep: () => Promise.resolve() },
        logger,
        telemetry,
      }),
    );
    assert.equal(outcome.kind, 'delivered');
    const stream = { tenantId: tenant, contentType: 'Audit.Exchange' };
    assert.equal(telemetry.total('blobs.processed', stream), 1);
    assert.equal(telemetry.total('records.in', stream), 12);
    assert.equal(telemetry.total('records.filtered', stream), 12 - kept);
    assert.equal(telemetry.total('records.delivered', { ...stream, sink: 'a' }), kept);
    assert.equal(telemetry.total('records.delivered', { ...stream, sink: 'b' }), kept);
    assert.equal(a.state.received.length, kept);
    assert.equal(telemetry.total('lag.contentCreated', stream), 90 * 60_000);
    const oldestKept = Math.min(...records.filter((r) => r['RecordType'] === keptType).map((r) => Date.parse(`${String(r['CreationTime'])}Z`)));
    assert.equal(telemetry.total('lag.creationTime', stream), now - oldestKept);
  });

  it('counts expired content as data loss', async () => {
    const telemetry = recordingTelemetry();
    const now = Date.now();
    const outcome = await processContent(
      { tenantId: tenant, contentType: 'DLP.All', contentId: 'metrics$expired', contentCreated: new Date(now - 8 * 86_400_000).toISOString(), contentExpiration: new Date(now - 1000).toISOString(), waits: 0 },
      workerDeps({
        ledger: createTableLedger({ connectionString: azurite.connectionString, tableName: 'telemetrytest' }),
        fetchContent: () => assert.fail('expired content is not fetched'),
        clock: { now: () => now, sleep: () => Promise.resolve() },
        logger,
        telemetry,
      }),
    );
    assert.equal(outcome.kind, 'expired');
    assert.equal(telemetry.total('content.expired', { tenantId: tenant, contentType: 'DLP.All' }), 1);
  });
});

describe('subscription keeper events', () => {
  it('emits subscription.changed for a start and nothing for an enabled subscription', async () => {
    const telemetry = recordingTelemetry();
    const started: string[] = [];
    const feed = {
      tenantId: tenant,
      listSubscriptions: async () => [{ contentType: 'Audit.SharePoint', status: 'enabled', webhook: null }],
      startSubscription: async (contentType: ContentType) => {
        started.push(contentType);
        return { outcome: 'started' as const, subscription: { contentType, status: 'enabled', webhook: null } };
      },
    } as unknown as TenantFeed; // only the two calls ensureSubscription makes without a webhook
    const results = await keepSubscriptions({
      ledger: createTableLedger({ connectionString: azurite.connectionString, tableName: 'telemetrykeeper' }),
      feed: () => feed,
      tenants: [{ tenantId: tenant, contentTypes: ['Audit.Exchange', 'Audit.SharePoint'] }],
      webhook: undefined,
      restartDisabled: false,
      warmWebhook: async () => ({ state: 'warm' as const }),
      now: () => new Date(),
      owner: 'keeper-test',
      logger,
      telemetry,
    });
    assert.deepEqual(results.map((r) => r.outcome), ['started', 'enabled']);
    assert.deepEqual(telemetry.events, [{ name: 'subscription.changed', properties: { tenantId: tenant, contentType: 'Audit.Exchange', outcome: 'started' } }]);
  });
});

describe('Application Insights adapter', () => {
  it('is not chosen without APPLICATIONINSIGHTS_CONNECTION_STRING', () => {
    assert.equal(appInsightsTelemetry({}), undefined);
    assert.equal(appInsightsTelemetry({ APPLICATIONINSIGHTS_CONNECTION_STRING: '' }), undefined);
  });

  it('forwards calls made while the SDK loads, in order, then calls straight through', async () => {
    const sent: string[] = [];
    let loaded!: (client: AppInsightsClient) => void;
    const telemetry = deferredTelemetry(() => new Promise((resolve) => (loaded = resolve)));
    telemetry.metric('m1', 1, { tenantId: tenant });
    telemetry.event('e1');
    assert.equal(sent.length, 0);
    loaded({ trackMetric: (t) => void sent.push(`metric ${t.name}=${t.value} ${JSON.stringify(t.properties)}`), trackEvent: (t) => void sent.push(`event ${t.name}`) });
    await new Promise((resolve) => setImmediate(resolve));
    telemetry.metric('m2', 2);
    assert.deepEqual(sent, [`metric m1=1 {"tenantId":"${tenant}"}`, 'event e1', 'metric m2=2 undefined']);
  });

  it('drops calls and reports once when the SDK cannot start', async () => {
    const errors: unknown[] = [];
    const telemetry = deferredTelemetry(() => Promise.reject(new Error('no exporter')), (err) => errors.push(err));
    telemetry.metric('m1', 1);
    await new Promise((resolve) => setImmediate(resolve));
    telemetry.metric('m2', 1);
    assert.equal(errors.length, 1);
  });
});

describe('Application Insights adapter failures', () => {
  it('never throws into the pipeline when the SDK client throws', async () => {
    const telemetry = deferredTelemetry(async () => ({
      trackMetric: () => {
        throw new TypeError("Cannot read properties of undefined (reading 'trackMetric')");
      },
      trackEvent: () => {
        throw new TypeError("Cannot read properties of undefined (reading 'trackEvent')");
      },
    }));
    telemetry.metric('queued', 1);
    await new Promise((resolve) => setImmediate(resolve));
    assert.doesNotThrow(() => telemetry.metric('m', 1));
    assert.doesNotThrow(() => telemetry.event('e'));
  });
});
