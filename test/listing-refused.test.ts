// One odd listed item costs only itself. Pure: the per-item verdict on a catalogue of odd items and harmless
// spellings, and the key a refused item is recorded under. Real path: the reconciler with the real client (real
// @azure/identity client-secret credential through the simulator's token endpoint, real HTTPS), the ledger, the
// content queue and the dead letter on in-process Azurite, over a listing of good blobs with one odd item of each
// kind at a random position: every good item enqueued, the cursor advanced, each odd one refused once.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueClient } from '@azure/storage-queue';
import fc from 'fast-check';
import { startAzurite, type RunningAzurite } from '../dev/azurite';
import { simulatorClientSettings, startSimulator, type Simulator } from '../dev/simulator';
import type { ManagementClient } from '../shared/api/client';
import { createClientFromSettings } from '../shared/api/from-settings';
import { classifyListedItem, describeRefused } from '../shared/api/listed-item';
import { ContentItem, NotificationItem } from '../shared/api/schemas';
import { parseSettings } from '../shared/config';
import { createLogger } from '../shared/log';
import { ContentMessage } from '../shared/pipeline/content-message';
import { reconcileStream, type ReconcileDeps } from '../shared/pipeline/reconcile';
import { refusedKept } from '../shared/pipeline/refused-count';
import { hashedKeyPrefix, jsonText, refusalKey, refusedEntry } from '../shared/pipeline/refused-listing';
import { createBlobDeadLetter } from '../shared/sinks/blob-dead-letter';
import type { DeadLetterEntry } from '../shared/sinks/dead-letter';
import { createContentQueue } from '../shared/state/content-queue';
import { createTableLedger } from '../shared/state/table-ledger';
import { recordingTelemetry } from '../shared/telemetry';

const tenantId = '3e1a9b42-f5fb-49f0-ad1b-05d97491bc66';
const otherTenant = '0b7d2c11-4a3e-4f5b-9c8d-112233445566';
const clientId = '676e8273-3c93-4205-910f-614bb4396a55';
const clientSecret = 'listing-refused-secret-9f2c';
const origin = 'https://manage.office.com';
const realId = (n: number) => `20241125140000123${String(n).padStart(6, '0')}$20241125140000123${String(n).padStart(6, '0')}$audit_exchange$Audit_Exchange$emea0026`;

/** A well-formed listing item for `apiOrigin` (the API's own spelling). */
function goodItem(apiOrigin: string, contentId: string, created = '2024-11-25T14:00:00.123Z') {
  return {
    contentType: 'Audit.Exchange',
    contentId,
    contentUri: `${apiOrigin}/api/v1.0/${tenantId}/activity/feed/audit/${contentId}`,
    contentCreated: created,
    contentExpiration: '2024-12-02T14:00:00.123Z',
  };
}

function deeplyNested(depth: number): unknown {
  let value: unknown = [];
  for (let i = 0; i < depth - 1; i++) value = [value];
  return value;
}
/** 5,000 levels: deeper than JSON.stringify goes. */
const deep = deeplyNested(5000);

/** Every kind of odd item, with a piece of the reason it must be refused for. */
function oddCatalogue(apiOrigin: string, id: (n: number) => string) {
  const base = (n: number) => goodItem(apiOrigin, id(n));
  const { contentUri: _u, ...withoutUri } = base(3);
  return [
    { kind: 'null', raw: null, reason: /not an object \(null\)/ },
    { kind: 'bare number', raw: 42, reason: /not an object \(number\)/ },
    { kind: 'string', raw: 'Audit.Exchange', reason: /not an object \(string\)/ },
    { kind: 'array', raw: [base(1)], reason: /not an object \(an array\)/ },
    { kind: '5,000-deep nesting', raw: deep, reason: /not an object \(an array\)/ },
    { kind: 'missing field', raw: withoutUri, reason: /missing or unreadable contentUri/ },
    { kind: 'wrong type', raw: { ...base(4), contentId: 17 }, reason: /missing or unreadable contentId/ },
    { kind: 'bad contentCreated', raw: { ...base(5), contentCreated: '1 2 3' }, reason: /missing or unreadable contentCreated/ },
    { kind: 'bad contentExpiration', raw: { ...base(6), contentExpiration: 'March 7, 2024' }, reason: /missing or unreadable contentExpiration/ },
    { kind: 'impossible date', raw: { ...base(7), contentCreated: '2024-02-30T10:00:00Z' }, reason: /missing or unreadable contentCreated/ },
    { kind: 'another contentType', raw: { ...base(8), contentType: 'Audit.SharePoint' }, reason: /another contentType/ },
    { kind: 'prototype name', raw: { ...base(9), contentType: '__proto__' }, reason: /another contentType/ },
    { kind: 'another origin', raw: { ...base(10), contentUri: `https://evil.example/api/v1.0/${tenantId}/activity/feed/audit/${id(10)}` }, reason: /not on the API origin/ },
    { kind: 'origin look-alike', raw: { ...base(11), contentUri: `${apiOrigin}.evil.example/api/v1.0/${tenantId}/activity/feed/audit/${id(11)}` }, reason: /not on the API origin/ },
    { kind: 'another tenant', raw: { ...base(12), contentUri: `${apiOrigin}/api/v1.0/${otherTenant}/activity/feed/audit/${id(12)}` }, reason: /names another tenant/ },
    { kind: 'contentId mismatch', raw: { ...base(13), contentUri: `${apiOrigin}/api/v1.0/${tenantId}/activity/feed/audit/${id(99)}` }, reason: /names another contentId/ },
    { kind: 'contentId naming another type', raw: { ...base(15), contentId: id(15).replace('audit_exchange$Audit_Exchange', 'audit_sharepoint$Audit_SharePoint'), contentUri: `${apiOrigin}/api/v1.0/${tenantId}/activity/feed/audit/${id(15).replace('audit_exchange$Audit_Exchange', 'audit_sharepoint$Audit_SharePoint')}` }, reason: /names Audit\.SharePoint, not the item's Audit\.Exchange/ },
    { kind: 'unsafe contentId', raw: { ...base(14), contentId: '../../x', contentUri: `${apiOrigin}/api/v1.0/${tenantId}/activity/feed/audit/../../x` }, reason: /contentUri/ },
  ];
}

/** Spellings that change nothing the relay uses (it rebuilds the URL from the contentId): accepted. */
function harmlessVariants(apiOrigin: string, id: (n: number) => string) {
  return [
    { ...goodItem(apiOrigin, id(50)), contentUri: `${apiOrigin}/api/v1/${tenantId}/activity/feed/audit/${id(50)}` },
    { ...goodItem(apiOrigin, id(51)), contentUri: `${apiOrigin}/API/V1.0/${tenantId.toUpperCase()}/Activity/Feed/Audit/${id(51)}` },
    { ...goodItem(apiOrigin, id(52)), contentUri: `${apiOrigin}/api/v1.0/${tenantId}/activity/feed/audit/${id(52)}?PublisherIdentifier=${tenantId}` },
    { ...goodItem(apiOrigin, id(53)), contentCreated: '2024-11-25T14:00:00.1234567', contentExpiration: '2024-12-02T14:00:00', extra: { unknown: true } },
  ];
}

const expected = { apiOrigin: origin, tenantId, contentType: 'Audit.Exchange' as const };
const at = { page: 2, index: 5 };

describe('classifyListedItem (pure)', () => {
  it('refuses each odd kind with its reason, the raw item, its position and its contentId when readable', () => {
    for (const odd of oddCatalogue(origin, realId)) {
      const verdict = classifyListedItem(ContentItem, odd.raw, expected, at);
      assert.equal(verdict.kind, 'refused', odd.kind);
      if (verdict.kind !== 'refused') continue;
      assert.match(verdict.refused.reason, odd.reason, odd.kind);
      assert.equal(verdict.refused.raw, odd.raw);
      assert.deepEqual(verdict.refused.position, at);
      const id = (odd.raw as { contentId?: unknown } | null)?.contentId;
      assert.equal(verdict.refused.contentId, typeof id === 'string' && !id.includes('/') ? id : undefined, odd.kind);
      // What people read names neither the raw item nor an unreadable id.
      const line = describeRefused(verdict.refused);
      assert.match(line, /^listed item 6 of page 3/);
      assert.doesNotMatch(line, /evil\.example|\.\.\//);
    }
  });

  it('accepts the API\'s own spellings and harmless variants of the path, and the notifications listing alike', () => {
    for (const item of [goodItem(origin, realId(1)), ...harmlessVariants(origin, realId)]) {
      const verdict = classifyListedItem(ContentItem, item, expected, at);
      assert.deepEqual(verdict, { kind: 'item', item, position: at });
      const notified = { ...item, notificationSent: '2024-11-25T14:01:00Z', notificationStatus: 'success' };
      assert.equal(classifyListedItem(NotificationItem, notified, expected, at).kind, 'item');
    }
    assert.equal(classifyListedItem(NotificationItem, null, expected, at).kind, 'refused');
  });

  it('is total: any JSON value gets a verdict, never an exception', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const verdict = classifyListedItem(ContentItem, value, expected, at);
        assert.ok(verdict.kind === 'item' || verdict.refused.reason.length > 0);
      }),
      { numRuns: 500 },
    );
  });

  it('writes the JSON text of any parsed value, at any depth, as JSON.stringify would', () => {
    fc.assert(fc.property(fc.jsonValue(), (value) => assert.equal(jsonText(value), JSON.stringify(value))), { numRuns: 300 });
    assert.equal(jsonText(deep), '['.repeat(5000) + ']'.repeat(5000));
    const deepObject = JSON.parse('{"a":'.repeat(4000) + '"x\\"y"' + '}'.repeat(4000)) as unknown;
    assert.equal(jsonText(deepObject), '{"a":'.repeat(4000) + '"x\\"y"' + '}'.repeat(4000));
  });

  it('keys a refused item by its readable contentId, else by a stable hash of its raw JSON', () => {
    assert.equal(refusalKey({ contentId: realId(1), raw: null }), realId(1));
    const a = refusalKey({ contentId: undefined, raw: { x: [1, 2] } });
    assert.equal(a, refusalKey({ contentId: undefined, raw: JSON.parse('{"x":[1,2]}') }), 'the same item listed again, same key');
    assert.notEqual(a, refusalKey({ contentId: undefined, raw: { x: [1, 3] } }));
    assert.match(a, new RegExp(`^${hashedKeyPrefix}[0-9a-f]{40}$`));
    assert.notEqual(refusalKey({ contentId: undefined, raw: null }), refusalKey({ contentId: undefined, raw: 'null' }));
    const entry = refusedEntry(tenantId, 'Audit.Exchange', { reason: 'r', raw: { contentCreated: '2024-11-25T14:00:00', contentExpiration: 'soon' }, contentId: undefined, position: at });
    assert.deepEqual([entry.contentCreated, entry.contentExpiration, entry.contentType], ['2024-11-25T14:00:00', '', 'Audit.Exchange']);
  });
});

describe('reconciler against the simulator, odd items among good ones (Azurite)', () => {
  const minute = 60_000;
  let sim: Simulator;
  let azurite: RunningAzurite;
  let client: ManagementClient;
  before(async () => {
    [sim, azurite] = await Promise.all([
      startSimulator({ tenants: [{ tenantId, apps: [{ clientId, clientSecret }] }], pageSize: 4 }),
      startAzurite(),
    ]);
    client = createClientFromSettings(parseSettings(simulatorClientSettings(sim, { tenantId, clientId, clientSecret })).api);
    await client.tenant(tenantId).startSubscription('Audit.Exchange');
  });
  after(async () => {
    client?.close();
    await Promise.all([sim?.close(), azurite?.close()]);
  });

  it('enqueues every good item, advances the cursor, records each odd one once as refused with its raw item dead-lettered', async () => {
    const seed = Date.now() % 100_000;
    let state = seed;
    const random = () => ((state = (state * 48271) % 2147483647) / 2147483647);
    const now = Date.now();
    const base = now - 25 * minute; // inside the next run's 30-minute overlap
    const goods = [];
    for (let i = 0; i < 12; i++) goods.push(await sim.publish(tenantId, 'Audit.Exchange', [{ Id: `r${i}` }], { contentCreated: new Date(base + i * minute) }));
    const simId = (n: number) => `20241125140000123${String(n).padStart(6, '0')}$20241125140000123${String(n).padStart(6, '0')}$audit_exchange$Audit_Exchange$na0034`;
    const odd = oddCatalogue(sim.baseUrl, simId);
    const variants = harmlessVariants(sim.baseUrl, simId);
    // Each odd item and variant at a random place among the good blobs (so on a random page, at a random index).
    const deepText = '['.repeat(5000) + ']'.repeat(5000);
    for (const raw of [...odd.map((o) => o.raw), ...variants]) {
      const contentCreated = new Date(base + Math.floor(random() * 12) * minute + 30_000);
      // JSON.stringify cannot write the 5,000-deep item: the simulator gets its text.
      if (raw === deep) sim.injectListingText(tenantId, 'Audit.Exchange', deepText, { contentCreated });
      else sim.injectListingItem(tenantId, 'Audit.Exchange', raw, { contentCreated });
    }

    const service = BlobServiceClient.fromConnectionString(azurite.connectionString);
    const deadLetter = createBlobDeadLetter(service.getContainerClient('listing-dead-letter'));
    await deadLetter.ensure();
    const ledger = createTableLedger({ connectionString: azurite.connectionString, tableName: 'listingrefused' });
    const queueClient = (name: string) => new QueueClient(azurite.connectionString, name);
    const queue = createContentQueue(queueClient, 'listing-refused');
    await queue.ensure();
    const telemetry = recordingTelemetry();
    const logLines: string[] = [];
    let clock = now;
    const deps: ReconcileDeps = {
      ledger,
      listContent: (t, ct, range) => client.tenant(t).listContentRange(ct, range),
      enqueue: (messages) => queue.enqueue(messages),
      deadLetter,
      now: () => new Date(clock),
      overlapMs: 30 * minute,
      initialLookbackMs: 2 * 60 * minute,
      logger: createLogger({ level: 'info', write: (line) => logLines.push(line) }),
      telemetry,
    };
    const context = `seed ${seed}`;

    const first = await reconcileStream(tenantId, 'Audit.Exchange', deps);
    const goodIds = [...goods.map((g) => g.contentId), ...variants.map((v) => v.contentId)].sort();
    assert.deepEqual([first.enqueued, first.refused, first.listed], [goodIds.length, odd.length, goodIds.length + odd.length], context);
    assert.deepEqual(await ledger.getCursor(tenantId, 'Audit.Exchange'), new Date(now), context);
    const queued: string[] = [];
    for (;;) {
      const batch = await queueClient('listing-refused').receiveMessages({ numberOfMessages: 32 });
      if (batch.receivedMessageItems.length === 0) break;
      for (const m of batch.receivedMessageItems) queued.push(ContentMessage.parse(JSON.parse(Buffer.from(m.messageText, 'base64').toString('utf8'))).contentId);
    }
    assert.deepEqual(queued.sort(), goodIds, `every good item enqueued once (${context})`);

    const letters: DeadLetterEntry[] = [];
    for await (const entry of deadLetter.list({ sink: 'relay' })) letters.push(entry);
    assert.equal(letters.length, odd.length, context);
    for (const o of odd) {
      const verdict = classifyListedItem(ContentItem, o.raw, { apiOrigin: sim.baseUrl, tenantId, contentType: 'Audit.Exchange' }, at);
      assert.equal(verdict.kind, 'refused', o.kind);
      if (verdict.kind !== 'refused') continue;
      const key = refusalKey(verdict.refused);
      const entry = await ledger.get({ tenantId, contentId: key });
      assert.equal(entry?.state, 'refused', `${o.kind} (${context})`);
      assert.match(entry?.detail ?? '', o.reason, o.kind);
      const letter = letters.find((l) => l.content.contentId === key);
      assert.ok(letter, `${o.kind}: dead letter`);
      assert.equal(letter.sink, 'relay');
      assert.match(letter.reason, o.reason);
      // The deep one is kept as its JSON text (the dead letter stores values with JSON.stringify).
      assert.deepEqual(await deadLetter.read(letter), [o.raw === deep ? deepText : o.raw], o.kind);
    }
    assert.equal(telemetry.total('listing.refused', { tenantId, contentType: 'Audit.Exchange' }), odd.length);
    const warned = () => logLines.filter((l) => l.includes('listed content item refused'));
    assert.equal(warned().length, odd.length);
    assert.ok(warned().every((l) => !l.includes('evil.example')), 'the raw item is not logged');

    // The next run lists the same page again (overlap): nothing recorded, counted, logged or enqueued twice.
    clock = Date.now();
    const second = await reconcileStream(tenantId, 'Audit.Exchange', deps);
    assert.deepEqual([second.enqueued, second.refused, second.listed], [0, 0, goodIds.length + odd.length], context);
    const lettersAfter: DeadLetterEntry[] = [];
    for await (const entry of deadLetter.list({ sink: 'relay' })) lettersAfter.push(entry);
    assert.equal(lettersAfter.length, odd.length);
    assert.equal(telemetry.total('listing.refused'), odd.length);
    assert.equal(warned().length, odd.length);
    // The stream row counts each refusal once (health reads it instead of scanning the content partition).
    assert.equal(refusedKept(await ledger.getStream(tenantId, 'Audit.Exchange'), new Date()), odd.length);
    assert.deepEqual(await ledger.getCursor(tenantId, 'Audit.Exchange'), new Date(clock));
  });
});
