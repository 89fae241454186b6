// The blast radius of one odd element in a content blob, through the real path: the API simulator serves the
// blob over HTTPS to the real client, the worker delivers to an HTTPS SIEM receiver, and the ledger and the dead
// letter are real Azurite storage. Bad data in a complete body costs only itself (dead letter, with its offset;
// delivered-with-problems); a body cut short in transit is fetched again and never dead-lettered.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { startAzurite, type RunningAzurite } from '../dev/azurite';
import { generateRecords, seededRandom } from '../dev/record-generator';
import { systemClock } from '../shared/api/clock';
import { startSimulator, type Simulator } from '../dev/simulator';
import { createManagementClient, type ManagementClient } from '../shared/api/client';
import { resolveEndpoints } from '../shared/api/clouds';
import { createTokenSource } from '../shared/api/credentials';
import { createHttpTransport, type HttpTransport } from '../shared/api/http';
import type { ContentMessage } from '../shared/pipeline/content-message';
import { malformedAfterCutFetches, processContent, type WorkOutcome } from '../shared/pipeline/process-content';
import { createBlobDeadLetter } from '../shared/sinks/blob-dead-letter';
import { createHttpsJsonSink, HttpsJsonSinkSettings } from '../shared/sinks/https-json-sink';
import { createTableLedger, type TableLedger } from '../shared/state/table-ledger';
import { recordingTelemetry } from '../shared/telemetry';
import { testContext } from './support/sink-harness';
import { startReceiver, type Receiver } from './support/siem-receiver';
import { workerDeps } from './support/worker-deps';

const tenant = 'aaaaaaaa-1111-4111-8111-aaaaaaaaaaaa';
const clientId = '676e8273-3c93-4205-910f-614bb4396a55';
const clientSecret = 'sim-secret-Value~0123456789';
/** Small, so an over-cap record stays a quick test (the 45 MB case is record-size-cap.test.ts). */
const maxRecordBytes = 64 * 1024;

let sim: Simulator;
let azurite: RunningAzurite;
let http: HttpTransport;
let client: ManagementClient;
let ledger: TableLedger;
let deadLetterContainer: ContainerClient;
let receiver: Receiver;

before(async () => {
  [sim, azurite] = await Promise.all([startSimulator({ tenants: [{ tenantId: tenant, apps: [{ clientId, clientSecret }] }] }), startAzurite()]);
  const endpoints = resolveEndpoints('Enterprise', { apiBaseUrl: sim.baseUrl, authorityHost: sim.authorityHost });
  http = createHttpTransport({ ca: sim.caCertPem });
  client = createManagementClient({
    endpoints,
    tokens: createTokenSource({ kind: 'clientSecret', clientId, clientSecret }, endpoints, { agent: http.agent, clock: systemClock }),
    publisherId: tenant,
    http,
    retryPolicy: { maxAttempts: 2, baseDelayMs: 10, maxDelayMs: 20, maxRetryAfterMs: 100 },
  });
  await client.tenant(tenant).startSubscription('Audit.General');
  ledger = createTableLedger({ connectionString: azurite.connectionString, tableName: 'blobrecords' });
  deadLetterContainer = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('o365-dead-letter');
  await deadLetterContainer.createIfNotExists();
  receiver = await startReceiver({ protocol: 'json' });
});

after(async () => {
  http?.close();
  await receiver?.close();
  await Promise.all([sim?.close(), azurite?.close()]);
});

/** Publishes the exact text as a content blob. */
async function publish(text: string): Promise<ContentMessage> {
  const published = await sim.publishRaw(tenant, 'Audit.General', text);
  return { tenantId: tenant, contentType: 'Audit.General', contentId: published.contentId, contentCreated: published.contentCreated, contentExpiration: published.contentExpiration, waits: 0 };
}

function goodRecords(count: number, seed: number): Array<Record<string, unknown>> {
  // As JSON would carry them (no undefined fields), and this tenant's.
  return [...generateRecords(count, { seed })].map((r) => JSON.parse(JSON.stringify({ ...r, OrganizationId: tenant })) as Record<string, unknown>);
}

async function work1(message: ContentMessage, telemetry = recordingTelemetry()): Promise<{ outcome: WorkOutcome; telemetry: ReturnType<typeof recordingTelemetry> }> {
  const sink = createHttpsJsonSink('siem', HttpsJsonSinkSettings.parse({ url: receiver.url, batchRecords: 10, gzip: false }), testContext({}));
  try {
    const outcome = await processContent(message, workerDeps({
      ledger,
      fetchContent: (tenantId, contentId, options) => client.fetchContent(tenantId, contentId, options),
      sinksFor: () => [sink],
      deadLetter: createBlobDeadLetter(deadLetterContainer),
      maxRecordBytes,
      telemetry,
      owner: `worker-${message.waits}`,
    }));
    return { outcome, telemetry };
  } finally {
    sink.dispose();
  }
}

/** The ids the receiver accepted for these records, in order. */
const acceptedIds = (ids: ReadonlySet<string>) => receiver.accepted.map((e) => String((e as { id: unknown }).id)).filter((id) => ids.has(id));

async function spansOf(message: ContentMessage): Promise<Array<{ name: string; text: string; metadata: Record<string, string> }>> {
  const found = [];
  for await (const blob of deadLetterContainer.listBlobsFlat({ includeMetadata: true, prefix: `relay/${tenant}/Audit.General/${encodeURIComponent(message.contentId)}/` })) {
    const text = (await deadLetterContainer.getBlockBlobClient(blob.name).downloadToBuffer()).toString('utf8');
    found.push({ name: blob.name, text, metadata: blob.metadata ?? {} });
  }
  return found;
}

const oddElements: ReadonlyArray<{ name: string; text: string }> = [
  { name: 'a bare number', text: '42' },
  { name: 'null', text: 'null' },
  { name: 'a NaN literal inside a record', text: `{"Id":"nan-record","OrganizationId":"${tenant}","Size":NaN}` },
  { name: 'a malformed record', text: `{"Id":"malformed","OrganizationId":"${tenant}",,"RecordType":1}` },
  { name: 'a record over O365_MAX_RECORD_BYTES', text: JSON.stringify({ Id: 'huge', OrganizationId: tenant, RecordType: 1, Blob: 'x'.repeat(3 * maxRecordBytes) }) },
];

describe('content worker: one odd element in a complete blob', () => {
  const random = seededRandom(11);
  for (const [index, odd] of oddElements.entries()) {
    it(`${odd.name}: every good record delivered once, the odd one in the dead letter with its offset, the blob delivered-with-problems`, async () => {
      const good = goodRecords(25, 40 + index);
      const position = Math.floor(random() * (good.length + 1));
      const texts = good.map((r) => JSON.stringify(r));
      const offset = Buffer.byteLength(`[${texts.slice(0, position).map((t) => `${t},`).join('')}`);
      texts.splice(position, 0, odd.text);
      const message = await publish(`[${texts.join(',')}]`);

      const { outcome, telemetry } = await work1(message);
      assert.equal(outcome.kind, 'delivered', JSON.stringify(outcome));
      assert.equal(outcome.kind === 'delivered' && outcome.invalidSpans, 1);
      const ids = new Set(good.map((r) => String(r.Id)));
      assert.deepEqual(acceptedIds(ids), good.map((r) => String(r.Id)), 'every good record once, in order');

      const spans = await spansOf(message);
      assert.equal(spans.length, 1);
      assert.equal(spans[0]!.text, odd.text, 'kept as its text');
      assert.equal(spans[0]!.metadata.offset, String(offset));
      assert.equal(spans[0]!.metadata.sink, 'relay');
      assert.equal(spans[0]!.metadata.size, String(Buffer.byteLength(odd.text)));

      const entry = await ledger.get(message);
      assert.equal(entry?.state, 'delivered-with-problems');
      assert.match(entry?.detail ?? '', new RegExp(`^1 span\\(s\\) not records, kept in the dead letter; the first at byte ${offset}: `));
      assert.deepEqual(telemetry.metrics.filter((m) => m.name === 'records.invalid').map((m) => [m.value, m.properties]), [[1, { tenantId: tenant, contentType: 'Audit.General' }]]);
    });
  }
});

describe('content worker: a body cut short in transit', () => {
  for (const mode of ['cut-json', 'abort'] as const) {
    it(`${mode}: waits, dead-letters nothing, records nothing as delivered; the next try delivers every record exactly once`, async () => {
      const good = goodRecords(60, mode === 'abort' ? 70 : 71);
      // An odd element in the first quarter: it arrives complete before the cut, and the retry keeps it once.
      const texts = good.map((r) => JSON.stringify(r));
      texts.splice(3, 0, '12345');
      const message = await publish(`[${texts.join(',')}]`);
      const ids = new Set(good.map((r) => String(r.Id)));

      sim.faults.truncateContent = { remaining: 1, mode };
      const first = await work1(message);
      assert.equal(first.outcome.kind, 'wait', JSON.stringify(first.outcome));
      assert.match(first.outcome.kind === 'wait' ? first.outcome.reason : '', /interrupted|ended|truncated|received/i);
      const entry = await ledger.get(message);
      assert.equal(entry?.state, 'enqueued', 'nothing recorded as delivered');
      assert.equal(entry?.claim, null);
      const delivered = acceptedIds(ids).length;
      assert.equal(entry?.sinks.siem?.accepted ?? 0, delivered, 'the sink progress is what the receiver accepted');
      assert.ok(delivered > 0 && delivered < good.length, `the records before the cut were sent and counted (${delivered})`);
      assert.ok(!first.telemetry.metrics.some((m) => m.name === 'records.invalid'));
      const cutSpans = await spansOf(message);
      assert.ok(cutSpans.every((s) => s.text === '12345'), 'the cut part is never dead-lettered');

      const second = await work1({ ...message, waits: 1 });
      assert.equal(second.outcome.kind, 'delivered', JSON.stringify(second.outcome));
      assert.deepEqual(acceptedIds(ids), good.map((r) => String(r.Id)), 'every record exactly once');
      assert.equal((await ledger.get(message))?.state, 'delivered-with-problems');
      assert.deepEqual((await spansOf(message)).map((s) => s.text), ['12345'], 'the odd element kept once, however many tries');
    });
  }
});

describe('content worker: a body that arrives whole but ends inside a record every time', () => {
  it('waits the first fetches; then the good records before it are delivered once and its tail is kept as a bad span', async () => {
    const good = goodRecords(20, 90);
    const position = 13;
    const texts = good.map((r) => JSON.stringify(r));
    const offset = Buffer.byteLength(`[${texts.slice(0, position).map((t) => `${t},`).join('')}`);
    // A record missing its closing brace swallows the rest: the scanner cannot find where it ends.
    const broken = `{"Id":"no-brace","OrganizationId":"${tenant}","RecordType":1`;
    const tail = [broken, ...texts.slice(position)].join(',') + ']';
    const message = await publish(`[${[...texts.slice(0, position), broken, ...texts.slice(position)].join(',')}]`);
    const before = new Set(good.slice(0, position).map((r) => String(r.Id)));

    // Waits for other reasons (a sink down, throttling) do not count: only fetches that came back whole but cut.
    let queued: ContentMessage = { ...message, waits: 5 };
    for (let fetch = 0; fetch < malformedAfterCutFetches; fetch++) {
      const attempt = await work1(queued);
      assert.equal(attempt.outcome.kind, 'wait', `fetch ${fetch + 1} waits: it could still be the API stumbling`);
      assert.deepEqual(attempt.outcome.kind === 'wait' && attempt.outcome.next, { cutFetches: fetch + 1 });
      assert.equal((await ledger.get(message))?.state, 'enqueued');
      queued = { ...queued, waits: queued.waits + 1, ...(attempt.outcome.kind === 'wait' ? attempt.outcome.next : {}) };
    }
    const last = await work1(queued);
    assert.equal(last.outcome.kind, 'delivered', JSON.stringify(last.outcome));
    assert.deepEqual(acceptedIds(before), [...before], 'the records before it, exactly once over all fetches');
    const spans = await spansOf(message);
    // The broken record runs to the array's `]` (an invalid span), and the input then ends before the real `]`.
    assert.deepEqual(spans.map((s) => Number(s.metadata.offset)).sort((a, b) => a - b), [offset, offset + Buffer.byteLength(tail)]);
    assert.equal(spans.find((s) => s.metadata.offset === String(offset))!.text, tail, 'the tail kept as text: the records after it are in it, not lost');
    assert.equal((await ledger.get(message))?.state, 'delivered-with-problems');
  });
});
