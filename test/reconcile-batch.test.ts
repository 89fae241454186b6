// One o365-reconcile message per tenant: the message shape (a batch of the tenant's stream steps; the old
// single-stream shape read as a batch of one), the timer's planning on the real ledger (Azurite: a tenant's planned
// streams give one message, busy and failed streams counted one by one), a batch's steps on the real ledger with a
// listing told how to fail (failures sorted, reported after the others moved, each follow-up sent at once), and
// batches through the local host: one stream refused for good among four good ones costs only itself in the same
// pass; a passing failure of one stream has the host retry the message and the finished streams are not listed
// again; an old-shape message is handled.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { QueueClient } from '@azure/storage-queue';
import { contentTypes, type ContentType } from '../shared/api/content-types';
import { defaultRetryPolicy } from '../shared/api/retry';
import { createLogger } from '../shared/log';
import { apiError } from '../shared/api/errors';
import { planReconcile } from '../shared/pipeline/fan-out';
import { reconcileBatch } from '../shared/pipeline/reconcile-batch';
import { ReconcileMessage, reconcileMessageIssues, streamSteps, type StreamStep } from '../shared/pipeline/reconcile-plan';
import { relayServices } from '../shared/services';
import { reconcileQueueName } from '../shared/state/plan-queues';
import { createTableLedger, type TableLedger } from '../shared/state/table-ledger';
import { recordingTelemetry } from '../shared/telemetry';
import { startAzurite, type RunningAzurite } from '../dev/azurite';
import { startLocalStack, type LocalStack } from '../dev/local-stack';
import type { PublishedContent } from '../dev/simulator';
import { repoRoot } from './support/fixtures';
import { expectedSinkBlobName, sinkRecordIds } from './support/relay-observations';

const tenantA = '11111111-1111-4111-8111-111111111111';
const until = '2026-01-01T00:10:00.000Z';

describe('reconcile message shape (pure)', () => {
  it('a batch is 1..5 distinct content types of one tenant; the old single-stream shape reads as a batch of one', () => {
    const batch = { tenantId: tenantA, until, streams: [{ contentType: 'Audit.Exchange', planId: 'p1', step: 0 }, { contentType: 'DLP.All', planId: 'p2', step: 3 }] };
    assert.deepEqual(ReconcileMessage.parse(batch), batch);
    const old = { tenantId: tenantA, contentType: 'Audit.General', planId: 'p3', step: 2, until };
    assert.deepEqual(ReconcileMessage.parse(old), { tenantId: tenantA, until, streams: [{ contentType: 'Audit.General', planId: 'p3', step: 2 }] });

    const refused = (input: unknown) => {
      const parsed = ReconcileMessage.safeParse(input);
      assert.equal(parsed.success, false, JSON.stringify(input));
      return reconcileMessageIssues(input, parsed.error!).join('; ');
    };
    assert.match(refused({ ...batch, streams: [] }), /^streams: /);
    assert.match(refused({ ...batch, streams: [...contentTypes, 'Audit.General'].map((contentType, i) => ({ contentType, planId: `p${i}`, step: 0 })) }), /^streams: /);
    assert.match(refused({ ...batch, streams: [batch.streams[0], { ...batch.streams[0], planId: 'p9' }] }), /streams: a content type appears twice/);
    // The issues are those of the shape meant, naming the field, never its value.
    const oddStep = refused({ ...batch, streams: [{ contentType: 'Audit.Exchange', planId: 'secret-looking-plan', step: -1 }] });
    assert.match(oddStep, /^streams\.0\.step: /);
    assert.doesNotMatch(oddStep, /secret-looking-plan/);
    assert.match(refused({ ...old, tenantId: 'contoso.com' }), /^tenantId: /);
    assert.match(refused('hello'), /^\(message\): /);
  });

  it('any old single-stream message comes back as exactly its own step', () => {
    const step = fc.record({
      tenantId: fc.uuid({ version: 4 }),
      contentType: fc.constantFrom(...contentTypes),
      planId: fc.string({ minLength: 1, maxLength: 64 }),
      step: fc.nat(),
      until: fc.date({ min: new Date('2020-01-01T00:00:00Z'), max: new Date('2030-01-01T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString()),
    });
    fc.assert(fc.property(step, (old: StreamStep) => {
      // Spread: fast-check's records have no prototype, parsed ones do.
      assert.deepEqual(streamSteps(ReconcileMessage.parse(old)), [{ ...old }]);
    }));
  });
});

describe('planReconcile on the ledger (Azurite)', () => {
  const tenants = [tenantA, '22222222-2222-4222-8222-222222222222', '33333333-3333-4333-8333-333333333333', '44444444-4444-4444-8444-444444444444'];
  let azurite: RunningAzurite;
  let table = 0;
  const freshLedger = () => createTableLedger({ connectionString: azurite.connectionString, tableName: `planning${++table}` });
  const logged: string[] = [];
  const logger = createLogger({ level: 'warn', write: (line) => void logged.push(line) });
  const now = () => new Date('2026-01-01T00:09:59.500Z');

  before(async () => {
    azurite = await startAzurite({ blob: false, queue: false });
  });
  after(async () => {
    await azurite?.close();
  });

  it('a tenant\'s five streams planned give one message with all five; planned again at once: busy, no message', async () => {
    const ledger = freshLedger();
    const sent: ReconcileMessage[] = [];
    const followed = tenants.slice(0, 3).map((tenantId) => ({ tenantId, contentTypes }));
    const report = await planReconcile({ ledger, tenants: followed, enqueue: async (m) => void sent.push(...m), now, logger });
    assert.deepEqual([report.planned, report.messages, report.busy.length, report.failed], [15, 3, 0, 0]);
    assert.deepEqual(sent.map((m) => m.tenantId).sort(), tenants.slice(0, 3));
    for (const message of sent) {
      assert.equal(ReconcileMessage.parse(message).streams.length, 5, 'a valid message of five streams');
      assert.deepEqual(message.streams.map((s) => s.contentType).sort(), [...contentTypes].sort());
      assert.equal(message.until, until, 'the planning second, rounded up');
      for (const { contentType, planId, step } of message.streams) {
        assert.equal(step, 0);
        assert.equal((await ledger.readPlan(message.tenantId, contentType)).plan?.planId, planId, 'each stream has its own plan');
      }
    }
    const again: ReconcileMessage[] = [];
    const second = await planReconcile({ ledger, tenants: followed, enqueue: async (m) => void again.push(...m), now, logger });
    assert.deepEqual([second.planned, second.messages, second.busy.length, again.length], [0, 0, 15, 0]);
  });

  it('a busy stream, a stream whose plan cannot be read and a message that cannot be sent cost only themselves', async () => {
    logged.length = 0;
    const ledger = freshLedger();
    const [busyTenant, brokenTenant, unsendable, fine] = tenants as [string, string, string, string];
    assert.equal(await ledger.openPlan(busyTenant, 'Audit.SharePoint', 'still-running', now()), true);
    const broken: TableLedger = {
      ...ledger,
      readPlan: (tenantId, contentType) =>
        tenantId === brokenTenant && contentType === 'DLP.All' ? Promise.reject(new Error('table unavailable')) : ledger.readPlan(tenantId, contentType),
      // Sent but not opened by the timer (as if it died after sending): its first step opens it (tested below).
      openPlan: (tenantId, contentType, planId, at) =>
        tenantId === fine && contentType === 'Audit.General' ? Promise.reject(new Error('table unavailable')) : ledger.openPlan(tenantId, contentType, planId, at),
    };
    const sent: ReconcileMessage[] = [];
    const report = await planReconcile({
      ledger: broken,
      tenants: tenants.map((tenantId) => ({ tenantId, contentTypes })),
      enqueue: async (messages) => {
        if (messages.some((m) => m.tenantId === unsendable)) throw new Error('queue unavailable');
        sent.push(...messages);
      },
      now,
      logger,
      concurrency: 2,
    });
    const byTenant = new Map(sent.map((m) => [m.tenantId, m.streams.map((s) => s.contentType).sort()]));
    assert.deepEqual(byTenant.get(busyTenant), contentTypes.filter((c) => c !== 'Audit.SharePoint').sort());
    assert.deepEqual(byTenant.get(brokenTenant), contentTypes.filter((c) => c !== 'DLP.All').sort());
    assert.equal(byTenant.has(unsendable), false);
    assert.deepEqual(byTenant.get(fine), [...contentTypes].sort());
    assert.deepEqual(report.busy, [{ tenantId: busyTenant, contentType: 'Audit.SharePoint' }]);
    assert.equal(report.failed, 1 + 5, 'the unreadable plan, and the five streams of the unsent message');
    assert.deepEqual([report.planned, report.messages], [4 + 4 + 5, 3]);
    assert.equal((await ledger.readPlan(fine, 'Audit.General')).plan, undefined, 'sent, not opened');
    assert.deepEqual(logged.map((line) => JSON.parse(line).message).sort(),
      ['plan not opened by the timer: its first step opens it', 'stream not planned', 'streams not planned: their message was not sent'], 'each failure logged once');
  });

  it('a tenant named twice, or a content type twice, is still one message with each stream once', async () => {
    const sent: ReconcileMessage[] = [];
    await planReconcile({
      ledger: freshLedger(),
      tenants: [{ tenantId: tenantA, contentTypes: ['Audit.Exchange', 'Audit.Exchange'] }, { tenantId: tenantA, contentTypes: ['Audit.General', 'Audit.Exchange'] }],
      enqueue: async (m) => void sent.push(...m),
      now,
      logger,
    });
    assert.equal(sent.length, 1);
    assert.deepEqual(ReconcileMessage.parse(sent[0]).streams.map((s) => s.contentType).sort(), ['Audit.Exchange', 'Audit.General']);
  });
});

/** The rest of a batch's deps when every listing is empty: nothing to enqueue, nothing refused. */
const quietDeps = {
  enqueue: () => Promise.reject(new Error('nothing listed: nothing to enqueue')),
  deadLetter: { put: () => Promise.reject(new Error('nothing refused')), openSpan: () => { throw new Error('nothing refused'); } },
  now: () => new Date(),
  overlapMs: 30 * 60_000,
  initialLookbackMs: 24 * 3_600_000,
  logger: createLogger({ level: 'error' }),
  telemetry: recordingTelemetry(),
};

describe('reconcileBatch on the ledger (Azurite), with a listing that answers as told', () => {
  let azurite: RunningAzurite;
  before(async () => {
    azurite = await startAzurite({ blob: false, queue: false });
  });
  after(async () => {
    await azurite?.close();
  });

  /** Each content type's listing: fails at once with this error, or lists nothing after `delayMs` (or its own delay). */
  async function runBatch(failures: Partial<Record<ContentType, Error>>, options: { delayMs: number; behind?: readonly ContentType[]; delays?: Partial<Record<ContentType, number>> }) {
    const ledger = createTableLedger({ connectionString: azurite.connectionString, tableName: `batch${Math.random().toString(36).slice(2, 10)}` });
    const now = new Date();
    const streams = [];
    for (const contentType of contentTypes) {
      // 30 h behind: two windows, so a follow-up step.
      if (options.behind?.includes(contentType)) await ledger.setCursor(tenantA, contentType, new Date(now.getTime() - 30 * 3_600_000));
      assert.equal(await ledger.openPlan(tenantA, contentType, `plan-${contentType}`, now), true);
      streams.push({ contentType, planId: `plan-${contentType}`, step: 0 });
    }
    const followUps: ReconcileMessage[] = [];
    let slowListing = false;
    /** Follow-ups sent while a stream with its own delay was still listing. */
    let sentWhileSlowListing = 0;
    const finishedWhenReturned: ContentType[] = [];
    const report = await reconcileBatch({ tenantId: tenantA, until: new Date(Math.ceil(now.getTime() / 1000) * 1000).toISOString(), streams }, {
      ledger,
      async *listContent(_tenantId, contentType) {
        const failure = failures[contentType];
        if (failure !== undefined) throw failure;
        const own = options.delays?.[contentType];
        if (own !== undefined) slowListing = true;
        await new Promise((resolve) => setTimeout(resolve, own ?? options.delayMs));
        if (own !== undefined) slowListing = false;
        yield* [];
      },
      enqueueFollowUp: async (message) => {
        followUps.push(message);
        if (slowListing) sentWhileSlowListing++;
      },
      ...quietDeps,
    });
    for (const contentType of contentTypes) if ((await ledger.readPlan(tenantA, contentType)).plan?.step === 1) finishedWhenReturned.push(contentType);
    return { report, followUps, moved: finishedWhenReturned, sentWhileSlowListing };
  }

  it('a passing failure that comes first is reported only after the slower streams moved their plans', async () => {
    const { report, moved } = await runBatch({ 'Audit.SharePoint': apiError('AF50000') }, { delayMs: 300 });
    assert.deepEqual(report.retry.map((r) => r.contentType), ['Audit.SharePoint']);
    assert.deepEqual(report.refused, []);
    assert.deepEqual(moved.sort(), contentTypes.filter((c) => c !== 'Audit.SharePoint').sort());
    assert.deepEqual(report.steps.map((s) => s.outcome), ['listed', 'listed', 'listed', 'listed']);
  });

  it('refusals for good and passing failures are told apart; anything else is a passing failure', async () => {
    const { report, moved } = await runBatch({ 'DLP.All': apiError('AF20022'), 'Audit.General': apiError('AF50000'), 'Audit.Exchange': new TypeError('a bug') }, { delayMs: 50 });
    assert.deepEqual(report.refused.map((r) => [r.contentType, r.error.code]), [['DLP.All', 'AF20022']]);
    assert.deepEqual(report.retry.map((r) => r.contentType).sort(), ['Audit.Exchange', 'Audit.General']);
    assert.deepEqual(moved.sort(), ['Audit.AzureActiveDirectory', 'Audit.SharePoint']);
  });

  it('each stream\'s follow-up goes at once, a message of its own', async () => {
    // A slow stream must not hold the others' follow-ups back: an instance dying meanwhile would strand their plans.
    const { report, followUps, sentWhileSlowListing } = await runBatch({}, { delayMs: 0, behind: ['Audit.Exchange', 'DLP.All'], delays: { 'Audit.General': 400 } });
    assert.deepEqual([report.retry, report.refused], [[], []]);
    assert.equal(sentWhileSlowListing, 2);
    assert.deepEqual(followUps.map((m) => ReconcileMessage.parse(m).streams).sort((a, b) => a[0]!.contentType.localeCompare(b[0]!.contentType)), [
      [{ contentType: 'Audit.Exchange', planId: 'plan-Audit.Exchange', step: 1 }],
      [{ contentType: 'DLP.All', planId: 'plan-DLP.All', step: 1 }],
    ]);
  });
});

describe('a first step whose plan the timer did not open (it sends, then opens)', () => {
  it('opens its own plan and lists; a duplicate first step of its plan, or one while another plan is live, does nothing', async () => {
    const azurite = await startAzurite({ blob: false, queue: false });
    try {
      const ledger = createTableLedger({ connectionString: azurite.connectionString, tableName: 'sendfirst' });
      const at = new Date();
      // DLP.All: its plan ran and finished; Audit.SharePoint: another plan is live.
      assert.equal(await ledger.openPlan(tenantA, 'DLP.All', 'finished-plan', at), true);
      assert.equal(await ledger.advancePlan(tenantA, 'DLP.All', 'finished-plan', 0, at, true, at), true);
      assert.equal(await ledger.openPlan(tenantA, 'Audit.SharePoint', 'live-plan', at), true);
      const listed: ContentType[] = [];
      const report = await reconcileBatch({
        tenantId: tenantA,
        until: new Date(Math.ceil(at.getTime() / 1000) * 1000).toISOString(),
        streams: [
          { contentType: 'Audit.Exchange', planId: 'never-opened', step: 0 },
          { contentType: 'DLP.All', planId: 'finished-plan', step: 0 },
          { contentType: 'Audit.SharePoint', planId: 'late-plan', step: 0 },
        ],
      }, {
        ledger,
        async *listContent(_tenantId, contentType) {
          listed.push(contentType);
          yield* [];
        },
        enqueueFollowUp: () => Promise.reject(new Error('one window: no follow-up')),
        ...quietDeps,
      });
      assert.deepEqual([report.retry, report.refused], [[], []]);
      assert.deepEqual(listed, ['Audit.Exchange']);
      assert.deepEqual(Object.fromEntries(report.steps.map((r) => [r.contentType, r.outcome])), { 'Audit.Exchange': 'listed', 'DLP.All': 'stale', 'Audit.SharePoint': 'stale' });
      const opened = (await ledger.readPlan(tenantA, 'Audit.Exchange')).plan;
      assert.equal(opened?.planId, 'never-opened');
      assert.ok(opened?.finishedAt, 'opened by its first step and finished (one window)');
      // The timer's own open, arriving after its step already ran, must not open the finished plan again.
      assert.equal(await ledger.openPlan(tenantA, 'Audit.Exchange', 'never-opened', new Date()), false);
      assert.ok((await ledger.readPlan(tenantA, 'Audit.Exchange')).plan?.finishedAt, 'still finished: the stream is free for the next run');
      assert.equal((await ledger.readPlan(tenantA, 'Audit.SharePoint')).plan?.planId, 'live-plan', 'the live plan is left alone');
    } finally {
      await azurite.close();
    }
  });
});

describe('a tenant\'s batch through the local host', () => {
  const tenants = ['55555555-5555-4555-8555-555555555555', '66666666-6666-4666-8666-666666666666', '77777777-7777-4777-8777-777777777777', '88888888-8888-4888-8888-888888888888'];
  const clientId = '676e8273-3c93-4205-910f-614bb4396a55';
  const clientSecret = 'batch-test-secret-value-0123456789';
  const telemetry = recordingTelemetry();
  let stack: LocalStack;
  let ledger: TableLedger;
  let seed = 1;

  const settle = () => stack.host.idle({ timeoutMs: 90_000 });
  const listings = (tenantId: string, contentType: ContentType) =>
    stack.simulator.journal.filter((e) => e.direction === 'in' && e.tenantId === tenantId && e.path.endsWith('/subscriptions/content') && e.query['contentType'] === contentType).length;
  const listingsOf = (tenantId: string) => new Map(contentTypes.map((ct) => [ct, listings(tenantId, ct)]));
  /** A blob whose notification never comes: only the reconciler can find it. */
  async function unannounced(tenantId: string, contentType: ContentType): Promise<{ content: PublishedContent; ids: string[] }> {
    const ids = [`b${seed++}`, `b${seed++}`];
    const records = ids.map((Id) => ({ Id, CreationTime: new Date().toISOString().slice(0, 19), Operation: 'FileAccessed', OrganizationId: tenantId, RecordType: 6, UserId: 'u@example.com', UserType: 0, Workload: 'SharePoint' }));
    return { content: await stack.simulator.publish(tenantId, contentType, records), ids };
  }
  const delivered = async (tenantId: string, blob: { content: PublishedContent; ids: string[] }) =>
    (await sinkRecordIds(stack.blobs, expectedSinkBlobName(tenantId, blob.content)))?.join(',') === blob.ids.join(',') &&
    (await ledger.get({ tenantId, contentId: blob.content.contentId }))?.state === 'delivered';
  const queue = (name: string) => new QueueClient(stack.azurite.connectionString, name);
  const poisoned = async () => (await queue(`${reconcileQueueName}-poison`).peekMessages({ numberOfMessages: 32 }).catch(() => ({ peekedMessageItems: [] }))).peekedMessageItems;

  before(async () => {
    stack = await startLocalStack({
      port: 0,
      // The compiled app (not the bundle) shares this process's modules, so the test can hand the services a
      // recording telemetry. Retries at once (visibilityTimeout 0), poison after 3.
      appPath: path.join(repoRoot, 'dist', 'functions', 'index.js'),
      hostJsonPath: path.join(repoRoot, 'test', 'support', 'relay-e2e-host.json'),
      overrides: {
        O365_TENANT_ID: tenants.join(','),
        O365_CLIENT_ID: clientId,
        O365_CLIENT_SECRET: clientSecret,
        O365_RECONCILE_SCHEDULE: '0 0 0 1 1 *', // fired by the test
        O365_BLOB_FORMAT: 'json',
        O365_LOG_LEVEL: process.env.BATCH_LOG_LEVEL ?? 'error',
      },
      simulator: { tenants: tenants.map((tenantId) => ({ tenantId, apps: [{ clientId, clientSecret }] })) },
      logger: createLogger({ level: process.env.BATCH_LOG_LEVEL === 'info' ? 'info' : 'error' }),
    });
    relayServices().telemetry = telemetry;
    ledger = createTableLedger({ connectionString: stack.azurite.connectionString });
    await stack.host.fireTimer('subscriptionKeeper');
    await settle();
    stack.simulator.faults.dropNotifications = 1;
  });
  after(async () => {
    await stack?.close();
  });

  it('one stream the API refuses for good among four good ones: the four listed and advanced in the same pass, the failure counted', async () => {
    const [tenantId] = tenants as [string];
    const refusedType: ContentType = 'DLP.All';
    stack.simulator.disableSubscription(tenantId, refusedType);
    const blobs = new Map<ContentType, Awaited<ReturnType<typeof unannounced>>>();
    for (const contentType of contentTypes) blobs.set(contentType, await unannounced(tenantId, contentType));
    const before = listingsOf(tenantId);
    telemetry.metrics.length = 0;
    await stack.host.fireTimer('reconciler');
    await settle();
    for (const contentType of contentTypes) {
      const plan = (await ledger.readPlan(tenantId, contentType)).plan;
      assert.equal(listings(tenantId, contentType) - before.get(contentType)!, 1, `${contentType}: listed once, not retried`);
      if (contentType === refusedType) {
        assert.deepEqual([plan?.step, plan?.finishedAt], [0, undefined], 'the refused stream\'s plan waits to expire');
        assert.equal(await delivered(tenantId, blobs.get(contentType)!), false);
      } else {
        assert.ok(plan?.finishedAt, `${contentType}: plan finished`);
        assert.ok(await delivered(tenantId, blobs.get(contentType)!), `${contentType}: delivered`);
      }
    }
    assert.equal(telemetry.total('reconciler.failed'), 1);
    assert.equal(telemetry.total('reconciler.failed', { tenantId, contentType: refusedType, code: 'AF20023' }), 1);
    assert.deepEqual(await poisoned(), [], 'a refusal is not a poison message');
  });

  it('a passing failure of one stream has the host retry the message; the streams that finished are not listed again', async () => {
    const [, tenantId] = tenants as [string, string];
    const failing: ContentType = 'Audit.SharePoint';
    const blobs = new Map<ContentType, Awaited<ReturnType<typeof unannounced>>>();
    for (const contentType of contentTypes) blobs.set(contentType, await unannounced(tenantId, contentType));
    // Every attempt the client makes in one invocation fails: only a second delivery of the message can list it.
    stack.simulator.faults.listingErrors = { tenantId, contentType: failing, remaining: defaultRetryPolicy.maxAttempts, status: 503 };
    const before = listingsOf(tenantId);
    telemetry.metrics.length = 0;
    await stack.host.fireTimer('reconciler');
    await settle();
    assert.equal(stack.simulator.faults.listingErrors.remaining, 0);
    for (const contentType of contentTypes) {
      const expected: number = contentType === failing ? defaultRetryPolicy.maxAttempts + 1 : 1;
      assert.equal(listings(tenantId, contentType) - before.get(contentType)!, expected, `${contentType}: listed ${expected} time(s)`);
      const plan = (await ledger.readPlan(tenantId, contentType)).plan;
      assert.deepEqual([plan?.step, plan?.finishedAt !== undefined], [1, true], `${contentType}: one step, finished`);
      assert.ok(await delivered(tenantId, blobs.get(contentType)!), `${contentType}: delivered`);
    }
    assert.equal(telemetry.total('reconciler.failed'), 0, 'a passing failure is retried, not counted as refused');
    assert.deepEqual(await poisoned(), []);
  });

  it('a stream with more windows sends its follow-up; the old single-stream message is still handled', async () => {
    const [, , tenantId] = tenants as [string, string, string];
    const behind: ContentType = 'Audit.Exchange';
    // 30 h behind: two windows, two steps (the follow-up a message of its own).
    await ledger.setCursor(tenantId, behind, new Date(Date.now() - 30 * 3_600_000));
    const old = await stack.simulator.publish(tenantId, behind, [{ Id: 'old-1', CreationTime: new Date(Date.now() - 28 * 3_600_000).toISOString().slice(0, 19), Operation: 'FileAccessed', OrganizationId: tenantId, RecordType: 6, UserId: 'u@example.com', UserType: 0, Workload: 'SharePoint' }], { contentCreated: new Date(Date.now() - 28 * 3_600_000) });
    const recent = await unannounced(tenantId, behind);
    const other = await unannounced(tenantId, 'Audit.General');
    assert.equal(await ledger.openPlan(tenantId, behind, 'legacy-a', new Date()), true);
    assert.equal(await ledger.openPlan(tenantId, 'Audit.General', 'legacy-b', new Date()), true);
    const send = (message: unknown) => queue(reconcileQueueName).sendMessage(Buffer.from(JSON.stringify(message)).toString('base64'));
    const at = new Date(Math.ceil(Date.now() / 1000) * 1000).toISOString();
    await send({ tenantId, contentType: behind, planId: 'legacy-a', step: 0, until: at });
    await send({ tenantId, contentType: 'Audit.General', planId: 'legacy-b', step: 0, until: at });
    await settle();
    assert.deepEqual((await ledger.readPlan(tenantId, behind)).plan?.step, 2, 'two steps: the follow-up was sent and handled');
    assert.ok((await ledger.readPlan(tenantId, behind)).plan?.finishedAt);
    assert.ok(await delivered(tenantId, { content: old, ids: ['old-1'] }), 'the first window\'s blob');
    assert.ok(await delivered(tenantId, recent), 'the second window\'s blob');
    assert.deepEqual((await ledger.readPlan(tenantId, 'Audit.General')).plan?.step, 1);
    assert.ok(await delivered(tenantId, other));
  });

  it('a message that is neither shape goes to the poison queue; the good message beside it is handled', async () => {
    const [, , , tenantId] = tenants as [string, string, string, string];
    const blob = await unannounced(tenantId, 'Audit.General');
    assert.equal(await ledger.openPlan(tenantId, 'Audit.General', 'good-plan', new Date()), true);
    const send = (message: unknown) => queue(reconcileQueueName).sendMessage(Buffer.from(JSON.stringify(message)).toString('base64'));
    await send({ tenantId, until: new Date().toISOString(), streams: [] });
    await send({ tenantId, until: new Date(Math.ceil(Date.now() / 1000) * 1000).toISOString(), streams: [{ contentType: 'Audit.General', planId: 'good-plan', step: 0 }] });
    await settle();
    assert.ok(await delivered(tenantId, blob));
    const poison = await poisoned();
    assert.equal(poison.length, 1);
    assert.deepEqual(JSON.parse(Buffer.from(poison[0]!.messageText, 'base64').toString('utf8')).streams, []);
  });
});
