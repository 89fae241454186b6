// The whole relay on loopback: the built bundle in the dev Functions host, Azurite and the API simulator
// (startLocalStack). Subscribe through the keeper (with the handshake), publish, and follow each blob through
// notification -> queue -> worker -> blob sink, and through the failure paths the issue lists.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BlobServiceClient } from '@azure/storage-blob';
import { contentTypes } from '../shared/api/content-types';
import { throttlePauseMs } from '../shared/api/budget-bucket';
import { defaultRetryPolicy } from '../shared/api/retry';
import { createLogger } from '../shared/log';
import { deadLetterContainerName } from '../shared/sinks/blob-dead-letter';
import { contentQueueName } from '../shared/state/content-queue';
import { createTableLedger, type TableLedger } from '../shared/state/table-ledger';
import { startLocalStack, type LocalStack } from '../dev/local-stack';
import { watchLoss } from '../dev/loss-watch';
import { generateRecords, seededRandom } from '../dev/record-generator';
import type { PublishedContent } from '../dev/simulator';
import { defaultFaults } from '../dev/simulator';
import { repoRoot } from './support/fixtures';
import { assertSubscribedWithHandshakes, blobNames, contentFetches, expectedSinkBlobName, notifiedContentIds, peekQueue, queueLength, sinkRecordIds } from './support/relay-observations';

const poisonQueueName = `${contentQueueName}-poison`;
const otherTenant = '9b0c4d7e-1f2a-4b3c-8d4e-5f6a7b8c9d0e';

let stack: LocalStack;
let ledger: TableLedger;
let seed = 100;
/** Every blob the sink should hold at the end, with its record ids. */
const expected = new Map<string, string[]>();

const records = (count: number, tenantId = stack.tenantId) => [...generateRecords(count, { seed: seed++ })].map((r) => ({ ...r, OrganizationId: tenantId }));
const idsOf = (recs: ReadonlyArray<Record<string, unknown>>) => recs.map((r) => String(r['Id']));
const sinkName = (content: PublishedContent) => expectedSinkBlobName(stack.tenantId, content);
async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !(await check()); await new Promise((resolve) => setTimeout(resolve, 25))) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
  }
}
const settle = async () => {
  await stack.simulator.flushNotifications();
  await stack.host.idle({ timeoutMs: 45_000 });
};
const entryState = async (contentId: string) => (await ledger.get({ tenantId: stack.tenantId, contentId }))?.state;
const postWebhook = (body: unknown, authId: string | undefined) =>
  fetch(`${stack.host.url}/api/notifications`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...(authId === undefined ? {} : { 'Webhook-AuthID': authId }) },
    body: JSON.stringify(body),
  });

async function publishAndDeliver(contentType: (typeof contentTypes)[number], count: number): Promise<{ content: PublishedContent; ids: string[] }> {
  const recs = records(count);
  const content = await stack.simulator.publish(stack.tenantId, contentType, recs);
  expected.set(sinkName(content), idsOf(recs));
  return { content, ids: idsOf(recs) };
}

before(async () => {
  stack = await startLocalStack({
    port: 0,
    hostJsonPath: path.join(repoRoot, 'test', 'support', 'relay-e2e-host.json'),
    overrides: {
      O365_BLOB_FORMAT: 'json',
      // The reconciler runs only when a test fires it (1 January at midnight is far enough).
      O365_RECONCILE_SCHEDULE: '0 0 0 1 1 *',
      O365_LOG_LEVEL: 'error',
    },
    simulator: { random: seededRandom(7), notifyRetryDelaysMs: [200, 400, 800] },
    logger: createLogger({ level: 'error' }),
  });
  ledger = createTableLedger({ connectionString: stack.azurite.connectionString });
});

after(async () => {
  await stack?.close();
});

describe('the relay end to end (dev host running the bundle)', () => {
  it('subscribes through the subscription keeper, with the validation handshake against the host', async () => {
    await stack.host.fireTimer('subscriptionKeeper');
    await stack.host.idle({ timeoutMs: 30_000 }); // the timer plans one o365-keep message per tenant
    assertSubscribedWithHandshakes(stack.simulator, stack.tenantId, stack.settings.O365_WEBHOOK_URL);
  });

  it('delivers every record of every published blob exactly once, at the blob path of its content', async () => {
    const published = [await publishAndDeliver('Audit.Exchange', 120), await publishAndDeliver('Audit.SharePoint', 40), await publishAndDeliver('DLP.All', 7)];
    await settle();
    for (const { content, ids } of published) {
      assert.deepEqual(await sinkRecordIds(stack.blobs, sinkName(content)), ids, content.contentId);
      assert.equal(await entryState(content.contentId), 'delivered');
      assert.equal(contentFetches(stack.simulator.journal, content.contentId).length, 1);
    }
    assert.ok(sinkName(published[0]!.content).startsWith(`${stack.tenantId}/Audit.Exchange/`));
  });

  it('refuses or drops forged notifications and fetches nothing for them', async () => {
    let otherHostRequests = 0;
    const otherHost: Server = createServer((_req, res) => {
      otherHostRequests++;
      res.end('[]');
    });
    await new Promise<void>((resolve) => otherHost.listen(0, '127.0.0.1', resolve));
    try {
      const otherOrigin = `http://127.0.0.1:${(otherHost.address() as AddressInfo).port}`;
      const authId = stack.settings.O365_WEBHOOK_AUTH_ID!;
      // A genuine blob whose only notification is the one this test sends, inside the forged batch.
      stack.simulator.faults.dropNotifications = 1;
      const genuine = await publishAndDeliver('Audit.General', 5);
      await stack.simulator.flushNotifications();
      stack.simulator.faults.dropNotifications = 0;

      const now = new Date();
      const forgedId = (n: number) => `${now.toISOString().replace(/\D/g, '').slice(0, 17)}00000${n}$forged$audit_general$Audit_General$na0034`;
      const item = (contentId: string, changes: Record<string, string> = {}) => ({
        tenantId: stack.tenantId,
        clientId: stack.settings.O365_CLIENT_ID,
        contentType: 'Audit.General',
        contentId,
        contentUri: `${stack.simulator.apiRoot(stack.tenantId)}/audit/${contentId}`,
        contentCreated: now.toISOString(),
        contentExpiration: new Date(now.getTime() + 7 * 86_400_000).toISOString(),
        ...changes,
      });
      const forged = [
        item(forgedId(1), { contentUri: `${otherOrigin}/api/v1.0/${stack.tenantId}/activity/feed/audit/${forgedId(1)}` }),
        item(forgedId(2), { contentUri: `${stack.simulator.apiRoot(otherTenant)}/audit/${forgedId(2)}` }),
        item(forgedId(3), { tenantId: otherTenant, contentUri: `${stack.simulator.apiRoot(otherTenant)}/audit/${forgedId(3)}` }),
        item(forgedId(4), { clientId: '11111111-2222-4333-8444-555555555555' }),
      ];
      const genuineItem = item(genuine.content.contentId, { contentCreated: genuine.content.contentCreated, contentExpiration: genuine.content.contentExpiration });

      const mixed = await postWebhook([...forged, genuineItem], authId);
      assert.equal(mixed.status, 200);
      assert.deepEqual(await mixed.json(), { accepted: 1, rejected: { contentUri: 2, tenant: 1, clientId: 1 } });

      const wrongAuth = await postWebhook([item(forgedId(5))], `${authId.slice(0, -1)}${authId.endsWith('x') ? 'y' : 'x'}`);
      assert.equal(wrongAuth.status, 401);
      const noAuth = await postWebhook([item(forgedId(6))], undefined);
      assert.equal(noAuth.status, 401);

      await settle();
      for (let n = 1; n <= 6; n++) {
        assert.deepEqual(contentFetches(stack.simulator.journal, forgedId(n)), [], `forged ${n} was fetched`);
        assert.equal(await entryState(forgedId(n)), undefined, `forged ${n} reached the ledger`);
      }
      assert.equal(otherHostRequests, 0);
      assert.deepEqual(await sinkRecordIds(stack.blobs, sinkName(genuine.content)), genuine.ids);
    } finally {
      otherHost.closeAllConnections();
      await new Promise<void>((resolve) => otherHost.close(() => resolve()));
    }
  });

  it('picks up content whose notification was dropped when the reconciler runs', async () => {
    stack.simulator.faults.dropNotifications = 1;
    const missed = await publishAndDeliver('Audit.AzureActiveDirectory', 30);
    await settle();
    stack.simulator.faults.dropNotifications = 0;
    assert.ok(!notifiedContentIds(stack.simulator.journal).includes(missed.content.contentId));
    assert.equal(await sinkRecordIds(stack.blobs, sinkName(missed.content)), undefined);

    await stack.host.fireTimer('reconciler');
    await settle();
    assert.deepEqual(await sinkRecordIds(stack.blobs, sinkName(missed.content)), missed.ids);
    assert.equal(await entryState(missed.content.contentId), 'delivered');
    const cursor = await ledger.getCursor(stack.tenantId, 'Audit.AzureActiveDirectory');
    assert.ok(cursor && cursor.getTime() >= Date.parse(missed.content.contentCreated));
  });

  it('sends records of another tenant to the dead letter, not to the sink', async () => {
    const own = records(6);
    const foreign = records(3, otherTenant);
    const content = await stack.simulator.publish(stack.tenantId, 'Audit.Exchange', [...own.slice(0, 3), ...foreign, ...own.slice(3)]);
    expected.set(sinkName(content), idsOf(own));
    await settle();
    assert.deepEqual(await sinkRecordIds(stack.blobs, sinkName(content)), idsOf(own));
    const container = BlobServiceClient.fromConnectionString(stack.azurite.connectionString).getContainerClient(deadLetterContainerName);
    const names = await blobNames(container, `relay/${stack.tenantId}/Audit.Exchange/${encodeURIComponent(content.contentId)}/`);
    assert.equal(names.length, 1);
    const lines = (await container.getBlockBlobClient(names[0]!).downloadToBuffer()).toString('utf8').trim().split('\n');
    assert.deepEqual(lines.map((l) => (JSON.parse(l) as { Id: string; OrganizationId: string }).Id), idsOf(foreign));
    assert.equal(await entryState(content.contentId), 'delivered');
  });

  it('marks a delivered blob in the ledger and does not write it again for a duplicate notification', async () => {
    stack.simulator.faults.duplicateNotifications = 1;
    const twice = await publishAndDeliver('Audit.SharePoint', 25);
    await settle();
    stack.simulator.faults.duplicateNotifications = 0;
    assert.equal(notifiedContentIds(stack.simulator.journal).filter((id) => id === twice.content.contentId).length, 2);
    const blob = stack.blobs.getBlockBlobClient(sinkName(twice.content));
    const firstEtag = (await blob.getProperties()).etag;

    // The API repeats a notification in a later batch (e.g. after a timeout): the ledger answers it.
    const item = { tenantId: stack.tenantId, clientId: stack.settings.O365_CLIENT_ID, ...twice.content };
    assert.equal((await postWebhook([item], stack.settings.O365_WEBHOOK_AUTH_ID)).status, 200);
    await settle();
    assert.equal(await entryState(twice.content.contentId), 'delivered');
    assert.equal(contentFetches(stack.simulator.journal, twice.content.contentId).length, 1);
    assert.equal((await blob.getProperties()).etag, firstEtag);
    assert.deepEqual(await sinkRecordIds(stack.blobs, sinkName(twice.content)), twice.ids);
  });

  it('records expired content as expired and does not retry it', async () => {
    // A notification whose contentExpiration has passed: nothing to fetch.
    const old = await stack.simulator.publish(stack.tenantId, 'Audit.General', records(4), { contentCreated: new Date(Date.now() - 7 * 86_400_000 - 60_000) });
    // Content the API says has expired (AF20051) when the worker asks for it.
    stack.simulator.faults.expiredContent = { remaining: 1 };
    const gone = await stack.simulator.publish(stack.tenantId, 'Audit.General', records(4));
    await settle();
    assert.equal(stack.simulator.faults.expiredContent.remaining, 0);
    assert.equal(await entryState(old.contentId), 'expired');
    assert.deepEqual(contentFetches(stack.simulator.journal, old.contentId), []);
    assert.equal(await entryState(gone.contentId), 'expired');
    assert.deepEqual(contentFetches(stack.simulator.journal, gone.contentId).map((e) => e.status), [400]);
    assert.equal(await sinkRecordIds(stack.blobs, sinkName(gone)), undefined);
    assert.deepEqual(await peekQueue(stack.azurite.connectionString, poisonQueueName), []);
  });

  it('ends a content body that is not a record array in the poison queue after maxDequeueCount attempts', async () => {
    // Why the cast: the simulator serves whatever JSON it is given; this body is deliberately not an array.
    const content = await stack.simulator.publish(stack.tenantId, 'Audit.Exchange', { value: 'not records' } as unknown as unknown[]);
    await settle();
    const poisoned = await peekQueue(stack.azurite.connectionString, poisonQueueName);
    assert.equal(poisoned.length, 1);
    assert.equal((JSON.parse(poisoned[0]!) as { contentId: string }).contentId, content.contentId);
    assert.equal(contentFetches(stack.simulator.journal, content.contentId).length, 3); // host.json maxDequeueCount
    assert.equal(await sinkRecordIds(stack.blobs, sinkName(content)), undefined);
    assert.notEqual(await entryState(content.contentId), 'delivered');
  });

  it('delivers the good records of a blob with one element that is not a record, and keeps that one in the dead letter', async () => {
    const recs = records(30);
    const texts = recs.map((r) => JSON.stringify(r));
    texts.splice(17, 0, '{"Id":"odd","Size":NaN}');
    const content = await stack.simulator.publishRaw(stack.tenantId, 'Audit.Exchange', `[${texts.join(',')}]`);
    expected.set(sinkName(content), idsOf(recs));
    await settle();
    assert.deepEqual(await sinkRecordIds(stack.blobs, sinkName(content)), idsOf(recs));
    assert.equal(await entryState(content.contentId), 'delivered-with-problems');
    const deadLetter = BlobServiceClient.fromConnectionString(stack.azurite.connectionString).getContainerClient(deadLetterContainerName);
    const spans = [];
    for await (const blob of deadLetter.listBlobsFlat({ prefix: `relay/${stack.tenantId}/Audit.Exchange/${encodeURIComponent(content.contentId)}/` })) spans.push(blob.name);
    assert.equal(spans.length, 1);
    assert.equal((await deadLetter.getBlockBlobClient(spans[0]!).downloadToBuffer()).toString(), '{"Id":"odd","Size":NaN}');
  });

  it('re-enqueues with a delay on waiting failures (cut JSON, a dropped download, throttling), and the blobs still arrive', async () => {
    const journal = () => stack.simulator.journal;
    // A body cut short with a Content-Length that matches it: the records before the cut are good, the rest comes
    // with the next fetch; never dead-lettered, never poisoned.
    stack.simulator.faults.truncateContent = { remaining: 1, mode: 'cut-json' };
    const cut = await publishAndDeliver('Audit.SharePoint', 300);
    await stack.simulator.flushNotifications();
    await waitFor('the cut download is handed back', async () => {
      const entry = await ledger.get({ tenantId: stack.tenantId, contentId: cut.content.contentId });
      return entry !== undefined && entry.attempts === 1 && entry.claim === null;
    });
    // A connection dropped mid-body: a transient failure, so the worker waits and tries again later.
    stack.simulator.faults.truncateContent = { remaining: 1, mode: 'abort' };
    const dropped = await publishAndDeliver('Audit.SharePoint', 300);
    await stack.simulator.flushNotifications();
    await waitFor('the dropped download is handed back', async () => {
      const entry = await ledger.get({ tenantId: stack.tenantId, contentId: dropped.content.contentId });
      return entry !== undefined && entry.attempts === 1 && entry.claim === null;
    });
    assert.equal(contentFetches(journal(), dropped.content.contentId).length, 1);
    // AF429 as documented (403, no Retry-After), more times in a row than the client retries in-process. Both
    // waits overlap: the dropped blob's re-enqueued message is already waiting.
    stack.simulator.faults.throttle = { remaining: defaultRetryPolicy.maxAttempts, status: 403 };
    const throttled = await publishAndDeliver('Audit.Exchange', 15);
    await stack.simulator.flushNotifications();
    await stack.host.idle({ timeoutMs: 60_000 });
    stack.simulator.faults.throttle = defaultFaults().throttle;

    // Each AF429 pauses the tenant's shared budget (10 s without Retry-After) for every caller, so the in-process
    // retries are spaced by the pause and the invocation's deadline ends them sooner; the throttles left over meet
    // whichever fetches come next (the cut and dropped blobs' second tries too). Every fetch after a throttle
    // waited out the pause, and each blob ends with a 200.
    const endsWell = (statuses: number[]) => statuses.length >= 1 && statuses.at(-1) === 200 && statuses.slice(0, -1).every((x) => x === 403);
    const retries = [
      contentFetches(journal(), throttled.content.contentId),
      ...[cut, dropped].map(({ content }) => {
        const fetches = contentFetches(journal(), content.contentId);
        assert.equal(fetches[0]?.status, 200, 'the cut or dropped body');
        return fetches.slice(1);
      }),
    ];
    for (const fetches of retries) assert.ok(endsWell(fetches.map((e) => e.status)), fetches.map((e) => e.status).join(','));
    const throttles = retries.flat().filter((e) => e.status === 403).length;
    assert.ok(throttles >= 1 && throttles <= defaultRetryPolicy.maxAttempts, `${throttles} throttled fetches`);
    // (Fetches of other blobs already sent when a throttle came back may land inside its pause: in flight.)
    for (const fetches of retries) {
      for (let i = 1; i < fetches.length; i++) {
        const gapMs = Date.parse(fetches[i]!.time) - Date.parse(fetches[i - 1]!.time);
        assert.ok(gapMs >= throttlePauseMs(undefined) - 50, `a fetch came ${gapMs} ms after its own throttle, inside the tenant's pause`);
      }
    }
    for (const { content, ids } of [cut, dropped, throttled]) {
      assert.deepEqual(await sinkRecordIds(stack.blobs, sinkName(content)), ids);
      const entry = await ledger.get({ tenantId: stack.tenantId, contentId: content.contentId });
      assert.equal(entry?.state, 'delivered');
      // The cut and dropped blobs: the failed invocation and the re-enqueued one, plus one per re-try the leftover
      // throttles sent back; the throttled blob may get through in its first invocation once the pause ends.
      const least = content === throttled.content ? 1 : 2;
      assert.ok((entry?.attempts ?? 0) >= least && (entry?.attempts ?? 0) <= 2 + throttles, `${entry?.attempts} attempts`);
    }
  });

  it("tells npm start's loss watch, once each, about every loss so far with its reason", async () => {
    const lines: string[] = [];
    const watch = watchLoss(stack.azurite.connectionString, (line) => lines.push(line));
    await watch.poll();
    await watch.poll(); // a second look repeats nothing
    const count = (prefix: string) => lines.filter((l) => l.startsWith(prefix)).length;
    assert.equal(count('[dead letter] 3 record(s) of Audit.Exchange'), 1, lines.join('\n'));
    assert.ok(lines.some((l) => l.startsWith('[dead letter]') && l.includes('OrganizationId differs')), lines.join('\n'));
    assert.equal(count('[expired] Audit.General'), 2, lines.join('\n'));
    assert.equal(count('[poisoned] content message Audit.Exchange'), 1, lines.join('\n'));
    assert.ok(!lines.join('\n').includes(stack.settings.O365_CLIENT_SECRET!), 'no secret in what npm start prints');
  });

  it('leaves the sink holding exactly the expected blobs, and no queue work behind', async () => {
    assert.deepEqual(await blobNames(stack.blobs), [...expected.keys()].sort());
    for (const [name, ids] of expected) assert.deepEqual(await sinkRecordIds(stack.blobs, name), ids, name);
    assert.equal(await queueLength(stack.azurite.connectionString, contentQueueName), 0);
  });
});
