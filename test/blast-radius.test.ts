// One odd item costs only itself, at every stage of the data path, through the real path: the Functions host running
// the bundle, the API simulator, Azurite, and an HTTPS JSON collector beside the blob sink. For each stage (listing
// page, notification batch, content blob, record, sink batch), good items and one odd item of the catalogue
// (test/support/odd-items.ts) at a random position: the good ones arrive in the same pass, exactly once at each sink
// (no other fault is injected), and the odd one is counted and recorded where it belongs. CI: every odd kind once;
// the long profile (npm run test:chaos): three rounds with other positions.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import type { ContentType } from '../shared/api/content-types';
import { startLocalStack, type LocalStack } from '../dev/local-stack';
import { generateRecords, seededRandom } from '../dev/record-generator';
import { createLogger } from '../shared/log';
import { refusedKept } from '../shared/pipeline/refused-count';
import { createBlobDeadLetter, deadLetterContainerName } from '../shared/sinks/blob-dead-letter';
import type { DeadLetterEntry } from '../shared/sinks/dead-letter';
import { contentQueueName } from '../shared/state/content-queue';
import { createTableLedger, type TableLedger } from '../shared/state/table-ledger';
import { repoRoot } from './support/fixtures';
import { oddElements, oddListingItems, oddNotifications, oddRecords } from './support/odd-items';
import { contentFetches, peekQueue } from './support/relay-observations';
import { eventId, startReceiver, type Receiver } from './support/siem-receiver';
import { byProfile } from './support/suite-profile';

const rounds = byProfile({ ci: 1, long: 3 });
const maxRecordBytes = 2 * 1024 * 1024; // above the odd records' 1 MB value and 100,000-deep text
const siemToken = 'blast-radius-collector-token-0123456789';
const otherTenant = '0b7d2c11-4a3e-4f5b-9c8d-112233445566';

let stack: LocalStack;
let ledger: TableLedger;
let receiver: Receiver;
let deadLetters: ContainerClient;
const random = seededRandom(2026);
let seed = 1;
/** Record ids every sink must hold exactly once at the end, and those only the blob sink holds (the collector refused them). */
const expectedEverywhere = new Set<string>();
const refusedByCollector = new Set<string>();

const records = (count: number): Array<Record<string, unknown>> => [...generateRecords(count, { seed: seed++ })].map((r) => ({ ...r, OrganizationId: stack.tenantId }));
const idsOf = (recs: ReadonlyArray<Record<string, unknown>>) => recs.map((r) => String(r['Id']));
const at = (length: number) => Math.floor(random() * (length + 1));
const insert = <T>(items: readonly T[], odd: T, position: number) => [...items.slice(0, position), odd, ...items.slice(position)];
const settle = async () => {
  await stack.simulator.flushNotifications();
  await stack.host.idle({ timeoutMs: 45_000 });
};
const entry = (contentId: string) => ledger.get({ tenantId: stack.tenantId, contentId });
/** The refused items the stream's row counts (what health shows). */
const refusedOfStream = async (contentType: ContentType) => refusedKept(await ledger.getStream(stack.tenantId, contentType), new Date());
/** A contentId shaped like `real` that the simulator never published (its first serial changed). */
const unpublishedId = (real: string, n: number) => real.replace(/^\d+/, `9${String(n).padStart(22, '0')}`);

async function deadLetterEntries(sink: string): Promise<DeadLetterEntry[]> {
  const entries: DeadLetterEntry[] = [];
  for await (const e of createBlobDeadLetter(deadLetters).list({ sink })) entries.push(e);
  return entries;
}

/** Every record id at the blob sink (json format), with repeats. */
async function blobSinkIds(): Promise<string[]> {
  const ids: string[] = [];
  for await (const blob of stack.blobs.listBlobsFlat()) {
    const text = (await stack.blobs.getBlockBlobClient(blob.name).downloadToBuffer()).toString('utf8');
    for (const line of text.split('\n')) if (line.trim() !== '') ids.push(String((JSON.parse(line) as { id: unknown }).id));
  }
  return ids;
}

/** Publishes good blobs whose notifications never come (the reconciler or a hand-made notification announces them). */
async function publishUnannounced(contentType: ContentType, blobs: number, perBlob: number) {
  stack.simulator.faults.dropNotifications = 1;
  try {
    const published = [];
    for (let i = 0; i < blobs; i++) {
      const recs = records(perBlob);
      published.push(await stack.simulator.publish(stack.tenantId, contentType, recs));
      for (const id of idsOf(recs)) expectedEverywhere.add(id);
    }
    await stack.simulator.flushNotifications();
    return published;
  } finally {
    stack.simulator.faults.dropNotifications = 0;
  }
}

before(async () => {
  receiver = await startReceiver({ protocol: 'json', token: siemToken, badEvent: (e) => refusedByCollector.has(eventId(e) ?? '') });
  stack = await startLocalStack({
    port: 0,
    hostJsonPath: path.join(repoRoot, 'test', 'support', 'relay-e2e-host.json'),
    overrides: {
      O365_RECONCILE_SCHEDULE: '0 0 0 1 1 *', // fired by the test
      O365_LOG_LEVEL: 'error',
      O365_MAX_RECORD_BYTES: String(maxRecordBytes),
      SIEM_TOKEN: siemToken,
      O365_SINKS: JSON.stringify([
        { kind: 'blob', name: 'archive', container: 'o365-audit', format: 'json' },
        { kind: 'https-json', name: 'collector', url: `${receiver.url}/in`, tokenSetting: 'SIEM_TOKEN' },
      ]),
    },
    simulator: { random: seededRandom(11), notifyRetryDelaysMs: [200, 400, 800] },
    logger: createLogger({ level: 'error' }),
  });
  ledger = createTableLedger({ connectionString: stack.azurite.connectionString });
  deadLetters = BlobServiceClient.fromConnectionString(stack.azurite.connectionString).getContainerClient(deadLetterContainerName);
  await stack.host.fireTimer('subscriptionKeeper');
  await stack.host.idle({ timeoutMs: 30_000 }); // the timer plans one o365-keep message per tenant
});

after(async () => {
  await stack?.close();
  await receiver?.close();
});

describe('blast radius: one odd item costs only itself', () => {
  it('listing page: the reconciler enqueues the good blobs, refuses the odd item once (ledger, dead letter) and advances', async () => {
    const recorded = new Set<string>();
    for (let round = 0; round < rounds; round++) {
      const sample = (await publishUnannounced('Audit.General', 1, 1))[0]!;
      for (const [n, odd] of oddListingItems(sample, otherTenant).entries()) {
        // Each odd item names its own contentId, one the API never published (a refused item is recorded by it).
        const text = odd.text.replaceAll(sample.contentId, unpublishedId(sample.contentId, round * 100 + n));
        const good = await publishUnannounced('Audit.General', 3, 5);
        const before = await refusedOfStream('Audit.General');
        // The item is listed among the good blobs at a random place in their creation order.
        const neighbour = good[Math.min(at(good.length), good.length - 1)]!;
        stack.simulator.injectListingText(stack.tenantId, 'Audit.General', text, { contentCreated: new Date(neighbour.contentCreated) });
        await stack.host.fireTimer('reconciler');
        await settle();
        for (const content of good) assert.equal((await entry(content.contentId))?.state, 'delivered', `${odd.kind}: a good blob beside it`);
        // Recorded once: an item listed before (same contentId, or the same raw JSON when it has none) is not new.
        const isNew = !recorded.has(text);
        recorded.add(text);
        assert.equal(await refusedOfStream('Audit.General'), before + (isNew ? 1 : 0), `${odd.kind}: refused once`);
        const cursor = await ledger.getCursor(stack.tenantId, 'Audit.General');
        assert.ok(cursor && cursor.getTime() >= Date.parse(good.at(-1)!.contentCreated), `${odd.kind}: the cursor advanced`);
      }
      // The overlap lists every odd item again: no second record.
      const refused = await refusedOfStream('Audit.General');
      await stack.host.fireTimer('reconciler');
      await settle();
      assert.equal(await refusedOfStream('Audit.General'), refused);
    }
    const kept = (await deadLetterEntries('relay')).filter((e) => e.content.contentType === 'Audit.General');
    assert.equal(kept.length, recorded.size, 'each refused item kept once in the dead letter, with its raw text');
  });

  it('notification batch: the good items are queued and delivered, the odd one is counted and never fetched', async () => {
    for (let round = 0; round < rounds; round++) {
      const template = await publishUnannounced('Audit.Exchange', 1, 1);
      const base = { tenantId: stack.tenantId, clientId: stack.settings.O365_CLIENT_ID!, ...template[0]! };
      const neverPublished = unpublishedId(base.contentId, 1000 + round);
      const oddBase = { ...base, contentId: neverPublished, contentUri: base.contentUri.replace(base.contentId, neverPublished) };
      for (const odd of oddNotifications(oddBase, otherTenant)) {
        const good = await publishUnannounced('Audit.Exchange', 3, 5);
        const items = good.map((c) => ({ tenantId: stack.tenantId, clientId: stack.settings.O365_CLIENT_ID!, ...c }));
        const answer = await fetch(`${stack.host.url}/api/notifications`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'Webhook-AuthID': stack.settings.O365_WEBHOOK_AUTH_ID! },
          body: `[${insert(items.map((i) => JSON.stringify(i)), odd.text, at(items.length)).join(',')}]`,
        });
        const body = (await answer.json()) as { accepted?: number; rejected?: Record<string, number> };
        assert.equal(answer.status, 200, odd.kind);
        assert.equal(body.accepted, good.length, `${odd.kind}: every good item queued`);
        assert.equal(Object.values(body.rejected ?? {}).reduce((a, b) => a + b, 0), 1, `${odd.kind}: counted once`);
        await settle();
        for (const content of good) assert.equal((await entry(content.contentId))?.state, 'delivered', `${odd.kind}: a good blob beside it`);
        assert.deepEqual(contentFetches(stack.simulator.journal, neverPublished), [], `${odd.kind}: never fetched`);
      }
      // The template blob was never announced: the reconciler's listing brings it (its records are expected too).
      await stack.host.fireTimer('reconciler');
      await settle();
      assert.equal((await entry(template[0]!.contentId))?.state, 'delivered');
    }
  });

  it('content blob: the good records of a blob with one element that is not a record are delivered; the span is dead-lettered with its offset', async () => {
    for (let round = 0; round < rounds; round++) {
      for (const odd of oddElements(maxRecordBytes + 1024)) {
        const recs = records(12);
        for (const id of idsOf(recs)) expectedEverywhere.add(id);
        const position = at(recs.length);
        const text = `[${insert(recs.map((r) => JSON.stringify(r)), odd.text, position).join(',\n')}]`;
        const content = await stack.simulator.publishRaw(stack.tenantId, 'Audit.SharePoint', text);
        await settle();
        const state = await entry(content.contentId);
        assert.equal(state?.state, 'delivered-with-problems', `${odd.kind}: ${state?.detail}`);
        const spans = (await deadLetterEntries('relay')).filter((e) => e.content.contentId === content.contentId);
        assert.equal(spans.length, 1, `${odd.kind}: one dead-letter entry`);
        const offset = Buffer.byteLength(`[${recs.slice(0, position).map((r) => JSON.stringify(r) + ',\n').join('')}`);
        assert.match(spans[0]!.reason, new RegExp(`\\b${offset}\\b`), `${odd.kind}: the reason names byte ${offset}`);
      }
    }
  });

  it('record: a record with odd values is still a record: decoded, flagged and delivered with the others', async () => {
    for (let round = 0; round < rounds; round++) {
      for (const odd of oddRecords(records(1)[0]!, `r${round}`)) {
        const recs = records(10);
        const text = `[${insert(recs.map((r) => JSON.stringify(r)), odd.text, at(recs.length)).join(',')}]`;
        const content = await stack.simulator.publishRaw(stack.tenantId, 'Audit.AzureActiveDirectory', text);
        for (const id of [...idsOf(recs), odd.id]) expectedEverywhere.add(id);
        await settle();
        assert.equal((await entry(content.contentId))?.state, 'delivered', odd.kind);
      }
    }
  });

  it('sink batch: the collector refuses one event; only that event is dead-lettered for it, every other one arrives', async () => {
    for (let round = 0; round < rounds; round++) {
      const recs = records(40);
      const bad = String(recs[at(recs.length - 1)]!['Id']);
      refusedByCollector.add(bad);
      for (const id of idsOf(recs)) expectedEverywhere.add(id);
      const content = await stack.simulator.publish(stack.tenantId, 'DLP.All', recs);
      await settle();
      assert.equal((await entry(content.contentId))?.state, 'delivered');
      const kept = (await deadLetterEntries('collector')).filter((e) => e.content.contentId === content.contentId);
      const events = (await Promise.all(kept.map((e) => createBlobDeadLetter(deadLetters).read(e)))).flat() as Array<{ Id?: string }>;
      assert.deepEqual(events.map((e) => e.Id), [bad]);
    }
  });

  it('every good record reached the blob sink exactly once and the collector exactly once (but the events it refused); nothing poisoned', async () => {
    const counts = (ids: readonly string[]) => ids.reduce((m, id) => m.set(id, (m.get(id) ?? 0) + 1), new Map<string, number>());
    const expected = [...expectedEverywhere];
    const atBlob = counts(await blobSinkIds());
    const atCollector = counts(receiver.accepted.map((e) => eventId(e) ?? '(no id)'));
    for (const id of expected) {
      assert.ok((atBlob.get(id) ?? 0) >= 1, `blob sink misses ${id}`);
      if (!refusedByCollector.has(id)) assert.ok((atCollector.get(id) ?? 0) >= 1, `collector misses ${id}`);
      else assert.equal(atCollector.get(id), undefined, `the collector kept the refused ${id}`);
    }
    for (const [id, n] of atBlob) assert.equal(n, 1, `blob sink holds ${id} ${n} times`);
    for (const [id, n] of atCollector) assert.equal(n, 1, `collector holds ${id} ${n} times`);
    assert.equal(atBlob.size, expected.length, 'the blob sink holds nothing unexpected');
    assert.deepEqual(await peekQueue(stack.azurite.connectionString, `${contentQueueName}-poison`), []);
  });
});
